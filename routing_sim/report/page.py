"""HTML building blocks: escaping, tables, figures, the page shell with its inline style sheet.

Everything the page needs is inside it: CSS inline, figures as base64 PNG, no
script, no font or image fetched from anywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --rule: #d9dee7; --band: #f4f6fa; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fff; }
header { background: var(--accent); color: #fff; padding: 18px 32px; }
details.fold > summary { cursor: pointer; }
details.fold > summary h2 { display: inline; }
details.fold > summary::after { content: " (show or hide)"; color: var(--muted); font-size: 12px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .9; }
nav { padding: 8px 32px; border-bottom: 1px solid var(--rule); background: var(--band); font-size: 13px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1200px; }
section { margin-top: 26px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--accent); padding-bottom: 3px; }
h3 { font-size: 15px; margin-bottom: 6px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 12.5px; }
th, td { border: 1px solid var(--rule); padding: 3px 8px; vertical-align: top; text-align: left; }
th { background: var(--band); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { font-weight: 600; } .verdict.met { color: #1a7f37; } .verdict.missed { color: #cf222e; }
.verdict.uncertain { color: #9a6700; }
tr.bad td { background: #fdecea; }
tr.group td { background: var(--band); font-weight: 600; }
span.variant { padding-left: 14px; }
#answers-table td { white-space: normal; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; max-width: 1000px; }
pre { background: var(--band); border: 1px solid var(--rule); padding: 10px; font-size: 12px; overflow-x: auto; }
.note { color: var(--muted); font-size: 13px; }
.wide td:nth-child(3) { max-width: 560px; }
footer { color: var(--muted); font-size: 12px; padding: 12px 32px; border-top: 1px solid var(--rule); }
"""


def shown_path(path: object) -> str:
    """A file's path as the report shows it: relative to the working folder when under it (the
    repository's ``configs/eu-centre-2019.yaml``), else its folder and name, never a machine's
    absolute path."""
    if not path:
        return "-"
    p = Path(str(path))
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(Path(*p.parts[-2:]))


def esc(text: object) -> str:
    return escape(str(text), quote=True)


class Markup(str):
    """A table cell already in HTML (its text parts escaped by whoever built it)."""


def cell(c: object) -> str:
    return c if isinstance(c, Markup) else esc(c)


def verdict_markup(text: str, verdict: str | None, note: str = "") -> Markup:
    """A value with its verdict in words and colour, and a note in brackets (the target, the pools
    off it): ``93.6 % missed (>= 95 %)``."""
    word = verdict or "no data"
    return Markup(f'{esc(text)} <span class="verdict {esc(word)}">{esc(word)}</span>'
                  + (f' <span class="note">({esc(note)})</span>' if note else ""))


def table(header: Sequence[str], rows: Iterable[Sequence[object]], *, id: str = "", css: str = "",
          numeric: Sequence[int] = (), row_class: Sequence[str] | None = None) -> str:
    attrs = (f' id="{esc(id)}"' if id else "") + (f' class="{esc(css)}"' if css else "")
    out = [f"<table{attrs}>", "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead>",
           "<tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{esc(row_class[i])}"' if row_class and row_class[i] else ""
        cells = "".join(f'<td class="num">{cell(c)}</td>' if j in numeric else f"<td>{cell(c)}</td>"
                        for j, c in enumerate(row))
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def figure(name: str, title: str, caption: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="fig-{esc(name)}" class="report-figure">'
            f'<img alt="{esc(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(title)}.</b> {esc(caption)} Files: figures/{esc(name)}.png, "
            f"figures/{esc(name)}.svg.</figcaption></figure>")


def section(id: str, title: str, *parts: str) -> str:
    return f'<section id="{esc(id)}">\n<h2>{esc(title)}</h2>\n' + "\n".join(p for p in parts if p) + "\n</section>"


def para(text: str, css: str = "") -> str:
    return f'<p class="{css}">{esc(text)}</p>' if css else f"<p>{esc(text)}</p>"


FOLDED = {"configs": False, "kpis": True, "conservation": False, "process": False, "assumptions": False,
          "stress": False}
"""Detail sections, folded under their heading (True: open at first): the answers and the figures
that explain them come first, the full tables are a click away."""


def fold(section_html: str, open_: bool = False) -> str:
    """A ``section()`` whose content collapses under its heading (``<details>``, no script)."""
    head, sep, rest = section_html.partition("</h2>\n")
    if not sep or "<h2>" not in head:
        return section_html
    start, h2 = head.split("<h2>", 1)
    body, end, tail = rest.rpartition("</section>")
    return (f'{start}<details class="fold"{" open" if open_ else ""}><summary><h2>{h2}</h2></summary>\n{body}'
            f"</details>\n{end}{tail}")


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]], footer: str) -> str:
    """``sections`` as ``(id, nav label, html)``; the result ends with a newline. The sections in
    :data:`FOLDED` collapse under their headings."""
    nav = " ".join(f'<a href="#{esc(i)}">{esc(label)}</a>' for i, label, _ in sections)
    body = "\n".join(fold(html, FOLDED[i]) if i in FOLDED else html for i, _, html in sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<link rel="icon" href="data:,">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>\n<nav>{nav}</nav>\n"
            f"<main>\n{body}\n</main>\n<footer>{esc(footer)}</footer>\n</body>\n</html>\n")
