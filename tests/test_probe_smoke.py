"""The hostile-input probe (benchmarks/probe.py) still runs: one cheap channel, three cases.

The probe itself is not part of the suite (minutes of subprocesses); this keeps it from
rotting. The three `-o` targets below must be refused cleanly (exit 2, one sentence,
nothing written), and the probe must say so in its table, its JSON and its exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import ROOT

CASES = ["parent-file", "parent-missing", "existing-file"]


def test_probe_counts_clean_refusals_of_output_targets(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "probe.py"),
            "--quick",
            "--json",
            "--channels",
            "output-targets",
            "--cases",
            ",".join(CASES),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    [row] = report["channels"]
    assert row["channel"] == "output-targets"
    assert row["tried"] == len(CASES) == row["refused"]
    assert row["examples"] == [] and row["probe_errors"] == []
    assert report["ok"] is True and report["totals"]["tried"] == len(CASES)
    assert list(tmp_path.iterdir()) == []  # its temporary folder (under TMPDIR) is gone
