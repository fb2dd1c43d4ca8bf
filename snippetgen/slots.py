"""The named slots of the training-script skeleton that features fill.

A feature's ``feature.py.j2`` defines Jinja macros named after slots. ``multi`` slots
collect every feature's code in feature order; a ``single`` slot replaces the
skeleton's default code and may be filled by one feature only (declare a conflict
between recipes that would both fill it). Variables in scope are listed per slot.
"""

from __future__ import annotations

SLOTS: dict[str, str] = {
    # module level
    "imports": "multi",  # extra import lines
    "helpers": "multi",  # module-level functions and classes
    # parse_args(argv): `parser`
    "arguments": "multi",  # hand-written add_argument lines beyond the declared params
    "validate": "multi",  # checks on `args` after parsing (use parser.error)
    # seed_everything(seed)
    "seed": "multi",
    # build_model(args): `model`
    "model": "multi",
    # build_criterion(args, train_dataset=None)
    "criterion_setup": "multi",  # statements before the criterion is built
    "criterion_kwargs": "multi",  # keyword arguments, one per line, each ending with a comma
    # build_optimizer(model, args): returns the optimizer over `param_groups`
    "param_groups": "single",  # statements that assign `param_groups`
    # build_scheduler(optimizer, args): default returns None
    "scheduler": "single",  # statements ending in `return <scheduler>`
    # make_loader(...): extra DataLoader keyword arguments, each ending with a comma
    "loader_kwargs": "multi",
    # main(): after model, optimizer, scheduler, criterion, loaders exist; `stateful` dict
    "setup": "multi",
    "resume": "single",  # may set `start_epoch`; runs after setup
    # per epoch, after model.train(): `epoch` (0-based)
    "train_mode": "multi",
    # per batch: `inputs`, `targets` on the device; `step` (0-based in the epoch)
    "batch": "multi",
    "sync_context": "single",  # expression: context manager around forward and backward
    "autocast": "single",  # an expression giving the context manager for the forward pass
    "loss": "multi",  # adjust `loss` (the reported loss) with `outputs`, `targets`
    "objective": "multi",  # extra terms or scaling of `loss` that are not reported
    "backward": "single",  # default: loss.backward()
    "step_condition": "single",  # expression: whether this micro-batch ends an optimizer step
    "before_step": "multi",  # gradients are ready, e.g. clipping
    "optimizer_step": "single",  # default: optimizer.step()
    "after_step": "multi",  # after each optimizer step, e.g. EMA update or per-step scheduler
    "epoch_stats": "multi",  # add to `train_stats` (dict of floats) at epoch end
    # end of epoch: `record` dict (already has epoch, train_loss, val_loss, val_acc, lr)
    "record": "multi",  # add fields to `record` before it is written
    "scheduler_step": "single",  # default: scheduler.step() when a scheduler exists
    "epoch_end": "multi",  # after metrics are written: checkpoints, early stopping (`break`)
    "finish": "multi",  # after the loop, before model.pt is written
    # evaluate(model, loader, criterion, device): `outputs`, `targets`, `predictions`
    "eval_setup": "multi",
    "eval_batch": "multi",
    "eval_result": "multi",  # add to `result` dict
}
