"""The nox sessions against the README: every workflow shown is a session, and one torch install.

The noxfile is read as source (the test virtualenv has no nox); where nox is on PATH, as after the
README's quick start, `nox -l` is run as well, since its output is what a user reads.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
NOXFILE = ast.parse((ROOT / "noxfile.py").read_text())


def _decorator_name(node: ast.expr) -> str:
    node = node.func if isinstance(node, ast.Call) else node
    return ast.unparse(node)


#: Each session function's name -> its decorators' names.
SESSIONS = {
    f.name: [_decorator_name(d) for d in f.decorator_list]
    for f in NOXFILE.body
    if isinstance(f, ast.FunctionDef)
    and any(_decorator_name(d) in ("nox.session", "in_shared_env") for d in f.decorator_list)
}


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_session_is_a_readme_workflow_and_back():
    listed = re.findall(r"^nox -s (\w+)", _section("Workflows"), flags=re.MULTILINE)
    assert len(listed) == len(set(listed))
    assert set(listed) == set(SESSIONS)


def test_only_lint_and_env_have_a_virtualenv_of_their_own():
    own = {name for name, decorators in SESSIONS.items() if "in_shared_env" not in decorators}
    assert own == {"lint", "env"}


def test_docstrings_are_one_plain_line():
    module = ast.get_docstring(NOXFILE)
    assert module is not None
    assert "``" not in module
    for f in NOXFILE.body:
        if isinstance(f, ast.FunctionDef) and f.name in SESSIONS:
            doc = ast.get_docstring(f)
            assert doc, f.name
            assert "\n" not in doc, f.name
            assert "``" not in doc, f.name


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    commands = re.findall(
        r"^python3 -m pip install nox && nox -s \w+", _section("Quick start"), re.MULTILINE
    )
    assert commands == [
        "python3 -m pip install nox && nox -s bench",
        "python3 -m pip install nox && nox -s tests",
    ]
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if "nox" in line]
    assert ci == [commands[1], "nox -s lint"]


def test_nox_list_shows_every_session_in_plain_text():
    nox = shutil.which("nox")
    if nox is None:
        pytest.skip("nox is not on PATH (the README's quick start installs it)")
    done = subprocess.run(
        [nox, "-l"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert "``" not in done.stdout
    shown = re.findall(r"^[*-] (\w+) -> ", done.stdout, flags=re.MULTILINE)
    assert shown[0] == "bench"
    assert set(shown) == set(SESSIONS)


def test_heartbeat_speaks_during_a_silence_and_keeps_the_exit_status():
    quiet = (
        "import time, sys; print('start', flush=True); time.sleep(1.0); print('end'); sys.exit(3)"
    )
    done = subprocess.run(
        [sys.executable, str(HEARTBEAT), "0.3", "--", sys.executable, "-c", quiet],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 3
    assert lines[0] == "start"
    assert lines[-1] == "end"
    assert any(line.startswith("... still running after") for line in lines[1:-1])


HEARTBEAT = Path(__file__).resolve().parents[1] / "tools" / "heartbeat.py"
