"""Consistency of the image and text spaces: consistency@k, in-/cross-modal gaps, modality gap, cone, and
alignment/uniformity (Wang & Isola 2020, t = 2). Embeddings are L2-normalised inside each function."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _unit(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.double(), dim=-1)


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    n = m.shape[0]
    return m[~torch.eye(n, dtype=torch.bool, device=m.device)]


def knn_majority_labels(
    query: torch.Tensor,
    reference: torch.Tensor,
    reference_labels: torch.Tensor,
    k: int,
    chunk: int | None = None,
) -> torch.Tensor:
    """[Nq] majority label among the k nearest ``reference`` rows (cosine) of each query.

    A tie for the most votes is broken by shrinking k by one until one label leads (k = 1 always does).
    Neighbours are ranked by similarity, equal similarities by reference index.
    """
    k = max(1, min(int(k), reference.shape[0]))
    q, r = _unit(query), _unit(reference)
    out = torch.empty(q.shape[0], dtype=torch.long)
    num_labels = int(reference_labels.max()) + 1
    # Similarity blocks of about 256 MB (float64), whatever the size of the reference set.
    chunk = chunk or max(1, (1 << 25) // max(1, r.shape[0]))
    for start in range(0, q.shape[0], chunk):
        sims = q[start : start + chunk] @ r.T
        values, index = sims.topk(k, dim=1)
        # Deterministic order among the k: by similarity, then by reference index.
        by_index = index.sort(dim=1)
        values, index = values.gather(1, by_index.indices), by_index.values
        order = torch.sort(values, dim=1, descending=True, stable=True).indices
        neighbour_labels = reference_labels[index.gather(1, order)]  # [b, k], nearest first
        for row, labels in enumerate(neighbour_labels):
            out[start + row] = _majority_shrinking(labels, num_labels)
    return out


def _majority_shrinking(labels: torch.Tensor, num_labels: int) -> int:
    for kk in range(labels.numel(), 0, -1):
        counts = torch.bincount(labels[:kk], minlength=num_labels)
        best = counts.max()
        if int((counts == best).sum()) == 1:
            return int(counts.argmax())
    raise AssertionError("unreachable: k = 1 has a unique majority")


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
