"""Customer messages rendered from jinja2 templates: a text and an HTML body per kind and
language (``templates/<language>/<kind>.txt.j2`` and ``.html.j2``), the subject set by the
text template. A directory named by ``settings["notifications"]["templates"]`` is searched
first, so a host overrides any template by adding a file of the same name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from omskit.domain.errors import NotificationTemplateError
from omskit.domain.notifications import NotificationBranding, NotificationKind


class MessageRenderer:
    """Renders (subject, text, html) for a kind of message in a language."""

    def __init__(self, templates: str | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if templates:
            loaders.append(jinja2.FileSystemLoader(templates))
        loaders.append(jinja2.PackageLoader("omskit.notifications", "templates"))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(["html.j2"], default=False,
                                                default_for_string=False),
            undefined=jinja2.StrictUndefined)

    @property
    def environment(self) -> jinja2.Environment:
        """The jinja2 environment (filters and globals may be added to it)."""
        return self._env

    def render(self, kind: NotificationKind, language: str, brand: NotificationBranding,
               data: Mapping[str, Any]) -> tuple[str, str, str]:
        """The subject, text and HTML of ``kind`` in ``language``.

        :class:`NotificationTemplateError` when a template is missing, invalid, uses a
        name the data lacks, or sets no subject."""
        context = {**data, "brand": brand, "language": language}
        try:
            text_template = self._env.get_template(f"{language}/{kind.value}.txt.j2")
            module = text_template.make_module(context)
            subject = " ".join(str(getattr(module, "subject", "")).split())
            if not subject:
                raise NotificationTemplateError(
                    f"template {language}/{kind.value}.txt.j2 sets no subject")
            text = str(module).strip() + "\n"
            html = self._env.get_template(f"{language}/{kind.value}.html.j2").render(
                {**context, "subject": subject})
        except jinja2.TemplateError as exc:
            raise NotificationTemplateError(
                f"template for {kind.value} in {language!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return subject, text, html
