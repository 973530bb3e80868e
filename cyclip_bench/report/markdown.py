"""The Markdown report. Every string from results goes through `escape`, since Markdown renderers pass raw
HTML through: '<script>' in a class name must stay text here too."""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "*": "\\*",
        "_": "\\_",
        "`": "\\`",
        "[": "\\[",
        "]": "\\]",
        "\n": " ",
        "\r": " ",
    }
)
# Markup starts with '<' before a letter, '/', '!' or '?' (a tag, comment, declaration or autolink) and an
# entity with '&' before a letter or '#'; a backslash makes that character literal text (CommonMark), so the
# Markdown holds no HTML entities and "p < 0.05" stays as written. A leading '>' would open a block quote.
_MARKUP_START = re.compile(r"<(?=[A-Za-z/!?])|&(?=[A-Za-z#])|^>")


def escape(text: object) -> str:
    """Text from results as literal Markdown: no markup, no emphasis, no links, no table breaks."""
    return _MARKUP_START.sub(lambda m: "\\" + m.group(0), str(text).translate(_MD_SPECIAL))


def table(tbl, index_name: str = "") -> str:
    if not tbl.columns:
        return "".join(f"\n_{escape(note)}_\n" for note in tbl.notes)
    header = [escape(index_name or tbl.index_name)] + [escape(c) for c in tbl.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in tbl.rows():
        cells = [escape(row["label"])]
        for cell in row["cells"]:
            text = escape(cell["text"]) if cell["text"] else " "
            cells.append(f"**{text}**" if cell["best"] else text)
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines) + "\n"
    for note in tbl.notes:
        out += f"\n_{escape(note)}_\n"
    return out


def _plot(plot) -> str:
    # Paths are our own slugs (plots/<slug>.png), safe to put in a link.
    return f"![{escape(plot.title)}]({plot.png})\n\n*{escape(plot.caption)}* ([SVG]({plot.svg}))\n"


def _section(section, level: int) -> list[str]:
    parts = [f"{'#' * level} {escape(section.title)}\n"]
    if section.meta:
        parts.append("; ".join(f"{escape(k)}: {escape(v)}" for k, v in section.meta) + "\n")
    for note in section.notes:
        parts.append(f"> {escape(note)}\n")
    if section.bullets:
        parts.append("".join(f"- {escape(bullet)}\n" for bullet in section.bullets))
    for caption, tbl in section.tables:
        parts.append(f"**{escape(caption)}**\n\n" + table(tbl))
    for plot in section.plots:
        parts.append(_plot(plot))
    for data in section.files:  # paths are our own slugs (per-class/<slug>.csv), safe to put in a link
        parts.append(f"{escape(data.description)}: [{escape(data.path)}]({data.path})\n")
    for summary, text in section.details:
        # Inside a fence everything is literal text for a Markdown renderer: no HTML is interpreted there.
        fence = "~~~~"
        parts.append(f"**{escape(summary)}**\n\n{fence}json\n{text.replace(fence, '~ ~ ~ ~')}\n{fence}\n")
    for child in section.children:
        parts.extend(_section(child, level + 1))
    return parts


def render_markdown(context: dict[str, Any]) -> str:
    parts = [f"# {escape(context['title'])}\n"]
    checkpoints = ", ".join(escape(c["label"]) for c in context["checkpoints"])
    parts.append(f"Checkpoints: {checkpoints}. Paired tests compare against **{escape(context['baseline'])}**.\n")
    for section in context["sections"]:
        parts.extend(_section(section, 2))
    return "\n".join(parts)
