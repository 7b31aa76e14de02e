"""python -m simplecnn {train,finetune,evaluate,predict,export,bench}"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simplecnn.training.config import RECIPES, TrainConfig, for_architecture


def peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 / (1024 if sys.platform == "darwin" else 1)


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Every TrainConfig field becomes a flag; unset flags keep the chosen recipe's value."""
    for f in dataclasses.fields(TrainConfig):
        if f.name == "recipe":
            continue
        flag = "--" + f.name.replace("_", "-")
        kinds: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "bool": _bool}
        kind = kinds.get(str(f.type), str)
        if kind is _bool:
            parser.add_argument(
                flag, dest=f.name, type=kind, default=None, help=f.metadata.get("help"), nargs="?", const=True
            )
        else:
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=f.metadata.get("help"))


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    # A bare --budget means the budgeted Quick recipe's settings: the tutorial's (batch 128, lr 1e-3) are tuned
    # for 15 epochs, not for a few thousand images in a fixed time.
    name = args.recipe or ("quick" if getattr(args, "budget", None) else "tutorial")
    base = RECIPES[name]
    if getattr(args, "model", None):
        base = for_architecture(base, args.model)  # the recipe as tuned for that network
    changes = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name != "recipe" and getattr(args, f.name, None) is not None
    }
    try:
        return base.replace(**changes).validate()
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _train_executor(args: argparse.Namespace):
    """Local threads, or a Ray task when $SIMPLECNN_RAY_ADDRESS is set (no silent fallback: the user asked for
    the cluster, so an unreachable one is an error)."""
    from simplecnn.execution.choose import executor_from_env

    return executor_from_env(data_root=args.data, fallback=False)


def _summary(
    ev, config: TrainConfig, started, executor_name: str, train_seconds: float, images: int, compared=None
) -> str:
    extra = {"before_after": dataclasses.asdict(compared)} if compared is not None else {}
    return json.dumps(
        {
            **extra,
            "status": ev.status,
            "model": str(config.model),
            "recipe": config.recipe,
            "parameters": started.parameters if started else None,
            "best_accuracy": ev.best_accuracy,
            "best_epoch": ev.best_epoch,
            "seconds": ev.elapsed,
            "train_seconds": train_seconds,
            "train_images_per_second": images / train_seconds if train_seconds else None,
            "train_images": images,
            "checkpoint": str(ev.checkpoint) if ev.checkpoint else None,
            "executor": executor_name,
            "node": started.node if started else "",
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def cmd_train(args: argparse.Namespace) -> int:
    return _run(args, _config_from_args(args))


def _run(args: argparse.Namespace, config: TrainConfig, finetune=None) -> int:
    """Train (or fine-tune) with the chosen executor, printing its events."""
    import threading

    from simplecnn.device import configure_threads, resolve_device
    from simplecnn.perf.malloc import keep_freed_buffers
    from simplecnn.training.runs import new_run_dir
    from simplecnn.training.schedules import warm_up_optimizer

    executor = _train_executor(args)
    if executor.name == "local":
        resolve_device(config.device)  # a device this machine lacks is an error before any folder is made
        # LeNet-5's layers are too small to split across cores: one thread trains it as fast on a quiet machine
        # and 5-15× faster on a busy one, where two spin-waiting threads stall (docs/lessons.md).
        configure_threads(1 if config.model == "lenet5" else 0)
        keep_freed_buffers()  # before the first step's buffers (simplecnn/perf/malloc.py)
        warm_up_optimizer()  # torch's one-time imports for the fused Adam, before a budget run's clock starts
    out = Path(args.out) / "best.pt" if args.out else new_run_dir() / "best.pt"
    print(
        f"Model: {config.model} | recipe: {config.recipe} | epochs {config.epochs} | batch {config.batch_size} | "
        f"lr {config.lr:g} | schedule {config.schedule} | augment {config.augment}",
        flush=True,
    )
    try:
        extra = {"finetune": finetune} if finetune is not None else {}
        events = executor.execute(config, threading.Event(), out, **extra)
        return _print_run(args, config, executor, events)
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()  # the Ray bridge: cancels what is still running (Ctrl-C) and disconnects


def _print_run(args: argparse.Namespace, config: TrainConfig, executor, events) -> int:
    from simplecnn.training.events import BatchEnd, BeforeAfter, EpochEnd, RunEnded, RunStarted, RunStatus

    status, images, train_seconds, started, compared = 0, 0, 0.0, None, None
    for ev in events:
        if isinstance(ev, RunStarted):
            started = ev
            print(
                f"Device: {ev.device}{' (bf16 autocast)' if ev.bf16 else ''} | train {ev.n_train:,} | "
                f"test {ev.n_test:,} | parameters {ev.parameters:,}",
                flush=True,
            )
            print("=" * 70, flush=True)
        elif isinstance(ev, BatchEnd) and args.verbose:
            where = (
                f"batch {ev.batch}/{ev.batches_per_epoch}"
                if ev.total_steps
                else f"{ev.images:,} images, {ev.progress:.0%} of the budget"
            )
            print(f"  {where} loss {ev.loss:.4f} acc {ev.accuracy:.2%}", flush=True)
        elif isinstance(ev, EpochEnd):
            images, train_seconds = images + ev.images, train_seconds + ev.train_seconds
            tail = "⭐" if ev.is_best else f"(no improvement: {ev.epochs_without_improvement}/{config.patience})"
            print(
                f"Epoch [{ev.epoch:2d}/{ev.epochs}] Train Loss: {ev.train_loss:.4f} | Train Acc: "
                f"{ev.train_accuracy:.2%} | Test Loss: {ev.test_loss:.4f} | Test Acc: {ev.test_accuracy:.2%} | "
                f"LR: {ev.lr:.6f} {tail}  [{ev.elapsed:.1f}s]",
                flush=True,
            )
        elif isinstance(ev, BeforeAfter):
            compared = ev
        elif isinstance(ev, RunEnded):
            print("=" * 70)
            if ev.status == RunStatus.EARLY_STOPPED:
                print(f"⚠ {ev.message}")
            if ev.status == RunStatus.FAILED:
                print(f"error: {ev.message}", file=sys.stderr)
                status = 1
            print(
                f"✓ Done ({ev.status}) in {ev.elapsed:.1f}s. Best test accuracy: {ev.best_accuracy:.2%} "
                f"(epoch {ev.best_epoch})"
            )
            if ev.checkpoint:
                print(f"Best checkpoint: {ev.checkpoint}")
            if compared is not None:
                _print_before_after(compared)
            if args.json:
                print(_summary(ev, config, started, executor.name, train_seconds, images, compared))
    return status


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _print_before_after(result) -> None:
    print(
        f"Held-out drawings ({result.held_out}): {_percent(result.held_before)} → {_percent(result.held_after)} | "
        f"MNIST test ({result.mnist_images:,}): {_percent(result.mnist_before)} → {_percent(result.mnist_after)}"
    )
    for name, label, before, after in result.changed:
        print(f"  {name}: label {label}, read {before} → {after}")


def cmd_finetune(args: argparse.Namespace) -> int:
    from simplecnn.files import digest_file
    from simplecnn.personal.archive import read_drawings
    from simplecnn.personal.finetune import FINETUNE, prepare
    from simplecnn.settings import SHIPPED_CHECKPOINT

    found = read_drawings(args.drawings)
    for line in found.skipped:
        print(f"skipped {line}", file=sys.stderr)
    _, checkpoint = _load(args.checkpoint)
    source = Path(args.checkpoint) if args.checkpoint else SHIPPED_CHECKPOINT
    inputs = prepare(
        checkpoint.state_dict, digest_file(source), source.name, found.drawings, args.hold_out, args.per_batch
    )
    print(
        f"Drawings: {len(found.drawings)} labelled | {len(inputs.train_labels)} to learn from | "
        f"{len(inputs.held_labels)} held out | starting from {source}",
        flush=True,
    )
    config = FINETUNE.replace(budget=args.budget, device=args.device)
    try:
        config.validate()
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return _run(args, config, inputs)


def cmd_export(args: argparse.Namespace) -> int:
    from simplecnn.personal.export import export_files

    _, checkpoint = _load(args.checkpoint)
    for path in export_files(checkpoint, Path(args.checkpoint), args.format, Path(args.out), args.check_images):
        print(path)
    return 0


def _load(checkpoint: str | None):
    from simplecnn.checkpoint import CheckpointError, load_model

    try:
        return load_model(checkpoint)
    except CheckpointError as exc:
        raise CLIError(f"checkpoint {checkpoint or 'checkpoints/simplecnn.pt'}: {exc}") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from simplecnn.data import load_mnist
    from simplecnn.device import configure_threads
    from simplecnn.evaluate import evaluate

    configure_threads()
    model, _ = _load(args.checkpoint)
    data = load_mnist(args.data).subset(0, args.limit_test)
    result = evaluate(model, data.test_x, data.test_y)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(f"Test images: {result.n:,} | loss {result.loss:.4f} | accuracy {result.accuracy:.2%}")
    if result.calibration is not None:
        c = result.calibration
        print(
            f"Calibration: temperature {c.temperature:.3f} (fitted on the first {c.fit_images:,} of these images); "
            f"calibration error on the other {c.report_images:,}: {c.ece_before:.2%} before, {c.ece_after:.2%} after"
        )
    print(f"{'digit':>6} {'precision':>10} {'recall':>8} {'f1':>8} {'support':>8}")
    for row in result.report():
        print(
            f"{row['digit']:>6} {row['precision']:>10.4f} {row['recall']:>8.4f} {row['f1']:>8.4f} {row['support']:>8}"
        )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from simplecnn.checkpoint import DEFAULT_CHECKPOINT
    from simplecnn.device import configure_threads
    from simplecnn.evaluate import known_calibration
    from simplecnn.files import digest_file
    from simplecnn.inference.predict import predict_files

    configure_threads()
    model, checkpoint = _load(args.checkpoint)
    calibration = known_calibration(checkpoint.metrics, digest_file(args.checkpoint or DEFAULT_CHECKPOINT))
    results = predict_files(model, args.images, temperature=calibration.temperature if calibration else 1.0)
    for r in results:
        if args.json:
            print(json.dumps(r.to_json()), flush=True)
        elif r.prediction and r.prediction.doubt:  # unsure, or not a digit: the best guess still shown
            print(f"{r.path}: {r.prediction.doubt} — best guess {r.prediction.digit} ({r.prediction.confidence:.1%})")
        elif r.prediction:
            print(f"{r.path}: {r.prediction.digit} ({r.prediction.confidence:.1%})")
        else:
            print(f"{r.path}: {r.error}")
    return 0 if all(r.error is None or r.blank for r in results) else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from simplecnn.bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simplecnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "train", help="train SimpleCNN (or LeNet-5) on MNIST", description="Train SimpleCNN or LeNet-5 on MNIST."
    )
    p.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default=None,
        help="preset: tutorial (15 epochs, StepLR; the default), fast (1 epoch, one-cycle) or quick "
        "(a 30 s time budget; the default when --budget is given)",
    )
    _add_config_flags(p)
    p.add_argument("--data", help="data folder holding MNIST/raw (default: $SIMPLECNN_DATA, else ./data)")
    p.add_argument("--out", help="folder for best.pt (default: a new folder under checkpoints/runs/)")
    p.add_argument("--verbose", action="store_true", help="print a line per progress report")
    p.add_argument("--json", action="store_true", help="finish with one JSON line summarising the run")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "finetune",
        help="fine-tune a checkpoint on MNIST plus your labelled drawings",
        description="Fine-tune a checkpoint on MNIST plus labelled drawings (some held out to measure it).",
    )
    p.add_argument(
        "--drawings",
        required=True,
        help="the app's download (.zip or .npz) or a folder of PNGs whose names start with their label (7_003.png)",
    )
    p.add_argument("--checkpoint", help="the model to start from (default: checkpoints/simplecnn.pt)")
    p.add_argument("--budget", type=float, default=30.0, help="seconds for the whole fine-tune (default 30)")
    p.add_argument("--hold-out", type=float, default=0.5, help="share of the drawings kept out to measure it")
    p.add_argument("--per-batch", type=int, default=4, help="drawings in each batch of 128 (default 4)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--data", help="data folder holding MNIST/raw (default: $SIMPLECNN_DATA, else ./data)")
    p.add_argument("--out", help="folder for best.pt (default: a new folder under checkpoints/runs/)")
    p.add_argument("--verbose", action="store_true", help="print a line per progress report")
    p.add_argument("--json", action="store_true", help="finish with one JSON line, the before/after included")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser(
        "export",
        help="export a checkpoint to take home: ONNX (checked with onnxruntime) or the tutorial's state_dict",
    )
    p.add_argument("checkpoint", help="checkpoint file (e.g. checkpoints/simplecnn.pt or a run's best.pt)")
    p.add_argument("--format", choices=("onnx", "pt"), default="onnx", help="onnx (default) or pt")
    p.add_argument("--out", required=True, help="folder to write into (created if missing)")
    p.add_argument(
        "--check-images", type=int, default=0, help="test images the ONNX check compares on (0 = all 10,000)"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint on the MNIST test set")
    p.add_argument("--checkpoint", help="checkpoint file (default: checkpoints/simplecnn.pt)")
    p.add_argument("--data", help="data folder holding MNIST/raw (default: $SIMPLECNN_DATA, else ./data)")
    p.add_argument("--limit-test", type=int, default=0, help="use only the first N test images")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict the digit in image files")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, …)")
    p.add_argument("--checkpoint", help="checkpoint file (default: checkpoints/simplecnn.pt)")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON line per image: digit, confidence, probabilities, looks_like_digit, verdict "
        "(digit / unsure / not_digit) and digit_score (docs/digit-check.md)",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("bench", help="benchmark the tutorial's loop against ours")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--data", help="data folder holding MNIST/raw")
    p.add_argument("--images", type=int, default=12800, help="training images for the one-epoch comparison")
    p.add_argument("--skip-fast", action="store_true", help="skip the time-to-99%% run of the fast recipe")
    p.add_argument("--png", type=int, default=1000, help="MNIST test PNGs for the `predict` cost row (0 = skip)")
    p.add_argument(
        "--test-images", type=int, default=1000, help="test images each loop evaluates in the one-epoch comparison"
    )
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from simplecnn.checkpoint import CheckpointError
    from simplecnn.data import DataUnavailableError
    from simplecnn.execution.ray_resources import RayUnavailableError
    from simplecnn.inference.preprocess import ImageError
    from simplecnn.personal.export import ExportError

    failures = (CLIError, DataUnavailableError, CheckpointError, ImageError, RayUnavailableError, ExportError)
    try:
        return args.func(args)
    except (*failures, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc} ({exc.filename})" if exc.filename else f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - nobody foresaw it: one line here, the traceback in the log
        return _unexpected(exc, args.command)


def _unexpected(exc: Exception, command: str) -> int:
    """One line with an error id; the traceback goes to stderr only when SIMPLECNN_LOG=debug."""
    import logging

    from simplecnn import settings
    from simplecnn.errors import incident

    errors = logging.getLogger("simplecnn.errors")
    if not errors.handlers:
        debug = settings.log_level().lower() == "debug"
        errors.addHandler(logging.StreamHandler() if debug else logging.NullHandler())
        errors.propagate = False
    error_id = incident(exc, f"simplecnn {command}")
    print(f"error: unexpected failure (error id {error_id}; SIMPLECNN_LOG=debug shows its details)", file=sys.stderr)
    return 2
