"""The workshop load test, small: two participants train (Quick preset with an 8 s budget on a small subset that
is evaluated on 500 test images, so that the budget leaves time to train even on a busy CI machine; on two cores
the second waits its turn), one reloads mid-run (a new session with the same link must show the same run), while
one session draws (its page is ready before the runs start). benchmarks/load_test.py is run as a program, as an
operator would run it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_load_test_smoke(tmp_path):
    out = tmp_path / "load.json"
    r = subprocess.run(
        [
            sys.executable,
            "benchmarks/load_test.py",
            "--sessions",
            "2",
            "--reloaders",
            "1",
            "--reload-after",
            "1",
            "--closers",  # the second participant's page closes while its run waits its turn, and comes back
            "1",
            "--closed-for",
            "3",
            "--drawers",
            "1",
            "--limit-train",
            "1000",
            "--limit-test",
            "500",
            "--budget",
            "8",
            "--train-seconds",
            "240",
            "--stagger",
            "0.3",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.exists(), r.stdout[-2000:] + r.stderr[-2000:]
    s = json.loads(out.read_text())
    assert r.returncode == 0, s
    assert s["session_errors"] == {} and s["drawer_errors"] == {} and s["server_exceptions_in_log"] == 0
    assert s["runs_completed"] + s["runs_cancelled"] == 2 and s["runs_failed"] == 0 and s["runs_lost"] == []
    assert s["reloads"] == s["reloads_same_run"] == 1
    assert s["closed_then_same_run"] == s["closed_while_queued"] <= 1  # a page away while queued finds its run
    assert 1 <= s["max_running_at_once"] <= s["scheduler_limit"]
    assert s["runs_started"] >= s["runs_completed"] >= 1
    assert s["strokes"] >= 1 and s["server_peak_rss_mb"] > 0
