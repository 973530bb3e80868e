"""Model presets, creation, preprocessing, tokenizer and checkpoint files."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from cyclip_bench.errors import UserError
from cyclip_bench.models import (
    PRESETS,
    build_transform,
    create_model,
    create_model_from_config,
    get_tokenizer,
    load_checkpoint,
    save_checkpoint,
)


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_builds_and_encodes(name):
    model, info = create_model(name)
    model.eval()  # BatchNorm (the ResNet presets) cannot take a batch of one in training mode
    image = build_transform(info.preprocess)(Image.new("RGB", (50, 40), (200, 10, 10)))
    assert image.shape == (3, info.image_size, info.image_size)
    tokens = get_tokenizer(info)(["a red circle"])
    assert tokens.shape == (1, info.context_length)
    image_features, text_features, scale = model(image[None], tokens)
    assert image_features.shape == text_features.shape == (1, info.config["embed_dim"])
    assert torch.isclose(scale, torch.tensor(1 / 0.07))


def test_truncation_keeps_end_of_text():
    _, info = create_model("tiny")
    tokenizer = get_tokenizer(info)
    tokens = tokenizer(["a very long caption " * 50, "short"])
    assert tokens.shape == (2, info.context_length)
    assert tokens[0, -1].item() == tokenizer.eot_token_id
    assert (tokens[1] == tokenizer.eot_token_id).sum() == 1


def test_unknown_model_suggests_the_preset():
    with pytest.raises(UserError, match="Did you mean 'tiny'"):
        create_model("tiyn")


def test_image_size_must_fit_the_patch():
    with pytest.raises(UserError, match="--image-size 30.*patch size 8"):
        create_model("tiny-vit", image_size=30)
    _, info = create_model("tiny-vit", image_size=48)
    assert info.preprocess["image_size"] == 48 and info.config["vision_cfg"]["image_size"] == 48


def test_image_size_must_fit_the_resnet_downsampling():
    with pytest.raises(UserError, match="--image-size 48.*multiple of 32"):
        create_model("tiny", image_size=48)
    model, info = create_model("tiny", image_size=64)
    assert info.preprocess["image_size"] == 64
    assert model.encode_image(torch.zeros(2, 3, 64, 64)).shape == (2, info.config["embed_dim"])


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    model, info = create_model("tiny")
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"state_dict": model.state_dict(), "model_config": info.config, "n": [1, 2]})
    payload = load_checkpoint(path)
    rebuilt, _ = create_model_from_config(info.name, payload["model_config"], info.preprocess)
    rebuilt.load_state_dict(payload["state_dict"], strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, rebuilt.state_dict()[key])
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_unloadable_checkpoint_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot load checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_resnet_configs_with_patch_size_null_build_from_a_stored_config() -> None:
    """open_clip's RN50 configs say ``patch_size: null``; a checkpoint storing that config must load again."""
    import open_clip

    from cyclip_bench.models import check_model_config

    for name in ("RN50", "RN50-quickgelu", "RN101"):
        config = open_clip.get_model_config(name)
        assert config["vision_cfg"]["patch_size"] is None
        check_model_config(config, f"model {name!r}: model_config")
