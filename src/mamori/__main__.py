"""`python -m mamori` runs the CLI."""

from mamori.cli.main import app

app(prog_name="mamori")
