"""One self-contained HTML report: the table as HTML and the curves embedded as base64 PNGs."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th {{ background: #f3f3f3; }}
.notes li {{ color: #a05000; }}
.plots img {{ max-width: 700px; margin: 0.5em; border: 1px solid #eee; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{subtitle}</p>
<table id="results"><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<ul class="notes">{notes}</ul>
<div class="plots">
{images}
</div>
</body></html>
"""


def write_report(
    path: Path,
    title: str,
    subtitle: str,
    header: list[str],
    rows: list[list[str]],
    images: list[Path],
    notes: list[str],
) -> Path:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    pictures = "\n".join(
        f'<img alt="{escape(image.stem)}" src="data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()}">'
        for image in images
    )
    html = PAGE.format(
        title=escape(title),
        subtitle=escape(subtitle),
        head=head,
        body=body,
        notes="".join(f"<li>{escape(note)}</li>" for note in notes),
        images=pictures,
    )
    path.write_text(html, encoding="utf-8")
    return path
