"""``python -m reports`` end to end: files, links, safety of the results dir, bad input."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports.cli import main
from reports.write import atomic_write

FIXTURES = Path(__file__).parent / "fixtures"


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a":
            self.hrefs.append(a["href"])
        if tag == "img":
            self.srcs.append(a["src"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The CLI once, on labbox of a copy of the hand-made fixture (few figures: fast)."""
    base = tmp_path_factory.mktemp("cli")
    results = base / "results"
    shutil.copytree(FIXTURES / "handmade", results)
    before = tree_digest(results)
    out = base / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["--results", str(results), "--out", str(out), "--machine", "labbox"])
    return {"results": results, "out": out, "rc": rc, "before": before, "stdout": stdout.getvalue()}


@pytest.fixture
def no_write(monkeypatch):
    """Skip the (slow) figure rendering where a test is about the terminal only."""
    monkeypatch.setattr("reports.cli.write_report", lambda report, out: [out / "index.html"])


def test_writes_the_report(run):
    out = run["out"]
    assert run["rc"] == 0
    names = {p.name for p in out.iterdir()}
    assert {"index.html", "report.md", "speedup.csv", "gpu_gain.csv", "crossover.csv"} <= names
    for stem in ("speedup_QuickBatch", "gflops_QuickBatch", "gpu_gain_QuickHidden"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert (out / "speedup_QuickBatch.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [n for n in names if n.endswith(".tmp")]  # atomic writes leave nothing behind


def test_speedup_csv(run):
    with (run["out"] / "speedup.csv").open() as f:
        rows = list(csv.DictReader(f))
    row = next(
        r
        for r in rows
        if (r["benchmark"], r["impl"], r["batch"])
        == ("bench_step.QuickBatch.time_step", "torch-cuda", "1024")
    )
    assert float(row["speedup"]) == pytest.approx(32.0)
    assert float(row["speedup"]) == pytest.approx(
        float(row["baseline_time_s"]) / float(row["time_s"])
    )
    assert (row["threads"], row["dtype"], row["d_in"]) == ("1", "float32", "1000")


def test_page_is_self_contained_and_links_resolve(run):
    out = run["out"]
    page = (out / "index.html").read_text()
    parser = Links()
    parser.feed(page)
    assert parser.srcs
    assert all(s.startswith("data:image/png;base64,") for s in parser.srcs)
    local = [h for h in parser.hrefs if not h.startswith(("http", "#"))]
    assert "report.md" in local
    assert "speedup.csv" in local
    for href in local:
        assert (out / href).is_file(), href
    assert "CPU on 1 of 8 cores" in page
    assert "cross-dtype: CPU float64 vs GPU float32" in page
    assert "Test GPU" in page  # machine facts
    md = (out / "report.md").read_text()
    for target in re.findall(r"\]\(([^)]+)\)", md):
        assert (out / target).is_file(), target


def test_results_dir_is_untouched(run):
    assert tree_digest(run["results"]) == run["before"]


def test_terminal_summary(tmp_path, capsys, no_write):
    rc = main(["--results", str(FIXTURES / "handmade"), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "cpubox (commit bbbbbbbb): no CUDA results on this machine" in out
    assert "torch-cpu: up to 8.00x over numpy" in out
    assert "gpubox (commit cccccccc): GPU gain over the best CPU implementation" in out
    assert "wins from 256 (about 141 interpolated); 16.00x at 1024 over torch-cpu" in out
    assert "UNEQUAL: CPU on 1 of 8 cores" in out
    assert f"open {tmp_path / 'o' / 'index.html'}" in out


def test_gpu_summary_only(tmp_path, capsys, no_write):
    rc = main(["--results", str(FIXTURES / "handmade"), "--out", str(tmp_path / "o"),
               "--machine", "gpubox", "--summary", "gpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert out.startswith("gpubox (commit cccccccc): GPU gain over the best CPU implementation\n")
    assert (
        "  peak: torch-cuda reaches 2% of the measured CUDA float32 GEMM peak (832 of 40,000" in out
    )
    rc = main(["--results", str(FIXTURES / "handmade"), "--out", str(tmp_path / "o"),
               "--machine", "cpubox", "--summary", "gpu"])  # fmt: skip
    assert rc == 1
    assert capsys.readouterr().err.startswith("error: no GPU gain")
    assert not (tmp_path / "o" / "index.html").exists()


def test_broken_files_are_named_and_the_rest_reported(tmp_path, capsys, no_write):
    rc = main(["--results", str(FIXTURES / "broken"), "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert rc == 0
    assert err.count("warning: skipping ") == 6
    assert "-truncated.json: not valid JSON" in err
    assert "gpubox (commit cccccccc): GPU gain" in out
    assert "oldbox (commit bbbbbbbb)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--results", "{tmp}/nowhere"], "does not exist; run `nox -s bench`"),
        (["--results", "{tmp}"], "benchmarks.json not found"),
        (["--machine", "nope"], "machine 'nope' is not in the results"),
        (["--commit", "12345"], "commit '12345' is not in the results"),
        (["--baseline", "jax"], "baseline 'jax' has no results"),
        (["--out", "{tmp}/file/sub"], "cannot create output dir"),
        (["--out", "{tmp}/file"], "exists and is not a directory"),
        (["--out", "{results}/report"], "is inside the results dir"),
    ],
)
def test_bad_input_one_line(tmp_path, capsys, args, message):
    (tmp_path / "file").write_text("not a directory")
    argv = ["--results", str(FIXTURES / "handmade"), "--out", str(tmp_path / "o")]
    argv += [a.format(tmp=tmp_path, results=FIXTURES / "handmade") for a in args]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")
    assert message in err


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--results", "--out", "--machine", "--commit", "--baseline", "--summary"):
        assert option in text


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "index.html"
    atomic_write(target, b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # fails half-way, inside the write
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]  # no temporary left
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
