"""``python -m reports`` end to end: files, links, safety of the results dir, bad input."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
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
    for stem in ("speedup_batch-float32-1t", "gpu_gain_batch-float32-1t",
                 "gpu_gain_hidden-float32-8t"):  # fmt: skip
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    # numpy alone on the float64 hidden sweep: no speedup to draw there.
    assert "speedup_hidden-float64-8t.png" not in names
    assert (out / "speedup_batch-float32-1t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [n for n in names if n.endswith(".tmp")]  # atomic writes leave nothing behind
    assert (out / ".cache").is_dir()  # parsed results kept beside the report, not in results


def test_speedup_csv(run):
    with (run["out"] / "speedup.csv").open() as f:
        rows = list(csv.DictReader(f))
    row = next(
        r for r in rows if r["point"] == "torch-cuda/1024x1000x100x10/float32/squared-relu/1t"
    )
    assert float(row["speedup"]) == pytest.approx(32.0)
    assert float(row["speedup"]) == pytest.approx(
        float(row["baseline_time_s"]) / float(row["time_s"])
    )
    assert (row["threads"], row["dtype"], row["d_in"]) == ("1", "float32", "1000")
    assert (row["env"], row["paired"], row["disturbed"]) == (
        "existing-py_usr_bin_python3",
        "False",
        "False",
    )


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
    # The best speedup is at an exercise point (no swept size): said by its point.
    assert "torch-cpu: up to 10.00x over numpy (at 64×1000×100×10 exp-sigmoid, float32, 2 " in out
    assert "gpubox (commit cccccccc): GPU gain over the best CPU implementation" in out
    assert (
        "batch sweep — d_in 1000, hidden 100, float32, 8 threads: torch-cuda wins from 256 "
        "(about 141 interpolated); 16.00x at 1024 over torch-cpu" in out
    )
    assert "UNEQUAL: CPU on 1 of 8 cores" in out
    assert f"open {tmp_path / 'o' / 'index.html'}" in out


def test_flagged_points_are_counted_never_quoted(tmp_path, capsys, no_write):
    """cpubox's 10x exercise point made unstable: the headline moves to the next best point,
    and the summary says how many points were flagged and what to do."""
    results = tmp_path / "r"
    shutil.copytree(FIXTURES / "handmade", results)
    path = next((results / "cpubox").glob("b*.json"))
    data = json.loads(path.read_text())
    row = data["results"]["bench_step.Step.track_time"]
    i = row[1][0].index("'torch-cpu/64x1000x100x10/float32/exp-sigmoid/2t'")
    row[8][i] = row[0][i] * 1.5  # q_75: an interquartile range of half the median
    path.write_text(json.dumps(data))
    rc = main(["--results", str(results), "--out", str(tmp_path / "o"), "--machine", "cpubox"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "10.00x" not in out
    assert "torch-cpu: up to 8.00x over numpy (at 1024×1000×100×10, float32, 2 threads)" in out
    assert "WARNING: 1 of 8 points flagged and not quoted here (1 unstable" in out
    assert "fewer threads" in out
    assert "quieter machine" in out
    assert "more rounds" in out


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
    assert err.count("warning: skipping ") == 7
    assert len(err.strip().splitlines()) == 11  # one line per problem, no traceback
    assert "-truncated.json: not valid JSON" in err
    assert "gpubox (commit cccccccc): GPU gain" in out
    assert "oldbox (commit bbbbbbbb)" in out
    assert "badbox (commit aaaaaaaa)" in out
    assert "3 impossible times (zero, negative or infinite) marked bad" in out


def test_every_file_bad_names_them(tmp_path, capsys):
    results = tmp_path / "r"
    (results / "box").mkdir(parents=True)
    shutil.copy(FIXTURES / "handmade" / "benchmarks.json", results)
    (results / "box" / "aaaa-env.json").write_text('{"version": 2}')
    rc = main(["--results", str(results), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("error: no usable asv results under")
    assert "aaaa-env.json (missing key 'commit_hash')" in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_two_envs_of_a_commit_list_each_point_once(tmp_path, capsys):
    results = tmp_path / "r"
    shutil.copytree(FIXTURES / "handmade", results)
    src = next((results / "gpubox").glob("c*.json"))
    data = json.loads(src.read_text())
    data["env_name"] = "existing-py_other_python"
    data["results"]["bench_step.Step.track_time"][0][0] = float("nan")  # one ok point less
    (results / "gpubox" / "cccccccc-existing-py_other_python.json").write_text(json.dumps(data))
    out = tmp_path / "o"
    assert main(["--results", str(results), "--out", str(out), "--machine", "gpubox"]) == 0
    with (out / "speedup.csv").open() as f:
        rows = list(csv.DictReader(f))
    keys = [(r["machine"], r["commit"], r["point"]) for r in rows]
    assert len(keys) == len(set(keys)) == 9
    assert {r["env"] for r in rows} == {"existing-py_usr_bin_python3"}
    page = (out / "report.md").read_text()
    assert "Used: gpubox cccccccc: existing-py_usr_bin_python3." in page
    assert "env existing-py_other_python (21 ok points) left out" in page
    assert main(["--results", str(results), "--out", str(out), "--machine", "gpubox",
                 "--env", "existing-py_other_python"]) == 0  # fmt: skip
    with (out / "speedup.csv").open() as f:
        assert {r["env"] for r in csv.DictReader(f)} == {"existing-py_other_python"}
    assert "existing-py_other_python (chosen with --env)" in (out / "report.md").read_text()


def test_only_old_layout_one_line(tmp_path, capsys):
    rc = main(["--results", str(FIXTURES / "old"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: only results from before point labels under")
    assert len(err.strip().splitlines()) == 1


def test_old_layout_beside_new_one_note(tmp_path, capsys, no_write):
    results = tmp_path / "r"
    shutil.copytree(FIXTURES / "handmade", results)
    shutil.copytree(FIXTURES / "old" / "ffbench-ci", results / "ffbench-ci")
    rc = main(["--results", str(results), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 0
    assert len(err.strip().splitlines()) == 1
    assert "left out 2 benchmarks in 1 file" in err
    assert "not comparable with the current protocol" in err


def test_figures_are_byte_identical_between_runs(tmp_path):
    argv = ["--results", str(FIXTURES / "handmade"), "--machine", "gpubox", "--no-cache"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    svgs = sorted(p.name for p in (tmp_path / "a").glob("*.svg"))
    assert svgs
    for name in svgs:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert "<dc:date>" not in (tmp_path / "a" / svgs[0]).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--results", "{tmp}/nowhere"], "does not exist; run `nox -s bench`"),
        (["--results", "{tmp}"], "benchmarks.json not found"),
        (["--machine", "nope"], "machine 'nope' is not in the results"),
        (["--commit", "12345"], "commit '12345' is not in the results"),
        (["--baseline", "jax"], "baseline 'jax' has no results"),
        (
            ["--baseline", "torch-cuda", "--machine", "cpubox"],
            "has no results (implementations: numpy, torch-cpu)",
        ),
        (["--commit", ""], "--commit is empty"),
        (["--env", "nope"], "env 'nope' is not in the results"),
        (["--results", "{results}/benchmarks.json"], "is a file, not a directory"),
        (["--results", "{tmp}/loop"], "is a symlink loop"),
        (["--out", "{tmp}/file/sub"], "cannot create output dir"),
        (["--out", "{tmp}/file"], "exists and is not a directory"),
        (["--out", "{results}/report"], "is inside the results dir"),
    ],
)
def test_bad_input_one_line(tmp_path, capsys, args, message):
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
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
    for option in ("--results", "--out", "--machine", "--commit", "--env", "--baseline",
                   "--summary", "--no-cache"):  # fmt: skip
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
