"""Foreign checkpoints: the official CyCLIP release (OpenAI RN50 layout, `module.` prefixes), open_clip files,
strict loading with counts of missing/unexpected keys."""

from __future__ import annotations

import json

import open_clip
import pytest
import torch

from cyclip_bench.errors import UserError
from cyclip_bench.models import interop, weights
from cyclip_bench.models.text_trim import enable_text_trim

# A small ResNet CLIP in OpenAI's layout (blocks per stage 1,1,1,1) registered as an open_clip config, so the
# full official-format path (infer architecture → build → strict load) runs in a second.
SMALL_RN = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 16, "patch_size": None},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def small_rn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "RNsmall-quickgelu.json").write_text(json.dumps(SMALL_RN))
    open_clip.add_model_config(folder)
    return "RNsmall-quickgelu"


def _official(state_dict: dict) -> dict:
    """The official CyCLIP release layout: DDP `module.` prefixes + OpenAI's metadata entries."""
    sd = {f"module.{k}": v for k, v in state_dict.items()}
    sd["module.input_resolution"] = torch.tensor(32)
    sd["module.context_length"] = torch.tensor(16)
    sd["module.vocab_size"] = torch.tensor(49408)
    return {"epoch": 64, "name": "cyclip", "state_dict": sd, "optimizer": {"state": {}, "param_groups": []}}


def test_rn50_openai_layout_maps_key_for_key_onto_rn50_quickgelu():
    cfg = open_clip.get_model_config("RN50-quickgelu")
    with torch.device("meta"):
        reference = open_clip.CLIP(**cfg).state_dict()
    # OpenAI's RN50 state dict (CyCLIP official release) has the same names; build it in that layout.
    official = _official(dict(reference))
    mapped = interop.openai_to_open_clip(official["state_dict"])
    assert interop.infer_openai_architecture(official["state_dict"]) == "RN50-quickgelu"
    assert set(mapped) == set(reference)
    assert all(mapped[k].shape == reference[k].shape for k in reference)


def test_official_release_loads_with_identical_embeddings_and_quickgelu(small_rn, tmp_path, monkeypatch):
    monkeypatch.setitem(weights._RESNETS, (1, 1, 1, 1), "RNsmall")
    torch.manual_seed(0)
    source = open_clip.create_model(small_rn).eval()
    path = tmp_path / "epoch_64.pt"
    torch.save(_official(source.state_dict()), path)
    loaded = interop.load_for_eval(str(path))
    assert loaded.record["format"] == "cyclip-official" and loaded.info.name == "RNsmall-quickgelu"
    assert isinstance(loaded.model.transformer.resblocks[0].mlp.gelu, open_clip.transformer.QuickGELU)
    images = torch.randn(2, 3, 32, 32)
    texts = open_clip.tokenize(["a red circle", "a blue star"], context_length=16)
    with torch.no_grad():
        assert torch.equal(loaded.model.encode_image(images), source.encode_image(images))
        # Every model cyclip-bench builds skips the text padding (exact up to float rounding: test_text_trim.py);
        # with the same trim on the source the embeddings are bit-identical, i.e. the weights loaded unchanged.
        untrimmed = source.encode_text(texts)
        assert enable_text_trim(source)
        assert torch.equal(loaded.model.encode_text(texts), source.encode_text(texts))
        torch.testing.assert_close(loaded.model.encode_text(texts), untrimmed, rtol=1e-5, atol=1e-6)


def test_mismatched_state_dict_reports_counts(small_rn, tmp_path, monkeypatch):
    monkeypatch.setitem(weights._RESNETS, (1, 1, 1, 1), "RNsmall")
    sd = open_clip.create_model(small_rn).state_dict()
    sd.pop("ln_final.weight")
    sd.pop("token_embedding.weight")
    sd["extra.weight"] = torch.zeros(1)
    sd["text_projection"] = torch.zeros(3, 3)
    path = tmp_path / "bad.pt"
    torch.save(_official(sd), path)
    with pytest.raises(UserError, match=r"2 missing key\(s\).*1 unexpected key\(s\).*1 with the wrong shape"):
        interop.load_for_eval(str(path))


def test_open_clip_checkpoint_with_model_flag(tmp_path):
    torch.manual_seed(1)
    source = open_clip.create_model("tiny").eval()
    path = tmp_path / "epoch_3.pt"
    # open_clip_train's layout: {epoch, name, state_dict (module. under DDP), optimizer}
    torch.save(
        {
            "epoch": 3,
            "name": "x",
            "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()},
            "optimizer": {},
        },
        path,
    )
    loaded = interop.load_for_eval(str(path), model_name="tiny")
    assert loaded.record["format"] == "open_clip" and loaded.label == "epoch_3"
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model.encode_image(images), source.encode_image(images))
    with pytest.raises(UserError, match="missing key"):
        interop.load_for_eval(str(path), model_name="tiny-64")


def test_unknown_pretrained_tag_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="needs --model"):
        interop.load_for_eval(str(tmp_path / "nope.pt"))
    with pytest.raises(UserError, match="neither a file nor a pretrained tag of 'RN50'.*openai"):
        interop.load_for_eval("laion9000", model_name="RN50")


def test_safetensors_state_dict_and_vit_layout_inference(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(2)
    source = open_clip.create_model("tiny").eval()
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    loaded = interop.load_for_eval(str(path), model_name="tiny")
    assert loaded.record["format"] == "open_clip" and len(loaded.sha256) == 64
    with torch.device("meta"):
        vit = open_clip.CLIP(**open_clip.get_model_config("ViT-B-32-quickgelu")).state_dict()
    official = {f"module.{k}": v for k, v in vit.items()}
    assert interop.infer_openai_architecture(official) == "ViT-B-32-quickgelu"
