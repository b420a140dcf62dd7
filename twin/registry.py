"""A certificate registry that outlives runs: unique attribution of green MWh (spec section 5).

The registry is a DuckDB file of certificates (id, volume, vintage, technology, region, owner)
and of every retirement made against them. ``score`` and ``run`` with ``--registry`` retire the
volume each off-site instrument delivers in the scored period (face value, MWh; an annual REC its
whole volume) against the certificate of the same id; ``offsets`` retires volume for the energy
that physical green and contracts left unmatched. A retirement is refused, naming the
certificate and where it was first retired, when

- the certificate is not in the registry, or its vintage is not the year of the delivery;
- its volume would be retired twice: the same instrument claimed for an overlapping period (at
  any site: its volume is dated by its deliveries), or, for offsets, a site and period that were
  offset already (by any certificate); offsets draw undated volume, so two sites may draw on
  one certificate for the same period;
- the certificates retired would exceed the volume issued.

A retirement is made in one transaction with the folder that claims it: the rows are inserted,
the folder written, its manifest hash recorded, then committed; when anything fails the
registry is as it was.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: Columns of ``registry import`` CSV files, in order.
CSV_COLUMNS = ("certificate_id", "volume_mwh", "vintage", "technology", "region", "owner")
PURPOSES = ("gti_claim", "offset")
#: Rounding allowance when volumes are added up [MWh].
VOLUME_ATOL_MWH = 1e-9
VINTAGE_RANGE = (1990, 2100)

SCHEMA = """
CREATE TABLE IF NOT EXISTS certificates (
    certificate_id VARCHAR PRIMARY KEY, volume_mwh DOUBLE NOT NULL, vintage INTEGER NOT NULL,
    technology VARCHAR NOT NULL, region VARCHAR NOT NULL, owner VARCHAR NOT NULL,
    source VARCHAR, imported_at TIMESTAMP);
CREATE SEQUENCE IF NOT EXISTS retirement_seq START 1;
CREATE TABLE IF NOT EXISTS retirements (
    retirement_id BIGINT PRIMARY KEY, certificate_id VARCHAR NOT NULL, volume_mwh DOUBLE NOT NULL,
    site VARCHAR NOT NULL, period_start TIMESTAMP NOT NULL, period_end TIMESTAMP NOT NULL,
    purpose VARCHAR NOT NULL, folder VARCHAR NOT NULL, manifest_sha256 VARCHAR,
    retired_at TIMESTAMP NOT NULL);
"""


class RegistryError(ValueError):
    """A retirement or an import the registry refuses; the message names the certificate."""


@dataclass(frozen=True)
class Claim:
    """Volume of one certificate to retire for one site and period [start, end) (UTC).

    ``years`` are the calendar years the volume was delivered in (the vintage must be one of
    them); empty when the volume is not dated (offsets draw on certificates of the period's
    year, checked when they are chosen).
    """

    certificate_id: str
    site: str
    start: pd.Timestamp
    end: pd.Timestamp
    volume_mwh: float
    purpose: str = "gti_claim"
    years: tuple[int, ...] = ()

    def __post_init__(self) -> None:  # the registry keeps UTC times without a zone
        object.__setattr__(self, "start", _utc_naive(self.start))
        object.__setattr__(self, "end", _utc_naive(self.end))


def _utc_naive(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return (t.tz_convert("UTC") if t.tz is not None else t).tz_localize(None)


def contract_claims(site: str, contracts: list, start, end) -> list[Claim]:
    """What a site's instruments (:class:`gti_core.contracts.Contract`) claim for the period
    [start, end): a REC its whole volume for its year, a profiled instrument (PPA, hourly
    certificates) what it delivered in the period, at face value [MWh]."""
    start, end = _utc_naive(start), _utc_naive(end)
    out = []
    for c in contracts:
        if c.kind == "rec":
            out.append(Claim(c.contract_id, site, start, end, float(c.volume_mwh),
                             years=(int(c.year),)))
            continue
        prof = c.profile_mwh
        times = pd.DatetimeIndex(prof.index)
        times = (times.tz_convert("UTC") if times.tz is not None else times).tz_localize(None)
        inside = (times >= start) & (times < end)
        delivered = prof.to_numpy(float)[inside]
        years = sorted({int(y) for y in times[inside][delivered > 0].year})
        out.append(Claim(c.contract_id, site, start, end, float(delivered.sum()),
                         years=tuple(years)))
    return out


def _when(start, end) -> str:
    return f"{pd.Timestamp(start):%Y-%m-%d %H:%M} .. {pd.Timestamp(end):%Y-%m-%d %H:%M} UTC"


def _where(row) -> str:
    return (f"site {row['site']!r}, {_when(row['period_start'], row['period_end'])}, by "
            f"{row['folder']} at {pd.Timestamp(row['retired_at']):%Y-%m-%d %H:%M:%S} UTC")


class Registry:
    """The registry file (created on first use, unless ``read_only``)."""

    def __init__(self, path: Path, read_only: bool = False):
        import duckdb

        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise RegistryError(f"{self.path}: no such registry (import certificates first: "
                                "aidc-twin registry import)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
            if not read_only:
                self.con.execute(SCHEMA)
        except duckdb.Error as err:
            raise RegistryError(f"{self.path}: not a readable registry "
                                f"({str(err).splitlines()[0]})") from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- certificates ------------------------------------------------------------------------
    def import_csv(self, csv_path: Path) -> int:
        """Add the certificates of a CSV file (:data:`CSV_COLUMNS`); every row is checked first
        and nothing is added when one is refused. Returns the number added."""
        frame = read_certificates(csv_path)
        known = set(self.certificates()["certificate_id"])
        for i, cid in enumerate(frame["certificate_id"]):
            if cid in known:
                raise RegistryError(f"{csv_path}: row {i + 2}: certificate_id = {cid!r}: already "
                                    f"in the registry {self.path}")
        frame = frame.assign(source=str(csv_path))
        self.con.register("incoming", frame)
        try:
            self.con.execute(
                "INSERT INTO certificates SELECT certificate_id, volume_mwh, vintage, technology,"
                " region, owner, source, now()::TIMESTAMP FROM incoming")
        finally:
            self.con.unregister("incoming")
        return len(frame)

    def certificates(self) -> pd.DataFrame:
        """Every certificate with ``retired_mwh`` and ``remaining_mwh``."""
        return self.con.execute(
            "SELECT c.certificate_id, c.volume_mwh, c.vintage, c.technology, c.region, c.owner, "
            "coalesce(sum(r.volume_mwh), 0) AS retired_mwh, "
            "c.volume_mwh - coalesce(sum(r.volume_mwh), 0) AS remaining_mwh "
            "FROM certificates c LEFT JOIN retirements r USING (certificate_id) "
            "GROUP BY c.certificate_id, c.volume_mwh, c.vintage, c.technology, c.region, "
            "c.owner ORDER BY c.certificate_id").fetchdf()

    def retirements(self) -> pd.DataFrame:
        """Every retirement, in the order made."""
        return self.con.execute("SELECT * FROM retirements ORDER BY retirement_id").fetchdf()

    # --- retiring ----------------------------------------------------------------------------
    def _refusal(self, c: Claim) -> str | None:
        """Why ``c`` cannot be retired now (None: it can)."""
        cert = self.con.execute("SELECT volume_mwh, vintage FROM certificates WHERE "
                                "certificate_id = ?", [c.certificate_id]).fetchone()
        name = f"certificate {c.certificate_id!r}"
        if cert is None:
            return (f"{name} (site {c.site!r}): not in the registry {self.path}; import it "
                    "first (aidc-twin registry import)")
        issued, vintage = cert
        wrong = [y for y in c.years if y != vintage]
        if wrong:
            return (f"{name}: vintage {vintage}, claimed for site {c.site!r} with volume "
                    f"delivered in {wrong[0]}")
        earlier = self.con.execute(
            "SELECT * FROM retirements WHERE certificate_id = ? ORDER BY retirement_id",
            [c.certificate_id]).fetchdf()
        overlap = earlier[(earlier["period_start"] < c.end) & (earlier["period_end"] > c.start)]
        if c.purpose == "offset":  # undated draws on a volume: only a dated claim overlaps
            overlap = overlap[overlap["purpose"] == "gti_claim"]
        if len(overlap):
            return (f"{name}: already retired for {_where(overlap.iloc[0])}; its volume for "
                    f"site {c.site!r}, {_when(c.start, c.end)} cannot be retired again")
        if c.purpose == "offset":
            done = self.con.execute(
                "SELECT * FROM retirements WHERE purpose = 'offset' AND site = ? AND "
                "period_start < ? AND period_end > ? ORDER BY retirement_id",
                [c.site, c.end, c.start]).fetchdf()
            if len(done):
                return (f"site {c.site!r}, {_when(c.start, c.end)}: already offset with "
                        f"certificate {done.iloc[0]['certificate_id']!r} ({_where(done.iloc[0])})")
        retired = float(earlier["volume_mwh"].sum())
        if retired + c.volume_mwh > issued + VOLUME_ATOL_MWH:
            first = f"; first retired for {_where(earlier.iloc[0])}" if len(earlier) else ""
            return (f"{name}: retiring {c.volume_mwh:.6g} MWh for site {c.site!r} would exceed "
                    f"its issued {issued:.6g} MWh ({retired:.6g} MWh retired already{first})")
        return None

    def _retire(self, c: Claim, folder: str) -> int:
        """Insert one retirement (inside a transaction) after checking it; its id."""
        if c.purpose not in PURPOSES:
            raise ValueError(f"claim purpose = {c.purpose!r}: not one of {PURPOSES}")
        why = self._refusal(c)
        if why is not None:
            raise RegistryError(why)
        return self.con.execute(
            "INSERT INTO retirements VALUES (nextval('retirement_seq'), ?, ?, ?, ?, ?, ?, ?, "
            "NULL, now()::TIMESTAMP) RETURNING retirement_id",
            [c.certificate_id, c.volume_mwh, c.site, c.start, c.end, c.purpose, folder]
        ).fetchone()[0]

    @contextlib.contextmanager
    def retiring(self, claims: list[Claim], folder: Path):
        """Retire ``claims`` for ``folder`` in one transaction: refused claims raise
        :class:`RegistryError` before the body runs; the body writes the folder; on success the
        folder's manifest hash is recorded and the retirements committed, else rolled back."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            ids = []
            for c in claims:
                ids.append(self._retire(c, str(Path(folder).resolve())))
            yield ids
            manifest = Path(folder) / "manifest.json"
            if ids and manifest.is_file():
                from twin.manifest import file_sha256

                self.con.execute("UPDATE retirements SET manifest_sha256 = ? WHERE "
                                 "retirement_id BETWEEN ? AND ?",
                                 [file_sha256(manifest), min(ids), max(ids)])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def available(self, vintage: int, owner: str | None = None) -> pd.DataFrame:
        """Certificates offsets may draw on: of ``vintage`` (and ``owner``), with volume left,
        never claimed as an instrument (its volume is dated to the deliveries claimed), by id."""
        frame = self.certificates()
        claimed = set(self.con.execute("SELECT DISTINCT certificate_id FROM retirements WHERE "
                                       "purpose = 'gti_claim'").fetchdf()["certificate_id"])
        keep = ((frame["vintage"] == vintage) & (frame["remaining_mwh"] > VOLUME_ATOL_MWH)
                & ~frame["certificate_id"].isin(claimed))
        if owner is not None:
            keep &= frame["owner"] == owner
        return frame[keep].reset_index(drop=True)


def read_certificates(csv_path: Path) -> pd.DataFrame:
    """A certificate CSV, every row checked: one :class:`RegistryError` naming the file, row,
    column and value of the first bad cell."""
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise RegistryError(f"{csv_path}: not a readable CSV file "
                            f"({str(err).splitlines()[0]})") from None
    missing = [c for c in CSV_COLUMNS if c not in frame.columns]
    if missing:
        raise RegistryError(f"{csv_path}: column {missing[0]!r} is missing (a certificate file "
                            f"has {', '.join(CSV_COLUMNS)})")
    if frame.empty:
        raise RegistryError(f"{csv_path}: no certificates (only a header)")
    seen: dict[str, int] = {}
    volumes, vintages = [], []
    for i, row in enumerate(frame.itertuples(index=False)):
        where = f"{csv_path}: row {i + 2}"
        for col in ("certificate_id", "technology", "region", "owner"):
            if not str(getattr(row, col)).strip():
                raise RegistryError(f"{where}: {col} is empty")
        cid = row.certificate_id.strip()
        if cid in seen:
            raise RegistryError(f"{where}: certificate_id = {cid!r}: also on row {seen[cid]}")
        seen[cid] = i + 2
        try:
            volume = float(row.volume_mwh)
        except ValueError:
            volume = math.nan
        if not (math.isfinite(volume) and volume > 0):
            raise RegistryError(f"{where}: volume_mwh = {row.volume_mwh!r}: must be a finite "
                                "number > 0 [MWh]")
        try:
            vintage = int(row.vintage)
        except ValueError:
            vintage = -1
        lo, hi = VINTAGE_RANGE
        if not lo <= vintage <= hi:
            raise RegistryError(f"{where}: vintage = {row.vintage!r}: must be a year in "
                                f"[{lo}, {hi}]")
        volumes.append(volume)
        vintages.append(vintage)
    out = frame[list(CSV_COLUMNS)].apply(lambda s: s.str.strip())
    return out.assign(volume_mwh=volumes, vintage=vintages)


def folder_claims(meters: pd.DataFrame, contracts_by_site: dict[str, list]) -> list[Claim]:
    """The claims of a run or score folder: each site's instruments for the period its meters
    cover, [first slice, last slice + one slice)."""
    out = []
    for site, contracts in contracts_by_site.items():
        if not contracts:
            continue
        times = pd.DatetimeIndex(meters.loc[meters["site"].astype(str) == site, "time"])
        steps = times[1:] - times[:-1]
        step = steps.min() if len(steps) else pd.Timedelta(minutes=15)
        out.extend(contract_claims(site, contracts, times.min(), times.max() + step))
    return out


def claims_block(registry: Path, claims: list[Claim]) -> dict:
    """The ``registry`` block of a summary: the file and what the folder retired in it."""
    return {"file": str(registry), "retirements": [
        {"certificate_id": c.certificate_id, "site": c.site, "volume_mwh": c.volume_mwh,
         "period_start": str(c.start), "period_end": str(c.end), "purpose": c.purpose}
        for c in claims]}
