"""The site's connection to the grid as a pandapower network, and a year of AC power flows.

The network: an external grid (the utility substation, the point of interconnection, POI) at
``voltage_kv``, a tie line to the site's substation, a step-down transformer to the site bus
(``site_voltage_kv``, named ``aidc``), and at that bus the facility (a load at a fixed power
factor), PV, wind and the battery (static generators; the battery's P is discharge minus charge).
A user may instead give a pandapower JSON network of the connection (buses, lines, transformers)
with a bus named ``aidc`` and one external grid and no loads or generators of its own; the site's
elements are attached to that bus.

Power flows run for every slice at once with lightsim2grid's ``TimeSeriesCPP`` (a C++
Newton-Raphson on the network converted from pandapower), about 0.15 s for a year; pandapower's
own ``runpp`` gives the same voltages and flows one slice at a time (tests compare the two).
Losses of the tie line and the transformer belong to the site: ``POI import = site net demand +
losses``.
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandapower as pp

#: Newton-Raphson settings of the time series.
MAX_ITER = 20
TOLERANCE_PU = 1e-8
SITE_BUS = "aidc"
SITE_ELEMENTS = ("pv", "wind", "bess")


@dataclass(frozen=True)
class FlowResults:
    """Per-slice results of the power flows (arrays of length n).

    Attributes
    ----------
    poi_import_mw : numpy.ndarray
        Power drawn from the external grid at the POI, negative when exporting [MW].
    losses_mw : numpy.ndarray
        Active losses of all branches (tie line and transformer) [MW].
    vm_site_pu, vm_poi_pu : numpy.ndarray
        Voltage magnitude at the site bus and at the POI side of the tie line [p.u.].
    branch_loading : numpy.ndarray
        Loading of each branch per slice, shape (n, branches) [fraction of its rating].
    branch_names : list of str
    converged : numpy.ndarray of bool
    """

    poi_import_mw: np.ndarray
    losses_mw: np.ndarray
    vm_site_pu: np.ndarray
    vm_poi_pu: np.ndarray
    branch_loading: np.ndarray
    branch_names: list[str]
    converged: np.ndarray


@functools.cache
def _empty_network() -> pp.pandapowerNet:
    """The empty network every radial connection starts from, made once per process:
    ``create_empty_network`` builds ~60 typed tables (0.12 s), a deep copy of them takes
    0.012 s, so a sweep or a benchmark that runs many years in one process builds each
    connection in a tenth of the time (a single run gains nothing)."""
    return pp.create_empty_network(name="aidc-twin radial connection", sn_mva=100.0)


def radial_network(cfg) -> pp.pandapowerNet:
    """External grid, tie line, transformer and site bus from a ``NetworkConfig``.

    Parameters
    ----------
    cfg : twin.scenario.NetworkConfig
        ``voltage_kv``, ``site_voltage_kv``, ``line_length_km``, ``line_std_type``,
        ``parallel_lines``, ``transformer_mva``, ``transformer_vk_fraction``,
        ``transformer_vkr_fraction``, ``transformer_iron_loss_kw``,
        ``transformer_no_load_current_fraction``.
    """
    net = copy.deepcopy(_empty_network())
    grid = pp.create_bus(net, cfg.voltage_kv, name="utility substation")
    poi = pp.create_bus(net, cfg.voltage_kv, name="site substation hv")
    site = pp.create_bus(net, cfg.site_voltage_kv, name=SITE_BUS)
    pp.create_ext_grid(net, grid, vm_pu=1.0, name="utility")
    for k in range(cfg.parallel_lines):
        # one row per circuit: lightsim2grid does not take pandapower's `parallel` column
        pp.create_line(net, grid, poi, cfg.line_length_km, cfg.line_std_type,
                       name=f"tie line {k + 1}")
    # pandapower takes percent at its boundary
    pp.create_transformer_from_parameters(
        net, poi, site, sn_mva=cfg.transformer_mva, vn_hv_kv=cfg.voltage_kv,
        vn_lv_kv=cfg.site_voltage_kv, vk_percent=100 * cfg.transformer_vk_fraction,
        vkr_percent=100 * cfg.transformer_vkr_fraction, pfe_kw=cfg.transformer_iron_loss_kw,
        i0_percent=100 * cfg.transformer_no_load_current_fraction, name="site transformer")
    return net


def load_network(cfg, base_dir: Path) -> pp.pandapowerNet:
    """The radial network, or the user's pandapower JSON (``cfg.json_file``)."""
    if cfg.json_file is None:
        net = radial_network(cfg)
    else:
        path = Path(cfg.json_file)
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise FileNotFoundError(f"grid.network.json_file = {cfg.json_file!r}: no such file")
        try:
            net = pp.from_json(str(path))
        except Exception as err:  # noqa: BLE001  (pandapower raises many kinds for a bad file)
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"grid.network.json_file = {cfg.json_file!r}: not a pandapower "
                             f"network ({first})") from None
        if len(net.ext_grid) != 1:
            raise ValueError(f"grid.network.json_file: needs exactly one ext_grid, found "
                             f"{len(net.ext_grid)}")
        if (net.bus["name"] == SITE_BUS).sum() != 1:
            raise ValueError(f"grid.network.json_file: needs one bus named {SITE_BUS!r}")
        for table in ("load", "sgen", "gen", "storage"):
            if len(net[table]):
                raise ValueError(f"grid.network.json_file: the {table} table holds "
                                 f"{len(net[table])} elements; the network is the site's "
                                 "connection only (the site's elements are added at the "
                                 f"{SITE_BUS!r} bus, and the POI exchange follows from them)")
        _expand_parallel(net)
    attach_site(net)
    return net


def _expand_parallel(net: pp.pandapowerNet) -> None:
    """Replace each line or transformer with ``parallel = k`` by k identical rows (the same
    physics; lightsim2grid's converter takes single circuits only)."""
    for table in ("line", "trafo"):
        frame = net[table]  # pandapower keeps its element tables by name
        multi = frame[frame["parallel"] > 1]
        for idx, row in multi.iterrows():
            frame.at[idx, "parallel"] = 1
            for k in range(1, int(row["parallel"])):
                copy_row = row.copy()
                copy_row["parallel"] = 1
                copy_row["name"] = f"{row['name']} ({k + 1})"
                frame.loc[frame.index.max() + 1] = copy_row


def attach_site(net: pp.pandapowerNet) -> None:
    """Add the facility load and the PV, wind and battery generators at the site bus."""
    site = int(net.bus.index[net.bus["name"] == SITE_BUS][0])
    pp.create_load(net, site, p_mw=0.0, q_mvar=0.0, name="facility")
    for name in SITE_ELEMENTS:
        pp.create_sgen(net, site, p_mw=0.0, q_mvar=0.0, name=name)


def _site_injections(net, facility_mw, facility_q_mvar, pv_mw, wind_mw, bess_mw):
    """Time-series matrices in the order of the net's loads and sgens: the site's elements are
    the only ones (:func:`load_network`)."""
    series = {"pv": pv_mw, "wind": wind_mw, "bess": bess_mw}
    sgen_p = np.column_stack([series[name] for name in net.sgen["name"]])
    return facility_mw[:, None], facility_q_mvar[:, None], sgen_p


def _branch_sides(net) -> tuple[list[str], np.ndarray, np.ndarray, list[int], list[int]]:
    """Branch names (lines, then trafos), rated current at side 1 and side 2 [kA] (with
    parallel circuits), and the bus positions of side 1 and side 2."""
    names, i1, i2, b1, b2 = [], [], [], [], []
    pos = {b: k for k, b in enumerate(net.bus.index)}
    for _, line in net.line.iterrows():
        names.append(str(line["name"]))
        rated = line["max_i_ka"] * line["parallel"]
        i1.append(rated)
        i2.append(rated)
        b1.append(pos[line["from_bus"]])
        b2.append(pos[line["to_bus"]])
    for _, tr in net.trafo.iterrows():
        names.append(str(tr["name"]))
        i1.append(tr["sn_mva"] / (np.sqrt(3) * tr["vn_hv_kv"]) * tr["parallel"])
        i2.append(tr["sn_mva"] / (np.sqrt(3) * tr["vn_lv_kv"]) * tr["parallel"])
        b1.append(pos[tr["hv_bus"]])
        b2.append(pos[tr["lv_bus"]])
    return names, np.asarray(i1, float), np.asarray(i2, float), b1, b2


def year_power_flows(net: pp.pandapowerNet, facility_mw: np.ndarray, facility_q_mvar: np.ndarray,
                     pv_mw: np.ndarray, wind_mw: np.ndarray, bess_mw: np.ndarray) -> FlowResults:
    """AC power flows for every slice with lightsim2grid's TimeSeriesCPP.

    Parameters
    ----------
    net : pandapowerNet
        From :func:`load_network`.
    facility_mw, facility_q_mvar : numpy.ndarray
        Facility demand per slice [MW], [Mvar].
    pv_mw, wind_mw : numpy.ndarray
        Delivered PV and wind power [MW].
    bess_mw : numpy.ndarray
        Battery discharge minus charge at the bus [MW].

    Returns
    -------
    FlowResults
    """
    from lightsim2grid.network import init_from_pandapower
    from lightsim2grid.timeSerie import TimeSeriesCPP

    with warnings.catch_warnings():
        # the converter fills unset optional pandapower columns (tap data, q limits) with 0
        warnings.simplefilter("ignore", UserWarning)
        model = init_from_pandapower(net)
    load_p, load_q, sgen_p = _site_injections(net, facility_mw, facility_q_mvar, pv_mw, wind_mw,
                                              bess_mw)
    n = len(facility_mw)
    ts = TimeSeriesCPP(model)
    gen_p = np.zeros((n, len(model.get_generators())))
    v_init = np.ones((len(net.bus), 1), dtype=complex)
    ts.compute_Vs(gen_p, np.ascontiguousarray(sgen_p), np.ascontiguousarray(load_p),
                  np.ascontiguousarray(load_q), v_init, MAX_ITER, TOLERANCE_PU)
    converged = np.asarray(ts.converged_mask(), dtype=bool)
    v = ts.get_voltages()
    branch = ts.compute_branch_results()  # (n, branches, [p1, q1, p2, q2])
    losses = (branch[:, :, 0] + branch[:, :, 2]).sum(axis=1)
    names, i1_rated, i2_rated, b1, b2 = _branch_sides(net)
    bus_pos = {b: k for k, b in enumerate(net.bus.index)}
    vn = net.bus["vn_kv"].to_numpy(float)
    # current at each end, I = |S| / (sqrt(3) * V); loading is the larger end over its rating,
    # as pandapower's loading_percent
    i1 = np.hypot(branch[:, :, 0], branch[:, :, 1]) / (
        np.sqrt(3) * vn[b1] * np.maximum(np.abs(v[:, b1]), 1e-6))
    i2 = np.hypot(branch[:, :, 2], branch[:, :, 3]) / (
        np.sqrt(3) * vn[b2] * np.maximum(np.abs(v[:, b2]), 1e-6))
    loading = np.maximum(i1 / i1_rated, i2 / i2_rated)
    site = bus_pos[int(net.bus.index[net.bus["name"] == SITE_BUS][0])]
    poi_side = bus_pos[int(net.line["to_bus"].iloc[0])] if len(net.line) else site
    net_demand = facility_mw - pv_mw - wind_mw - bess_mw
    return FlowResults(
        poi_import_mw=net_demand + losses,
        losses_mw=losses,
        vm_site_pu=np.abs(v[:, site]),
        vm_poi_pu=np.abs(v[:, poi_side]),
        branch_loading=loading,
        branch_names=names,
        converged=converged,
    )


def slice_power_flow(net: pp.pandapowerNet, facility_mw: float, facility_q_mvar: float,
                     pv_mw: float, wind_mw: float, bess_mw: float) -> dict[str, float]:
    """One slice with pandapower's ``runpp``: the reference the time series is checked against."""
    net = copy.deepcopy(net)
    net.load.loc[net.load["name"] == "facility", ["p_mw", "q_mvar"]] = [facility_mw,
                                                                         facility_q_mvar]
    for name, p in (("pv", pv_mw), ("wind", wind_mw), ("bess", bess_mw)):
        net.sgen.loc[net.sgen["name"] == name, "p_mw"] = p
    pp.runpp(net)
    site = net.bus.index[net.bus["name"] == SITE_BUS][0]
    return {
        "poi_import_mw": float(net.res_ext_grid["p_mw"].sum()),
        "losses_mw": float(net.res_line["pl_mw"].sum() + net.res_trafo["pl_mw"].sum()),
        "vm_site_pu": float(net.res_bus.at[site, "vm_pu"]),
        "line_loading": float(net.res_line["loading_percent"].max() / 100.0),
        "trafo_loading": float(net.res_trafo["loading_percent"].max() / 100.0),
    }
