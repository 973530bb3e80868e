"""The tie rule of every top-k metric (docs/evaluation.md, "Ties"): a correct item is ranked after every other
item with the same score. Checked against naive Python references that sort the items with that rule written
out, on matrices with many exact ties (duplicate captions, scores drawn from a few values)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cyclip_bench import metrics as M
from cyclip_bench.eval.suite import TaskSpec
from cyclip_bench.eval.tasks.base import fraction, fraction_counts
from cyclip_bench.eval.tasks.linear_probe import LinearProbe
from cyclip_bench.eval.tasks.retrieval import Retrieval
from cyclip_bench.eval.tasks.zeroshot import ZeroShot
from cyclip_bench.metrics import ranking
from cyclip_bench.results import MetricInfo


def _key(score: float, correct: bool, index: int) -> tuple:
    """Sort key of the rule: higher score first (a correct NaN counts as −inf, a wrong NaN as +inf); among equal
    scores the wrong items first, then by index."""
    if math.isnan(score):
        score = -math.inf if correct else math.inf
    return (-score, correct, index)


def _first_correct(scores: list[float], correct: list[bool]) -> int:
    """0-based position of the first correct item in the rule's order (len(scores) if none)."""
    order = sorted(range(len(scores)), key=lambda j: _key(scores[j], correct[j], j))
    return next((pos for pos, j in enumerate(order) if correct[j]), len(scores))


def _ref_image_to_text(sim: torch.Tensor, caption_image: list[int], k: int) -> list[bool]:
    rows = sim.tolist()
    return [_first_correct(row, [c == i for c in caption_image]) < k for i, row in enumerate(rows)]


def _ref_text_to_image(sim: torch.Tensor, caption_image: list[int], k: int) -> list[bool]:
    cols = sim.T.tolist()
    return [_first_correct(col, [i == caption_image[c] for i in range(len(col))]) < k for c, col in enumerate(cols)]


def _tied_retrieval(seed: int, images: int = 9, per_image: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Similarities with many exact ties: every caption is a copy of another image's caption half the time
    (duplicate captions give identical columns) and scores come from five values."""
    g = torch.Generator().manual_seed(seed)
    captions = images * per_image
    caption_image = torch.arange(images).repeat_interleave(per_image)
    sim = torch.randint(0, 5, (images, captions), generator=g).float() / 4
    for c in range(captions):
        if torch.rand(1, generator=g) < 0.5:
            sim[:, c] = sim[:, int(torch.randint(0, captions, (1,), generator=g))]
    return sim, caption_image


@pytest.mark.parametrize("seed", range(6))
def test_retrieval_matches_the_naive_rule_with_many_ties(seed):
    sim, caption_image = _tied_retrieval(seed)
    owners = caption_image.tolist()
    for k in (1, 2, 3, 5, 10):
        assert M.image_to_text_hits(sim, caption_image, k).tolist() == _ref_image_to_text(sim, owners, k), k
        assert M.text_to_image_hits(sim, caption_image, k).tolist() == _ref_text_to_image(sim, owners, k), k


def test_duplicate_caption_tie_is_a_miss_in_both_directions():
    # Image 0's caption (column 0) and image 1's caption (column 1) are the same text: identical columns.
    sim = torch.tensor([[0.9, 0.9, 0.1], [0.9, 0.9, 0.2], [0.3, 0.3, 0.8]])
    caption_image = torch.tensor([0, 1, 2])
    # image→text R@1: images 0 and 1 each tie with the other's caption → pessimistic miss; R@2: hit.
    assert M.image_to_text_hits(sim, caption_image, 1).tolist() == [False, False, True]
    assert M.image_to_text_hits(sim, caption_image, 2).tolist() == [True, True, True]
    # text→image R@1: captions 0 and 1 score 0.9 with both images → miss.
    assert M.text_to_image_hits(sim, caption_image, 1).tolist() == [False, False, True]
    assert M.image_to_text_ranks(sim, caption_image).tolist() == [1, 1, 0]
    assert M.text_to_image_ranks(sim, caption_image).tolist() == [1, 1, 0]


def test_retrieval_does_not_depend_on_the_order_of_captions_or_images():
    sim, caption_image = _tied_retrieval(11, images=12, per_image=4)
    g = torch.Generator().manual_seed(5)
    cap_perm, img_perm = torch.randperm(sim.shape[1], generator=g), torch.randperm(sim.shape[0], generator=g)
    inverse_img = torch.argsort(img_perm)
    shuffled = sim[img_perm][:, cap_perm]
    shuffled_owner = inverse_img[caption_image[cap_perm]]
    for k in (1, 5):
        i2t = M.image_to_text_hits(sim, caption_image, k)
        assert M.image_to_text_hits(shuffled, shuffled_owner, k).tolist() == i2t[img_perm].tolist()
        t2i = M.text_to_image_hits(sim, caption_image, k)
        assert M.text_to_image_hits(shuffled, shuffled_owner, k).tolist() == t2i[cap_perm].tolist()


def test_own_captions_tied_with_each_other_are_not_competitors():
    # image 0 has three captions at 0.5; one wrong caption at 0.5: the first correct comes second.
    sim = torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.1], [0.0, 0.0, 0.0, 0.2, 0.9]])
    caption_image = torch.tensor([0, 0, 0, 1, 1])
    assert M.image_to_text_ranks(sim, caption_image).tolist() == [1, 0]


def test_nan_never_helps_and_images_without_captions_never_hit():
    nan = float("nan")
    sim = torch.tensor([[nan, 0.1, 0.2], [0.5, nan, 0.4], [0.1, 0.2, 0.3]])
    caption_image = torch.tensor([0, 1, 1])  # image 2 has no caption
    owners = caption_image.tolist()
    for k in (1, 2, 3, 4):
        assert M.image_to_text_hits(sim, caption_image, k).tolist() == _ref_image_to_text(sim, owners, min(k, 3))
        assert M.text_to_image_hits(sim, caption_image, k).tolist() == _ref_text_to_image(sim, owners, k)
    assert not M.image_to_text_hits(sim, caption_image, 10)[2]


def test_blocked_counts_equal_one_block(monkeypatch):
    sim, caption_image = _tied_retrieval(3, images=20, per_image=5)
    whole = (M.image_to_text_ranks(sim, caption_image), M.text_to_image_ranks(sim, caption_image))
    monkeypatch.setattr(ranking, "BLOCK_ELEMENTS", 7)  # blocks of one row
    assert M.image_to_text_ranks(sim, caption_image).tolist() == whole[0].tolist()
    assert M.text_to_image_ranks(sim, caption_image).tolist() == whole[1].tolist()


# --- zero-shot top-k, predictions, fine / coarse --------------------


def _tied_logits(seed: int, n: int = 60, classes: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 3, (n, classes), generator=g).float(), torch.randint(0, classes, (n,), generator=g)


@pytest.mark.parametrize("seed", range(4))
def test_topk_and_prediction_match_the_naive_rule_with_many_ties(seed):
    logits, labels = _tied_logits(seed)
    pairs = list(zip(logits.tolist(), labels.tolist(), strict=True))
    for k in (1, 2, 3, 5, 9):
        ref = [_first_correct(row, [c == y for c in range(len(row))]) < min(k, 7) for row, y in pairs]
        assert M.topk_correct(logits, labels, k).tolist() == ref, k
    # The prediction is the first item of the same order: the label only when it is strictly best.
    ref_pred = [min(range(7), key=lambda c, row=row, y=y: _key(row[c], c == y, c)) for row, y in pairs]
    predictions = M.predictions_against(logits, labels)
    assert predictions.tolist() == ref_pred
    assert (predictions == labels).tolist() == M.topk_correct(logits, labels, 1).tolist()


def test_prediction_hand_values():
    logits = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 1.0, 0.0], [0.0, 1.0, 5.0, 5.0], [4.0, 1.0, 1.0, 1.0]])
    labels = torch.tensor([2, 3, 1, 0])
    # row 0: label 2 ties with 1 → 1; row 1: tie 0/1 without the label → 0 (lowest index);
    # row 2: ties 2/3 without the label → 2; row 3: label strictly best → 0.
    assert M.predictions_against(logits, labels).tolist() == [1, 0, 2, 0]
    assert M.topk_correct(logits, labels, 1).tolist() == [False, False, False, True]
    assert M.topk_correct(logits, labels, 2).tolist() == [True, False, False, True]


def test_prediction_when_every_other_class_is_minus_inf():
    inf = float("inf")
    logits = torch.tensor([[-inf, -inf, -inf], [-inf, -inf, -inf], [float("nan"), -inf, -inf]])
    labels = torch.tensor([0, 1, 0])
    assert M.predictions_against(logits, labels).tolist() == [1, 0, 1]
    assert not M.topk_correct(logits, labels, 1).any()


def test_fine_and_coarse_ties_are_pessimistic():
    supers = {"a": [0, 1, 2], "b": [3, 4]}
    logits = torch.tensor([[2.0, 2.0, 0.0, 9.0, 0.0], [1.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 3.0]])
    labels = torch.tensor([1, 0, 4])
    # row 0: label 1 ties with 0 inside "a" → miss (class 3 is outside the superclass and does not count);
    # row 1: fine hit (0 beats 1 and 2); coarse: "a" and "b" both score 1.0 → miss; row 2: both hit.
    assert M.fine_correct(logits, labels, supers).tolist() == [False, True, True]
    assert M.coarse_correct(logits, labels, supers).tolist() == [False, False, True]


# --- kNN at the cut-off --------------------


def test_knn_takes_the_lowest_indices_among_references_tied_at_the_cutoff():
    # Six identical references tie for the nearest place; k = 2 must take indices 0 and 1 (labels 3, 3),
    # whatever torch.topk picks among equal values.
    ref = torch.tensor([[1.0, 0.0]] * 6 + [[0.0, 1.0]])
    labels = torch.tensor([3, 3, 0, 0, 0, 0, 1])
    q = torch.tensor([[1.0, 0.0]])
    assert M.knn_majority_labels(q, ref, labels, 1).tolist() == [3]
    assert M.knn_majority_labels(q, ref, labels, 2).tolist() == [3]
    assert M.knn_majority_labels(q, ref, labels, 4).tolist() == [3]  # 3,3,0,0: tie → k=3 → 3
    assert M.knn_majority_labels(q, ref, labels, 5).tolist() == [0]


def test_knn_with_duplicated_references_matches_a_stable_sort():
    g = torch.Generator().manual_seed(7)
    base = torch.cat([torch.eye(4), -torch.eye(4)]).double()  # unit vectors: cosines exactly −1, 0 or 1
    train = base[torch.randint(0, 8, (120,), generator=g)]  # ~15 exact copies of each row
    labels = torch.randint(0, 4, (120,), generator=g)
    test = base[torch.randint(0, 8, (30,), generator=g)]
    for k in (1, 3, 5, 10, 20):
        expected = []
        for q in test:
            sims = (train @ q).numpy()
            order = np.lexsort((np.arange(len(sims)), -sims))  # similarity, then index
            for kk in range(k, 0, -1):
                votes = np.bincount(labels.numpy()[order[:kk]], minlength=4)
                if (votes == votes.max()).sum() == 1:
                    expected.append(int(votes.argmax()))
                    break
        assert M.knn_majority_labels(test, train, labels, k).tolist() == expected, k


# --- stored fractions and counts --------------------


def test_fractions_are_exact_float64_with_counts():
    hits = torch.tensor([True] * 338 + [False] * 22)
    assert fraction(hits) == 338 / 360 == 0.9388888888888889
    assert float(hits.float().mean()) != 338 / 360  # what a float32 mean stored before
    float32_mean = float(hits.float().mean())
    metrics, counts = fraction_counts(
        {"top1": float32_mean, "gap": 0.25},
        {"top1": MetricInfo(True, "fraction", "top1"), "gap": MetricInfo(False, "cosine")},
        {"top1": [int(h) for h in hits]},
    )
    assert metrics == {"top1": 0.9388888888888889, "gap": 0.25}
    assert counts == {"top1": {"hits": 338, "n": 360}}


def test_a_metric_that_disagrees_with_its_own_array_is_a_bug():
    with pytest.raises(ValueError, match="1/2 hits"):
        fraction_counts({"top1": 0.9}, {"top1": MetricInfo(True, "fraction", "top1")}, {"top1": [1, 0]})


# --- the tasks use the rule and store exact fractions --------------------


def _labelled(labels: list[int], classes: int = 4) -> SimpleNamespace:
    return SimpleNamespace(
        labels=labels, metadata=SimpleNamespace(classes=[f"c{i}" for i in range(classes)]), fingerprint=lambda: "f"
    )


def test_zeroshot_and_linear_probe_tasks_count_all_tied_classes_as_misses():
    """Zero image features: every class scores the same for every image, so no example is a top-1 hit (argmax
    alone made every label-0 example a hit) and each prediction is the lowest class other than the label."""
    labels = [0, 1, 2, 3, 0, 0]
    dataset = _labelled(labels)
    ctx = SimpleNamespace(
        labelled=lambda ref, split: dataset,
        zeroshot_head=lambda meta, label: torch.nn.functional.normalize(torch.randn(4, 3), dim=-1),
        image_features=lambda ref, split: torch.zeros(len(labels), 3),
        labels=lambda ref, split: torch.tensor(labels),
        cached_result=lambda fit, **key: {
            "C": 1.0,
            "history": [],
            "w": torch.zeros(3, 4).double(),
            "b": torch.zeros(4).double(),
        },
    )
    expected_predictions = [1, 0, 0, 0, 1, 1]
    zs = ZeroShot(TaskSpec("z", "zeroshot", "d", options={"topk": [1, 2, 4]})).run(ctx).to_json()
    assert zs["per_example"]["top1"] == [0] * 6 and zs["per_example"]["top2"] == [0] * 6
    assert zs["per_example"]["prediction"] == expected_predictions
    assert zs["metrics"]["top1"] == 0.0 and zs["metrics"]["mean_per_class_recall"] == 0.0
    assert zs["metrics"]["top4"] == 1.0 and zs["counts"]["top4"] == {"hits": 6, "n": 6}
    probe = LinearProbe(TaskSpec("p", "linear_probe", "d")).run(ctx).to_json()
    assert probe["per_example"]["prediction"] == expected_predictions
    assert probe["metrics"]["top1"] == 0.0 and probe["counts"]["top1"] == {"hits": 0, "n": 6}


def test_retrieval_task_with_duplicate_captions_stores_exact_fractions_and_counts():
    # Image 0 and image 1 have the same caption text (identical embeddings); image 2's caption is its own.
    images = torch.tensor([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.2, 0.0], [1.0, 0.2, 0.0], [0.0, 0.1, 1.0]])
    feats = SimpleNamespace(
        images=images, texts=texts, caption_image=torch.tensor([0, 1, 2]), captions=["red", "red", "blue"]
    )
    ctx = SimpleNamespace(retrieval_features=lambda ref: feats)
    out = Retrieval(TaskSpec("r", "retrieval", "d", options={"recall_at": [1, 2]})).run(ctx).to_json()
    assert out["per_example"]["image_to_text_R@1"] == [0, 0, 1]  # each of A, B ties with the other's caption
    assert out["per_example"]["text_to_image_R@1"] == [0, 1, 1]  # "red" is closer to image 1 than image 0
    assert out["metrics"]["image_to_text_R@1"] == 1 / 3 and out["counts"]["image_to_text_R@1"] == {"hits": 1, "n": 3}
    assert out["metrics"]["image_to_text_R@2"] == 1.0
