"""swa and ema: the averaged models are the averages they claim to be.

The generated scripts run on tiny data; a thin subclass of the script's AveragedModel
records the model it is given at every update (the real update then runs), and a wrapper
around update_bn keeps the batches it saw, so the test can recompute every average and
every BatchNorm statistic by hand.
"""

from __future__ import annotations

import pytest
import torch
from torch.optim import lr_scheduler
from torch.optim.swa_utils import SWALR

from helpers import load_module, read_metrics, run_script, state_equal, write_script
from snippetgen import load_catalog
from snippetgen.codegen.rendering import RenderRequest, render
from snippetgen.errors import ConflictError

# 64 samples in batches of 16, capped at 3 batches: 3 optimizer steps per epoch
FAST = ["--train-size", "64", "--val-size", "32", "--batch-size", "16", "--max-batches", "3"]
STEPS = 3
LR = 0.05
BN_STATS = ("running_mean", "running_var")


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


def record_averaging(mod) -> list:
    """Make the script's AveragedModel keep, per instance, the model state at every update
    (`inputs`) and its own averaged state right after it (`outputs`)."""
    instances = []

    class Recording(mod.AveragedModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.inputs, self.outputs = [], []
            instances.append(self)

        def update_parameters(self, model):
            self.inputs.append(snapshot(model))
            super().update_parameters(model)
            self.outputs.append(snapshot(self.module))

    mod.AveragedModel = Recording
    return instances


def evaluate_file(mod, path, *extra: str) -> dict[str, float]:
    """Load a saved state_dict into build_model(args) and evaluate it on the validation set."""
    args = mod.parse_args([*FAST, *extra])
    model = mod.build_model(args)
    model.load_state_dict(torch.load(path, weights_only=True))
    _, val_dataset = mod.build_datasets(args)
    loader = mod.make_loader(val_dataset, args, torch.device("cpu"), shuffle=False)
    return mod.evaluate(model, loader, mod.build_criterion(args), torch.device("cpu"))


def has_recipe(name: str) -> bool:
    return name in load_catalog().recipes


# --- swa ------------------------------------------------------------------------------------


def test_swa_is_the_mean_of_its_snapshots_and_update_bn_recomputes_bn(tmp_path):
    epochs, start = 5, 2
    mod = load_module(
        write_script(tmp_path, "swa", {"epochs": epochs, "swa-start": start, "swa-lr": 0.02})
    )
    instances = record_averaging(mod)
    bn_passes = []
    real_update_bn = mod.update_bn

    def update_bn(loader, model, device=None):
        batches = list(loader)
        before = snapshot(model.module)
        real_update_bn(batches, model, device=device)
        bn_passes.append((batches, before, snapshot(model.module)))

    mod.update_bn = update_bn
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), *FAST])

    (swa,) = instances
    # one update per epoch from --swa-start on
    assert len(swa.inputs) == epochs - start == int(swa.n_averaged)
    # the SWA weights are the plain mean of the snapshots
    for name, _ in swa.module.named_parameters():
        mean = torch.stack([s[name] for s in swa.inputs]).mean(dim=0)
        torch.testing.assert_close(swa.module.state_dict()[name], mean, rtol=1e-5, atol=1e-6)
        assert not torch.equal(swa.inputs[0][name], swa.inputs[-1][name])  # they did move

    # update_bn ran once, over this epoch's training batches, and recomputed the BN stats
    (batches, before, after) = bn_passes[0]
    assert len(batches) == STEPS
    bn_keys = [k for k in after if k.endswith(BN_STATS)]
    assert bn_keys
    for key in bn_keys:
        # AveragedModel only copies the last snapshot's buffers, it does not average them ...
        assert torch.equal(before[key], swa.inputs[-1][key])
        # ... and the statistics of the averaged weights are not the snapshots' average either
        average = torch.stack([s[key] for s in swa.inputs]).mean(dim=0)
        assert not torch.allclose(after[key], average, rtol=1e-3, atol=1e-4), key
    # a manual pass gives the same statistics: reset, cumulative average over the batches
    args = mod.parse_args([*FAST])
    manual = mod.build_model(args)
    manual.load_state_dict(after)
    for module in manual.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    manual.train()
    with torch.no_grad():
        for inputs, _ in batches:
            manual(inputs)
    manual_state = manual.state_dict()
    for key in bn_keys:
        torch.testing.assert_close(manual_state[key], after[key], rtol=1e-5, atol=1e-6)
    assert all(
        manual_state[k] == len(batches) for k in manual_state if k.endswith("num_batches_tracked")
    )

    # swa_model.pt is the averaged network's plain state_dict, and the metric is its evaluation
    saved = torch.load(out / "swa_model.pt", weights_only=True)
    assert state_equal(saved, snapshot(swa.module))
    assert saved.keys() == mod.build_model(args).state_dict().keys()
    last = history[-1]
    result = evaluate_file(mod, out / "swa_model.pt")
    assert (last["swa_val_loss"], last["swa_val_acc"]) == pytest.approx(
        (result["val_loss"], result["val_acc"])
    )
    assert all("swa_val_acc" not in row for row in history[:-1])
    assert read_metrics(out) == history

    # the LR: constant until the first SWA epoch ends, then SWALR (torch's own sequence)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR, momentum=0.9)
    reference = SWALR(optimizer, swa_lr=0.02, anneal_epochs=1, anneal_strategy="cos")
    sequence = []
    for epoch in range(epochs):
        sequence.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if epoch >= start:
            reference.step()
    assert [row["lr"] for row in history] == sequence == pytest.approx([LR, LR, LR, 0.02, 0.02])


def test_swa_after_warmup_hands_the_lr_over_to_swalr(tmp_path):
    epochs, warmup, start = 6, 2, 3
    script = write_script(
        tmp_path,
        "swa",
        {"epochs": epochs, "swa-start": start, "swa-anneal-epochs": 2},
        with_=("warmup",),
    )
    mod = load_module(script)
    history = mod.main(["--output-dir", str(tmp_path / "run"), *FAST])
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR, momentum=0.9)
    schedule = lr_scheduler.SequentialLR(
        optimizer,
        [
            lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup),
            lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs - warmup),
        ],
        milestones=[warmup],
    )
    swalr = SWALR(optimizer, swa_lr=0.01, anneal_epochs=2, anneal_strategy="cos")
    sequence = []
    for epoch in range(epochs):
        sequence.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        (swalr if epoch >= start else schedule).step()
    logged = [row["lr"] for row in history]
    assert logged == sequence
    assert logged[0] == pytest.approx(LR * 0.1) and logged[2] == pytest.approx(LR)
    assert logged[-1] == pytest.approx(0.01)  # annealed to --swa-lr in 2 epochs
    assert "swa_val_acc" in history[-1]


def test_swa_resume_continues_the_average_bit_identically(tmp_path):
    if not has_recipe("checkpoint"):
        pytest.skip("the checkpoint recipe is not in this catalog")
    mod = load_module(write_script(tmp_path, "swa", {"swa-start": 1}, with_=("checkpoint",)))

    def run(out, epochs, *extra):
        return mod.main(["--output-dir", str(out), "--epochs", str(epochs), *FAST, *extra])

    straight = run(tmp_path / "straight", 4)
    first = run(tmp_path / "resumed", 2)  # its last epoch ran update_bn and an evaluation
    assert "swa_val_acc" in first[-1]
    rest = run(tmp_path / "resumed", 4, "--resume")
    assert rest == straight[2:]
    for name in ("model.pt", "swa_model.pt"):
        a = torch.load(tmp_path / "straight" / name, weights_only=True)
        b = torch.load(tmp_path / "resumed" / name, weights_only=True)
        assert state_equal(a, b), name
    last = torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)
    assert int(last["swa_model"]["n_averaged"]) == 3 and last["swa_scheduler"]["_step_count"] == 4


def test_swa_stopped_early_still_finishes_and_saves(tmp_path, capsys):
    if not has_recipe("early-stopping"):
        pytest.skip("the early-stopping recipe is not in this catalog")
    script = write_script(tmp_path, "swa", {"epochs": 5, "swa-start": 0}, with_=("early-stopping",))
    mod = load_module(script)
    out = tmp_path / "run"
    # no later epoch can beat the first by 10: the run stops after epoch 2
    history = mod.main(["--output-dir", str(out), *FAST, "--patience", "1", "--min-delta", "10"])
    assert len(history) == 2
    assert "swa_val_loss" in capsys.readouterr().out
    result = evaluate_file(mod, out / "swa_model.pt")
    assert 0 <= result["val_acc"] <= 1


def test_swa_start_past_the_end_warns_and_writes_no_swa_model(tmp_path, capsys):
    mod = load_module(write_script(tmp_path, "swa", {"epochs": 2, "swa-start": 2}))
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), *FAST])
    err = capsys.readouterr().err
    assert "no epoch is averaged" in err and "no swa_model.pt" in err
    assert not (out / "swa_model.pt").exists() and (out / "model.pt").exists()
    assert [row["lr"] for row in history] == [LR, LR]


def test_swa_and_lr_schedule_are_declared_conflicting():
    with pytest.raises(ConflictError) as info:
        render(RenderRequest("swa", with_=["lr-schedule"]))
    assert "SWALR" in str(info.value)


# --- ema ------------------------------------------------------------------------------------


def closed_form_ema(snapshots: list[torch.Tensor], decay: float) -> torch.Tensor:
    """d^t s_0 + sum_{i=1..t} (1 - d) d^(t-i) s_i: the first snapshot is copied, not blended."""
    t = len(snapshots) - 1
    weights = [decay**t] + [(1 - decay) * decay ** (t - i) for i in range(1, t + 1)]
    return sum(w * s.double() for w, s in zip(weights, snapshots, strict=True))


def test_ema_is_the_closed_form_exponential_average_after_every_step(tmp_path):
    epochs, decay = 2, 0.9
    mod = load_module(write_script(tmp_path, "ema", {"epochs": epochs}))
    instances = record_averaging(mod)
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), *FAST, "--decay", str(decay)])

    (ema,) = instances
    assert len(ema.inputs) == int(ema.n_averaged) == epochs * STEPS  # once per optimizer step
    floats = [k for k, v in ema.inputs[0].items() if v.is_floating_point()]
    assert any(k.endswith("running_mean") for k in floats)  # BN buffers are averaged too
    for t in range(len(ema.inputs)):
        for key in floats:
            expected = closed_form_ema([s[key] for s in ema.inputs[: t + 1]], decay)
            torch.testing.assert_close(ema.outputs[t][key].double(), expected, rtol=1e-5, atol=1e-6)
    assert all(torch.equal(ema.outputs[0][k], ema.inputs[0][k]) for k in floats)  # copied
    final_model = torch.load(out / "model.pt", weights_only=True)
    assert not torch.allclose(ema.outputs[-1]["fc.weight"], final_model["fc.weight"])
    # the EMA only watches: the same run without it trains bit-identical weights
    plain = load_module(write_script(tmp_path, "train", {"epochs": epochs}))
    plain_history = plain.main(["--output-dir", str(tmp_path / "plain"), *FAST])
    assert state_equal(torch.load(tmp_path / "plain" / "model.pt", weights_only=True), final_model)
    assert [row["train_loss"] for row in plain_history] == [row["train_loss"] for row in history]

    # ema_model.pt is the plain state_dict of the averaged network
    saved = torch.load(out / "ema_model.pt", weights_only=True)
    assert saved.keys() == final_model.keys()
    assert state_equal(saved, ema.outputs[-1])
    # every epoch records the EMA model's evaluation; the last one is the saved file's
    assert all({"ema_val_loss", "ema_val_acc"} <= row.keys() for row in history)
    result = evaluate_file(mod, out / "ema_model.pt")
    assert (history[-1]["ema_val_loss"], history[-1]["ema_val_acc"]) == pytest.approx(
        (result["val_loss"], result["val_acc"])
    )


def test_ema_counts_optimizer_steps_under_grad_accumulation(tmp_path):
    if not has_recipe("grad-accumulation"):
        pytest.skip("the grad-accumulation recipe is not in this catalog")
    script = write_script(tmp_path, "ema", {"epochs": 2}, with_=("grad-accumulation",))
    mod = load_module(script)
    instances = record_averaging(mod)
    steps_taken = []
    original_optimizer = mod.build_optimizer

    def build_optimizer(model, args):
        optimizer = original_optimizer(model, args)
        optimizer.register_step_post_hook(lambda *_: steps_taken.append(len(instances[0].inputs)))
        return optimizer

    mod.build_optimizer = build_optimizer
    mod.main(["--output-dir", str(tmp_path / "run"), *FAST, "--accum-steps", "2", "--decay", "0.9"])
    (ema,) = instances
    # 3 micro-batches per epoch in groups of 2: 2 optimizer steps, each followed by one update
    assert int(ema.n_averaged) == len(steps_taken) == 2 * 2
    assert steps_taken == [0, 1, 2, 3]  # the update comes right after its optimizer step


def test_ema_resume_continues_the_average_bit_identically(tmp_path):
    if not has_recipe("checkpoint"):
        pytest.skip("the checkpoint recipe is not in this catalog")
    mod = load_module(write_script(tmp_path, "ema", {"decay": 0.9}, with_=("checkpoint",)))

    def run(out, epochs, *extra):
        return mod.main(["--output-dir", str(out), "--epochs", str(epochs), *FAST, *extra])

    straight = run(tmp_path / "straight", 3)
    assert run(tmp_path / "resumed", 1) == straight[:1]
    assert run(tmp_path / "resumed", 3, "--resume") == straight[1:]
    for name in ("model.pt", "ema_model.pt"):
        a = torch.load(tmp_path / "straight" / name, weights_only=True)
        b = torch.load(tmp_path / "resumed" / name, weights_only=True)
        assert state_equal(a, b), name
    last = torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)
    assert int(last["ema_model"]["n_averaged"]) == 3 * STEPS


def test_ema_and_swa_script_runs_as_a_program(tmp_path):
    script = write_script(tmp_path, "ema", {"epochs": 2, "decay": 0.9}, with_=("swa",))
    proc = run_script(script, "--output-dir", "out", "--swa-start", "1", *FAST)
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    rows = read_metrics(tmp_path / "out")
    assert len(rows) == 2 and "ema_val_acc" in rows[0] and "swa_val_acc" in rows[-1]
    mod = load_module(script)
    args = mod.parse_args([])
    for name in ("ema_model.pt", "swa_model.pt"):
        mod.build_model(args).load_state_dict(
            torch.load(tmp_path / "out" / name, weights_only=True)
        )
