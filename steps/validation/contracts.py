"""Validation steps: run the Great Expectations contracts and stop the pipeline when one fails.

Validation and enforcement are separate steps so the report is stored as an artifact even when the
gate then stops the run.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.logger import get_logger

from deepfake_detection.data.contracts import ContractReport, ContractViolation, validate_with_identities

logger = get_logger(__name__)


@step
def validate_table(table: pd.DataFrame, suite: str) -> Annotated[ContractReport, "contract_report"]:
    """Validate `table` against `deepfake_detection/data/suites/<suite>.json` and the identity-disjointness contract."""
    report = validate_with_identities(table, suite)
    logger.info(report.summary())
    log_metadata({r.suite: {"success": r.success, "failures": r.failures} for r in report.results})
    return report


@step
def enforce_contract(contract_report: ContractReport) -> Annotated[bool, "contract_passed"]:
    """Fail the run, listing every failed expectation, unless all contracts passed."""
    if not contract_report.success:
        raise ContractViolation(contract_report)
    return True
