"""Model soups' building blocks against direct computations: the uniform soup is the stacked
mean, a soup of identical models is that model, a uniform soup of two is WiSE at alpha 0.5,
and the greedy rule keeps a candidate only when the held-out metric strictly rises."""

from __future__ import annotations

import pytest
import torch

from lpft.errors import InputError
from lpft.strategies.soups import greedy_soup, uniform_soup
from lpft.strategies.wise import interpolate


def model_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
    net.train()
    net(torch.randn(16, 4))  # BatchNorm statistics of its own, and num_batches_tracked 1
    return {k: v.clone() for k, v in net.state_dict().items()}


def loaders(states):
    return [lambda s=s: {k: v.clone() for k, v in s.items()} for s in states]


def test_the_uniform_soup_is_the_mean_of_its_ingredients():
    states = [model_state(s) for s in range(5)]
    soup = uniform_soup(loaders(states))
    for key, value in soup.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, torch.stack([s[key] for s in states]).mean(0), rtol=1e-6, atol=1e-7)
            assert value.dtype == states[0][key].dtype
        else:
            assert torch.equal(value, states[0][key])  # integer buffers: the first ingredient's


def test_a_uniform_soup_of_two_is_wise_at_one_half():
    a, b = model_state(0), model_state(1)
    soup = uniform_soup(loaders([a, b]))
    halfway = interpolate(a, b, 0.5)
    for key in a:
        if a[key].is_floating_point():
            torch.testing.assert_close(soup[key], halfway[key], rtol=1e-6, atol=1e-7)


def test_a_greedy_soup_of_identical_models_is_the_model():
    state = model_state(3)
    soup, kept = greedy_soup(loaders([state] * 4), held_out=lambda s: 0.5)
    assert kept == [0]  # the metric never strictly rises: nothing is added
    for key in state:
        assert torch.equal(soup[key], state[key])


def test_the_greedy_rule_adds_a_candidate_only_when_the_held_out_metric_strictly_rises():
    # One parameter; held out: closeness to 2.0. Ranked 3, 0, 1, 5: the soup {3} scores -1;
    # with 0 (mean 1.5) -0.5: kept; with 1 (mean 4/3) -0.67: dropped; with 5 (mean 8/3) -0.67: dropped.
    states = [{"w": torch.tensor([v])} for v in (3.0, 0.0, 1.0, 5.0)]
    soup, kept = greedy_soup(loaders(states), held_out=lambda s: -abs(float(s["w"]) - 2.0))
    assert kept == [0, 1] and float(soup["w"]) == pytest.approx(1.5)
    # A tie is no rise: with 2.0 exactly scoring the same as the soup, it is left out.
    soup, kept = greedy_soup(loaders([{"w": torch.tensor([1.0])}, {"w": torch.tensor([3.0])}]),
                             held_out=lambda s: 0.0)
    assert kept == [0]


def test_ingredients_of_another_architecture_are_one_line_naming_them():
    a = model_state(0)
    other = {**a, "2.weight": torch.zeros(5, 3)}
    with pytest.raises(InputError, match=r"soup: ft-002 has other shapes .*2\.weight"):
        uniform_soup(loaders([a, other]), names=["ft-001", "ft-002"])
    fewer = {k: v for k, v in a.items() if not k.startswith("1.")}
    with pytest.raises(InputError, match="soup: lpft-004 has other parameters"):
        greedy_soup(loaders([a, fewer]), held_out=lambda s: 0.0, names=["ft-001", "lpft-004"])
    with pytest.raises(InputError, match="no ingredients"):
        uniform_soup([])


@pytest.mark.parametrize("kind", ["uniform", "greedy"])
def test_a_soup_holds_two_models_at_a_time_whatever_the_number_of_ingredients(kind):
    live, peak = [0], [0]

    class Tracked(dict):
        def __init__(self, *args):
            super().__init__(*args)
            live[0] += 1
            peak[0] = max(peak[0], live[0])

        def __del__(self):
            live[0] -= 1

    states = [model_state(s) for s in range(8)]
    made = [lambda s=s: Tracked({k: v.clone() for k, v in s.items()}) for s in states]
    if kind == "uniform":
        uniform_soup(made)
    else:
        greedy_soup(made, held_out=lambda s: float(s["0.bias"].sum()))
    assert peak[0] <= 2  # the soup and the ingredient being added
