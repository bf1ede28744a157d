"""Mail bodies from Jinja templates in ja and en.

Each mail `<name>` has `templates/<name>.txt.j2` and may have `templates/<name>.html.j2`.
The text template sets the subject with `{% set subject = _("…") %}` at the top level;
the HTML template receives it as `subject`. Text is rendered without autoescaping (it
is not HTML), HTML with it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from mamori.core.i18n import N_, Lang
from mamori.core.mail.base import AUTO_GENERATED, Address, MailError, MailMessage
from mamori.core.templating import jinja_env

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]*")


class RenderedMail(NamedTuple):
    """A rendered mail: one-line subject, text body and optional HTML body."""

    subject: str
    text: str
    html: str | None

    def message(self, to: tuple[Address, ...], *, reply_to: Address | None = None) -> MailMessage:
        """A MailMessage carrying this mail to `to`."""
        return MailMessage(
            to=to,
            subject=self.subject,
            text=self.text,
            html=self.html,
            reply_to=reply_to,
            headers=AUTO_GENERATED,
        )


def render_mail(template: str, lang: Lang, **context: Any) -> RenderedMail:
    """Render mail `template` in `lang` with `context` (see each template for its names)."""
    text_path = template_path(template, "txt")
    module = (
        jinja_env(TEMPLATE_DIR, lang, autoescape=False)
        .get_template(text_path.name)
        .make_module(context)
    )
    subject = " ".join(str(getattr(module, "subject", "")).split())
    if not subject:
        raise MailError(
            N_("mail template %(template)s sets no subject"), params={"template": template}
        )
    html_path = template_path(template, "html")
    html = None
    if html_path.is_file():
        html = (
            jinja_env(TEMPLATE_DIR, lang, autoescape=True)
            .get_template(html_path.name)
            .render(context | {"subject": subject})
        )
    return RenderedMail(subject, str(module), html)


def template_path(template: str, kind: str) -> Path:
    """The `kind` ("txt" or "html") template file of mail `template`."""
    path = TEMPLATE_DIR / f"{template}.{kind}.j2"
    # A name like "../x" must not reach the loader; "_" marks shared partials.
    if not TEMPLATE_NAME.fullmatch(template) or (kind == "txt" and not path.is_file()):
        raise MailError(N_("unknown mail template %(template)s"), params={"template": template})
    return path
