"""What a trial imports, for Ray to import in every worker before it takes work.

A node started with `RAY_preload_python_modules=lpft.trainables.preload` (one of
`lpft.cluster.warm.WARM_NODE_ENV`) has workers that import torch, Ray Tune and lpft's
strategies before they take work, plus the ~1 s of torch._dynamo that torch.optim loads on its
first optimizer. A worker that was started before the sweep (a warm node's) hands its trial
all of that done; a trial actor can take such a worker because lpft gives trial actors no
runtime_env (`lpft.sweeps.launch`). In a worker started for the trial, the imports only move
from the trial to the worker's start. Every worker of the node pays them, Ray Jobs'
supervisors included. A module that fails to import here is logged by Ray and imported again
by the trial, which then reports the error.
"""

import torch
import torch._dynamo  # noqa: F401  (torch.optim imports it on the first optimizer: ~1 s)
from ray import tune  # noqa: F401

import lpft.dataset
import lpft.strategies
import lpft.trainables.trainable
import lpft.trial  # noqa: F401
