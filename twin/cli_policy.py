"""The ``policy`` command: green-power rules as regulators write them (spec section 10),
registered on :data:`twin.cli.app`.

A rule names a measure (time-slice or aggregate GTI, or the green power ratio), a threshold, a
period and the sites it covers (by their tags). The rules come from the scenario's ``rules``
block, or one from the command line (``--measure``, ``--rule``) that covers every site. Per
rule and covered site: the verdict and margin of every period, the months that fail, the alpha
at which the run's verdict flips (where the measure depends on alpha), and the cheapest change
that passes: certificates for the shortfall of each failing period, at the rule's price.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from gti_core.methods import period_groups
from gti_core.policy import RatioOptions, evaluate_rule, period_kind
from twin.cli import app, console, fail, out_folder
from twin.rules_schema import MEASURES, RuleConfig
from twin.schema import ScenarioError


def parse_rule(rule: str) -> float:
    """``0.8`` or ``min_green=0.8`` -> 0.8; anything else is refused by name."""
    key, sep, value = rule.partition("=")
    if not sep:
        key, value = "min_green", rule
    if key.strip() != "min_green" or not value:
        raise ScenarioError(f"--rule = {rule!r}: write it as a share or min_green=<share>, "
                            "e.g. 0.8")
    try:
        share = float(value)
    except ValueError:
        raise ScenarioError(f"--rule = {rule!r}: {value!r} is not a number") from None
    if not 0.0 < share <= 1.0:
        raise ScenarioError(f"--rule = {rule!r}: the share must lie in (0, 1]")
    return share


def judge(rule: RuleConfig, meters: pd.DataFrame, params, contracts, sweep: bool) -> dict:
    """One rule on one site's meters (see the module docstring)."""
    method = MEASURES[rule.measure]
    v = evaluate_rule(meters, params, rule.threshold, (method,), sweep, contracts,
                      RatioOptions(rule.count_grid_share, rule.count_export, rule.use_weights))
    periods = [p for p in v.periods if period_kind(p.period) == rule.period]
    run = next(p for p in v.periods if p.period == "run")
    groups = period_groups(meters["time"], rule.period)
    col = ("facility_mwh" if rule.measure == "green_power_ratio"
           or params.allocation == "pro_rata" and method == "aggregate" else "it_mwh")
    denom = dict(zip(groups.names, np.bincount(groups.codes, weights=meters[col].to_numpy(float),
                                               minlength=len(groups.names)), strict=True))
    short = {p.period: max(-p.margin, 0.0) * denom[p.period] for p in periods if not p.passes}
    certificates = float(sum(short.values()))
    return {"value": run.gti, "passes": all(p.passes for p in periods),
            "periods": [{"period": p.period, "value": p.gti, "passes": p.passes,
                         "margin": p.margin} for p in periods],
            "failing_periods": [p.period for p in periods if not p.passes],
            "failing_months": v.failing(method, "month"),
            "alpha": params.alpha, "alpha_flip": v.alpha_flip.get(method),
            "passes_at_any_alpha": v.passes_at_any_alpha.get(method),
            "certificates_mwh": certificates,
            "certificate_kind": "hourly_certificate" if method == "slice" else "rec",
            "certificates_usd": certificates * rule.certificate_usd_per_mwh,
            "frame": v.frame().assign(rule=rule.name, measure=rule.measure)}


@app.command()
def policy(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    rule: str | None = typer.Option(None, "--rule", help="threshold: 0.8 or min_green=0.8"),
    measure: str | None = typer.Option(
        None, "--measure", help="gti_slice, gti_aggregate, green_power_ratio or all"),
    period: str = typer.Option("year", "--period", help="year, quarter or month"),
    count_grid_share: bool = typer.Option(False, "--count-grid-share",
                                          help="green_power_ratio: count the grid's share"),
    count_export: bool = typer.Option(False, "--count-export",
                                      help="green_power_ratio: count exported green"),
    alpha_sweep: bool = typer.Option(True, "--alpha-sweep/--no-alpha-sweep",
                                     help="find the alpha at which each verdict flips"),
    strategy: str | None = typer.Option(None, "--strategy", help="dispatch strategy"),
    out: Path | None = typer.Option(None, "--out", help="folder (default results/policy-<name>)"),
) -> None:
    """Test green-power rules on a scenario: the scenario's rules, or one from the command
    line covering every site; per rule and site the verdict and margin per period, the
    failing months, the alpha where the verdict flips and the certificates that would pass."""
    from twin.engine import SimulationError
    from twin.manifest import scenario_inputs
    from twin.optimize import OptimizationInfeasible
    from twin.results import write_run
    from twin.run import simulate
    from twin.scenario import load

    try:
        scn = load(scenario)
        run_dir = out_folder(out, Path("results") / f"policy-{scn.name}")
        rules = cli_rules(scn, rule, measure, period, count_grid_share, count_export)
        result = simulate(scn, strategy)
    except (ScenarioError, SimulationError, OptimizationInfeasible) as err:
        fail(f"{scenario}: {err}")
    table = Table(title=f"{scn.name} | green-power rules", title_justify="left")
    for col in ("rule", "site", "measure", "value", "verdict", "failing", "alpha where it flips",
                "certificates to pass"):
        table.add_column(col, justify="right" if col in ("value",) else "left")
    verdicts, frames = [], []
    for r in rules:
        sites = {}
        for k, site in enumerate(scn.sites):
            if not r.covered(site.tags):
                continue
            run, params = result.runs[k], result.params[k]
            j = judge(r, run.meters, params, result.contracts.get(site.name, []), alpha_sweep)
            frames.append(j.pop("frame"))
            sites[site.name] = j
            flip = j["alpha_flip"]
            flip_text = ("-" if flip is None and j["passes_at_any_alpha"] is None
                         else f"{flip:.4f}" if flip is not None
                         else "passes at any alpha" if j["passes_at_any_alpha"]
                         else "fails at any alpha")
            table.add_row(r.name, site.name, f"{r.measure} >= {r.threshold:g} ({r.period})",
                          f"{j['value']:.4f}", "PASS" if j["passes"] else "FAIL",
                          ", ".join(j["failing_periods"]) or "none", flip_text,
                          f"{j['certificates_mwh']:,.0f} MWh (${j['certificates_usd']:,.0f})")
        verdicts.append({**r.model_dump(), "sites": sites})
    console.print(table)
    summary = {"scenario": scn.name, "strategy": result.strategy, "rules": verdicts}
    policy_frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    write_run(run_dir, summary, result.meters, sources=scenario_inputs(scn, scenario),
              policy=policy_frame)
    console.print(f"wrote {run_dir}/ (meters.parquet, policy.parquet, summary.json)")


def cli_rules(scn, rule: str | None, measure: str | None, period: str, count_grid_share: bool,
              count_export: bool) -> list[RuleConfig]:
    """The rules to test: the scenario's when the command line names none, else one per
    measure (``all``: the three) at the command line's threshold, covering every site."""
    if period not in ("year", "quarter", "month"):
        raise ScenarioError(f"--period = {period!r}: must be year, quarter or month")
    if rule is None and measure is None and scn.rules:
        return list(scn.rules)
    measures = (list(MEASURES) if measure in (None, "all") else [measure])
    bad = [m for m in measures if m not in MEASURES]
    if bad:
        raise ScenarioError(f"--measure = {bad[0]!r}: must be one of {[*MEASURES, 'all']}")
    threshold = parse_rule(rule) if rule is not None else 0.8
    return [RuleConfig(name=f"{m} >= {threshold:g}", measure=m, threshold=threshold,
                       period=period, count_grid_share=count_grid_share,
                       count_export=count_export) for m in measures]
