"""Partial fine-tuning: train only the top k blocks of the backbone (or one chosen block, as in
surgical fine-tuning, Lee et al. 2023) plus the head; the rest stays frozen, bit for bit.

Blocks, input to output: the stem (everything before the stages, with parameters that hang
on the model itself such as a ViT's cls token and position embedding), each stage (the
elements of timm's `blocks`/`stages`/`layers`, or ResNet's `layer1..4`), and the neck
(everything after, e.g. EfficientNet's conv_head, a ViT's final norm, a CLIP projection).
Frozen blocks are kept in eval mode too, so their BatchNorm statistics do not move.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from lpft.data.base import Benchmark
from lpft.errors import InputError, require
from lpft.looks import Look
from lpft.results import RunResult
from lpft.search_spaces import choice, hparam
from lpft.strategies.base import EpochCallback, strategy
from lpft.strategies.sgd_params import SGDParams

if TYPE_CHECKING:  # torch and the models load when a trial runs, not when a spec names partial FT
    from torch import nn

    from lpft.models.backbone import Backbone

STAGE_CONTAINERS = ("blocks", "stages", "layers")


@dataclass(frozen=True)
class PartialParams(SGDParams):
    # fine-tune the top k blocks of the backbone (the head always trains); the grid crosses FT's lrs
    train_blocks: int = hparam(1, search=choice(1, 2, 3), grid=(1, 2, 3))
    block: int = -1  # >= 0: fine-tune only this block (surgical fine-tuning); overrides train_blocks

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.train_blocks >= 0, f"train_blocks must be >= 0, got {self.train_blocks}")
        require(self.block >= -1, f"block must be -1 (use train_blocks) or a block index, got {self.block}")


@dataclass
class Block:
    name: str
    modules: list[nn.Module] = field(default_factory=list)
    params: list[nn.Parameter] = field(default_factory=list)

    def parameters(self) -> list[nn.Parameter]:
        return [*self.params, *(p for m in self.modules for p in m.parameters())]


def blocks(module: nn.Module) -> list[Block]:
    """The backbone's blocks, input to output (a module with no stages is one block)."""
    from torch import nn

    stem, neck = Block("stem", params=list(module.parameters(recurse=False))), Block("neck")
    stages: list[Block] = []
    for name, child in module.named_children():
        if name in STAGE_CONTAINERS and isinstance(child, (nn.Sequential, nn.ModuleList)) and len(child) > 1:
            stages.extend(Block(f"{name}.{i}", [c]) for i, c in enumerate(child))
        elif re.fullmatch(r"layer\d+", name):
            stages.append(Block(name, [child]))
        else:
            (neck if stages else stem).modules.append(child)
    if not stages:
        return [Block("all", [module])]
    return [b for b in (stem, *stages, neck) if b.parameters()]


@strategy("ft-partial", PartialParams, "fine-tuning of the top k blocks (or one block) only",
          look=Look("partial FT", shown="lr"))
def ft_partial(benchmark: Benchmark, backbone: Backbone, hp: PartialParams, device: str = "cpu",
               on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    from lpft.models.classifier import Classifier
    from lpft.strategies.training import seed_everything, sgd_train

    seed_everything(hp.seed)
    model = Classifier.for_backbone(backbone, benchmark.num_classes, bias=benchmark.head_bias)
    parts = blocks(model.backbone)
    if hp.block >= len(parts) or hp.train_blocks > len(parts):
        raise InputError(f"ft-partial: {backbone.name} has {len(parts)} blocks "
                         f"({', '.join(b.name for b in parts)}); got block={hp.block}, train_blocks={hp.train_blocks}")
    chosen = [parts[hp.block]] if hp.block >= 0 else parts[len(parts) - hp.train_blocks:]
    frozen = [b for b in parts if b not in chosen]
    for b in frozen:
        for p in b.parameters():
            p.requires_grad_(False)
    log = sgd_train(model, backbone, benchmark, hp, device, on_epoch, resume, workers,
                    frozen=[m for b in frozen for m in b.modules])
    return RunResult(log.status, log.evaluations, asdict(hp), model=model,
                     diagnostics={**log.diagnostics(), "trained_blocks": ",".join(b.name for b in chosen)})
