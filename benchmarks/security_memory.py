"""Issue 23, acceptance 1 and 6 against a local server (127.0.0.1 only): what hostile uploads cost the server.

    python benchmarks/security_memory.py [--json benchmarks/results/security-memory-DATE.json] [--uploads 16]

Starts `streamlit run app.py` on a loopback port and drives headless Chromium. On Evaluate it uploads the
compressed-metrics checkpoints (1 GB and 3 GB of zeros inside a few MB) and reads the server's resident memory
(VmRSS) before and after each, and its peak (VmHWM, reset before each); then checkpoints whose recorded accuracy
is "abc" or 10**400; then N distinct valid checkpoints (the shipped weights, one bias nudged per file), each from
a fresh browser context (a new visitor: one browser may upload 6 a minute), and the RSS above its level before
them. Every page's text is searched for a traceback or a server path, and /inside?test=<a Markdown link> for a
link element. SIMPLECNN_EVAL_LIMIT=1000 keeps each new model's evaluation short.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from tests.support.hostile import compressed_metrics_checkpoint  # noqa: E402

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
UPLOAD_OPTION = "Upload a checkpoint (.pt / .pth)…"
LEAKS = ("Traceback", 'File "/', "site-packages", str(ROOT))
LINK = "[CLICK](https://example.com/)"


def _settle(page) -> None:
    page.wait_for_selector(IDLE, timeout=300_000)
    time.sleep(1.0)
    page.wait_for_selector(IDLE, timeout=300_000)


def _upload(page, url: str, path: Path) -> str:
    """Upload one checkpoint on Evaluate; the page's alerts afterwards."""
    page.goto(url + "/evaluate")
    _settle(page)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=UPLOAD_OPTION).click()
    _settle(page)
    page.locator('input[type="file"]').set_input_files(str(path))
    time.sleep(1.0)
    _settle(page)
    return " | ".join(a.inner_text()[:200] for a in page.locator('[data-testid="stAlert"]').all())


def _rss(app) -> float:
    return float(app.rss_mb() or 0.0)


def _peak(app) -> float:
    return float(app.peak_rss_mb() or 0.0)


def _leaks(page) -> list[str]:
    text = page.locator('[data-testid="stApp"]').inner_text()
    return [leak for leak in LEAKS if leak in text]


def _checkpoints(folder: Path, uploads: int) -> dict[str, list[Path]]:
    base = torch.load(ROOT / "checkpoints" / "simplecnn.pt", weights_only=True)
    valid = []
    for i in range(uploads):
        payload = dict(base, state_dict=dict(base["state_dict"]))
        payload["state_dict"]["fc2.bias"] = payload["state_dict"]["fc2.bias"] + 1e-4 * (i + 1)
        torch.save(payload, folder / f"valid-{i}.pt")
        valid.append(folder / f"valid-{i}.pt")
    odd = []
    for name, value in (("abc", "abc"), ("10e400", 10**400)):
        torch.save(dict(base, metrics=dict(base["metrics"], test_accuracy=value)), folder / f"acc-{name}.pt")
        odd.append(folder / f"acc-{name}.pt")
    bombs = [compressed_metrics_checkpoint(folder / f"metrics-{gb}gb.pt", gb << 30) for gb in (1, 3)]
    return {"bombs": bombs, "odd": odd, "valid": valid}


def measure(uploads: int) -> dict:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="security-memory-"))
    files = _checkpoints(folder, uploads)
    env = {"SIMPLECNN_EVAL_LIMIT": "1000", "SIMPLECNN_RUNS": str(folder / "runs")}
    out: dict = {"bombs": [], "odd": [], "leaks": []}
    with running_app(folder / "server.log", env=env) as app, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(app.url + "/evaluate")
        _settle(page)
        out["rss_idle_mb"] = _rss(app)
        for path in files["bombs"]:
            before = _rss(app)
            Path(f"/proc/{app.proc.pid}/clear_refs").write_text("5")  # VmHWM from here
            alerts = _upload(page, app.url, path)
            after, peak = _rss(app), _peak(app)
            out["bombs"].append(
                {
                    "file": path.name,
                    "file_mb": round(path.stat().st_size / 2**20, 2),
                    "rss_growth_mb": round(after - before, 1),
                    "peak_growth_mb": round(peak - before, 1),
                    "message": alerts,
                }
            )
            out["leaks"] += [f"{path.name}: {leak}" for leak in _leaks(page)]
        for path in files["odd"]:
            alerts = _upload(page, app.url, path)
            out["odd"].append({"file": path.name, "alerts": alerts})
            out["leaks"] += [f"{path.name}: {leak}" for leak in _leaks(page)]
        page.goto(app.url + "/inside?test=" + LINK)
        _settle(page)
        out["inside_query_links"] = page.locator('a[href="https://example.com/"]').count()
        out["leaks"] += [f"inside query: {leak}" for leak in _leaks(page)]
        before = _rss(app)
        growth = []
        for path in files["valid"]:
            context = browser.new_context()  # a new visitor each time
            visitor = context.new_page()
            alerts = _upload(visitor, app.url, path)
            if "Refused" in alerts:
                out["leaks"].append(f"{path.name} refused: {alerts}")
            context.close()
            growth.append(round(_rss(app) - before, 1))
        time.sleep(5)
        out["valid_uploads"] = len(files["valid"])
        out["rss_growth_per_upload_mb"] = growth
        out["rss_growth_after_valid_mb"] = round(_rss(app) - before, 1)
        out["server_traceback"] = bool(app.traceback())
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--uploads", type=int, default=16)
    args = parser.parse_args()
    result = {
        "date": datetime.date.today().isoformat(),
        "note": "shared 2-core machine, other jobs running: memory figures are per process and not timing-sensitive",
        **measure(args.uploads),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
