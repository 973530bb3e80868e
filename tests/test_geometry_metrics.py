"""The 2024–2026 geometry measurements (metrics/geometry.py) and zero-shot calibration (metrics/calibration.py):
each against a naive float64 reference written with loops, and a case computed by hand; then their wiring into
the consistency and zero-shot tasks of an evaluation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from cyclip_bench.metrics import calibration as C
from cyclip_bench.metrics import geometry as G


def _unit_rows(x: torch.Tensor) -> list[list[float]]:
    rows = x.double().tolist()
    return [[v / math.sqrt(sum(w * w for w in row)) for v in row] for row in rows]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _gram(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [[_dot(x, y) for y in b] for x in a]


def _neighbours(sims: list[list[float]], k: int, exclude_self: bool) -> list[list[int]]:
    """Each row's k most similar columns, ties by the lower index (a sort on (−similarity, index))."""
    out = []
    for i, row in enumerate(sims):
        candidates = [j for j in range(len(row)) if not (exclude_self and j == i)]
        out.append(sorted(candidates, key=lambda j, row=row: (-row[j], j))[:k])
    return out


def _features(n: int = 12, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, d, generator=g)
    texts = images + 0.8 * torch.randn(n, d, generator=g)  # related but not equal neighbourhoods
    return images.float(), texts.float()


# --- naive references ----------------------------------------------------------------------------------------
def naive_rmg(images: torch.Tensor, texts: torch.Tensor) -> float:
    i, t = _unit_rows(images), _unit_rows(texts)
    n = len(i)
    matched = sum(_dot(i[k], t[k]) for k in range(n)) / n
    d_m = 1 - (matched + 1) / 2
    d_m = d_m if d_m > 0 else 1e-3
    off = [(a, b) for a in range(n) for b in range(n) if a != b]
    d_i = 1 - (sum(_dot(i[a], i[b]) for a, b in off) / len(off) + 1) / 2
    d_t = 1 - (sum(_dot(t[a], t[b]) for a, b in off) / len(off) + 1) / 2
    return d_m / (d_m + (d_i + d_t) / 2)


def naive_l2i(images: torch.Tensor, texts: torch.Tensor) -> float:
    i, t = _unit_rows(images), _unit_rows(texts)
    return sum(
        math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True))) for a, b in zip(i, t, strict=True)
    ) / len(i)


def naive_mutual_knn(images: torch.Tensor, texts: torch.Tensor, k: int) -> float:
    i, t = _unit_rows(images), _unit_rows(texts)
    ni, nt = _neighbours(_gram(i, i), k, True), _neighbours(_gram(t, t), k, True)
    return sum(len(set(a) & set(b)) / k for a, b in zip(ni, nt, strict=True)) / len(i)


def naive_hsic_unbiased(a: list[list[float]], b: list[list[float]]) -> float:
    m = len(a)
    at = [[0.0 if x == y else a[x][y] for y in range(m)] for x in range(m)]
    bt = [[0.0 if x == y else b[x][y] for y in range(m)] for x in range(m)]
    trace = sum(at[x][y] * bt[y][x] for x in range(m) for y in range(m))
    sum_a = sum(map(sum, at))
    sum_b = sum(map(sum, bt))
    cross = sum(at[x][y] * bt[y][z] for x in range(m) for y in range(m) for z in range(m))
    return (trace + sum_a * sum_b / ((m - 1) * (m - 2)) - 2 * cross / (m - 2)) / (m * (m - 3))


def naive_cknna(images: torch.Tensor, texts: torch.Tensor, k: int) -> float:
    i, t = _unit_rows(images), _unit_rows(texts)
    n = len(i)
    kern_i, kern_t = _gram(i, i), _gram(t, t)
    ni, nt = _neighbours(kern_i, k, True), _neighbours(kern_t, k, True)
    mi = [[1.0 if y in ni[x] else 0.0 for y in range(n)] for x in range(n)]
    mt = [[1.0 if y in nt[x] else 0.0 for y in range(n)] for x in range(n)]

    def masked(mask: list[list[float]], kern: list[list[float]]) -> list[list[float]]:
        return [[mask[x][y] * kern[x][y] for y in range(n)] for x in range(n)]

    both = [[mi[x][y] * mt[x][y] for y in range(n)] for x in range(n)]
    kl = naive_hsic_unbiased(masked(both, kern_i), masked(both, kern_t))
    kk = naive_hsic_unbiased(masked(mi, kern_i), masked(mi, kern_i))
    ll = naive_hsic_unbiased(masked(mt, kern_t), masked(mt, kern_t))
    return kl / math.sqrt(kk * ll)


def naive_linear_cka(images: torch.Tensor, texts: torch.Tensor) -> float:
    """tr(KHLH) / √(tr(KHKH) tr(LHLH)) with the centring matrix H written out."""
    i, t = _unit_rows(images), _unit_rows(texts)
    n = len(i)
    h = [[(1.0 if x == y else 0.0) - 1.0 / n for y in range(n)] for x in range(n)]

    def matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
        return [[sum(a[x][z] * b[z][y] for z in range(n)) for y in range(n)] for x in range(n)]

    def hsic(a: list[list[float]], b: list[list[float]]) -> float:
        product = matmul(matmul(matmul(a, h), b), h)
        return sum(product[x][x] for x in range(n))

    kern_i, kern_t = _gram(i, i), _gram(t, t)
    return hsic(kern_i, kern_t) / math.sqrt(hsic(kern_i, kern_i) * hsic(kern_t, kern_t))


def naive_hubness(query: torch.Tensor, reference: torch.Tensor, k: int) -> tuple[float, float]:
    q, r = _unit_rows(query), _unit_rows(reference)
    counts = [0] * len(r)
    for row in _neighbours(_gram(q, r), k, False):
        for j in row:
            counts[j] += 1
    mean = sum(counts) / len(counts)
    m2 = sum((c - mean) ** 2 for c in counts) / len(counts)
    m3 = sum((c - mean) ** 3 for c in counts) / len(counts)
    return m3 / m2**1.5, sum(c == 0 for c in counts) / len(counts)


def naive_ece(confidence: list[float], correct: list[bool], bins: int = 15) -> float:
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [x for x, c in enumerate(confidence) if (low < c <= high) or (b == 0 and c == 0)]
        if members:
            acc = sum(correct[x] for x in members) / len(members)
            conf = sum(confidence[x] for x in members) / len(members)
            total += len(members) / len(confidence) * abs(acc - conf)
    return total


def naive_nll(logits: torch.Tensor, labels: torch.Tensor, scale: float) -> float:
    total = 0.0
    for row, y in zip(logits.double().tolist(), labels.tolist(), strict=True):
        z = [scale * v for v in row]
        top = max(z)
        log_norm = top + math.log(sum(math.exp(v - top) for v in z))
        total += log_norm - z[y]
    return total / len(labels)


# --- against the naive references ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_geometry_matches_naive_references(seed: int) -> None:
    images, texts = _features(seed=seed)
    assert G.relative_modality_gap(images, texts) == pytest.approx(naive_rmg(images, texts), abs=1e-12)
    assert G.paired_l2_gap(images, texts) == pytest.approx(naive_l2i(images, texts), abs=1e-12)
    for k in (1, 3, 10):
        assert G.mutual_knn_alignment(images, texts, k) == pytest.approx(naive_mutual_knn(images, texts, k))
    for k in (2, 4, 10):
        assert G.cknna(images, texts, k) == pytest.approx(naive_cknna(images, texts, k), abs=1e-10)
    assert G.linear_cka(images, texts) == pytest.approx(naive_linear_cka(images, texts), abs=1e-10)
    for k in (1, 5):
        for query, reference in ((images, texts), (texts, images)):
            skew, antihubs = naive_hubness(query, reference, k)
            got = G.hubness(query, reference, k)
            assert got["skewness"] == pytest.approx(skew, abs=1e-10)
            assert got["antihub_fraction"] == pytest.approx(antihubs)


def test_hsic_unbiased_matches_the_formula_written_out() -> None:
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(7, 7, generator=g).double(), torch.randn(7, 7, generator=g).double()  # not symmetric
    assert G.hsic_unbiased(a, b) == pytest.approx(naive_hsic_unbiased(a.tolist(), b.tolist()), abs=1e-12)
    assert math.isnan(G.hsic_unbiased(a[:3, :3], b[:3, :3]))  # m < 4: undefined


def test_neighbours_break_ties_by_the_lower_index_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rows 1, 2 and 3 are the same vector: row 0's nearest are 1, 2, 3 in that order; blocks of one row agree.
    feats = torch.tensor([[1.0, 0.1], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    whole = G.neighbour_indices(feats, 3)
    assert whole[0].tolist() == [1, 2, 3] and whole[1].tolist() == [2, 3, 0]
    monkeypatch.setattr(G, "_BLOCK_ELEMENTS", 1)
    assert torch.equal(G.neighbour_indices(feats, 3), whole)


# --- by hand -------------------------------------------------------------------------------------------------
E1, E2, E3 = torch.eye(3)[0], torch.eye(3)[1], torch.eye(3)[2]


def test_rmg_and_l2i_by_hand() -> None:
    # Orthogonal rows within each modality: d_I = d_T = 1 − (0 + 1)/2 = 0.5.
    same = torch.stack([E1, E2])
    assert G.relative_modality_gap(same, same) == pytest.approx(1e-3 / (1e-3 + 0.5))  # d_m = 0 → floor 1e-3
    swapped = torch.stack([E2, E1])
    assert G.relative_modality_gap(same, swapped) == pytest.approx(0.5)  # d_m = 0.5
    assert G.paired_l2_gap(same, swapped) == pytest.approx(math.sqrt(2))
    assert G.paired_l2_gap(same * 3, same) == 0.0  # normalised first


def _angles(*degrees: float) -> torch.Tensor:
    return torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in degrees])


def test_mutual_knn_by_hand() -> None:
    # Images at 0°, 10°, 30°, 90°: nearest others 1, 0, 1, 2. Texts at 0°, 50°, 30°, 90°: 2, 2, 1, 1.
    # Only pair 2 keeps its neighbour: 1/4.
    images, texts = _angles(0, 10, 30, 90), _angles(0, 50, 30, 90)
    assert G.mutual_knn_alignment(images, texts, 1) == pytest.approx(0.25)
    assert G.mutual_knn_alignment(images, images, 2) == 1.0
    with pytest.raises(ValueError, match="k = 4"):
        G.mutual_knn_alignment(images, texts, 4)  # only 3 others
    with pytest.raises(ValueError, match="k = 1"):
        G.cknna(images, texts, 1)


def test_linear_cka_by_hand() -> None:
    # X = ±e1, ±e2 (centred); Y collapses onto ±e1: ‖XᵀY‖² = 8, ‖XᵀX‖ = √8, ‖YᵀY‖ = 4 → 8 / (√8 · 4) = 1/√2.
    x = torch.tensor([[1.0, 0], [0, 1], [-1, 0], [0, -1]])
    y = torch.tensor([[1.0, 0], [1, 0], [-1, 0], [-1, 0]])
    assert G.linear_cka(x, y) == pytest.approx(1 / math.sqrt(2))
    rotation = torch.tensor([[0.6, -0.8], [0.8, 0.6]])
    assert G.linear_cka(x, x @ rotation) == pytest.approx(1.0)
    assert G.cknna(_features()[0], _features()[0], 3) == pytest.approx(1.0)


def test_hubness_by_hand() -> None:
    # Every query's nearest reference is e1: N_1 = [3, 0, 0], mean 1, deviations [2, −1, −1]:
    # m2 = 6/3 = 2, m3 = 6/3 = 2, skewness = 2 / 2^1.5 = 1/√2; two of three references are anti-hubs.
    queries = torch.stack([E1, E1 + 0.1 * E2, E1 + 0.1 * E3])
    got = G.hubness(queries, torch.stack([E1, E2, E3]), 1)
    assert got["skewness"] == pytest.approx(1 / math.sqrt(2))
    assert got["antihub_fraction"] == pytest.approx(2 / 3)
    assert G.k_occurrence(queries, torch.stack([E1, E2, E3]), 2).sum() == 6  # k per query
    assert math.isnan(G.skewness(torch.tensor([2, 2, 2])))  # no spread: undefined


# --- calibration ---------------------------------------------------------------------------------------------
def test_ece_by_hand_and_against_the_naive_bins() -> None:
    # 0.9 → bin 14/15 (acc 1/2, gap 0.4, weight 2/4); 0.55 → bin 9/15 (acc 1, gap 0.45, weight 2/4).
    conf, correct = torch.tensor([0.9, 0.9, 0.55, 0.55]), torch.tensor([True, False, True, True])
    assert C.expected_calibration_error(conf, correct) == pytest.approx(0.425)
    g = torch.Generator().manual_seed(0)
    conf = torch.rand(200, generator=g, dtype=torch.float64)
    conf[:5] = torch.tensor([0.0, 1 / 15, 2 / 15, 1.0, 14 / 15])  # bin edges: (low, high]
    correct = torch.rand(200, generator=g) < conf
    assert C.expected_calibration_error(conf, correct) == pytest.approx(
        naive_ece(conf.tolist(), correct.tolist()), abs=1e-12
    )
    assert math.isnan(C.expected_calibration_error(torch.tensor([]), torch.tensor([], dtype=torch.bool)))


def test_nll_by_hand_and_against_the_naive_sum() -> None:
    logits, labels = torch.tensor([[0.0, math.log(3)]]), torch.tensor([1])
    assert C.negative_log_likelihood(logits, labels) == pytest.approx(-math.log(0.75))
    g = torch.Generator().manual_seed(1)
    logits, labels = torch.randn(30, 6, generator=g), torch.randint(0, 6, (30,), generator=g)
    for scale in (1.0, 37.5):
        assert C.negative_log_likelihood(logits, labels, scale) == pytest.approx(naive_nll(logits, labels, scale))
    logits[:, 5] = -math.inf  # a class outside the subset has probability 0
    labels = labels.clamp(max=4)
    assert C.negative_log_likelihood(logits, labels, 2.0) == pytest.approx(naive_nll(logits[:, :5], labels, 2.0))


def test_fitted_scale_by_hand() -> None:
    # Logits (1, −1) for all four, labels 0, 0, 0, 1: the NLL is least where σ(2s) = 3/4, s = ln 3 / 2.
    logits, labels = torch.tensor([[1.0, -1.0]] * 4), torch.tensor([0, 0, 0, 1])
    assert C.fit_scale(logits, labels) == pytest.approx(math.log(3) / 2, abs=1e-6)
    # Two folds of a seeded split: each example's scale comes from the other fold only.
    logits, labels = torch.tensor([[1.0, -1.0]] * 8), torch.tensor([0, 0, 0, 1, 0, 0, 0, 1])
    scales = C.cross_fitted_scales(logits, labels)
    assert scales.shape == (8,) and len(set(scales.tolist())) <= 2 and bool((scales > 0).all())


def test_zeroshot_calibration_reports_both_scales() -> None:
    from cyclip_bench.eval.calibration import zeroshot_calibration

    g = torch.Generator().manual_seed(2)
    cosines, labels = torch.randn(40, 4, generator=g) / 10, torch.randint(0, 4, (40,), generator=g)
    cosines[torch.arange(40), labels] += 0.05
    predictions = cosines.argmax(dim=1)
    metrics, extra = zeroshot_calibration(cosines, labels, predictions, 100.0)
    assert set(metrics) == {"ece", "nll", "ece_temperature_scaled", "nll_temperature_scaled"}
    assert metrics["nll"] == pytest.approx(naive_nll(cosines, labels, 100.0))
    # An over-confident scale (100 on cosines ~0.1 apart): temperature scaling lowers the held-out NLL.
    assert metrics["nll_temperature_scaled"] < metrics["nll"]
    assert extra["logit_scale"] == 100.0 and len(extra["fitted_scales"]) == 2
    metrics, extra = zeroshot_calibration(cosines, labels, predictions, None)
    assert set(metrics) == {"ece_temperature_scaled", "nll_temperature_scaled"} and "skipped" in extra


# --- wired into the tasks of an evaluation --------------------------------------------------------------------
def test_consistency_and_zeroshot_tasks_report_the_new_measurements(world_dir, tmp_path) -> None:
    from cyclip_bench.eval import EvalConfig, evaluate
    from cyclip_bench.models import create_model, model_payload, save_checkpoint

    torch.manual_seed(0)
    model, info = create_model("tiny")
    ckpt = tmp_path / "random.pt"
    save_checkpoint(ckpt, model_payload(model, info))
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\nversion = 1\n'
        '[[tasks]]\nname = "z"\nkind = "zeroshot"\ndataset = "world-shapes"\n'
        '[[tasks]]\nname = "c"\nkind = "consistency"\ndataset = "world-shapes"\n'
        'options = { k = [1], neighbours = [1, 5], pairs = { path = "captions/val.csv", format = "captions" } }\n'
    )
    cfg = EvalConfig(
        checkpoints=(str(ckpt),), suite=str(suite), out=tmp_path / "out", data_root=world_dir, workers=0,
        cache_dir=None, cache=False, progress=False,
    )  # fmt: skip
    obj = json.loads(evaluate(cfg)[0].read_text())
    tasks = {t["name"]: t for t in obj["tasks"]}
    cons = tasks["c"]
    expected = {
        "relative_modality_gap": False,
        "l2i": False,
        "linear_cka": True,
        "mutual_knn@1": True,
        "mutual_knn@5": True,
        "cknna@5": True,
        "hubness_skew_image_to_text@5": False,
        "hubness_skew_text_to_image@5": False,
        "antihubs_image_to_text@1": False,
        "antihubs_text_to_image@5": False,
    }
    for name, higher in expected.items():
        assert name in cons["metrics"] and cons["metric_info"][name]["higher_is_better"] is higher
    assert "cknna@1" not in cons["metrics"] and "cknna@1" in " ".join(cons["extra"]["geometry"]["skipped"])
    assert 0 <= cons["metrics"]["relative_modality_gap"] <= 1 and 0 <= cons["metrics"]["mutual_knn@5"] <= 1
    zs = tasks["z"]
    for name in ("ece", "nll", "ece_temperature_scaled", "nll_temperature_scaled"):
        assert zs["metric_info"][name]["higher_is_better"] is False and math.isfinite(zs["metrics"][name])
    assert zs["extra"]["calibration"]["logit_scale"] == pytest.approx(model.logit_scale.exp().item(), rel=1e-6)
