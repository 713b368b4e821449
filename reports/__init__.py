"""ffbench's reports: asv results -> tidy DataFrame -> statistics -> tables, figures, pages.

Three layers that never mix: `reports.load` reads files into one tidy DataFrame (its schema is
written there, once; `reports.parse` reads one results file, `reports.flags` its disturbed-flags
sidecar, `reports.cache` keeps parsed files between runs); `reports.stats`, `reports.sweeps`
and `reports.gpu` turn DataFrames into DataFrames; `reports.tables`, `reports.figures` and
`reports.pages` present them. `reports.report` assembles a report in memory, `reports.write`
is the only module that writes report files, `reports.cli` is ``python -m reports``. `reports.summary.gpu_gain_text` is the GPU-gain summary ``nox -s gpu``
prints.
"""

from reports.load import ResultsError, ResultsWarning, load_results
from reports.summary import gpu_gain_text

__all__ = ["ResultsError", "ResultsWarning", "gpu_gain_text", "load_results"]
