"""``aidc-twin run`` of a scenario with a ``lifetime`` block: every year, PV and batteries
ageing (:mod:`twin.lifetime`), written as one folder (:mod:`twin.report_lifetime`)."""

from __future__ import annotations

from pathlib import Path

from twin.cli import console, fail, figure_table


def run_lifetime(scn, scenario: Path, out: Path | None, strategy: str, objective: str | None,
                 gti_target: float | None) -> None:
    """Simulate every year, print a line per year, write the folder and the year table."""
    from twin.engine import SimulationError
    from twin.lifetime import simulate_lifetime
    from twin.manifest import scenario_inputs
    from twin.optimize import OptimizationInfeasible
    from twin.report import scenario_text
    from twin.report_lifetime import write_lifetime
    from twin.scenario import ScenarioError

    years = scn.lifetime.years

    def progress(y) -> None:
        b = "; ".join(f"{site} state of health {v['soh_end']:.4f}"
                      for site, v in y.block["batteries"].items())
        console.print(f"[{y.year}/{years}] GTI time-slice {y.block['gti_slice']:.4f}, "
                      f"aggregate {y.block['gti_aggregate']:.4f}" + (f"; {b}" if b else ""),
                      markup=False, highlight=False)

    try:
        lt = simulate_lifetime(scn, strategy, objective, gti_target, progress)
    except (ScenarioError, SimulationError, OptimizationInfeasible) as err:
        fail(f"{scenario}: {err}")
    run_dir = out  # checked by the run command (twin.cli.out_folder)
    write_lifetime(run_dir, lt, scenario_text(scn), scenario_inputs(scn, scenario))
    table = figure_table(f"{scn.name} | {lt.strategy} | {years} years")
    for y in lt.summary["years"]:
        soh = ", ".join(f"SoH {v['soh_end']:.3f}, {v['efc']:.0f} cycles"
                        for v in y["batteries"].values())
        table.add_row(f"year {y['year']}", f"GTI {y['gti_slice']:.4f} / {y['gti_aggregate']:.4f}"
                      f"; ${y['energy_cost_usd']:,.0f}" + (f"; {soh}" if soh else ""))
    pv = lt.summary["present_value_usd"]
    table.add_row("present value (energy + modules)", f"${pv['total']:,.0f}")
    console.print(table)
    console.print(f"wrote {run_dir}/ (summary.json, battery_health.parquet, report.html, "
                  f"year-1 .. year-{years})", markup=False, soft_wrap=True)
