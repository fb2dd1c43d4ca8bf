"""Learning-rate curves (snippetgen.lookup.lrplot): the rates `show` prints and plots for
warmup and lr-schedule are the rates torch's own schedulers give, step by step."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import load_module, read_metrics, write_script
from snippetgen.codegen.rendering import RenderRequest, plan
from snippetgen.lookup import lrplot
from snippetgen.recipes.catalog import load_catalog

CATALOG = load_catalog()


def _torch_rates(make, steps: int, lr: float = 0.1) -> list[float]:
    """The LR in effect at each of `steps` scheduler steps, from torch itself."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=lr, momentum=0.9)
    scheduler = make(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


S = torch.optim.lr_scheduler
CLOSED_FORMS = {
    "warmup": (
        lambda o: S.SequentialLR(
            o,
            [
                S.LinearLR(o, start_factor=0.2, total_iters=4),
                S.CosineAnnealingLR(o, T_max=11, eta_min=0.001),
            ],
            milestones=[4],
        ),
        lambda n: lrplot.linear_warmup_cosine(0.1, n, 4, 0.2, 0.001),
    ),
    "step": (lambda o: S.StepLR(o, step_size=4, gamma=0.5), lambda n: lrplot.step(0.1, n, 4, 0.5)),
    "multistep": (
        lambda o: S.MultiStepLR(o, milestones=[3, 9], gamma=0.1),
        lambda n: lrplot.multistep(0.1, n, [9, 3], 0.1),
    ),
    "exponential": (
        lambda o: S.ExponentialLR(o, gamma=0.9),
        lambda n: lrplot.exponential(0.1, n, 0.9),
    ),
    "cosine": (
        lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=0.01),
        lambda n: [lrplot.cosine(0.1, t, 15, 0.01) for t in range(n)],
    ),
    "restarts-1": (
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=1, eta_min=0.01),
        lambda n: lrplot.cosine_restarts(0.1, n, 4, 1, 0.01),
    ),
    "restarts-2": (
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.0),
        lambda n: lrplot.cosine_restarts(0.1, n, 2, 2, 0.0),
    ),
    "onecycle": (
        lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=16),
        lambda n: lrplot.onecycle(0.3, 16, range(n)),
    ),
    "cyclic": (
        lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=3, cycle_momentum=False),
        lambda n: lrplot.cyclic(0.01, 0.2, 3, range(n)),
    ),
}


@pytest.mark.parametrize("kind", list(CLOSED_FORMS))
def test_closed_forms_equal_torch_schedulers(kind):
    make, ours = CLOSED_FORMS[kind]
    expected = _torch_rates(make, 15)
    assert ours(15) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_multistep_example_from_the_notes():
    rates, _ = lrplot.lr_curve(
        "lr-schedule",
        {"lr": 0.1, "epochs": 80, "kind": "multistep", "milestones": [50, 70], "gamma": 0.1},
    )
    assert (
        rates[49] == 0.1 and rates[50] == pytest.approx(0.01) and rates[70] == pytest.approx(0.001)
    )


TINY = ["--train-size", "24", "--batch-size", "8", "--val-size", "8"]  # 3 optimizer steps per epoch


def _logged_vs_curve(tmp_path, recipe: str, given: dict, script_args: list[str]):
    script = write_script(tmp_path, recipe, given)
    out = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
    load_module(script).main([*script_args, *TINY, "--output-dir", str(out)])
    logged = [row["lr"] for row in read_metrics(out)]
    values = dict(plan(RenderRequest(recipe, given), CATALOG).values)
    values.update({"train-size": 24, "batch-size": 8})
    for i in range(0, len(script_args), 2):
        name = script_args[i][2:]
        param = values.get(name)
        raw = script_args[i + 1]
        values[name] = (
            [int(v) for v in raw.split(",")] if isinstance(param, list) else type(param)(raw)
        )
    curve, caption = lrplot.lr_curve(recipe, values)
    return logged, curve, caption


def test_warmup_curve_is_what_the_script_logs(tmp_path):
    given = {
        "epochs": 9,
        "warmup-epochs": 3,
        "warmup-start-factor": 0.2,
        "min-lr": 0.001,
        "lr": 0.1,
    }
    logged, curve, _ = _logged_vs_curve(tmp_path, "warmup", given, [])
    assert curve is not None and logged == pytest.approx(curve, rel=1e-9)
    assert curve[0] == pytest.approx(0.02) and curve[3] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kind",
    [
        "step",
        "multistep",
        "exponential",
        "chained",
        "cosine",
        "cosine-restarts",
        "onecycle",
        "cyclic",
    ],
)
def test_lr_schedule_curve_is_what_the_script_logs(tmp_path, kind):
    given = {
        "epochs": 7,
        "lr": 0.1,
        "step-size": 2,
        "milestones": [2, 5],
        "t0": 2,
        "cycle-epochs": 1,
    }
    logged, curve, _ = _logged_vs_curve(tmp_path, "lr-schedule", given, ["--kind", kind])
    assert curve is not None and logged == pytest.approx(curve, rel=1e-9), kind


def test_show_draws_the_warmup_curve(cli):
    code, out, err = cli(
        "show", "warmup", "--warmup-epochs", "3", "--epochs", "20", "--color", "never"
    )
    assert code == 0 and err == ""
    section = out.split("Learning rate per epoch")[1].split("\n\n")[0]
    rows = [line for line in section.splitlines() if "|" in line]
    assert len(rows) == 12
    plot = [row.split("|", 1)[1] for row in rows]
    assert max(len(p) for p in plot) <= 60
    assert plot[0].index("*") == 9  # the peak: epoch 4 of 20, three columns per epoch
    assert plot[-1].rstrip().endswith("*")  # the end of the cosine, at the bottom
    assert "epochs 1-6: 0.005, 0.02, 0.035, 0.05," in section


def test_plateau_has_no_curve_but_says_why(cli):
    code, out, _ = cli("show", "lr-schedule", "--kind", "plateau", "--color", "never")
    assert (
        code == 0 and "no curve for --kind plateau" in out and "*" not in out.split("Pitfalls:")[0]
    )


def test_text_plot_puts_one_point_per_column():
    rates = [math.sin(t / 3) for t in range(25)]
    lines = lrplot.text_plot(rates, width=60, height=12).splitlines()
    assert len(lines) == 14  # 12 rows, the axis and its labels
    grid = [line.split("|", 1)[1].ljust(50) for line in lines[:12]]
    columns = ["".join(row[c] for row in grid) for c in range(50)]
    assert all(column.count("*") == 1 for column in columns)
    top = max(range(25), key=lambda t: rates[t])
    assert grid[0][top * 2] == "*" and grid[-1][rates.index(min(rates)) * 2] == "*"
