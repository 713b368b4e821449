"""The report on a real quick run of this suite (tests/fixtures/quick-run, copied from
``.asv/results`` after ``nox -s bench`` on the 2-vCPU VM, flags sidecar included)."""

from __future__ import annotations

from pathlib import Path

from reports import load
from reports.cli import main

RUN = Path(__file__).parent / "fixtures" / "quick-run"


def test_every_point_of_a_real_run_decodes_and_carries_its_flag():
    df = load.load_results(RUN)
    steps = df[df["measure"] == "time"]
    assert len(steps) == 116  # the quick grid's step times, one row per label
    assert steps["impl"].notna().all()
    assert set(steps["threads"].astype(int)) == {1, 2}
    flagged = steps["disturbed"].astype(bool)
    assert 0 < flagged.sum() < len(steps)  # that run had both: the flags were read, not assumed


def test_the_report_of_a_real_run_quotes_no_flagged_point(tmp_path, capsys):
    assert main(["--results", str(RUN), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "flagged and not quoted here" in out
    assert (tmp_path / "out" / "index.html").is_file()
