"""Jinja2 environments with the gettext `_()` of one language installed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mamori.core.i18n import Lang, translations


@cache
def jinja_env(template_dir: Path, lang: Lang, *, autoescape: bool = True) -> Environment:
    """An environment for `template_dir` whose `_()` speaks `lang`.

    Templates call `_("Text with %(name)s", name=value)` (new-style gettext).
    Autoescaping is on unless the caller renders a non-HTML format (Markdown) and
    escapes every value itself; it is set explicitly because file-name rules would
    miss `*.html.j2`.
    """
    env = Environment(
        loader=FileSystemLoader(str(template_dir)),
        autoescape=autoescape,  # noqa: S701 - off only on request, see above
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = lang
    return env
