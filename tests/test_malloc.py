"""The CLI's training process keeps freed activation buffers instead of faulting in fresh pages every step
(simplecnn.perf.malloc). Each case runs in a child process: malloc settings are process-wide and would change the
memory figures of every other test in this one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

# Real training steps (batch 64, channels_last, fp32): page faults over 3 steps after 4 to settle in.
CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from simplecnn.perf.malloc import keep_freed_buffers
    accepted = keep_freed_buffers() if sys.argv[1] in ("keep", "settings-only") else None
    if sys.argv[1] == "settings-only":  # whether glibc took the settings: no need to train for that
        print(json.dumps({"accepted": accepted}))
        sys.exit()
    import torch
    import torch.nn.functional as F
    from simplecnn.model import SimpleCNN
    torch.set_num_threads(1)  # one allocating thread: other threads' arenas would make the count a lottery
    torch.manual_seed(0)
    model = SimpleCNN().to(memory_format=torch.channels_last)
    x = torch.randn(64, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,))

    def step():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    for _ in range(4):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        step()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3
    print(json.dumps({"accepted": accepted, "faults_per_step": faults}))
    """
)


def run_child(mode: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, env=environ, timeout=120
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_freed_buffers_are_reused_not_faulted_in_again() -> None:
    default = run_child("default")
    kept = run_child("keep")
    # By default activations come back as fresh pages every step; kept buffers fault rarely (docs/performance.md
    # has the counts).
    assert default["faults_per_step"] > 1000
    assert kept["accepted"] is True
    # Relative, not absolute: the count depends on the CPU's kernels (AVX2 vs AVX-512 take different buffers).
    assert kept["faults_per_step"] < default["faults_per_step"] / 4


def test_the_operators_malloc_environment_wins() -> None:
    assert run_child("settings-only", MALLOC_TRIM_THRESHOLD_="131072")["accepted"] is False
    assert run_child("settings-only")["accepted"] is True  # the control: without the operator's setting
