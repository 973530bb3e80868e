"""Geometry of paired image/text embeddings as the 2024–2026 literature measures it: the relative modality gap
and the paired L2 gap (Schrodi et al. 2025), mutual k-NN alignment, CKNNA and linear CKA (Huh et al. 2024, "The
Platonic Representation Hypothesis"), and the hubness of cross-modal retrieval (Radovanović et al. 2010).

Conventions as in ``metrics.consistency``: row i of ``images`` and row i of ``texts`` are a matched pair, every
function L2-normalises in float64 first, and a measure that is undefined (too few rows, a zero spread) is NaN.
Nearest neighbours are ranked by cosine, equal cosines by the lower index (a stable sort): deterministic.
"""

from __future__ import annotations

import math

import torch

from cyclip_bench.metrics.consistency import _off_diagonal, _unit, ranked_topk

# Rows of a similarity matrix ranked at a time: ~256 MB of float64 whatever the number of references.
_BLOCK_ELEMENTS = 1 << 25


def relative_modality_gap(images: torch.Tensor, texts: torch.Tensor, floor: float = 1e-3) -> float:
    """RMG = d_m / (d_m + (d_I + d_T)/2) (Schrodi et al. 2025), with every distance a cosine mapped to [0, 1]
    as d = 1 − (cos + 1)/2: d_m over the matched pairs (mean cosine of I_i and T_i; a d_m ≤ 0 becomes ``floor``),
    d_I and d_T over all off-diagonal pairs within each modality. In [0, 1]; lower = the pairs are close relative
    to how spread out each modality is."""
    i, t = _unit(images), _unit(texts)
    if i.shape[0] < 2:
        return math.nan
    d_m = 1 - (float((i * t).sum(dim=1).mean()) + 1) / 2
    d_m = d_m if d_m > 0 else floor
    d_i = 1 - (float(_off_diagonal(i @ i.T).mean()) + 1) / 2
    d_t = 1 - (float(_off_diagonal(t @ t.T).mean()) + 1) / 2
    return d_m / (d_m + (d_i + d_t) / 2)


def paired_l2_gap(images: torch.Tensor, texts: torch.Tensor) -> float:
    """L2I = mean_i ‖I_i − T_i‖ over matched pairs of normalised embeddings (Schrodi et al. 2025): the gap seen
    by each pair, where ``modality_gap`` (L2M) compares only the two means."""
    return float((_unit(images) - _unit(texts)).norm(dim=1).mean())


def neighbour_indices(features: torch.Tensor, k: int, exclude_self: bool = True) -> torch.Tensor:
    """[N, k] the k nearest rows of each row of ``features`` (cosine, nearest first; equal cosines: lower index
    first), the row itself left out when ``exclude_self``."""
    u = _unit(features)
    return _ranked(u, u, k, exclude_self)


def _ranked(query: torch.Tensor, reference: torch.Tensor, k: int, exclude_self: bool) -> torch.Tensor:
    n_ref = reference.shape[0]
    out = torch.empty(query.shape[0], k, dtype=torch.long)
    step = max(1, _BLOCK_ELEMENTS // max(1, n_ref))
    for start in range(0, query.shape[0], step):
        sims = query[start : start + step] @ reference.T
        if exclude_self:
            rows = torch.arange(sims.shape[0])
            sims[rows, rows + start] = -math.inf
        out[start : start + step] = ranked_topk(sims, k)
    return out


def _neighbour_mask(features: torch.Tensor, k: int) -> torch.Tensor:
    """[N, N] float64: 1 where column j is one of row i's k nearest other rows."""
    n = features.shape[0]
    mask = torch.zeros(n, n, dtype=torch.float64)
    mask.scatter_(1, neighbour_indices(features, k), 1.0)
    return mask


def _check_k(k: int, n: int, least: int = 1) -> None:
    if not least <= k <= n - 1:
        raise ValueError(f"k = {k} needs {least} ≤ k ≤ N − 1 = {n - 1}")


def mutual_knn_alignment(images: torch.Tensor, texts: torch.Tensor, k: int = 10) -> float:
    """mean_i |NN_k^I(i) ∩ NN_k^T(i)| / k (Huh et al. 2024): how many of pair i's k nearest images (among the
    other images) are also the images of its k nearest texts (among the other texts). In [0, 1]; 1 = both
    modalities have the same neighbourhoods."""
    _check_k(k, images.shape[0])
    overlap = _neighbour_mask(images, k) * _neighbour_mask(texts, k)
    return float(overlap.sum(dim=1).mean() / k)


def hsic_unbiased(kernel_a: torch.Tensor, kernel_b: torch.Tensor) -> float:
    """The unbiased HSIC estimator of Song et al. (2012, eq. 5) on two [m, m] kernel matrices (diagonals
    ignored), m ≥ 4: (tr(ÃB̃) + 1ᵀÃ1·1ᵀB̃1 / ((m−1)(m−2)) − 2/(m−2)·1ᵀÃB̃1) / (m(m−3))."""
    m = kernel_a.shape[0]
    if m < 4:
        return math.nan
    eye = torch.eye(m, dtype=torch.bool)
    a = kernel_a.double().masked_fill(eye, 0.0)
    b = kernel_b.double().masked_fill(eye, 0.0)
    trace = float((a * b.T).sum())
    sums = float(a.sum()) * float(b.sum()) / ((m - 1) * (m - 2))
    cross = 2 * float(a.sum(dim=0) @ b.sum(dim=1)) / (m - 2)  # 1ᵀÃB̃1 without the m³ product
    return (trace + sums - cross) / (m * (m - 3))


def _ratio_sqrt(numerator: float, left: float, right: float) -> float:
    product = left * right
    return numerator / math.sqrt(product) if product > 0 and not math.isnan(numerator) else math.nan


def cknna(images: torch.Tensor, texts: torch.Tensor, k: int = 10) -> float:
    """CKNNA (Huh et al. 2024): CKA with the unbiased HSIC, each kernel (K = Î·Îᵀ, L = T̂·T̂ᵀ on normalised
    embeddings) kept only where j is among row i's k nearest others in both spaces; the self terms keep their
    own space's neighbours: HSIC(M∘K, M∘L) / √(HSIC(M_K∘K, M_K∘K)·HSIC(M_L∘L, M_L∘L)), M = M_K∘M_L. k ≥ 2."""
    _check_k(k, images.shape[0], least=2)
    i, t = _unit(images), _unit(texts)
    kernel_i, kernel_t = i @ i.T, t @ t.T
    mask_i, mask_t = _neighbour_mask(images, k), _neighbour_mask(texts, k)
    both = mask_i * mask_t
    return _ratio_sqrt(
        hsic_unbiased(both * kernel_i, both * kernel_t),
        hsic_unbiased(mask_i * kernel_i, mask_i * kernel_i),
        hsic_unbiased(mask_t * kernel_t, mask_t * kernel_t),
    )


def linear_cka(images: torch.Tensor, texts: torch.Tensor) -> float:
    """Linear CKA (Kornblith et al. 2019) between the image and the text Gram matrices of the normalised
    embeddings: HSIC(K, L) / √(HSIC(K, K)·HSIC(L, L)), HSIC(K, L) = tr(KHLH), H the centring matrix; computed as
    ‖X̄ᵀȲ‖²_F / (‖X̄ᵀX̄‖_F‖ȲᵀȲ‖_F) on the column-centred X̄, Ȳ. In [0, 1]; 1 = the same geometry up to a rotation
    and a scale."""
    x, y = _unit(images), _unit(texts)
    x, y = x - x.mean(dim=0), y - y.mean(dim=0)
    cross = float((x.T @ y).pow(2).sum())
    return _ratio_sqrt(cross, float((x.T @ x).pow(2).sum()), float((y.T @ y).pow(2).sum()))


def k_occurrence(query: torch.Tensor, reference: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Long [R]: N_k(r), the number of queries that have reference r among their k nearest references (cosine;
    equal cosines: the lower reference index first)."""
    if not 1 <= k <= reference.shape[0]:
        raise ValueError(f"k = {k} needs 1 ≤ k ≤ {reference.shape[0]} references")
    neighbours = _ranked(_unit(query), _unit(reference), k, exclude_self=False)
    return torch.bincount(neighbours.flatten(), minlength=reference.shape[0])


def skewness(values: torch.Tensor) -> float:
    """Population skewness E[(x − μ)³] / σ³ (σ the population std); NaN for a constant or empty tensor."""
    x = values.double().flatten()
    if x.numel() == 0:
        return math.nan
    centred = x - x.mean()
    variance = float(centred.pow(2).mean())
    return float(centred.pow(3).mean()) / variance**1.5 if variance > 0 else math.nan


def hubness(query: torch.Tensor, reference: torch.Tensor, k: int = 10) -> dict[str, float]:
    """Hubness of retrieving ``reference`` rows for ``query`` rows (Radovanović et al. 2010): ``skewness`` of the
    k-occurrence distribution N_k over the references (high: a few hubs are everyone's neighbour) and
    ``antihub_fraction``, the fraction of references with N_k = 0 (never retrieved in any top k)."""
    counts = k_occurrence(query, reference, k)
    return {"skewness": skewness(counts), "antihub_fraction": float((counts == 0).double().mean())}


__all__ = [
    "cknna",
    "hsic_unbiased",
    "hubness",
    "k_occurrence",
    "linear_cka",
    "mutual_knn_alignment",
    "neighbour_indices",
    "paired_l2_gap",
    "relative_modality_gap",
    "skewness",
]
