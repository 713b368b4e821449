"""``python -m impls``: help with defaults, and a bad option as one line and exit status 2.

The checks and timings themselves are not run here (tests/test_correctness.py covers the
implementations): `impls.set_threads`, the first thing a run does, is replaced by a stand-in that
stops the run, so a bad option that got through fails the test instead of running (or, for
``--threads 100000``, crashing the BLAS; for ``--seconds inf``, never returning).
"""

from __future__ import annotations

import os

import pytest

import impls
from impls.__main__ import main
from impls.threads import physical_cores

#: The CPUs this process may run on: the most threads `--threads` accepts.
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


class Reached(Exception):
    """Raised by the stand-in for `impls.set_threads`: the options were accepted."""


@pytest.fixture
def stop_at_run(monkeypatch):
    def stand_in(n=None):
        raise Reached(n)

    monkeypatch.setattr(impls, "set_threads", stand_in)


def test_help_exits_zero_and_shows_every_default(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # help wraps at the terminal width
    assert "(default: float32)" in out
    assert f"(default: {physical_cores()})" in out
    assert "(default: 0.5)" in out


@pytest.mark.parametrize(
    ("argv", "shown", "allowed"),
    [
        pytest.param(["--threads", "0"], "'0'", "an int from 1 to {cpus}", id="threads=0"),
        pytest.param(["--threads", "-2"], "'-2'", "an int from 1 to {cpus}", id="threads=-2"),
        pytest.param(
            ["--threads", "100000"], "'100000'", "an int from 1 to {cpus}", id="threads=100000"
        ),
        pytest.param(
            ["--threads", "{too_many}"],
            "'{too_many}'",
            "an int from 1 to {cpus}",
            id="threads=cpus+1",
        ),
        pytest.param(["--threads", "2.5"], "'2.5'", "an int from 1 to {cpus}", id="threads=2.5"),
        pytest.param(
            ["--seconds", "inf"], "'inf'", "a finite number > 0 and <= 60", id="seconds=inf"
        ),
        pytest.param(
            ["--seconds", "nan"], "'nan'", "a finite number > 0 and <= 60", id="seconds=nan"
        ),
        pytest.param(["--seconds", "0"], "'0'", "a finite number > 0 and <= 60", id="seconds=0"),
        pytest.param(["--seconds", "-1"], "'-1'", "a finite number > 0 and <= 60", id="seconds=-1"),
        pytest.param(
            ["--seconds", "60.5"], "'60.5'", "a finite number > 0 and <= 60", id="seconds=60.5"
        ),
        pytest.param(
            ["--seconds", "soon"], "'soon'", "a finite number > 0 and <= 60", id="seconds=soon"
        ),
        pytest.param(
            ["--dtype", "float16"], "'float16'", "'float32', 'float64'", id="dtype=float16"
        ),
    ],
)
def test_bad_option_is_one_line_and_exit_2(stop_at_run, capsys, argv, shown, allowed):
    fill = {"cpus": CPUS, "too_many": CPUS + 1}
    argv = [a.format(**fill) for a in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("python -m impls: error: argument " + argv[0])
    assert shown.format(**fill) in lines[0]
    assert allowed.format(**fill) in lines[0]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("seconds", ["0.01", "60"])
def test_options_in_range_reach_the_run(stop_at_run, seconds):
    threads = CPUS
    with pytest.raises(Reached) as info:
        main(["--threads", str(threads), "--seconds", seconds])
    assert info.value.args == (threads,)


def test_default_threads_are_the_physical_cores(stop_at_run):
    with pytest.raises(Reached) as info:
        main([])
    assert info.value.args == (physical_cores(),)
