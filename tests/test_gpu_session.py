"""`nox -s gpu`'s first step on a machine without CUDA: one line saying so, and a non-zero exit.

The session itself is not run here (it builds a virtual environment); its first command is
``python -m impls.validate --device cuda``, which is what this runs, as a subprocess.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from impls.validate import no_cuda_reason


def test_validate_cuda_without_cuda_is_one_line_and_fails():
    reason = no_cuda_reason()
    if reason is None:
        pytest.skip("a CUDA device is visible here")
    done = subprocess.run(
        [sys.executable, "-m", "impls.validate", "--device", "cuda"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode != 0
    assert lines == [reason]
    assert lines[0].startswith("no CUDA device is visible: ")
