"""Metric functions against hand-computed values and naive (loop) references written here."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from cyclip_bench import metrics as M


def _unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- classification --------------------


def test_class_embeddings_is_renormalised_mean_of_normalised_templates():
    t = torch.tensor([[[3.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [2.0, 2.0]]])
    out = M.class_embeddings(t)
    s = 1 / math.sqrt(2)
    assert torch.allclose(out[0], torch.tensor([s, s]))  # mean of (1,0),(0,1) renormalised
    assert torch.allclose(out[1], torch.tensor([s, s]))


def test_topk_hand_values_and_k_capped_at_class_count():
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.04, 0.06], [0.2, 0.3, 0.5]])
    labels = torch.tensor([2, 1, 2])
    assert M.topk_correct(logits, labels, 1).tolist() == [False, False, True]
    assert M.topk_correct(logits, labels, 2).tolist() == [True, False, True]
    # k = 5 with 3 classes: capped, every label is in the "top 3"
    assert M.topk_correct(logits, labels, 5).tolist() == [True, True, True]


def test_mean_per_class_recall_hand_value():
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    preds = torch.tensor([0, 1, 0, 1, 0, 2])
    # class 0: 2/3, class 1: 1/1, class 2: 1/2 → mean 13/18; class 3 absent from labels is ignored
    assert M.mean_per_class_recall(preds, labels) == pytest.approx((2 / 3 + 1 + 0.5) / 3)


def test_fine_and_coarse_against_naive_reference():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 6, generator=g)
    labels = torch.randint(0, 6, (200,), generator=g)
    supers = {"a": [0, 1, 2], "b": [3, 4], "c": [5]}
    owner = {c: s for s, members in enumerate(supers.values()) for c in members}
    members = list(supers.values())
    fine_ref, coarse_ref = [], []
    for row, y in zip(logits.tolist(), labels.tolist(), strict=True):
        group = members[owner[y]]
        fine_ref.append(max(group, key=lambda c: row[c]) == y)
        scores = [max(row[c] for c in m) for m in members]
        coarse_ref.append(int(np.argmax(scores)) == owner[y])
    assert M.fine_correct(logits, labels, supers).tolist() == fine_ref
    assert M.coarse_correct(logits, labels, supers).tolist() == coarse_ref
    assert M.coarse_correct(logits, labels, supers, k=3).all()  # 3 superclasses


def test_fine_singleton_superclass_is_always_correct():
    logits = torch.tensor([[5.0, 0.0, -1.0]])
    assert M.fine_correct(logits, torch.tensor([2]), {"x": [0, 1], "y": [2]}).tolist() == [True]


def test_superclass_overlap_is_an_error():
    with pytest.raises(ValueError, match="more than one superclass"):
        M.fine_correct(torch.zeros(1, 3), torch.tensor([0]), {"x": [0, 1], "y": [1, 2]})


# --- consistency --------------------


def test_knn_majority_ties_shrink_k():
    ref = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1, 0])
    q = torch.tensor([[1.0, 0.0]])
    # k=1: label 0; k=2: tie (0,1) → shrink to k=1 → 0; k=3: 1 leads (2 vs 1); k=4: tie 2-2 → k=3 → 1
    assert M.knn_majority_labels(q, ref, labels, 1).tolist() == [0]
    assert M.knn_majority_labels(q, ref, labels, 2).tolist() == [0]
    assert M.knn_majority_labels(q, ref, labels, 3).tolist() == [1]
    assert M.knn_majority_labels(q, ref, labels, 4).tolist() == [1]


def test_knn_against_naive_reference():
    g = torch.Generator().manual_seed(1)
    train, test = torch.randn(60, 5, generator=g), torch.randn(25, 5, generator=g)
    labels = torch.randint(0, 4, (60,), generator=g)
    tr, te = _unit(train), _unit(test)
    for k in (1, 3, 5, 10):
        ref = []
        for q in te:
            order = np.argsort(-(tr @ q), kind="stable")
            for kk in range(k, 0, -1):
                votes = np.bincount(labels.numpy()[order[:kk]], minlength=4)
                if (votes == votes.max()).sum() == 1:
                    ref.append(int(votes.argmax()))
                    break
        got = M.knn_majority_labels(test, train, labels, k)
        assert got.tolist() == ref
        assert M.knn_majority_labels(test, train, labels, k, chunk=7).tolist() == ref  # blocks of queries
        preds = torch.tensor(ref)
        assert M.consistency_at_k(preds, test, train, labels, k).all()


def _pairs(n=7, d=4, seed=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


def test_inmodal_and_crossmodal_gaps_against_loops():
    images, texts = _pairs()
    i, t = _unit(images), _unit(texts)
    n = len(i)
    in_abs, cr_abs, in_sq, cr_sq = [], [], 0.0, 0.0
    for j, k in itertools.product(range(n), range(n)):
        d_in = i[j] @ i[k] - t[j] @ t[k]
        d_cr = i[j] @ t[k] - i[k] @ t[j]
        in_sq += d_in**2
        cr_sq += d_cr**2
        if j != k:
            in_abs.append(abs(d_in))
            cr_abs.append(abs(d_cr))
    got_in, got_cr = M.inmodal_gap(images, texts), M.crossmodal_gap(images, texts)
    assert got_in["gap"] == pytest.approx(np.mean(in_abs))
    assert got_cr["gap"] == pytest.approx(np.mean(cr_abs))
    # L_I = (1/N) Σ_j Σ_k (...)², per pair = L_I / N
    assert got_in["loss_per_pair"] == pytest.approx(in_sq / n / n)
    assert got_cr["loss_per_pair"] == pytest.approx(cr_sq / n / n)


def test_gaps_are_zero_for_identical_spaces():
    images, _ = _pairs()
    assert M.inmodal_gap(images, images)["gap"] == pytest.approx(0.0)
    assert M.crossmodal_gap(images, images * 3)["loss_per_pair"] == pytest.approx(0.0)


# --- scale-free consistency: rank correlations and normalised gaps --------------------


def _similarities(images, texts):
    """Naive float64 reference: the j < k in-modal pairs, and the j < k / j ≠ k cross-modal entries."""
    i, t = _unit(images), _unit(texts)
    n = len(i)
    upper = list(itertools.combinations(range(n), 2))
    ii = np.array([i[j] @ i[k] for j, k in upper])
    tt = np.array([t[j] @ t[k] for j, k in upper])
    c_jk = np.array([i[j] @ t[k] for j, k in upper])
    c_kj = np.array([i[k] @ t[j] for j, k in upper])
    off = [(j, k) for j in range(n) for k in range(n) if j != k]
    cross_off = np.array([i[j] @ t[k] for j, k in off])
    asym = np.array([abs(i[j] @ t[k] - i[k] @ t[j]) for j, k in off])
    return ii, tt, c_jk, c_kj, cross_off, asym


def _scale_free_reference(images, texts):
    from scipy.stats import spearmanr

    ii, tt, c_jk, c_kj, cross_off, asym = _similarities(images, texts)
    return {
        "inmodal_rank_correlation": spearmanr(ii, tt).statistic,
        "crossmodal_rank_correlation": spearmanr(c_jk, c_kj).statistic,
        "inmodal_gap_normalised": np.mean(np.abs(ii - tt)) / math.sqrt((np.var(ii) + np.var(tt)) / 2),
        "crossmodal_asymmetry_normalised": np.mean(asym) / np.std(cross_off),
    }


SCALE_FREE = (
    "inmodal_rank_correlation",
    "crossmodal_rank_correlation",
    "inmodal_gap_normalised",
    "crossmodal_asymmetry_normalised",
)


def _scale_free(images, texts):
    return {name: getattr(M, name)(images, texts) for name in SCALE_FREE}


def test_average_ranks_and_spearman_match_scipy_with_and_without_ties():
    from scipy.stats import rankdata, spearmanr

    rng = np.random.default_rng(0)
    for x, y in (
        (rng.normal(size=50), rng.normal(size=50)),  # no ties
        (rng.integers(0, 4, size=60).astype(float), rng.integers(0, 6, size=60).astype(float)),  # many ties
        (np.array([3.0, 1.0, 3.0, 3.0, 2.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0])),
    ):
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        assert M.average_ranks(tx).tolist() == rankdata(x).tolist()
        assert M.spearman(tx, ty) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    # by hand: ranks of [3, 1, 3, 3, 2] are [4, 1, 4, 4, 2] (ranks 3, 4, 5 averaged)
    assert M.average_ranks(torch.tensor([3.0, 1.0, 3.0, 3.0, 2.0])).tolist() == [4.0, 1.0, 4.0, 4.0, 2.0]


def test_spearman_is_invariant_to_monotone_transforms_and_undefined_when_constant():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(40, generator=g), torch.randn(40, generator=g)
    rho = M.spearman(x, y)
    assert abs(rho) > 0.0
    assert M.spearman(torch.exp(3 * x) - 7, y**3) == pytest.approx(rho, abs=1e-12)
    assert M.spearman(x, -y) == pytest.approx(-rho, abs=1e-12)
    assert M.spearman(x, x**5) == pytest.approx(1.0)
    assert math.isnan(M.spearman(x, torch.ones(40)))
    assert math.isnan(M.spearman(torch.tensor([1.0]), torch.tensor([2.0])))
    with pytest.raises(ValueError):
        M.spearman(x, y[:-1])


def test_scale_free_measures_against_loops():
    for n, d, seed in ((9, 5, 4), (12, 3, 7)):
        images, texts = _pairs(n=n, d=d, seed=seed)
        got, want = _scale_free(images, texts), _scale_free_reference(images, texts)
        for name in SCALE_FREE:
            assert got[name] == pytest.approx(want[name], abs=1e-12), name


def test_scale_free_measures_with_exactly_tied_similarities():
    # Rows drawn from three orthonormal axes: every similarity is exactly 0 or 1, so almost all are tied.
    axes = torch.eye(3)
    images = axes[torch.tensor([0, 0, 1, 2, 1, 0, 2, 2])]
    texts = axes[torch.tensor([0, 1, 1, 2, 0, 0, 2, 1])]
    got, want = _scale_free(images, texts), _scale_free_reference(images, texts)
    for name in SCALE_FREE:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name
    assert not math.isnan(got["inmodal_rank_correlation"]) and got["inmodal_rank_correlation"] < 1


def test_inmodal_scale_free_measures_hand_values():
    # Images at 0°, 60°, 90°: ⟨I_j,I_k⟩ for (0,1), (0,2), (1,2) = 1/2, 0, √3/2 → ranks 2, 1, 3.
    # Texts at 0°, 90°, 180°: ⟨T_j,T_k⟩ = 0, −1, 0 → ranks 2.5, 1, 2.5 (a tie).
    # Spearman = Pearson((0, −1, 1), (½, −1, ½)) = 1.5 / √(2 · 1.5) = √3/2.
    images = torch.tensor([[1.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert M.inmodal_rank_correlation(images, texts) == pytest.approx(math.sqrt(3) / 2)
    # gaps 1/2, 1, √3/2; var_I = E[s²] − E[s]² = 1/3 − ((1 + √3)/6)² = (4 − √3)/18; var_T = 1/3 − 1/9 = 2/9
    scale = math.sqrt(((4 - math.sqrt(3)) / 18 + 2 / 9) / 2)
    assert M.inmodal_gap_normalised(images, texts) == pytest.approx((1.5 + math.sqrt(3) / 2) / 3 / scale)


def test_crossmodal_scale_free_measures_hand_values():
    # Images = the standard basis, so C_jk = ⟨I_j,T_k⟩ = T_k[j]. Above the diagonal C_01, C_02, C_12 =
    # 0.1, 0.2, 0.3; below it C_10, C_20, C_21 = 0.3, 0.2, 0.1 (reversed order → Spearman −1); the
    # diagonal makes each text a unit vector.
    images = torch.eye(3)
    texts = torch.tensor(
        [
            [math.sqrt(1 - 0.3**2 - 0.2**2), 0.3, 0.2],
            [0.1, math.sqrt(1 - 0.1**2 - 0.1**2), 0.1],
            [0.2, 0.3, math.sqrt(1 - 0.2**2 - 0.3**2)],
        ]
    )
    assert M.crossmodal_rank_correlation(images, texts) == pytest.approx(-1.0)
    # |C_jk − C_kj| over j ≠ k: 0.2, 0, 0.2, each twice → mean 0.4/3; the off-diagonal C are
    # {0.1, 0.2, 0.3} twice → std 0.2/√6; ratio 2√6/3. (The diagonal ≈ 0.93–0.99 would widen the std.)
    assert M.crossmodal_asymmetry_normalised(images, texts) == pytest.approx(2 * math.sqrt(6) / 3)


def test_identical_spaces_are_perfectly_consistent():
    images, _ = _pairs(n=10, d=4, seed=3)
    got = _scale_free(images, 2 * images)
    assert got["inmodal_rank_correlation"] == pytest.approx(1.0)
    assert got["crossmodal_rank_correlation"] == pytest.approx(1.0)
    assert got["inmodal_gap_normalised"] == pytest.approx(0.0, abs=1e-12)
    assert got["crossmodal_asymmetry_normalised"] == pytest.approx(0.0, abs=1e-12)


def _narrow(x, a, extra):
    """[√a·x̂, √(1−a)·extra]: unit rows whose similarities with rows narrowed by the same ``a`` and ``extra`` are
    a·s + (1 − a)·extra² — a narrower cone around the extra axis when ``extra`` = 1."""
    u = torch.nn.functional.normalize(x.double(), dim=1)
    return torch.cat([math.sqrt(a) * u, torch.full((len(u), 1), math.sqrt(1 - a) * extra, dtype=u.dtype)], 1)


def test_a_narrower_cone_shrinks_absolute_gaps_but_not_the_scale_free_measures():
    images, texts = _pairs(n=15, d=6, seed=8)
    before = _scale_free(images, texts)
    a = 0.2  # every similarity s becomes 0.2·s + 0.8: all high and close together
    narrow_i, narrow_t = _narrow(images, a, 1.0), _narrow(texts, a, 1.0)
    assert M.cone(narrow_i) > M.cone(images) + 0.5
    assert M.inmodal_gap(narrow_i, narrow_t)["gap"] == pytest.approx(a * M.inmodal_gap(images, texts)["gap"])
    assert M.crossmodal_gap(narrow_i, narrow_t)["gap"] == pytest.approx(a * M.crossmodal_gap(images, texts)["gap"])
    after = _scale_free(narrow_i, narrow_t)
    for name in SCALE_FREE:
        assert after[name] == pytest.approx(before[name], abs=1e-10), name
    # Narrowing the texts alone is a monotone map of T·Tᵀ (in-modal ranks kept) and scales C by √a (images get
    # a 0 extra coordinate), which the cross-modal measures ignore; the normalised in-modal gap does change.
    alone_t, padded_i = _narrow(texts, a, 1.0), _narrow(images, 1.0, 0.0)
    alone = _scale_free(padded_i, alone_t)
    assert alone["inmodal_rank_correlation"] == pytest.approx(before["inmodal_rank_correlation"], abs=1e-10)
    assert alone["crossmodal_rank_correlation"] == pytest.approx(before["crossmodal_rank_correlation"], abs=1e-10)
    assert alone["crossmodal_asymmetry_normalised"] == pytest.approx(
        before["crossmodal_asymmetry_normalised"], abs=1e-10
    )
    assert alone["inmodal_gap_normalised"] != pytest.approx(before["inmodal_gap_normalised"], abs=1e-3)


def test_scale_free_measures_are_nan_when_undefined():
    one = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # two pairs: a single unordered pair
    assert math.isnan(M.inmodal_rank_correlation(one, one))
    assert math.isnan(M.crossmodal_rank_correlation(one, one))
    same = torch.ones(4, 3)  # every similarity equal: no spread
    assert math.isnan(M.inmodal_gap_normalised(same, same))
    assert math.isnan(M.crossmodal_asymmetry_normalised(same, same))


def test_modality_gap_cone_alignment_uniformity():
    images = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    texts = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert M.modality_gap(images, texts) == pytest.approx(0.0)  # same means
    assert M.cone(images) == pytest.approx(0.0)  # orthogonal
    assert M.cone(torch.tensor([[1.0, 0.0], [3.0, 0.0]])) == pytest.approx(1.0)
    assert M.alignment(images, texts) == pytest.approx(2.0)  # ‖e1 − e2‖² = 2
    # two orthogonal unit vectors: one pair, ‖x − y‖² = 2 → log exp(−4) = −4
    assert M.uniformity(images) == pytest.approx(-4.0)


def test_uniformity_and_modality_gap_against_naive_reference():
    images, texts = _pairs(n=9, d=3, seed=5)
    u = _unit(images)
    vals = [np.exp(-2 * np.sum((u[a] - u[b]) ** 2)) for a, b in itertools.combinations(range(len(u)), 2)]
    assert M.uniformity(images) == pytest.approx(np.log(np.mean(vals)))
    gap = np.linalg.norm(u.mean(0) - _unit(texts).mean(0))
    assert M.modality_gap(images, texts) == pytest.approx(gap)
    cos = [u[a] @ u[b] for a in range(9) for b in range(9) if a != b]
    assert M.cone(images) == pytest.approx(np.mean(cos))


# --- retrieval --------------------


def test_retrieval_against_naive_reference_with_several_captions():
    g = torch.Generator().manual_seed(3)
    sim = torch.randn(5, 12, generator=g)
    caption_image = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4])
    for k in (1, 5, 10):
        i2t = [any(caption_image[c] == img for c in np.argsort(-sim[img].numpy())[:k]) for img in range(5)]
        t2i = [int(caption_image[c]) in np.argsort(-sim[:, c].numpy())[:k].tolist() for c in range(12)]
        assert M.image_to_text_hits(sim, caption_image, k).tolist() == i2t
        assert M.text_to_image_hits(sim, caption_image, k).tolist() == t2i
    assert M.text_to_image_hits(sim, caption_image, 10).all()  # k capped at 5 images


def test_retrieval_hand_values():
    sim = torch.tensor([[0.9, 0.1, 0.8], [0.2, 0.7, 0.95]])
    caption_image = torch.tensor([0, 1, 1])
    assert M.image_to_text_hits(sim, caption_image, 1).tolist() == [True, True]
    assert M.text_to_image_hits(sim, caption_image, 1).tolist() == [True, True, True]
    sim2 = torch.tensor([[0.1, 0.9, 0.8], [0.2, 0.0, 0.95]])
    assert M.image_to_text_hits(sim2, caption_image, 1).tolist() == [False, True]
    assert M.text_to_image_hits(sim2, caption_image, 1).tolist() == [False, False, True]


# --- effective robustness --------------------


def test_effective_robustness_fit_and_identity():
    fit = M.fit_logit_line([(0.5, 0.4)])
    assert fit["kind"] == "identity"
    assert M.effective_robustness(0.5, 0.4, fit) == pytest.approx(-0.1)
    # points exactly on logit(y) = logit(x) - 1 → slope 1, intercept -1, ER 0 on the line
    xs = [0.2, 0.5, 0.8]
    pts = [(x, 1 / (1 + math.exp(-(math.log(x / (1 - x)) - 1)))) for x in xs]
    fit = M.fit_logit_line(pts)
    assert fit["slope"] == pytest.approx(1.0) and fit["intercept"] == pytest.approx(-1.0)
    assert M.effective_robustness(*pts[1], fit) == pytest.approx(0.0, abs=1e-9)
    assert M.effective_robustness(0.5, pts[1][1] + 0.05, fit) == pytest.approx(0.05)
