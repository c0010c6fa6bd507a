"""Tests for tfjoint._shapes.report: the report `check` returns, its invariants and its renderings."""

import pytest

from tfjoint._shapes import check as _check
from tfjoint._shapes import report as _shape_report


def _checks(failing=()):
    return tuple(
        _shape_report.Check(name, "fail" if name in failing else "pass", "detail") for name in _shape_report.CHECKS
    )


def _report(checks, findings=()):
    row = _shape_report.NodeShapes("m", "Normal", (), False, (), (), (), (), (5, 3), None)
    return _shape_report.ShapeReport("JointDistributionSequential", (5, 3), (), (row,), checks, tuple(findings))


def test_report__renders_text_markdown_html(naive):
    report = _check.check(naive, seed=0)
    text = str(report)
    assert "Node: 'Y'" in text and "batch_shape" in text and "FAIL" in text
    md = report.to_markdown()
    assert md.startswith("### Shape report") and "| node |" in md
    html = report._repr_html_()
    assert "<table>" in html and "Incompatible shapes" in html


def test_report__ok_only_when_every_check_passes():
    finding = _shape_report.Finding("m", "batched_log_prob", "log_prob shape [5, 3, 7]", "wrap 'm' in tfd.Independent.")
    assert _report(_checks()).ok
    failed = _report(_checks(failing=("batched_log_prob",)), [finding])
    assert not failed.ok
    assert failed.check("batched_log_prob").status == "fail"
    assert failed.findings_for("batched_log_prob") == (finding,) and failed.findings_for("sample") == ()
    assert "1 finding(s)" in str(failed)


def test_report__node_table_marks_unevaluated_shapes():
    text = str(_report(_checks()))
    assert "[5, 3]" in text  # the value at sample_shape
    assert _shape_report.shape_cell(None) == "-" and _shape_report.shape_cell((2, 3)) == "[2, 3]"


def test_report__checks_must_list_every_check_in_order():
    with pytest.raises(ValueError, match="every check once, in order"):
        _report(_checks()[::-1])
    with pytest.raises(ValueError, match="unknown check"):
        _shape_report.Check("no_such_check", "pass", "")


def test_finding__text_names_node_fix_and_whether_the_fix_was_verified():
    with pytest.raises(ValueError, match="Finding.check must be one of"):
        _shape_report.Finding("m", "no_such_check", "", "")
    text = str(_shape_report.Finding("Y", "batched_sample", "value [7]", "write m[..., tf.newaxis]\nor go AutoBatched", verified=False))
    assert text.splitlines() == [
        "[batched_sample] Node: 'Y'",
        "  value [7]",
        "  Fix: write m[..., tf.newaxis]",
        "       or go AutoBatched",
        "  Fix verified: NO, the check still fails after it.",
    ]


def test_finding__label_names_a_node_that_has_only_a_placeholder_name():
    plain = _shape_report.Finding("Y", "sample", "evidence", "fix")
    assert "[sample] Node: 'Y'" in str(plain)
    labelled = _shape_report.Finding("x", "sample", "evidence", "fix", label="node 3 of 3 ('x', TFP's placeholder name)")
    assert "[sample] Node: node 3 of 3 ('x', TFP's placeholder name)" in str(labelled)
    assert labelled.node == "x"  # the node's identity stays the spec's name
