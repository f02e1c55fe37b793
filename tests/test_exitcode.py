"""The exit code from findings and --fail-on (synthetic findings, made by hand)."""

import pytest

from lrdoctor.exitcode import CLEAN, FINDINGS, INPUT_ERROR, FailOn, exit_code
from lrdoctor.model import Finding, Severity


def finding(severity: Severity) -> Finding:
    return Finding(code="LRD001", rule="kl-exceeded", severity=severity, message="synthetic")


@pytest.mark.parametrize(
    ("severities", "fail_on", "expected"),
    [
        ((), FailOn.error, CLEAN),
        ((), FailOn.warning, CLEAN),
        ((Severity.info,), FailOn.warning, CLEAN),
        ((Severity.warning,), FailOn.error, CLEAN),
        ((Severity.warning,), FailOn.warning, FINDINGS),
        ((Severity.info, Severity.error), FailOn.error, FINDINGS),
        ((Severity.error,), FailOn.warning, FINDINGS),
        ((Severity.error,), FailOn.never, CLEAN),
    ],
)
def test_fails_at_or_above_the_level(severities, fail_on, expected):
    assert exit_code([finding(s) for s in severities], fail_on) == expected


def test_accepts_the_level_as_text_or_severity():
    findings = [finding(Severity.warning)]
    assert exit_code(findings, "warning") == FINDINGS
    assert exit_code(findings, Severity.error) == CLEAN


def test_the_codes_are_the_documented_numbers():
    assert (CLEAN, FINDINGS, INPUT_ERROR) == (0, 1, 2)


def test_unknown_level_is_rejected():
    with pytest.raises(ValueError):
        exit_code([], "info")
