"""LP's C path with lpft doing the arithmetic: scikit-learn's L2 logistic regression, solved by
the very driver scikit-learn uses, with the loss and gradient (the whole cost: two products with
the feature matrix per evaluation) computed in row blocks on all the trial's threads (CPU) or on
its GPU (torch).

The objective is scikit-learn's (1.x, `lbfgs`): the mean log loss over the training examples plus
||W||^2 / (2 C n), the intercept unpenalised; multinomial (one row per class) for three classes
or more, binomial (one row, for the second class) for two. The driver is scipy's L-BFGS-B with
scikit-learn's options (`maxiter`, `maxls` 50, `gtol` = tol, `ftol` 64 eps), each C starting from
the previous C's solution (`warm_start`) and the first from zeros: the same iterates up to
rounding, so the same stopping points. That matters beyond the optimum: at the path's smallest C
scikit-learn's defaults stop short of it, and a solver that did not would score differently there
and could select another C. Everything but the two products in float64, as scikit-learn computes.
(Float32 products put ~1e-9 of relative rounding on the loss, above `ftol`: with a `tol` much
tighter than the default, a C can stop on the relative reduction first; see ThreadBlocks.)

Why blocks: an evaluation's two products are skinny (a column per class), so their cost is the
passes over the feature matrix. Each block of rows stays in cache for both products, so an
evaluation reads the features once, in the dtype they were cached in (float32 from a backbone:
half of a float64 copy's bytes, and no such copy of the largest matrix in memory). The
standardisation is folded into the weights (its mean and scale are scalars), so a block is the
cached features and nothing more. Units of blocks are summed in a fixed order whatever the thread
count, so a path repeats exactly.

A C's first evaluation is at the previous C's solution, where the last evaluation was: only the
penalty differs, so the data terms are reused (one evaluation in seven on the bench's path).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# A block of features on the CPU: about 2 MiB in the features' dtype, a core's L2 here (measured on
# 2 cores, 100,000 x 2,048 float32, an evaluation: 256-row blocks 136-147 ms, 128-row 154 ms;
# 512-row, 4 MiB, 122-126 ms, within this machine's noise: the bench's numbers are 256-row ones)
BLOCK_BYTES = 2 << 20
# Rows per unit of work a thread takes (a whole number of blocks): partial sums per unit, summed
# in unit order; small enough that the last units do not leave a thread idle long
UNIT_BLOCKS = 4
# On a GPU, rows per block, converted there to float64: the only copy made
GPU_BLOCK_ROWS = 32768


def trial_threads() -> int:
    """The threads a trial runs on: torch's (the trainable sets them from the trial's CPUs) when
    torch is loaded, else this process's CPUs."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return max(1, int(torch.get_num_threads()))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class Objective:
    """scikit-learn's penalised mean log loss and its gradient at a flat parameter vector (rows x
    (features + intercept), C order), of the features (x - mean) / scale.

    `backend`: threads (row blocks on `threads` CPU threads, one BLAS thread each) or torch (on
    `device`, float64 products); by default threads on the CPU, torch elsewhere.
    """

    def __init__(self, x: np.ndarray, index: np.ndarray, rows: int, fit_intercept: bool, device: str = "cpu",
                 mean: float = 0.0, scale: float = 1.0, threads: int | None = None, backend: str | None = None,
                 block_rows: int | None = None) -> None:
        self.n, self.d = x.shape
        self.rows, self.fit_intercept = rows, fit_intercept
        self.width = self.d + int(fit_intercept)
        self.mean, self.scale = float(mean), float(scale)
        self.index = np.asarray(index)
        self.backend = backend or ("threads" if device == "cpu" else "torch")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        self.x = np.ascontiguousarray(x)  # the features as cached: no float64 copy of the matrix
        on_gpu = self.backend == "torch" and device != "cpu"
        self.block = block_rows or (GPU_BLOCK_ROWS if on_gpu else
                                    max(16, BLOCK_BYTES // (self.x.itemsize * max(1, self.d))))
        self.impl: ThreadBlocks | TorchBlocks = BACKENDS[self.backend](self, device, threads or trial_threads())
        self.last: tuple[np.ndarray, tuple[float, np.ndarray, np.ndarray]] | None = None

    def __call__(self, w: np.ndarray, strength: float) -> tuple[float, np.ndarray]:
        params = w.reshape(self.rows, self.width)
        W = params[:, :self.d]
        b = params[:, self.d] if self.fit_intercept else np.zeros(self.rows)
        if self.last is not None and np.array_equal(self.last[0], w):  # a new C's start: the data terms stand
            loss, gR, gb = self.last[1]
        else:
            # ((x - mean) / scale) @ W.T + b  ==  x @ (W / scale).T + (b - mean * rowsum(W / scale)): the
            # blocks need only the features as cached
            Ws = W / self.scale
            loss, gR, gb = self.impl(np.ascontiguousarray(Ws), b - self.mean * Ws.sum(axis=1))
            self.last = (w.copy(), (loss, gR, gb))
        # and residual.T @ ((x - mean) / scale)  ==  (residual.T @ x - mean * colsum(residual)) / scale
        gW = (gR - self.mean * gb[:, None]) / self.scale
        grad = np.empty((self.rows, self.width))
        grad[:, :self.d] = gW / self.n + strength * W
        if self.fit_intercept:
            grad[:, self.d] = gb / self.n
        value = loss / self.n + 0.5 * strength * float((W * W).sum())
        return float(value), grad.ravel()


class ThreadBlocks:
    """The sums over rows on the CPU, unit by unit on a pool of threads, added up in unit order as
    they finish; at most two units per thread are in flight, so the partial sums held at once do
    not grow with the rows (each is classes x features: 16 MB at 1,000 x 2,048).

    The two products run in the features' dtype through torch's CPU BLAS, one BLAS thread per
    pool thread (MKL on x86: these products have a column per class, a shape on which it is 1.7x
    as fast as numpy's OpenBLAS); everything else (the logits from the products on, the loss, the
    residuals, the sums) in float64. Float32 features (what a backbone gives) therefore have
    float32 products: the logits then carry float32 rounding, as the features themselves do, and
    on 100,000 x 2,048 the loss differs from its float64 value by 3e-10 (relative), the gradient
    by 2e-9, against a stopping tolerance of 1e-4. An evaluation there takes 125-165 ms on two
    cores, where float64 products from an in-cache copy of each block (this module before Dec
    2026) took 291 ms and scikit-learn takes ~500 ms on one (bench/README.md).
    """

    def __init__(self, f: Objective, device: str, threads: int) -> None:
        import torch

        self.f = f
        unit = f.block * UNIT_BLOCKS
        self.units = [(lo, min(lo + unit, f.n)) for lo in range(0, f.n, unit)]
        self.threads = max(1, min(threads, len(self.units)))
        # A pool even of one, whose threads each use one BLAS thread. torch.set_num_threads also
        # sets the count that threads touching torch later start with, process-wide: every pool
        # thread is started and set now, then the caller's count is set back, for the trial's
        # other threads (and this one)
        saved = torch.get_num_threads()
        started = threading.Barrier(self.threads)
        self.pool = ThreadPoolExecutor(self.threads, initializer=one_blas_thread)
        for done in [self.pool.submit(started.wait) for _ in range(self.threads)]:
            done.result()
        torch.set_num_threads(saved)
        with warnings.catch_warnings():  # read-only features (a memory-mapped cache): only ever read
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            self.X = torch.from_numpy(f.x)  # shares the cached features' memory
        self.dtype = f.x.dtype

    def close(self) -> None:
        self.pool.shutdown()

    def unit(self, lo: int, hi: int, Wt: torch.Tensor, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        import torch

        f = self.f
        loss, gW, gb = 0.0, np.zeros((f.rows, f.d)), np.zeros(f.rows)
        for start in range(lo, hi, f.block):  # a block stays in cache for both products
            m = min(f.block, hi - start)
            xb = self.X[start:start + m]
            z = torch.mm(xb, Wt).numpy().astype(np.float64, copy=False)
            z += b
            y = f.index[start:start + m]
            if f.rows == 1:  # log(1 + e^z) - y z (exactly, as scikit-learn), sigmoid(z) - y
                from scipy.special import expit

                z1 = z[:, 0]
                loss += float((np.logaddexp(z1, 0.0) - y * z1).sum())
                r = (expit(z1) - y)[:, None]
            else:  # logsumexp(z) - z_y, softmax(z) - onehot(y)
                top = z.max(axis=1, keepdims=True)
                e = np.exp(z - top)
                total = e.sum(axis=1, keepdims=True)
                loss += float((top[:, 0] + np.log(total[:, 0]) - z[np.arange(m), y]).sum())
                r = e / total
                r[np.arange(m), y] -= 1.0
            gW += torch.mm(torch.from_numpy(np.ascontiguousarray(r.T, dtype=self.dtype)), xb).numpy()
            gb += r.sum(axis=0)
        return loss, gW, gb

    def __call__(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        import torch

        f = self.f
        Wt = torch.from_numpy(np.ascontiguousarray(W.T, dtype=self.dtype))
        loss, gW, gb = 0.0, np.zeros((f.rows, f.d)), np.zeros(f.rows)
        for part in self._in_order(Wt, b):  # unit order: the same sums whatever the thread count
            loss += part[0]
            gW += part[1]
            gb += part[2]
        return loss, gW, gb

    def _in_order(self, Wt: torch.Tensor, b: np.ndarray) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
        window: deque[Future[tuple[float, np.ndarray, np.ndarray]]] = deque()
        for lo, hi in self.units:
            window.append(self.pool.submit(self.unit, lo, hi, Wt, b))
            if len(window) >= 2 * self.threads:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


class TorchBlocks:
    """The sums over rows with torch on `device` (a GPU's float64), the features moved there once
    in their cached dtype, each block converted to float64 there."""

    def __init__(self, f: Objective, device: str, threads: int) -> None:
        import torch

        self.f, self.device = f, device
        self.X = torch.as_tensor(f.x, device=device)
        self.y = torch.as_tensor(f.index, device=device)

    def close(self) -> None:
        pass

    def __call__(self, W: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        import torch

        f = self.f
        Wt = torch.as_tensor(W, device=self.device).T
        bias = torch.as_tensor(b, device=self.device)
        loss = torch.zeros((), dtype=torch.float64, device=self.device)
        gW = torch.zeros(f.rows, f.d, dtype=torch.float64, device=self.device)
        gb = torch.zeros(f.rows, dtype=torch.float64, device=self.device)
        for start in range(0, f.n, f.block):
            xb = self.X[start:start + f.block].to(torch.float64)
            z = xb @ Wt + bias
            y = self.y[start:start + f.block]
            if f.rows == 1:
                z1, t = z[:, 0], y.to(torch.float64)
                loss += (torch.logaddexp(z1, torch.zeros_like(z1)) - t * z1).sum()
                r = (torch.sigmoid(z1) - t)[:, None]
            else:
                lse = torch.logsumexp(z, dim=1)
                loss += (lse - z.gather(1, y[:, None])[:, 0]).sum()
                r = torch.exp(z - lse[:, None])
                r[torch.arange(len(y), device=self.device), y] -= 1.0
            gW += r.T @ xb
            gb += r.sum(dim=0)
        return float(loss), gW.cpu().numpy(), gb.cpu().numpy()


def one_blas_thread() -> None:
    """This thread's torch (and MKL) on one thread. The thread's first query comes first: torch
    sets a thread's count from the process-wide one on that first use, which would undo the set."""
    import torch

    torch.get_num_threads()
    torch.set_num_threads(1)


BACKENDS: dict[str, type[ThreadBlocks] | type[TorchBlocks]] = {"threads": ThreadBlocks, "torch": TorchBlocks}


def lbfgs_path(x: np.ndarray, y: np.ndarray, cs: np.ndarray, fit_intercept: bool = True, max_iter: int = 1000,
               tol: float = 1e-4, device: str = "cpu", mean: float = 0.0, scale: float = 1.0,
               threads: int | None = None, backend: str | None = None,
               block_rows: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each C in turn: (coef, intercept, classes) as scikit-learn's `coef_`, `intercept_` and
    `classes_` would be (one row for two classes), fitted on (x - mean) / scale."""
    from scipy.optimize import minimize

    classes, index = np.unique(y, return_inverse=True)
    if len(classes) < 2:  # as scikit-learn refuses it
        raise ValueError("This solver needs samples of at least 2 classes in the data, but the data contains "
                         f"only one class: {classes[0]!r}")
    f = Objective(x, index, 1 if len(classes) == 2 else len(classes), fit_intercept, device, mean, scale, threads,
                  backend, block_rows)
    w = np.zeros(f.rows * f.width)
    try:
        for c in cs:
            w = minimize(f, w, args=(1.0 / (float(c) * f.n),), method="L-BFGS-B", jac=True,
                         options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                                  "ftol": 64 * np.finfo(float).eps}).x
            params = w.reshape(f.rows, f.width)
            yield params[:, :f.d].copy(), params[:, f.d].copy() if fit_intercept else np.zeros(f.rows), classes
    finally:
        f.impl.close()
