"""The self-contained HTML report (jinja2, templates/report.html.j2)."""

from __future__ import annotations

from typing import Any

import jinja2


def _environment() -> jinja2.Environment:
    # Autoescape always on (not only for .html names): every string from results is data, never markup.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cyclip_bench.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(context: dict[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(**context)
