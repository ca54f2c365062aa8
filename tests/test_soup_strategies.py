"""soup-uniform and soup-greedy as strategies, without Ray: on saved fine-tuned models, against
direct computations (the stacked mean of the states; the greedy rule replayed with plain torch;
BatchNorm statistics re-estimated on ID train equal to that set's own mean and variance)."""

from __future__ import annotations

import pytest
import torch

from lpft.data import load_benchmark
from lpft.data.loading import batches
from lpft.errors import InputError
from lpft.models.backbone import build_backbone
from lpft.models.saved import load_model_state, save_model
from lpft.trial import run_trial

SYNTH = {"eps": 0.1}
# ID train of 100 examples: one batch of the re-estimation, so its statistics are that set's own
DIGITS = {"n_train": 100, "n_val": 50, "n_test": 50, "n_ood": 30, "size": 32}


@pytest.fixture(scope="module")
def synthetic_models(tmp_path_factory):
    """Four short FT runs on synthetic, saved as a sweep saves them, and two that do not fit."""
    folder = tmp_path_factory.mktemp("models")
    names = []
    for i, (lr, seed) in enumerate([(0.3, 0), (0.5, 1), (1.0, 2), (0.2, 3)]):
        r = run_trial("synthetic", "ft", {**SYNTH, "epochs": 40, "lr": lr, "seed": seed}).result
        save_model(r.model, str(folder / f"ft-{i:03d}.pt"))
        names.append(f"ft-{i:03d}")
    state = load_model_state(str(folder / "ft-000.pt"))
    torch.save({**state, "extra.weight": torch.zeros(1)}, folder / "other-arch.pt")
    head = next(k for k in state if k.startswith("head") and k.endswith("weight"))
    torch.save({**state, head: torch.zeros(state[head].shape[0] + 1, *state[head].shape[1:])},
               folder / "other-head.pt")
    return folder, names


def val_accuracy(state, benchmark, model):
    """ID val accuracy of `state` in `model`, with plain torch."""
    model.load_state_dict(state)
    model.eval()
    backbone = build_backbone(*benchmark.default_backbone, benchmark)
    split = next(s for s in benchmark.eval_sets.values() if s.role == "id_val")
    right = 0
    with torch.no_grad():
        for x, y in batches(split, backbone.inputs, benchmark, 1000):
            right += int((model(x).argmax(1) == y).sum())
    return right / len(split.y)


def mean_of(states):
    return {k: torch.stack([s[k] for s in states]).mean(0) if states[0][k].is_floating_point() else states[0][k]
            for k in states[0]}


def test_a_uniform_soup_is_the_mean_of_the_fitting_models_and_names_the_others(synthetic_models, capfd):
    folder, names = synthetic_models
    given = [names[0], "other-arch", *names[1:], "other-head"]
    r = run_trial("synthetic", "soup-uniform", {**SYNTH, "candidates": ",".join(given), "models": str(folder)}).result
    err = capfd.readouterr().err
    assert "left out other-arch: it does not fit backbone linear on synthetic: 1 parameter name differs" in err
    assert "left out other-head" in err and "head.weight is (6, 10), not (5, 10)" in err  # synthetic: 5 classes
    states = [load_model_state(str(folder / f"{n}.pt")) for n in names]
    soup = r.model.state_dict()
    for key, value in mean_of(states).items():
        torch.testing.assert_close(soup[key], value, rtol=1e-5, atol=1e-6)
    rows = r.rows(sweep="s", trial_id="soup-uniform", seed=0)
    assert {row["hp.candidates"] for row in rows} == {",".join(given)}
    assert sorted(rows[0]["hp.ingredients"].split(",")) == names  # every fitting one
    assert r.diagnostics["bn"] == "none (no BatchNorm)"


def test_the_greedy_soup_follows_the_rule_replayed_by_hand(synthetic_models):
    folder, names = synthetic_models
    r = run_trial("synthetic", "soup-greedy", {**SYNTH, "candidates": ",".join(names), "models": str(folder)}).result
    # The rule, replayed with plain torch: rank by ID val accuracy (ties: given order), start from
    # the best, keep a candidate when the stacked mean's ID val accuracy strictly rises.
    benchmark = load_benchmark("synthetic", **SYNTH)
    model = r.model
    states = {n: load_model_state(str(folder / f"{n}.pt")) for n in names}
    score = {n: val_accuracy(states[n], benchmark, model) for n in names}
    ranked = sorted(names, key=lambda n: -score[n])
    kept, best = [ranked[0]], score[ranked[0]]
    for n in ranked[1:]:
        trial = val_accuracy(mean_of([states[k] for k in [*kept, n]]), benchmark, model)
        if trial > best:
            kept, best = [*kept, n], trial
    assert r.step_hparams[0]["ingredients"] == ",".join(kept)
    assert r.diagnostics["best_ingredient"] == ranked[0]
    assert r.metrics(0)["id_val"] == pytest.approx(best)
    assert r.metrics(0)["id_val"] >= score[ranked[0]]  # greedy never does worse than its best ingredient on ID val


def test_a_soup_refuses_no_fitting_candidate_and_a_candidate_that_is_not_a_name(synthetic_models, capfd):
    folder, _ = synthetic_models
    with pytest.raises(InputError, match="none of the 2 candidates is a saved linear for synthetic"):
        run_trial("synthetic", "soup-uniform", {**SYNTH, "candidates": "other-arch,other-head", "models": str(folder)})
    with pytest.raises(InputError, match="not a trial id"):
        run_trial("synthetic", "soup-greedy", {**SYNTH, "candidates": "../ft-000", "models": str(folder)})
    # a missing model and a link out of the folder are left out, one line each
    elsewhere = folder.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (elsewhere / "x.pt").write_bytes((folder / "ft-000.pt").read_bytes())
    (folder / "linked.pt").unlink(missing_ok=True)
    (folder / "linked.pt").symlink_to(elsewhere / "x.pt")
    r = run_trial("synthetic", "soup-greedy", {**SYNTH, "candidates": "ft-009,linked,ft-001", "models": str(folder)})
    err = capfd.readouterr().err
    assert "left out ft-009: no saved model" in err and "left out linked:" in err and "a link out of the models" in err
    assert r.result.step_hparams[0]["ingredients"] == "ft-001"


def digits_models(folder, bn):
    """Two LP-FT runs on digits from one LP head (as soups' ingredients are in the paper), saved."""
    names = []
    for seed in (0, 1):
        r = run_trial("digits", "lpft", {**DIGITS, "epochs": 1, "batch_size": 50, "lr": 0.001, "bn": bn,
                                         "seed": seed}).result
        save_model(r.model, str(folder / f"ft-{seed}.pt"))
        names.append(f"ft-{seed}")
    return names, [load_model_state(str(folder / f"{n}.pt")) for n in names]


def test_batchnorm_statistics_that_differ_are_re_estimated_on_id_train_unless_switched_off(tmp_path):
    names, states = digits_models(tmp_path, "train")  # BN trained: each model's statistics its own
    settings = {**DIGITS, "candidates": ",".join(names), "models": str(tmp_path)}
    kept = run_trial("digits", "soup-uniform", {**settings, "bn_reestimate": False}).result
    redone = run_trial("digits", "soup-uniform", settings).result
    assert kept.diagnostics["bn"] == "averaged (bn_reestimate: false)"
    assert redone.diagnostics["bn"] == "re-estimated on ID train"
    bn = next(name for name, m in redone.model.named_modules() if isinstance(m, torch.nn.BatchNorm2d))
    mean = mean_of(states)
    torch.testing.assert_close(kept.model.state_dict()[f"{bn}.running_mean"], mean[f"{bn}.running_mean"])
    # Re-estimated: the mean and unbiased variance of that layer's inputs over all of ID train
    # (one batch), computed here with a hook on the soup's own weights.
    seen = []
    layer = dict(redone.model.named_modules())[bn]
    hook = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    benchmark = load_benchmark("digits", **DIGITS)
    backbone = build_backbone(*benchmark.default_backbone, benchmark)
    redone.model.eval()
    with torch.no_grad():
        for x, _ in batches(benchmark.train, backbone.inputs, benchmark, 256):
            redone.model(x)
    hook.remove()
    x = torch.cat(seen).transpose(0, 1).flatten(1)
    torch.testing.assert_close(layer.running_mean, x.mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(layer.running_var, x.var(1, unbiased=True), rtol=1e-4, atol=1e-5)
    for key, value in mean.items():  # the weights are the mean either way
        if key.endswith("weight") and "running" not in key:
            torch.testing.assert_close(redone.model.state_dict()[key], value)

    # Greedy with BatchNorm, given a ruined model first: ranked last, never kept; the soup is either
    # the best model itself (its own statistics) or the two good ones' uniform soup, re-estimated.
    # (its head negated: alone it ranks last, and averaged with its source its head is zero, so the
    # soup predicts one class whatever the image)
    ruined = {k: -v if k.startswith("head") else v for k, v in states[0].items()}
    torch.save(ruined, tmp_path / "ruined.pt")
    greedy = run_trial("digits", "soup-greedy", {**settings, "candidates": "ruined," + ",".join(names)}).result
    held = greedy.step_hparams[0]["ingredients"].split(",")
    assert greedy.diagnostics["best_ingredient_id_val"] > 0.2, greedy.diagnostics  # well above chance (0.1)
    assert "ruined" not in held and held[0] == greedy.diagnostics["best_ingredient"]
    expected = redone.model.state_dict() if len(held) == 2 else states[names.index(held[0])]
    for key, value in greedy.model.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=1e-5, atol=1e-6)


def test_batchnorm_statistics_the_same_in_every_ingredient_are_kept(tmp_path):
    """Ingredients fine-tuned with BN frozen (`bn: eval`) share the pretrained statistics: the
    soup keeps them (re-estimated on ID train, they would not be what its weights were trained with)."""
    names, states = digits_models(tmp_path, "eval")
    soup = run_trial("digits", "soup-uniform", {**DIGITS, "candidates": ",".join(names),
                                                "models": str(tmp_path)}).result
    assert soup.diagnostics["bn"].startswith("the ingredients' own (the same in all")
    stats = [k for k in states[0] if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(states[0][k], states[1][k]) for k in stats)
    for k in stats:
        torch.testing.assert_close(soup.model.state_dict()[k], states[0][k])
    assert soup.metrics(0)["id_val"] > 0.3  # a working model (re-estimated: near chance)
