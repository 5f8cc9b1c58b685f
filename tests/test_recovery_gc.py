"""The sweep's garbage-collector relief: thresholds raised while sweeps run, then restored."""

from __future__ import annotations

import gc

from afw.recovery import _GC_FULL_EVERY, _GcRelief


def test_thresholds_restored_after_nested_sweeps() -> None:
    before = gc.get_threshold()
    relief = _GcRelief()
    try:
        with relief.during_sweep():
            raised = gc.get_threshold()
            assert raised[:2] == before[:2]
            assert raised[2] == max(before[2], _GC_FULL_EVERY)
            with relief.during_sweep():
                assert gc.get_threshold() == raised
            assert gc.get_threshold() == raised  # another sweep still runs
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*before)


def test_thresholds_restored_after_an_error() -> None:
    before = gc.get_threshold()
    relief = _GcRelief()
    try:
        with relief.during_sweep():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    finally:
        assert gc.get_threshold() == before
        gc.set_threshold(*before)
