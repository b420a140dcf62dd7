"""Reference pages generated from the code, so that the documentation cannot drift from it: the
scenario schema (from the pydantic models' JSON schema), the command line (from typer), the
files and columns of a run folder, and the performance figures (``benchmarks/results``).

``docs/gen_reference.py`` writes them into the site at build time (mkdocs-gen-files).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

#: Unit of a name by its suffix (CONVENTIONS.md: units in every name), longest suffix first.
UNIT_SUFFIXES = (
    ("_usd_per_mw_month", "$/MW/month"), ("_usd_per_unit_year", "$/unit/a"),
    ("_usd_per_unit", "$/unit"), ("_usd_per_mwh", "$/MWh"), ("_usd_per_l", "$/l"),
    ("_usd_per_gb", "$/GB"), ("_usd", "$"), ("_kg_per_mwh", "kgCO2e/MWh"),
    ("_l_per_mwh", "l/MWh"), ("_tokens_per_s", "tokens/s"), ("_per_output_token", "-"),
    ("_per_day_fraction", "fraction/day"), ("_per_year_fraction", "fraction/a"),
    ("_fraction", "fraction"), ("_mwh", "MWh"), ("_mva", "MVA"), ("_mw", "MW"),
    ("_kw", "kW"), ("_kv", "kV"), ("_km", "km"), ("_ms", "ms"), ("_gbps", "Gbit/s"),
    ("_gb", "GB"), ("_deg", "deg"), ("_c", "degC"), ("_m", "m"), ("_hours", "h"),
    ("_h", "h"), ("_minutes", "min"), ("_s", "s"), ("_years", "a"), ("_days", "d"),
    ("_day", "d"), ("_pu", "p.u."), ("_ratio", "-"), ("_gpus", "GPUs"),
)
_BRACKET = re.compile(r"\[([^\[\]]+)\]\s*$")


def unit_of(name: str, description: str = "") -> str:
    """A field's unit: the ``[unit]`` its description ends with, else its name's suffix, else
    ``-`` (a count, a name, a switch)."""
    m = _BRACKET.search(description or "")
    if m:
        return m.group(1)
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return "-"


@dataclass(frozen=True)
class FieldRow:
    """One field of the scenario schema."""

    path: str  # dotted, ``[]`` for list items: sites[].battery.energy_mwh
    type: str
    default: str
    bounds: str
    unit: str
    description: str


def _resolve(node: dict, defs: dict) -> dict:
    ref = node.get("$ref")
    return defs[ref.split("/")[-1]] if ref else node


def _branches(node: dict, defs: dict) -> list[dict]:
    """The schemas a property may take (an optional one: its non-null branch)."""
    options = node.get("anyOf") or node.get("oneOf") or [node]
    return [_resolve(o, defs) for o in options if o.get("type") != "null"]


def _type_name(node: dict, defs: dict) -> str:
    names = []
    for o in node.get("anyOf") or node.get("oneOf") or [node]:
        if "$ref" in o:
            names.append(o["$ref"].split("/")[-1])
        elif "enum" in o or "const" in o:
            names.append(" | ".join(repr(v) for v in o.get("enum", [o.get("const")])))
        elif o.get("type") == "array":
            names.append(f"list of {_type_name(o.get('items', {}), defs)}")
        else:
            names.append(str(o.get("type", "any")))
    return " or ".join(dict.fromkeys(names))


def _bounds(node: dict, defs: dict) -> str:
    out = []
    for o in _branches(node, defs):
        for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                        ("exclusiveMaximum", "<"), ("minItems", "items >="),
                        ("maxItems", "items <="), ("minLength", "length >=")):
            if key in o:
                out.append(f"{op} {o[key]:g}" if isinstance(o[key], float) else
                           f"{op} {o[key]}")
    return ", ".join(dict.fromkeys(out))


def _default(node: dict, required: bool) -> str:
    if required:
        return "required"
    if "default" not in node:
        return "-"
    value = node["default"]
    if isinstance(value, dict):
        return "(block defaults)"
    return json.dumps(value)


def schema_rows(model=None) -> list[FieldRow]:
    """Every field of the scenario (``model``: a pydantic model, default
    :class:`twin.scenario.Scenario`), depth first, nested blocks and list items included."""
    if model is None:
        from twin.scenario import Scenario as model
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    internal = {name for name, f in model.model_fields.items() if f.exclude}  # base_dir
    rows: list[FieldRow] = []

    def walk(obj: dict, prefix: str, seen: tuple[str, ...]) -> None:
        required = set(obj.get("required", []))
        for name, prop in obj.get("properties", {}).items():
            if not prefix and name in internal:
                continue  # set by the loader, not written in a file
            path = f"{prefix}{name}"
            desc = prop.get("description", "")
            bounds, kind = _bounds(prop, defs), _type_name(prop, defs)
            unit = unit_of(name, desc)
            if unit == "-" and kind.startswith("number") and "<= 1" in bounds and (
                    ">= 0" in bounds or "> 0" in bounds):
                unit = "fraction"  # a share, bounded to [0, 1]
            rows.append(FieldRow(path, kind, _default(prop, name in required), bounds, unit,
                                 desc))
            for branch in _branches(prop, defs):
                ref_names = [o["$ref"] for o in prop.get("anyOf", [prop]) if "$ref" in o]
                if branch.get("type") == "array" and "items" in branch:
                    item = _resolve(branch["items"], defs)
                    if "properties" in item:
                        key = branch["items"].get("$ref", path)
                        if key not in seen:
                            walk(item, f"{path}[].", (*seen, key))
                elif "properties" in branch:
                    key = ref_names[0] if ref_names else path
                    if key not in seen:
                        walk(branch, f"{path}.", (*seen, key))

    walk(schema, "", ())
    return rows


def _cell(text: str) -> str:
    """Text for a table cell: pipes escaped, and ``<``, ``>`` shown rather than read as HTML."""
    return (str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
            .replace(">", "&gt;"))


def schema_markdown() -> str:
    """The scenario reference page: one table row per field."""
    rows = schema_rows()
    lines = ["# Scenario schema", "",
             "Every field of a scenario file, generated from the pydantic models "
             "(`twin/scenario.py` and the schemas it imports) at each build of these pages. "
             "`sites[]` is each element of the list `sites`; a block whose default is "
             "`(block defaults)` may be left out. Units follow the name's suffix "
             "(`_mwh`: MWh) unless the description gives one in brackets.", "",
             f"{len(rows)} fields, by block."]
    block = None
    for r in rows:
        top = r.path.split(".")[0].split("[")[0]
        if top != block:
            block = top
            lines += ["", f"## `{top}`", "",
                      "| field | type | default | bounds | unit | description |",
                      "| --- | --- | --- | --- | --- | --- |"]
        lines.append(f"| `{r.path}` | {_cell(r.type)} | `{_cell(r.default)}` | "
                     f"{_cell(r.bounds)} | {_cell(r.unit)} | {_cell(r.description)} |")
    return "\n".join(lines) + "\n"


def cli_markdown() -> str:
    """The command-line reference page, from the typer application."""
    import typer
    from typer.core import TyperGroup

    from twin.cli import app

    root = typer.main.get_command(app)
    lines = ["# Command line", "",
             "Generated from the typer application (`twin/cli.py` and the modules it loads) at "
             "each build of these pages. Bad input exits with code 2 and one `error:` line.", ""]

    def command(cmd, name: str) -> None:
        ctx = cmd.context_class(cmd, info_name=name)
        lines.extend([f"## `{name}`", "", (cmd.help or "").strip(), "", "```",
                      f"{name} {' '.join(cmd.collect_usage_pieces(ctx))}".strip(), "```", ""])
        params = [p for p in cmd.params if not getattr(p, "hidden", False)]
        if params:
            lines.extend(["| argument or option | default | help |", "| --- | --- | --- |"])
            for p in params:
                option = getattr(p, "param_type_name", "") == "option"
                names = ", ".join(p.opts) if option else str(p.name).upper()
                default = "" if p.default is None or callable(p.default) else str(p.default)
                lines.append(f"| `{_cell(names)}` | {_cell(default)} | "
                             f"{_cell(getattr(p, 'help', '') or '')} |")
            lines.append("")
        if isinstance(cmd, TyperGroup):
            for sub_name in sorted(cmd.commands):
                command(cmd.commands[sub_name], f"{name} {sub_name}")

    for sub in sorted(root.commands):
        command(root.commands[sub], f"aidc-twin {sub}")
    return "\n".join(lines) + "\n"


def _flatten(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        out.append((prefix, value))


def performance_markdown(results: Path) -> str:
    """The performance page: every record in ``benchmarks/results/*.json``, as recorded."""
    lines = ["# Performance", "",
             "Every figure as the benchmark scripts in `benchmarks/` recorded it on this "
             "project's 2-core machine (medians of several runs, ratios against a baseline run "
             "in the same process), generated from `benchmarks/results/*.json` at each build. "
             "Re-run them with `make bench`.", ""]
    for path in sorted(Path(results).glob("*.json")):
        data = json.loads(path.read_text())
        lines.extend([f"## {path.stem}", "", str(data.get("what", "")), "",
                      "| figure | value |", "| --- | --- |"])
        flat: list = []
        _flatten("", {k: v for k, v in data.items() if k != "what"}, flat)
        lines.extend(f"| `{_cell(k)}` | {_cell(json.dumps(v) if not isinstance(v, str) else v)} |"
                     for k, v in flat)
        lines.append("")
    return "\n".join(lines) + "\n"


def meter_columns_markdown() -> str:
    """The meter table's columns with their units (spec section 1)."""
    from gti_core.meters import METER_COLUMNS, OPTIONAL_ENERGY_COLUMNS

    lines = ["| column | unit |", "| --- | --- |"]
    for col in (*METER_COLUMNS, *OPTIONAL_ENERGY_COLUMNS):
        unit = "UTC, slice start" if col == "time" else unit_of(col)
        lines.append(f"| `{col}` | {unit} |")
    return "\n".join(lines) + "\n"


#: What each file of a run folder holds (the columns are read off a run at build time).
RUN_FILES = {
    "meters.parquet": "one row per site and slice: the meters of the spec (section 1)",
    "tasks.parquet": "one row per task (interactive stream of a slice, batch job, training "
                     "run): tokens, energy, R_task under both methods, emissions, deadlines",
    "task_energy.parquet": "IT energy and tokens per task and slice: what R_task is computed "
                           "from",
    "events.parquet": "the engine's event log, in time order",
    "inputs.parquet": "what the run saw per site and slice: available supply, prices, grid "
                      "share and carbon, workload, limits",
    "network.parquet": "per slice, when the scenario models the connection: power-flow "
                       "results and flags",
    "contracts.parquet": "the sites' off-site instruments, when they hold any",
    "routing.parquet": "a fleet's requests per region, serving site and slice",
}


def run_folder_markdown() -> str:
    """The run-folder reference: every file, and the columns of each table as a one-day run of
    the default scenario writes them (with their units by name)."""
    from twin.run import simulate
    from twin.scenario import from_dict, load

    root = Path(__file__).resolve().parents[1]
    scn = load(root / "scenarios" / "western_hub.yaml")
    raw = scn.model_dump(mode="json", exclude={"base_dir"})
    raw["horizon_days"] = 1
    res = simulate(from_dict(raw, scn.base_dir))
    from gti_core.meters import meter_columns

    tables = {"meters": res.meters[meter_columns(res.meters)], **res.tables()}
    lines = ["# Run folder", "",
             "What `aidc-twin run` writes, atomically (a temporary folder renamed into place): "
             "`summary.json`, `scenario.yaml` (the scenario as run, every default filled in), "
             "`report.html`, `manifest.json` (every file's SHA-256 and the inputs', signed with "
             "`AIDC_TWIN_SIGNING_KEY` if set) and the tables below. Generated from a one-day "
             "run of the default scenario at each build of these pages; units follow the "
             "column's name.", ""]
    for name, what in RUN_FILES.items():
        stem = name.removesuffix(".parquet")
        lines += [f"## `{name}`", "", what + ".", ""]
        table = tables.get(stem)
        if table is None:
            lines += ["(Not in a run of the default scenario.)", ""]
            continue
        lines += ["| column | type | unit |", "| --- | --- | --- |"]
        lines += [f"| `{c}` | {table[c].dtype} | "
                  f"{'UTC' if str(table[c].dtype).startswith('datetime') else unit_of(c)} |"
                  for c in table.columns]
        lines.append("")
    lines += ["## `summary.json`", "", "Its top-level blocks in the same run: "
              + ", ".join(f"`{k}`" for k in res.summary) + ".", ""]
    return "\n".join(lines) + "\n"
