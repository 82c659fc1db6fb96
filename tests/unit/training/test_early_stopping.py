"""The clutch paper's early-stopping rule (seed 004 §5.1) on scripted validation losses: stop when the relative
decrease against the previous validation is under 0.01 for 5 validations in a row."""

import math

import pytest

from defectlab.training import EarlyStopping


def stop_step(losses: list[float], **rule) -> int | None:
    tracker = EarlyStopping(**rule)
    for step, value in enumerate(losses, start=1):
        tracker.update(value, step)
        if tracker.stopped:
            return tracker.stopped_at
    return None


PAPER = {"patience": 5, "min_delta": 0.01, "relative": True, "reference": "previous"}


def test_the_paper_rule_stops_at_the_fifth_small_relative_decrease_in_a_row():
    # decreases: 10 %, then 0.56 %, 0.11 %, 0.11 %, 0.11 %, 0.11 %: the fifth small one is validation 7
    assert stop_step([1.0, 0.9, 0.895, 0.894, 0.893, 0.892, 0.891, 0.5], **PAPER) == 7


def test_a_large_decrease_resets_the_count():
    # four small decreases, one of 20 %, then five small ones: validation 11
    losses = [1.0, 0.999, 0.998, 0.997, 0.996, 0.8, 0.799, 0.798, 0.797, 0.796, 0.795]
    assert stop_step(losses, **PAPER) == 11
    assert stop_step(losses[:10], **PAPER) is None


def test_a_rise_counts_as_no_decrease_and_the_best_is_still_tracked():
    tracker = EarlyStopping(**PAPER)
    kept = [tracker.update(value, step) for step, value in enumerate([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], 1)]
    assert kept == [True, True, False, False, False, False, False]
    assert tracker.stopped_at == 7 and tracker.best == 0.5 and tracker.best_step == 2


def test_relative_against_the_best_reads_the_rule_the_other_way():
    # previous-reference would stop at 7 here; against the best (1 % of 0.9 = 0.009) no value improves after 2
    losses = [1.0, 0.9, 0.95, 0.92, 0.895, 0.894, 0.893]
    assert stop_step(losses, patience=5, min_delta=0.01, relative=True, reference="best") == 7
    assert stop_step(losses[:6], patience=5, min_delta=0.01, relative=True, reference="best") is None


def test_the_default_rule_keeps_its_fingerprint_and_the_paper_rule_names_itself():
    assert EarlyStopping(patience=3).rule() == {"patience": 3, "min_delta": 0.0}
    assert EarlyStopping(**PAPER).rule() == PAPER
    assert "0.01 of it against the previous evaluation in 5 evaluations" in EarlyStopping(**PAPER).describe()


def test_the_state_round_trips_and_an_unknown_reference_is_refused():
    tracker = EarlyStopping(**PAPER)
    for step, value in enumerate([1.0, 0.999, 0.998], 1):
        tracker.update(value, step)
    restored = EarlyStopping(**PAPER)
    restored.load_state_dict(tracker.state_dict())
    assert restored.state_dict() == tracker.state_dict() and restored.previous == 0.998
    old = {k: v for k, v in tracker.state_dict().items() if k != "previous"}
    restored.load_state_dict(old)
    assert restored.previous == math.inf
    with pytest.raises(ValueError, match="reference must be one of"):
        EarlyStopping(patience=5, reference="last")
