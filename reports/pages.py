"""Presentation, pages: a `Report` -> the text of ``report.md`` and ``index.html``.

Pure string building (``string.Template`` and `html.escape`; no template engine). The HTML page
is self-contained and works offline: each figure is embedded as a PNG data URI, with links to
its PNG and SVG files and to each table's CSV beside the page; its only script (sorting a table
by a clicked column) is inline. Where and when the numbers were measured comes first, before
any number; tables scroll inside their own box, so that the page never overflows a narrow
window.
"""

from __future__ import annotations

import base64
import html
import re
from string import Template

import pandas as pd

from reports.report import Report
from reports.tables import markdown

PAGE = Template(r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ffbench report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.4; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.3em 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
table.sortable th { cursor: pointer; }
tbody tr:nth-child(even) td { background: #fafafa; }
td.nw { white-space: nowrap; }
td:not(.nw) { min-width: 10em; }  /* long text wraps in lines, not a word a line */
.wide { overflow-x: auto; max-width: 100%; margin-bottom: 1.2em; }
.scroll { max-height: 420px; overflow: auto; max-width: 100%; margin-bottom: 1.2em; }
.machines td:first-child { font-weight: 600; }
pre { background: #f6f6f6; padding: 0.8em; white-space: pre-wrap; overflow-wrap: anywhere; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
</style>
</head>
<body>
<h1>ffbench report</h1>
<p>The tutorial two-layer network (y_pred = act(x @ w1) @ w2, plain SGD) timed with asv.
Files: <a href="report.md">report.md</a>$csv_links.</p>
<h2 id="where">Where and when it ran</h2>
<div class="wide">$machines</div>
<h2>Summary</h2>
<pre>$summary</pre>
<h2>What was compared with what</h2>
<ul>$method</ul>
<h2>Runs</h2>
<div class="wide">$runs</div>
<h2>Figures</h2>
$figures
<h2>Tables</h2>
<p>Click a column's heading to sort by it.</p>
$tables
<h2>All machine and software facts</h2>
<div class="wide">$facts</div>
<script>
// Sorts a table by the clicked column: by value where cells start with a number (times in
// ns, µs, ms and s compared as seconds), else by text; a second click reverses.
function sortKey(text) {
  const m = text.trim().match(/^(-?[0-9][0-9,]*\.?[0-9]*(?:e[-+]?[0-9]+)?)\s*(ns|µs|ms|s)?/);
  if (!m) return null;
  const unit = {ns: 1e-9, "µs": 1e-6, ms: 1e-3, s: 1}[m[2]] || 1;
  return parseFloat(m[1].replace(/,/g, "")) * unit;
}
document.querySelectorAll("table.sortable th").forEach(th => {
  th.addEventListener("click", () => {
    const body = th.closest("table").tBodies[0];
    const col = th.cellIndex, up = th.dataset.dir !== "up";
    th.dataset.dir = up ? "up" : "down";
    const rows = Array.from(body.rows).map(r => [r, r.cells[col].textContent]);
    rows.sort(([, a], [, b]) => {
      const x = sortKey(a), y = sortKey(b);
      const d = x !== null && y !== null ? x - y : a.localeCompare(b, undefined, {numeric: true});
      return up ? d : -d;
    });
    rows.forEach(([r]) => body.appendChild(r));
  });
});
</script>
</body>
</html>
""")


#: Cells this short (a date, a time, a size) never wrap; longer text wraps, so that a table
#: fits a narrow window where it can and scrolls in its box where it cannot.
NOWRAP_CHARS = 22


def html_table(df: pd.DataFrame, classes: str = "") -> str:
    text = df.to_html(index=False, escape=True, na_rep="—", border=0, classes=classes or None)
    short = rf"<td>([^<]{{1,{NOWRAP_CHARS}}})</td>"
    return re.sub(short, r'<td class="nw">\1</td>', text)


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
        f'<div class="scroll">{html_table(t.view, "sortable")}</div>'
        for t in report.tables
    ]
    links = "".join(
        f', <a href="{html.escape(t.name)}.csv">{html.escape(t.name)}.csv</a>'
        for t in report.tables
    )
    return PAGE.substitute(
        csv_links=links,
        machines=html_table(report.machines, "machines"),
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
        "## Where and when it ran",
        markdown(report.machines),
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
    parts += ["## All machine and software facts", markdown(report.facts)]
    return "\n\n".join(parts) + "\n"
