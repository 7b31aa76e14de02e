"""Start `streamlit run app.py` on a free loopback port and stop it: shared by the browser tests and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from simplecnn import settings

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = settings.chromium()
# Features Playwright itself turns off (its chromiumSwitches, 1.65): Chromium keeps only the last --disable-features,
# so ours must repeat them.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
)
# Headless Chromium (150+) prewarms the address bar's WebUI popups in a renderer of their own for every browser
# context: about a second of CPU per context, for an address bar no test uses.
UNUSED_UI_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + UNUSED_UI_FEATURES),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path):
        self.proc, self.url, self.log_path = proc, url, log_path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _status_mb(self, field: str) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def rss_mb(self) -> float | None:
        """Resident memory of the server process now, from /proc (Linux)."""
        return self._status_mb("VmRSS")

    def peak_rss_mb(self) -> float | None:
        """The kernel's high-water mark of the server's resident memory."""
        return self._status_mb("VmHWM")

    def traceback(self) -> str:
        """The first traceback the server logged, with some context before it, or ''."""
        log = self.log_tail(10_000_000)
        at = log.find("Traceback")
        return "" if at < 0 else log[max(0, at - 300) : at + 6000]


@contextlib.contextmanager
def running_app(
    log_path: Path,
    env: dict | None = None,
    port: int | None = None,
    startup_timeout: float = 90.0,
    cwd: Path = ROOT,
) -> Iterator[AppServer]:
    """Start the app (`cwd`: the checkout, or a modified copy of it), wait for /_stcore/health, yield it,
    terminate it at the end."""
    port = port or free_port()
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    full_env.setdefault("SIMPLECNN_DATA", str(ROOT.parent / "shared" / "data"))
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=cwd,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = AppServer(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.time() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"streamlit did not become healthy within {startup_timeout:.0f} s")
            time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
