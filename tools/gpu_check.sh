#!/usr/bin/env bash
# tools/gpu_check.sh [tests|gpu|all]: the one prepared check for a machine with a CUDA GPU.
#
#   tests  pytest with CUDA visible (every CUDA implementation against the oracle, the no-sync
#          and CUDA-graph tests; CPU tests too), then the machine's facts;
#   gpu    `nox -s gpu`'s three steps without nox (keep them in step with noxfile.py):
#          python -m impls.validate --device cuda; python -m benchmarks.machine (facts) and the
#          gpu asv grid (CUDA sweeps, CPU reference points on all cores, ceilings) saved
#          against HEAD; python -m reports with its GPU-gain summary;
#   all    both (the default).
# pytest honours PYTEST_ADDOPTS (e.g. PYTEST_ADDOPTS="-m cuda" for the CUDA tests alone).
# Each stage has its own time limit (TESTS_LIMIT_S, GPU_VALIDATE_LIMIT_S, GPU_ASV_LIMIT_S), so a
# hang still leaves logs. Logs and results go to $OUT when set (the device tool's folder), else
# to /tmp/gpu-check: tests.log, facts.json, validate.log, asv.log, report.log, report.tar.gz
# (the written report) and asv-results.tar.gz (.asv/results, to bring the numbers back).
#
# On a lab machine with internet and nox, `nox -s gpu` is the same check. On the lent H200
# (torch 2.11 + CUDA preinstalled, nothing can be fetched, no asv, no nox), bring asv as wheels:
#   echo /.whl/ >> .git/info/exclude    # (already in .gitignore)
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl asv==0.6.6 asv-runner==0.3.2 json5 importlib-metadata
# (its other needs, packaging, pyyaml, tabulate and build, and the project's numpy, pandas,
# matplotlib, threadpoolctl, nvidia-ml-py and pytest, are on that image), and carry `.whl` and
# `.git` (asv saves results against a commit and reads it from git; without .git the results
# are saved against a throwaway commit of the tree, with a warning), e.g. with the device tool:
#   run(command="bash tools/gpu_check.sh tests", carry=[".whl", ".git"], timeout_s=300)
#   run(command="bash tools/gpu_check.sh gpu", carry=[".whl", ".git"], timeout_s=480)
# (two calls, the second straight after the first while the machine is warm), then give_back.
set -uo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-all}
case "$STAGE" in tests | gpu | all) ;; *) echo "usage: $0 [tests|gpu|all]" >&2; exit 2 ;; esac
PY=${PYTHON:-python3}
LOGS=${OUT:-/tmp/gpu-check}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 3
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# The project from this checkout, uninstalled: for this shell, and for asv's benchmark
# processes (asv drops PYTHONPATH and passes ASV_PYTHONPATH instead).
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export ASV_PYTHONPATH=$PYTHONPATH
status=0

run_tests() {
    echo "== tests (limit ${TESTS_LIMIT_S:-280} s)"
    local no_cuda
    no_cuda=$("$PY" -c "from impls.validate import no_cuda_reason as r; print(r() or '')")
    if [ -n "$no_cuda" ]; then
        echo "$no_cuda: the CUDA tests will skip, so this stage fails" >&2
        status=1
    fi
    timeout "${TESTS_LIMIT_S:-280}" "$PY" -m pytest -q -ra -p no:cacheprovider --durations=10 \
        2>&1 | tee "$LOGS/tests.log" || status=1
    "$PY" -c "import json, impls.facts as f; print(json.dumps(f.machine_facts(cuda=True)))" \
        >"$LOGS/facts.json" 2>&1 || status=1
    cat "$LOGS/facts.json"
}

run_gpu() {
    echo "== validate (limit ${GPU_VALIDATE_LIMIT_S:-120} s)"
    if ! timeout "${GPU_VALIDATE_LIMIT_S:-120}" "$PY" -m impls.validate --device cuda \
        2>&1 | tee "$LOGS/validate.log"; then
        echo "validation failed: nothing is timed" >&2
        status=1
        return
    fi
    local head
    if ! command -v git >/dev/null; then
        echo "git is not installed here: asv reads the commit it saves results against from git" >&2
        status=1
        return
    fi
    if ! head=$(git rev-parse HEAD 2>/dev/null); then
        # No history here (.git not carried): commit this tree in a throwaway repository, so
        # that asv has a commit to save against, and say so (the hash is not the real HEAD's).
        git init -q && git add -A \
            && git -c user.name=gpu_check -c user.email=gpu_check@localhost commit -qm \
                "gpu_check: this machine's copy of the working tree" || { status=1; return; }
        head=$(git rev-parse HEAD)
        echo "WARNING: no git history here (carry .git): results are saved against a throwaway" \
            "commit ${head:0:8} of this tree, not against HEAD" | tee "$LOGS/asv.log" >&2
    fi
    echo "== asv at ${head:0:8} (limit ${GPU_ASV_LIMIT_S:-300} s)"
    "$PY" -m benchmarks.machine 2>&1 | tee -a "$LOGS/asv.log" || status=1
    # Exit status 2 from asv: some points failed (asv marks them); the rest is still reported.
    timeout "${GPU_ASV_LIMIT_S:-300}" "$PY" -m benchmarks gpu run --python=same \
        "--set-commit-hash=$head" 2>&1 | tee -a "$LOGS/asv.log" || status=1
    [ -d .asv/results ] && tar -czf "$LOGS/asv-results.tar.gz" .asv/results
    echo "== report"
    "$PY" -m reports --commit "$head" --summary gpu --out report 2>&1 | tee "$LOGS/report.log" \
        || status=1
    [ -d report ] && tar -czf "$LOGS/report.tar.gz" report
}

case "$STAGE" in
    tests) run_tests ;;
    gpu) run_gpu ;;
    all) run_tests; run_gpu ;;
esac
echo "== done: status $status; logs in $LOGS"
exit "$status"
