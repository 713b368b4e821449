"""Statistics against hand-computed expectations (fixture values in tests/fixtures/README.md)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reports import gpu, stats, summary, sweeps
from reports.load import ResultsWarning, load_results

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_results(FIXTURES / "handmade")


@pytest.fixture(scope="module")
def pts(df) -> pd.DataFrame:
    return stats.points(stats.latest(df))


@pytest.fixture(scope="module")
def st(df) -> pd.DataFrame:
    return stats.steps(stats.latest(df))


def pick(frame: pd.DataFrame, **where) -> pd.Series:
    for col, v in where.items():
        frame = frame[frame[col] == v]
    assert len(frame) == 1, where
    return frame.iloc[0]


def test_points_interval_and_device(pts):
    row = pick(pts, machine="gpubox", impl="torch-cuda", batch=256)
    assert row["device"] == "cuda"
    assert row["spread"] == "ci99"
    assert row["time_lo"] == pytest.approx(0.9e-3)
    assert row["time_hi"] == pytest.approx(1.1e-3)
    assert not row["unstable"]  # IQR 4% of the median, under UNSTABLE_IQR
    assert pick(pts, machine="gpubox", impl="numpy", batch=1024)["flagged"]  # disturbed


def test_sweeps_from_columns(st):
    row = pick(st, machine="gpubox", impl="torch-cuda", batch=256)
    assert (row["axis"], row["x"], row["sweep"]) == ("batch", 256, "batch-float32-8t")
    assert row["sweep_title"] == "batch sweep — d_in 1000, hidden 100, float32, 8 threads"
    hidden = st[(st["machine"] == "labbox") & (st["axis"] == "hidden")]
    assert set(hidden["sweep"]) == {"hidden-float32-8t", "hidden-float64-8t"}  # dtype keys it
    # cpubox's tutorial point lies on its batch sweep and on its exercises; a d_in "sweep" of
    # the tutorial point alone is no sweep.
    tut = st[(st["machine"] == "cpubox") & (st["point"].astype(str).str.startswith("numpy/64x"))]
    assert sorted(tut["axis"]) == ["batch", "exercises", "exercises"]
    assert not (st["axis"] == "d_in").any()


def test_sweep_membership_rules():
    base = {"machine": "m", "commit": "c", "env": "e", "dtype": "float32", "threads": 1,
            "loss": "squared", "activation": "relu", "d_out": 10}  # fmt: skip
    sizes = [(64, 1000, 100), (128, 1000, 100), (64, 2000, 100), (128, 2000, 200), (64, 1000, 25)]
    rows = pd.DataFrame([{**base, "batch": b, "d_in": d, "hidden": h} for b, d, h in sizes])
    rows["threads"] = rows["threads"].astype("Int64")
    got = sweeps.assign(rows)
    on = {
        ax: sorted(zip(g["batch"], g["d_in"], g["hidden"], strict=True))
        for ax, g in got.groupby("axis")
    }
    assert on["batch"] == [(64, 1000, 100), (128, 1000, 100)]
    assert on["d_in"] == [(64, 1000, 100), (64, 2000, 100)]
    assert on["hidden"] == [(64, 1000, 25), (64, 1000, 100)]
    assert on["scale"] == [(64, 1000, 100), (128, 2000, 200)]
    assert "exercises" not in on  # no other cost or activation
    assert sweeps.title("scale", "float64", 2).endswith(", float64, 2 threads")


def test_speedup_by_hand(pts, df):
    sp = stats.speedup(pts, "numpy", stats.paired(df))
    row = pick(sp, machine="gpubox", impl="torch-cpu", batch=256)
    assert row["baseline_impl"] == "numpy"
    assert row["baseline_time_s"] == pytest.approx(4e-3)
    assert row["speedup"] == pytest.approx(2.0)
    assert not row["paired"]
    # worst cases of the +-10% intervals: 4*0.9 / (2*1.1) and 4*1.1 / (2*0.9)
    assert row["speedup_lo"] == pytest.approx(2 * 0.9 / 1.1)
    assert row["speedup_hi"] == pytest.approx(2 * 1.1 / 0.9)
    cuda = pick(sp, machine="gpubox", impl="torch-cuda", batch=64)
    assert cuda["speedup"] == pytest.approx(0.5)  # 1 ms / 2 ms
    skipped = sp[(sp["machine"] == "cpubox") & (sp["impl"] == "torch-cuda")]
    assert skipped["speedup"].isna().all()
    assert set(skipped["note"]) == {"skipped"}


def test_paired_speedup_is_used_where_measured(pts, df):
    sp = stats.speedup(pts, "numpy", stats.paired(df))
    row = pick(sp, machine="gpubox", impl="torch-cpu", batch=1024)
    # The medians give 16 / 8 = 2; the paired ratio 0.45 gives 1 / 0.45.
    assert row["paired"]
    assert row["speedup"] == pytest.approx(1 / 0.45)
    assert row["speedup_lo"] == pytest.approx(1 / (0.45 * 1.1))
    assert row["speedup_hi"] == pytest.approx(1 / (0.45 * 0.9))
    # Its own measurement is clean, though numpy's median at 1024 is disturbed.
    assert not row["speedup_flagged"]
    unpaired = stats.speedup(pts, "numpy")
    medians = pick(unpaired, machine="gpubox", impl="torch-cpu", batch=1024)
    assert (medians["paired"], medians["speedup"]) == (False, pytest.approx(2.0))
    assert medians["speedup_flagged"]  # it rests on the disturbed numpy time
    # Against another baseline the paired ratio (always against numpy) is never used.
    other = stats.speedup(pts, "torch-cpu", stats.paired(df))
    assert not other["paired"].any()


def test_speedup_never_mixes_threads_or_dtypes(pts):
    sp = stats.speedup(pts)
    # labbox hidden sweep: numpy only in float64, torch-cuda only in float32.
    cuda = pick(sp, machine="labbox", impl="torch-cuda", hidden=400, dtype="float32")
    assert math.isnan(cuda["speedup"])
    assert cuda["note"] == "no numpy point at float32, 8 threads"
    one = pts[(pts["machine"] == "gpubox") & (pts["impl"] == "torch-cpu")].copy()
    one["threads"] = pd.array([1] * len(one), dtype="Int64")
    mixed = stats.speedup(pd.concat([pts[pts["impl"] == "numpy"], one], ignore_index=True))
    assert mixed.loc[mixed["impl"] == "torch-cpu", "speedup"].isna().all()


def test_bad_values_are_never_a_speedup():
    with pytest.warns(ResultsWarning):
        broken = load_results(FIXTURES / "broken")
    sp = stats.speedup(stats.points(stats.latest(broken, "badbox")))
    bad = sp[sp["status"] == "bad"]
    assert len(bad) == 3
    assert bad["speedup"].isna().all()
    assert set(bad["note"]) == {"bad"}
    # torch-cpu at 256 is fine but its numpy time is zero: no speedup either.
    assert math.isnan(pick(sp, impl="torch-cpu", batch=256)["speedup"])
    assert pick(sp, impl="torch-cpu", batch=1024)["note"] == "no numpy point at float32, 2 threads"


def test_peak_and_percent_of_peak(df, pts):
    peaks = stats.ceilings(df)
    gpu = peaks[peaks["machine"] == "gpubox"].set_index("device")
    assert gpu.loc["cpu", "peak_gflops"] == pytest.approx(125.0)  # the 2048 shape wins
    assert gpu.loc["cpu", "threads"] == 8
    assert gpu.loc["cuda", "peak_gflops"] == pytest.approx(4e4)
    assert gpu.loc["cuda", "peak_shape"] == "2048x1024x1024"
    th = stats.throughput(pts, peaks)
    row = pick(th, machine="gpubox", impl="torch-cuda", batch=1024)
    # 4BDH + 6BHO + relu 2BH + squared 4BO + update 2(DH + HO), B=1024 D=1000 H=100 O=10
    flops = 409_600_000 + 6_144_000 + 204_800 + 40_960 + 202_000
    assert row["flops"] == flops
    assert row["gflops"] == pytest.approx(flops / 0.5e-3 / 1e9)
    assert row["pct_peak"] == pytest.approx(100 * flops / 0.5e-3 / 1e9 / 4e4)
    cpu = pick(th, machine="gpubox", impl="torch-cpu", batch=1024)
    assert cpu["peak_gflops"] == pytest.approx(125.0)  # the CPU peak at the same 8 threads
    assert math.isnan(
        pick(th, machine="cpubox", impl="numpy", batch=64, loss="squared")["pct_peak"]
    )


def test_cpu_peak_is_per_thread_count(df, pts):
    other = df[df["measure"] == "gemm"].copy()
    other["threads"] = pd.array([1 if d == "cpu" else pd.NA for d in other["device"]], "Int64")
    peaks = stats.ceilings(other)
    th = stats.throughput(pts, peaks)
    assert math.isnan(pick(th, machine="gpubox", impl="torch-cpu", batch=1024)["pct_peak"])


def test_gpu_gain_fair(pts):
    gain = gpu.gpu_gain(pts)
    g = gain[gain["machine"] == "gpubox"].sort_values("batch")
    assert g["cpu_impl"].tolist() == ["torch-cpu"] * 3
    assert g["gain"].tolist() == pytest.approx([0.4, 2.0, 16.0])
    assert set(g["cpu_threads"]) == {8}
    assert set(g["cpu_dtype"]) == {"float32"}
    assert set(g["fairness"]) == {"fair"}


def test_gpu_gain_labels_unequal_threads_and_dtypes(pts):
    gain = gpu.gpu_gain(pts)
    lab = gain[gain["machine"] == "labbox"]
    batch = lab[lab["hidden"] == 100]
    assert set(batch["fairness"]) == {"CPU on 1 of 8 cores"}
    hidden = lab[lab["hidden"] != 100].sort_values("hidden")
    assert set(hidden["fairness"]) == {"cross-dtype: CPU float64 vs GPU float32"}
    assert hidden["gain"].tolist() == pytest.approx([0.5, 8.0])


def test_gpu_gain_prefers_all_threads_then_fastest_impl():
    base = {"machine": "m", "commit": "c", "env": "e", "loss": "squared", "activation": "relu",
            "batch": 64, "d_in": 1000, "hidden": 100, "d_out": 10, "status": "ok",
            "fact_physical_cores": 4, "time_lo": math.nan, "time_hi": math.nan}  # fmt: skip
    rows = [
        ("torch-cuda", "cuda", 4, "float32", 1.0),
        ("numpy", "cpu", 1, "float32", 0.5),  # fastest, but on one thread: not chosen
        ("numpy", "cpu", 4, "float32", 4.0),
        ("torch-cpu", "cpu", 4, "float32", 3.0),  # fastest at all four threads
        ("torch-cpu", "cpu", 4, "float64", 2.0),  # other dtype: not chosen
    ]
    frame = pd.DataFrame(
        [
            {**base, "impl": i, "device": d, "threads": t, "dtype": dt, "time_s": v}
            for i, d, t, dt, v in rows
        ]
    )
    frame["threads"] = frame["threads"].astype("Int64")
    (row,) = gpu.gpu_gain(frame).itertuples()
    assert (row.cpu_impl, row.cpu_threads, row.cpu_dtype, row.gain) == (
        "torch-cpu",
        4,
        "float32",
        3.0,
    )
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
    got = gpu.crossover_point(xs, gains)
    assert got == pytest.approx(expected, nan_ok=True)


def test_crossovers_per_sweep_and_machine(pts):
    cross = gpu.crossovers(gpu.gpu_gain(pts)).set_index(["machine", "sweep"])
    fair = cross.loc[("gpubox", "batch-float32-8t")]
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
    assert cross.loc[("labbox", "batch-float32-1t"), "fairness"] == "CPU on 1 of 8 cores"
    assert cross.loc[("labbox", "hidden-float32-8t"), "cpu_dtype"] == "float64"


def test_changes_between_commits(df):
    ch = stats.changes(stats.points(df))
    cpu = ch[ch["machine"] == "cpubox"]
    assert len(cpu) == 8  # numpy and torch-cpu at three sizes and one exercise, commit a -> b
    faster = cpu[cpu["change"] == "faster"]
    assert len(faster) == 1
    (row,) = faster.itertuples()
    assert (row.impl, row.batch, row.ratio) == ("torch-cpu", 1024, pytest.approx(0.5))
    assert (row.commit_old, row.commit_new) == ("a" * 40, "b" * 40)
    assert not row.flagged
    only = stats.changes(stats.points(df), only_changed=True)
    assert only["point"].tolist() == ["torch-cpu/1024x1000x100x10/float32/squared-relu/2t"]


def test_latest_and_selection(df):
    assert set(stats.latest(df)["commit"]) == {"b" * 40, "c" * 40}
    assert set(stats.latest(df, "cpubox", "aaaa")["commit"]) == {"a" * 40}
    with pytest.raises(ValueError, match="machine 'nope' is not in the results"):
        stats.latest(df, "nope")
    with pytest.raises(ValueError, match="commit '1234' is not in the results"):
        stats.latest(df, None, "1234")
    with pytest.raises(ValueError, match="commit prefix is empty"):
        stats.latest(df, None, "")


def two_envs(tmp_path: Path, fewer: bool) -> Path:
    """handmade/ with gpubox's commit also run in a second environment (with one point less
    when ``fewer``)."""
    root = tmp_path / "r"
    shutil.copytree(FIXTURES / "handmade", root)
    src = next((root / "gpubox").glob("c*.json"))
    data = json.loads(src.read_text())
    data["env_name"] = "existing-py_other_python"
    if fewer:
        data["results"]["bench_step.Step.track_time"][0][0] = float("nan")
    (root / "gpubox" / f"{'c' * 8}-existing-py_other_python.json").write_text(json.dumps(data))
    return root


def test_one_env_per_commit(tmp_path):
    df = load_results(two_envs(tmp_path, fewer=True))
    chosen, notes = stats.choose_env(stats.latest(df))
    gpubox = chosen[chosen["machine"] == "gpubox"]
    assert set(gpubox["env"]) == {"existing-py_usr_bin_python3"}  # the one with more ok points
    assert notes == ["gpubox commit cccccccc: env existing-py_other_python (21 ok points) left out"]
    key = ["machine", "commit", "env", "point"]
    sp = stats.speedup(stats.points(chosen))
    assert not sp.duplicated(key).any()
    other, none = stats.choose_env(df, "existing-py_other_python")
    assert set(other["env"]) == {"existing-py_other_python"}
    assert none == []
    with pytest.raises(ValueError, match="env 'nope' is not in the results"):
        stats.choose_env(df, "nope")


def test_env_tie_goes_to_the_newest_run(tmp_path):
    root = two_envs(tmp_path, fewer=False)
    path = root / "gpubox" / f"{'c' * 8}-existing-py_other_python.json"
    data = json.loads(path.read_text())
    for row in data["results"].values():
        row[3] += 1000  # started_at: this run is the newer one
    path.write_text(json.dumps(data))
    chosen, _ = stats.choose_env(load_results(root))
    assert set(chosen.loc[chosen["machine"] == "gpubox", "env"]) == {"existing-py_other_python"}


def test_impl_device_of_unknown_names():
    assert stats.impl_device("torch-cuda") == "cuda"
    assert stats.impl_device("numpy") == "cpu"
    assert stats.impl_device("jax-cuda") == "cuda"  # from another commit: by suffix
    assert stats.impl_device("jax-cpu") == "cpu"


def test_unstable_flag_from_the_interquartile_range(df):
    wide = df.copy()
    mask = (wide["machine"] == "gpubox") & (wide["impl"] == "numpy") & (wide["batch"] == 64)
    wide.loc[mask, "q_75"] = wide.loc[mask, "value"] * 1.15  # IQR 0.98..1.15: 17% of the median
    pts = stats.points(stats.latest(wide))
    assert pick(pts, machine="gpubox", impl="numpy", batch=64)["unstable"]
    assert not pick(pts, machine="gpubox", impl="numpy", batch=256)["unstable"]


def test_gpu_gain_text_for_the_gpu_session(df):
    text = summary.gpu_gain_text(stats.latest(df, "labbox"))
    assert text.splitlines() == [
        "labbox (commit cccccccc): GPU gain over the best CPU implementation",
        (
            "  batch sweep — d_in 1000, hidden 100, float32, 1 thread: torch-cuda wins from 256 "
            "(about 102 interpolated); 32.00x at 1024 over numpy (best CPU impl at 1 thread, "
            "float32; UNEQUAL: CPU on 1 of 8 cores)"
        ),
        (
            "  hidden sweep — batch 64, d_in 1000, float32, 8 threads: torch-cuda wins from 400 "
            "(about 238 interpolated); 8.00x at 400 over numpy (best CPU impl at 8 threads, "
            "float64; UNEQUAL: cross-dtype: CPU float64 vs GPU float32)"
        ),
    ]
    assert summary.gpu_gain_text(stats.latest(df, "cpubox")) == ""


def test_measurements_side_by_side(df):
    m = stats.measurements(stats.latest(df, "gpubox"))
    row = pick(m, impl="torch-cuda", batch=64)
    assert row["time_s"] == pytest.approx(2e-3)
    assert row["device_time_s"] == pytest.approx(1.5e-3)
    assert row["gpu_peak_bytes"] == 3 * 2**20
    assert row["first_step_s"] == pytest.approx(1.5)
    numpy = pick(m, impl="numpy", batch=64)
    assert numpy["peak_rss_bytes"] == 50 * 2**20
    assert math.isnan(numpy["device_time_s"])
    assert pick(m, impl="torch-cpu", batch=1024)["relative_time"] == pytest.approx(0.45)
