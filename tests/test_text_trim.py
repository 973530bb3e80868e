"""The padded-context trim of the text tower is exact: same features and gradients as open_clip's encode_text."""

from __future__ import annotations

import copy

import open_clip
import pytest
import torch

from cyclip_bench.models import create_model, create_model_from_config, get_tokenizer
from cyclip_bench.models.text_trim import can_trim, enable_text_trim, pooled_positions


def _untrimmed(model: torch.nn.Module) -> torch.nn.Module:
    """A copy whose encode_text is open_clip's own (the instance override removed)."""
    plain = copy.deepcopy(model)
    plain.__dict__.pop("encode_text", None)
    assert plain.encode_text.__func__ is open_clip.CLIP.encode_text
    return plain


CAPTIONS = [
    "a red circle",
    "a small blue square on the left of a large green triangle under soft light",
    "x",
    "",
    "a photo of a " + "very " * 40 + "long caption",  # longer than the context: truncated, EOT kept
]


@pytest.mark.parametrize("name", ["tiny", "tiny-vit"])
def test_trimmed_features_and_gradients_equal_open_clip(name: str) -> None:
    torch.manual_seed(0)
    model, info = create_model(name)
    assert model.__dict__.get("encode_text") is not None, "create_model enables the trim"
    plain = _untrimmed(model)
    text = get_tokenizer(info)(CAPTIONS)
    trimmed = model.encode_text(text, normalize=True)
    full = plain.encode_text(text, normalize=True)
    torch.testing.assert_close(trimmed, full, rtol=1e-5, atol=1e-6)

    trimmed.pow(2).sum().mul(3).backward()
    full.pow(2).sum().mul(3).backward()
    for (pname, a), (_, b) in zip(model.named_parameters(), plain.named_parameters(), strict=True):
        if b.grad is None:
            assert a.grad is None or not a.grad.any(), pname
            continue
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=pname)


def test_short_batch_runs_only_the_needed_positions() -> None:
    model, info = create_model("tiny")
    text = get_tokenizer(info)(["a red circle", "a square"])
    seen: list[int] = []
    handle = model.transformer.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(args[0].shape[1]), with_kwargs=True
    )
    model.encode_text(text)
    handle.remove()
    assert seen == [int(pooled_positions(text, "argmax", None).max()) + 1]
    assert seen[0] < info.context_length


def test_rn50_text_tower_trimmed_equals_full() -> None:
    """The 77-token towers of the paper's architecture (random init, so no download)."""
    torch.manual_seed(1)
    config = open_clip.get_model_config("RN50-quickgelu")
    config = {**config, "vision_cfg": {**config["vision_cfg"], "layers": [1, 1, 1, 1], "width": 8}}
    model, info = create_model_from_config("RN50-quickgelu", config)
    assert can_trim(model)
    text = open_clip.get_tokenizer("RN50-quickgelu")(["a photo of a tench.", "a bad photo of the great white shark."])
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(text), _untrimmed(model).encode_text(text), rtol=1e-5, atol=1e-5)


def test_models_where_trimming_is_not_exact_are_left_alone() -> None:
    model, _ = create_model("tiny")
    plain = _untrimmed(model)
    plain.attn_mask = None  # a bidirectional text tower: padding changes the pooled features
    assert not can_trim(plain) and not enable_text_trim(plain)
    last = _untrimmed(model)
    last.text_pool_type = "last"
    assert not can_trim(last) and not enable_text_trim(last)
    assert "encode_text" not in last.__dict__


def test_trim_does_not_change_the_state_dict() -> None:
    model, _ = create_model("tiny")
    assert set(model.state_dict()) == set(_untrimmed(model).state_dict())
