"""The cost model: floating-point operations and minimum bytes of one training step.

Pure functions of a `Problem`; reports divide them by measured times to get GFLOP/s and % of the
machine's measured peak. Notation: B = batch, D = d_in, H = hidden, O = d_out.

Matrix products (a product of an m x k by a k x n matrix is 2mkn operations, a multiply and an add
per term):
    forward   h = x @ w1                     2 B D H
              y_pred = h_relu @ w2           2 B H O
    backward  grad_w2 = h_relu.T @ grad_y    2 H B O
              grad_h_relu = grad_y @ w2.T    2 B O H
              grad_w1 = x.T @ grad_h         2 D B H
    total                                    4 B D H + 6 B H O
(No gradient with respect to x is needed, so the usual "6 x parameters x batch" rule would
overcount by 2 B D H.)

Elementwise work, one operation per arithmetic op per element (exp, tanh, sign, abs count 1):
    activation forward   relu: max(h, 0)                       1 B H
                         sigmoid: 0.5 * tanh(0.5 h) + 0.5      4 B H
    cost forward         squared: subtract, square, sum        3 B O
                         exp: subtract, abs, row-sum, exp, sum 3 B O + 2 B
    cost gradient        squared: 2 * diff                     1 B O
                         exp: sign, multiply by exp            2 B O
    activation backward  relu: mask                            1 B H
                         sigmoid: g * s * (1 - s)              3 B H
    update               w -= lr * grad, both weights          2 (D H + H O)

Bytes: the least any implementation must move through memory, each input read once and each
output written once: x (B D) and y (B O) read, w1 (D H) and w2 (H O) read and written, times the
dtype's size. Intermediates (h, h_relu, y_pred, the gradients) are not counted, since a fused
implementation could keep them on chip; real implementations move more.
"""

from __future__ import annotations

from impls.problem import Problem

_ACTIVATION_FORWARD = {"relu": 1, "sigmoid": 4}
_ACTIVATION_BACKWARD = {"relu": 1, "sigmoid": 3}


def matmul_flops(p: Problem) -> int:
    """Operations in the five matrix products of one step: 4 B D H + 6 B H O."""
    return 4 * p.batch * p.d_in * p.hidden + 6 * p.batch * p.hidden * p.d_out


def elementwise_flops(p: Problem) -> int:
    """Operations outside the matrix products: activation, cost, their gradients, update."""
    b, d, h, o = p.batch, p.d_in, p.hidden, p.d_out
    activation = (_ACTIVATION_FORWARD[p.activation] + _ACTIVATION_BACKWARD[p.activation]) * b * h
    cost = 3 * b * o + 1 * b * o if p.loss == "squared" else 3 * b * o + 2 * b + 2 * b * o
    update = 2 * (d * h + h * o)
    return activation + cost + update


def step_flops(p: Problem) -> int:
    """All floating-point operations of one training step."""
    return matmul_flops(p) + elementwise_flops(p)


def step_bytes(p: Problem) -> int:
    """Minimum bytes one step moves: x and y read, w1 and w2 read and written."""
    itemsize = p.np_dtype.itemsize
    return itemsize * (
        p.batch * p.d_in + p.batch * p.d_out + 2 * (p.d_in * p.hidden + p.hidden * p.d_out)
    )


def arithmetic_intensity(p: Problem) -> float:
    """Operations per byte at the minimum traffic: above the machine's balance, compute-bound."""
    return step_flops(p) / step_bytes(p)
