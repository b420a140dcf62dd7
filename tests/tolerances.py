"""Tolerances of the test suite, one per kind of comparison, written down once.

Each names what it compares and why the bound is what it is; a test picks the one that fits
instead of writing a new number.
"""

#: The same closed-form arithmetic in another order of operations (sums of a few terms, ratios
#: of datasheet numbers) [relative].
FLOAT_REL = 1e-12
#: Exact decimal inputs through a few float operations, e.g. storage content in MWh [absolute].
FLOAT_ATOL = 1e-12
#: Hand-computed energies [MWh], token counts and ratios against the code over many slices or
#: jobs, where float error accumulates [absolute].
HAND_ATOL = 1e-9
#: The same, relative [relative].
HAND_REL = 1e-9
#: The optimum of an LP solved by HiGHS, whose primal feasibility tolerance is 1e-7 on scaled
#: rows: capacities [MW, MWh], energies [MWh] and costs [$] of hand-solved cases [absolute].
LP_ATOL = 1e-6
#: lightsim2grid's power flows against pandapower's Newton-Raphson on the same case: both stop
#: at a mismatch of 1e-8 MVA [MW, fraction of rating].
POWER_FLOW_ATOL = 1e-6
