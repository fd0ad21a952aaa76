"""The data contracts pass on good tables and fail, naming the expectation, on broken ones."""

from __future__ import annotations

import pandas as pd
import pytest

from deepfake_detection.data.contracts import ContractViolation, validate_table, validate_with_identities


def test_contracts_pass_on_good_data(small_demo_tables):
    catalog, clips, _, _ = small_demo_tables
    for table, suite in ((catalog, "videos"), (clips, "clips")):
        report = validate_with_identities(table, suite)
        assert report.success, report.summary()


@pytest.mark.parametrize(
    ("break_it", "expectation", "column"),
    [
        (lambda t: t.assign(frames=15), "expect_column_values_to_be_between", "[frames]"),
        (lambda t: t.assign(height=t.height.where(t.index > 0, 112)), "expect_column_values_to_be_between", "[height]"),
        (
            lambda t: t.assign(method=t.method.where(t.index > 0, "Photoshop")),
            "expect_column_values_to_be_in_set",
            "[method]",
        ),
        (
            lambda t: t.assign(box_x1=t.frame_width + 5),
            "expect_column_pair_values_a_to_be_greater_than_b",
            "frame_width vs box_x1",
        ),
        (lambda t: pd.concat([t, t.iloc[:1]]), "expect_column_values_to_be_unique", "[clip_id]"),
        (lambda t: t[t.label == "fake"], "expect_column_mean_to_be_between", "[is_fake]"),
        (lambda t: t.assign(split=t.split.where(t.index > 0, None)), "expect_column_values_to_not_be_null", "[split]"),
    ],
)
def test_broken_clip_tables_fail_naming_the_expectation(small_demo_tables, break_it, expectation, column):
    _, clips, _, _ = small_demo_tables
    result = validate_table(break_it(clips.copy()).reset_index(drop=True), "clips")
    assert not result.success
    assert any(f.startswith(expectation) and column in f for f in result.failures), result.failures


def test_identity_in_two_splits_is_caught(small_demo_tables):
    catalog, _, _, _ = small_demo_tables
    leaked = catalog.copy()
    first_fake = leaked.index[leaked.label == "fake"][0]
    leaked.loc[first_fake, "split"] = "test" if leaked.loc[first_fake, "split"] != "test" else "train"
    report = validate_with_identities(leaked, "videos")
    identity = next(r for r in report.results if r.suite == "identity_splits")
    assert not identity.success
    assert "expect_column_values_to_be_unique [identity]" in identity.failures[0]
    with pytest.raises(ContractViolation, match="no identity in two splits"):
        raise ContractViolation(report)


def test_video_contract_reports_missing_columns_and_unreadable_share(small_demo_tables):
    catalog, _, _, _ = small_demo_tables
    broken = catalog.drop(columns=["fps"]).assign(error="decoder exploded")
    result = validate_table(broken, "videos")
    text = "\n".join(result.failures)
    assert "expect_table_columns_to_match_set" in text
    assert "expect_column_values_to_be_null [error]" in text
    assert "fps" in text
