"""Learning-rate curves in pure Python, and a small text plot of them, for ``show``.

The closed forms below are the ones torch's schedulers compute (torch is not imported):

- LinearLR(start_factor=s, total_iters=W):  lr * (s + (1 - s) * min(t, W) / W)
- CosineAnnealingLR(T_max=T, eta_min=m):    m + (lr - m) * (1 + cos(pi * t / T)) / 2
- StepLR(step_size=k, gamma=g):             lr * g ** (t // k)
- MultiStepLR(milestones=M, gamma=g):       lr * g ** (number of milestones <= t)
- ExponentialLR(gamma=g):                   lr * g ** t
- CosineAnnealingWarmRestarts(T_0, T_mult, eta_min): cosine within the current cycle
- ChainedScheduler(ExponentialLR(e), StepLR(k, g)): lr * e ** t * g ** (t // k)
- OneCycleLR and CyclicLR: their own closed forms, in optimizer steps
- ReduceLROnPlateau depends on the validation loss: no curve

``t`` counts scheduler steps. The training script steps most schedulers once per epoch, so
the value at ``t`` is the learning rate logged for epoch ``t + 1``; OneCycleLR and CyclicLR
step after every optimizer step, and the epoch's logged value is the one at its first step.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def linear_warmup_cosine(
    lr: float, epochs: int, warmup_epochs: int, start_factor: float, min_lr: float
) -> list[float]:
    """SequentialLR([LinearLR, CosineAnnealingLR], milestones=[warmup_epochs])."""
    rates = []
    cosine_epochs = epochs - warmup_epochs
    for t in range(epochs):
        if t < warmup_epochs:
            rates.append(lr * (start_factor + (1.0 - start_factor) * t / warmup_epochs))
        else:
            rates.append(cosine(lr, t - warmup_epochs, cosine_epochs, min_lr))
    return rates


def cosine(lr: float, t: int, t_max: int, min_lr: float) -> float:
    if t_max <= 0:
        return lr
    return min_lr + (lr - min_lr) * (1.0 + math.cos(math.pi * t / t_max)) / 2.0


def step(lr: float, epochs: int, step_size: int, gamma: float) -> list[float]:
    return [lr * gamma ** (t // step_size) for t in range(epochs)]


def multistep(lr: float, epochs: int, milestones: Sequence[int], gamma: float) -> list[float]:
    ordered = sorted(milestones)
    return [lr * gamma ** bisect.bisect_right(ordered, t) for t in range(epochs)]


def exponential(lr: float, epochs: int, gamma: float) -> list[float]:
    return [lr * gamma**t for t in range(epochs)]


def cosine_restarts(lr: float, epochs: int, t_0: int, t_mult: int, min_lr: float) -> list[float]:
    rates = []
    for t in range(epochs):
        if t_mult == 1:
            t_cur, t_i = t % t_0, t_0
        else:
            n = int(math.log(t / t_0 * (t_mult - 1) + 1, t_mult))
            t_cur = t - t_0 * (t_mult**n - 1) // (t_mult - 1)
            t_i = t_0 * t_mult**n
            if t_cur >= t_i:  # guard against log() rounding just below a cycle boundary
                t_cur, t_i = t_cur - t_i, t_i * t_mult
        rates.append(min_lr + (lr - min_lr) * (1.0 + math.cos(math.pi * t_cur / t_i)) / 2.0)
    return rates


def onecycle(max_lr: float, total_steps: int, steps: Sequence[int]) -> list[float]:
    """OneCycleLR(max_lr, total_steps) with its defaults (cos, pct_start 0.3, div 25, 1e4)."""
    initial = max_lr / 25.0
    final = initial / 1e4
    phases = [(0.3 * total_steps - 1, initial, max_lr), (total_steps - 1, max_lr, final)]
    rates = []
    for t in steps:
        start = 0.0
        for i, (end, lr_from, lr_to) in enumerate(phases):
            if t <= end or i == len(phases) - 1:
                pct = (t - start) / (end - start)
                rates.append(lr_to + (lr_from - lr_to) / 2.0 * (math.cos(math.pi * pct) + 1))
                break
            start = end
    return rates


def cyclic(base_lr: float, max_lr: float, step_size_up: int, steps: Sequence[int]) -> list[float]:
    """CyclicLR(base_lr, max_lr, step_size_up), mode 'triangular' (the default)."""
    total = 2.0 * step_size_up
    rates = []
    for t in steps:
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        scale = x / 0.5 if x <= 0.5 else (x - 1) / (0.5 - 1)
        rates.append(base_lr + (max_lr - base_lr) * scale)
    return rates


def steps_per_epoch(values: Mapping[str, Any]) -> int:
    """Optimizer steps per epoch of the generated script with these defaults (one process,
    all batches): ceil(train_size / batch_size), divided by accumulation steps if any."""
    batches = math.ceil(int(values["train-size"]) / int(values["batch-size"]))
    return math.ceil(batches / int(values.get("accum-steps", 1)))


def _get(values: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in values:
            return values[name]
    raise KeyError(names[0])


def no_decay_warning(recipes: Sequence[str], values: Mapping[str, Any]) -> str:
    """A warning when warmup's values leave no epoch to the cosine decay, else ''.

    The first cosine epoch trains at the full lr, so with --epochs <= --warmup-epochs + 1
    the learning rate never decays (the generated script says the same when it starts)."""
    epochs, warmup = values.get("epochs"), values.get("warmup-epochs")
    if "warmup" not in recipes or not isinstance(epochs, int) or not isinstance(warmup, int):
        return ""
    if epochs > warmup + 1:
        return ""
    return (
        f"warning: --epochs {epochs} with --warmup-epochs {warmup}: the learning rate never "
        f"decays (the cosine decay begins after epoch {warmup + 1}); use --epochs {warmup + 2} "
        "or more"
    )


Curve = tuple[list[float], str]  # the learning rate of each epoch, and a caption


def _warmup_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    warmup = int(_get(values, "warmup-epochs"))
    start = float(_get(values, "warmup-start-factor"))
    min_lr = float(_get(values, "min-lr"))
    caption = f"linear warmup from {start:g} x lr over {warmup} epochs"
    if warmup < epochs:
        caption += f", then cosine to {min_lr:g} over {epochs - warmup}"
    return linear_warmup_cosine(lr, epochs, warmup, start, min_lr), caption


def _step_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    size, gamma = int(_get(values, "step-size")), float(_get(values, "gamma"))
    return step(lr, epochs, size, gamma), f"StepLR: x{gamma:g} every {size} epochs"


def _multistep_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    milestones = [int(m) for m in _get(values, "milestones")]
    gamma = float(_get(values, "gamma"))
    shown = ",".join(str(m) for m in milestones)
    return multistep(lr, epochs, milestones, gamma), f"MultiStepLR: x{gamma:g} at {shown}"


def _exponential_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    gamma = float(_get(values, "exp-gamma"))
    return exponential(lr, epochs, gamma), f"ExponentialLR: x{gamma:g} every epoch"


def _chained_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    exp_gamma = float(_get(values, "exp-gamma"))
    size, gamma = int(_get(values, "step-size")), float(_get(values, "gamma"))
    rates = [lr * exp_gamma**t * gamma ** (t // size) for t in range(epochs)]
    return rates, f"ChainedScheduler: x{exp_gamma:g} every epoch and x{gamma:g} every {size}"


def _cosine_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    min_lr = float(_get(values, "min-lr"))
    rates = [cosine(lr, t, epochs, min_lr) for t in range(epochs)]
    return rates, f"CosineAnnealingLR: to {min_lr:g} over {epochs} epochs"


def _restarts_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    t_0, t_mult = int(_get(values, "t0")), int(_get(values, "t-mult"))
    min_lr = float(_get(values, "min-lr"))
    caption = f"CosineAnnealingWarmRestarts: first cycle {t_0} epochs, x{t_mult} each restart"
    return cosine_restarts(lr, epochs, t_0, t_mult, min_lr), caption


def _per_step(values: Mapping[str, Any], epochs: int) -> tuple[int, list[int], str]:
    """Optimizer steps per epoch, the step each epoch starts at, and how that is sampled."""
    per_epoch = steps_per_epoch(values)
    where = f"at the start of each epoch, {per_epoch} optimizer steps per epoch"
    return per_epoch, [e * per_epoch for e in range(epochs)], where


def _onecycle_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    per_epoch, starts, where = _per_step(values, epochs)
    max_lr = float(_get(values, "max-lr"))
    return onecycle(max_lr, epochs * per_epoch, starts), f"OneCycleLR up to {max_lr:g}, {where}"


def _cyclic_curve(values: Mapping[str, Any], lr: float, epochs: int) -> Curve:
    per_epoch, starts, where = _per_step(values, epochs)
    base, top = float(_get(values, "base-lr")), float(_get(values, "max-lr"))
    up = int(_get(values, "cycle-epochs")) * per_epoch
    return cyclic(base, top, up, starts), f"CyclicLR {base:g}-{top:g}, {where}"


# lr-schedule's --kind values with a closed form (plateau depends on the validation loss)
_SCHEDULE_CURVES: dict[str, Callable[[Mapping[str, Any], float, int], Curve]] = {
    "step": _step_curve,
    "multistep": _multistep_curve,
    "exponential": _exponential_curve,
    "chained": _chained_curve,
    "cosine": _cosine_curve,
    "cosine-restarts": _restarts_curve,
    "onecycle": _onecycle_curve,
    "cyclic": _cyclic_curve,
}


def lr_curve(recipe: str, values: Mapping[str, Any]) -> tuple[list[float] | None, str]:
    """The learning rate of each epoch for a warmup or lr-schedule render, and a caption.

    `values` are the render's parameter values by name (``warmup-epochs``, ``lr``, ...).
    Returns (None, note) when the schedule has no closed form (it depends on the run).
    """
    lr = float(values["lr"])
    epochs = int(values["epochs"])
    kind = str(values.get("kind", ""))
    curve = _warmup_curve if recipe == "warmup" else _SCHEDULE_CURVES.get(kind)
    if curve is None:
        note = f"(no curve for --kind {kind}: it depends on the run, not only on the epoch)"
        return None, note if kind else ""
    try:
        return curve(values, lr, epochs)
    except KeyError as missing:
        return None, f"(no curve: this recipe has no parameter {missing.args[0]!r})"


def _short(value: float) -> str:
    return f"{value:.3g}"


def text_plot(rates: Sequence[float], *, width: int = 60, height: int = 12) -> str:
    """A plot of one value per epoch: `height` rows of `width` columns, axes labelled."""
    if not rates:
        return ""
    top, bottom = max(rates), min(rates)
    span = top - bottom
    epochs = len(rates)
    columns = max(1, min(width, epochs * max(1, width // epochs)))
    grid = [[" "] * columns for _ in range(height)]
    for column in range(columns):
        value = rates[column * epochs // columns]
        level = 0 if span <= 0 else round((value - bottom) / span * (height - 1))
        grid[height - 1 - level][column] = "*"
    labels = [_short(top)] + [""] * (height - 2) + [_short(bottom)] if height > 1 else [_short(top)]
    pad = max(len(label) for label in labels)
    lines = [
        f"{label:>{pad}} |{''.join(row).rstrip()}" for label, row in zip(labels, grid, strict=True)
    ]
    lines.append(" " * pad + " +" + "-" * columns)
    last = f"epoch {epochs}"
    first = "1"
    lines.append(" " * (pad + 2) + first + last.rjust(max(columns - len(first), len(last) + 1)))
    return "\n".join(lines)
