"""Released models by the names researchers use — ``hf-hub:ORG/REPO``, ``local-dir:DIR`` / a model folder, an
open_clip pretrained tag with ``--model`` — found offline first: a real Hugging Face cache layout is written on
disk (``models--ORG--REPO/{refs/main, blobs/, snapshots/REV/}``) holding a tiny open_clip model, and every load
runs with the network disabled (any socket connection fails the test). A cache miss is one line."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path

import open_clip
import pytest
import torch
from cli_runner import cli
from safetensors.torch import save_file

from cyclip_bench.errors import UserError
from cyclip_bench.eval import EvalConfig, evaluate
from cyclip_bench.fileio import sha256_file
from cyclip_bench.models import create_model, get_tokenizer
from cyclip_bench.models.interop import checkpoint_source, load_for_eval
from cyclip_bench.models.spec import PRESET_DIR

TINY = json.loads((PRESET_DIR / "tiny.json").read_text())
REPO = "tiny-org/tiny-clip"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def write_model_folder(
    folder: Path,
    *,
    model_cfg: dict | None = None,
    preprocess_cfg: dict | None = None,
    seed: int = 0,
    weights: str = "open_clip_model.safetensors",
) -> torch.nn.Module:
    """An open_clip model folder as open_clip's push_to_hf_hub writes it: open_clip_config.json + weights."""
    model_cfg = model_cfg or TINY
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg or {}}
    (folder / "open_clip_config.json").write_text(json.dumps(doc))
    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_cfg).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if weights.endswith(".safetensors"):
        save_file(state, str(folder / weights))
    else:
        torch.save(state, folder / weights)
    return model


def put_in_hub_cache(hf_home: Path, repo_id: str, folder: Path, revision: str = REVISION) -> Path:
    """Move ``folder``'s files into the hub cache as huggingface_hub lays it out: content-addressed blobs,
    snapshot links, refs/main naming the revision. Returns the snapshot folder."""
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.move(str(file), blob)
        (snapshot / file.name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture
def network_off(monkeypatch) -> list:
    """Every socket connection attempt is recorded and refused."""
    attempts: list = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture
def hf_home(tmp_path, monkeypatch, network_off) -> Path:
    """An empty Hugging Face home (HF_HOME) and home folder (for open_clip's ~/.cache/clip), offline."""
    home = tmp_path / "hf"
    home.mkdir()
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return home


@pytest.fixture
def cached_repo(hf_home, tmp_path) -> tuple[torch.nn.Module, Path]:
    """REPO in the hub cache: the tiny preset with CLIP's preprocessing; (its model, its snapshot folder)."""
    model = write_model_folder(tmp_path / "staging", preprocess_cfg={"mean": [0.5] * 3, "std": [0.25] * 3})
    return model, put_in_hub_cache(hf_home, REPO, tmp_path / "staging")


def _same_embeddings(a: torch.nn.Module, b: torch.nn.Module, context: int = 32) -> bool:
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    texts = open_clip.tokenize(["a red circle", "a blue star"], context_length=context)
    with torch.no_grad():
        return torch.allclose(a.encode_image(images), b.encode_image(images)) and torch.allclose(
            a.encode_text(texts), b.encode_text(texts), atol=1e-6
        )


@pytest.mark.parametrize("offline", ["1", None], ids=["HF_HUB_OFFLINE=1", "online-but-cached"])
def test_hf_hub_name_loads_from_the_cache_with_the_network_off(cached_repo, monkeypatch, network_off, offline):
    if offline is None:
        monkeypatch.delenv("HF_HUB_OFFLINE")  # a cached repo needs no network even when downloads are allowed
    source, snapshot = cached_repo
    loaded = load_for_eval(f"hf-hub:{REPO}")
    assert _same_embeddings(loaded.model, source)
    weights = snapshot / "open_clip_model.safetensors"
    record = loaded.record
    assert loaded.label == "tiny-org-tiny-clip" and record["path"] == f"hf-hub:{REPO}"
    assert record["sha256"] == sha256_file(weights) == record["source"]["weights_sha256"]
    assert record["source"]["kind"] == "hf-hub" and record["source"]["repo_id"] == REPO
    assert record["source"]["revision"] == REVISION and record["source"]["weights_file"] == str(weights)
    assert record["preprocess"]["mean"] == [0.5] * 3 and record["preprocess"]["std"] == [0.25] * 3
    assert record["tokenizer"]["kind"] == "simple" and record["tokenizer"]["context_length"] == 32
    assert network_off == []


@pytest.mark.parametrize("weights", ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"])
def test_a_model_folder_loads_by_local_dir_or_by_path(tmp_path, network_off, weights):
    folder = tmp_path / "my-model"
    source = write_model_folder(folder, weights=weights, seed=3)
    for name in (f"local-dir:{folder}", str(folder)):
        loaded = load_for_eval(name)
        assert _same_embeddings(loaded.model, source)
        assert loaded.label == "my-model" and loaded.record["path"] == f"local-dir:{folder.resolve()}"
        assert loaded.record["source"] == {
            "kind": "local-dir",
            "dir": str(folder.resolve()),
            "weights_file": str((folder / weights).resolve()),
            "weights_sha256": sha256_file(folder / weights),
        }
    assert network_off == []


def _register_tags(monkeypatch) -> None:
    """Two open_clip pretrained tags of the tiny preset: one published on the hub, one by URL only."""
    hub = open_clip.pretrained._pcfg(hf_hub="tiny-org/tiny-tag/", mean=(0.1, 0.2, 0.3), quick_gelu=True)
    url = open_clip.pretrained._pcfg(url="https://example.invalid/clip/tiny-url-weights.pt")
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, "tiny", {"hubtag": hub, "urltag": url})


def test_a_pretrained_tag_whose_file_is_in_open_clips_cache_loads_offline(hf_home, tmp_path, monkeypatch):
    _register_tags(monkeypatch)
    quick = write_model_folder(tmp_path / "staging", model_cfg={**TINY, "quick_gelu": True}, seed=4)
    (tmp_path / "staging" / "open_clip_config.json").unlink()  # a tag's repo may hold only the weights
    snapshot = put_in_hub_cache(hf_home, "tiny-org/tiny-tag", tmp_path / "staging")
    loaded = load_for_eval("hubtag", model_name="tiny")
    assert _same_embeddings(loaded.model, quick)  # the tag's QuickGELU is honoured: the weights' own activation
    assert loaded.record["model_config"]["quick_gelu"] is True
    assert loaded.record["preprocess"]["mean"] == [0.1, 0.2, 0.3]  # the tag's normalisation
    assert loaded.label == "tiny-hubtag" and loaded.record["path"] == "pretrained:tiny:hubtag"
    assert loaded.record["source"]["revision"] == REVISION
    assert loaded.record["sha256"] == sha256_file(snapshot / "open_clip_model.safetensors")

    clip_cache = Path(tmp_path / "home" / ".cache" / "clip")
    clip_cache.mkdir(parents=True)
    plain = write_model_folder(tmp_path / "url", seed=5, weights="w.bin")
    shutil.move(str(tmp_path / "url" / "w.bin"), clip_cache / "tiny-url-weights.pt")
    loaded = load_for_eval("urltag", model_name="tiny")
    assert _same_embeddings(loaded.model, plain)
    assert loaded.record["source"]["weights_file"] == str(clip_cache / "tiny-url-weights.pt")


def test_eval_by_hf_hub_name_dry_run_then_a_real_run(cached_repo, world_dir, tmp_path, monkeypatch, network_off):
    from cyclip_bench.eval.features import Encoder
    from cyclip_bench.models import factory, interop

    _, snapshot = cached_repo
    weights = snapshot / "open_clip_model.safetensors"
    args = ["eval", "-c", f"hf-hub:{REPO}", "--suite", "world-zeroshot", "--data-root", str(world_dir)]
    args += ["--out", str(tmp_path / "out"), "--no-cache", "--workers", "0", "--quiet"]
    with monkeypatch.context() as patched:  # the dry run reads no weights, builds no model, encodes nothing

        def fail(*args, **kwargs):
            raise AssertionError("loaded during a dry run")

        for module, name in ((interop, "read_weights_payload"), (factory, "load_weights_file")):
            patched.setattr(module, name, fail)
        for name in ("create_model", "create_model_from_config"):
            patched.setattr(factory, name, fail)
        patched.setattr(Encoder, "_run", fail)
        dry = cli(*args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        f"  tiny-org-tiny-clip: hf-hub:{REPO} (sha256 {sha256_file(weights)}) — weights {weights}, revision {REVISION}"
    ) in dry.stdout.splitlines()
    ran = cli(*args)
    assert ran.returncode == 0, ran.stderr
    result = json.loads((tmp_path / "out" / "tiny-org-tiny-clip__world-zeroshot.json").read_text())
    record = result["checkpoint"]
    assert record["source"]["kind"] == "hf-hub" and record["source"]["revision"] == REVISION
    assert record["sha256"] == sha256_file(weights) and record["tokenizer"]["padding"] == "max_length"
    assert [t["name"] for t in result["tasks"]] == ["shapes-zeroshot", "fine-zeroshot"]
    assert network_off == []


def test_eval_model_and_pretrained_flags_as_open_clip_spells_them(hf_home, tmp_path, world_dir, monkeypatch):
    _register_tags(monkeypatch)
    write_model_folder(tmp_path / "staging", model_cfg={**TINY, "quick_gelu": True})
    put_in_hub_cache(hf_home, "tiny-org/tiny-tag", tmp_path / "staging")
    base = ["--suite", "world-zeroshot", "--data-root", str(world_dir), "--out", str(tmp_path / "out"), "--dry-run"]
    for flags in (["--model", "tiny", "--pretrained", "hubtag"], ["--checkpoint", "hubtag", "--model", "tiny"]):
        ran = cli("eval", *flags, *base)
        assert ran.returncode == 0, ran.stderr
        assert "  tiny-hubtag: pretrained:tiny:hubtag (sha256 " in ran.stdout
    typo = cli("eval", "--model", "tiyn", "--pretrained", "hubtag", *base)
    assert typo.returncode == 2 and typo.stderr.count("\n") == 1 and "Did you mean 'tiny'" in typo.stderr
    vit = cli("eval", "-c", "openai", "--model", "ViT-B-33", *base)  # before: "neither … of 'ViT-B-33' (none)"
    assert vit.returncode == 2 and "Did you mean 'ViT-B-32'" in vit.stderr and "(none)" not in vit.stderr
    tag = cli("eval", "--model", "tiny", "--pretrained", "hubtga", *base)
    assert tag.returncode == 2 and "Did you mean 'hubtag'" in tag.stderr


@pytest.mark.parametrize(
    "argv, names",
    [
        (["eval", "-c", "hf-hub:nobody/nothing"], ["nobody/nothing", "models--nobody--nothing", "hf download"]),
        (
            ["eval", "--model", "tiny", "--pretrained", "hubtag"],
            ["error: --pretrained hubtag (model tiny)", "tiny-org/tiny-tag", "models--tiny-org--tiny-tag"],
        ),
        (
            ["eval", "--model", "tiny", "--pretrained", "urltag"],
            ["error: --pretrained urltag", ".cache/clip/tiny-url-weights.pt"],
        ),
        (
            ["eval", "-c", "urltag", "--model", "tiny"],
            ["error: --checkpoint urltag", ".cache/clip/tiny-url-weights.pt"],
        ),
        (["train", "--pretrained", "hf-hub:nobody/nothing"], ["--pretrained hf-hub:nobody/nothing", "hf download"]),
        (["train", "--model", "tiny", "--pretrained", "hubtag"], ["--pretrained hubtag", "models--tiny-org--tiny-tag"]),
    ],
    ids=["hf-hub", "hub-tag", "url-tag", "checkpoint-tag", "train-hf-hub", "train-tag"],
)
def test_a_cache_miss_is_one_line_naming_what_to_fetch_and_where(
    hf_home, tmp_path, world_dir, monkeypatch, network_off, argv, names
):
    _register_tags(monkeypatch)
    if argv[0] == "eval":
        argv = [*argv, "--suite", "world-zeroshot", "--data-root", str(world_dir), "--out", str(tmp_path / "o")]
    else:
        argv = [*argv, "--train-data", str(world_dir / "captions" / "train.csv"), "--logs", str(tmp_path / "logs")]
    ran = cli(*argv)
    assert ran.returncode == 2, ran.stderr
    [line] = ran.stderr.splitlines()
    assert line.startswith("error: ") and "Traceback" not in ran.stderr
    assert "HF_HUB_OFFLINE=1 forbids downloading" in line and "local-dir:DIR" in line
    for name in names:
        assert name in line
    assert str(hf_home / "hub") in line or ".cache/clip" in line
    assert network_off == []


def test_train_pretrained_accepts_hf_hub_and_model_folders(cached_repo, tmp_path, network_off):
    source, _ = cached_repo
    model, info = create_model("tiny", pretrained=f"hf-hub:{REPO}")
    assert _same_embeddings(model.eval(), source) and info.preprocess["std"] == [0.25] * 3
    folder_model = write_model_folder(tmp_path / "folder", seed=7)
    for name in (f"local-dir:{tmp_path / 'folder'}", str(tmp_path / "folder")):
        model, _ = create_model("tiny", pretrained=name)
        assert _same_embeddings(model.eval(), folder_model)
    with pytest.raises(UserError, match="does not fit the architecture"):
        create_model("tiny-64", pretrained=f"hf-hub:{REPO}")  # weights go into --model's architecture, strictly
    assert network_off == []


def test_train_pretrained_takes_every_form_eval_takes(hf_home, cached_repo, tmp_path, monkeypatch, network_off):
    """``--pretrained`` is resolved as eval's ``--checkpoint``: an hf-hub repo or a model folder alone is built
    as it is (its own architecture, preprocessing and tokenizer); a weights file or a tag goes into --model."""
    from cyclip_bench.models import create_training_model

    _register_tags(monkeypatch)
    source, _ = cached_repo
    model, info = create_training_model(None, f"hf-hub:{REPO}")
    assert _same_embeddings(model.eval(), source) and info.name == f"hf-hub:{REPO}"
    assert info.preprocess["mean"] == [0.5] * 3 and info.preprocess["std"] == [0.25] * 3
    # a folder whose architecture is no preset (context 16, canonicalising tokenizer): fits no --model default
    folder = tmp_path / "siglip-ish"
    own = write_model_folder(folder, model_cfg=SIGLIP_STYLE, preprocess_cfg=SIGLIP_PREPROCESS, seed=2)
    for name in (f"local-dir:{folder}", str(folder)):
        model, info = create_training_model(None, name)
        assert _same_embeddings(model.eval(), own, context=16)
        assert info.config == SIGLIP_STYLE and info.preprocess == {"image_size": 32, **SIGLIP_PREPROCESS}
        assert info.tokenizer["context_length"] == 16 and info.tokenizer["kwargs"] == {"clean": "canonicalize"}
    with pytest.raises(UserError, match="does not fit the architecture"):
        create_training_model("tiny", str(folder))  # with --model: its weights go into tiny, strictly
    with pytest.raises(UserError, match="^--image-size 64: --pretrained .* drop --image-size"):
        create_training_model(None, str(folder), image_size=64)
    # a tag (in the hub cache) and a weights file, with --model
    quick = write_model_folder(tmp_path / "staging", model_cfg={**TINY, "quick_gelu": True}, seed=4)
    (tmp_path / "staging" / "open_clip_config.json").unlink()
    snapshot = put_in_hub_cache(hf_home, "tiny-org/tiny-tag", tmp_path / "staging")
    model, info = create_training_model("tiny", "hubtag")
    assert _same_embeddings(model.eval(), quick) and info.preprocess["mean"] == [0.1, 0.2, 0.3]
    model, _ = create_training_model("tiny", str(snapshot / "open_clip_model.safetensors"))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in quick.parameters())
    model, info = create_training_model(None, None)
    assert info.name == "tiny"  # nothing given: the default preset, random
    assert network_off == []


def test_train_from_a_model_folder_alone_then_eval_its_checkpoint(tmp_path, world_dir, network_off):
    """`train --pretrained DIR` with no --model trains the folder's own model (before: the tiny preset, which
    its weights do not fit), names the run after it, and its checkpoint evaluates with the folder's settings."""
    folder = tmp_path / "siglip-ish"
    write_model_folder(folder, model_cfg=SIGLIP_STYLE, preprocess_cfg=SIGLIP_PREPROCESS, seed=2)
    logs = tmp_path / "logs"
    args = ["train", "--pretrained", f"local-dir:{folder}", "--train-data", str(world_dir / "captions" / "train.csv")]
    args += ["--logs", str(logs), "--max-steps", "1", "--batch-size", "8", "--workers", "0", "--no-progress"]
    ran = cli(*args)
    assert ran.returncode == 0, ran.stderr
    checkpoint = logs / "clip-siglip-ish-s0" / "checkpoints" / "latest.pt"
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["model_name"] == f"local-dir:{folder.resolve()}" and payload["model_config"] == SIGLIP_STYLE
    assert payload["preprocess"] == {"image_size": 32, **SIGLIP_PREPROCESS}
    loaded = load_for_eval(str(checkpoint))
    assert loaded.record["tokenizer"]["context_length"] == 16
    assert loaded.record["tokenizer"]["kwargs"] == {"clean": "canonicalize"}
    assert loaded.record["preprocess"]["mean"] == [0.5] * 3
    typo = cli("train", "--model", "tiyn", "--pretrained", str(folder), *args[3:])
    assert typo.returncode == 2 and typo.stderr.count("\n") == 1 and "Did you mean 'tiny'" in typo.stderr
    assert network_off == []


def test_checkpoint_source_resolves_without_reading_weights(cached_repo, monkeypatch):
    from cyclip_bench.models import factory, weights

    monkeypatch.setattr(weights, "read_weights_payload", lambda *a: pytest.fail("weights read"))
    monkeypatch.setattr(factory, "load_weights_file", lambda *a: pytest.fail("weights read"))
    found = checkpoint_source(f"hf-hub:{REPO}")
    assert (found.label, found.kind, found.path) == ("tiny-org-tiny-clip", "hf-hub", f"hf-hub:{REPO}")
    assert f"revision {REVISION}" in found.where
    with pytest.raises(UserError, match="not a Hugging Face repo id"):
        checkpoint_source("hf-hub:no-slash")


# ---- each model's own preprocessing and tokenizer ------------------------------------------------------------
SIGLIP_STYLE = {
    **TINY,
    "text_cfg": {
        **TINY["text_cfg"],
        "context_length": 16,
        "no_causal_mask": True,
        "pool_type": "last",
        "tokenizer_kwargs": {"clean": "canonicalize"},
    },
}
SIGLIP_PREPROCESS = {"mean": [0.5] * 3, "std": [0.5] * 3, "resize_mode": "squash", "interpolation": "bilinear"}


def _spy_encoders(monkeypatch) -> dict[str, list[torch.Tensor]]:
    seen: dict[str, list[torch.Tensor]] = {"images": [], "texts": []}
    image, text = open_clip.CLIP.encode_image, open_clip.CLIP.encode_text

    def encode_image(self, images, normalize=False):
        seen["images"].append(images.detach().clone())
        return image(self, images, normalize)

    def encode_text(self, tokens, normalize=False):
        seen["texts"].append(tokens.detach().clone())
        return text(self, tokens, normalize)

    monkeypatch.setattr(open_clip.CLIP, "encode_image", encode_image)
    monkeypatch.setattr(open_clip.CLIP, "encode_text", encode_text)
    return seen


def test_a_siglip_style_config_sets_the_transform_and_tokenizer_eval_uses_and_records(
    tmp_path, world_dir, monkeypatch, network_off
):
    folder = tmp_path / "siglip-ish"
    write_model_folder(folder, model_cfg=SIGLIP_STYLE, preprocess_cfg=SIGLIP_PREPROCESS)
    loaded = load_for_eval(str(folder))
    assert loaded.record["preprocess"] == {"image_size": 32, **SIGLIP_PREPROCESS}
    assert loaded.record["tokenizer"] == {
        "kind": "simple",
        "name": None,
        "context_length": 16,
        "kwargs": {"clean": "canonicalize"},
        "padding": "max_length",
    }
    tokens = get_tokenizer(loaded.info)(["A Photo, of a CAT!"])
    expected = open_clip.tokenizer.SimpleTokenizer(context_length=16, clean="canonicalize")(["a photo of a cat"])
    assert tokens.shape == (1, 16) and torch.equal(tokens, expected)  # canonicalised, padded to max length
    assert (tokens[0, 7:] == 0).all()

    seen = _spy_encoders(monkeypatch)

    def run(out: Path) -> dict:
        cfg = EvalConfig(
            checkpoints=(str(folder),), suite="world-zeroshot", out=out, data_root=world_dir, workers=0,
            cache_dir=tmp_path / "cache", progress=False,
        )  # fmt: skip
        [path] = evaluate(cfg)
        return json.loads(path.read_text())["checkpoint"]

    first = run(tmp_path / "a")
    images, texts = torch.cat(seen["images"]), torch.cat(seen["texts"])
    assert images.shape[-2:] == (32, 32) and images.min() >= -1.0 - 1e-6 and images.max() <= 1.0 + 1e-6
    assert images.min() < -0.9 or images.max() > 0.9  # normalised by 0.5/0.5, not by CLIP's mean/std
    assert texts.shape[-1] == 16 and (texts[:, -1] == 0).all()  # every caption padded to 16 tokens
    assert first["preprocess"] == loaded.record["preprocess"] and first["tokenizer"] == loaded.record["tokenizer"]

    encoded = len(seen["texts"])
    assert run(tmp_path / "again")["tokenizer"] == first["tokenizer"] and len(seen["texts"]) == encoded  # cached
    changed = {**SIGLIP_PREPROCESS, "mean": [0.4] * 3, "resize_mode": "shortest"}
    config = {"model_cfg": {**SIGLIP_STYLE, "text_cfg": {**SIGLIP_STYLE["text_cfg"], "tokenizer_kwargs": {}}}}
    (folder / "open_clip_config.json").write_text(json.dumps({**config, "preprocess_cfg": changed}))
    second = run(tmp_path / "b")
    assert len(seen["texts"]) > encoded  # another tokenizer: the cached text features are not reused
    assert second["preprocess"]["mean"] == [0.4] * 3 and second["preprocess"]["resize_mode"] == "shortest"
    assert second["tokenizer"]["kwargs"] == {} and second["sha256"] == first["sha256"]  # same weights, new record


@pytest.mark.parametrize("mode", ["shortest", "longest", "squash"])
def test_resize_modes_give_open_clips_eval_transform(mode):
    from PIL import Image

    from cyclip_bench.models import build_transform

    pixels = torch.randint(0, 256, (40, 72, 3), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    image = Image.fromarray(pixels.numpy())
    preprocess = {"image_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bilinear"}
    ours = build_transform({**preprocess, "resize_mode": mode})(image)
    theirs = open_clip.transform.image_transform(
        32, is_train=False, mean=(0.5,) * 3, std=(0.5,) * 3, interpolation="bilinear", resize_mode=mode
    )(image)
    assert ours.shape == (3, 32, 32) and torch.equal(ours, theirs)
