"""Tamper-evident result folders: a manifest of every file's SHA-256, optionally signed.

Every folder aidc-twin writes (run, score, size, policy, resilience, bench, sweep, offsets) gets
``manifest.json``: the SHA-256 of each of its files, the aidc-twin version, and the hashes of the
inputs it was computed from (the scenario as run, its weather, traces, signals and contracts,
where the command knows them). With a signing key (``aidc-twin keys new``: an Ed25519 key pair
through the ``cryptography`` package) the manifest is signed: the signature covers the manifest's
canonical JSON without its ``signature`` block. ``aidc-twin verify`` checks the manifest before it
recomputes anything and names the file that changed; given the key the run should be signed with
(``--trusted-key``), a manifest signed under any other key fails.

Edited meters with a summary recomputed to match pass a recomputation, but not the manifest;
a manifest recomputed to match as well passes only without a trusted key: that is what the
signature is for.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = "aidc-twin manifest 1"
#: The environment variable naming the private key folders are signed with, when set.
KEY_ENV = "AIDC_TWIN_SIGNING_KEY"


class ManifestError(ValueError):
    """A folder's files do not match its manifest, or the manifest's signature fails."""


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical(manifest: dict) -> bytes:
    """The bytes a signature covers: the manifest without ``signature``, keys sorted."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def folder_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (subfolders too, as ``a/b``), sorted, but the manifest and
    hidden files (a write in progress)."""
    folder = Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".")
                                             for part in p.relative_to(folder).parts)
                  and p.relative_to(folder).as_posix() != MANIFEST)


def build_manifest(folder: Path, inputs: dict[str, Path] | None = None) -> dict:
    """The manifest of ``folder``'s files (:func:`folder_files`) and of
    ``inputs`` (label -> file the result was computed from)."""
    from twin import __version__

    files = {name: file_sha256(Path(folder) / name) for name in folder_files(folder)}
    out = {"format": FORMAT, "aidc_twin_version": __version__, "files": files}
    if inputs:
        out["inputs"] = {label: {"path": str(p), "sha256": file_sha256(Path(p))}
                         for label, p in sorted(inputs.items())}
    return out


def write_manifest(folder: Path, inputs: dict[str, Path] | None = None) -> dict:
    """Write ``folder``'s ``manifest.json``, signed with :func:`signing_key` if there is one."""
    from twin.results import json_writer

    manifest = build_manifest(folder, inputs)
    key = signing_key()
    if key is not None:
        manifest = sign(manifest, key)
    json_writer(manifest)(Path(folder) / MANIFEST)
    return manifest


def signing_key():
    """The private key ``AIDC_TWIN_SIGNING_KEY`` names, or None when it is not set; a key that
    cannot be read raises :class:`ManifestError` naming the variable and the file."""
    import os

    path = os.environ.get(KEY_ENV)
    if not path:
        return None
    return load_private_key(Path(path), name=f"{KEY_ENV} = {path}")


# --- keys and signatures -----------------------------------------------------------------------
def new_key_pair(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 private key (PEM, PKCS #8, unencrypted, mode 600) and its public key
    (PEM); return the public key's fingerprint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from twin.results import write_file

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_file(private_path, pem).chmod(0o600)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    write_file(public_path, pub)
    return fingerprint(raw_public_key(key.public_key()))


def raw_public_key(public_key) -> bytes:
    """A public key's 32 raw bytes."""
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(raw_public: bytes) -> str:
    """A public key's fingerprint: the first 16 hex digits of the SHA-256 of its raw bytes."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


def load_private_key(path: Path, name: str | None = None):
    """An Ed25519 private key from a PEM file; errors name ``name`` (default: the path)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise ManifestError(f"{name or path}: not a readable unencrypted PEM private key"
                            ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ManifestError(f"{name or path}: not an Ed25519 key")
    return key


def load_public_key(path: Path):
    """An Ed25519 public key from a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError):
        raise ManifestError(f"{path}: not a readable PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ManifestError(f"{path}: not an Ed25519 public key")
    return key


def signature_block(private_key, message: bytes) -> dict:
    """A ``signature`` block of ``message``: algorithm, public key, fingerprint, value."""
    raw = raw_public_key(private_key.public_key())
    return {"algorithm": "Ed25519", "public_key": raw.hex(), "fingerprint": fingerprint(raw),
            "value": private_key.sign(message).hex()}


def signature_problem(sig: dict | None, message: bytes, trusted) -> str | None:
    """What is wrong with a ``signature`` block of ``message`` (None: nothing): missing when a
    trusted key was given, not matching, or made with a key other than ``trusted``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if sig is None:
        return None if trusted is None else "not signed, and a trusted key was given"
    try:
        raw = bytes.fromhex(sig["public_key"])
        Ed25519PublicKey.from_public_bytes(raw).verify(bytes.fromhex(sig["value"]), message)
    except (KeyError, ValueError, TypeError, InvalidSignature):
        return "the signature does not match what it signs"
    if trusted is not None and raw != raw_public_key(trusted):
        return (f"signed by key {fingerprint(raw)}, not the trusted key "
                f"{fingerprint(raw_public_key(trusted))}")
    return None


def sign(manifest: dict, private_key) -> dict:
    """The manifest with its ``signature`` block."""
    return {**manifest, "signature": signature_block(private_key, canonical(manifest))}


def check_folder(folder: Path, trusted=None) -> list[str]:
    """What does not match ``folder``'s manifest: each changed, missing or unlisted file by
    name, and the signature (``trusted``: the public key it must be made with). Empty when
    the folder is as written. A folder without a manifest is one problem."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        return [f"{MANIFEST}: missing (the folder cannot be checked for changes)"]
    try:
        manifest = json.loads(path.read_text())
        listed = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as err:
        return [f"{MANIFEST}: unreadable ({err})"]
    bad = signature_problem(manifest.get("signature"), canonical(manifest), trusted)
    problems = [f"{MANIFEST}: {bad}"] if bad else []
    present = set(folder_files(folder))
    for name in sorted(set(listed) | present):
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing")
        elif name not in listed:
            problems.append(f"{name}: not in the manifest (added after the run)")
        elif file_sha256(folder / name) != listed[name]:
            problems.append(f"{name}: changed since the run (SHA-256 differs from the "
                            "manifest's)")
    return problems


def scenario_inputs(scn, scenario_path: Path | None) -> dict[str, Path]:
    """The files a scenario is computed from, by field path: the scenario file itself and every
    file field it names (fields whose name ends in ``file``: weather, traces, signals, contract
    profiles, networks), resolved against its folder. Bundled files (``pvlib:<name>``) resolve
    to the copy inside pvlib."""
    from models.weather import resolve_data_path

    out: dict[str, Path] = {}
    if scenario_path is not None:
        out["scenario"] = Path(scenario_path)

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(value, str) and str(key).endswith("file"):
                    out[where] = resolve_data_path(value, scn.base_dir)
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(scn.model_dump(exclude={"base_dir"}), "")
    return out
