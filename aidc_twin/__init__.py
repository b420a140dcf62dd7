"""aidc-twin's Python API: load a scenario, simulate it, score metered data, size a plant.

Results are pandas tables and dictionaries, the same a run folder holds::

    import aidc_twin

    scn = aidc_twin.load_scenario("scenarios/western_hub.yaml", horizon_days=7)
    run = aidc_twin.simulate(scn, strategy="greedy")
    run.meters            # one row per site and slice (spec section 1)
    run.summary["gti"]    # GTI under both methods, levels, token GTI

The command line (``aidc-twin``) calls the same functions; ``aidc_twin.gym`` holds the
Gymnasium environment.
"""

from __future__ import annotations

from pathlib import Path

from twin.lifetime import LifetimeResult, simulate_lifetime
from twin.run import RunResult
from twin.run import simulate as _simulate
from twin.scenario import Scenario, ScenarioError, from_dict, load

__all__ = ["RunResult", "LifetimeResult", "Scenario", "ScenarioError", "load_scenario",
           "scenario_from_dict", "simulate", "simulate_lifetime", "score", "size", "verify",
           "write_run"]


def load_scenario(path: str | Path, **overrides) -> Scenario:
    """A scenario from its YAML file, with top-level fields replaced (``horizon_days=7``) or
    nested ones by dotted path (``**{"sites.0.battery.energy_mwh": 400}``).

    Raises
    ------
    ScenarioError
        A field that does not validate, named by its path, with its value.
    """
    scn = load(path)
    if not overrides:
        return scn
    from twin.overrides import with_overrides

    raw = with_overrides(scn.model_dump(mode="json", exclude={"base_dir"}), overrides)
    return from_dict(raw, scn.base_dir)


def scenario_from_dict(raw: dict, base_dir: str | Path = ".") -> Scenario:
    """A scenario from a mapping (file paths in it resolve against ``base_dir``)."""
    return from_dict(raw, Path(base_dir))


def simulate(scenario: Scenario | str | Path, strategy: str | None = None,
             objective: str | None = None, gti_target: float | None = None) -> RunResult:
    """Simulate a scenario (one year, or its ``horizon_days``) and score it with gti_core.

    Parameters
    ----------
    scenario : Scenario, str or Path
        A scenario, or the path of its YAML file.
    strategy : str, optional
        ``no_control``, ``greedy``, ``threshold``, ``mpc``, ``oracle``, or
        ``policy:module:callable`` (your own); the scenario's own by default.
    objective : str, optional
        ``cost`` or ``gti`` for the optimizers.
    gti_target : float, optional
        The time-slice GTI the optimizers must reach (objective ``cost``) [fraction].

    Returns
    -------
    RunResult
        ``meters``, ``tasks``, ``task_energy`` and ``signals`` (pandas DataFrames), ``summary``
        (the dictionary ``summary.json`` holds) and the per-site inputs and scores.
    """
    scn = scenario if isinstance(scenario, Scenario) else load(scenario)
    return _simulate(scn, strategy, objective, gti_target)


def write_run(result: RunResult, run_dir: str | Path) -> Path:
    """Write a run folder (meters, tasks, summary, report, manifest) atomically, as
    ``aidc-twin run`` does."""
    from twin.report import run_files
    from twin.results import write_run as _write

    return _write(Path(run_dir), result.summary, result.meters,
                  files=run_files(result.scenario, result), **result.tables())


def score(meters: str | Path, config: str | Path, tasks: str | Path | None = None
          ) -> tuple[dict, dict]:
    """Score a real site's meter export (CSV or Parquet) with an accounting configuration
    (YAML), as ``aidc-twin score`` does.

    Returns
    -------
    (dict, dict of pandas.DataFrame)
        The summary, and the tables a score folder holds (``meters`` as scored, ``contracts``,
        ``tasks`` and ``task_energy`` with a task file).
    """
    from twin.site_score import score_meters

    return score_meters(Path(meters), Path(config), Path(tasks) if tasks else None)


def size(scenario: Scenario | str | Path, target: float | list[float] = 0.8,
         method: str = "slice", **options) -> dict:
    """The cheapest PV, wind and battery that reach a GTI target, as ``aidc-twin size`` does
    (``options``: :func:`twin.size_run.size`'s, such as ``horizon_days``, ``typical``,
    ``resolution_min``).

    Returns
    -------
    dict
        ``frontier`` (a DataFrame: one row per target), ``results`` and the rechecks.
    """
    from twin.size_run import size as _size

    scn = scenario if isinstance(scenario, Scenario) else load(scenario)
    targets = [target] if isinstance(target, float | int) else list(target)
    return _size(scn, [float(t) for t in targets], method, **options)


def verify(run_dir: str | Path) -> list[tuple[str, str, float, float]]:
    """Recompute a run folder's GTI and every task's ``R_task`` from its meters; the
    mismatches (empty when it verifies). ``aidc-twin verify`` also checks the manifest."""
    from twin.verify import verify_run

    return verify_run(Path(run_dir))
