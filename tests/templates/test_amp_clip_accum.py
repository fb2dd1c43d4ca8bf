"""amp, grad-clip and grad-accumulation: run the generated training loop and check each claim."""

from __future__ import annotations

import math
import textwrap

import pytest
import torch
from torch import nn

from helpers import load_module, read_metrics, run_script, write_script
from snippetgen.errors import ParamValueError

FAST = ["--train-size", "64", "--val-size", "32", "--batch-size", "16"]
SCALE = 65536.0  # GradScaler's initial scale


def wrap_build_model(mod, on_model):
    """Call on_model(model) on the model main() builds (to add hooks or take snapshots)."""
    original = mod.build_model

    def build_model(args):
        model = original(args)
        on_model(model)
        return model

    mod.build_model = build_model


def watch_grad_norms(mod, steps):
    """Record, for every optimizer step, the global gradient norm right after backward
    (`raw`: as backward left it, scaled under float16 AMP) and the one the optimizer
    applies (`applied`: after unscaling and clipping)."""
    raw = {}

    def on_model(model):
        for param in model.parameters():
            param.register_post_accumulate_grad_hook(
                lambda p: raw.__setitem__(id(p), p.grad.detach().double().pow(2).sum().item())
            )

    def step_pre_hook(optimizer, _args, _kwargs):
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        applied = math.sqrt(sum(g.double().pow(2).sum().item() for g in grads))
        steps.append({"raw": math.sqrt(sum(raw.values())), "applied": applied})
        raw.clear()

    original = mod.build_optimizer

    def build_optimizer(model, args):
        optimizer = original(model, args)
        optimizer.register_step_pre_hook(step_pre_hook)
        return optimizer

    wrap_build_model(mod, on_model)
    mod.build_optimizer = build_optimizer


# ---------------------------------------------------------------------------------- amp


def test_autocast_forward_is_bfloat16_and_loss_float32(tmp_path):
    mod = load_module(write_script(tmp_path, "amp", {"epochs": 1}))
    dtypes = {"outputs": [], "loss": []}

    def record_dtype(key):
        def hook(_module, _inputs, output):
            if torch.is_grad_enabled():  # training steps only, not evaluation
                dtypes[key].append(output.dtype)

        return hook

    wrap_build_model(mod, lambda model: model.register_forward_hook(record_dtype("outputs")))
    build_criterion = mod.build_criterion

    def criterion_hook(args, train_dataset=None):
        criterion = build_criterion(args, train_dataset)
        criterion.register_forward_hook(record_dtype("loss"))
        return criterion

    mod.build_criterion = criterion_hook
    out = tmp_path / "run"
    mod.main(["--output-dir", str(out), "--max-batches", "2", *FAST])
    assert dtypes == {"outputs": [torch.bfloat16] * 2, "loss": [torch.float32] * 2}
    # weights stay float32; bfloat16 needs no loss scaling, so no scale is logged
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["fc.weight"].dtype == torch.float32
    assert "grad_scale" not in read_metrics(out)[0]


@pytest.mark.parametrize("inject_inf", [True, False])
def test_float16_scaler_skips_a_step_with_inf_gradients_and_halves_its_scale(tmp_path, inject_inf):
    mod = load_module(write_script(tmp_path, "amp", {"dtype": "float16", "epochs": 1}))
    initial = {}

    def on_model(model):
        initial.update({n: p.detach().clone() for n, p in model.named_parameters()})
        if inject_inf:

            def poison(param):
                param.grad[0, 0] = math.inf

            model.fc.weight.register_post_accumulate_grad_hook(poison)

    wrap_build_model(mod, on_model)
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), "--max-batches", "2", *FAST])
    final = torch.load(out / "model.pt", weights_only=True)
    unchanged = [torch.equal(final[n], initial[n]) for n in initial]
    if inject_inf:  # both steps skipped: no parameter moved; the scale halved twice
        assert all(unchanged)
        assert history[0]["grad_scale"] == SCALE / 4
        assert math.isfinite(history[0]["train_loss"])
    else:  # the control: the same run without the inf trains and keeps its scale
        assert not any(unchanged)
        assert history[0]["grad_scale"] == SCALE


def test_amp_unscales_before_grad_clip_measures_and_clips(tmp_path):
    mod = load_module(
        write_script(
            tmp_path,
            "train",
            {"dtype": "float16", "max-norm": 0.05, "epochs": 1},
            with_=("amp", "grad-clip"),
        )
    )
    steps = []
    watch_grad_norms(mod, steps)
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), "--max-batches", "1", *FAST])
    [step] = steps
    [record] = history
    assert record["grad_norm_nonfinite"] == 0 and record["grad_scale"] == SCALE
    # backward left gradients multiplied by the scale; the logged norm is the unscaled one
    assert record["grad_norm"] == pytest.approx(step["raw"] / SCALE, rel=1e-4)
    assert record["grad_norm"] > 0.05  # so clipping did happen
    assert step["applied"] <= 0.05 + 1e-6  # and the step used unscaled, clipped gradients


def test_amp_refuses_an_unknown_dtype(tmp_path):
    with pytest.raises(ParamValueError):
        write_script(tmp_path, "amp", {"dtype": "float64"})


# ---------------------------------------------------------------------------- grad-clip


def test_clipped_norm_never_exceeds_max_norm_and_logged_norm_is_pre_clip(tmp_path):
    mod = load_module(write_script(tmp_path, "grad-clip", {"max-norm": 0.1, "epochs": 2}))
    steps = []
    watch_grad_norms(mod, steps)
    history = mod.main(["--output-dir", str(tmp_path / "run"), "--max-batches", "3", *FAST])
    assert len(steps) == 6
    assert all(s["applied"] <= 0.1 + 1e-6 for s in steps)
    assert any(s["raw"] > 0.1 for s in steps)  # clipping was active, not a no-op
    for record, epoch_steps in zip(history, (steps[:3], steps[3:]), strict=True):
        pre_clip = [s["raw"] for s in epoch_steps]
        assert record["grad_norm"] == pytest.approx(sum(pre_clip) / 3, rel=1e-5)
        assert record["grad_norm_max"] == pytest.approx(max(pre_clip), rel=1e-5)
        assert record["grad_norm_nonfinite"] == 0


def test_max_norm_must_be_positive(tmp_path):
    with pytest.raises(ParamValueError):
        write_script(tmp_path, "grad-clip", {"max-norm": 0})
    mod = load_module(write_script(tmp_path, "grad-clip", {}))
    with pytest.raises(SystemExit):
        mod.parse_args(["--max-norm", "-1"])


# -------------------------------------------------------------------- grad-accumulation


class TinyMLP(nn.Module):
    """No BatchNorm and no dropout: the gradient of a batch is then exactly the mean of its
    micro-batches' gradients. (BatchNorm normalises each micro-batch with its own statistics
    and dropout draws different masks, so SmallCNN's updates differ by more than rounding.)"""

    def __init__(self, num_classes, image_size):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(3 * image_size**2, 32), nn.ReLU())
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        return self.fc(self.body(x))


def train_tiny(tmp_path, name, *argv):
    mod = load_module(write_script(tmp_path, "grad-accumulation", {"epochs": 1}))
    mod.build_model = lambda args: TinyMLP(args.num_classes, args.image_size)
    out = tmp_path / name
    history = mod.main(
        [
            "--output-dir",
            str(out),
            "--image-size",
            "8",
            "--train-size",
            "48",
            "--val-size",
            "16",
            *argv,
        ]
    )
    return torch.load(out / "model.pt", weights_only=True), history


def test_k_micro_batches_update_like_one_batch_k_times_larger(tmp_path):
    # 48 samples: micro-batches of 8 with K=4 make optimizer steps of 4 and then 2 micro-batches;
    # batches of 32 make steps over the same samples (32, then 16), in the same shuffled order
    accumulated, acc_history = train_tiny(tmp_path, "k4", "--batch-size", "8", "--accum-steps", "4")
    large, large_history = train_tiny(tmp_path, "big", "--batch-size", "32", "--accum-steps", "1")
    for key in large:
        torch.testing.assert_close(accumulated[key], large[key], rtol=1e-5, atol=1e-6)
    # the reported loss is the plain per-sample mean, not divided by K
    assert acc_history[0]["train_loss"] == pytest.approx(large_history[0]["train_loss"], rel=1e-5)
    # the control: six plain steps on micro-batches of 8 end elsewhere
    plain, _ = train_tiny(tmp_path, "k1", "--batch-size", "8", "--accum-steps", "1")
    assert not torch.allclose(plain["fc.weight"], large["fc.weight"], atol=1e-4)


COUNTER = """\
{% macro setup() %}
after_step_calls = 0
{% endmacro %}

{% macro after_step() %}
after_step_calls += 1
{% endmacro %}

{% macro record() %}
record["after_step_calls"] = after_step_calls
{% endmacro %}
"""


def test_after_step_and_schedulers_count_optimizer_steps_not_micro_batches(tmp_path, monkeypatch):
    """A per-step feature (like EMA) sees one after_step per K micro-batches, and
    build_scheduler is told the number of optimizer steps per epoch."""
    root = tmp_path / "recipes"
    (root / "step-counter").mkdir(parents=True)
    (root / "step-counter" / "recipe.toml").write_text(
        textwrap.dedent("""\
        name = "step-counter"
        kind = "feature"
        title = "Count after_step calls"
        summary = "Test helper: records how often the after_step slot ran."
        order = 99
    """)
    )
    (root / "step-counter" / "feature.py.j2").write_text(COUNTER)
    monkeypatch.setenv("SNIPPETGEN_PATH", str(root))
    mod = load_module(
        write_script(
            tmp_path,
            "train",
            {"accum-steps": 4, "epochs": 2},
            with_=("grad-accumulation", "step-counter"),
        )
    )
    seen = {"optimizer_steps": 0}
    build_optimizer, build_scheduler = mod.build_optimizer, mod.build_scheduler

    def counted_optimizer(model, args):
        optimizer = build_optimizer(model, args)
        optimizer.register_step_post_hook(
            lambda *_: seen.__setitem__("optimizer_steps", seen["optimizer_steps"] + 1)
        )
        return optimizer

    def scheduler_spy(optimizer, args, steps_per_epoch=1):
        seen["steps_per_epoch"] = steps_per_epoch
        return build_scheduler(optimizer, args, steps_per_epoch)

    mod.build_optimizer, mod.build_scheduler = counted_optimizer, scheduler_spy
    # 10 batches per epoch, capped at 6 by --max-batches: steps after micro-batches 4 and 6
    history = mod.main(
        [
            "--output-dir",
            str(tmp_path / "run"),
            "--batch-size",
            "8",
            "--train-size",
            "80",
            "--val-size",
            "16",
            "--max-batches",
            "6",
        ]
    )
    assert seen["steps_per_epoch"] == 2
    assert seen["optimizer_steps"] == 4
    assert [r["after_step_calls"] for r in history] == [2, 4]


def test_accum_steps_must_be_a_positive_int(tmp_path):
    for bad in (0, 2.5):
        with pytest.raises(ParamValueError):
            write_script(tmp_path, "grad-accumulation", {"accum-steps": bad})


# -------------------------------------------------------------------------- all three


def test_amp_clip_and_accumulation_run_together_as_a_script(tmp_path):
    script = write_script(
        tmp_path,
        "train",
        {"dtype": "float16", "accum-steps": 2, "epochs": 2},
        with_=("grad-accumulation", "grad-clip", "amp"),
    )
    text = script.read_text()
    # gradients: scaled backward, unscale, clip, then the scaler's step, once per K micro-batches
    order = [
        text.index(s)
        for s in (
            "scaler.scale(loss).backward()",
            "if update:",
            "scaler.unscale_(optimizer)",
            "clip_grad_norm_(",
            "scaler.step(optimizer)",
        )
    ]
    assert order == sorted(order)
    run_script(script, "--output-dir", "out", "--max-batches", "4", *FAST)
    rows = read_metrics(tmp_path / "out")
    assert [r["epoch"] for r in rows] == [1, 2]
    for row in rows:
        assert row["grad_scale"] > 0 and row["grad_norm"] > 0
        assert row["grad_norm_nonfinite"] == 0
