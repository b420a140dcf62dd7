"""Everything a site needs before the clock starts, computed vectorised over the whole horizon."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from models import datacenter, grid, pv, tokens, transfer, weather, wind, workloads
from models import site as physics
from models.backup import GensetParams, genset_params
from models.battery import BatteryParams, battery_params
from models.events import (
    DemandResponse,
    Derate,
    Failures,
    Outage,
    PoiLimit,
    SiteEvents,
)
from twin.events_schema import DEFAULT_SHEDDING, utc
from twin.scenario import (
    InteractiveConfig,
    PVConfig,
    Scenario,
    ScenarioError,
    SiteConfig,
    WindConfig,
)

#: Reference plants that stand for the regional solar and wind fleets in the grid-share model.
REFERENCE_PV = PVConfig(dc_mw=1.0)
REFERENCE_WIND = WindConfig(turbine_type="E-141/4200", hub_height_m=120.0, turbines=1)


@dataclass(frozen=True)
class SiteInputs:
    """Per-slice inputs of one site (arrays of length ``n``) and its fixed parameters."""

    name: str
    index: pd.DatetimeIndex
    slice_minutes: int
    weather_source: str
    utc_offset_h: float
    pv_ac_mw: float  # inverter AC rating [MW]
    wind_nameplate_mw: float  # turbines x nominal power [MW]
    pv_avail_mw: np.ndarray
    wind_avail_mw: np.ndarray
    temp_air_c: np.ndarray
    cooling_fraction: np.ndarray  # cooling energy per IT energy
    aux_fraction: float  # UPS/distribution losses and auxiliary loads per IT energy
    price_usd_per_mwh: np.ndarray
    export_price_usd_per_mwh: float
    grid_share: np.ndarray
    grid_carbon_kg_per_mwh: np.ndarray
    max_import_mw: float
    max_export_mw: float
    gpu: datacenter.GPUType
    gpus: int
    interactive_energy: tokens.TokenEnergy
    interactive_tokens_in: np.ndarray
    interactive_tokens_out: np.ndarray
    batch_energy: tokens.TokenEnergy | None
    batch_jobs: tuple[workloads.BatchJob, ...]
    battery: BatteryParams | None
    initial_soc_mwh: float
    initial_green_fraction: float
    training_jobs: tuple[workloads.TrainingJob, ...] = ()
    pool_gpus: int | None = None  # GPUs training may hold (None: beside interactive's peak)
    events: SiteEvents = SiteEvents()  # outages, limits, derates, demand response, failures
    backup: GensetParams | None = None  # gensets
    ups_ride_through_s: float = 0.0  # time the UPS carries the whole load [s]
    shedding: tuple[str, ...] = DEFAULT_SHEDDING  # what gives way, in order, when short
    residual_mix_kg_per_mwh: float | None = None  # market-based factor of uncovered import
    battery_wear_usd_per_mwh: float = 0.0  # what dispatch prices a MWh discharged at [$/MWh]

    @property
    def n(self) -> int:
        return len(self.index)

    @property
    def dt_h(self) -> float:
        return self.slice_minutes / 60.0

    @property
    def slice_s(self) -> float:
        return self.slice_minutes * 60.0

    @property
    def gpu_seconds_per_slice(self) -> float:
        return self.gpus * self.slice_minutes * 60.0

    @cached_property
    def interactive_gpu_energy_j(self) -> np.ndarray:
        """GPU energy of the interactive tokens of each slice [J]."""
        return tokens.gpu_energy_j(self.interactive_tokens_in, self.interactive_tokens_out,
                                   self.interactive_energy)

    @cached_property
    def interactive_busy_gpu_s(self) -> np.ndarray:
        """GPU-seconds interactive inference occupies in each slice [s]."""
        return physics.busy_gpu_s(self.interactive_gpu_energy_j, self.gpu)

    @property
    def interactive_capacity_gpu_s(self) -> float:
        """GPU-seconds per slice beside the training pool, for interactive requests [s]."""
        return (self.gpus - self.training_pool_gpus) * self.slice_s

    @cached_property
    def training_pool_gpus(self) -> int:
        """GPUs training may hold: ``pool_gpus``, or those left beside interactive inference's
        busiest slice."""
        if self.pool_gpus is not None:
            return self.pool_gpus
        return physics.training_pool_gpus(self.interactive_busy_gpu_s, self.slice_s, self.gpus)


def _check_interactive_fits(k: int, busy_s: np.ndarray, capacity_s: float,
                            index: pd.DatetimeIndex) -> None:
    over = busy_s > capacity_s
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise ScenarioError(
            f"sites[{k}].workload.interactive.peak_output_tokens_per_s: the stream needs "
            f"{busy_s[i] / capacity_s:.2f} times the fleet's GPUs at {index[i]} "
            "(lower the rate or add datacenter.nodes)")


def site_token_energy(site: SiteConfig, model: str, field: str) -> tokens.TokenEnergy:
    """Energy per token of an inference stream's model on the site's GPUs; errors name
    ``workload.<field>``."""
    try:
        return tokens.token_energy(model, site.datacenter.gpu, site.workload.token_energy_method)
    except ValueError as err:
        raise ValueError(f"workload.{field}.{err}") from None


def _training_jobs(site: SiteConfig, gpu: datacenter.GPUType, sm: int, n: int,
                   pool: int) -> list[workloads.TrainingJob]:
    """The site's training runs: throughput and energy per token from ``6 N`` at their MFU."""
    jobs = []
    for j, cfg in enumerate(site.workload.training):
        where = f"workload.training[{j}]"
        try:
            arch = tokens.model_arch(cfg.model)
        except ValueError as err:
            raise ValueError(f"{where}.{err}") from None
        if cfg.gpus > pool:
            raise ValueError(f"{where}.gpus = {cfg.gpus}: more than the {pool} GPUs left "
                             "beside interactive inference's peak")
        release = int(cfg.release_h * 60 // sm)
        if release >= n:  # released after the horizon: not part of this run
            continue
        deadline = (min(release + int(np.ceil(cfg.deadline_h * 60 / sm - 1e-9)), n)
                    if cfg.deadline_h is not None else None)
        jobs.append(workloads.TrainingJob(
            job_id=f"{site.name}-train-{cfg.name}",
            gpus=cfg.gpus,
            tokens=cfg.tokens,
            j_per_token=tokens.training_j_per_token(arch.active_params, gpu, cfg.mfu),
            tokens_per_s=cfg.gpus * tokens.training_tokens_per_gpu_second(arch.active_params,
                                                                          gpu, cfg.mfu),
            release_slice=release,
            deadline_slice=deadline,
            checkpoint_interval_s=cfg.checkpoint_interval_h * 3600.0,
            checkpoint_s=cfg.checkpoint_minutes * 60.0,
            restart_s=cfg.restart_minutes * 60.0,
            pausable=cfg.pausable,
            checkpoint_gb=(cfg.checkpoint_gb if cfg.checkpoint_gb is not None
                           else transfer.checkpoint_gb(arch.total_params)),
        ))
    return jobs


def _grid_signals(scn: Scenario, site: SiteConfig, frame: pd.DataFrame, w, wind_mw
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid renewable share, import price and carbon per slice: a measured CSV where it has a
    column, the models of models.grid otherwise."""
    index, mix = frame.index, site.grid.mix
    measured = pd.DataFrame(index=index)
    if site.grid.signals_file:
        path = weather.resolve_data_path(site.grid.signals_file, scn.base_dir)
        measured = grid.read_signals_csv(path, index, scn.slice_minutes)
    if "grid_share" in measured:
        share = measured["grid_share"].to_numpy()
    else:  # the regional fleets follow reference plants on the site's weather
        ref_pv = pv.pv_ac_power_mw(frame, w.location, REFERENCE_PV, scn.slice_minutes)
        share = grid.grid_renewable_share(ref_pv.to_numpy(), wind_mw(REFERENCE_WIND),
                                          mix.firm_clean_fraction, mix.solar_energy_share,
                                          mix.wind_energy_share)
    price = (measured["price_usd_per_mwh"].to_numpy() if "price_usd_per_mwh" in measured
             else grid.tou_price_usd_per_mwh(index, site.grid.tariff, w.utc_offset_h))
    carbon = (measured["grid_carbon_kg_per_mwh"].to_numpy()
              if "grid_carbon_kg_per_mwh" in measured
              else grid.grid_carbon_kg_per_mwh(share, mix.fossil_carbon_kg_per_mwh))
    return share, price, carbon


def interactive_tokens(scn: Scenario, icfg: InteractiveConfig, index: pd.DatetimeIndex,
                       utc_offset_h: float) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and generated tokens per slice of an interactive stream (a site's or a fleet
    region's): the synthetic stream or a replayed trace."""
    sm = scn.slice_minutes
    if icfg.trace_file is None:
        out = workloads.interactive_output_tokens(index, icfg, utc_offset_h, sm)
        return np.round(out * icfg.input_tokens_per_output_token), out
    path = weather.resolve_data_path(icfg.trace_file, scn.base_dir)
    if not path.is_file():
        raise FileNotFoundError(f"workload.interactive.trace_file = {icfg.trace_file!r}: no "
                                f"such file ({path})")
    start = pd.to_datetime(icfg.trace_start, utc=True) if icfg.trace_start else None
    return workloads.trace_tokens(workloads.read_request_trace(path), index, sm,
                                  icfg.trace_scale, icfg.trace_loop, start)


def build_site_inputs(scn: Scenario, k: int, routed_busy_gpu_s: np.ndarray | None = None
                      ) -> SiteInputs:
    """Compute site ``k``'s weather, supply, grid signals and workload for the horizon.

    ``routed_busy_gpu_s``: GPU-seconds per slice of fleet regions' requests that the site serves
    when each region goes to its nearest site; the training pool is left beside the peak of its
    own and those requests together (unless ``datacenter.training_pool_gpus`` sets it).
    """
    site: SiteConfig = scn.sites[k]
    sm = scn.slice_minutes
    wcfg = site.weather
    try:
        w = weather.load_site_weather(wcfg.file, wcfg.format, wcfg.year, scn.base_dir, sm,
                                      wcfg.location)
    except (FileNotFoundError, ValueError) as err:
        raise ScenarioError(f"sites[{k}].{err}") from None
    frame = w.frame
    if scn.horizon_days is not None:
        per_day = 1440 // sm
        first = scn.horizon_start_day * per_day
        if first + scn.horizon_days * per_day > len(frame):
            raise ScenarioError(
                f"horizon_start_day = {scn.horizon_start_day}: with horizon_days = "
                f"{scn.horizon_days} the horizon ends after site {site.name!r}'s weather year "
                f"({len(frame) // per_day} days)")
        frame = frame.iloc[first: first + scn.horizon_days * per_day]
    index = frame.index
    heights = (wcfg.wind_speed_height_m, wcfg.temperature_height_m, wcfg.roughness_length_m)

    def wind_mw(cfg: WindConfig) -> np.ndarray:
        return wind.wind_farm_power_mw(frame, cfg, *heights).to_numpy()

    dc = site.datacenter
    try:  # every model below names the field it refuses; the site's index goes in front
        pv_mw = (pv.pv_ac_power_mw(frame, w.location, site.pv, sm).to_numpy() if site.pv
                 else np.zeros(len(index)))
        wind_avail = wind_mw(site.wind) if site.wind else np.zeros(len(index))
        share, price, carbon = _grid_signals(scn, site, frame, w, wind_mw)
        gpu = datacenter.gpu_type(dc.gpu)
        wl = site.workload
        inter_e = site_token_energy(site, wl.interactive.model, "interactive")
        batch_e = site_token_energy(site, wl.batch.model, "batch") if wl.batch else None
        tin, out = interactive_tokens(scn, wl.interactive, index, w.utc_offset_h)
    except (FileNotFoundError, ValueError) as err:
        raise ScenarioError(f"sites[{k}].{err}") from None
    gpus = dc.nodes * dc.gpus_per_node
    busy = physics.busy_gpu_s(tokens.gpu_energy_j(tin, out, inter_e), gpu)
    _check_interactive_fits(k, busy, gpus * sm * 60.0, index)
    pool = _pool_gpus(k, dc, busy, routed_busy_gpu_s, sm * 60.0, gpus)
    try:
        training = _training_jobs(site, gpu, sm, len(index), pool)
    except ValueError as err:
        raise ScenarioError(f"sites[{k}].{err}") from None
    jobs = (workloads.daily_batch_jobs(index, out, site.workload.batch, w.utc_offset_h, sm,
                                       site.name) if site.workload.batch else [])
    bcfg = site.battery
    return SiteInputs(
        name=site.name,
        index=index,
        slice_minutes=sm,
        weather_source=w.source,
        utc_offset_h=w.utc_offset_h,
        pv_ac_mw=site.pv.dc_mw / site.pv.dc_ac_ratio if site.pv else 0.0,
        wind_nameplate_mw=(wind.turbine(site.wind.turbine_type, site.wind.hub_height_m)
                           .nominal_power * site.wind.turbines / 1e6 if site.wind else 0.0),
        pv_avail_mw=pv_mw,
        wind_avail_mw=wind_avail,
        temp_air_c=frame["temp_air"].to_numpy(),
        cooling_fraction=datacenter.cooling_fraction_from_dry_bulb(
            frame["temp_air"].to_numpy(), dc.free_cooling_max_temp_c, dc.cooling_min_fraction,
            dc.cooling_slope_per_c, dc.cooling_max_fraction),
        aux_fraction=dc.non_cooling_overhead_fraction,
        price_usd_per_mwh=price,
        export_price_usd_per_mwh=site.grid.tariff.export_usd_per_mwh,
        grid_share=share,
        grid_carbon_kg_per_mwh=carbon,
        max_import_mw=site.grid.max_import_mw,
        max_export_mw=site.grid.max_export_mw,
        gpu=gpu,
        gpus=gpus,
        interactive_energy=inter_e,
        interactive_tokens_in=tin,
        interactive_tokens_out=out,
        batch_energy=batch_e,
        batch_jobs=tuple(jobs),
        battery=battery_params(bcfg, sm) if bcfg and bcfg.energy_mwh > 0 else None,
        initial_soc_mwh=bcfg.initial_soc_fraction * bcfg.energy_mwh if bcfg else 0.0,
        initial_green_fraction=bcfg.initial_green_fraction if bcfg else 0.0,
        training_jobs=tuple(training),
        pool_gpus=pool,
        events=site_events(k, site, index, sm * 60.0),
        backup=genset_params(site.backup.gensets) if site.backup.gensets else None,
        ups_ride_through_s=site.backup.ups_ride_through_s,
        shedding=tuple(site.shedding),
        residual_mix_kg_per_mwh=site.grid.residual_mix_kg_per_mwh,
        battery_wear_usd_per_mwh=_dispatch_wear(k, scn, bcfg),
    )


def _dispatch_wear(k: int, scn: Scenario, bcfg) -> float:
    """The battery's wear cost when dispatch is to price it (twin.ageing), else 0 [$/MWh]."""
    if bcfg is None or bcfg.ageing is None or not bcfg.ageing.wear_in_dispatch:
        return 0.0
    from twin.ageing import wear_cost

    try:
        return wear_cost(bcfg.ageing, bcfg, scn.sizing)
    except ValueError as err:
        raise ScenarioError(f"sites[{k}].battery.ageing.{err}") from None


def site_events(k: int, site: SiteConfig, index: pd.DatetimeIndex, slice_s: float
                ) -> SiteEvents:
    """A site's events in seconds from the horizon's start; a window that does not lie within
    the horizon is refused, naming it."""
    ev = site.events
    start, end = index[0], index[-1] + pd.Timedelta(seconds=slice_s)

    def seconds(kind: str, i: int, w) -> tuple[float, float]:
        a, b = utc(w.start), utc(w.end)
        if a < start or b > end:
            raise ScenarioError(f"sites[{k}].events.{kind}[{i}]: {a} .. {b} is not within the "
                                f"horizon {start} .. {end}")
        return (a - start).total_seconds(), (b - start).total_seconds()

    return SiteEvents(
        outages=tuple(Outage(*seconds("outages", i, w)) for i, w in enumerate(ev.outages)),
        poi_limits=tuple(PoiLimit(*seconds("poi_limits", i, w), w.max_import_mw,
                                  w.max_export_mw) for i, w in enumerate(ev.poi_limits)),
        derates=tuple(Derate(*seconds("derates", i, w), w.component, w.available_fraction)
                      for i, w in enumerate(ev.derates)),
        demand_response=tuple(
            DemandResponse(*seconds("demand_response", i, w), w.reduce_import_mw,
                           w.payment_usd_per_mwh, w.penalty_usd_per_mwh, w.baseline_days)
            for i, w in enumerate(ev.demand_response)),
        failures=tuple(Failures(f.component, f.units, f.mtbf_h * 3600.0, f.mttr_h * 3600.0,
                                f.distribution, f.weibull_shape) for f in ev.failures),
        seed=ev.seed)


def _pool_gpus(k: int, dc, busy_gpu_s: np.ndarray, routed_busy_gpu_s: np.ndarray | None,
               slice_s: float, gpus: int) -> int:
    """The GPUs training may hold: ``datacenter.training_pool_gpus``, or those left beside the
    interactive peak (the site's own requests and those routed to it); a pool that leaves the
    site's own requests too few GPUs is refused."""
    if dc.training_pool_gpus is None:
        total = busy_gpu_s if routed_busy_gpu_s is None else busy_gpu_s + routed_busy_gpu_s
        return physics.training_pool_gpus(total, slice_s, gpus)
    beside_own = physics.training_pool_gpus(busy_gpu_s, slice_s, gpus)
    if dc.training_pool_gpus > beside_own:
        raise ScenarioError(f"sites[{k}].datacenter.training_pool_gpus = "
                            f"{dc.training_pool_gpus}: leaves the site's own interactive peak "
                            f"too few GPUs (at most {beside_own} of {gpus})")
    return dc.training_pool_gpus
