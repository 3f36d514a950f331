#!/usr/bin/python3
"""bench/numpy_twin.py: numpy twins of two ntklab benchmarks (issue 17), float64, the same
formulas and sizes, timed the same way (Debian's python3-numpy; run /usr/bin/python3).

  /usr/bin/python3 bench/numpy_twin.py ntk [P] [calls]   # structured NTK of the 784-100-1 ReLU
                                                       # net, X X^T recomputed every call
  /usr/bin/python3 bench/numpy_twin.py fixed             # bench/demo.lua fixed: 2000 GD steps and
                                                       # the train NTK + alignment every 20 steps

The net is ntklab.mlp's standard parameterization without biases: f(x) = W2 relu(W1 x),
W1 ~ N(0, sigma^2 / D), W2 ~ N(0, sigma^2 / N); loss 1/(2P) sum (f - y)^2; its NTK is
(X X^T) o (G G^T) + A A^T with A = relu(X W1^T), G = relu'(X W1^T) diag(W2) (as
core/kernel/ntk_kernel.c forms it). Thread count: OPENBLAS_NUM_THREADS, as for ntklab.
"""
import sys
import time

import numpy as np


def ntk(X, W1, W2):
    H = X @ W1.T
    A = np.maximum(H, 0.0)
    G = (H > 0.0) * W2[0]
    return (X @ X.T) * (G @ G.T) + A @ A.T


def alignment(K, y):
    return float(y @ K @ y) / (np.linalg.norm(K) * float(y @ y))


def bench_ntk(P, calls):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((P, 784))
    W1 = rng.standard_normal((100, 784)) / np.sqrt(784)
    W2 = rng.standard_normal((1, 100)) / np.sqrt(100)
    best = float("inf")
    for _ in range(calls):
        t = time.perf_counter()
        K = ntk(X, W1, W2)
        best = min(best, time.perf_counter() - t)
        del K
    print("numpy structured NTK, P = %d, new result each call: best of %d %.2f ms" % (P, calls, best * 1e3))


def bench_fixed():
    P, D, N, sigma, lr, steps, every = 1000, 784, 100, 0.1, 0.01, 2000, 20
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((P, D))
    Zc = Z - Z.mean(0)
    U, s, Vt = np.linalg.svd(Zc, full_matrices=False)
    X = Zc @ Vt.T @ np.diag(np.sqrt(P - 1) / s) @ Vt  # ZCA
    beta = rng.standard_normal(D)
    y = np.where(X @ beta >= 0, 1.0, -1.0)
    W1 = rng.standard_normal((N, D)) * sigma / np.sqrt(D)
    W2 = rng.standard_normal((1, N)) * sigma / np.sqrt(N)
    t0 = time.perf_counter()
    t_kernel = 0.0
    aligns = []
    for step in range(steps + 1):
        if step % every == 0:
            tk = time.perf_counter()
            aligns.append(alignment(ntk(X, W1, W2), y))
            t_kernel += time.perf_counter() - tk
        if step == steps:
            break
        H = X @ W1.T
        A = np.maximum(H, 0.0)
        r = (A @ W2.T)[:, 0] - y  # residual
        dW2 = (r @ A)[None, :] / P
        dH = np.outer(r, W2[0]) * (H > 0.0)
        dW1 = dH.T @ X / P
        W1 -= lr * dW1
        W2 -= lr * dW2
    wall = time.perf_counter() - t0
    loss = 0.5 * np.mean((np.maximum(X @ W1.T, 0.0) @ W2.T - y[:, None]) ** 2)
    print("numpy fixed workload: %d GD steps + %d NTKs with alignment: %.2f s wall (training %.2f s, "
          "NTK and metrics %.2f s); final loss %.4g, alignment %.4f -> %.4f"
          % (steps, len(aligns), wall, wall - t_kernel, t_kernel, loss, aligns[0], aligns[-1]))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "fixed"
    if what == "ntk":
        bench_ntk(int(sys.argv[2]) if len(sys.argv) > 2 else 4000, int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    else:
        bench_fixed()
