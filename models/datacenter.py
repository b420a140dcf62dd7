"""GPU fleet -> IT power, and facility (cooling, auxiliaries) as a function of ambient temperature.

IT energy of a slice = energy of the tokens served (busy GPU time) + idle GPU time at idle power,
both times ``1 + host_overhead_fraction`` for the node's CPUs, memory, NICs, fans and storage.
A busy GPU-second draws ``serving_w``; so serving tokens of GPU energy ``E`` occupies
``E / serving_w`` GPU-seconds, which is how work competes for the fleet's GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

J_PER_MWH = 3.6e9


@dataclass(frozen=True)
class GPUType:
    """Power characteristics of one GPU type in its node.

    Attributes
    ----------
    idle_w : float
        GPU power when idle [W].
    serving_w : float
        Mean GPU power while serving at the catalogue batch sizes [W].
    host_overhead_fraction : float
        Node power besides the GPUs, per unit of GPU power [fraction].
    source : str
    """

    idle_w: float
    serving_w: float
    host_overhead_fraction: float
    source: str


GPU_TYPES: dict[str, GPUType] = {
    "H100-SXM": GPUType(
        idle_w=75.0,
        serving_w=600.0,
        host_overhead_fraction=0.35,
        source="TDP 700 W (NVIDIA H100 SXM5 datasheet). Idle 75 W and serving 600 W are "
               "assumptions within the range nvidia-smi reports for H100 SXM at idle and under "
               "large-batch LLM decoding. Host overhead 0.35 is an assumption for an 8-GPU HGX "
               "node at inference load; the DGX H100 system maximum (10.2 kW over 5.6 kW of GPU "
               "TDP, DGX H100 datasheet) bounds it at 0.82.",
    ),
}


def gpu_type(name: str) -> GPUType:
    try:
        return GPU_TYPES[name]
    except KeyError:
        raise ValueError(f"datacenter.gpu = {name!r}: known GPU types are {sorted(GPU_TYPES)}")\
            from None


def busy_gpu_seconds(gpu_energy_j, gpu: GPUType):
    """GPU-seconds occupied by work of the given GPU energy [s]."""
    return gpu_energy_j / gpu.serving_w


def it_energy_mwh(gpu_energy_j, idle_gpu_seconds, gpu: GPUType):
    """IT energy of a slice: served work plus idle GPUs, with host overhead [MWh].

    Parameters
    ----------
    gpu_energy_j : float or numpy.ndarray
        GPU energy of the work served [J].
    idle_gpu_seconds : float or numpy.ndarray
        GPU-seconds no work occupied [s].
    gpu : GPUType

    Returns
    -------
    float or numpy.ndarray
        ``(E_work + idle_s * idle_w) * (1 + host_overhead) / 3.6e9`` [MWh].
    """
    return ((gpu_energy_j + idle_gpu_seconds * gpu.idle_w)
            * (1.0 + gpu.host_overhead_fraction) / J_PER_MWH)


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
