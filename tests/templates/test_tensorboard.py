"""tensorboard: scalars written under OUTPUT_DIR/tensorboard read back from the event files."""

from __future__ import annotations

import pytest

from helpers import load_module, read_metrics, write_script


def _event_accumulator():
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except Exception:
        pytest.skip("tensorboard is not installed")
    return EventAccumulator


def test_scalars_read_back_from_event_files(tmp_path):
    EventAccumulator = _event_accumulator()
    out = tmp_path / "run"
    load_module(write_script(tmp_path, "tensorboard", {})).main(
        ["--output-dir", str(out), "--epochs", "3", "--train-size", "64", "--val-size", "32"]
    )
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    rows = read_metrics(out)
    for key in ("train_loss", "val_loss", "val_acc", "lr"):
        events = acc.Scalars(key)
        assert [e.step for e in events] == [1, 2, 3]
        assert [e.value for e in events] == pytest.approx([r[key] for r in rows], rel=1e-6)


def test_clear_message_when_tensorboard_is_missing(tmp_path):
    script = write_script(tmp_path, "tensorboard", {})
    # a package directory that shadows tensorboard and fails to import, as a missing one would
    fake = tmp_path / "shadow" / "tensorboard"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tensorboard')\n")
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    proc = subprocess.run(
        [sys.executable, str(script), "--epochs", "1", "--train-size", "32", "--output-dir", "o"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "needs the tensorboard package" in proc.stderr
    assert "Traceback" not in proc.stderr
