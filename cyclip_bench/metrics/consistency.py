"""Consistency of the image and text spaces: consistency@k, in-/cross-modal gaps, modality gap, cone, and
alignment/uniformity (Wang & Isola 2020, t = 2), plus scale-free consistency measures (rank correlations and
gaps divided by the spread of the similarities) that a narrower cone cannot improve. Embeddings are
L2-normalised inside each function."""

from __future__ import annotations

import math

import numpy
import torch
import torch.nn.functional as F


def _unit(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.double(), dim=-1)


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The n(n − 1) entries j ≠ k of a square matrix, row by row: the n − 1 entries after each diagonal one (a
    strided view of the flattened matrix, no boolean-mask copy)."""
    n = m.shape[0]
    if n < 2:
        return m.new_empty(0)
    return m.flatten()[1:].view(n - 1, n + 1)[:, :n].flatten()


def knn_majority_labels(
    query: torch.Tensor,
    reference: torch.Tensor,
    reference_labels: torch.Tensor,
    k: int,
    chunk: int | None = None,
) -> torch.Tensor:
    """[Nq] majority label among the k nearest ``reference`` rows (cosine) of each query.

    A tie for the most votes is broken by shrinking k by one until one label leads (k = 1 always does).
    Neighbours are ranked by similarity, equal similarities by reference index — also at the cut-off: when more
    references tie for the k-th place than fit, the lowest indices are taken (``torch.topk`` alone would take
    any of them).
    """
    k = max(1, min(int(k), reference.shape[0]))
    q, r = _unit(query), _unit(reference)
    out = torch.empty(q.shape[0], dtype=torch.long)
    num_labels = int(reference_labels.max()) + 1
    # Similarity blocks of about 256 MB (float64), whatever the size of the reference set.
    chunk = chunk or max(1, (1 << 25) // max(1, r.shape[0]))
    for start in range(0, q.shape[0], chunk):
        sims = q[start : start + chunk] @ r.T
        neighbour_labels = reference_labels[ranked_topk(sims, k)]  # [b, k], nearest first
        out[start : start + sims.shape[0]] = _majorities_shrinking(neighbour_labels, num_labels)
    return out


def ranked_topk(sims: torch.Tensor, k: int) -> torch.Tensor:
    """[b, k] column indices of each row's k largest ``sims``, largest first; equal values by lower index — also
    at the cut-off, where more columns tie for the k-th place than fit (``torch.topk`` alone would take any)."""
    values, index = sims.topk(k, dim=1)
    _lowest_indices_at_cutoff(sims, values, index)
    by_index = index.sort(dim=1)
    values, index = values.gather(1, by_index.indices), by_index.values
    order = torch.sort(values, dim=1, descending=True, stable=True).indices
    return index.gather(1, order)


def _majorities_shrinking(labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """[b] the majority label of each row of ``labels`` [b, k]; a row whose top count is tied is counted again
    over its k − 1 nearest, then k − 2, … until one label leads (k = 1 always does) — all tied rows at once."""
    out = torch.empty(labels.shape[0], dtype=torch.long)
    pending = torch.arange(labels.shape[0])
    for kk in range(labels.shape[1], 0, -1):
        if pending.numel() == 0:
            break
        votes = labels[pending, :kk]
        counts = torch.zeros(len(pending), num_labels, dtype=torch.long).scatter_add_(1, votes, torch.ones_like(votes))
        best = counts.max(dim=1, keepdim=True).values
        unique = (counts == best).sum(dim=1) == 1
        out[pending[unique]] = counts[unique].argmax(dim=1)
        pending = pending[~unique]
    return out


def _lowest_indices_at_cutoff(sims: torch.Tensor, values: torch.Tensor, index: torch.Tensor) -> None:
    """Rewrite, in place, the rows of ``sims.topk(k)`` (``values``, ``index``) where references tie at the k-th
    value beyond the k places: keep every reference above that value, then the lowest-index tied ones."""
    k = values.shape[1]
    cutoff = values[:, -1:]
    crowded = torch.nonzero((sims >= cutoff).sum(dim=1) > k).view(-1)
    if crowded.numel() == 0:
        return
    s, v = sims[crowded], cutoff[crowded]
    above, tied = s > v, s == v
    room = k - above.sum(dim=1, keepdim=True)  # places left for tied references in each row
    chosen = above | (tied & (tied.cumsum(dim=1) <= room))  # exactly k per row
    picked = torch.nonzero(chosen)[:, 1].view(len(crowded), k)  # ascending reference index
    index[crowded], values[crowded] = picked, s.gather(1, picked)


def consistency_at_k(
    zeroshot_predictions: torch.Tensor,
    test_features: torch.Tensor,
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    k: int,
) -> torch.Tensor:
    """Bool [N]: each test image's zero-shot label equals the majority label of its k nearest train images."""
    return knn_majority_labels(test_features, train_features, train_labels, k) == zeroshot_predictions


def inmodal_gap(images: torch.Tensor, texts: torch.Tensor) -> dict[str, float]:
    """Over N held-out pairs: ``gap`` = mean over j≠k of |⟨I_j,I_k⟩ − ⟨T_j,T_k⟩|; ``loss_per_pair`` = L_I / N
    = mean over all N² (j, k) of (⟨I_j,I_k⟩ − ⟨T_j,T_k⟩)², which does not grow with N (L_I itself does)."""
    i, t = _unit(images), _unit(texts)
    diff = i @ i.T - t @ t.T
    return {"gap": float(_off_diagonal(diff).abs().mean()), "loss_per_pair": float((diff**2).mean())}


def crossmodal_gap(images: torch.Tensor, texts: torch.Tensor) -> dict[str, float]:
    """Over N held-out pairs: ``gap`` = mean over j≠k of |⟨I_j,T_k⟩ − ⟨I_k,T_j⟩|; ``loss_per_pair`` = L_C/N"""
    i, t = _unit(images), _unit(texts)
    cross = i @ t.T
    diff = cross - cross.T
    return {"gap": float(_off_diagonal(diff).abs().mean()), "loss_per_pair": float((diff**2).mean())}


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of a 1-D tensor (float64), tied values sharing the average of their ranks (as
    ``scipy.stats.rankdata(method="average")``)."""
    # Sorted by numpy's introsort (~4x faster than torch.sort on the CPU for 10^5–10^6 values); it is not stable,
    # and need not be: tied values get one average rank whatever their order.
    flat = x.detach().flatten().cpu()
    order = torch.from_numpy(numpy.argsort(flat.numpy(), kind="quicksort"))
    values = flat[order]
    if bool((values[1:] != values[:-1]).all()):  # no ties: the usual case, and the fast path
        sorted_ranks = torch.arange(1, values.numel() + 1, dtype=torch.float64, device=values.device)
    else:
        _, group, counts = torch.unique_consecutive(values, return_inverse=True, return_counts=True)
        # A run of c equal values ending at (1-based) rank e holds ranks e − c + 1 … e: average e − (c − 1)/2.
        ends = counts.cumsum(0).double()
        sorted_ranks = (ends - (counts.double() - 1) / 2)[group]
    return torch.empty_like(sorted_ranks).scatter_(0, order, sorted_ranks).to(x.device)


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman rank correlation of two equally long 1-D tensors: the Pearson correlation of their average
    ranks (ties averaged). NaN when fewer than two values or when either side is constant (undefined)."""
    if x.numel() != y.numel():
        raise ValueError(f"spearman: {x.numel()} values against {y.numel()}")
    if x.numel() < 2:
        return math.nan
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float((rx @ rx) * (ry @ ry))
    return float(rx @ ry) / math.sqrt(denominator) if denominator > 0 else math.nan


def _upper(m: torch.Tensor) -> torch.Tensor:
    """Entries j < k of a square matrix (row-major order)."""
    return m[torch.ones(m.shape, dtype=torch.bool, device=m.device).triu(1)]


def _ratio(numerator: float, scale: float) -> float:
    return numerator / scale if scale > 0 else math.nan


def inmodal_rank_correlation(images: torch.Tensor, texts: torch.Tensor) -> float:
    """Spearman correlation between ⟨I_j,I_k⟩ and ⟨T_j,T_k⟩ over the unordered pairs j < k (both matrices are
    symmetric, so each pair is used once). 1: the two spaces order all pairs alike, whatever their scales.
    Higher is more consistent; NaN with fewer than three pairs or a constant side."""
    i, t = _unit(images), _unit(texts)
    return spearman(_upper(i @ i.T), _upper(t @ t.T))


def crossmodal_rank_correlation(images: torch.Tensor, texts: torch.Tensor) -> float:
    """Spearman correlation between C_jk = ⟨I_j,T_k⟩ and C_kj = ⟨I_k,T_j⟩ over the unordered pairs j < k
    (swapping j and k swaps the two sides, so each pair is used once). Higher is more consistent."""
    cross = _unit(images) @ _unit(texts).T
    return spearman(_upper(cross), _upper(cross.T))


def inmodal_gap_normalised(images: torch.Tensor, texts: torch.Tensor) -> float:
    """mean over j < k of |⟨I_j,I_k⟩ − ⟨T_j,T_k⟩| divided by σ = √((var_I + var_T)/2), var_I and var_T the
    (population) variances of the off-diagonal entries of I·Iᵀ and T·Tᵀ: the in-modal gap in units of the
    spread of the similarities. Unchanged when every similarity of both spaces becomes a·s + b (a > 0), e.g. a
    narrower common cone. σ is the within-modality spread, not the std of both sets pooled, so that an offset
    between the two modalities' mean similarities — part of the gap measured — does not also widen the scale.
    Lower is more consistent; NaN when both spreads are 0."""
    i, t = _unit(images), _unit(texts)
    si, st = _upper(i @ i.T), _upper(t @ t.T)
    scale = math.sqrt((float(si.var(correction=0)) + float(st.var(correction=0))) / 2) if si.numel() else 0.0
    return _ratio(float((si - st).abs().mean()), scale)


def crossmodal_asymmetry_normalised(images: torch.Tensor, texts: torch.Tensor) -> float:
    """mean over j ≠ k of |⟨I_j,T_k⟩ − ⟨I_k,T_j⟩| divided by the (population) std of the off-diagonal
    ⟨I_j,T_k⟩, j ≠ k: the cross-modal gap in units of the spread of the negatives' similarities, unchanged
    when every cross similarity becomes a·C + b (a > 0). The diagonal positives are left out of the scale: the
    contrastive loss pulls them far above the rest, so they would measure alignment, not spread (and their
    asymmetry is 0 by definition). Lower is more consistent; NaN when the off-diagonal entries are constant."""
    cross = _unit(images) @ _unit(texts).T
    off = _off_diagonal(cross)
    if off.numel() == 0:
        return math.nan
    return _ratio(float(_off_diagonal(cross - cross.T).abs().mean()), float(off.std(correction=0)))


def modality_gap(images: torch.Tensor, texts: torch.Tensor) -> float:
    """‖mean(I) − mean(T)‖ over L2-normalised embeddings of paired data (Liang et al. 2022)."""
    return float((_unit(images).mean(0) - _unit(texts).mean(0)).norm())


def cone(features: torch.Tensor) -> float:
    """Mean off-diagonal cosine similarity within one modality (1 = all embeddings in one direction)."""
    u = _unit(features)
    return float(_off_diagonal(u @ u.T).mean())


def alignment(images: torch.Tensor, texts: torch.Tensor) -> float:
    """E‖f(x) − g(y)‖² over positive pairs (Wang & Isola, α = 2), on normalised embeddings."""
    return float(((_unit(images) - _unit(texts)) ** 2).sum(dim=1).mean())


def uniformity(features: torch.Tensor, t: float = 2.0) -> float:
    """log E exp(−t‖f(x) − f(x')‖²) over all pairs of distinct rows (Wang & Isola), normalised embeddings."""
    u = _unit(features)
    sq = torch.pdist(u, p=2).pow(2)
    # log-mean-exp, stable for large t·distance
    return float(torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel()))
