"""Moving work between sites: checkpoint sizes, transfer times and transfer energy.

A training job that migrates writes a checkpoint, moves it over the link between the sites and
resumes from it. The checkpoint holds the weights and the optimizer state: with mixed-precision
Adam that is 2 bytes of bf16 weights, 4 of fp32 master weights and 4 + 4 of the two moments, plus
gradients' and buffers' share, about 16 bytes per parameter (Rajbhandari et al., "ZeRO", SC 2020,
section 3.1: 16 bytes per parameter of model states). Moving a GB costs network and storage energy
at each end of the link; the scenario gives it per GB (a long-haul estimate is a few Wh per GB at
each end; Aslan et al., J. Industrial Ecology 22 (2018) found 0.06 kWh/GB end to end for 2015,
halving every two years).
"""

from __future__ import annotations

import math

import numpy as np

#: Bytes of model states per parameter: bf16 weights, fp32 master weights, Adam's two moments.
CHECKPOINT_BYTES_PER_PARAM = 16.0


def checkpoint_gb(total_params: float) -> float:
    """Size of a training checkpoint with optimizer state [GB] (1 GB = 1e9 bytes)."""
    return CHECKPOINT_BYTES_PER_PARAM * total_params / 1e9


def transfer_s(gb: float, bandwidth_gbit_s: float) -> float:
    """Time to move ``gb`` GB over a link of ``bandwidth_gbit_s`` Gbit/s [s]."""
    return 8.0 * gb / bandwidth_gbit_s


def transfer_energy_mwh(gb: float, kwh_per_gb: float) -> float:
    """Energy moving ``gb`` GB costs at one end of the link [MWh]."""
    return gb * kwh_per_gb / 1000.0


def arrival_slice(k: int, duration_s: float, slice_s: float) -> int:
    """The slice work sent at the start of slice ``k`` can start in at the other end: the first
    slice start at or after its data arrived (``k`` itself when no data moves)."""
    return k + math.ceil(duration_s / slice_s - 1e-9)


def transfer_spread(duration_s: float, slice_s: float) -> np.ndarray:
    """Share of a transfer started at a slice start that falls in that slice and the next ones
    [fraction] (it runs at a steady rate; one slice holds all of an instant one)."""
    if duration_s <= 0.0:
        return np.ones(1)
    edges = np.minimum(np.arange(math.ceil(duration_s / slice_s - 1e-9) + 1) * slice_s,
                       duration_s)
    return np.diff(edges) / duration_s
