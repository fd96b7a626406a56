"""Prompt regression testing: suites of guarded chains, blessed baselines with their replayed model calls,
and a check that fails when a prompt, model or setting change makes the scores drop.

    promptkit eval baseline eval/suites/course.yaml      # record (needs the model once)
    promptkit eval check --cache strict                  # replay and compare (no model)

>>> from promptkit.regression import load_baseline, assert_no_regression   # doctest: +SKIP
"""

from __future__ import annotations

from promptkit.regression.assertions import assert_no_regression
from promptkit.regression.baseline import Baseline, Fingerprint, load_baseline, record_baseline
from promptkit.regression.check import EntryCheck, SuiteCheck, check_entry, check_suite, entries_using_label
from promptkit.regression.gate import Verdict, format_verdict, gate
from promptkit.regression.suite import Suite, SuiteEntry, Tolerances, list_suites, load_suite, parse_suite

__all__ = [
    "Baseline",
    "EntryCheck",
    "Fingerprint",
    "Suite",
    "SuiteCheck",
    "SuiteEntry",
    "Tolerances",
    "Verdict",
    "assert_no_regression",
    "check_entry",
    "check_suite",
    "entries_using_label",
    "format_verdict",
    "gate",
    "list_suites",
    "load_baseline",
    "load_suite",
    "parse_suite",
    "record_baseline",
]
