"""The GTI ledger: an append-only, hash-chained record of the labels issued (spec section 8).

A label is a site's GTI for a month or a quarter under one method, with the alpha, allocation
and storage rule it was computed under and the level it earns. ``aidc-twin ledger append RUN``
adds the labels of a run (or score) folder whose files match their manifest; each entry holds
the SHA-256 of the folder's ``manifest.json`` and the hash of the entry before it, so that an
entry removed, reordered or edited breaks the chain at that entry. With a signing key
(``AIDC_TWIN_SIGNING_KEY``) every entry is also signed. The file is JSON Lines, one entry per
line; ``ledger verify`` walks the chain and names the first entry that breaks it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from twin.manifest import signature_problem

FORMAT = "aidc-twin gti-ledger 1"
GENESIS = "0" * 64
#: The periods a label is issued for (spec section 8: per month and per quarter).
LABEL_PERIODS = ("month", "quarter")


class LedgerFileError(ValueError):
    """A ledger that cannot be read, or whose chain is broken; names the entry."""


def entry_hash(entry: dict) -> str:
    """SHA-256 of an entry's canonical JSON without its ``hash`` and ``signature``."""
    body = {k: v for k, v in entry.items() if k not in ("hash", "signature")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def read_entries(path: Path) -> list[dict]:
    """The ledger's entries (an absent file is an empty ledger)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise LedgerFileError(f"{path}: line {i}: not a JSON entry") from None
        if not isinstance(entry, dict):
            raise LedgerFileError(f"{path}: line {i}: not a JSON object")
        out.append(entry)
    return out


def chain_problem(entries: list[dict], trusted=None) -> str | None:
    """The first break in the chain, naming the entry (None when it holds): a sequence number
    out of order, a ``prev_hash`` that is not the previous entry's hash, an entry whose content
    does not match its hash, or a signature that fails (with ``trusted``, one not made with
    that public key or missing)."""
    prev = GENESIS
    for i, e in enumerate(entries, start=1):
        where = f"entry {i} (line {i})"
        if e.get("seq") != i:
            return (f"{where}: holds seq {e.get('seq')!r} where seq {i} belongs; entry {i} was "
                    "removed, or the entries reordered")
        if e.get("prev_hash") != prev:
            return (f"{where}: prev_hash is not the hash of entry {i - 1}; an entry was removed "
                    "or edited here and the rest renumbered")
        if e.get("hash") != entry_hash(e):
            return f"{where}: its content does not match its hash; the entry was edited"
        bad = signature_problem(e.get("signature"), str(e.get("hash")).encode(), trusted)
        if bad:
            return f"{where}: {bad}"
        prev = e["hash"]
    return None


def labels_of(summary: dict) -> list[dict]:
    """Every site's labels in a summary: per month and quarter, both methods."""
    out = []
    acc = summary["accounting"]
    for site, block in summary["sites"].items():
        for kind in LABEL_PERIODS:
            for lab in block.get("levels", {}).get(kind, []):
                out.append({"site": site, "period_kind": kind, "period": lab["period"],
                            "method": lab["method"], "alpha": lab["alpha"],
                            "allocation": lab["allocation"],
                            "storage_rule": acc["storage_rule"], "gti": lab["gti"],
                            "level": lab["level"]})
    return out


def new_entries(entries: list[dict], folder: Path, summary: dict, manifest_sha256: str,
                key=None) -> list[dict]:
    """The entries that append ``folder``'s labels to ``entries`` (signed with ``key``)."""
    from twin import __version__
    from twin.manifest import signature_block

    prev = entries[-1]["hash"] if entries else GENESIS
    seq = len(entries)
    issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for label in labels_of(summary):
        seq += 1
        e = {"format": FORMAT, "seq": seq, "issued_at": issued, "aidc_twin_version": __version__,
             **label, "folder": str(Path(folder).resolve()), "manifest_sha256": manifest_sha256,
             "prev_hash": prev}
        e["hash"] = entry_hash(e)
        if key is not None:
            e["signature"] = signature_block(key, e["hash"].encode())
        out.append(e)
        prev = e["hash"]
    return out


def append(path: Path, folder: Path, summary: dict, manifest_sha256: str, key=None
           ) -> list[dict]:
    """Append a folder's labels to the ledger at ``path`` (atomically: the whole file is
    replaced by its old lines plus the new ones). Refused, with nothing written, when the
    ledger's chain is broken or the folder (by its manifest hash) is in it already."""
    from twin.results import write_file

    path = Path(path)
    entries = read_entries(path)
    broken = chain_problem(entries)
    if broken:
        raise LedgerFileError(f"{path}: {broken}; not appended to a broken ledger")
    for e in entries:
        if e.get("manifest_sha256") == manifest_sha256:
            raise LedgerFileError(f"{folder}: its labels are in the ledger already (entry "
                                  f"{e['seq']}, from {e['folder']}, a folder with the same "
                                  "manifest)")
    added = new_entries(entries, folder, summary, manifest_sha256, key)
    if not added:
        raise LedgerFileError(f"{folder}: no monthly or quarterly labels in its summary.json")
    old = path.read_bytes() if path.exists() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    lines = "".join(json.dumps(e, sort_keys=True) + "\n" for e in added)
    write_file(path, old + lines.encode())
    return added
