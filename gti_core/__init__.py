"""gti_core: the accounting of shared/spec/GTI_ACCOUNTING.md as pure functions over meter tables.

Nothing here runs a simulation: the same functions score a twin run and a real site's EMS export.
"""

from gti_core.score import AccountingParams, SiteScore, score_site

__all__ = ["AccountingParams", "SiteScore", "score_site"]
