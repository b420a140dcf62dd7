"""Typed handles: what each optimizer family created, with units in the names.

A family's ``add_*`` function returns one of these; the families after it, the objective, the
oracle, MPC and sizing take the variables and constraints they need from it (and hand them to
:class:`twin.optimize.highs.CompiledLP`, which maps components to columns and rows), so no code
finds a variable by its name or asks a model what it has.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo


@dataclass(frozen=True)
class BackupHandle:
    """Backup energy per slice [MWh] and the fuel row."""

    backup_mwh: pyo.Var
    fuel: pyo.Constraint


@dataclass(frozen=True)
class DemandResponseHandle:
    """Each demand-response call's shortfall [MWh] and its row."""

    short_mwh: pyo.Var
    calls: pyo.Constraint


@dataclass(frozen=True)
class SupplyHandle:
    """PV and wind taken, grid exchange and unserved energy per slice [MWh]; with sizing, the
    PV (AC) and wind capacities [MW]; with scheduled events, backup and demand response."""

    pv_mwh: pyo.Var
    wind_mwh: pyo.Var
    import_mwh: pyo.Var
    export_mwh: pyo.Var
    unserved_mwh: pyo.Var
    pv_capacity_mw: pyo.Var | None = None
    wind_capacity_mw: pyo.Var | None = None
    backup: BackupHandle | None = None
    demand_response: DemandResponseHandle | None = None


@dataclass(frozen=True)
class StorageHandle:
    """Battery charge, discharge and content per slice [MWh] and the content's data columns.

    Dispatch fixes ``soc_init_mwh``, ``soc_floor_mwh`` and ``soc_end_min_mwh`` by their bounds
    (a rolling horizon moves them); sizing makes ``power_mw`` and ``energy_mwh`` variables and
    ties the initial content to the energy capacity. Without a battery only the three per-slice
    variables exist, held at 0.
    """

    charge_mwh: pyo.Var
    discharge_mwh: pyo.Var
    soc_mwh: pyo.Var
    soc_init_mwh: pyo.Var | None = None
    content: pyo.Constraint | None = None
    soc_floor_mwh: pyo.Var | None = None
    soc_end_min_mwh: pyo.Var | None = None
    end_short_mwh: pyo.Var | None = None
    power_mw: pyo.Var | None = None
    energy_mwh: pyo.Var | None = None

    @property
    def sized(self) -> bool:
        return self.energy_mwh is not None


@dataclass(frozen=True)
class SizedStorage:
    """A battery whose power [MW] and energy [MWh] the LP chooses, its window and start as
    shares of the energy [fraction], and the most of each that may be built."""

    min_soc_fraction: float
    max_soc_fraction: float
    initial_soc_fraction: float
    max_power_mw: float | None = None
    max_energy_mwh: float | None = None


@dataclass(frozen=True)
class DeferrableHandle:
    """Batch work served, the backlog and work past its deadline [GPU-s], with the data
    columns of free GPU time, work released and work that may wait [GPU-s]."""

    batch_gpu_s: pyo.Var
    backlog_gpu_s: pyo.Var
    late_gpu_s: pyo.Var
    free_gpu_s: pyo.Var
    released_gpu_s: pyo.Var
    may_wait_gpu_s: pyo.Var
    backlog_init_gpu_s: pyo.Var
    account: pyo.Constraint
    deadlines: pyo.Constraint

    def gpu_s_columns(self) -> tuple[pyo.Var, ...]:
        return (self.batch_gpu_s, self.backlog_gpu_s, self.late_gpu_s, self.free_gpu_s,
                self.released_gpu_s, self.may_wait_gpu_s, self.backlog_init_gpu_s)

    def gpu_s_rows(self) -> tuple[pyo.Constraint, ...]:
        return (self.account, self.deadlines)


@dataclass(frozen=True)
class TrainingHandle:
    """Per training job ``j`` and slice ``t``: running and pausing shares [fraction], tokens
    short at the deadline, tokens required and the most it may train [tokens], with their
    rows; the GPU rows [GPU-s]."""

    jobs: pyo.Set
    run_fraction: pyo.Var
    pause_fraction: pyo.Var
    short_tokens: pyo.Var
    running_before_fraction: pyo.Var
    required_tokens: pyo.Var
    progress: pyo.Constraint
    gpus: pyo.Constraint
    remaining_tokens: pyo.Var | None = None
    progress_cap: pyo.Constraint | None = None

    def token_columns(self) -> tuple[pyo.Var, ...]:
        return (self.short_tokens, self.required_tokens, self.remaining_tokens)

    def token_rows(self) -> tuple[pyo.Constraint, ...]:
        return (self.progress, self.progress_cap)


@dataclass(frozen=True)
class BalanceHandle:
    """IT energy per slice and its data column of base IT energy [MWh]; the bus rows and the
    rows that define IT energy."""

    it_mwh: pyo.Var
    it_base_mwh: pyo.Var
    balance: pyo.Constraint
    it_energy: pyo.Constraint | None = None


@dataclass(frozen=True)
class GreenHandle:
    """Green energy to IT, to cooling and aux, into storage and exported per slice [MWh], the
    rows whose coefficients carry the grid share and the discharge's green share, and the
    green pool of storage [MWh] (None where the caller links its own)."""

    it_mwh: pyo.Var
    nonit_mwh: pyo.Var
    charge_mwh: pyo.Var
    export_mwh: pyo.Var
    inflow: pyo.Constraint
    nonit: pyo.Constraint
    pool: pyo.Constraint | None = None
    soc_green_mwh: pyo.Var | None = None
    soc_green_init_mwh: pyo.Var | None = None


@dataclass(frozen=True)
class TargetHandle:
    """The GTI target row and its shortfall [MWh of green IT energy]."""

    short_mwh: pyo.Var
    row: pyo.Constraint


@dataclass(frozen=True)
class DispatchModel:
    """A dispatch LP and the handles of every family in it."""

    model: pyo.ConcreteModel
    supply: SupplyHandle
    storage: StorageHandle
    deferrable: DeferrableHandle
    training: TrainingHandle
    balance: BalanceHandle
    green: GreenHandle | None = None
    target: TargetHandle | None = None
