"""The GTI identity as an SVG badge (spec section 8): a branch with as many leaves as the level,
the level, the GTI value, its method and its period.

The badge is plain SVG 1.1 with no script, font file or external reference, so it can sit in API
documentation, a README or an e-mail. Its parts carry classes for tools that read badges back:
``leaf`` (one per level), ``branch``, ``gti``, ``level`` and ``scope`` (method, period, alpha).

Example
-------
>>> svg = badge_svg(0.8312, method="slice", period="2023")
>>> svg.count('class="leaf"')
4
"""

from __future__ import annotations

from html import escape

from gti_core.rating import DEFAULT_THRESHOLDS, gti_level

#: Leaf colour per level 1..5 (and the branch's): from sparse to full green.
LEVEL_COLOURS = ("#9aa5a0", "#b7c95a", "#8cbf4a", "#5aa845", "#2f8f3e", "#126b32")
#: Where the leaves grow along the branch: (x, y, angle [deg]) in the order they appear.
LEAF_SLOTS = ((22, 40, -35), (31, 22, 30), (40, 37, -40), (47, 17, 25), (54, 31, -30))
METHOD_NAMES = {"slice": "time-slice", "aggregate": "aggregate"}
WIDTH, HEIGHT = 250, 56  # the least width; a long scope widens the badge


def badge_svg(gti: float, method: str, period: str, level: int | None = None,
              alpha: float | None = None,
              thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS) -> str:
    """The badge of one GTI label.

    Parameters
    ----------
    gti : float
        The GTI value [fraction].
    method : str
        ``slice`` or ``aggregate`` (spec section 6).
    period : str
        What the value covers, e.g. ``2023``, ``2023-Q1``, ``2023-07``.
    level : int, optional
        The level (0-5); default: from ``gti`` and ``thresholds``.
    alpha : float, optional
        The grid attribution coefficient, printed next to the method when given.

    Returns
    -------
    str
        An SVG document.
    """
    if method not in METHOD_NAMES:
        raise ValueError(f"method = {method!r}: must be 'slice' or 'aggregate'")
    lvl = gti_level(gti, thresholds) if level is None else int(level)
    if not 0 <= lvl <= 5:
        raise ValueError(f"level = {level}: must lie in 0..5")
    colour = LEVEL_COLOURS[lvl]
    scope = f"{METHOD_NAMES[method]} · {period}" + (f" · α {alpha:g}" if alpha is not None
                                                      else "")
    leaves = "".join(
        f'<ellipse class="leaf" cx="{x}" cy="{y}" rx="7" ry="3.6" '
        f'transform="rotate({a} {x} {y})" fill="{colour}"/>'
        for x, y, a in LEAF_SLOTS[:lvl])
    title = f"Green Token Index {gti:.3f}, level {lvl}, {scope}"
    width = max(WIDTH, round(76 + 6.0 * len(scope) + 12))  # 11 px Helvetica: ~6 px a glyph
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'data-gti="{gti:.6f}" data-level="{lvl}" data-method="{method}" '
        f'data-period="{escape(period)}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{HEIGHT - 1}" rx="8" '
        f'fill="#f7faf7" stroke="{colour}"/>'
        f'<path class="branch" d="M10 50 C 26 42, 40 30, 62 12" fill="none" '
        f'stroke="#6b4f2a" stroke-width="2.4" stroke-linecap="round"/>'
        f"{leaves}"
        f'<text class="gti" x="76" y="25" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="17" font-weight="bold" fill="#1d2b22">GTI {gti:.3f}</text>'
        f'<text class="level" x="{width - 12}" y="25" text-anchor="end" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="13" font-weight="bold" '
        f'fill="{colour}">Level {lvl}</text>'
        f'<text class="scope" x="76" y="44" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="11" fill="#44524a">{escape(scope)}</text>'
        "</svg>")


def badge_for_label(lab: dict) -> str:
    """The badge of a label as :func:`gti_core.rating.label` makes it (and ``summary.json``'s
    ``levels`` hold)."""
    return badge_svg(float(lab["gti"]), lab["method"], str(lab["period"]), int(lab["level"]),
                     lab.get("alpha"))
