"""The dispatch optimizer: one Pyomo model family solved by HiGHS.

- :mod:`twin.optimize.data` - a horizon's arrays (units in the names) from a site's inputs;
- :mod:`twin.optimize.model` - one ``add_*`` function per constraint family, each returning a
  typed handle of :mod:`twin.optimize.handles`, and ``build_model``;
- :mod:`twin.optimize.highs` - the hand-over to HiGHS (components to columns and rows, unit
  scaling, in-place re-solves);
- :mod:`twin.optimize.plan` - the oracle's plan and its fixed point with gti_core;
- :mod:`twin.optimize.sizing` and :mod:`twin.optimize.periods` - capacity expansion over the
  year or over typical days, built from the same families.
"""


class OptimizationInfeasible(ValueError):
    """No plan meets every constraint; the message names the family, the slice and the gap.
    (Defined here, not in :mod:`twin.optimize.plan`, so that catching it loads no Pyomo.)"""
