"""Exact trimming of a causal text tower's padded context.

open_clip pads every caption to ``context_length`` (32 for our presets, 77 for RN50/ViT) and runs the whole padded
sequence through the text transformer. With a causal attention mask, position ``i`` only sees positions ``≤ i``, so
the features pooled at the end-of-text token do not depend on anything after it: running the transformer on the
first ``L`` positions, where ``L`` is one past the last pooled position in the batch, gives the same features for a
fraction of the cost. Generated-world captions are ~11 tokens (the text tower was ~55% of a ``tiny`` training step
on 2 cores, most of it padding); CLIP prompts such as "a photo of a {class}." are under 20 of 77.

Trimming applies only where it is exact: a ``CLIP`` model (open_clip's built-in text tower) with a causal mask and
``argmax``/``eos`` pooling. Other towers (HF text models, bidirectional masks, ``last`` pooling) are left as they
are. tests/test_text_trim.py checks equality with open_clip's own ``encode_text`` so an open_clip change that breaks
the equivalence fails a test rather than silently changing features."""

from __future__ import annotations

import types

import open_clip
import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool

TRIMMABLE_POOLS = ("argmax", "eos")


def pooled_positions(text: torch.Tensor, pool_type: str, eos_token_id: int | None) -> torch.Tensor:
    """The position each row's features are pooled from (as open_clip's ``text_global_pool`` picks it)."""
    if pool_type == "argmax":
        return text.argmax(dim=-1)
    return (text == eos_token_id).int().argmax(dim=-1)


def can_trim(model: torch.nn.Module) -> bool:
    """True when ``model``'s text features are provably unchanged by cutting the padding (see the module doc)."""
    return (
        type(model) is open_clip.CLIP
        and getattr(model, "attn_mask", None) is not None
        and getattr(model, "text_pool_type", None) in TRIMMABLE_POOLS
        and (model.text_pool_type != "eos" or getattr(model, "text_eos_id", None) is not None)
    )


def trimmed_encode_text(self: open_clip.CLIP, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """open_clip's ``CLIP.encode_text`` run on the first ``L`` positions only (``L`` = last pooled position + 1)."""
    eos_id = getattr(self, "text_eos_id", None)
    length = int(pooled_positions(text, self.text_pool_type, eos_id).max()) + 1 if text.shape[0] else 1
    text = text[:, :length]
    cast_dtype = self.transformer.get_cast_dtype()
    x = self.token_embedding(text).to(cast_dtype)
    x = x + self.positional_embedding[:length].to(cast_dtype)
    x = self.transformer(x, attn_mask=self.attn_mask[:length, :length])
    x = self.ln_final(x)
    x = text_global_pool(x, text, self.text_pool_type, eos_token_id=eos_id)
    if self.text_projection is not None:
        x = self.text_projection(x) if isinstance(self.text_projection, torch.nn.Linear) else x @ self.text_projection
    return F.normalize(x, dim=-1) if normalize else x


def enable_text_trim(model: torch.nn.Module) -> bool:
    """Make ``model.encode_text`` (and so ``model(image, text)``) skip the padding when that is exact.

    Bound on the instance, so the weights, state dict and checkpoint format are untouched; DDP and the eval encoders
    call ``encode_text`` through the instance and get the trimmed version. Returns whether it was enabled."""
    if not can_trim(model):
        return False
    model.encode_text = types.MethodType(trimmed_encode_text, model)
    return True
