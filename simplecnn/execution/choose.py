"""Which executor trains this process's runs: local threads by default, Ray when SIMPLECNN_RAY_ADDRESS is set."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from simplecnn import settings
from simplecnn.execution.base import Executor
from simplecnn.execution.local import LocalExecutor
from simplecnn.execution.ray_client import RayExecutor

log = logging.getLogger(__name__)


def executor_from_env(
    env: Mapping[str, str] | None = None, data_root: str | None = None, fallback: bool = True
) -> Executor:
    """$SIMPLECNN_RAY_ADDRESS unset or empty → LocalExecutor; `auto` (the cluster `ray start --head` started on
    this machine) or `host:port` → RayExecutor. With `fallback`, runs train locally while the cluster is
    unreachable (the run's device line says so); without it (the CLI) they fail with RayUnavailableError.

    $SIMPLECNN_RAY_CPUS: CPUs (torch threads) per CPU run (default 1); $SIMPLECNN_RAY_GPU: the share of one GPU
    a GPU run asks for (default 0.25)."""
    address = settings.ray_address(env)
    local = LocalExecutor(data_root)
    if not address:
        return local
    return RayExecutor(  # Ray itself is imported by the bridge process only
        address,
        data_root=data_root,
        cpus_per_run=settings.ray_cpus(env),
        gpu_fraction=settings.ray_gpu_fraction(env),
        fallback=local if fallback else None,
    )


def max_concurrent_for(executor: Executor) -> int | None:
    """The scheduler's max_concurrent for this executor: the cluster's capacity for Ray (so that extra runs wait
    in the scheduler's FIFO with queue positions, not invisibly in Ray's), None (the scheduler's default) for
    local threads or when the cluster cannot be reached now."""
    capacity = getattr(executor, "capacity", None)
    if capacity is None:
        return None
    try:
        return int(capacity())
    except Exception as exc:  # noqa: BLE001 - RayUnavailableError and friends: start anyway, runs fall back
        log.warning("%s; sizing the queue for this machine", exc)
        return None
