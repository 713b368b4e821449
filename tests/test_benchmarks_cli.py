"""``python -m benchmarks``: arguments, the run lock, Ctrl-C, leftover processes, progress.

The end-to-end tests run the real command with a fake asv (``FFBENCH_ASV``): a small script
that behaves like asv where it matters here (rewrites machine.json, starts a forkserver-like
process in a session of its own, prints, sleeps), so no benchmark runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from asv.benchmarks import Benchmarks

from benchmarks import cli, gate, grids, layout, leftovers, machine
from benchmarks.__main__ import Plan, confirming, main
from benchmarks.progress_view import Progress
from benchmarks.runlock import Busy, RunLock

REPO = Path(__file__).resolve().parents[1]
FACTS = {"blas": "openblas", "threads": 1}

FAKE_ASV = """\
import json, os, subprocess, sys, time
from pathlib import Path

here = Path(__file__).parent
env = {k: v for k, v in os.environ.items() if k.startswith(("FFBENCH_", "PYTHONHASHSEED"))}
personality = Path("/proc/self/personality")
flags = int(personality.read_text(), 16) if personality.exists() else None
(here / "seen.json").write_text(json.dumps({"argv": sys.argv[1:], "env": env, "flags": flags}))
print("fake asv: started", flush=True)
if sys.argv[1] in ("check", "continuous") or os.environ.get("FAKE_QUICK"):
    sys.exit(int(os.environ.get("FAKE_RC", "0")))
machine_json = here / "results" / "testbox" / "machine.json"
machine_json.write_text(json.dumps({"machine": "testbox", "version": 1}))  # as asv run does
folder = here / "asv-forkserver-test"
folder.mkdir()
server = [sys.executable, str(here / "asv" / "benchmark.py"), "run_server", str(here),
          str(folder / "socket")]
pid = subprocess.Popen(server, start_new_session=True).pid
(here / "server.pid").write_text(str(pid))
(here / "ready").write_text("")
time.sleep(60)
"""


def gone(pid: int) -> bool:
    return not leftovers.running(pid)


def wait_for(predicate, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def project(tmp_path):
    """A folder with an asv config, a machine.json holding facts, a fake asv and its
    fake benchmark script; the environment that runs ``python -m benchmarks`` on it."""
    (tmp_path / "asv.conf.json").write_text(
        '{"version": 1, "repo": ".", "results_dir": "results", "environment_type": "virtualenv"}'
    )
    (tmp_path / "results" / "testbox").mkdir(parents=True)
    machine_json = tmp_path / "results" / "testbox" / "machine.json"
    machine_json.write_text(
        json.dumps({"machine": "testbox", "version": 1, "ffbench_facts": FACTS})
    )
    (tmp_path / "fake_asv.py").write_text(FAKE_ASV)
    (tmp_path / "asv").mkdir()
    (tmp_path / "asv" / "benchmark.py").write_text("import time\ntime.sleep(60)\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),  # no ~/.asv-machine.json: the machine is the one named
        "TMPDIR": str(tmp_path),  # leftovers are looked for here only
        "FFBENCH_ASV": f"{sys.executable} {tmp_path / 'fake_asv.py'}",
    }
    return SimpleNamespace(root=tmp_path, env=env, machine_json=machine_json)


def start(project, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job is
    )


def test_help_exits_zero_and_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "default: asv.conf.json" in out
    assert "this host's name" in out
    for grid in ("quick", "full", "gpu"):
        assert grid in out


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([], "GRID"),
        (["bogus", "run"], "'bogus'"),
        (["quick", "bogus"], "'bogus'"),
        (["quick"], "COMMAND"),
        (["quick", "run", "--frob"], "--frob"),
        (["quick", "continuous"], "branch"),
        (["gpu", "continuous", "HEAD"], "no history points"),
    ],
)
def test_bad_arguments_are_one_line_naming_them(argv, named, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert named in captured.err


def test_a_bad_layout_choice_is_one_line_naming_it(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(layout.ENV, "bogus")
    assert main(["quick", "run", "--python=same"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'bogus'" in err
    assert "fixed, random" in err


def test_a_second_lock_holder_is_told_who_holds_it(tmp_path):
    with RunLock(tmp_path) as first:
        with pytest.raises(Busy) as busy:
            RunLock(tmp_path).acquire()
        assert f"(pid {os.getpid()} since {first.since})" in str(busy.value)
        assert str(busy.value).startswith("another ffbench run is in progress")
    RunLock(tmp_path).acquire().release()  # free again once released


def saved_results(project) -> dict[str, str]:
    """Checksums of the machine's saved results files (machine.json aside: asv rewrites it)."""
    folder = project.root / "results" / "testbox"
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob("*.json"))
        if p.name != "machine.json"
    }


def keep_a_saved_result(project) -> dict[str, str]:
    (project.root / "results" / "testbox" / "abc12300-env.json").write_text('{"version": 2}')
    return saved_results(project)


def test_a_run_while_another_holds_the_lock_exits_3_without_running(project):
    before = keep_a_saved_result(project)
    with RunLock(project.root / "results"):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks", "quick", "check"],
            check=False,
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 3
    assert done.stderr.startswith("another ffbench run is in progress (pid ")
    assert done.stderr.count("\n") == 1
    assert not (project.root / "seen.json").exists()
    assert saved_results(project) == before


def test_asv_gets_the_grid_and_run_variables_and_its_exit_status_passes(project):
    project.env["FAKE_RC"] = "4"
    child = start(project, "full", "check")
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 4
    assert "fake asv: started\n" in out
    seen = json.loads((project.root / "seen.json").read_text())
    assert seen["argv"] == ["check"]  # no --bench added
    env = seen["env"]
    assert env["FFBENCH_GRID"] == "full"
    host = machine.platform.node()  # asv's default machine name
    assert env["FFBENCH_FLAGS_DIR"] == str(project.root / "results" / host / "ffbench-flags")
    assert "FFBENCH_COMMIT" not in env
    assert env["FFBENCH_RUN"].endswith("Z")
    assert not Path(env["FFBENCH_PROGRESS"]).exists()  # a temporary file, removed after


def test_run_measures_every_point_in_several_processes_unless_told(project):
    """asv keeps ``rounds`` for its own time benchmarks, so the runner passes it for all."""
    project.env["FAKE_QUICK"] = "1"
    _, err = start(project, "quick", "run", "--python=same").communicate(timeout=60)
    assert err == ""
    argv = json.loads((project.root / "seen.json").read_text())["argv"]
    assert argv == ["run", "--python=same", "-a", f"rounds={grids.ROUNDS}"]
    start(project, "quick", "run", "-a", "rounds=5").communicate(timeout=60)
    argv = json.loads((project.root / "seen.json").read_text())["argv"]
    assert argv == ["run", "-a", "rounds=5"]


@pytest.mark.skipif(not Path("/proc/self/personality").exists(), reason="needs Linux's /proc")
def test_asv_runs_in_one_fixed_address_layout_unless_told_and_the_facts_say_which(project):
    project.env["FAKE_QUICK"] = "1"
    project.env.pop("PYTHONHASHSEED", None)  # the user's own seed is left alone when random
    with layout.applied(True) as got:
        if got != layout.FIXED:
            pytest.skip("this kernel refuses personality(ADDR_NO_RANDOMIZE)")
    out, err = start(project, "quick", "run", "--machine", "testbox").communicate(timeout=60)
    assert err == ""
    assert f"address layout: {layout.FIXED}\n" in out
    seen = json.loads((project.root / "seen.json").read_text())
    assert seen["flags"] & layout.ADDR_NO_RANDOMIZE
    assert seen["env"]["PYTHONHASHSEED"] == layout.HASH_SEED
    facts = json.loads(project.machine_json.read_text())[machine.FACTS_KEY]
    assert facts["address_layout"] == layout.FIXED

    project.env[layout.ENV] = "random"
    out, err = start(project, "quick", "run", "--machine", "testbox").communicate(timeout=60)
    assert err == ""
    seen = json.loads((project.root / "seen.json").read_text())
    assert "PYTHONHASHSEED" not in seen["env"]
    facts = json.loads(project.machine_json.read_text())[machine.FACTS_KEY]
    if Path("/proc/sys/kernel/randomize_va_space").read_text().strip() == "0":
        assert facts["address_layout"] == layout.SYSTEM_FIXED  # off for the whole machine
        return
    assert f"address layout: {layout.RANDOM} ({layout.ENV}=random)" in out
    assert not seen["flags"] & layout.ADDR_NO_RANDOMIZE
    assert facts["address_layout"] == layout.RANDOM


def test_continuous_runs_the_history_points_interleaved_then_the_gate(project):
    config = json.loads((project.root / "asv.conf.json").read_text())
    (project.root / "asv.conf.json").write_text(json.dumps({**config, "repo": str(REPO)}))
    child = start(project, "quick", "continuous", "-b", "torch", "HEAD~1", "HEAD")
    out, err = child.communicate(timeout=60)
    argv = json.loads((project.root / "seen.json").read_text())["argv"]
    assert argv[:6] == ["continuous", "HEAD~1", "HEAD", "-a", f"rounds={grids.GATE_ROUNDS}",
                        "--interleave-rounds"]  # fmt: skip
    assert argv[6] == "--bench"
    assert "torch" not in argv[:6]  # the user's --bench narrows ours, not beside it
    labels = grids.grid("quick").history_labels()
    narrowed = [label for label in labels if "torch" in label]
    assert narrowed
    assert asv_selects([argv[7]], labels) == narrowed
    # Nothing was saved by the fake asv: the gate has nothing to compare, and says so.
    assert child.returncode == gate.NOTHING_TO_COMPARE
    assert "no history point measured on both" in out
    assert err == ""


def test_ctrl_c_is_one_line_exit_130_with_facts_kept_and_nothing_left(project):
    before = keep_a_saved_result(project)
    child = start(project, "quick", "run", "-m", "testbox", "--set-commit-hash", "abc123")
    assert wait_for(lambda: (project.root / "ready").exists()), child.communicate(timeout=5)
    os.killpg(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert err.startswith(
        f"interrupted; results of earlier runs and finished commits are in {project.root}/results/testbox/"
    )
    assert err.count("\n") == 1
    assert "Traceback" not in out
    assert json.loads(project.machine_json.read_text())["ffbench_facts"] == FACTS
    assert saved_results(project) == before
    assert wait_for(lambda: gone(int((project.root / "server.pid").read_text())), 5)
    assert not (project.root / "asv-forkserver-test").exists()
    seen = json.loads((project.root / "seen.json").read_text())
    assert seen["env"]["FFBENCH_COMMIT"] == "abc123"


def test_an_earlier_runs_orphaned_processes_and_folders_are_removed(tmp_path):
    sockets = tmp_path / "asv-forkserver-old"
    cache = tmp_path / "tmpcache"
    for folder in (sockets, cache):
        folder.mkdir()
        os.utime(folder, (time.time() - 3600,) * 2)
    script = tmp_path / "asv" / "benchmark.py"
    script.parent.mkdir()
    script.write_text("import time\ntime.sleep(60)\n")
    server = [sys.executable, str(script), "run_server", str(tmp_path), str(sockets / "socket")]
    setup_cache = [sys.executable, str(script), "setup_cache", str(tmp_path), "b.C.track_x"]
    # Their parent exits at once, as a killed asv would: they are left orphans.
    launcher = (
        "import subprocess; quiet = dict(start_new_session=True, stdout=-3, stderr=-3); "
        f"print(subprocess.Popen({server!r}, **quiet).pid); "
        f"print(subprocess.Popen({setup_cache!r}, cwd={str(cache)!r}, **quiet).pid)"
    )
    found = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True,
                           check=True)  # fmt: skip
    pids = [int(pid) for pid in found.stdout.split()]
    assert wait_for(lambda: leftovers.stale_roots(leftovers.table(), str(tmp_path)) == set(pids))
    note = leftovers.remove_stale(str(tmp_path))
    assert note == (
        "removed what an earlier asv run left: 2 benchmark processes, "
        f"2 asv folders in {tmp_path.resolve()}"
    )
    assert all(gone(pid) for pid in pids)
    assert not sockets.exists()
    assert not cache.exists()
    assert leftovers.remove_stale(str(tmp_path)) is None


def test_stale_means_orphaned_and_in_our_temporary_directory():
    server = ("python", "/e/asv/benchmark.py", "run_server", "/b", "/tmp/x/asv-forkserver-1/socket")
    procs = {
        10: leftovers.Proc(10, 1, 0, server, "/repo"),  # orphan: stale
        11: leftovers.Proc(11, 10, 0, server, "/repo"),  # its forked child: below a stale one
        20: leftovers.Proc(20, 1, 0, ("python", "-m", "asv", "run"), "/repo"),
        21: leftovers.Proc(21, 20, 0, server, "/repo"),  # asv is alive: not stale
        30: leftovers.Proc(30, 1, 0, ("python", "/e/asv/benchmark.py", "setup_cache"), "/tmp/x/c"),
        40: leftovers.Proc(40, 1, 0, ("python", "/e/asv/benchmark.py", "setup_cache"), "/other"),
    }
    assert leftovers.stale_roots(procs, "/tmp/x") == {10, 30}
    assert leftovers.descendants({10}, procs) == {10, 11}


def asv_selects(regex: list[str], labels: list[str]) -> list[str]:
    """The labels asv's own --bench matching keeps, params quoted as asv_runner records them."""
    conf = SimpleNamespace(benchmark_dir="benchmarks")
    found = {"name": cli.HISTORY_BENCHMARK, "params": [[repr(x) for x in labels]]}
    chosen = Benchmarks(conf, [found], regex=regex).benchmark_selection[cli.HISTORY_BENCHMARK]
    return [labels[i] for i in chosen]


def test_the_history_selection_is_what_asv_runs():
    labels = ["numpy/64x1000x100x10/float32/squared-relu/1t", "torch/4x62x6x10/float64/exp-relu/1t"]
    others = ["numpy/64x1000x100x10/float32/squared-relu/2t"]
    pattern = cli.history_pattern(labels)
    assert asv_selects([pattern], labels + others) == labels
    assert asv_selects([cli.narrowed(pattern, ["torch"])], labels + others) == labels[1:]
    assert asv_selects([cli.narrowed(pattern, ["^nothing", "float32"])], labels) == labels[:1]


def test_the_users_bench_is_taken_out_in_every_spelling():
    args = ["-b", "a", "--bench=b", "--bench", "c", "-bd", "--ben", "e", "-q", "HEAD"]
    assert cli.without_bench(args) == ["-q", "HEAD"]


def test_progress_counts_lines_and_estimates_from_the_time_per_point(tmp_path):
    path = tmp_path / "progress"
    now = [100.0]
    progress = Progress(path, total=40, clock=lambda: now[0])
    assert progress.line().startswith("progress: 0 of 40 point runs done, setting up")
    path.write_text("x\n" * 5)  # the first burst: its points took an unknown time
    assert progress.line() == "progress: 5 of 40 point runs done, no estimate yet"
    with path.open("a") as stream:
        stream.write("x\n" * 10)
    assert progress.line() == "progress: 15 of 40 point runs done, no estimate yet"  # too soon
    now[0] = 120.0
    assert progress.line() == "progress: 15 of 40 point runs done, about 50 s left"


@pytest.mark.parametrize(
    ("args", "count"),
    [
        (["--python=same"], 1),
        (["--set-commit-hash=abc", "HEAD~2..HEAD"], 1),
        ([], 1),
        (["HEAD~2..HEAD"], 2),
        (["HEAD~3..HEAD", "--steps", "2"], 2),
        (["HEAD^!"], 1),
        (["NEW"], None),
    ],
)
def test_a_run_counts_the_commits_asv_will_measure(tmp_path, args, count):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    for i in range(4):
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", str(i)], check=True)
    assert cli.commit_count(repo, cli.asv_options("run", args)) == count


def test_asv_machine_name_follows_asv(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    host = machine.platform.node()
    assert machine.asv_machine_name(None) == host
    (tmp_path / ".asv-machine.json").write_text(
        json.dumps({"version": 1, "only": {"machine": "box"}})
    )
    assert machine.asv_machine_name(None) == "box"  # the one entry there is
    assert machine.asv_machine_name("other") == "other"


def test_the_gates_second_pass_measures_only_the_points_to_confirm():
    labels = grids.grid("quick").history_labels()
    args = ["HEAD~1", "HEAD", "-a", "rounds=3", "--interleave-rounds"]
    todo = Plan([*args, "--bench", cli.history_pattern(labels)], [], None, labels, ("a", "b"), 3)
    again = confirming(todo, labels[:2])
    assert again.asv_args[:-2] == args
    assert again.asv_args[-2] == "--bench"
    assert asv_selects([again.asv_args[-1]], labels) == labels[:2]
    assert again.total == 2 * 2 * 3  # both commits, two points, three rounds each
    assert (again.labels, again.commits) == (labels, ("a", "b"))  # judged on every point
