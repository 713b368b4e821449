"""What is specific to nn, custom-fn, compile and cudagraph (their oracle checks are in
tests/test_correctness.py, parametrised over every registered name), and `impls.validate`.

Problems here have the sizes of tests/test_correctness.py's, so that compile-cpu reuses the code
compiled there instead of compiling new shapes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import impls
from impls import validate
from impls.cuda import sync_forbidden
from impls.learning_rate import rate_in_force
from impls.oracle import loss_and_gradients, trajectory
from tests.conftest import impl_params, require

SMALL = impls.Problem(batch=24, d_in=40, hidden=16, d_out=5)
CUDA_NAMES = [n for n in impls.names() if impls.registry.entry(n).device == "cuda"]


def test_new_names_are_registered_with_compiles_flag():
    new = ["nn-cpu", "nn-cuda", "custom-fn-cpu", "custom-fn-cuda", "compile-cpu", "compile-cuda"]
    assert {*new, "cudagraph-cuda"} <= set(impls.names())
    compiling = {n for n in impls.names() if impls.registry.entry(n).compiles}
    assert compiling == {"compile-cpu", "compile-cuda"}


# --- nn ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_nn_model_is_two_bias_free_linears_holding_w1_and_w2_transposed(activation):
    require("nn-cpu")
    p = impls.Problem(batch=24, d_in=40, hidden=16, d_out=5, activation=activation)
    t = impls.create("nn-cpu", p)
    first, act, second = t.model
    assert isinstance(first, torch.nn.Linear)
    assert first.bias is None
    assert isinstance(second, torch.nn.Linear)
    assert second.bias is None
    assert isinstance(act, torch.nn.ReLU if activation == "relu" else torch.nn.Sigmoid)
    _, _, w1, w2 = p.initial_arrays()
    np.testing.assert_array_equal(first.weight.detach().numpy(), w1.T)
    np.testing.assert_array_equal(second.weight.detach().numpy(), w2.T)
    assert len(list(t.model.parameters())) == 2


@pytest.mark.parametrize("loss", ["squared", "exp"])
def test_nn_first_loss_is_the_problems_loss(loss):
    require("nn-cpu")
    p = impls.Problem(batch=24, d_in=40, hidden=16, d_out=5, dtype="float64", loss=loss)
    t = impls.create("nn-cpu", p)
    t.step()
    _, _, w1, w2 = p.initial_arrays()
    assert t.loss() == pytest.approx(loss_and_gradients(p, w1, w2)[0], rel=1e-12)


def test_nn_learning_rate_reaches_the_optimizer():
    require("nn-cpu")
    t = impls.create("nn-cpu", SMALL)
    t.learning_rate = 0.125
    assert [g["lr"] for g in t.optimizer.param_groups] == [0.125]


# --- custom-fn ---------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["MyReLU", "MySigmoid"])
def test_custom_functions_pass_gradcheck(function):
    from impls import custom_function

    fn = getattr(custom_function, function)
    h = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    h = (h + 0.05 * torch.sign(h)).requires_grad_(True)  # keep ReLU's kink away from the probes
    assert torch.autograd.gradcheck(fn.apply, (h,))


def test_custom_fn_step_goes_through_our_backward(monkeypatch):
    require("custom-fn-cpu")
    from impls import custom_function

    calls = []
    original = custom_function.MyReLU.backward

    def counting(ctx, grad):
        calls.append(grad.shape)
        return original(ctx, grad)

    monkeypatch.setattr(custom_function.MyReLU, "backward", staticmethod(counting))
    t = impls.create("custom-fn-cpu", SMALL)
    t.step()
    assert calls == [torch.Size([SMALL.batch, SMALL.hidden])]


# --- compile -----------------------------------------------------------------------------------


def test_compiled_code_is_shared_per_shape_dtype_cost_activation():
    from impls.compiled import compiled_train_step

    assert compiled_train_step(SMALL, "cpu") is compiled_train_step(SMALL, "cpu")
    for other in (
        impls.Problem(batch=25, d_in=40, hidden=16, d_out=5),
        impls.Problem(batch=24, d_in=40, hidden=16, d_out=5, dtype="float64"),
        impls.Problem(batch=24, d_in=40, hidden=16, d_out=5, loss="exp"),
    ):
        assert compiled_train_step(other, "cpu") is not compiled_train_step(SMALL, "cpu")
    # A different rate or seed is the same compiled code: the rate is a tensor input.
    same = impls.Problem(batch=24, d_in=40, hidden=16, d_out=5, lr=0.5, seed=3)
    assert compiled_train_step(same, "cpu") is compiled_train_step(SMALL, "cpu")


def test_compiled_step_does_not_recompile_for_a_new_trainer_or_rate():
    require("compile-cpu")
    from torch._dynamo.utils import counters

    impls.create("compile-cpu", SMALL).step()  # compiled here, or earlier in this process
    before = counters["stats"]["unique_graphs"]
    t = impls.create("compile-cpu", SMALL)
    t.learning_rate = 2 * t.learning_rate
    t.step()
    assert counters["stats"]["unique_graphs"] == before


def test_compiled_step_follows_a_changed_learning_rate():
    require("compile-cpu")
    t = impls.create("compile-cpu", SMALL)
    rate = 3 * rate_in_force(SMALL)
    t.learning_rate = rate
    for _ in range(3):
        t.step()
    _, w1, w2 = trajectory(impls.Problem(**SMALL.sizes(), lr=rate), 3)
    got1, got2 = t.weights()
    np.testing.assert_allclose(got1, w1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got2, w2, rtol=1e-4, atol=1e-6)


def test_compile_needs_a_cpp_compiler(monkeypatch):
    from impls.compiled import compiler_missing

    monkeypatch.setenv("CXX", "no-such-c++-compiler")
    compiler_missing.cache_clear()
    try:
        reason = impls.unavailable_reason("compile-cpu")
    finally:
        compiler_missing.cache_clear()
    assert reason is not None
    assert "C++ compiler" in reason
    assert "no-such-c++-compiler" in reason


# --- cudagraph ---------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["squared", "exp"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_cudagraph_recorded_step_matches_oracle_on_cpu(loss, activation):
    """The maths that the graph records, run eagerly on the CPU (the capture needs CUDA)."""
    from impls.cudagraph import train_step

    p = impls.Problem(
        batch=24, d_in=40, hidden=16, d_out=5, dtype="float64", loss=loss, activation=activation
    )
    x, y, w1, w2 = (torch.from_numpy(a) for a in p.initial_arrays())
    w1.requires_grad_(True)
    w2.requires_grad_(True)
    losses = [float(train_step(x, y, w1, w2, rate_in_force(p), loss, activation)) for _ in range(5)]
    want_losses, want_w1, want_w2 = trajectory(p, 5)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-10)
    np.testing.assert_allclose(w1.detach().numpy(), want_w1, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(w2.detach().numpy(), want_w2, rtol=1e-10, atol=1e-14)


def test_cudagraph_refuses_the_cpu():
    from impls.cudagraph import CudaGraphTrainer

    with pytest.raises(ValueError, match="expected 'cuda'"):
        CudaGraphTrainer(SMALL, "cpu")


@pytest.mark.cuda
def test_cudagraph_replays_set_weights_and_a_new_rate():
    require("cudagraph-cuda")
    p = impls.Problem(batch=24, d_in=40, hidden=16, d_out=5, dtype="float64")
    t = impls.create("cudagraph-cuda", p)
    _, _, w1, w2 = p.initial_arrays()
    t.step()
    t.set_weights(w1, w2)  # back to the start: the graph must read the static buffers
    rate = 2 * rate_in_force(p)
    t.learning_rate = rate  # captured again
    result_problem = impls.Problem(**p.sizes(), dtype="float64", lr=rate)
    losses = []
    for _ in range(4):
        t.step()
        losses.append(t.loss())
    want_losses, want_w1, want_w2 = trajectory(result_problem, 4)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-9)
    got1, got2 = t.weights()
    np.testing.assert_allclose(got1, want_w1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got2, want_w2, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", impl_params(CUDA_NAMES))
def test_cuda_step_never_syncs(name):
    """step() only queues work: CUDA's sync debug mode makes any synchronising call an error."""
    require(name)
    t = impls.create(name, SMALL)
    t.step()  # a first step may compile or initialise
    t.sync()
    with sync_forbidden():
        for _ in range(3):
            t.step()
    t.sync()
    assert t.is_finite()


def test_sync_forbidden_puts_the_mode_back_when_setting_it_warns(monkeypatch):
    """torch warns after it sets the mode; with warnings as errors (this suite's config) the
    block must still run and the mode must still be reset, also when the block raises."""
    modes = []

    def set_mode(mode):
        modes.append(mode)
        if mode == "error":
            warnings.warn(
                "Synchronization debug mode is a prototype feature", UserWarning, stacklevel=2
            )

    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", set_mode)
    with sync_forbidden():
        assert modes == ["error"]
    with pytest.raises(RuntimeError, match="a sync"), sync_forbidden():
        raise RuntimeError("a sync")
    assert modes == ["error", "default", "error", "default"]


# --- validate ----------------------------------------------------------------------------------


def test_validate_reports_a_wrong_implementation(monkeypatch):
    from impls import numpy_backprop

    monkeypatch.setattr(numpy_backprop, "activation_backward", lambda g, h, h_relu, a: g)
    results = validate.run_checks("numpy")
    assert len(results) == 2 * len(validate.COMBOS)
    assert not all(ok for ok, _ in results)
    assert any("WRONG" in line for ok, line in results if not ok)


def test_validate_counts_an_exception_as_a_failed_check(monkeypatch, capsys):
    def broken(name, problem, steps=1):
        raise RuntimeError("kernel exploded\nsecond line")

    monkeypatch.setattr(validate, "check", broken)
    monkeypatch.setattr(validate, "names_on", lambda device: ["numpy"])
    assert validate.main(["--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert (
        "numpy: ERROR after 1 step(s) (float32, squared, relu): RuntimeError: kernel exploded"
        in out
    )
    assert "second line" not in out
    assert "16 of 16 checks WRONG or failed" in out


def test_validate_passes_numpy_and_lists_what_it_skips(capsys, monkeypatch):
    monkeypatch.setattr(validate, "names_on", lambda device: ["numpy"])
    assert validate.main(["--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.count("numpy: ok") == 16
    assert "all 16 checks passed on device 'cpu'" in out


def test_validate_with_nothing_to_check_fails(capsys, monkeypatch):
    missing = [n for n in impls.names() if impls.unavailable_reason(n)]
    if not missing:
        pytest.skip("every implementation runs here")
    monkeypatch.setattr(validate, "names_on", lambda device: missing[:1])
    assert validate.main(["--device", "all"]) == 1
    out = capsys.readouterr().out
    assert f"{missing[0]}: skipped: {missing[0]} needs" in out
    assert "nothing was checked" in out
