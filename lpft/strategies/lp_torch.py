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


def lbfgs_path(x: np.ndarray, y: np.ndarray, cs: np.ndarray, fit_intercept: bool = True, max_iter: int = 1000,
               tol: float = 1e-4, device: str = "cpu") -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each C in turn: (coef, intercept, classes) as scikit-learn's `coef_`, `intercept_` and
    `classes_` would be (one row for two classes)."""
    import torch
    from scipy.optimize import minimize

    classes, index = np.unique(y, return_inverse=True)
    binary = len(classes) == 2
    rows = 1 if binary else len(classes)
    n, d = x.shape
    X = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64, device=device)
    if binary:
        target = torch.as_tensor(index, dtype=torch.float64, device=device)[:, None]
    else:
        target = torch.nn.functional.one_hot(torch.as_tensor(index, device=device), rows).to(torch.float64)
    width = d + int(fit_intercept)

    def loss_and_grad(w: np.ndarray, strength: float) -> tuple[float, np.ndarray]:
        P = torch.as_tensor(w.reshape(rows, width), device=device)
        W = P[:, :d]
        z = X @ W.T + (P[:, d] if fit_intercept else 0.0)
        if binary:  # log(1 + e^z) - y z, and its derivative sigmoid(z) - y
            loss = torch.nn.functional.softplus(z) - target * z
            residual = torch.sigmoid(z) - target
        else:  # logsumexp(z) - z_y, and softmax(z) - onehot(y)
            lse = torch.logsumexp(z, dim=1, keepdim=True)
            loss = lse - (target * z).sum(dim=1, keepdim=True)
            residual = torch.exp(z - lse) - target
        residual /= n
        grad = torch.empty(rows, width, dtype=torch.float64, device=device)
        grad[:, :d] = residual.T @ X + strength * W
        if fit_intercept:
            grad[:, d] = residual.sum(dim=0)
        value = loss.sum() / n + 0.5 * strength * (W * W).sum()
        return float(value), grad.cpu().numpy().ravel()

    w = np.zeros(rows * width)
    for c in cs:
        if len(classes) > 1:
            w = minimize(loss_and_grad, w, args=(1.0 / (float(c) * n),), method="L-BFGS-B", jac=True,
                         options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                                  "ftol": 64 * np.finfo(float).eps}).x
        params = w.reshape(rows, width)
        yield params[:, :d].copy(), params[:, d].copy() if fit_intercept else np.zeros(rows), classes
