"""The GTI badge: one leaf per level, the value, level, method and period in its text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gti_core.badge import badge_for_label, badge_svg
from gti_core.rating import label

NS = "{http://www.w3.org/2000/svg}"


def parts(svg: str) -> dict:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{NS}svg"
    by_class: dict = {}
    for el in root.iter():
        by_class.setdefault(el.get("class"), []).append(el)
    return {"root": root, **by_class}


# one GTI inside each level's band of spec section 8
@pytest.mark.parametrize(("gti", "level"), [(0.05, 0), (0.25, 1), (0.45, 2), (0.65, 3),
                                            (0.85, 4), (0.97, 5)])
def test_badges_of_all_six_levels_have_as_many_leaves_as_the_level(gti, level):
    p = parts(badge_svg(gti, "slice", "2023-07"))
    assert len(p.get("leaf", [])) == level
    assert len(p["branch"]) == 1
    assert p["gti"][0].text == f"GTI {gti:.3f}"
    assert p["level"][0].text == f"Level {level}"
    assert p["scope"][0].text == "time-slice · 2023-07"
    assert p["root"].get("data-level") == str(level)


def test_the_level_boundaries_belong_to_the_upper_level():
    assert len(parts(badge_svg(0.80, "aggregate", "2023")).get("leaf", [])) == 4
    assert len(parts(badge_svg(0.7999, "aggregate", "2023")).get("leaf", [])) == 3


def test_a_label_becomes_its_badge_with_alpha():
    lab = label("2023-Q1", "aggregate", 0.9612, 0.45, "it_first")
    p = parts(badge_for_label(lab))
    assert len(p["leaf"]) == 5
    assert p["scope"][0].text == "aggregate · 2023-Q1 · α 0.45"
    assert "Green Token Index 0.961, level 5" in p["root"].get("aria-label")


def test_a_badge_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="method = 'hourly'"):
        badge_svg(0.5, "hourly", "2023")
