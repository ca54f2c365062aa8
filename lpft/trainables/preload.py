"""What a trial imports, for Ray to import in every worker before it takes work.

A node started with `RAY_preload_python_modules=lpft.trainables.preload` (`LocalCluster(preload=True)`
does) has workers that import torch, Ray Tune and lpft's strategies before they take work. Ray
pre-starts one worker per CPU on the node where a driver first connects, so there a sweep's
first trial skips ~3 s of imports, plus the ~1 s of torch._dynamo that torch.optim loads on
its first optimizer (a trial actor can take a pre-started worker because lpft gives trial
actors no runtime_env: `lpft.sweeps.launch`). Elsewhere the imports only move from the trial to
the worker's start. Every worker of the node pays them, Ray Jobs' supervisors included, so it
is an option for nodes that mostly run trials. A module that fails to import here is logged by
Ray and imported again by the trial, which then reports the error.
"""

import torch  # noqa: F401
import torch._dynamo  # noqa: F401  (torch.optim imports it on the first optimizer: ~1 s)
from ray import tune  # noqa: F401

import lpft.dataset  # noqa: F401
import lpft.strategies  # noqa: F401
import lpft.trainables.trainable  # noqa: F401
import lpft.trial  # noqa: F401
