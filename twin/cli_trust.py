"""Commands of trust: ``registry import | show | export``, ``ledger append | verify | show``,
``offsets RUN``, and the registry retirement that ``run`` and ``score`` make with
``--registry`` (:mod:`twin.registry`, :mod:`twin.label_ledger`, :mod:`twin.offsets`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from twin.cli import (
    app,
    console,
    err_console,
    fail,
    figure_table,
    out_folder,
    trusted_public_key,
)

DEFAULT_REGISTRY = Path("results") / "registry.duckdb"
DEFAULT_LEDGER = Path("results") / "gti_ledger.jsonl"


def write_retiring(registry_path: Path | None, claims: list, run_dir: Path, write) -> None:
    """Run ``write()`` (which writes ``run_dir``) with ``claims`` retired in the registry in the
    same transaction; a refused claim exits with code 2 before anything is written."""
    if registry_path is None:
        write()
        return
    from twin.registry import Registry, RegistryError

    try:
        with Registry(registry_path) as reg, reg.retiring(claims, run_dir):
            write()
    except RegistryError as err:
        fail(f"--registry = {registry_path}: {err}")
    volume = sum(c.volume_mwh for c in claims)
    console.print(f"retired {len(claims)} certificate volume(s), {volume:,.3f} MWh, in "
                  f"{registry_path}", markup=False, highlight=False, soft_wrap=True)


def as_written(run_dir: Path, why: str) -> None:
    """Exit 2 unless ``run_dir`` is a result folder whose files match its manifest, naming the
    first file that does not (and ``why`` it matters)."""
    from twin.manifest import check_folder

    if not (run_dir / "summary.json").is_file():
        fail(f"{run_dir}: not a run folder (summary.json is missing)")
    changed = check_folder(run_dir)
    if changed:
        fail(f"{run_dir}: {changed[0]}; {why}")


# --- registry ------------------------------------------------------------------------------------
registry_app = typer.Typer(help="The certificate registry (DuckDB) that outlives runs.",
                           no_args_is_help=True)
app.add_typer(registry_app, name="registry")
REGISTRY_OPTION = typer.Option(DEFAULT_REGISTRY, "--registry", help="registry file")


@registry_app.command("import")
def registry_import(csv: Path = typer.Argument(..., help="CSV: certificate_id, volume_mwh, "
                                                         "vintage, technology, region, owner"),
                    registry: Path = REGISTRY_OPTION) -> None:
    """Add certificates from a CSV file; nothing is added when any row is refused."""
    from twin.registry import Registry, RegistryError

    try:
        with Registry(registry) as reg:
            n = reg.import_csv(csv)
    except RegistryError as err:
        fail(str(err))
    console.print(f"imported {n} certificates into {registry}", markup=False, soft_wrap=True)


@registry_app.command("show")
def registry_show(registry: Path = REGISTRY_OPTION) -> None:
    """Every certificate: issued, retired and remaining volume."""
    from twin.registry import Registry, RegistryError

    try:
        with Registry(registry, read_only=True) as reg:
            certs, rets = reg.certificates(), reg.retirements()
    except RegistryError as err:
        fail(str(err))
    table = Table(title=f"{registry}: {len(certs)} certificates, {len(rets)} retirements",
                  title_justify="left")
    for col in ("certificate", "vintage", "technology", "region", "owner", "issued [MWh]",
                "retired [MWh]", "remaining [MWh]"):
        table.add_column(col, justify="right" if "MWh" in col or col == "vintage" else "left")
    for r in certs.itertuples(index=False):
        table.add_row(r.certificate_id, str(r.vintage), r.technology, r.region, r.owner,
                      f"{r.volume_mwh:,.3f}", f"{r.retired_mwh:,.3f}", f"{r.remaining_mwh:,.3f}")
    console.print(table)


@registry_app.command("export")
def registry_export(out: Path = typer.Option(..., "--out", help="CSV file of retirements"),
                    registry: Path = REGISTRY_OPTION) -> None:
    """Write every retirement (certificate, volume, site, period, purpose, folder, manifest
    hash, time) to a CSV file."""
    from twin.registry import Registry, RegistryError
    from twin.results import write_file

    if out.is_dir():
        fail(f"--out = {out}: is a folder; give a file name")
    try:
        with Registry(registry, read_only=True) as reg:
            frame = reg.retirements()
    except RegistryError as err:
        fail(str(err))
    write_file(out, frame.to_csv(index=False))
    console.print(f"wrote {out} ({len(frame)} retirements)", markup=False, soft_wrap=True)


# --- ledger --------------------------------------------------------------------------------------
ledger_app = typer.Typer(help="The append-only ledger of GTI labels issued.",
                         no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
LEDGER_OPTION = typer.Option(DEFAULT_LEDGER, "--ledger", help="ledger file (JSON Lines)")


@ledger_app.command("append")
def ledger_append(run_dir: Path = typer.Argument(..., help="a run or score folder"),
                  ledger: Path = LEDGER_OPTION) -> None:
    """Append a folder's monthly and quarterly labels (per site, both methods); the folder must
    match its manifest, and cannot be appended twice."""
    from twin.label_ledger import LedgerFileError, append
    from twin.manifest import MANIFEST, file_sha256, signing_key

    as_written(run_dir, "only a folder that matches its manifest is labelled")
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        added = append(ledger, run_dir, summary, file_sha256(run_dir / MANIFEST), signing_key())
    except (LedgerFileError, KeyError, ValueError) as err:
        fail(str(err) if isinstance(err, LedgerFileError)
             else f"{run_dir / 'summary.json'}: no labels to append ({err})")
    console.print(f"appended {len(added)} labels (entries {added[0]['seq']}-{added[-1]['seq']})"
                  f" to {ledger}", markup=False, soft_wrap=True)


@ledger_app.command("verify")
def ledger_verify(ledger: Path = LEDGER_OPTION,
                  trusted_key: Path | None = typer.Option(
                      None, "--trusted-key", help="public key (PEM) every entry must be "
                                                  "signed with")) -> None:
    """Walk the hash chain; exit 1 naming the first entry that breaks it."""
    from twin.label_ledger import LedgerFileError, chain_problem, read_entries

    trusted = trusted_public_key(trusted_key)
    if not ledger.is_file():
        fail(f"--ledger = {ledger}: no such file")
    try:
        entries = read_entries(ledger)
    except LedgerFileError as err:
        fail(str(err))
    broken = chain_problem(entries, trusted)
    if broken:
        err_console.print(f"error: {ledger}: {broken}", markup=False, highlight=False,
                          soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"{ledger}: {len(entries)} entries, chain intact"
                  + (", every entry signed by the trusted key" if trusted else ""),
                  markup=False, soft_wrap=True)


@ledger_app.command("show")
def ledger_show(ledger: Path = LEDGER_OPTION,
                site: str | None = typer.Option(None, "--site", help="only this site")) -> None:
    """The labels in the ledger."""
    from twin.label_ledger import LedgerFileError, read_entries

    if not ledger.is_file():
        fail(f"--ledger = {ledger}: no such file")
    try:
        entries = [e for e in read_entries(ledger) if site is None or e.get("site") == site]
    except LedgerFileError as err:
        fail(str(err))
    table = Table(title=f"{ledger}: {len(entries)} labels", title_justify="left")
    for col in ("seq", "site", "period", "method", "alpha", "allocation", "GTI", "level",
                "folder", "hash"):
        table.add_column(col, justify="right" if col in ("seq", "alpha", "GTI", "level")
                         else "left")
    for e in entries:
        table.add_row(str(e.get("seq")), str(e.get("site")), str(e.get("period")),
                      str(e.get("method")), f"{e.get('alpha', 0):g}", str(e.get("allocation")),
                      f"{e.get('gti', 0):.4f}", str(e.get("level")), str(e.get("folder")),
                      str(e.get("hash", ""))[:12])
    console.print(table)


# --- offsets -------------------------------------------------------------------------------------
@app.command()
def offsets(
    run_dir: Path = typer.Argument(..., help="a run folder"),
    registry: Path | None = typer.Option(None, "--registry",
                                         help="retire certificates for the unmatched energy"),
    owner: str | None = typer.Option(None, "--owner", help="only certificates of this owner"),
    partial: bool = typer.Option(False, "--partial",
                                 help="retire what the registry holds when it falls short"),
    out: Path | None = typer.Option(None, "--out",
                                    help="folder (default results/offsets-<run>)"),
) -> None:
    """Per inference request: energy, green share, unmatched energy, emissions and the
    certificate volume retired for it."""
    from twin.offsets import OffsetsError, compute_offsets
    from twin.registry import Registry, RegistryError
    from twin.results import json_writer, write_folder

    _checked_run(run_dir)
    target = out_folder(out, Path("results") / f"offsets-{run_dir.resolve().name}")
    try:
        reg = Registry(registry) if registry is not None else None
        try:
            res = compute_offsets(run_dir, reg, owner, partial)
            files = {"requests.parquet": lambda p: res.requests.to_parquet(p, index=False),
                     "slices.parquet": lambda p: res.slices.to_parquet(p, index=False),
                     "summary.json": json_writer(res.summary)}
            sources = {"run_manifest": run_dir / "manifest.json"}
            if reg is None:
                write_folder(target, files, sources)
            else:
                with reg.retiring(res.retirements, target):
                    write_folder(target, files, sources)
        finally:
            if reg is not None:
                reg.close()
    except (OffsetsError, RegistryError, ValueError) as err:
        fail(str(err))
    _print_offsets(res.summary, target)


def _checked_run(run_dir: Path) -> None:
    """Offsets only for a folder that matches its manifest and whose GTI recomputes."""
    from twin.verify import verify_run

    as_written(run_dir, "offsets are computed only for a run as written")
    try:
        problems = verify_run(run_dir)
    except (FileNotFoundError, ValueError) as err:
        fail(str(err))
    if problems:
        what, where, rec, got = problems[0]
        fail(f"{run_dir}: {what} at {where} does not recompute (recorded {rec!r}, recomputed "
             f"{got!r}); run aidc-twin verify")


def _print_offsets(s: dict, target: Path) -> None:
    table = figure_table(f"offsets of {s['run']}")
    table.add_row("requests", f"{s['requests']:,}")
    table.add_row("tokens (in + out)", f"{s['tokens']:.4e}")
    table.add_row("IT energy (with idle share)", f"{s['it_mwh']:,.4f} MWh")
    table.add_row("facility energy", f"{s['facility_mwh']:,.4f} MWh")
    table.add_row("unmatched IT energy", f"{s['unmatched_it_mwh']:,.4f} MWh")
    table.add_row("certificates retired", f"{s['certificate_mwh']:,.4f} MWh")
    table.add_row("not offset", f"{s['not_offset_mwh']:,.4f} MWh")
    table.add_row("emissions (location-based)",
                  f"{s['emissions_location_kg']:,.1f} kg ({s['gco2e_per_1000_tokens']:.4f} "
                  "gCO2e per 1,000 tokens)")
    table.add_row("slices carried whole by requests",
                  f"{s['slices_carried_whole']} of {s['slices_with_requests']} (max difference "
                  f"{s['max_slice_unmatched_difference_mwh']:.2e} MWh)")
    console.print(table)
    console.print(f"wrote {target}/ (requests.parquet, slices.parquet, summary.json)",
                  markup=False, soft_wrap=True)
