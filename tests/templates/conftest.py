"""Fixtures shared by the tests of the recipes' scripts."""

from __future__ import annotations

import pytest
import torch

from checkpointkit import run_checkpoint
from helpers import load_module, write_script


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One script and a 1-epoch run of it; tests copy the run folder before changing it."""
    tmp = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:  # renders never touch the user's ~/.cache
        patch.setenv("XDG_CACHE_HOME", str(tmp / "xdg-cache"))
        script = write_script(tmp, "checkpoint", {})
    mod = load_module(script)
    torch.set_num_threads(1)
    run_checkpoint(mod, tmp / "run", 1)
    return script, mod, tmp / "run"
