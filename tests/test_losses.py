"""The CLIP/CyCLIP objective against naive loops, hand-computed values, and 2 gloo ranks vs 1 process."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from two_ranks import Towers, assert_ranks_match, inputs, run_two_ranks

from cyclip_bench.losses import cyclip_loss


def _features(n: int, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=-1)
    text = F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=-1)
    return image, text


def _naive(image, text, s, lam_i, lam_c, per_pair=False):
    """docs/paper.md's formulas written out with Python loops."""
    n = len(image)
    dot = lambda a, b: sum(x * y for x, y in zip(a.tolist(), b.tolist(), strict=True))  # noqa: E731
    ce_i = ce_t = 0.0
    for j in range(n):
        row_i = [s * dot(image[j], text[k]) for k in range(n)]
        row_t = [s * dot(text[j], image[k]) for k in range(n)]
        ce_i += -row_i[j] + math.log(sum(math.exp(v) for v in row_i))
        ce_t += -row_t[j] + math.log(sum(math.exp(v) for v in row_t))
    contrastive = 0.5 * (ce_i / n + ce_t / n)
    inmodal = sum((dot(image[j], image[k]) - dot(text[j], text[k])) ** 2 for j in range(n) for k in range(n))
    crossmodal = sum((dot(image[j], text[k]) - dot(image[k], text[j])) ** 2 for j in range(n) for k in range(n))
    norm = n * n if per_pair else n
    inmodal, crossmodal = inmodal / norm, crossmodal / norm
    return contrastive + lam_i * inmodal + lam_c * crossmodal, contrastive, inmodal, crossmodal


@pytest.mark.parametrize("lam_i,lam_c", [(0.0, 0.0), (0.25, 0.25), (0.5, 0.0), (0.0, 0.7)])
@pytest.mark.parametrize("normalization", ["paper", "pair"])
def test_matches_naive_loops(lam_i, lam_c, normalization):
    image, text = _features(7)
    got = cyclip_loss(image, text, torch.tensor(3.0), lam_i, lam_c, normalization=normalization)
    want = _naive(image, text, 3.0, lam_i, lam_c, per_pair=normalization == "pair")
    for key, value in zip(("loss", "contrastive", "inmodal", "crossmodal"), want, strict=True):
        assert got[key].item() == pytest.approx(value, rel=1e-6), key


def test_hand_computed_two_pairs():
    # I = [e1, e2], T = [e1, (e1+e2)/√2]: ⟨I1,I2⟩ = 0, ⟨T1,T2⟩ = c; ⟨I1,T2⟩ = c, ⟨I2,T1⟩ = 0 with c = 1/√2.
    c = 1 / math.sqrt(2)
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    text = torch.tensor([[1.0, 0.0], [c, c]], dtype=torch.float64)
    out = cyclip_loss(image, text, 1.0, 1.0, 1.0)
    # L_I = (1/2)·(2·c²) = c² = 0.5 ; L_C = (1/2)·2·(c − 0)² = 0.5
    assert out["inmodal"].item() == pytest.approx(0.5)
    assert out["crossmodal"].item() == pytest.approx(0.5)
    # image→text rows: [1, c] label 0, [0, c] label 1; text→image rows: [1, 0] label 0, [c, c] label 1
    ce = lambda row, y: -row[y] + math.log(sum(math.exp(v) for v in row))  # noqa: E731
    contrastive = 0.5 * ((ce([1, c], 0) + ce([0, c], 1)) / 2 + (ce([1, 0], 0) + ce([c, c], 1)) / 2)
    assert out["contrastive"].item() == pytest.approx(contrastive)
    assert out["loss"].item() == pytest.approx(contrastive + 1.0)


def test_identical_modalities_have_zero_cyclic_terms_and_paper_norm_grows_with_batch():
    image, _ = _features(6)
    out = cyclip_loss(image, image.clone(), 10.0, 1.0, 1.0)
    assert out["inmodal"].item() == pytest.approx(0.0, abs=1e-12)
    assert out["crossmodal"].item() == pytest.approx(0.0, abs=1e-12)
    small, big = _features(8, seed=1), _features(64, seed=1)
    ratio = cyclip_loss(*big, 1.0, 1, 1)["inmodal"] / cyclip_loss(*small, 1.0, 1, 1)["inmodal"]
    ratio_pair = (
        cyclip_loss(*big, 1.0, 1, 1, normalization="pair")["inmodal"]
        / cyclip_loss(*small, 1.0, 1, 1, normalization="pair")["inmodal"]
    )
    assert ratio > 4 and 0.25 < ratio_pair < 4  # the paper's 1/N·Σ grows ~linearly with N, the per-pair mean not


def test_clip_builds_no_graph_for_unused_cyclic_terms():
    image, text = _features(4)
    image.requires_grad_(True)
    out = cyclip_loss(image, text, 2.0)
    assert out["loss"].requires_grad and not out["inmodal"].requires_grad


def test_rejects_negative_lambda():
    image, text = _features(3)
    with pytest.raises(ValueError, match="λ"):
        cyclip_loss(image, text, 1.0, -0.1, 0.0)


# --- distributed: 2 gloo ranks holding n rows each == 1 process on the 2n rows ---


@pytest.mark.parametrize("lam", [0.0, 0.25])
def test_two_gloo_ranks_match_one_process(tmp_path, lam):
    ranks = run_two_ranks("cyclip", lam, tmp_path)
    model = Towers()
    ref = cyclip_loss(*model(*inputs(8)), lam, lam)
    ref["loss"].backward()
    assert_ranks_match(ranks, ref, model)
