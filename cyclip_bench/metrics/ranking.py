"""Pessimistic ranks: the one tie rule behind every top-k metric (retrieval R@k, zero-shot top-k, fine / coarse).

A correct item is ranked *after* every other item whose score equals its own, so a hit at k means that fewer
than k wrong items score at least as high as the best correct one. A NaN score never helps: a correct item's
NaN counts as −inf, a competitor's NaN as above everything. The result does not depend on the order of the
items or on how ``torch.topk`` happens to order equal values (docs/evaluation.md, "Ties").

Counts are made by comparisons in blocks of rows, so nothing larger than a block of booleans is allocated
beside the score matrix.
"""

from __future__ import annotations

import torch

BLOCK_ELEMENTS = 1 << 24  # booleans per comparison block (16 MB)


def as_threshold(scores: torch.Tensor) -> torch.Tensor:
    """A correct item's score as a threshold: NaN → −inf (a broken score never makes a hit)."""
    return torch.nan_to_num(scores, nan=float("-inf"), posinf=float("inf"), neginf=float("-inf"))


def _rows_per_block(width: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, width))


def count_at_least_per_row(scores: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Long [N]: for each row i, how many ``scores[i, j]`` are not below ``thresholds[i]`` (NaN counts)."""
    n, width = scores.shape
    out = torch.empty(n, dtype=torch.long, device=scores.device)
    step = _rows_per_block(width)
    for start in range(0, n, step):
        block = scores[start : start + step]
        below = (block < thresholds[start : start + step].view(-1, 1)).sum(dim=1)
        out[start : start + step] = width - below
    return out


def count_at_least_per_column(scores: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Long [M]: for each column j, how many ``scores[i, j]`` are not below ``thresholds[j]`` (NaN counts).

    Walks blocks of whole rows (contiguous memory) rather than the transposed matrix's strided columns.
    """
    n, width = scores.shape
    below = torch.zeros(width, dtype=torch.long, device=scores.device)
    step = _rows_per_block(width)
    row = thresholds.view(1, -1)
    for start in range(0, n, step):
        below += (scores[start : start + step] < row).sum(dim=0)
    return n - below


def pessimistic_rank(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Long [N]: 0-based rank of each row's target column when the target goes after all its ties, i.e. the
    number of *other* columns scoring at least as high as the target. Hit at k ⇔ rank < k."""
    own = scores.gather(1, targets.view(-1, 1).long()).view(-1)
    # The target itself is never below its own threshold (NaN → −inf, and −inf is not below −inf): subtract it.
    return count_at_least_per_row(scores, as_threshold(own)) - 1


def pessimistic_argmax(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Long [N]: the top of the same ranking — the target only when every other column scores strictly below it;
    otherwise the highest other column (equal scores: the lowest index; a NaN counts as highest). So
    ``pessimistic_argmax(s, t) == t`` exactly where ``pessimistic_rank(s, t) == 0``."""
    targets = targets.long()
    out = scores.argmax(dim=1)  # the first maximal index; NaN counts as the maximum
    # argmax already follows the rule except where it picked the target although another column reaches the
    # target's score (a tie with a higher index, or a NaN target): only those rows are redone.
    redo = torch.nonzero((out == targets) & (pessimistic_rank(scores, targets) > 0)).view(-1)
    if redo.numel():
        rows = scores[redo].clone()
        target = targets[redo]
        rows.scatter_(1, target.view(-1, 1), float("-inf"))
        best = rows.argmax(dim=1)
        # Only when every other column is −inf too can the masked target come first: take the lowest other index.
        out[redo] = torch.where(best == target, (target == 0).long(), best)
    return out
