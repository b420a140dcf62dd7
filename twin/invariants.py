"""Invariants checked after every simulation; a violation is an error, never a result.

- energy balance per slice at every site bus (gti_core.meters.check_meters, spec section 1);
- battery content within its SoC window in every slice, and equal to the battery's own recursion
  (:func:`models.battery.battery_step`) over the metered charge and discharge;
- green conservation through storage: green discharged <= initial green + eta_c * eta_d * green
  charged (spec section 4), and both pools within [0, capacity];
- tokens x energy per token = the tasks' IT energy (training adds its checkpoint and reload time
  at idle power and, where it migrated, the energy of moving its checkpoint; batch work the
  energy of moving the data of jobs sent in or out), and tasks' IT energy <= metered IT energy.
"""

from __future__ import annotations

import numpy as np

from gti_core.meters import check_meters
from gti_core.score import SiteScore
from models.battery import battery_step
from models.site import host_energy_mwh
from models.tokens import gpu_energy_j
from twin.engine import SiteRun
from twin.inputs import SiteInputs

#: Absolute slack for energy comparisons that accumulate float error over a year [MWh].
ENERGY_ATOL_MWH = 1e-6


class InvariantError(AssertionError):
    """A simulation broke a physical or accounting invariant."""


def check_soc_window(run: SiteRun, inp: SiteInputs) -> None:
    if inp.battery is None:
        return
    b = inp.battery
    lo, hi = b.min_soc_mwh, b.max_soc_mwh
    # Dispatch never takes the content below the window; self-discharge alone may (a resting
    # battery at its floor keeps leaking), so the floor of slice t is min(lo, soc[t-1]) * keep.
    prev = np.concatenate(([inp.initial_soc_mwh], run.soc_mwh[:-1]))
    floor = np.minimum(lo, prev) * (1.0 - b.self_discharge_per_slice)
    bad = (run.soc_mwh < floor - ENERGY_ATOL_MWH) | (run.soc_mwh > hi + ENERGY_ATOL_MWH)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvariantError(f"{run.site}: battery content {run.soc_mwh[i]:.6f} MWh outside "
                             f"[{floor[i]:g}, {hi:g}] at {inp.index[i]}")


def check_soc_recursion(run: SiteRun, inp: SiteInputs) -> None:
    """The recorded content follows the battery's recursion over the metered charge and
    discharge: each slice's end content is ``battery_step`` of the content recorded before it
    (the initial content for the first slice)."""
    if inp.battery is None:
        return
    start = np.concatenate(([inp.initial_soc_mwh], run.soc_mwh[:-1]))
    expected = battery_step(start, run.meters["bess_charge_mwh"].to_numpy(),
                            run.meters["bess_discharge_mwh"].to_numpy(), inp.battery)
    bad = np.abs(expected - run.soc_mwh) > ENERGY_ATOL_MWH
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvariantError(f"{run.site}: battery content {run.soc_mwh[i]:.6f} MWh at "
                             f"{inp.index[i]}, but its charge and discharge give "
                             f"{expected[i]:.6f} MWh")


def check_green_storage(score: SiteScore, inp: SiteInputs) -> None:
    s = score.slices
    cap = inp.battery.energy_mwh if inp.battery else 0.0
    for col in ("soc_green_mwh", "soc_grey_mwh"):
        v = s[col].to_numpy()
        bad = (v < -ENERGY_ATOL_MWH) | (v > cap + ENERGY_ATOL_MWH)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvariantError(f"{score.site}: {col} = {v[i]:.6f} outside [0, {cap:g}] at "
                                 f"{inp.index[i]}")
    if inp.battery is None:
        return
    b = inp.battery
    initial_green = inp.initial_soc_mwh * inp.initial_green_fraction
    out = float(s["green_out_mwh"].sum())
    bound = initial_green + b.charge_efficiency * b.discharge_efficiency * float(
        s["g_charge"].sum())
    if out > bound + ENERGY_ATOL_MWH:
        raise InvariantError(f"{score.site}: green discharged {out:.6f} MWh exceeds initial green "
                             f"+ eta_c*eta_d*green charged = {bound:.6f} MWh")


def check_token_energy(run: SiteRun, inp: SiteInputs) -> None:
    """Tokens x energy per token (plus a training job's checkpoint and reload time at idle power)
    = each kind's IT energy."""
    te = run.task_energy
    records = run.tasks.set_index("task_id")
    kind = te["task_id"].map(records["kind"]).to_numpy()
    ids = te["task_id"].to_numpy()
    checks = [(kind == "interactive", inp.interactive_energy.model,
               lambda sub: gpu_energy_j(sub["tokens_in"].sum(), sub["tokens_out"].sum(),
                                        inp.interactive_energy), 0.0)]
    if inp.batch_energy is not None:  # with the data of jobs moved in or out, IT energy here
        moved_batch = run.batch_transfer_mwh
        checks.append(((kind == "batch") | np.isin(ids, list(moved_batch)),
                       inp.batch_energy.model,
                       lambda sub: gpu_energy_j(sub["tokens_in"].sum(), sub["tokens_out"].sum(),
                                                inp.batch_energy),
                       sum(moved_batch.values())))
    for job_id, spent in run.training.items():  # every job that ran here, from here or not
        checks.append((ids == job_id, job_id,
                       lambda sub, spent=spent: sub["tokens_in"].sum() * spent.job.j_per_token
                       + spent.overhead_gpu_s * inp.gpu.idle_w,
                       spent.transfer_mwh))  # its checkpoint moving in or out, IT energy here
    for mask, name, gpu_j, moved_mwh in checks:
        sub = te[mask]
        expected = float(host_energy_mwh(gpu_j(sub), inp.gpu)) + moved_mwh
        got = float(sub["it_mwh"].sum())
        if abs(expected - got) > ENERGY_ATOL_MWH + 1e-9 * abs(expected):
            raise InvariantError(f"{run.site}: tokens x energy per token = {expected:.6f} MWh but "
                                 f"the {name} tasks used {got:.6f} MWh")
    per_slice = te.groupby("time")["it_mwh"].sum()
    metered = run.meters.set_index("time")["it_mwh"].reindex(per_slice.index)
    over = per_slice.to_numpy() > metered.to_numpy() + ENERGY_ATOL_MWH
    if over.any():
        t = per_slice.index[np.flatnonzero(over)[0]]
        raise InvariantError(f"{run.site}: tasks claim more IT energy than metered at {t}")


def check_all(run: SiteRun, score: SiteScore, inp: SiteInputs) -> None:
    """Run every invariant on one site's run; raise :class:`InvariantError` on the first failure."""
    try:
        check_meters(run.meters)
    except ValueError as err:
        raise InvariantError(f"{run.site}: {err}") from None
    check_soc_window(run, inp)
    check_soc_recursion(run, inp)
    check_green_storage(score, inp)
    check_token_energy(run, inp)
