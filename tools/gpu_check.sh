#!/usr/bin/env bash
# tools/gpu_check.sh: the one prepared check for a machine with a CUDA GPU, within a deadline.
#
# `nox -s gpu`'s steps without nox (keep them in step with noxfile.py), in this order:
#   1. correctness, nothing timed yet: python -m impls.validate --device cuda (every CUDA
#      implementation against the oracle; a failure stops the check) while pytest runs the CUDA
#      tests (-m cuda: the oracle, the no-sync and CUDA-graph tests) on other cores;
#   2. the gpu asv grid saved against HEAD, in two asv runs so that a deadline cuts the sweeps,
#      not the figures: first the tutorial size, the largest scale point, the first steps, the
#      ceilings and the launch floor; then the rest of the grid;
#   3. python -m reports with its GPU-gain summary.
# DEADLINE_S (default 480) bounds the whole check: each stage gets what is left, less what the
# later stages need, and a stage cut by its limit is said so. Logs and results go to $OUT when
# set (the device tool's folder), else to /tmp/gpu-check: validate.log, tests.log, asv.log,
# report.log, facts.json, asv-results.tar.gz (.asv/results with the flags sidecar) and
# report.tar.gz.
#
# On a lab machine with internet and nox, `nox -s gpu` is the same check. On the lent H200
# (torch + CUDA preinstalled, nothing can be fetched, no asv), bring asv as wheels into .whl/
# (ignored by git):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux2014_x86_64 -d .whl asv==0.6.6 \
#     asv-runner==0.3.2 json5==0.17.3 importlib-metadata==8.7.0 virtualenv==21.15.11 \
#     distlib==0.4.4 platformdirs==4.14.9 python-discovery==1.9.6 pympler==1.1
# and `(cd .whl && apt-get download git)` for a machine without git
# (asv's other needs, and the project's numpy, pandas, matplotlib, threadpoolctl, pytest,
# pytest-xdist and nvidia-ml-py, are on that image), and a copy of .git (asv saves results
# against a commit read from git; the device tool does not carry .git itself):
#   rm -rf .git-carried && cp -r .git .git-carried
#   run(command="bash tools/gpu_check.sh", carry=[".whl", ".git-carried"], timeout_s=540)
# then give_back.
set -uo pipefail
cd "$(dirname "$0")/.."
# The suite's virtualenv where the Quick start made one, else the machine's python3.
if [ -x .nox/env/bin/python ]; then PY=${PYTHON:-.nox/env/bin/python}; else PY=${PYTHON:-python3}; fi
LOGS=${OUT:-/tmp/gpu-check}
DEADLINE_S=${DEADLINE_S:-480}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -d .git-carried ]; then
    rm -rf .git && mv .git-carried .git
fi
# git, which asv reads the commit from: unpacked from a carried Debian package where there is
# none (`apt-get download git` into .whl/).
if ! command -v git >/dev/null && compgen -G ".whl/git_*.deb" >/dev/null; then
    dpkg -x .whl/git_*.deb /tmp/git-root || exit 3
    export PATH=/tmp/git-root/usr/bin:$PATH GIT_EXEC_PATH=/tmp/git-root/usr/lib/git-core
fi
# The project from this checkout, uninstalled: for this shell, and for asv's benchmark
# processes (asv drops PYTHONPATH and passes ASV_PYTHONPATH instead).
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export ASV_PYTHONPATH=$PYTHONPATH
export FFBENCH_GRID=gpu
status=0

# Seconds a stage may take: its own share, never past the deadline less `reserve` seconds.
limit() {
    local want=$1 left=$((DEADLINE_S - SECONDS - $2))
    ((left < want)) && want=$left
    ((want < 1)) && want=1
    echo "$want"
}

# run_limited NAME LIMIT LOG CMD...: the command under `timeout`, saying so when it was cut.
run_limited() {
    local name=$1 secs=$2 log=$3 rc
    shift 3
    echo "== $name (limit $secs s, at $SECONDS s)" | tee -a "$log"
    timeout "$secs" "$@" >>"$log" 2>&1
    rc=$?
    ((rc == 124)) && echo "$name: cut at its limit of $secs s" | tee -a "$log" >&2
    return "$rc"
}

no_cuda=$("$PY" -c "from impls.validate import no_cuda_reason as r; print(r() or '')")
if [ -n "$no_cuda" ]; then
    echo "$no_cuda: nothing to check here" >&2
    exit 2
fi
"$PY" -c "import json, impls.facts as f; print(json.dumps(f.machine_facts(cuda=True)))" \
    >"$LOGS/facts.json" 2>&1 || status=1
cat "$LOGS/facts.json"

# 1. Correctness. The CUDA tests in the background (xdist workers on the spare cores), the
#    oracle check in the foreground; both must finish before anything is timed.
# What the timing and the report need after the correctness stage, at most.
later=$([ "${FIGURES_ONLY:-0}" = 1 ] && echo 220 || echo 330)
run_limited "tests -m cuda" "$(limit "${CORRECTNESS_S:-150}" "$later")" "$LOGS/tests.log" \
    "$PY" -m pytest -m cuda -q -ra -p no:cacheprovider -p no:benchmark -n "${TEST_WORKERS:-8}" \
    --durations=5 &
tests_pid=$!
if ! run_limited validate "$(limit "${CORRECTNESS_S:-150}" "$later")" "$LOGS/validate.log" \
    "$PY" -m impls.validate --device cuda; then
    cat "$LOGS/validate.log"
    echo "validation failed: nothing is timed" >&2
    wait "$tests_pid"
    tail -n 30 "$LOGS/tests.log"
    exit 1
fi
tail -n 8 "$LOGS/validate.log"
wait "$tests_pid" || status=1
tail -n 12 "$LOGS/tests.log"

# 2. Timing, against HEAD (or a throwaway commit of this tree where .git was not carried).
if ! head=$(git rev-parse HEAD 2>/dev/null); then
    git init -q && git add -A \
        && git -c user.name=gpu_check -c user.email=gpu_check@localhost commit -qm \
            "gpu_check: this machine's copy of the working tree" || exit 1
    head=$(git rev-parse HEAD)
    echo "WARNING: no git history here (carry .git): results are saved against a throwaway" \
        "commit ${head:0:8} of this tree, not against HEAD" | tee -a "$LOGS/asv.log" >&2
fi
"$PY" -m benchmarks.machine >>"$LOGS/asv.log" 2>&1 || status=1
# asv matches --bench against "name(label)": the figures the summary quotes come first.
# The largest scale point of each side: 32x the tutorial on CUDA, 8x on the CPU (its budget);
# the ceilings the summary divides by: CUDA's and the CPU's big square.
first='(/64x1000x100x10/|/512x8000x800x10/|/2048x32000x3200x10/|ColdStart|Gemm.*(cuda/|2048x2048x2048)|LaunchFloor)'
asv_run=("$PY" -m benchmarks gpu run --python=same "--set-commit-hash=$head" --bench)
# Exit status 2 from asv: some points failed (asv marks them); the rest is still reported.
# FIGURES_ONLY=1: the first run alone, in one round (for a lease shorter than the grid).
if [ "${FIGURES_ONLY:-0}" = 1 ]; then
    run_limited "asv: the summary's figures, one round" "$(limit 300 20)" "$LOGS/asv.log" \
        "${asv_run[@]}" "$first" -a rounds=1 || status=1
else
    run_limited "asv: tutorial size, largest scale, first steps, ceilings" "$(limit 200 110)" \
        "$LOGS/asv.log" "${asv_run[@]}" "$first" || status=1
    run_limited "asv: the rest of the gpu grid" "$(limit 200 30)" "$LOGS/asv.log" \
        "${asv_run[@]}" "^(?!.*$first)" || status=1
fi
grep -E "^(WARNING|ffbench)|flagged|failed|Traceback" "$LOGS/asv.log" | tail -n 20
[ -d .asv/results ] && tar -czf "$LOGS/asv-results.tar.gz" .asv/results

# 3. The report, and its GPU-gain summary on the terminal.
run_limited report "$(limit 45 0)" "$LOGS/report.log" \
    "$PY" -m reports --commit "$head" --summary gpu --out report || status=1
cat "$LOGS/report.log"
[ -d report ] && tar -czf "$LOGS/report.tar.gz" report
echo "== done at $SECONDS s: status $status; logs in $LOGS"
exit "$status"
