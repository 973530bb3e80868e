"""The pre-registered analysis (reports/preregistration_analysis.py): Holm's step-down, the planned power, and
the paired one-sided tests on values with a known answer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "reports" / "preregistration_analysis.py"


@pytest.fixture(scope="module")
def analysis():
    spec = importlib.util.spec_from_file_location("preregistration_analysis", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _test(analysis, p: float):
    nan = float("nan")
    return analysis.Test("cyclip", "t", "m", 2.0, 20, 0.0, 1.0, nan, (nan, nan), 0, p, nan)


def test_holm_is_the_monotone_step_down_by_hand(analysis):
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06
    tests = analysis._holm([_test(analysis, p) for p in (0.01, 0.04, 0.03, 0.005)])
    assert [round(t.p_holm, 10) for t in tests] == [0.03, 0.06, 0.06, 0.02]
    assert analysis._holm([_test(analysis, 0.6), _test(analysis, 0.7)])[0].p_holm == 1.0  # 1.2, capped at 1


def test_the_planned_seed_counts_reach_80_percent_power_and_one_fewer_does_not(analysis):
    # the pre-registration's table: sd 2.52 pp, effect 2.0 pp, one-sided at 0.05 / 4 → 18 seeds
    assert analysis._power(2.0, 2.52, 18, 0.0125) >= 0.80 > analysis._power(2.0, 2.52, 17, 0.0125)
    assert analysis._power(4.2, 1.81, 5, 0.0125) >= 0.80 > analysis._power(4.2, 1.81, 4, 0.0125)


def test_confirmatory_tests_pair_by_seed_and_are_one_sided(analysis):
    rng = np.random.default_rng(0)
    seeds = range(100, 120)
    base = {s: 0.5 + 0.05 * rng.standard_normal() for s in seeds}  # a seed spread far above the differences
    jitter = {s: 0.001 * rng.standard_normal() for s in seeds}
    values = {
        "clip": {
            s: {("shapes-zeroshot", "top1"): base[s], ("shapes-consistency", "consistency@1"): base[s]} for s in seeds
        },
        "cyclip": {  # +3 pp on zero-shot in every seed, −1 pp on consistency@1
            s: {
                ("shapes-zeroshot", "top1"): base[s] + 0.03 + jitter[s],
                ("shapes-consistency", "consistency@1"): base[s] - 0.01 + jitter[s],
            }
            for s in seeds
        },
        "i-cyclip": {  # +3 or −3 pp alternately: mean 0
            s: {
                ("shapes-zeroshot", "top1"): base[s] + (0.03 if s % 2 else -0.03),
                ("shapes-consistency", "consistency@1"): base[s] + jitter[s],
            }
            for s in seeds
        },
    }
    cy_zs, cy_c1, i_zs, _ = analysis.confirmatory(values)
    assert cy_zs.mean == pytest.approx(3.0, abs=0.1) and cy_zs.wins == 20 and cy_zs.p_holm < 1e-6  # paired: sd of d ~ 0
    assert analysis._verdict(cy_zs) == "**supported**"
    assert cy_c1.mean == pytest.approx(-1.0, abs=0.1) and cy_c1.p > 0.99 and cy_c1.wins == 0  # one-sided: the wrong way
    assert analysis._verdict(cy_c1).startswith("not supported (CI's upper end below")
    assert i_zs.mean == pytest.approx(0.0, abs=1e-9) and i_zs.wins == 10 and i_zs.p == pytest.approx(0.5)
    assert i_zs.ci[0] < 0 < i_zs.ci[1]
