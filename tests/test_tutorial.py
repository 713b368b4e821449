"""With init="seed" and float64, the `numpy` implementation is the tutorial's loop, step for step."""

from __future__ import annotations

import numpy as np

import impls


def tutorial_loop(steps: int, seed: int):
    """The tutorial's numpy program, verbatim but for the print and the loop length."""
    np.random.seed(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x = np.random.randn(N, D_in)
    y = np.random.randn(N, D_out)
    w1 = np.random.randn(D_in, H)
    w2 = np.random.randn(H, D_out)
    learning_rate = 1e-6
    losses = []
    for _ in range(steps):
        h = x.dot(w1)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)
        loss = np.square(y_pred - y).sum()
        losses.append(loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h < 0] = 0
        grad_w1 = x.T.dot(grad_h)
        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return losses, w1, w2


def test_numpy_reproduces_the_tutorial_step_for_step():
    steps = 30
    want_losses, want_w1, want_w2 = tutorial_loop(steps, seed=0)
    t = impls.create("numpy", impls.Problem(init="seed", dtype="float64", seed=0))
    for i in range(steps):
        t.step()
        assert t.loss() == np.float64(want_losses[i]) or np.isclose(
            t.loss(), want_losses[i], rtol=1e-12
        ), i
    w1, w2 = t.weights()
    np.testing.assert_allclose(w1, want_w1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w2, want_w2, rtol=1e-10, atol=1e-12)
    assert want_losses[-1] < want_losses[0]
