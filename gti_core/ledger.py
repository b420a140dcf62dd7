"""The certificate ledger: every contract or certificate is retired once (spec section 5)."""

from __future__ import annotations

from dataclasses import dataclass, field


class LedgerError(ValueError):
    """A second retirement of the same certificate."""


@dataclass
class CertificateLedger:
    """Records which site and period each certificate was retired for; refuses a second use."""

    retired: dict[str, tuple[str, str]] = field(default_factory=dict)

    def retire(self, certificate_id: str, site: str, period: str) -> None:
        """Retire ``certificate_id`` for ``site`` and ``period``.

        Raises
        ------
        LedgerError
            The certificate was already retired (for this or another site or period).
        """
        if certificate_id in self.retired:
            s, p = self.retired[certificate_id]
            raise LedgerError(f"certificate {certificate_id!r} is already retired for site {s!r}, "
                              f"period {p}; it cannot be retired again for site {site!r}, "
                              f"period {period}")
        self.retired[certificate_id] = (site, period)
