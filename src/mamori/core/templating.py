"""Jinja2 environments with the gettext `_()` of one language installed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mamori.core.i18n import Lang, translations


@cache
def jinja_env(template_dir: Path, lang: Lang) -> Environment:
    """An autoescaping environment for `template_dir` whose `_()` speaks `lang`.

    Templates call `_("Text with %(name)s", name=value)` (new-style gettext).
    """
    env = Environment(
        loader=FileSystemLoader(str(template_dir)),
        autoescape=select_autoescape(["html", "xml", "html.j2"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = lang
    return env
