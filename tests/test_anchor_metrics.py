"""The anchors' metrics (cyclip_bench/metrics/multilabel.py, fairness.py, association.py) against hand-computed
values, naive exact references written here (Fractions, loops over a sorted list) and scikit-learn where it
defines the metric the anchors call."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
import torch

from cyclip_bench import metrics as M

# --- naive references ------------------------------------------------------------------------------------------


def _pessimistic_ranking(scores: list[float], positive: list[bool]) -> list[bool]:
    """Positives in ranked order: score descending, negatives first among equals; NaN: positive −inf, negative +inf."""

    def key(i: int) -> tuple[float, int]:
        s = scores[i]
        if math.isnan(s):
            s = -math.inf if positive[i] else math.inf
        return (-s, int(positive[i]))

    return [positive[i] for i in sorted(range(len(scores)), key=key)]


def _ref_ap(scores: list[float], positive: list[bool]) -> Fraction:
    hits = _pessimistic_ranking(scores, positive)
    total = sum(hits)
    if not total:
        return Fraction(0)
    tp, out = 0, Fraction(0)
    for rank, hit in enumerate(hits, start=1):
        if hit:
            tp += 1
            out += Fraction(tp, rank)
    return out / total


def _ref_ap11(scores: list[float], positive: list[bool]) -> Fraction | None:
    hits = _pessimistic_ranking(scores, positive)
    total = sum(hits)
    if not total:
        return None
    points, tp = [], 0
    for rank, hit in enumerate(hits, start=1):
        tp += hit
        points.append((Fraction(tp, total), Fraction(tp, rank)))
    levels = [Fraction(i, 10) for i in range(11)]
    return sum((max((p for r, p in points if r >= t), default=Fraction(0)) for t in levels), Fraction(0)) / 11


def _columns(scores: torch.Tensor, targets: torch.Tensor, c: int) -> tuple[list[float], list[bool]]:
    return scores[:, c].double().tolist(), [bool(x) for x in targets[:, c].tolist()]


# --- average precision ---------------------------------------------------------------------------------------------


def test_ap_hand_values():
    scores = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
    targets = torch.tensor([[1], [0], [1], [0]])
    # ranked P N P N: precision 1/1 and 2/3 at the positives
    assert M.average_precision(scores, targets).tolist() == [pytest.approx(5 / 6, abs=1e-15)]
    # 11-point: recall 0.5 at precision 1 (levels 0..0.5: 6 of them), recall 1 at 2/3 (levels 0.6..1: 5)
    assert M.ap_11point(scores, targets).tolist() == [pytest.approx(28 / 33, abs=1e-15)]


def test_ap_ties_are_pessimistic_and_order_free():
    # one positive tied with one negative: the negative ranks first
    for order in ([0, 1], [1, 0]):
        scores = torch.tensor([[0.5], [0.5]])[order]
        targets = torch.tensor([[1], [0]])[order]
        assert M.average_precision(scores, targets).item() == 0.5
        assert M.ap_11point(scores, targets).item() == 0.5
    # a positive's NaN never helps, a negative's NaN ranks above everything
    scores = torch.tensor([[float("nan")], [0.1], [float("nan")]])
    targets = torch.tensor([[1], [0], [0]])
    assert M.average_precision(scores, targets).item() == pytest.approx(1 / 3)


def test_ap_class_without_positives():
    scores = torch.tensor([[0.2, 0.1], [0.3, 0.4]])
    targets = torch.tensor([[1, 0], [0, 0]])
    assert M.average_precision(scores, targets).tolist()[1] == 0.0  # CLIP_benchmark counts it as 0
    assert math.isnan(M.ap_11point(scores, targets).tolist()[1])
    found = M.zeroshot_multilabel_metrics(scores, targets)
    assert found["map_11point"] == M.ap_11point(scores, targets)[0].item()  # the mean skips the NaN class
    assert found["mean_average_precision"] == pytest.approx((0.5 + 0.0) / 2)


@pytest.mark.parametrize("seed", range(6))
def test_ap_matches_exact_reference_on_tied_random_scores(seed):
    gen = torch.Generator().manual_seed(seed)
    n, c = 37, 5
    scores = torch.randint(0, 6, (n, c), generator=gen).double() / 5  # few distinct values: many ties
    targets = (torch.rand(n, c, generator=gen) < 0.3).long()
    targets[0, :] = 1  # every class has a positive
    scores[3, 2] = float("nan")
    ap, ap11 = M.average_precision(scores, targets), M.ap_11point(scores, targets)
    for k in range(c):
        s, t = _columns(scores, targets, k)
        assert ap[k].item() == pytest.approx(float(_ref_ap(s, t)), abs=1e-12)
        assert ap11[k].item() == pytest.approx(float(_ref_ap11(s, t)), abs=1e-12)
        perm = torch.randperm(n, generator=gen)
        assert M.ap_11point(scores[perm], targets[perm])[k].item() == ap11[k].item()


def test_ap_equals_scikit_learn_without_ties():
    sklearn = pytest.importorskip("sklearn.metrics")
    gen = torch.Generator().manual_seed(3)
    scores = torch.rand(60, 4, generator=gen, dtype=torch.float64)
    targets = (torch.rand(60, 4, generator=gen) < 0.4).long()
    targets[0] = 1
    for k in range(4):
        expected = sklearn.average_precision_score(targets[:, k].numpy(), scores[:, k].numpy())
        assert M.average_precision(scores, targets)[k].item() == pytest.approx(expected, abs=1e-12)


def test_recall_levels_are_compared_exactly():
    # 10 positives, first 3 at the top: recall exactly 0.3 reaches level 0.3 (10·3 >= 3·10), although
    # 0.1 * 3 > 0.3 in floating point
    positive = [True] * 3 + [False] * 5 + [True] * 7
    scores = torch.tensor([[float(len(positive) - i)] for i in range(len(positive))])
    targets = torch.tensor([[int(p)] for p in positive])
    assert M.ap_11point(scores, targets).item() == pytest.approx(float(_ref_ap11(scores[:, 0].tolist(), positive)))
    assert _ref_ap11(scores[:, 0].tolist(), positive) > Fraction(4, 11)  # levels 0..0.3 all at precision 1


def test_multilabel_shape_errors():
    with pytest.raises(ValueError, match="one shape"):
        M.ap_11point(torch.zeros(3, 2), torch.zeros(3, 3))


# --- mean per-class recall (balanced accuracy) ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_mean_per_class_recall_matches_balanced_accuracy():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = random.Random(0)
    labels = torch.tensor([rng.randrange(7) for _ in range(200)])
    predictions = torch.tensor([rng.randrange(9) for _ in range(200)])  # some predicted classes never labelled
    expected = sklearn.balanced_accuracy_score(labels.numpy(), predictions.numpy())
    assert M.mean_per_class_recall(predictions, labels) == pytest.approx(expected, abs=1e-12)
    # by hand: class 0 recall 1/2, class 1 recall 1/1
    assert M.mean_per_class_recall(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1])) == pytest.approx(0.75)


# --- worst-group accuracy, macro-F1 ---------------------------------------------------------------------------------


def test_worst_group_accuracy_hand_values():
    correct = torch.tensor([1, 1, 0, 1, 0, 0, 1])
    groups = torch.tensor([0, 0, 0, 2, 2, -1, -1])  # group 1 has no example; -1 is left out
    assert M.group_accuracies(correct, groups) == {0: 2 / 3, 2: 1 / 2}
    assert M.worst_group_accuracy(correct, groups) == 0.5
    assert math.isnan(M.worst_group_accuracy(correct, torch.full((7,), -1)))


def test_worst_group_accuracy_matches_a_loop():
    rng = random.Random(1)
    correct = [rng.random() < 0.6 for _ in range(300)]
    groups = [rng.randrange(-1, 6) for _ in range(300)]
    by_group: dict[int, list[bool]] = {}
    for c, g in zip(correct, groups, strict=True):
        if g >= 0:
            by_group.setdefault(g, []).append(c)
    expected = min(Fraction(sum(v), len(v)) for v in by_group.values())
    assert M.worst_group_accuracy(torch.tensor(correct), torch.tensor(groups)) == float(expected)


def test_macro_f1_hand_value_and_scikit_learn():
    labels = torch.tensor([0, 0, 1, 1, 2])
    predictions = torch.tensor([0, 1, 1, 1, 3])  # class 3 is predicted but never a label
    # class 0: tp 1, fp 0, fn 1 → 2/3; class 1: tp 2, fp 1, fn 0 → 4/5; class 2: tp 0, fn 1 → 0
    assert M.macro_f1(predictions, labels) == pytest.approx((2 / 3 + 4 / 5 + 0) / 3)
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = random.Random(2)
    y = torch.tensor([rng.randrange(12) for _ in range(400)])
    p = torch.tensor([rng.randrange(15) for _ in range(400)])
    expected = sklearn.f1_score(y.numpy(), p.numpy(), average="macro", labels=sorted(set(y.tolist())))
    assert M.macro_f1(p, y) == pytest.approx(expected, abs=1e-12)


# --- WinoGAViL Jaccard ------------------------------------------------------------------------------------------------


def test_jaccard_hand_values():
    assert M.jaccard_index(torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 1, 0])) == pytest.approx(1 / 3)
    assert M.jaccard_index(torch.tensor([0, 0]), torch.tensor([0, 0])) == 0.0
    # 2 associations; the picks are the top 2: candidates 1 and 3 → one right of the union of three
    scores = torch.tensor([0.1, 0.9, 0.3, 0.8, 0.2])
    truth = torch.tensor([0, 1, 1, 0, 0])
    assert M.top_k_pick(scores, truth, 2).tolist() == [False, True, False, True, False]
    assert M.association_jaccard(scores, truth) == pytest.approx(1 / 3)


def test_jaccard_pick_ties_are_pessimistic():
    # the 2nd place is a tie between a true candidate (2) and a wrong one (3): the wrong one is picked
    scores = torch.tensor([0.9, 0.1, 0.5, 0.5])
    truth = torch.tensor([1, 0, 1, 0])
    assert M.top_k_pick(scores, truth, 2).tolist() == [True, False, False, True]
    assert M.association_jaccard(scores, truth) == pytest.approx(1 / 3)
    assert M.association_jaccard(scores.flip(0), truth.flip(0)) == pytest.approx(1 / 3)


def test_jaccard_matches_scikit_learn_without_ties():
    sklearn = pytest.importorskip("sklearn.metrics")
    gen = torch.Generator().manual_seed(4)
    for _ in range(20):
        scores = torch.rand(12, generator=gen, dtype=torch.float64)
        truth = torch.zeros(12, dtype=torch.bool)
        truth[torch.randperm(12, generator=gen)[: int(torch.randint(1, 6, (1,), generator=gen))]] = True
        pick = torch.zeros(12, dtype=torch.bool)
        pick[scores.argsort()[-int(truth.sum()) :]] = True  # the anchor's pick: the last k of an argsort
        assert M.association_jaccard(scores, truth) == pytest.approx(
            sklearn.jaccard_score(truth.numpy(), pick.numpy()), abs=1e-12
        )
