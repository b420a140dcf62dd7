"""Shared helpers of the benchmark scripts: medians of repeated runs, and the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeats`` calls of ``fn`` [s], and every run."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs


def cpu_model() -> str | None:
    """The processor as Linux reports it: model name, family and model numbers, and the
    last-level cache (``/proc/cpuinfo``, ``/sys``); None elsewhere. The same code has run
    30-50% apart in speed on this 2-core machine in different sessions."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    info: dict[str, str] = {}
    for line in lines:
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    cache = Path("/sys/devices/system/cpu/cpu0/cache/index3/size")
    l3 = f", L3 {cache.read_text().strip()}" if cache.is_file() else ""
    return (f"{info.get('model name', '?')} (family {info.get('cpu family', '?')} model "
            f"{info.get('model', '?')}){l3}")


def machine() -> dict:
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "system": platform.system(), "cpu_model": cpu_model()}


def record(name: str, figures: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the machine and the figures."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **figures}, indent=2) + "\n")
    return path
