"""The SGD loop every fine-tuning strategy shares (FT, LP-FT, L2-SP, partial FT), and evaluation
on every eval set."""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from lpft.data.base import Benchmark, Split
from lpft.data.loading import batches
from lpft.models.backbone import Backbone
from lpft.models.bn_adapt import adapt_bn, has_batchnorm
from lpft.models.classifier import Classifier
from lpft.results import BN_ADAPTED, COMPLETED, DIVERGED, Evaluation
from lpft.strategies.base import EpochCallback
from lpft.strategies.scoring import EvalSet, score, temperature_of
from lpft.strategies.sgd_params import SGDParams

CHECK_EVERY = 32


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


@torch.no_grad()
def outputs(model: nn.Module, backbone: Backbone, benchmark: Benchmark, split: Split, device: str,
            batch_size: int = 512, workers: int = 0, amp: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The model's logits on every example of `split` (float32, in the split's order) and the labels."""
    was_training = model.training
    model.eval()
    logits, labels = [], []
    cuda = device.startswith("cuda")
    layout = torch.channels_last if cuda else torch.contiguous_format  # as training left the model
    for x, y in batches(split, backbone.inputs, benchmark, batch_size, device=device, workers=workers):
        with autocast(device, amp):
            z = model(x.contiguous(memory_format=layout) if x.dim() == 4 else x)
        logits.append(z.float().cpu().numpy())
        labels.append(y.cpu().numpy())
    model.train(was_training)
    if not logits:
        return np.zeros((0, benchmark.num_classes), np.float32), np.zeros(0, np.int64)
    return np.concatenate(logits), np.concatenate(labels)


def evaluate(model: nn.Module, backbone: Backbone, benchmark: Benchmark, step: int, device: str,
             workers: int = 0, amp: bool = False, bn_adapt: bool = False, calibrate: bool = True) -> list[Evaluation]:
    """Every eval set's accuracy and (with `calibrate`) calibration, raw and at the temperature fit
    on ID val; with `bn_adapt`, also (as extra rows) after AdaBN on that set, at the same temperature."""
    sets = benchmark.eval_sets
    scored: dict[str, Evaluation] = {}
    temperature = None
    # ID val first, its logits giving the temperature; one set's logits in memory at a time.
    for name in sorted(sets, key=lambda n: sets[n].role != "id_val"):
        split = sets[name]
        z, y = outputs(model, backbone, benchmark, split, device, workers=workers, amp=amp)
        s = EvalSet(name, split.role, y, split.classes)
        if calibrate and split.role == "id_val" and temperature is None:
            temperature = temperature_of(z, s)
        scored[name] = score(step, z, s, temperature, calibrate=calibrate)
    evals = [scored[name] for name in sets]  # in the benchmark's order, as before
    if bn_adapt and has_batchnorm(model):
        for name, split in sets.items():
            adapted = adapt_bn(model, backbone, benchmark, split, device, workers)
            z, y = outputs(adapted, backbone, benchmark, split, device, workers=workers, amp=amp)
            evals.append(score(step, z, EvalSet(name, split.role, y, split.classes), temperature,
                               adapt=BN_ADAPTED, calibrate=calibrate))
    return evals


def autocast(device: str, amp: bool) -> torch.autocast:
    """bfloat16 autocast on a GPU when `amp`; a no-op on the CPU, where it would only slow things."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=amp and kind == "cuda")


def _freeze_bn_stats(model: nn.Module) -> None:
    """BatchNorm in eval mode: normalise with (and keep) the pretrained running statistics."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


@dataclass
class TrainLog:
    status: str = COMPLETED  # `diverged` as soon as a loss is not finite
    evaluations: list[Evaluation] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)  # training only, evaluation excluded

    def diagnostics(self) -> dict[str, float]:
        if not self.epoch_seconds:
            return {}
        return {"train_s_per_epoch": sum(self.epoch_seconds) / len(self.epoch_seconds)}


def param_groups(model: Classifier, hp: SGDParams) -> list[dict]:
    """The backbone's trainable parameters at `lr`, the head's at `lr * head_lr_mult`."""
    body = [p for p in model.backbone.parameters() if p.requires_grad]
    groups = [{"params": body, "lr": hp.lr, "weight_decay": hp.wd},
              {"params": list(model.head.parameters()), "lr": hp.lr * hp.head_lr_mult, "weight_decay": hp.wd}]
    return [g for g in groups if g["params"]]


def sgd_train(model: Classifier, backbone: Backbone, benchmark: Benchmark, hp: SGDParams, device: str,
              on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0, *,
              frozen: Sequence[nn.Module] = (),
              after_step: Callable[[torch.optim.Optimizer], None] | None = None) -> TrainLog:
    """SGD with momentum and a per-step cosine schedule; evaluates every `eval_every` epochs.

    The optimizer's groups are `param_groups`: frozen parameters (requires_grad off) are left
    out, and `frozen` modules stay in eval mode (their BatchNorm statistics unchanged too); `after_step`
    runs after each optimizer step (L2-SP's proximal pull toward the pretrained weights).
    With `resume` (a state from `on_epoch`), continues after that epoch exactly as if
    never interrupted: model, optimizer, schedule, shuffling RNG and past evaluations.
    """
    train = benchmark.train
    gen = torch.Generator().manual_seed(hp.seed)
    steps_per_epoch = 1 if hp.batch_size == 0 else math.ceil(len(train) / hp.batch_size)
    opt = torch.optim.SGD(param_groups(model, hp), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=hp.epochs * steps_per_epoch)
    log = TrainLog()
    first = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        gen.set_state(resume["generator"])
        log.evaluations = [Evaluation(**e) for e in resume["evaluations"]]
        log.epoch_seconds = list(resume["epoch_seconds"])
        first = resume["epoch"] + 1
    model.to(device)
    cuda = device.startswith("cuda")
    layout = torch.channels_last if cuda and hp.channels_last else torch.contiguous_format
    model.to(memory_format=layout)  # convolutions' weights; a no-op for other layers
    # The compiled module shares the model's parameters: state dicts, evaluation and checkpoints use `model`.
    forward = torch.compile(model) if cuda and hp.torch_compile else model

    def state(epoch: int) -> dict:  # a deep copy: training goes on mutating these tensors
        return copy.deepcopy({"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "generator": gen.get_state(),
                "evaluations": [e.__dict__ for e in log.evaluations], "epoch_seconds": log.epoch_seconds})

    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    # Reading the loss back stalls a GPU's queue: there, non-finite losses are collected on
    # the device and checked every CHECK_EVERY steps (a diverged run wastes at most that many).
    check_every = CHECK_EVERY if cuda else 1
    for epoch in range(first, hp.epochs + 1):
        start = time.perf_counter()
        model.train()
        if hp.bn == "eval":
            _freeze_bn_stats(model)
        for module in frozen:
            module.eval()
        nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        loss_sum = torch.zeros((), device=device)  # summed on the device: read once per epoch
        i = 0
        for i, (x_in, y) in enumerate(batches(train, backbone.inputs, benchmark, hp.batch_size, train=True,
                                              generator=gen, device=device, workers=workers), 1):
            x = x_in.contiguous(memory_format=layout) if x_in.dim() == 4 else x_in
            with autocast(device, hp.amp):
                loss = nn.functional.cross_entropy(forward(x), y)
            nonfinite |= ~torch.isfinite(loss.detach())
            loss_sum += loss.detach().float()
            if i % check_every == 0 and nonfinite.item():
                log.status = DIVERGED
                return log
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step(opt)
            sched.step()
        if nonfinite.item():  # also waits for the GPU, so the epoch time below is real
            log.status = DIVERGED
            return log
        log.epoch_seconds.append(time.perf_counter() - start)
        if epoch % hp.eval_every == 0 or epoch == hp.epochs:
            evals = evaluate(model, backbone, benchmark, epoch, device, workers, hp.amp, hp.bn_adapt)
            log.evaluations.extend(evals)
            if on_epoch is not None:
                signals = {"train_loss": loss_sum.item() / max(i, 1), "lr": opt.param_groups[0]["lr"]}
                on_epoch(epoch, evals, functools.partial(state, epoch), signals)
    return log
