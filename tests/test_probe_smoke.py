"""The hostile-input probe (benchmarks/probe.py) still runs: two cheap channels, a few cases.

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


def probe(tmp_path, channel: str, cases: list[str], timeout: float) -> dict:
    """The probe's JSON report of `cases` of one channel, run in `tmp_path`; it exits 0."""
    command = [sys.executable, str(ROOT / "benchmarks" / "probe.py"), "--quick", "--json"]
    command += ["--channels", channel, "--cases", ",".join(cases), "--workers", "1"]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_probe_counts_clean_refusals_of_output_targets(tmp_path):
    report = probe(tmp_path, "output-targets", CASES, timeout=120)
    [row] = report["channels"]
    assert row["channel"] == "output-targets"
    assert row["tried"] == len(CASES) == row["refused"]
    assert row["examples"] == [] and row["probe_errors"] == []
    assert report["ok"] is True and report["totals"]["tried"] == len(CASES)
    assert list(tmp_path.iterdir()) == []  # its temporary folder (under TMPDIR) is gone


DATA_CASES = ["csv: a well-formed file", "csv: empty file", "a pickled object (legacy pickle)"]


def test_probe_runs_generated_scripts_on_hostile_data_files(tmp_path):
    """The data-files channel: a good CSV is accepted, an empty one and a pickled .pt refused."""
    report = probe(tmp_path, "data-files", DATA_CASES, timeout=240)
    [row] = report["channels"]
    assert row["channel"] == "data-files"
    assert row["tried"] == len(DATA_CASES)
    assert (row["accepted"], row["refused"]) == (1, 2)
    assert row["examples"] == [] and row["probe_errors"] == []
    assert report["ok"] is True
    # its temporary folder is gone (torch may leave its own torchinductor_* cache in TMPDIR)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("snippetgen-probe-")] == []
