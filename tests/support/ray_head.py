"""A throwaway local Ray head for tests and benchmarks: `ray start --head --block` as its own process group.

Ray binds to the machine's interface address, so everything here must run in a network namespace that has only
loopback: `unshare -n bash -c 'ip link set lo up; …'` (root). `ray_unusable()` says when that is not the case.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def ray_unusable() -> str | None:
    """Why a Ray head cannot be started here, or None."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install -r requirements-ray.txt)"
    interfaces = sorted(name for _, name in socket.if_nameindex())  # this process's network namespace
    if interfaces != ["lo"]:
        return (
            "not in a loopback-only network namespace (Ray would bind to the machine's address); run "
            "`unshare -n bash -c 'ip link set lo up; python3 -m pytest -m ray'`"
        )
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Head:
    address: str
    proc: subprocess.Popen


@contextlib.contextmanager
def ray_head(num_cpus: int = 2, startup_timeout: float = 120.0) -> Iterator[Head]:
    """`ray start --head --block` as its own process group (GCS, raylet); stopped, with its workers, at the end."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            "ray",
            "start",
            "--head",
            "--block",
            "--num-cpus",
            str(num_cpus),
            "--port",
            str(port),
            "--node-ip-address",
            "127.0.0.1",
            "--include-dashboard=false",
            "--include-log-monitor=false",  # nobody reads the workers' logs: drivers run with log_to_driver=False
            "--disable-usage-stats",
            "--object-store-memory",
            str(300 * 1024 * 1024),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_started(proc, startup_timeout)
        yield Head(f"127.0.0.1:{port}", proc)
    finally:
        stop_group(proc)


def _wait_started(proc: subprocess.Popen, timeout: float) -> None:
    lines: list[str] = []
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ray runtime started" in line:
                threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining
                return
    finally:
        timer.cancel()
    raise RuntimeError("the Ray head did not start:\n" + "".join(lines[-20:]))


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the head's process group (ray start, GCS, raylet) and the workers the raylet started: they run in
    process groups of their own. SIGTERM to all of them at once, then SIGKILL for what is left after 5 s; all by
    process id."""
    workers = _children_of(_group_members(proc.pid))
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        for pid in _alive(workers):  # at once: a worker left to notice its raylet's end can take seconds
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.time() + wait
        while time.time() < deadline and (_group_members(proc.pid) or _alive(workers)):
            proc.poll()
            time.sleep(0.1)
    proc.poll()


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _group_members(pgid: int) -> set[int]:
    """Live (not zombie) processes of a process group."""
    members = set()
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            members.add(int(entry.name))
    return members


def _children_of(parents: set[int]) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields and int(fields[1]) in parents:
            children.add(int(entry.name))
    return children - parents


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if (fields := _stat(str(pid))) and fields[0] != "Z"}


def training_worker_pids() -> list[int]:
    """Ray worker processes now running our task (Ray titles them `ray::run_on_worker`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::run_on_worker"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
