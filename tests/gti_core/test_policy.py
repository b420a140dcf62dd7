"""Green-power rules: verdicts per method and period, and the alpha where a verdict flips."""

from __future__ import annotations

import pytest

from gti_core.policy import evaluate_rule
from gti_core.score import AccountingParams
from tests.conftest import meter_table

# Two slices of 1 MWh IT: the first on PV, the second on the grid at a 50% renewable share.
# GTI(alpha) = (1 + 0.5 alpha) / 2 under both methods (no cooling, no export, no storage).
METERS = meter_table([{"pv_mwh": 1, "it_mwh": 1},
                      {"grid_import_mwh": 1, "it_mwh": 1, "grid_share": 0.5}])


def test_verdict_margin_and_the_alpha_where_it_flips():
    v = evaluate_rule(METERS, AccountingParams(alpha=0.45), 0.6)
    run = {p.method: p for p in v.periods if p.period == "run"}
    # at alpha 0.45: (1 + 0.225) / 2 = 0.6125, a pass by 0.0125
    assert run["slice"].gti == pytest.approx(0.6125)
    assert run["slice"].passes and run["slice"].margin == pytest.approx(0.0125)
    # 1 + 0.5 alpha = 1.2 at alpha = 0.4, under both methods
    assert v.alpha_flip["slice"] == pytest.approx(0.4, abs=2e-6)
    assert v.alpha_flip["aggregate"] == pytest.approx(0.4, abs=2e-6)
    assert v.failing("slice") == []
    months = [p for p in v.periods if p.period == "2023-01"]
    assert len(months) == 2 and all(p.passes for p in months)


def test_rules_that_hold_or_fail_at_every_alpha():
    easy = evaluate_rule(METERS, AccountingParams(alpha=0.45), 0.4)
    assert easy.passes_at_any_alpha == {"slice": True, "aggregate": True}
    hard = evaluate_rule(METERS, AccountingParams(alpha=0.45), 0.9)  # at most 0.75
    assert hard.passes_at_any_alpha == {"slice": False, "aggregate": False}
    assert hard.failing("slice") == ["2023-01"] and hard.alpha_flip["slice"] is None


def test_bad_rules_are_refused_by_name():
    with pytest.raises(ValueError, match=r"min_green = 1.5"):
        evaluate_rule(METERS, AccountingParams(alpha=0.45), 1.5)
    with pytest.raises(ValueError, match=r"method = 'monthly'"):
        evaluate_rule(METERS, AccountingParams(alpha=0.45), 0.8, ("monthly",))
