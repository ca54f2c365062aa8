"""LP's C path with torch doing the arithmetic: scikit-learn's L2 logistic regression, solved by
the very driver scikit-learn uses, with the loss and gradient (the whole cost: two products
with the feature matrix per evaluation) on the trial's device and all its threads.

The objective is scikit-learn's (1.x, `lbfgs`): the mean log loss over the training examples plus
||W||^2 / (2 C n), the intercept unpenalised; multinomial (one row per class) for three classes
or more, binomial (one row, for the second class) for two. The driver is scipy's L-BFGS-B with
scikit-learn's options (`maxiter`, `maxls` 50, `gtol` = tol, `ftol` 64 eps), each C starting from
the previous C's solution (`warm_start`) and the first from zeros: the same iterates, so the same
stopping points. That matters beyond the optimum: at the path's smallest C scikit-learn's
defaults stop short of it, and a solver that did not would score differently there and could
select another C. In float64, as scikit-learn computes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class Objective:
    """scikit-learn's penalised mean log loss and its gradient at a flat parameter vector (rows x
    (features + intercept), C order), computed by torch on `device`."""

    def __init__(self, x: np.ndarray, index: np.ndarray, rows: int, fit_intercept: bool, device: str) -> None:
        import torch

        self.n, self.d = x.shape
        self.rows, self.fit_intercept, self.device = rows, fit_intercept, device
        self.width = self.d + int(fit_intercept)
        # as_tensor shares a float64 C-contiguous CPU array: no copy of the feature matrix
        self.X = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64), device=device)
        if rows == 1:  # binomial: the second class is the positive one
            self.target = torch.as_tensor(index, dtype=torch.float64, device=device)[:, None]
        else:
            self.target = torch.nn.functional.one_hot(torch.as_tensor(index, device=device), rows).to(torch.float64)

    def __call__(self, w: np.ndarray, strength: float) -> tuple[float, np.ndarray]:
        import torch

        P = torch.as_tensor(w.reshape(self.rows, self.width), device=self.device)
        W = P[:, :self.d]
        z = self.X @ W.T + (P[:, self.d] if self.fit_intercept else 0.0)
        if self.rows == 1:  # log(1 + e^z) - y z (exactly: softplus linearises above z = 20), sigmoid(z) - y
            loss = torch.logaddexp(z, torch.zeros_like(z)) - self.target * z
            residual = torch.sigmoid(z) - self.target
        else:  # logsumexp(z) - z_y, softmax(z) - onehot(y)
            lse = torch.logsumexp(z, dim=1, keepdim=True)
            loss = lse - (self.target * z).sum(dim=1, keepdim=True)
            residual = torch.exp(z - lse) - self.target
        residual /= self.n
        grad = torch.empty(self.rows, self.width, dtype=torch.float64, device=self.device)
        grad[:, :self.d] = residual.T @ self.X + strength * W
        if self.fit_intercept:
            grad[:, self.d] = residual.sum(dim=0)
        value = loss.sum() / self.n + 0.5 * strength * (W * W).sum()
        return float(value), grad.cpu().numpy().ravel()


def lbfgs_path(x: np.ndarray, y: np.ndarray, cs: np.ndarray, fit_intercept: bool = True, max_iter: int = 1000,
               tol: float = 1e-4, device: str = "cpu") -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each C in turn: (coef, intercept, classes) as scikit-learn's `coef_`, `intercept_` and
    `classes_` would be (one row for two classes)."""
    from scipy.optimize import minimize

    classes, index = np.unique(y, return_inverse=True)
    if len(classes) < 2:  # as scikit-learn refuses it
        raise ValueError("This solver needs samples of at least 2 classes in the data, but the data contains "
                         f"only one class: {classes[0]!r}")
    f = Objective(x, index, 1 if len(classes) == 2 else len(classes), fit_intercept, device)
    w = np.zeros(f.rows * f.width)
    for c in cs:
        w = minimize(f, w, args=(1.0 / (float(c) * f.n),), method="L-BFGS-B", jac=True,
                     options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps}).x
        params = w.reshape(f.rows, f.width)
        yield params[:, :f.d].copy(), params[:, f.d].copy() if fit_intercept else np.zeros(f.rows), classes
