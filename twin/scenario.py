"""The scenario schema: one declarative pydantic model per component, units in every key.

A scenario is loaded from YAML with :func:`load`. Validation happens here, at the edge: a bad
value raises :class:`ScenarioError` with a one-line message that names the field by its path and
echoes the value, for example ``sites[0].battery.energy_mwh = -5: must be >= 0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from gti_core.sources import ALPHA_BANDS
from models.presets import PRESETS
from twin.accounting_schema import AccountingConfig, ContractConfig, SiteAccountingConfig
from twin.ageing_schema import BatteryAgeingConfig, LifetimeConfig
from twin.events_schema import (
    DEFAULT_SHEDDING,
    BackupConfig,
    EventsConfig,
    Shedding,
    check_shedding,
)
from twin.fleet_schema import FleetConfig, check_fleet
from twin.rules_schema import RuleConfig
from twin.schema import (
    Fraction,
    NonNegative,
    PlainName,
    Positive,
    ScenarioError,
    SiteEnergyMWh,
    SitePowerMW,
    _Schema,
    check_unique,
)
from twin.workload_schema import (  # noqa: F401  (re-exported: the scenario's names)
    BatchConfig,
    InteractiveConfig,
    TrainingJobConfig,
    WorkloadConfig,
)


class WeatherConfig(_Schema):
    """Where the site's weather comes from: a named ``preset`` or a ``file`` in a ``format``.

    ``file`` is a path (relative to the scenario file) or ``pvlib:<name>`` for a file that ships in
    pvlib's ``pvlib/data`` folder, for example ``pvlib:723170TYA.CSV``. A preset fills every other
    field; fields given next to it override the preset's.
    """

    preset: str | None = Field(None, description="named climate, models.presets.PRESETS")
    file: str = Field(description="weather file, a path or pvlib:<bundled file name>")
    format: Literal["tmy3", "tmy2", "epw", "pvgis_tmy", "nsrdb_psm4", "csv"] = Field(
        "tmy3", description="file format, parsed by pvlib.iotools")
    year: int = Field(
        ge=1900,
        le=2100,
        description="calendar year simulated (typical years are mapped onto it)",
    )
    wind_speed_height_m: Positive = Field(10.0, description="anemometer height of the file [m]")
    temperature_height_m: Positive = Field(2.0, description="air temperature height [m]")
    roughness_length_m: Positive = Field(0.1, description="surface roughness length z0 [m]")
    latitude_deg: Annotated[float, Field(ge=-90, le=90)] | None = Field(
        None, description="csv format only")
    longitude_deg: Annotated[float, Field(ge=-180, le=180)] | None = Field(
        None, description="csv format only")
    altitude_m: float | None = Field(None, description="csv format only")
    utc_offset_h: Annotated[float, Field(ge=-12, le=14)] | None = Field(
        None, description="local standard time minus UTC, csv format only [h]")

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data):
        if isinstance(data, dict) and data.get("preset") is not None:
            name = data["preset"]
            if name not in PRESETS:
                raise ValueError(f"preset = {name!r}: known presets are {sorted(PRESETS)}")
            p = PRESETS[name]
            base = {"file": p.file, "format": p.format, "year": p.year,
                    "wind_speed_height_m": p.wind_speed_height_m,
                    "temperature_height_m": p.temperature_height_m,
                    "roughness_length_m": p.roughness_length_m}
            return {**base, **data}
        return data

    @model_validator(mode="after")
    def _csv_location(self) -> WeatherConfig:
        loc = (self.latitude_deg, self.longitude_deg, self.altitude_m, self.utc_offset_h)
        if self.format == "csv" and any(v is None for v in loc):
            raise ValueError("format = 'csv': latitude_deg, longitude_deg, altitude_m and "
                             "utc_offset_h are required")
        return self

    @property
    def location(self) -> dict | None:
        if self.format != "csv":
            return None
        return {"latitude_deg": self.latitude_deg, "longitude_deg": self.longitude_deg,
                "altitude_m": self.altitude_m, "utc_offset_h": self.utc_offset_h}


class PVConfig(_Schema):
    """A PV plant modelled with pvlib's PVWatts ModelChain: fixed tilt or single-axis tracking."""

    dc_mw: SitePowerMW = Field(description="DC nameplate at STC [MW]")
    mount: Literal["fixed", "single_axis"] = "fixed"
    axis_azimuth_deg: Annotated[float, Field(ge=0.0, lt=360.0)] = Field(
        180.0, description="single_axis: azimuth of the axis (180 = north-south axis)")
    max_rotation_deg: Annotated[float, Field(gt=0.0, le=90.0)] = 60.0
    ground_coverage_ratio: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.35, description="single_axis: row width over row pitch (backtracking)")
    age_years: NonNegative = Field(0.0, description="plant age in the simulated year [a]")
    degradation_per_year_fraction: Annotated[float, Field(ge=0.0, lt=0.1)] = Field(
        0.005, description="loss of DC output per year of age")
    dc_ac_ratio: Annotated[float, Field(ge=1.0, le=2.0)] = Field(1.25, description="DC/AC ratio")
    tilt_deg: Annotated[float, Field(ge=0.0, le=90.0)] = Field(25.0, description="fixed only")
    azimuth_deg: Annotated[float, Field(ge=0.0, lt=360.0)] = Field(180.0,
                                                                   description="fixed only")
    gamma_pdc_per_c: Annotated[float, Field(ge=-0.01, le=0.0)] = Field(
        -0.0035, description="power temperature coefficient [1/degC]"
    )
    inverter_efficiency: Annotated[float, Field(gt=0.5, le=1.0)] = Field(
        0.98, description="nominal inverter efficiency (PVWatts eta_inv_nom)"
    )
    # PVWatts DC loss categories (pvlib.pvsystem.pvwatts_losses), defaults from PVWatts v5
    soiling_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.02
    shading_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.03
    mismatch_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.02
    wiring_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.02
    connections_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.005
    lid_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.015
    nameplate_rating_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.01
    availability_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.03, description="energy lost to outages (a loss, not the uptime)"
    )
    albedo: Fraction = 0.2


class WindConfig(_Schema):
    """A wind farm of identical turbines from windpowerlib's bundled oedb power-curve library."""

    turbine_type: str = Field(description="oedb turbine type, e.g. 'E-141/4200'")
    hub_height_m: Positive
    turbines: Annotated[int, Field(ge=0, le=10_000)] = Field(description="number of turbines")
    farm_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.92, description="wake and electrical losses of the farm, constant"
    )
    availability_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.97
    wind_speed_model: Literal["logarithmic", "hellman"] = "logarithmic"


class BatteryConfig(_Schema):
    """A battery energy storage system at the site bus."""

    power_mw: SitePowerMW = Field(description="charge and discharge power limit at the bus [MW]")
    energy_mwh: SiteEnergyMWh = Field(description="usable nameplate energy [MWh]")
    charge_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    discharge_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    min_soc_fraction: Fraction = 0.05
    max_soc_fraction: Fraction = 0.95
    initial_soc_fraction: Fraction = 0.5
    initial_green_fraction: Fraction = Field(
        0.0, description="green share of the initial content (the spec: grey unless said)"
    )
    self_discharge_per_day_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.001
    ageing: BatteryAgeingConfig | None = Field(
        None, description="capacity fade, replacement and wear cost (none: the battery does "
        "not age)")

    @model_validator(mode="after")
    def _soc_window(self) -> BatteryConfig:
        if self.min_soc_fraction > self.max_soc_fraction:
            raise ValueError(
                f"min_soc_fraction = {self.min_soc_fraction} > max_soc_fraction = "
                f"{self.max_soc_fraction}: the window is empty"
            )
        if not self.min_soc_fraction <= self.initial_soc_fraction <= self.max_soc_fraction:
            raise ValueError(
                f"initial_soc_fraction = {self.initial_soc_fraction}: must lie in "
                f"[{self.min_soc_fraction}, {self.max_soc_fraction}]"
            )
        return self


class DatacenterConfig(_Schema):
    """GPU fleet and facility (cooling, auxiliaries)."""

    gpu: str = Field("H100-SXM", description="GPU type from models.datacenter.GPU_TYPES")
    nodes: Annotated[int, Field(gt=0, le=2_000_000)] = Field(description="GPU nodes")
    gpus_per_node: Annotated[int, Field(gt=0, le=1024)] = 8
    free_cooling_max_temp_c: float = Field(
        18.0, description="dry-bulb temperature up to which free cooling carries the load [degC]"
    )
    cooling_min_fraction: NonNegative = Field(
        0.06, description="cooling energy per IT energy with free cooling"
    )
    cooling_slope_per_c: NonNegative = Field(
        0.012, description="extra cooling energy per IT energy per degC above free cooling"
    )
    cooling_max_fraction: NonNegative = Field(
        0.35, description="cooling energy per IT energy at design temperature (cap)"
    )
    ups_distribution_loss_fraction: NonNegative = Field(
        0.03, description="UPS and power-distribution losses per IT energy (a double-conversion "
                          "UPS at 97% and PDUs; metered in aux_mwh)")
    aux_fraction: NonNegative = Field(
        0.02, description="lighting, offices, security and other auxiliary loads per IT energy")
    training_pool_gpus: Annotated[int, Field(ge=0)] | None = Field(
        None, description="GPUs training jobs may hold (default: all GPUs left beside the "
                          "interactive peak; a fleet site that serves regions sets it so that "
                          "routed requests find room)")

    @property
    def non_cooling_overhead_fraction(self) -> float:
        """Everything metered in ``aux_mwh`` per IT energy (before connection losses)."""
        return self.ups_distribution_loss_fraction + self.aux_fraction


class TariffConfig(_Schema):
    """Time-of-use import tariff in local standard time, and a flat export price."""

    offpeak_usd_per_mwh: NonNegative = 45.0
    shoulder_usd_per_mwh: NonNegative = 85.0
    peak_usd_per_mwh: NonNegative = 160.0
    shoulder_hours: tuple[int, int] = Field((7, 16), description="[start, end) local hours")
    peak_hours: tuple[int, int] = Field((16, 21), description="[start, end) local hours")
    export_usd_per_mwh: NonNegative = 20.0


class GridMixConfig(_Schema):
    """The regional grid's renewable (non-fossil) share per slice, driven by the same weather.

    ``grid_share(t) = firm + solar_energy_share * pv_cf(t) / mean(pv_cf)
    + wind_energy_share * wind_cf(t) / mean(wind_cf)``, clipped to [0, 1]; see models.grid.
    """

    firm_clean_fraction: Fraction = Field(0.35, description="nuclear + hydro share of demand")
    solar_energy_share: Fraction = Field(0.08, description="annual solar share of regional demand")
    wind_energy_share: Fraction = Field(0.04, description="annual wind share of regional demand")
    fossil_carbon_kg_per_mwh: NonNegative = Field(
        650.0, description="emission factor of the fossil remainder [kgCO2e/MWh]"
    )


class NetworkConfig(_Schema):
    """The connection to the grid as a pandapower network (models.network).

    Without ``json_file``: an external grid at ``voltage_kv`` (the POI), a tie line and a
    transformer to the site bus. With it: the user's pandapower JSON of the connection, which must
    hold one ext_grid, a bus named ``aidc`` where the site's elements are attached, and no loads
    or generators of its own.
    """

    json_file: str | None = Field(None, description="pandapower JSON network (optional)")
    voltage_kv: Annotated[float, Field(ge=110.0)] = Field(110.0, description="POI voltage [kV]")
    site_voltage_kv: Positive = Field(33.0, description="site bus voltage [kV]")
    line_length_km: Positive = 15.0
    line_std_type: str = Field("490-AL1/64-ST1A 110.0", description="pandapower line type")
    parallel_lines: Annotated[int, Field(ge=1)] = 1
    transformer_mva: Positive = 200.0
    transformer_vk_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = Field(
        0.12, description="short-circuit voltage")
    transformer_vkr_fraction: Annotated[float, Field(ge=0.0, lt=0.05)] = Field(
        0.003, description="its resistive part (copper losses)")
    transformer_iron_loss_kw: NonNegative = 100.0
    transformer_no_load_current_fraction: Annotated[float, Field(ge=0.0, lt=0.05)] = 0.0005
    facility_power_factor: Annotated[float, Field(gt=0.5, le=1.0)] = Field(
        0.98, description="lagging power factor of the facility load")
    min_voltage_pu: Positive = 0.95
    max_voltage_pu: Positive = 1.05


class GridConfig(_Schema):
    max_import_mw: SitePowerMW = Field(description="import limit at the POI [MW]")
    max_export_mw: SitePowerMW = Field(description="export limit at the POI [MW]")
    network: NetworkConfig | None = Field(
        None, description="power flows of the connection; without it meters are at the site bus")
    signals_file: str | None = Field(
        None, description="CSV with time and any of price_usd_per_mwh, grid_share, "
                          "grid_carbon_kg_per_mwh; replaces the tariff and mix models")
    tariff: TariffConfig = TariffConfig()
    mix: GridMixConfig = GridMixConfig()
    residual_mix_kg_per_mwh: NonNegative | None = Field(
        None, description="market-based emissions: factor of import no contract covers "
        "(default: the grid's average) [kgCO2e/MWh]")


class SiteConfig(_Schema):
    name: PlainName
    weather: WeatherConfig
    pv: PVConfig | None = None
    wind: WindConfig | None = None
    battery: BatteryConfig | None = None
    datacenter: DatacenterConfig
    workload: WorkloadConfig
    grid: GridConfig
    accounting: SiteAccountingConfig | None = Field(
        None, description="the site's own grid granularity and alpha (default: the scenario's)")
    contracts: list[ContractConfig] = Field(
        [], description="off-site instruments the site holds: PPAs, hourly certificates, RECs "
        "(the schema aidc-twin score reads; profile files relative to the scenario)")
    tags: dict[str, str | int | float | bool] = Field(
        {}, description="facts a green-power rule may select sites by, e.g. hub_node: true")
    events: EventsConfig = Field(
        EventsConfig(), description="outages, limits, derates, demand response, failures")
    backup: BackupConfig = Field(BackupConfig(), description="gensets and UPS ride-through")
    shedding: Shedding = Field(
        list(DEFAULT_SHEDDING), description="order in which work gives way when supply "
        "cannot cover the load: pause training, defer batch, shed interactive requests")

    @model_validator(mode="after")
    def _shedding_order(self) -> SiteConfig:
        check_shedding(self.shedding)
        return self


class OptimizerConfig(_Schema):
    """What the dispatch strategies optimise, and how ``mpc`` and ``threshold`` look ahead."""

    objective: Literal["cost", "gti"] = Field(
        "cost", description="cost: import cost - export revenue; gti: time-slice GTI")
    gti_target: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        None, description="with objective cost: the cheapest operation reaching this "
                          "time-slice GTI (oracle; mpc per window)")
    mpc_horizon_h: Annotated[float, Field(gt=0.0, le=168.0)] = 48.0
    mpc_step_h: Annotated[float, Field(gt=0.0, le=168.0)] = 1.0
    forecast: Literal["perfect", "persistence", "noisy"] = "perfect"
    forecast_noise_sigma: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    seed: int = 7
    low_quantile: Fraction = Field(0.25, description="threshold: good slices of each day")
    high_quantile: Fraction = Field(0.75, description="threshold: bad slices of each day")

    @model_validator(mode="after")
    def _quantiles(self) -> OptimizerConfig:
        if self.low_quantile >= self.high_quantile:
            raise ValueError(f"low_quantile = {self.low_quantile} must be below high_quantile "
                             f"= {self.high_quantile}")
        if self.mpc_step_h > self.mpc_horizon_h:
            raise ValueError(f"mpc_step_h = {self.mpc_step_h} exceeds mpc_horizon_h = "
                             f"{self.mpc_horizon_h}")
        return self


class TechCostConfig(_Schema):
    """Cost of one technology: capital cost, fixed O&M and lifetime, and an optional limit."""

    capex_usd_per_unit: NonNegative = Field(description="overnight capital cost [$/MW or $/MWh]")
    fixed_om_usd_per_unit_year: NonNegative = Field(0.0, description="fixed O&M [$/unit/a]")
    lifetime_years: Annotated[float, Field(gt=0.0, le=100.0)] = 25.0
    max_units: NonNegative | None = Field(None, description="land or supply limit [MW or MWh]")


class SizingConfig(_Schema):
    """Costs for ``aidc-twin size``. The defaults are round assumptions for a US utility-scale
    project (capital costs per MW of AC capacity; override them with your own quotes)."""

    discount_rate: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.07
    pv: TechCostConfig = TechCostConfig(capex_usd_per_unit=1.2e6,
                                        fixed_om_usd_per_unit_year=20e3, lifetime_years=30)
    wind: TechCostConfig = TechCostConfig(capex_usd_per_unit=1.5e6,
                                          fixed_om_usd_per_unit_year=45e3, lifetime_years=25)
    bess_power: TechCostConfig = TechCostConfig(capex_usd_per_unit=0.25e6,
                                                fixed_om_usd_per_unit_year=6e3,
                                                lifetime_years=15)
    bess_energy: TechCostConfig = TechCostConfig(capex_usd_per_unit=0.30e6,
                                                 fixed_om_usd_per_unit_year=7.5e3,
                                                 lifetime_years=15)
    demand_charge_usd_per_mw_month: NonNegative = 0.0
    certificate_usd_per_mwh: NonNegative | None = Field(
        None, description="price of certificates size may buy instead of building: hourly "
        "certificates under the time-slice method, annual ones under the aggregate (none: "
        "build only) [$/MWh]")


class Scenario(_Schema):
    name: PlainName
    description: str = ""
    slice_minutes: Literal[15, 30, 60] = 15
    horizon_days: Annotated[int, Field(gt=0, le=366)] | None = Field(
        None, description="simulate only N days of the weather year (from horizon_start_day)"
    )
    horizon_start_day: Annotated[int, Field(ge=0, le=365)] = Field(
        0, description="days into the weather year the horizon starts (with horizon_days)")
    strategy: str = Field("greedy", description="no_control, greedy, threshold, mpc or oracle")
    optimizer: OptimizerConfig = OptimizerConfig()
    sizing: SizingConfig = SizingConfig()
    accounting: AccountingConfig = AccountingConfig()
    sites: Annotated[list[SiteConfig], Field(min_length=1)]
    fleet: FleetConfig | None = Field(
        None, description="user regions, links between regions and sites, and migrations")
    rules: list[RuleConfig] = Field(
        [], description="green-power rules aidc-twin policy tests (measure, threshold, period, "
        "the sites' tags they cover)")
    lifetime: LifetimeConfig | None = Field(
        None, description="a run of several years, PV and batteries ageing (none: one)")
    base_dir: Path = Field(Path("."), exclude=True, description="folder of the scenario file")

    @model_validator(mode="after")
    def _unique_sites(self) -> Scenario:
        check_unique([s.name for s in self.sites], "sites")
        for k, site in enumerate(self.sites):
            if site.accounting is not None:
                try:
                    site.accounting.merged(self.accounting)
                except ValidationError as err:
                    msg = err.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(f"sites[{k}].accounting.{msg}") from None
        if self.fleet is not None:
            check_fleet(self.fleet, self.sites)
            for k, site in enumerate(self.sites):
                if site.events != EventsConfig():
                    raise ValueError(f"sites[{k}].events: events are not simulated in a fleet "
                                     "yet (run the site alone)")
        if self.horizon_start_day and self.horizon_days is None:
            raise ValueError(f"horizon_start_day = {self.horizon_start_day}: needs horizon_days")
        return self

    def site_accounting(self, k: int) -> AccountingConfig:
        """The accounting in force at site ``k``: its own block over the scenario's."""
        own = self.sites[k].accounting
        return self.accounting if own is None else own.merged(self.accounting)


def _field_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def _lookup(raw: object, loc: tuple) -> object:
    node = raw
    for part in loc:
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def format_validation_error(err: ValidationError, raw: object) -> str:
    """One line per problem: ``path = value: reason`` (the first problem first)."""
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = _field_path(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            lines.append(f"{path}: required field is missing")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown field (check the spelling and the unit suffix)")
        elif path and _lookup(raw, loc) is not None and e["type"] != "value_error":
            lines.append(f"{path} = {_lookup(raw, loc)!r}: {msg}")
        else:
            lines.append(f"{path}: {msg}" if path else msg)
    return "; ".join(lines)


def from_dict(raw: dict, base_dir: Path = Path(".")) -> Scenario:
    """Validate a scenario given as a mapping; raise :class:`ScenarioError` on bad input."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario must be a mapping, got {type(raw).__name__}")
    try:
        return Scenario.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err, raw)) from None


def load(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file.

    Parameters
    ----------
    path : str or Path
        The scenario file.

    Returns
    -------
    Scenario
        The validated scenario; relative weather paths resolve against the file's folder.

    Raises
    ------
    ScenarioError
        The file is missing, is not YAML, or a field is invalid (the message names it).
    """
    path = Path(path)
    raw = load_raw(path)
    try:
        return from_dict(raw, base_dir=path.resolve().parent)
    except ScenarioError as err:
        raise ScenarioError(f"{path}: {err}") from None


def read_yaml(path: str | Path, what: str = "scenario") -> object:
    """A YAML file's content; a missing file or bad YAML is a :class:`ScenarioError` naming
    the file (``what`` says which kind of file it should have been)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: {what} file not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path}: not valid YAML ({err})".replace("\n", " ")) from None


def load_raw(path: str | Path) -> dict:
    """A scenario file's mapping before validation (for overrides); errors name the file."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: scenario must be a mapping, got {type(raw).__name__}")
    return raw


__all__ = [
    "ALPHA_BANDS",
    "AccountingConfig",
    "BatteryConfig",
    "Scenario",
    "ScenarioError",
    "SiteConfig",
    "from_dict",
    "load",
    "load_raw",
    "read_yaml",
]
