"""`python -m simplecnn bench`: the tutorial's DataLoader loop, our fp32 loop and our fast loop, side by side,
with the ISA and precision measured and each loop's GFLOP/s beside this machine's fp32 GEMM peak.

Every row is a separate whole process (start-up included) run one after another in this one command,
so the ratios compare like with like on whatever machine runs it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a child process; return its wall time and its last JSON line (which carries its peak RSS)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:4])}… failed: {(err or out).strip().splitlines()[-1:]}")
    last = [line for line in out.splitlines() if line.startswith("{")][-1]
    return {"wall_seconds": wall, **json.loads(last)}


def _drawing_latency(n: int = 50) -> float:
    """Median ms to preprocess and predict one 280×280 RGBA canvas drawing."""
    import numpy as np

    from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_model
    from simplecnn.inference.predict import predict_image

    model, _ = load_model(DEFAULT_CHECKPOINT) if DEFAULT_CHECKPOINT.exists() else (None, None)
    if model is None:
        from simplecnn.model import SimpleCNN

        model = SimpleCNN().eval()
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    canvas[60:220, 130:150] = 255  # a "1"
    times = []
    for _ in range(n):
        t = time.perf_counter()
        predict_image(model, canvas)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2] * 1000


def _predict_cost(tmp: str, n: int, data: str | None) -> dict:
    """`predict` on 1 PNG and on 1+n PNGs of real MNIST test digits: ms per extra image, and accuracy."""
    import numpy as np
    from PIL import Image

    from simplecnn.data import denormalize, load_mnist

    mnist = load_mnist(data)
    paths = []
    for i in range(n + 1):
        path = Path(tmp) / f"test{i:05d}.png"
        Image.fromarray((denormalize(mnist.test_x[i, 0]).numpy() * 255).round().astype(np.uint8)).save(path)
        paths.append(str(path))
    cmd = [sys.executable, "-m", "simplecnn", "predict", "--json"]
    t = time.perf_counter()
    subprocess.run(cmd + paths[:1], cwd=ROOT, capture_output=True, check=False)
    one = time.perf_counter() - t
    t = time.perf_counter()
    out = subprocess.run(cmd + paths, cwd=ROOT, capture_output=True, text=True, check=False).stdout
    many = time.perf_counter() - t
    digits = [json.loads(line)["digit"] for line in out.splitlines()]
    correct = sum(d == int(mnist.test_y[i]) for i, d in enumerate(digits))
    return {
        "images": n,
        "ms_per_extra_image": (many - one) / n * 1000,
        "accuracy": correct / (n + 1),
        "one_image_process_seconds": one,
    }


def gemm_peak_gflops(n: int = 2048, repeats: int = 8) -> float:
    """This machine's fp32 matrix-multiply pace (torch, n×n, physical-core threads): the ceiling the training
    step's GFLOP/s is compared with. Best of `repeats` after a warm-up."""
    import torch

    from simplecnn.device import configure_threads

    configure_threads()
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _what_runs() -> dict:
    """The ISA and precision the rows measure (the CPU path; a GPU machine uses gpu_check.sh)."""
    import torch

    from simplecnn.device import configure_threads, cpu_info, use_bf16
    from simplecnn.perf import kernels

    return {
        "cpu": cpu_info().name,
        "isa": cpu_info().isa,
        "weight_gradients": kernels.describe(),
        "threads": configure_threads(),
        "fastest_precision": "bf16" if use_bf16(torch.device("cpu"), "auto") else "fp32",
        "torch": torch.__version__,
    }


def run_bench(
    images: int = 12800, data: str | None = None, fast: bool = True, png: int = 1000, test_images: int = 1000
) -> dict:
    """Each row a whole process, one after another: the tutorial's loop and ours on the same `images` training
    and `test_images` test images; then (fast=True) the fast recipe on all data and the 30 s Quick budget run."""
    from simplecnn.perf.layers import training_flops_per_image

    py = sys.executable
    data_args = ["--data", data] if data else []
    info = _what_runs()
    peak = gemm_peak_gflops()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows["tutorial DataLoader loop (fp32)"] = _run(
            [py, "benchmarks/tutorial_loop.py", "--images", str(images), "--limit-test", str(test_images), *data_args],
            env=None,
        )
        common = [
            py,
            "-m",
            "simplecnn",
            "train",
            "--epochs",
            "1",
            "--limit-train",
            str(images),
            "--limit-test",
            str(test_images),
            "--json",
            *data_args,
        ]
        rows["ours, fp32 NCHW"] = _run(
            common + ["--precision", "fp32", "--channels-last", "false", "--out", f"{tmp}/a"]
        )
        rows[f"ours, fastest ({info['fastest_precision']}, channels_last)"] = _run(common + ["--out", f"{tmp}/b"])
        if fast:
            rows["fast recipe, full data"] = _run(
                [py, "-m", "simplecnn", "train", "--recipe", "fast", "--json", "--out", f"{tmp}/c", *data_args]
            )
            rows["quick recipe (30 s budget)"] = _run(
                [py, "-m", "simplecnn", "train", "--recipe", "quick", "--json", "--out", f"{tmp}/d", *data_args]
            )
        predict = _predict_cost(tmp, png, data) if png else None
    base = rows["tutorial DataLoader loop (fp32)"]["wall_seconds"]
    for row in rows.values():
        row["speedup_vs_tutorial"] = base / row["wall_seconds"]
        ips = row.get("train_images_per_second") or row.get("images_per_second")
        row["train_gflops"] = ips * training_flops_per_image() / 1e9 if ips else None
    return {
        "images": images,
        "test_images": test_images,
        **info,
        "gemm_peak_gflops": peak,
        "rows": rows,
        "drawing_ms": _drawing_latency(),
        "predict": predict,
    }


def _print_rows(result: dict) -> None:
    peak = result["gemm_peak_gflops"]
    print(
        f"CPU: {result['cpu']} | ISA {result['isa']} | {result['threads']} threads | torch {result['torch']} | "
        f"fp32 GEMM peak {peak:.0f} GFLOP/s (2048² matmul)"
    )
    print(f"conv weight gradients (fp32 channels_last training): {result.get('weight_gradients', 'oneDNN')}")
    print(
        f"One epoch on {result['images']:,} training images + {result['test_images']:,} test images; "
        f"whole process each. GFLOP/s: training batches only (3× forward FLOPs)."
    )
    print(
        f"{'loop':<38} {'wall s':>7} {'speed-up':>9} {'train img/s':>12} {'GFLOP/s':>8} {'of peak':>8} "
        f"{'test acc':>9} {'peak RSS':>9}"
    )
    for name, row in result["rows"].items():
        ips = row.get("train_images_per_second") or row.get("images_per_second") or 0.0
        acc = row.get("best_accuracy", row.get("test_accuracy"))
        gflops = row["train_gflops"] or 0.0
        print(
            f"{name:<38} {row['wall_seconds']:>7.1f} {row['speedup_vs_tutorial']:>8.2f}× {ips:>12,.0f} "
            f"{gflops:>8.1f} {gflops / peak:>8.0%} {acc:>9.2%} {row['peak_rss_mb']:>6.0f} MB"
        )


def main(args) -> int:
    result = run_bench(
        args.images, args.data, fast=not args.skip_fast, png=args.png, test_images=getattr(args, "test_images", 1000)
    )
    if args.json:
        print(json.dumps(result))
        return 0
    _print_rows(result)
    print(f"Predicting one drawing (280×280 canvas → digit): {result['drawing_ms']:.1f} ms (median of 50)")
    if result["predict"]:
        p = result["predict"]
        print(
            f"`predict` CLI: {p['ms_per_extra_image']:.2f} ms per extra PNG over {p['images']} extra files "
            f"(one file: {p['one_image_process_seconds']:.1f} s whole process); accuracy {p['accuracy']:.2%}"
        )
    return 0
