"""The `mamori` command: a root Typer app that mounts each domain's cli.py."""
