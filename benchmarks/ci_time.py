"""How long CI takes: `bash .ci/run` from a clean clone with an empty cache folder, and the fast tier.

    python benchmarks/ci_time.py --json benchmarks/results/ci-time-<date>.json
    python benchmarks/ci_time.py --tier fast          # only `pytest -m "not e2e and not ray"`

It clones this checkout's HEAD (committed work only) into a temporary folder with `../shared` beside it (a link to
the checkout's), gives the run a fresh XDG_CACHE_HOME (a CI machine's cache is empty: kernels compiled, speed
calibrated, evaluations and embeddings made from scratch), and records the wall time of each phase `.ci/run`
prints, pytest's slowest tests, and the load average before and after: on a shared machine the figures are only
as good as the machine was quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAST_TIER = [sys.executable, "-m", "pytest", "-m", "not e2e and not ray"]


def clone(into: Path) -> None:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(into)], check=True)


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float, str]:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.returncode, time.perf_counter() - started, proc.stdout


def phases(output: str) -> dict[str, int]:
    """The `== <phase>: N s (total M s)` lines .ci/run prints."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^== (.+?): (\d+) s \(total", output, re.MULTILINE)}


def slowest(output: str) -> list[dict]:
    """pytest's --durations table."""
    found = re.findall(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)", output, re.MULTILINE)
    return [{"seconds": float(s), "when": when, "test": test} for s, when, test in found]


def summary_lines(output: str) -> list[str]:
    """pytest's last line, one per tier."""
    return [line.strip("= ") for line in output.splitlines() if re.search(r"^=+ .*\d+ (passed|failed)", line)]


def tier_costs(output: str) -> list[dict]:
    """The `== tier wall W s, CPU U s user + S s sys` lines .ci/run prints, one per tier, in its order."""
    found = re.findall(r"^== tier wall ([\d.]+) s, CPU ([\d.]+) s user \+ ([\d.]+) s sys", output, re.MULTILINE)
    return [{"wall_s": float(w), "user_s": float(u), "sys_s": float(s)} for w, u, s in found]


def machine_cpu_seconds() -> dict[str, float]:
    """Busy and idle CPU seconds of the whole machine so far (/proc/stat; empty elsewhere): over a run, whether CI
    was short of cores or waiting, whoever's processes they were (browsers, app servers, Ray daemons included)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return {"busy_s": (sum(fields[:8]) - idle) / tick, "idle_s": idle / tick}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", choices=["all", "fast"], default="all", help="all: bash .ci/run; fast: the fast tier")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument(
        "--shared",
        default=str(ROOT.parent / "shared"),
        help="the folder .ci/run finds as ../shared (it holds data/MNIST/raw); default: the one beside this checkout",
    )
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="ci-clone-"))
    cache = Path(tempfile.mkdtemp(prefix="ci-cache-"))
    try:
        clone(workdir / "repo")
        checkout = workdir / "repo"
        shared = Path(args.shared).resolve()
        if shared.is_dir():  # .ci/run reads ../shared/data: give the clone the same folder beside it
            (workdir / "shared").symlink_to(shared)
        env = dict(os.environ, XDG_CACHE_HOME=str(cache))
        load_before, cpu_before = os.getloadavg(), machine_cpu_seconds()
        if args.tier == "all":
            code, seconds, output = run(["bash", ".ci/run"], checkout, env)
        else:
            env.setdefault("SIMPLECNN_DATA", str(shared / "data"))
            code, seconds, output = run(FAST_TIER, checkout, env)
        cpu_after = machine_cpu_seconds()
        result = {
            "what": "bash .ci/run from a clean clone" if args.tier == "all" else 'pytest -m "not e2e and not ray"',
            "commit": commit,
            "exit_code": code,
            "wall_seconds": round(seconds, 1),
            "phases_seconds": phases(output),
            "tests": summary_lines(output),
            "tiers": tier_costs(output),
            "slowest": slowest(output),
            "cpus": os.cpu_count(),
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "machine_cpu_seconds": {k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_after},
            "date": time.strftime("%Y-%m-%d %H:%M"),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    print(json.dumps(result, indent=1))
    if code:
        print(output[-6000:], file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
