"""Battery ageing (issue 20): the three years of scenarios/battery_aging.yaml, and a year of the
oracle with and without the battery's wear priced, at the scenario's 15 minutes.

Records per year the GTI under both methods, the battery's state of health and equivalent full
cycles, and the run's time (median of ``REPEATS`` runs); for the oracle, the MWh discharged,
the energy cost, the wear those MWh cost and the total, and the GTI.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import median_seconds, record  # noqa: E402
from twin.lifetime import simulate_lifetime  # noqa: E402
from twin.run import simulate  # noqa: E402
from twin.scenario import from_dict, load  # noqa: E402

REPEATS = 3
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "battery_aging.yaml"


def oracle_year(wear: bool) -> dict:
    base = load(SCENARIO)
    raw = base.model_dump(mode="json", exclude={"base_dir"})
    raw["lifetime"] = None
    raw["sites"][0]["battery"]["ageing"]["wear_in_dispatch"] = wear
    t0 = time.perf_counter()
    res = simulate(from_dict(raw, base.base_dir), "oracle")
    seconds = time.perf_counter() - t0
    from twin.ageing import wear_cost

    site = base.sites[0]
    price = wear_cost(site.battery.ageing, site.battery, base.sizing)
    discharge = float(res.meters["bess_discharge_mwh"].sum())
    energy = float(res.summary["kpis"]["cost_total"])
    return {"wear_in_dispatch": wear, "seconds": round(seconds, 1),
            "discharge_mwh": round(discharge, 1),
            "equivalent_full_cycles": round(discharge / site.battery.energy_mwh, 1),
            "energy_cost_usd": round(energy), "wear_usd_per_mwh": round(price, 3),
            "wear_cost_usd": round(price * discharge),
            "energy_plus_wear_usd": round(energy + price * discharge),
            "gti_slice": round(res.summary["gti"]["gti_slice"], 4),
            "gti_aggregate": round(res.summary["gti"]["gti_aggregate"], 4)}


def main() -> None:
    scn = load(SCENARIO)
    kept = []
    median, runs = median_seconds(lambda: kept.append(simulate_lifetime(scn)), REPEATS)
    years = [{"year": y["year"], "gti_slice": round(y["gti_slice"], 4),
              "gti_aggregate": round(y["gti_aggregate"], 4),
              "soh_end": round(y["batteries"]["campus"]["soh_end"], 4),
              "capacity_end_mwh": round(y["batteries"]["campus"]["capacity_end_mwh"], 1),
              "equivalent_full_cycles": round(y["batteries"]["campus"]["efc"], 1),
              "energy_cost_usd": round(y["energy_cost_usd"])}
             for y in kept[-1].summary["years"]]
    oracle = [oracle_year(False), oracle_year(True)]
    path = record("ageing", {
        "what": "three years of scenarios/battery_aging.yaml (greedy; BLAST-Lite LFP cell at "
                "25 degC), and the oracle over a year with and without the battery's wear "
                "priced",
        "repeats": REPEATS, "three_years_median_s": round(median, 1),
        "three_years_runs_s": [round(x, 1) for x in runs], "years": years, "oracle": oracle})
    for y in years:
        print(f"year {y['year']}: GTI {y['gti_slice']:.4f} / {y['gti_aggregate']:.4f}, "
              f"state of health {y['soh_end']:.4f}, {y['equivalent_full_cycles']:.0f} cycles")
    for o in oracle:
        print(f"oracle, wear priced {o['wear_in_dispatch']}: {o['discharge_mwh']:,.0f} MWh "
              f"discharged, energy ${o['energy_cost_usd']:,} + wear ${o['wear_cost_usd']:,} = "
              f"${o['energy_plus_wear_usd']:,}; GTI {o['gti_slice']:.4f}")
    print(f"three years in {median:.1f} s (median of {REPEATS}); wrote {path}")


if __name__ == "__main__":
    main()
