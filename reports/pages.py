"""Presentation, pages: a `Report` -> the text of ``report.md`` and ``index.html``.

Pure string building (``string.Template`` and `html.escape`; no template engine). The HTML page
is self-contained: each figure is embedded as a PNG data URI, with links to its PNG and SVG
files and to each table's CSV beside the page.
"""

from __future__ import annotations

import base64
import html
from string import Template

import pandas as pd

from reports.report import Report
from reports.tables import markdown

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ffbench report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: 0.8em; white-space: pre-wrap; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.scroll { max-height: 420px; overflow: auto; }
</style>
</head>
<body>
<h1>ffbench report</h1>
<p>The tutorial two-layer network (y_pred = act(x @ w1) @ w2, plain SGD) timed with asv.
Files: <a href="report.md">report.md</a>$csv_links.</p>
<h2>Summary</h2>
<pre>$summary</pre>
<h2>What was compared with what</h2>
<ul>$method</ul>
<h2>Runs</h2>
$runs
<h2>Figures</h2>
$figures
<h2>Tables</h2>
$tables
<h2>Machine and software facts</h2>
$facts
</body>
</html>
""")


def html_table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, na_rep="—", border=0)


def render_html(report: Report, png: dict[str, bytes]) -> str:
    """The page; ``png`` maps each plot's name to its PNG bytes (embedded as data URIs)."""
    figs = []
    for p in report.plots:
        data = base64.b64encode(png[p.name]).decode("ascii")
        name = html.escape(p.name)
        figs.append(
            f'<figure id="{name}"><img alt="{html.escape(p.title)}" '
            f'src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(p.title)}: {html.escape(p.caption)} "
            f'(<a href="{name}.png">PNG</a>, <a href="{name}.svg">SVG</a>)</figcaption></figure>'
        )
    tabs = [
        f'<h3 id="{html.escape(t.name)}">{html.escape(t.title)}</h3>'
        f'<p>{html.escape(t.intro)} (<a href="{html.escape(t.name)}.csv">CSV</a>)</p>'
        f'<div class="scroll">{html_table(t.view)}</div>'
        for t in report.tables
    ]
    links = "".join(
        f', <a href="{html.escape(t.name)}.csv">{html.escape(t.name)}.csv</a>'
        for t in report.tables
    )
    return PAGE.substitute(
        csv_links=links,
        summary=html.escape(report.summary),
        method="".join(f"<li>{html.escape(m)}</li>" for m in report.method),
        runs=html_table(report.runs),
        figures="\n".join(figs) or "<p>No figure: no sweep with two or more points.</p>",
        tables="\n".join(tabs),
        facts=html_table(report.facts),
    )


def render_markdown(report: Report) -> str:
    """``report.md``: the same content, figures linked as PNG files."""
    parts = [
        "# ffbench report",
        "## Summary",
        "```text\n" + report.summary + "\n```",
        "## What was compared with what",
        "\n".join(f"- {m}" for m in report.method),
        "## Runs",
        markdown(report.runs),
        "## Figures",
        *(f"![{p.title}]({p.name}.png)\n\n{p.caption} ([SVG]({p.name}.svg))" for p in report.plots),
        "## Tables",
    ]
    for t in report.tables:
        parts += [f"### {t.title}", f"{t.intro} ([CSV]({t.name}.csv))", markdown(t.view)]
    parts += ["## Machine and software facts", markdown(report.facts)]
    return "\n\n".join(parts) + "\n"
