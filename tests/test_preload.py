"""lpft.trainables.preload: what a node's workers import before taking work, so a sweep's first
trial there needs no import (torch._dynamo included, which torch.optim loads on first use)."""

import subprocess
import sys


def test_preload_imports_everything_a_trial_imports():
    probe = ("import sys, lpft.trainables.preload; "
             "import torch; torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1); "  # as a trial does
             "print(sorted(m for m in ('torch', 'torch._dynamo', 'ray.tune', 'lpft.strategies', 'lpft.trial') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(sorted(["torch", "torch._dynamo", "ray.tune", "lpft.strategies", "lpft.trial"]))
    # Post-order: a module's line comes once its own imports are done. Nothing of torch's after
    # preload's line, so the trial's first optimizer found torch._dynamo loaded.
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time")]
    after = imported[imported.index("lpft.trainables.preload") + 1:]
    assert [m for m in after if m.startswith("torch")] == []
