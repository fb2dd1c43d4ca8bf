"""The training script beyond one plain process: torchrun, --channels-last, --compile.

Under `torchrun --standalone --nproc_per_node 2` (gloo on CPU) rank 0 alone writes
metrics.jsonl (one line per epoch) and model.pt (no DDP `module.` prefix), and a
checkpoint written under DDP resumes in a single process. --channels-last trains in
channels-last layout with the same results; --compile is off by default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from helpers import ROOT, load_module, read_metrics, write_script
from processes import torchrun

TINY = ["--train-size", "64", "--val-size", "32", "--batch-size", "8", "--max-batches", "3"]
HAS_CHECKPOINT = (ROOT / "templates" / "checkpoint" / "recipe.toml").is_file()


def assert_rank0_outputs(out, epochs: int, script) -> None:
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1)), "one line per epoch"
    state = torch.load(out / "model.pt", weights_only=True)
    assert not any(key.startswith("module.") for key in state)
    load_module(script).SmallCNN(num_classes=4).load_state_dict(state)  # strict, plain model


@pytest.mark.slow
def test_plain_train_under_torchrun(tmp_path):
    script = write_script(tmp_path, "train", {"epochs": 2})
    proc = torchrun(script, "--output-dir", "run", *TINY, cwd=tmp_path)
    assert_rank0_outputs(tmp_path / "run", 2, script)
    # rank 0 alone prints its epoch lines
    assert sum(line.startswith("epoch ") for line in proc.stdout.splitlines()) == 2


@pytest.mark.slow
@pytest.mark.skipif(not HAS_CHECKPOINT, reason="templates/checkpoint is not there yet")
def test_checkpoint_under_torchrun_resumes_in_one_process(tmp_path):
    script = write_script(tmp_path, "train", {"epochs": 3}, with_=("checkpoint",))
    torchrun(script, "--output-dir", "run", "--epochs", "2", *TINY, cwd=tmp_path)
    out = tmp_path / "run"
    assert_rank0_outputs(out, 2, script)
    checkpoint = torch.load(out / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 2
    assert not any(key.startswith("module.") for key in checkpoint["model"])
    # a single process picks the DDP run up: epoch 3 only, then model.pt of 3 epochs
    history = load_module(script).main(["--output-dir", str(out), "--resume", *TINY])
    assert [r["epoch"] for r in history] == [3]
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2, 3]
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 3


def test_channels_last_trains_in_that_layout_with_the_same_results(tmp_path):
    mod = load_module(write_script(tmp_path, "train", {"epochs": 2}))
    layouts = []
    original = mod.build_model

    def build_model(args):
        model = original(args)
        model.register_forward_pre_hook(
            lambda module, inputs: layouts.append(
                (module.training, inputs[0].is_contiguous(memory_format=torch.channels_last))
            )
        )
        return model

    mod.build_model = build_model
    default = mod.main(["--output-dir", str(tmp_path / "a"), *TINY])
    assert layouts and not any(last for _, last in layouts)
    layouts.clear()
    fast = mod.main(["--output-dir", str(tmp_path / "b"), "--channels-last", *TINY])
    assert [last for training, last in layouts if training] == [True] * 6  # 2 epochs x 3 batches
    for a, b in zip(default, fast, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), key
    state = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert state["features.0.weight"].is_contiguous(memory_format=torch.channels_last)
    mod.SmallCNN(num_classes=4).load_state_dict(state)


def test_compile_is_off_by_default(tmp_path):
    mod = load_module(write_script(tmp_path, "train", {}))
    assert mod.parse_args([]).compile is False
    assert mod.parse_args(["--compile"]).compile is True
    assert mod.parse_args([]).channels_last is False


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SNIPPETGEN_TEST_COMPILE"),
    reason="torch.compile needs ~35 s (cold) or ~7 s (warm inductor cache) to compile even "
    "this tiny model on this CPU; set SNIPPETGEN_TEST_COMPILE=1 to run it",
)
def test_compile_keeps_the_contract(tmp_path):
    mod = load_module(write_script(tmp_path, "train", {"epochs": 2}))
    out = tmp_path / "run"
    history = mod.main(["--output-dir", str(out), "--compile", *TINY])
    assert read_metrics(out) == history and len(history) == 2
    state = torch.load(out / "model.pt", weights_only=True)
    assert not any(key.startswith("_orig_mod.") for key in state)
    mod.SmallCNN(num_classes=4).load_state_dict(state)


# The start of every probe: run under torchrun as `probe.py SCRIPT ...`, it imports the
# generated script as `script` (its main() not yet run) so the probe can instrument it.
PROBE_HEAD = """\
import importlib.util
import os
import sys
from contextlib import nullcontext

import torch

spec = importlib.util.spec_from_file_location("script", sys.argv[1])
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
"""

# Runs a generated script under torchrun with DDP counting its gradient all-reduces; each
# rank writes how many rounds it synchronised and its final parameters (not buffers: each
# rank's BatchNorm statistics are its own until DDP broadcasts rank 0's at the next
# forward). With "always-sync", no_sync() is disabled: every micro-batch all-reduces, as a
# loop without it would. Model and data are float64 (see the test).
SYNC_PROBE = (
    PROBE_HEAD
    + """\
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.utils.data import TensorDataset

rounds = []


class CountingDDP(script.DistributedDataParallel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

        def hook(state, bucket):
            if bucket.index() == 0:
                rounds.append(1)
            return allreduce_hook(state, bucket)

        self.register_comm_hook(None, hook)

    if sys.argv[2] == "always-sync":
        def no_sync(self):
            return nullcontext()


original_build_datasets = script.build_datasets


def build_datasets(args):
    return tuple(TensorDataset(d.tensors[0].double(), d.tensors[1])
                 for d in original_build_datasets(args))


built = []
original_build_model = script.build_model
script.build_model = lambda args: built.append(original_build_model(args).double()) or built[-1]
script.build_datasets = build_datasets
script.DistributedDataParallel = CountingDDP
script.main(sys.argv[3:])
params = {name: p.detach() for name, p in built[0].named_parameters()}
torch.save({"rounds": len(rounds), "params": params}, f"rank{os.environ['RANK']}.pt")
"""
)


@pytest.mark.slow
def test_grad_accumulation_all_reduces_once_per_optimizer_step_under_torchrun(tmp_path):
    script = write_script(
        tmp_path, "train", {"epochs": 2, "accum-steps": 2}, with_=("grad-accumulation",)
    )
    probe = tmp_path / "probe.py"
    probe.write_text(SYNC_PROBE)
    results = {}
    for mode in ("no-sync", "always-sync"):
        folder = tmp_path / mode
        folder.mkdir()
        torchrun(probe, str(script), mode, "--output-dir", "run", *TINY, cwd=folder)
        results[mode] = [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    # 3 micro-batches per epoch on each rank, in optimizer steps of 2 + 1: 2 rounds per epoch
    assert [r["rounds"] for r in results["no-sync"]] == [4, 4]
    assert [r["rounds"] for r in results["always-sync"]] == [6, 6]
    for mode in results:  # the ranks agree after every step: the sync did happen
        first, second = (r["params"] for r in results[mode])
        assert all(torch.equal(first[k], second[k]) for k in first), mode
    # and skipping the intermediate all-reduces changes nothing but rounding. The two sum
    # the same gradients in another order; in float32 BatchNorm's backward over batches of 8
    # amplifies that rounding to ~1e-5 in the conv weights after 4 steps (by how much
    # depends on the CPU's kernels), while in float64 the two agree to ~1e-16: a tolerance
    # of 1e-12 is deterministic and still catches any real difference (losing the gradient
    # of the micro-batches that skip the sync moves these weights by 5e-4 to 3e-2).
    synced, skipped = results["always-sync"][0]["params"], results["no-sync"][0]["params"]
    for key in synced:
        assert synced[key].dtype == torch.float64, key
        torch.testing.assert_close(synced[key], skipped[key], rtol=1e-12, atol=1e-12, msg=key)


# Runs a generated script under torchrun, then records which native threads its process
# still has once main() has returned, and whether a process group is still initialised.
TEARDOWN_PROBE = (
    PROBE_HEAD
    + """\
from pathlib import Path

script.main(sys.argv[2:])
threads = []
for comm in Path("/proc/self/task").glob("*/comm"):
    try:
        threads.append(comm.read_text().strip())
    except OSError:  # a thread that ended meanwhile
        pass
state = {"threads": threads, "initialized": script.dist.is_initialized()}
torch.save(state, f"rank{os.environ['RANK']}.pt")
"""
)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="lists threads from /proc")
def test_process_group_and_its_threads_are_gone_when_main_returns_under_torchrun(tmp_path):
    # The group must be torn down inside main(), not while the interpreter exits: DDP
    # imports torch.distributed.nn, whose functions hold group.WORLD as a default argument,
    # and the DDP wrapper holds the group in reference cycles. Left to the interpreter's
    # exit, gloo's worker and socket threads run on into its finalisation. Deterministic:
    # it lists the threads, no stress needed (benchmarks/stress_torchrun.py is the stress).
    script = write_script(tmp_path, "train", {"epochs": 1}, with_=("grad-accumulation",))
    probe = tmp_path / "probe.py"
    probe.write_text(TEARDOWN_PROBE)
    torchrun(probe, str(script), "--output-dir", "run", *TINY, cwd=tmp_path)
    for rank in (0, 1):
        state = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert state["initialized"] is False
        assert state["threads"] and not [t for t in state["threads"] if "gloo" in t], state


# Runs train --with class-weights under torchrun on imbalanced data with a fixed model (no
# BatchNorm or Dropout, learning rate 0); each rank writes the metrics main() returned and
# the whole-set weighted losses, sum(w[y] * ce) / sum(w[y]), computed here independently.
CLASS_WEIGHTS_PROBE = (
    PROBE_HEAD
    + """\
import json
from pathlib import Path

import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset


def imbalanced(counts, seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    patterns = torch.randn(len(counts), 3, 8, 8, generator=generator)
    images = patterns[labels] + torch.randn(len(labels), 3, 8, 8, generator=generator)
    return TensorDataset(images, labels)


class FlatLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 4)

    def forward(self, x):
        return self.fc(x.flatten(1))


train_set, val_set = imbalanced([36, 16, 8, 4], 0), imbalanced([3, 9, 14, 6], 1)
built = []
script.build_datasets = lambda args: (train_set, val_set)
script.build_model = lambda args: built.append(FlatLinear()) or built[-1]
script.build_optimizer = lambda model, args: torch.optim.SGD(model.parameters(), lr=0.0)
(logged,) = script.main(sys.argv[2:])
weights = script.inverse_frequency_weights(train_set.tensors[1], 4).double()
expected = {}
with torch.no_grad():
    for key, data in (("train_loss", train_set), ("val_loss", val_set)):
        logits = built[0].eval()(data.tensors[0]).double()
        ce = F.cross_entropy(logits, data.tensors[1], reduction="none")
        w = weights[data.tensors[1]]
        expected[key] = ((w * ce).sum() / w.sum()).item()
result = {"logged": logged, "expected": expected}
Path(f"rank{os.environ['RANK']}.json").write_text(json.dumps(result))
"""
)


@pytest.mark.slow
def test_class_weighted_losses_are_exact_over_all_ranks_under_torchrun(tmp_path):
    # each rank's shard has its own class mix, so its batches' sum(w[y]) differ: the ranks'
    # numerators and denominators are all-reduced, not their means averaged
    script = write_script(
        tmp_path, "train", {"num-classes": 4, "epochs": 1}, with_=("class-weights",)
    )
    probe = tmp_path / "probe.py"
    probe.write_text(CLASS_WEIGHTS_PROBE)
    torchrun(probe, str(script), "--output-dir", "run", "--batch-size", "8", cwd=tmp_path)
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert results[0]["logged"] == results[1]["logged"]
    for key in ("train_loss", "val_loss"):
        expected = results[0]["expected"][key]
        assert results[0]["logged"][key] == pytest.approx(expected, rel=1e-6), key
    assert read_metrics(tmp_path / "run") == [results[0]["logged"]]


BN_PROBE = (
    PROBE_HEAD
    + """\
seen = {}
original = script.average_bn_statistics


def average_bn_statistics(model):
    seen["own"] = {k: v.clone() for k, v in model.named_buffers() if "running" in k}
    original(model)
    seen["averaged"] = {k: v.clone() for k, v in model.named_buffers() if "running" in k}


script.average_bn_statistics = average_bn_statistics
script.main(sys.argv[2:])
torch.save(seen, f"rank{os.environ['RANK']}.pt")
"""
)


@pytest.mark.slow
def test_swa_bn_statistics_are_averaged_over_ranks_under_torchrun(tmp_path):
    script = write_script(tmp_path, "train", {"epochs": 2, "swa-start": 1}, with_=("swa",))
    probe = tmp_path / "probe.py"
    probe.write_text(BN_PROBE)
    torchrun(probe, str(script), "--output-dir", "run", *TINY, cwd=tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    keys = list(ranks[0]["own"])
    assert keys and any(k.endswith("running_var") for k in keys)
    # each rank's update_bn saw its own shard, so their statistics differ ...
    assert any(not torch.equal(ranks[0]["own"][k], ranks[1]["own"][k]) for k in keys)
    saved = torch.load(tmp_path / "run" / "swa_model.pt", weights_only=True)
    for key in keys:
        mean = (ranks[0]["own"][key] + ranks[1]["own"][key]) / 2
        # ... and every rank ends with their mean, which rank 0 saves
        for rank in ranks:
            assert torch.allclose(rank["averaged"][key], mean, rtol=1e-6, atol=1e-7), key
        assert torch.equal(saved[key.removeprefix("module.")], ranks[0]["averaged"][key])
