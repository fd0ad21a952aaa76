"""Data contracts: the Great Expectations suites in `data/suites/` (shipped with the package), run on pandas tables.

Suites are plain JSON files (reviewable in a pull request, no GX project folder needed); this module
turns them into GX suites, validates a table in an ephemeral GX context, and explains each failure in
one line that names the expectation, the column and example offending values.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

DEFAULT_CONTRACTS_DIR = Path(__file__).resolve().parent / "suites"  # shipped with the package
# Imported after ZenML, Great Expectations logs ~200 debug lines at import; it must be quiet before that.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


class ContractResult(BaseModel):
    """The outcome of one suite on one table: what failed, in words, and GX's full result."""

    suite: str
    success: bool
    evaluated: int
    failures: list[str]
    rows: int
    gx_result: dict

    def summary(self) -> str:
        passed = self.evaluated - len(self.failures)
        head = f"contract '{self.suite}' on {self.rows} rows: {passed}/{self.evaluated} passed"
        return "\n".join([head, *(f"  FAILED {f}" for f in self.failures)])


class ContractReport(BaseModel):
    """The results of the suites one pipeline stage ran: the validation report artifact."""

    results: list[ContractResult]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    def summary(self) -> str:
        return "\n".join(r.summary() for r in self.results)


class ContractViolation(Exception):
    """Raised to stop a pipeline; the message lists every failed expectation."""

    def __init__(self, report: ContractReport) -> None:
        self.report = report
        super().__init__("data contract failed:\n" + "\n".join(r.summary() for r in report.results if not r.success))


def load_suite(name: str, contracts_dir: str | Path | None = None) -> dict:
    path = Path(contracts_dir or DEFAULT_CONTRACTS_DIR) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no data contract {path}")
    return json.loads(path.read_text())


@lru_cache(maxsize=1)
def _gx_context():
    import great_expectations as gx

    # again here: the orchestrator may have reset levels since import ("Created temporary directory ..." lines)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def validate_table(table: pd.DataFrame, suite_name: str, contracts_dir: str | Path | None = None) -> ContractResult:
    """Run one suite on `table`; never raises for failed expectations, only reports them."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = load_suite(suite_name, contracts_dir)
    suite = gx.ExpectationSuite(name=spec["name"], meta=spec.get("meta", {}))
    for conf in spec["expectations"]:
        suite.add_expectation_configuration(ExpectationConfiguration(**conf))
    context = _gx_context()
    source_name = f"contract_{suite_name}"
    try:
        source = context.data_sources.get(source_name)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(source_name)
    asset = source.add_dataframe_asset(f"table_{len(source.assets)}")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": table})
    result = batch.validate(suite, result_format="SUMMARY")
    failures = [_explain(r) for r in result.results if not r.success]
    return ContractResult(
        suite=suite_name,
        success=bool(result.success),
        evaluated=len(result.results),
        failures=failures,
        rows=len(table),
        gx_result=json.loads(json.dumps(result.to_json_dict(), default=str)),
    )


def _explain(r) -> str:
    conf = r.expectation_config
    kwargs = {k: v for k, v in conf.kwargs.items() if k not in ("batch_id", "result_format")}
    target = (
        kwargs.get("column")
        or kwargs.get("column_list")
        or (f"{kwargs['column_A']} vs {kwargs['column_B']}" if "column_A" in kwargs else "table")
    )
    why = (conf.meta or {}).get("why", "")
    res = r.result or {}
    if "unexpected_count" in res:
        detail = f"{res['unexpected_count']} unexpected, e.g. {res.get('partial_unexpected_list', [])[:5]}"
    else:
        detail = f"observed {res.get('observed_value')}"
    # GX reports an exception either flat or per metric; the first raised one explains the failure
    info = r.exception_info or {}
    for entry in (info, *info.values()):
        if isinstance(entry, dict) and entry.get("raised_exception"):
            detail = entry.get("exception_message")
            break
    bounds = {k: v for k, v in kwargs.items() if k not in ("column", "column_list", "column_A", "column_B")}
    return f"{conf.type} [{target}] {bounds}: {detail}" + (f" ({why})" if why else "")


def identity_split_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (identity, split) among targets and sources; actors are prefixed to keep namespaces apart."""
    parts = []
    for col in ("target_id", "source_id"):
        part = table[["subset", col, "split"]].dropna().rename(columns={col: "identity"})
        parts.append(part)
    ids = pd.concat(parts, ignore_index=True)
    ids["identity"] = ids["subset"].astype(str) + ":" + ids["identity"].astype(str)
    return ids[["identity", "split"]].drop_duplicates().reset_index(drop=True)


def validate_with_identities(
    table: pd.DataFrame, suite_name: str, contracts_dir: str | Path | None = None
) -> ContractReport:
    """The table's own suite plus the identity-disjointness suite on its derived identity table."""
    return ContractReport(
        results=[
            validate_table(table, suite_name, contracts_dir),
            validate_table(identity_split_table(table), "identity_splits", contracts_dir),
        ]
    )
