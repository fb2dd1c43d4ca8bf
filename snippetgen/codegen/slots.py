"""The named slots of the training-script skeleton that features fill: one table.

A feature's ``feature.py.j2`` defines Jinja macros named after slots. This table is the
contract: the skeleton (``templates/train/feature.py.j2``) uses every slot and no other,
``show`` labels a slot's code with its ``place`` (and puts an expression slot's code in its
``statement``), and the slot table of ``docs/writing-recipes.md`` is :func:`markdown_table`
(``python -m snippetgen.codegen.slots`` prints it); tests/codegen/test_slots.py keeps the three in step.

Kinds: a ``multi`` slot collects every feature's code in feature order; a ``single`` slot
replaces the skeleton's default code and may be filled by one feature only (declare a
conflict between recipes that would both fill it); an ``expression`` slot is a single slot
whose code is one expression, put in the skeleton's ``statement``.
"""

from __future__ import annotations

from typing import NamedTuple


class Slot(NamedTuple):
    name: str
    kind: str  # "multi", "single" or "expression"
    place: str  # where its code goes in the training script (the comment above it in `show`)
    what: str  # what the code does and the names it may use (the docs' table)
    statement: str = ""  # expression slots: the statement the script puts `{code}` in

    @property
    def one_feature(self) -> bool:
        """Whether only one feature may fill it."""
        return self.kind != "multi"


_TABLE = (
    Slot(
        "imports", "multi", "imports", "extra import lines (two features' equal lines are merged)"
    ),
    Slot("helpers", "multi", "module level", "module-level functions and classes"),
    Slot(
        "arguments",
        "multi",
        "parse_args(): extra command-line options",
        "`parser`: hand-written `add_argument` lines beyond the declared parameters",
    ),
    Slot(
        "validate",
        "multi",
        "parse_args(): checks on the options",
        "`parser`, `args`: checks after parsing (use `parser.error`)",
    ),
    Slot("seed", "multi", "seed_everything()", "`seed`: seed further random number generators"),
    Slot("model", "multi", "build_model(), after the model is built", "`args`, `model`"),
    Slot(
        "criterion_setup",
        "multi",
        "build_criterion(), before the loss is built",
        "`args`, `train_dataset` (may be None): statements before the criterion is built",
    ),
    Slot(
        "criterion_kwargs",
        "multi",
        "build_criterion(): arguments of nn.CrossEntropyLoss",
        "keyword arguments, one per line, each ending with a comma",
    ),
    Slot(
        "param_groups",
        "single",
        "build_optimizer(): the parameter groups",
        "`model`, `args`: statements that assign `param_groups` (default: the parameters "
        "that require gradients)",
    ),
    Slot(
        "scheduler",
        "single",
        "build_scheduler()",
        "`optimizer`, `args`, `steps_per_epoch`: statements ending in `return <scheduler>` "
        "(default: return None)",
    ),
    Slot(
        "loader_kwargs",
        "multi",
        "make_loader(): DataLoader arguments",
        "`dataset`, `args`, `device`, `shuffle`: extra `DataLoader` keyword arguments, each "
        "ending with a comma",
    ),
    Slot(
        "setup",
        "multi",
        "main(), before training",
        "model, optimizer, scheduler, criterion and loaders exist; register state to "
        "checkpoint in the `stateful` dict",
    ),
    Slot(
        "resume",
        "single",
        "main(), before the first epoch",
        "may set `start_epoch`; runs after setup",
    ),
    Slot("train_mode", "multi", "each epoch, after model.train()", "`epoch` (0-based)"),
    Slot(
        "batch",
        "multi",
        "each batch, before the forward pass",
        "`inputs`, `targets` on the device; `step` (0-based in the epoch)",
    ),
    Slot(
        "sync_context",
        "expression",
        "around each batch's forward and backward passes",
        "a context manager around the forward and backward passes",
        "with {code}:\n    ...  # forward, loss and backward",
    ),
    Slot(
        "autocast",
        "expression",
        "around the forward pass",
        "the context manager for the forward pass and the loss",
        "with {code}:\n    ...  # the forward pass and the loss",
    ),
    Slot(
        "loss",
        "multi",
        "each batch, after the loss",
        "adjust `loss` (the reported loss) with `outputs`, `targets`",
    ),
    Slot(
        "objective",
        "multi",
        "each batch, terms added to the loss before backward",
        "extra terms or scaling of `loss` that are not reported",
    ),
    Slot("backward", "single", "each batch: the backward pass", "default: `loss.backward()`"),
    Slot(
        "step_condition",
        "expression",
        "whether this batch ends an optimizer step",
        "whether this micro-batch ends an optimizer step (default: every batch does)",
        "if {code}:\n    ...  # the optimizer step",
    ),
    Slot(
        "before_step",
        "multi",
        "each step, before optimizer.step()",
        "gradients are ready, e.g. clipping",
    ),
    Slot("optimizer_step", "single", "the optimizer step", "default: `optimizer.step()`"),
    Slot(
        "after_step",
        "multi",
        "each step, after optimizer.step()",
        "after each optimizer step, e.g. an EMA update or a per-step scheduler",
    ),
    Slot(
        "epoch_stats",
        "multi",
        "end of epoch: training statistics",
        "add to `train_stats` (a dict of floats)",
    ),
    Slot(
        "record",
        "multi",
        "end of epoch: the metrics record",
        "add fields to `record` (it has epoch, train_loss, val_loss, val_acc, lr) before it "
        "is written",
    ),
    Slot(
        "scheduler_step",
        "single",
        "end of epoch: the scheduler step",
        "default: `scheduler.step()` when a scheduler exists",
    ),
    Slot(
        "epoch_end",
        "multi",
        "end of epoch, after metrics are written",
        "checkpoints, early stopping (`break`)",
    ),
    Slot("finish", "multi", "after the last epoch", "after the loop, before model.pt is written"),
    Slot(
        "eval_setup",
        "multi",
        "evaluate(), before the loop",
        "`model`, `loader`, `criterion`, `device`",
    ),
    Slot("eval_batch", "multi", "evaluate(), each batch", "`outputs`, `targets`, `predictions`"),
    Slot("eval_result", "multi", "evaluate(): the result", "add to the `result` dict"),
)

SLOTS: dict[str, Slot] = {slot.name: slot for slot in _TABLE}


def markdown_table() -> str:
    """The slot table of docs/writing-recipes.md, in the order the script runs them."""
    rows = [
        "| slot | kind | where in the script | the code, and what it may use |",
        "|---|---|---|---|",
    ]
    rows += [f"| `{s.name}` | {s.kind} | {s.place} | {s.what} |" for s in _TABLE]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
