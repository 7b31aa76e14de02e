"""Hostile inputs for tests/security and benchmarks: compressed-metrics checkpoints, image bombs, and a child
process that measures what reading one costs."""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
BLOCK = 1 << 24


# ---- the compressed-metrics checkpoint ---------------------------------------------------------------------------
# A valid SimpleCNN checkpoint whose metrics hold a huge zero tensor, every entry DEFLATE-compressed (torch itself
# stores them): gigabytes inside a few MB. Built without ever holding the zeros: the payload is pickled the way
# torch.save pickles tensors (storages as persistent ids; the rebuild function is torch's own, named as torch's
# files name it), and the zeros' DEFLATE stream is one fully flushed block repeated.
class _Storage:
    def __init__(self, key: str, numel: int, data: bytes = b"") -> None:
        self.key, self.numel, self.data = key, numel, data


class _Tensor:
    def __init__(self, storage: _Storage, size: tuple[int, ...]) -> None:
        self.storage, self.size = storage, size

    def __reduce_ex__(self, protocol):
        stride: list[int] = []
        step = 1
        for dim in reversed(self.size):
            stride.insert(0, step)
            step *= dim
        return _REBUILD, (self.storage, 0, self.size, tuple(stride), False, collections.OrderedDict())


_REBUILD = torch.zeros(1).__reduce_ex__(2)[0]  # the function torch's own pickles of a tensor call


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _zeros_stream(n_blocks: int) -> tuple[bytes, bytes, int]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(BLOCK)) + c.flush(zlib.Z_FULL_FLUSH)
    crc, zero = 0, bytes(BLOCK)
    for _ in range(n_blocks):
        crc = zlib.crc32(zero, crc)
    return block, c.flush(zlib.Z_FINISH), crc


def write_zip(path: Path, entries) -> Path:
    """entries: (name, method, crc, size, declared size, chunks); a zip64 archive written by hand, so that a
    declared size may differ from the real one."""
    central = []
    with open(path, "wb") as out:
        for name, method, crc, _, declared, chunks in entries:
            offset, raw = out.tell(), name.encode()
            csize = sum(len(c) for c in chunks)
            extra = struct.pack("<HHQQ", 1, 16, declared, csize)
            sizes = (2**32 - 1, 2**32 - 1, len(raw), len(extra))  # zip64: the real sizes are in `extra`
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc, *sizes) + raw + extra)
            for chunk in chunks:
                out.write(chunk)
            central.append((raw, method, crc, declared, csize, offset))
        start = out.tell()
        for raw, method, crc, declared, csize, offset in central:
            extra = struct.pack("<HHQQQ", 1, 24, declared, csize, offset)
            out.write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    45,
                    45,
                    0,
                    method,
                    0,
                    0x21,
                    crc,
                    2**32 - 1,
                    2**32 - 1,
                    len(raw),
                    len(extra),
                    0,
                    0,
                    0,
                    0,
                    2**32 - 1,
                )
                + raw
                + extra
            )
        end, n = out.tell(), len(central)
        out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, end - start, start))
        out.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 2**32 - 1, 2**32 - 1, 0))
    return path


def compressed_metrics_checkpoint(path: Path, zero_bytes: int, declared: int | None = None) -> Path:
    """The shipped model's weights plus metrics["junk"] = `zero_bytes` of float32 zeros. `declared`: the size
    the zip directory claims for the zeros (a lie when it differs)."""
    state = torch.load(ROOT / "checkpoints" / "simplecnn.pt", weights_only=True)["state_dict"]
    storages: list[_Storage] = []

    def wrap(t: torch.Tensor) -> _Tensor:
        t = t.detach().float().contiguous()
        storages.append(_Storage(str(len(storages)), t.numel(), t.numpy().tobytes()))
        return _Tensor(storages[-1], tuple(t.shape))

    tensors = {k: wrap(v) for k, v in state.items()}
    junk = _Storage(str(len(storages)), zero_bytes // 4)
    payload = {
        "format": "simplecnn-checkpoint",
        "format_version": 1,
        "state_dict": tensors,
        "config": {},
        "metrics": {"test_accuracy": 0.99, "junk": _Tensor(junk, (zero_bytes // 4,))},
        "history": {},
        "meta": {},
    }
    pkl = io.BytesIO()
    _Pickler(pkl, protocol=2).dump(payload)
    plain = [("archive/data.pkl", pkl.getvalue()), ("archive/byteorder", b"little")]
    plain += [(f"archive/data/{s.key}", s.data) for s in storages]
    entries = [(n, 8, zlib.crc32(d), len(d), len(d), [_deflate(d)]) for n, d in plain]
    n_blocks = zero_bytes // BLOCK
    block, tail, crc = _zeros_stream(n_blocks)
    zeros = [*[block] * n_blocks, tail]
    entries.append((f"archive/data/{junk.key}", 8, crc, zero_bytes, declared or zero_bytes, zeros))
    entries.append(("archive/version", 0, zlib.crc32(b"3\n"), 2, 2, [b"3\n"]))
    return write_zip(path, entries)


# ---- images ------------------------------------------------------------------------------------------------------
def png_of_zeros(width: int, height: int, mode: str = "L") -> bytes:
    """A valid PNG of width × height black pixels, compressed row by row (never the whole image in memory)."""
    colour, channels = {"L": (0, 1), "RGBA": (6, 4)}[mode]

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    comp = zlib.compressobj(9)
    row = b"\0" * (1 + width * channels)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def float_tiff() -> bytes:
    from PIL import Image

    pixels = (np.random.default_rng(0).random((64, 64)) * 3.5).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(pixels, mode="F").save(out, format="TIFF")
    return out.getvalue()


def digit_png(digit_pixels: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray((digit_pixels * 255).astype(np.uint8)).resize((140, 140)).save(out, format="PNG")
    return out.getvalue()


# ---- cost in a fresh process -------------------------------------------------------------------------------------
_CHILD = """
import json, sys
def mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
{setup}
results = []
for body in json.loads(sys.argv[1]):
    before = mb("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) restarts from here
    outcome = "ok"
    try:
        exec(body)
    except BaseException as exc:
        outcome = type(exc).__name__ + ": " + str(exc)
    results.append([outcome, mb("VmHWM:") - before])
print(json.dumps(results))
"""


def costs_in_child(setup: str, *bodies: str) -> list[tuple[str, float]]:
    """Run each of `bodies` in one fresh Python after `setup` (imports, warm-up): per body, (outcome, peak
    memory growth in MB over the memory before it)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(setup=setup.strip()), json.dumps(bodies)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [(outcome, growth) for outcome, growth in json.loads(done.stdout.strip().splitlines()[-1])]
