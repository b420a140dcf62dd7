"""GPU types and their power, the GPUs a stream reserves, and cooling against ambient temperature.

A busy GPU-second draws ``serving_w``; so serving tokens of GPU energy ``E`` occupies
``E / serving_w`` GPU-seconds, which is how work competes for the fleet's GPUs. IT energy from
work and idle GPUs, with the node's host overhead, is :mod:`models.site`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

J_PER_MWH = 3.6e9


@dataclass(frozen=True)
class GPUType:
    """Datasheet and power characteristics of one GPU type in its node.

    Attributes
    ----------
    idle_w : float
        GPU power when idle [W].
    serving_w : float
        Mean GPU power while serving at the catalogue batch sizes [W].
    host_overhead_fraction : float
        Node power besides the GPUs, per unit of GPU power [fraction].
    source : str
    tdp_w : float
        Board power limit; drawn in compute-bound work (prefill, training) [W].
    peak_bf16_flops : float
        Dense BF16 tensor-core peak [FLOP/s].
    hbm_bytes_per_s : float
        Memory bandwidth [B/s].
    memory_bytes : float
        HBM capacity [B].
    """

    idle_w: float
    serving_w: float
    host_overhead_fraction: float
    source: str
    tdp_w: float
    peak_bf16_flops: float
    hbm_bytes_per_s: float
    memory_bytes: float


_HOST = ("Host overhead 0.35 is an assumption for an 8-GPU HGX node under load; the DGX H100 "
         "system maximum (10.2 kW over 5.6 kW of GPU TDP, DGX H100 datasheet) bounds it at 0.82.")

GPU_TYPES: dict[str, GPUType] = {
    "A100-SXM": GPUType(
        idle_w=50.0, serving_w=340.0, host_overhead_fraction=0.35, tdp_w=400.0,
        peak_bf16_flops=312e12, hbm_bytes_per_s=2.039e12, memory_bytes=80e9,
        source="NVIDIA A100 80GB SXM datasheet: 312 TFLOPS dense BF16, 2,039 GB/s, 80 GB, "
               "400 W. Idle 50 W and serving 340 W (0.85 of TDP, as for H100) are assumptions. "
               + _HOST,
    ),
    "H100-SXM": GPUType(
        idle_w=75.0, serving_w=600.0, host_overhead_fraction=0.35, tdp_w=700.0,
        peak_bf16_flops=989.4e12, hbm_bytes_per_s=3.35e12, memory_bytes=80e9,
        source="NVIDIA H100 SXM5 datasheet: 989 TFLOPS dense BF16, 3.35 TB/s, 80 GB, 700 W. "
               "Idle 75 W and serving 600 W are assumptions within the range nvidia-smi reports "
               "for H100 SXM at idle and under large-batch LLM decoding. " + _HOST,
    ),
    "H200-SXM": GPUType(
        idle_w=75.0, serving_w=600.0, host_overhead_fraction=0.35, tdp_w=700.0,
        peak_bf16_flops=989.4e12, hbm_bytes_per_s=4.8e12, memory_bytes=141e9,
        source="NVIDIA H200 SXM datasheet: 989 TFLOPS dense BF16, 4.8 TB/s, 141 GB, 700 W. "
               "Idle and serving power as for H100 (same board power; an assumption). " + _HOST,
    ),
}


def gpu_type(name: str) -> GPUType:
    try:
        return GPU_TYPES[name]
    except KeyError:
        raise ValueError(f"datacenter.gpu = {name!r}: known GPU types are {sorted(GPU_TYPES)}")\
            from None


def reserved_gpus(busy_gpu_s, slice_s: float, gpus: int) -> int:
    """GPUs kept for a stream of work: its busiest slice, rounded up, at most the fleet [GPUs].

    Parameters
    ----------
    busy_gpu_s : numpy.ndarray
        GPU-seconds the stream occupies per slice [s].
    slice_s : float
        Slice length [s].
    gpus : int
        Fleet size.
    """
    peak = float(np.max(busy_gpu_s, initial=0.0)) / slice_s
    return min(int(np.ceil(peak - 1e-9)), gpus)


def cooling_fraction_from_dry_bulb(temp_air_c: np.ndarray, free_cooling_max_temp_c: float,
                                   min_fraction: float, slope_per_c: float,
                                   max_fraction: float) -> np.ndarray:
    """Cooling energy per unit IT energy from the outdoor dry-bulb temperature [fraction].

    A piecewise-linear economiser curve: up to ``free_cooling_max_temp_c`` air-side free cooling
    needs only fans and pumps (``min_fraction``); above it chillers take over progressively,
    ``slope_per_c`` per degree, capped at ``max_fraction`` (design day). With the defaults
    (0.06, 18 degC, 0.012 /degC, 0.35) the cooling PUE share spans 1.06-1.35, the range Uptime
    Institute surveys report for modern and legacy facilities.

    Parameters
    ----------
    temp_air_c : numpy.ndarray
        Outdoor dry-bulb temperature [degC].
    free_cooling_max_temp_c : float
        Upper end of free cooling [degC].
    min_fraction, slope_per_c, max_fraction : float
        Curve parameters [fraction], [fraction/degC], [fraction].

    Returns
    -------
    numpy.ndarray
        Cooling energy / IT energy [fraction].
    """
    excess = np.maximum(np.asarray(temp_air_c, dtype=float) - free_cooling_max_temp_c, 0.0)
    return np.minimum(min_fraction + slope_per_c * excess, max(max_fraction, min_fraction))
