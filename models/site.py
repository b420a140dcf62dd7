"""A site's physics, once: IT energy from work, the GPU pool, facility energy, and the bus.

Pure, vectorised functions in pvlib's layering; the SimPy engine (:mod:`twin.engine`), the
optimizer's data (:mod:`twin.optimize.data`), the plan-to-meters conversion
(:mod:`twin.optimize.plan`) and the invariants (:mod:`twin.invariants`) call them and write no
formula of their own.

IT energy of a slice [MWh] = (GPU energy of the work done + idle GPU-seconds x idle power)
x (1 + host overhead) / 3.6e9, where work is interactive and batch tokens (at ``serving_w`` while
busy), training compute (at ``tdp_w``) and training checkpoints and reloads (GPUs held at
``idle_w``). Facility energy = IT + cooling + aux, with cooling and aux as shares of IT. The bus
of a slice closes as ``pv + wind + import + discharge = facility + charge + export`` (spec
section 1), curtailment taking what neither the site nor the grid can take.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from models.datacenter import J_PER_MWH, GPUType, reserved_gpus


def host_energy_mwh(gpu_energy_j, gpu: GPUType):
    """IT energy of GPU energy: the node's host overhead added, in MWh.

    Parameters
    ----------
    gpu_energy_j : float or numpy.ndarray
        Energy drawn by the GPUs [J].
    gpu : GPUType

    Returns
    -------
    float or numpy.ndarray
        ``E * ((1 + host_overhead_fraction) / 3.6e9)`` [MWh].

    Notes
    -----
    The factor is formed first, as the dispatch LP's data always had it: the LP is degenerate,
    and coefficients that differ in the last bit (``E * (1 + h) / 3.6e9``) made HiGHS return
    another optimum of the same cost with other meters (``benchmarks/equivalence.py``).
    """
    return gpu_energy_j * ((1.0 + gpu.host_overhead_fraction) / J_PER_MWH)


def it_energy_mwh(work_gpu_energy_j, idle_gpu_s, gpu: GPUType):
    """IT energy of a slice: the work's GPU energy plus idle GPUs, with host overhead.

    Parameters
    ----------
    work_gpu_energy_j : float or numpy.ndarray
        GPU energy of every piece of work done in the slice [J].
    idle_gpu_s : float or numpy.ndarray
        GPU-seconds no work held [s].
    gpu : GPUType

    Returns
    -------
    float or numpy.ndarray
        ``(E_work + idle_s * idle_w) * (1 + host_overhead_fraction) / 3.6e9`` [MWh].
    """
    return host_energy_mwh(work_gpu_energy_j + idle_gpu_s * gpu.idle_w, gpu)


def busy_gpu_s(gpu_energy_j, gpu: GPUType):
    """GPU-seconds that inference work of a given GPU energy occupies, at ``serving_w`` [s]."""
    return gpu_energy_j / gpu.serving_w


def request_load(gpu_energy_j, gpu: GPUType):
    """What requests of a given GPU energy bring to a site: the GPU-seconds they occupy [s] and
    their IT energy over leaving those GPUs idle [MWh] (a fleet routes them there)."""
    busy = busy_gpu_s(gpu_energy_j, gpu)
    return busy, it_energy_mwh(gpu_energy_j, -busy, gpu)


def serving_energy_j(gpu_s, gpu: GPUType):
    """GPU energy of ``gpu_s`` GPU-seconds of inference (interactive or batch) [J]."""
    return gpu_s * gpu.serving_w


def training_gpu_energy_j(compute_s, overhead_s, gpus, gpu: GPUType):
    """GPU energy of a training job: compute at board power, checkpoints and reloads at idle.

    Parameters
    ----------
    compute_s, overhead_s : float or numpy.ndarray
        Seconds of compute, and of checkpoint writes and reloads (GPUs held, no progress) [s].
    gpus : int
        GPUs the job holds.
    gpu : GPUType

    Returns
    -------
    float or numpy.ndarray
        ``compute_s * gpus * tdp_w + overhead_s * gpus * idle_w`` [J].
    """
    return compute_s * gpus * gpu.tdp_w + overhead_s * gpus * gpu.idle_w


def training_pool_gpus(interactive_busy_gpu_s, slice_s: float, gpus: int) -> int:
    """GPUs left for training beside interactive inference's busiest slice [GPUs].

    Parameters
    ----------
    interactive_busy_gpu_s : numpy.ndarray
        GPU-seconds interactive inference occupies per slice over the whole run [s].
    slice_s : float
        Slice length [s].
    gpus : int
        The fleet's GPUs.
    """
    return gpus - reserved_gpus(interactive_busy_gpu_s, slice_s, gpus)


def free_gpu_s(capacity_gpu_s, *taken_gpu_s):
    """GPU-seconds of a slice left after what each piece of work takes, at least 0 [s].

    Parameters
    ----------
    capacity_gpu_s : float or numpy.ndarray
        The fleet's GPU-seconds in the slice [s].
    *taken_gpu_s : float or numpy.ndarray
        GPU-seconds taken: interactive inference, training held, batch served [s].
    """
    free = capacity_gpu_s
    for taken in taken_gpu_s:
        free = free - taken
    return np.maximum(free, 0.0) if isinstance(free, np.ndarray) else max(free, 0.0)


def batch_it_mwh_per_gpu_s(gpu: GPUType) -> float:
    """IT energy a GPU-second of batch inference adds over leaving the GPU idle [MWh/GPU-s]."""
    return host_energy_mwh(gpu.serving_w - gpu.idle_w, gpu)


def training_it_mwh(gpus: int, seconds: float, gpu: GPUType) -> float:
    """IT energy of a training job computing for ``seconds`` on ``gpus`` GPUs [MWh]."""
    return host_energy_mwh(training_gpu_energy_j(seconds, 0.0, gpus, gpu), gpu)


def training_extra_it_mwh(gpus: int, seconds: float, gpu: GPUType) -> float:
    """IT energy a training job computing for ``seconds`` adds over its GPUs idle [MWh]."""
    return host_energy_mwh(gpus * seconds * (gpu.tdp_w - gpu.idle_w), gpu)


def non_it_mwh(it_mwh, cooling_fraction, aux_fraction):
    """Cooling and aux energy of a slice from its IT energy [MWh], as ``(cooling, aux)``.

    Parameters
    ----------
    it_mwh : float or numpy.ndarray
        IT energy [MWh].
    cooling_fraction : float or numpy.ndarray
        Cooling energy per IT energy [fraction].
    aux_fraction : float
        UPS/distribution losses and auxiliary loads per IT energy [fraction].
    """
    return it_mwh * cooling_fraction, it_mwh * aux_fraction


class MeterRow(NamedTuple):
    """One slice of one site's meters [MWh], in the order of ``gti_core.meters.ENERGY_COLUMNS``
    then ``OPTIONAL_ENERGY_COLUMNS`` (spec section 1); facility energy is IT + cooling + aux.
    (A named tuple: immutable, typed, and cheap to make once a slice.)"""

    pv_mwh: float
    wind_mwh: float
    curtailed_mwh: float
    grid_import_mwh: float
    grid_export_mwh: float
    bess_charge_mwh: float
    bess_discharge_mwh: float
    it_mwh: float
    cooling_mwh: float
    aux_mwh: float
    backup_mwh: float = 0.0
    unserved_mwh: float = 0.0

    @property
    def facility_mwh(self) -> float:
        return self.it_mwh + self.cooling_mwh + self.aux_mwh

    def values(self) -> tuple[float, ...]:
        """The row's energies in ``ENERGY_COLUMNS`` order (facility after aux), then backup and
        unserved [MWh]."""
        return (*self[:10], self.facility_mwh, self.backup_mwh, self.unserved_mwh)


def sum_rows(rows: list[MeterRow]) -> MeterRow:
    """The parts of a slice as one row [MWh]."""
    if len(rows) == 1:
        return rows[0]
    return MeterRow(*(float(sum(col)) for col in zip(*rows, strict=True)))


class BusLimits(NamedTuple):
    """What the bus of one slice can draw on [MWh]: renewables offered, the battery's limits
    at the bus, and the point of interconnection's limits."""

    pv_avail_mwh: float
    wind_avail_mwh: float
    max_charge_mwh: float
    max_discharge_mwh: float
    max_import_mwh: float
    max_export_mwh: float


class SupplyShortfall(RuntimeError):
    """The bus cannot close: the load needs more than the grid limit allows.

    Attributes
    ----------
    short_mwh : float
        Energy needed from the grid in the slice [MWh].
    """

    def __init__(self, short_mwh: float):
        super().__init__(f"needs {short_mwh} MWh from the grid")
        self.short_mwh = short_mwh


def settle_bus(limits: BusLimits, it_mwh: float, cooling_mwh: float, aux_mwh: float,
               charge_mwh: float, discharge_mwh: float) -> MeterRow:
    """Close the site bus for one slice into its meter row.

    The battery setpoints are capped at the battery's limits, and a discharge at what the loads,
    the charge, the export limit and curtailing every renewable MWh can take; the grid covers any
    deficit up to ``max_import_mwh`` (grid charging is cut first when the limit binds); surplus
    is exported up to ``max_export_mwh`` and the rest is curtailed from PV and wind in
    proportion to what they offered.

    Parameters
    ----------
    limits : BusLimits
        Renewables offered and the battery's and grid's limits this slice [MWh].
    it_mwh, cooling_mwh, aux_mwh : float
        The slice's loads [MWh].
    charge_mwh, discharge_mwh : float
        Battery energy asked from and to the bus [MWh].

    Returns
    -------
    MeterRow
        The slice's meters [MWh].

    Raises
    ------
    SupplyShortfall
        The load exceeds supply and the import limit.
    """
    pv_avail, wind_avail = limits.pv_avail_mwh, limits.wind_avail_mwh
    facility = it_mwh + cooling_mwh + aux_mwh
    charge = min(max(charge_mwh, 0.0), limits.max_charge_mwh)
    discharge = min(max(discharge_mwh, 0.0), limits.max_discharge_mwh)
    surplus = pv_avail + wind_avail + discharge - facility - charge
    # a discharge beyond what the loads, the charge and the export limit take, even with every
    # renewable MWh curtailed, has nowhere to go: the battery delivers less
    stranded = surplus - limits.max_export_mwh - (pv_avail + wind_avail)
    if stranded > 0.0 and discharge > 0.0:
        cut = min(discharge, stranded)
        discharge -= cut
        surplus -= cut
    if surplus < 0.0 and -surplus > limits.max_import_mwh:
        cut = min(charge, -surplus - limits.max_import_mwh)
        charge -= cut
        surplus += cut
        if -surplus > limits.max_import_mwh * (1.0 + 1e-12):
            raise SupplyShortfall(-surplus)
    grid_import = max(-surplus, 0.0)
    grid_export = min(max(surplus, 0.0), limits.max_export_mwh)
    curtailed = max(surplus, 0.0) - grid_export
    offered = pv_avail + wind_avail
    pv_share = pv_avail / offered if offered > 0.0 else 0.0
    return MeterRow(pv_mwh=max(pv_avail - curtailed * pv_share, 0.0),
                    wind_mwh=max(wind_avail - curtailed * (1.0 - pv_share), 0.0),
                    curtailed_mwh=curtailed, grid_import_mwh=grid_import,
                    grid_export_mwh=grid_export, bess_charge_mwh=charge,
                    bess_discharge_mwh=discharge, it_mwh=it_mwh, cooling_mwh=cooling_mwh,
                    aux_mwh=aux_mwh)


def net_exchange_mwh(pv_mwh, wind_mwh, discharge_mwh, facility_mwh, charge_mwh):
    """The grid exchange that closes the bus, as ``(import, export)`` [MWh] (one meter nets
    them: it never imports and exports in one slice)."""
    surplus = pv_mwh + wind_mwh + discharge_mwh - facility_mwh - charge_mwh
    return np.maximum(-surplus, 0.0), np.maximum(surplus, 0.0)
