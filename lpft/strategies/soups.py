"""Model soups (Wortsman et al., ICML 2022): the weights of several fine-tuned models averaged.

- uniform: the mean of every ingredient;
- greedy: ingredients ranked by a held-out metric (ID val by default), the soup starts as the
  best one, and each next candidate is added only if the held-out metric of the soup with it
  strictly rises (the reference implementation's rule).

Ingredients are given as loaders (a callable returning a fresh state dict, which the soup may
change in place), so a soup holds its running mean and one ingredient at a time (greedy: the
candidate is turned in place into the soup with it): two models' memory whatever the number of
ingredients. Floating-point tensors are averaged in their own dtype (BatchNorm's running
statistics included, which a caller may re-estimate on ID train afterwards); integer buffers
(BatchNorm's num_batches_tracked) are the first ingredient's. The strategies `soup-uniform` and
`soup-greedy` (`lpft.strategies.soup`) make soups of a sweep's saved models with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lpft.errors import InputError

if TYPE_CHECKING:  # torch loads when a soup is made, not when the strategies are listed
    import torch

    State = dict[str, torch.Tensor]

Loader = Callable[[], "State"]


Shapes = dict[str, tuple[int, ...]]


def shapes(state: State) -> Shapes:
    return {k: tuple(v.shape) for k, v in state.items()}


def misfit(reference: Shapes, state: State) -> tuple[str, str] | None:
    """Why `state` cannot be averaged with a model of the `reference` shapes: ("parameters", how
    many names differ) or ("shapes", the first tensor of another shape); None when it can. The one
    test of soups, `lpft.strategies.soup`'s candidates and WiSE's fine-tuned model."""
    if set(state) != set(reference):
        n = len(set(state) ^ set(reference))
        return "parameters", f"{n} parameter name{'s differ' if n > 1 else ' differs'} (another architecture)"
    other = next((k for k in reference if tuple(state[k].shape) != reference[k]), None)
    if other is not None:
        return "shapes", f"{other} is {tuple(state[other].shape)}, not {reference[other]}"
    return None


def _check_same(reference: Shapes, other: State, name: str) -> None:
    """One line naming the ingredient whose parameters are not the first one's."""
    why = misfit(reference, other)
    if why is not None:
        raise InputError(f"soup: {name} has other {why[0]} than the first ingredient ({why[1]})")


def _blend_into(target: State, mean: State, k: int, into_mean: bool) -> None:
    """The mean of k models with one more (`target` the new one): into `mean` (into_mean), or into
    `target` itself, whose integer buffers then become the mean's. In place, tensor by tensor:
    no third model is ever held."""
    for key, value in mean.items():
        new = target[key]
        if value.is_floating_point():
            if into_mean:
                value.add_(new.to(value.dtype).sub(value), alpha=1.0 / (k + 1))
            elif new.dtype == value.dtype:  # in the candidate's own memory: (new - mean) / (k + 1) + mean
                new.sub_(value).div_(k + 1).add_(value)
            else:
                target[key] = value + (new.to(value.dtype) - value) / (k + 1)
        elif not into_mean:
            target[key] = value.clone()  # not shared: a rejected candidate's BN re-estimate leaves the soup's


def uniform_soup(ingredients: Sequence[Loader], names: Sequence[str] | None = None) -> State:
    """The mean of every ingredient's floating tensors, streamed: each is loaded, added in place
    to the running mean, dropped (two models in memory)."""
    if not ingredients:
        raise InputError("soup: no ingredients (a sweep's saved models: `save_models: true`)")
    names = list(names) if names is not None else [f"ingredient {i}" for i in range(len(ingredients))]
    mean = ingredients[0]()
    spec = shapes(mean)
    for k, load in enumerate(ingredients[1:], start=1):
        state = load()
        _check_same(spec, state, names[k])
        _blend_into(state, mean, k, into_mean=True)
        del state
    return mean


def greedy_soup(ranked: Sequence[Loader], held_out: Callable[[State], float],
                names: Sequence[str] | None = None, first: float | None = None,
                settle: Callable[[State], None] | None = None) -> tuple[State, list[int]]:
    """Ingredients in decreasing held-out order: the soup starts as the first, and each next one
    is kept only if `held_out` of the soup with it is strictly higher (two models in memory: the
    soup, and the candidate turned in place into the soup with it). Returns the soup and the
    positions (in `ranked`) of the ingredients it holds. `first`: the first one's held-out
    score, when already known (it is not measured again). `settle` is given the soup after each
    decision, before the next candidate loads: a caller whose `held_out` put a rejected candidate
    into a model lets go of it there (else it would be a third model in memory at the next load)."""
    if not ranked:
        raise InputError("soup: no ingredients (a sweep's saved models: `save_models: true`)")
    names = list(names) if names is not None else [f"ingredient {i}" for i in range(len(ranked))]
    mean = ranked[0]()
    spec, kept = shapes(mean), [0]
    best = held_out(mean) if first is None else first
    for i, load in enumerate(ranked[1:], start=1):
        candidate = load()
        _check_same(spec, candidate, names[i])
        _blend_into(candidate, mean, len(kept), into_mean=False)
        score = held_out(candidate)
        if score > best:
            mean, best, kept = candidate, score, [*kept, i]
        del candidate
        if settle is not None:
            settle(mean)
    return mean, kept
