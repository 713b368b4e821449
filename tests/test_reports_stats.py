"""Statistics against hand-computed expectations (fixture values in tests/fixtures/README.md)."""

from __future__ import annotations

import ast
import itertools
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from reports import stats, summary
from reports.load import load_results

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_results(FIXTURES / "handmade")


@pytest.fixture(scope="module")
def st(df) -> pd.DataFrame:
    return stats.steps(stats.latest(df))


def pick(frame: pd.DataFrame, **where) -> pd.Series:
    for col, v in where.items():
        frame = frame[frame[col] == v]
    assert len(frame) == 1, where
    return frame.iloc[0]


def test_steps_fill_defaults_and_axis(st):
    row = pick(st, machine="gpubox", impl="torch-cuda", batch=256)
    assert (row["grid"], row["axis"], row["x"], row["device"]) == ("Quick", "Batch", 256, "cuda")
    assert (row["d_in"], row["hidden"], row["d_out"], row["loss"]) == (1000, 100, 10, "squared")
    assert row["spread"] == "ci99"
    assert row["time_lo"] == pytest.approx(0.9e-3)
    assert row["time_hi"] == pytest.approx(1.1e-3)
    assert not row["unstable"]  # IQR 4% of the median, under UNSTABLE_IQR


def test_speedup_by_hand(st):
    sp = stats.speedup(st)
    row = pick(sp, machine="gpubox", impl="torch-cpu", batch=1024)
    assert row["baseline_impl"] == "numpy"
    assert row["baseline_time_s"] == pytest.approx(16e-3)
    assert row["time_s"] == pytest.approx(8e-3)
    assert row["speedup"] == pytest.approx(2.0)
    # worst cases of the +-10% intervals: 16*0.9 / (8*1.1) and 16*1.1 / (8*0.9)
    assert row["speedup_lo"] == pytest.approx(2 * 0.9 / 1.1)
    assert row["speedup_hi"] == pytest.approx(2 * 1.1 / 0.9)
    cuda = pick(sp, machine="gpubox", impl="torch-cuda", batch=64)
    assert cuda["speedup"] == pytest.approx(0.5)  # 1 ms / 2 ms
    skipped = sp[(sp["machine"] == "cpubox") & (sp["impl"] == "torch-cuda")]
    assert skipped["speedup"].isna().all()
    assert set(skipped["note"]) == {"skipped"}


def test_speedup_never_mixes_threads_or_dtypes(st):
    sp = stats.speedup(st)
    # labbox QuickHidden: numpy only in float64, torch-cuda only in float32.
    cuda = pick(
        sp, machine="labbox", suite="QuickHidden", impl="torch-cuda", hidden=400, dtype="float32"
    )
    assert math.isnan(cuda["speedup"])
    assert cuda["note"] == "no numpy point at float32, 8 threads"
    # numpy at 1 thread exists for the same sizes in QuickBatch; it must not be used either.
    one = st[(st["machine"] == "gpubox") & (st["impl"] == "torch-cpu")].copy()
    one["threads"] = pd.array([1] * len(one), dtype="Int64")
    mixed = stats.speedup(pd.concat([st[st["impl"] == "numpy"], one], ignore_index=True))
    assert mixed.loc[mixed["impl"] == "torch-cpu", "speedup"].isna().all()


def test_peak_and_percent_of_peak(df, st):
    peaks = stats.ceilings(df)
    gpu = peaks[peaks["machine"] == "gpubox"].set_index("device")
    assert gpu.loc["cpu", "peak_gflops"] == pytest.approx(125.0)  # the 2048 shape wins
    assert gpu.loc["cuda", "peak_gflops"] == pytest.approx(4e4)
    assert gpu.loc["cuda", "peak_shape"] == "2048x1024x1024"
    th = stats.throughput(st, peaks)
    row = pick(th, machine="gpubox", impl="torch-cuda", batch=1024)
    # 4BDH + 6BHO + relu 2BH + squared 4BO + update 2(DH + HO), B=1024 D=1000 H=100 O=10
    flops = 409_600_000 + 6_144_000 + 204_800 + 40_960 + 202_000
    assert row["flops"] == flops
    assert row["gflops"] == pytest.approx(flops / 0.5e-3 / 1e9)
    assert row["pct_peak"] == pytest.approx(100 * flops / 0.5e-3 / 1e9 / 4e4)
    assert math.isnan(pick(th, machine="cpubox", impl="numpy", batch=64)["pct_peak"])


def test_gpu_gain_fair(st):
    gain = stats.gpu_gain(st)
    g = gain[gain["machine"] == "gpubox"].sort_values("batch")
    assert g["cpu_impl"].tolist() == ["torch-cpu"] * 3
    assert g["gain"].tolist() == pytest.approx([0.4, 2.0, 16.0])
    assert set(g["cpu_threads"]) == {8}
    assert set(g["cpu_dtype"]) == {"float32"}
    assert set(g["fairness"]) == {"fair"}


def test_gpu_gain_labels_unequal_threads_and_dtypes(st):
    gain = stats.gpu_gain(st)
    lab = gain[gain["machine"] == "labbox"]
    batch = lab[lab["suite"] == "QuickBatch"]
    assert set(batch["fairness"]) == {"CPU on 1 of 8 cores"}
    hidden = lab[lab["suite"] == "QuickHidden"].sort_values("hidden")
    assert set(hidden["fairness"]) == {"cross-dtype: CPU float64 vs GPU float32"}
    assert hidden["gain"].tolist() == pytest.approx([0.5, 8.0])


def test_gpu_gain_prefers_all_threads_then_fastest_impl():
    base = {"machine": "m", "commit": "c", "env": "e", "loss": "squared", "activation": "relu",
            "batch": 64, "d_in": 1000, "hidden": 100, "d_out": 10, "status": "ok",
            "fact_physical_cores": 4, "time_lo": math.nan, "time_hi": math.nan}  # fmt: skip
    batch, hidden = "bench_step.QuickBatch.time_step", "bench_step.QuickHidden.time_step"
    rows = [
        ("torch-cuda", "cuda", 4, "float32", 1.0, batch),
        ("numpy", "cpu", 1, "float32", 0.5, batch),  # fastest, but on one thread: not chosen
        ("numpy", "cpu", 4, "float32", 4.0, batch),
        ("torch-cpu", "cpu", 4, "float32", 3.0, batch),  # fastest at all four threads
        ("torch-cpu", "cpu", 4, "float64", 2.0, batch),  # other dtype: not chosen
        ("torch-cpu", "cpu", 4, "float32", 2.5, hidden),  # same size, other sweep: not chosen
    ]
    st = pd.DataFrame(
        [
            {**base, "impl": i, "device": d, "threads": t, "dtype": dt, "time_s": v, "benchmark": b}
            for i, d, t, dt, v, b in rows
        ]
    )
    st["threads"] = st["threads"].astype("Int64")
    (row,) = stats.gpu_gain(st).itertuples()
    assert (row.cpu_impl, row.cpu_threads, row.cpu_dtype, row.gain) == (
        "torch-cpu",
        4,
        "float32",
        3.0,
    )
    assert row.cpu_benchmark == batch
    assert row.fairness == "fair"


@pytest.mark.parametrize(
    ("xs", "gains", "expected"),
    [
        ([64, 256, 1024], [0.4, 2.0, 16.0], (256, 64 * 4 ** (math.log(2.5) / math.log(5)))),
        ([64, 256, 1024], [2.0, 3.0, 4.0], (64, 64)),  # wins everywhere
        ([64, 256, 1024], [0.1, 0.5, 0.9], (math.nan, math.nan)),  # never
        ([64, 256, 1024], [0.5, 2.0, 0.8], (math.nan, math.nan)),  # loses at the largest
        ([1024, 64, 256], [4.0, 0.5, 0.5], (1024, 256 * 4 ** (math.log(2) / math.log(8)))),
    ],
)
def test_crossover_point(xs, gains, expected):
    got = stats.crossover_point(xs, gains)
    assert got == pytest.approx(expected, nan_ok=True)


def test_crossovers_per_axis_and_machine(st):
    cross = stats.crossovers(stats.gpu_gain(st)).set_index(["machine", "axis"])
    fair = cross.loc[("gpubox", "Batch")]
    assert fair["crossover"] == 256
    assert fair["largest"] == 1024
    # log-log interpolation between (64, 0.4) and (256, 2): 64 * 4**(ln 2.5 / ln 5) = 140.9
    assert fair["crossover_est"] == pytest.approx(140.9, abs=0.05)
    assert fair["gain_at_largest"] == pytest.approx(16.0)
    assert (fair["cpu_impl_at_largest"], fair["cpu_threads"], fair["fairness"]) == (
        "torch-cpu",
        "8",
        "fair",
    )
    assert cross.loc[("labbox", "Batch"), "fairness"] == "CPU on 1 of 8 cores"
    assert cross.loc[("labbox", "Hidden"), "cpu_dtype"] == "float64"


def test_changes_between_commits(df):
    ch = stats.changes(stats.steps(df))
    cpu = ch[ch["machine"] == "cpubox"]
    assert len(cpu) == 6  # numpy and torch-cpu at three sizes, commit a -> b
    faster = cpu[cpu["change"] == "faster"]
    assert len(faster) == 1
    (row,) = faster.itertuples()
    assert (row.impl, row.batch, row.ratio) == ("torch-cpu", 1024, pytest.approx(0.5))
    assert (row.commit_old, row.commit_new) == ("a" * 40, "b" * 40)


def test_latest_and_selection(df):
    assert set(stats.latest(df)["commit"]) == {"b" * 40, "c" * 40}
    assert set(stats.latest(df, "cpubox", "aaaa")["commit"]) == {"a" * 40}
    with pytest.raises(ValueError, match="machine 'nope' is not in the results"):
        stats.latest(df, "nope")
    with pytest.raises(ValueError, match="commit '1234' is not in the results"):
        stats.latest(df, None, "1234")


def test_impl_device_of_unknown_names():
    assert stats.impl_device("torch-cuda") == "cuda"
    assert stats.impl_device("numpy") == "cpu"
    assert stats.impl_device("jax-cuda") == "cuda"  # from another commit: by suffix
    assert stats.impl_device("jax-cpu") == "cpu"


def test_unstable_flag_from_the_interquartile_range(df):
    wide = df.copy()
    mask = (wide["machine"] == "gpubox") & (wide["impl"] == "numpy") & (wide["batch"] == 64)
    wide.loc[mask, "q_75"] = wide.loc[mask, "value"] * 1.15  # IQR 0.98..1.15: 17% of the median
    st = stats.steps(stats.latest(wide))
    assert pick(st, machine="gpubox", impl="numpy", batch=64)["unstable"]
    assert not pick(st, machine="gpubox", impl="numpy", batch=256)["unstable"]


def test_gpu_gain_text_for_the_gpu_session(df):
    text = summary.gpu_gain_text(stats.latest(df, "labbox"))
    assert text.splitlines() == [
        "labbox (commit cccccccc): GPU gain over the best CPU implementation",
        (
            "  QuickBatch (batch size), torch-cuda float32: wins from 256 (about 102 interpolated); "
            "32.00x at 1024 over numpy (best CPU impl at 1 thread, float32; "
            "UNEQUAL: CPU on 1 of 8 cores)"
        ),
        (
            "  QuickHidden (hidden size), torch-cuda float32: wins from 400 (about 238 interpolated);"
            " 8.00x at 400 over numpy (best CPU impl at 8 threads, float64; "
            "UNEQUAL: cross-dtype: CPU float64 vs GPU float32)"
        ),
    ]
    assert summary.gpu_gain_text(stats.latest(df, "cpubox")) == ""


def test_measurements_side_by_side(df):
    m = stats.measurements(stats.latest(df, "gpubox"))
    row = pick(m, impl="torch-cuda", batch=1024)
    assert row["time_s"] == pytest.approx(0.5e-3)
    assert math.isnan(row["device_time_s"])  # not measured in this fixture


def test_real_run_peak_and_scale_diagonal():
    """On the suite's own results: the peak recomputed from the raw JSON, the scale sweep's x."""
    real = FIXTURES / "real"
    df = load_results(real)
    (path,) = [p for p in real.glob("*/*.json") if p.name != "machine.json"]
    raw = json.loads(path.read_text())
    result, params = raw["results"]["bench_ceiling.Gemm.time_matmul"][:2]
    shapes = itertools.product(*([ast.literal_eval(v) for v in p] for p in params))
    expected = {}
    for (device, dtype, m, k, n), t in zip(shapes, result, strict=True):
        if t is not None and not math.isnan(t):
            gflops = 2 * m * k * n / t / 1e9
            expected[device, dtype] = max(expected.get((device, dtype), 0.0), gflops)
    peaks = stats.ceilings(df)
    got = {(r.device, r.dtype): r.peak_gflops for r in peaks.itertuples()}
    assert got == pytest.approx(expected)
    st = stats.steps(df)
    scale = st[(st["axis"] == "Scale") & (st["status"] == "ok")]
    assert not scale.empty
    assert (scale["x"] == scale["batch"]).all()
    assert (scale["batch"] * 1000 == scale["d_in"] * 64).all()  # only the diagonal ran
