"""What a run asks of a Ray cluster, and what the cluster can take: pure functions, testable without Ray."""

from __future__ import annotations

DEFAULT_GPU_FRACTION = 0.25  # share of one GPU per GPU run: 4 small runs per card
CANCEL_GRACE_S = 4.0  # after a polite cancel, a worker still busy this long is killed (force cancel)
WORKER_DIED = "the Ray worker running this run died"
NODE_DIED = "the Ray node running this run went away"


class RayUnavailableError(RuntimeError):
    """The Ray cluster cannot be reached (or went away); the message is one line for the user."""


# ---- resources: pure functions, testable without Ray --------------------------------------------------------
def task_resources(device: str, cpus_per_run: int, gpu_fraction: float, cluster_gpus: float) -> dict[str, float]:
    """The Ray resource request of one run: CPU threads, or a GPU share (plus one CPU to feed it).

    `auto` asks for a GPU share when the cluster has GPUs (a share of a GPU trains faster than a CPU thread),
    otherwise CPUs; `cpu` always asks for CPUs; `cuda`/`cuda:N` always asks for a GPU share."""
    wants_gpu = device.startswith("cuda") or (device == "auto" and cluster_gpus > 0)
    if wants_gpu:
        return {"num_cpus": 1, "num_gpus": gpu_fraction}
    return {"num_cpus": max(1, cpus_per_run)}


def cluster_capacity(nodes: list[dict[str, float]], cpus_per_run: int, gpu_fraction: float) -> int:
    """How many runs the alive nodes (their `Resources`) can train at once, with `auto` runs' requests."""
    gpus = sum(n.get("GPU", 0.0) for n in nodes)
    total = 0
    for node in nodes:
        cpus = int(node.get("CPU", 0.0))
        if gpus > 0:
            total += min(cpus, int(node.get("GPU", 0.0) / gpu_fraction + 1e-9))
        else:
            total += cpus // max(1, cpus_per_run)
    return total


def infeasible(resources: dict[str, float], nodes: list[dict[str, float]]) -> str | None:
    """Why no alive node can ever take this request (one line), or None."""
    if any(all(node.get(key, 0.0) >= need for key, need in _ray_names(resources)) for node in nodes):
        return None
    if resources.get("num_gpus"):
        return "the Ray cluster has no GPU for this run; choose device auto or cpu, or add a GPU worker"
    cpus = resources["num_cpus"]
    return f"no Ray node has {cpus:g} CPUs for one run; lower SIMPLECNN_RAY_CPUS or add a larger node"


def _ray_names(resources: dict[str, float]) -> list[tuple[str, float]]:
    return [({"num_cpus": "CPU", "num_gpus": "GPU"}[key], need) for key, need in resources.items()]
