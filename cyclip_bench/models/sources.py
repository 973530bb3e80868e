"""Where a released model comes from, by the names researchers use, resolved before any weight is read:

- ``hf-hub:ORG/REPO``: a Hugging Face repo holding open_clip's ``open_clip_config.json`` and weights;
- ``local-dir:PATH``, or a plain folder holding ``open_clip_config.json`` + weights: the same, on disk;
- an open_clip pretrained tag of ``--model NAME`` (``openai``, ``laion2b_s34b_b79k``, …).

(Weight files — this project's, open_clip's, OpenAI/CyCLIP's, plain state dicts — are ``models/interop.py``'s.)

Offline first: a repo's files and a tag's weights are looked up in the local Hugging Face cache (and, for a
tag published only by URL, open_clip's own cache folder ``~/.cache/clip``) without touching the network. When
they are not there, ``HF_HUB_OFFLINE=1`` (or a failed download) is one line naming what to fetch, where it was
looked up and how to use weights already on disk. Nothing read here runs code: configs are JSON, weights are
read by ``models/weights.py`` (safetensors, or ``torch.load(weights_only=True)``)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclip_bench.errors import ConfigError, UserError
from cyclip_bench.fileio import sha256_file
from cyclip_bench.models.hub import (
    CachedFile,
    check_repo_id,
    download,
    fetch_hint,
    find_cached,
    hub_cache_dir,
    hub_offline,
    repo_folder,
)
from cyclip_bench.models.spec import check_model_name
from cyclip_bench.registry import did_you_mean
from cyclip_bench.validation import safe_label

HF_HUB = "hf-hub:"
LOCAL_DIR = "local-dir:"
CONFIG_NAME = "open_clip_config.json"
# open_clip's preference among a model folder's weight files (open_clip.factory._find_checkpoint_in_dir).
WEIGHT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.pth",
    "model.pth",
)
ON_DISK = "or use weights already on disk: {flag} FILE.safetensors|.pt|.bin with --model NAME, {flag} local-dir:DIR "
ON_DISK += "(a folder with open_clip_config.json + weights), or HF_HOME/HF_HUB_CACHE pointing at a cache that holds it"


@dataclass(frozen=True)
class ModelSource:
    """A model named by a folder, an hf-hub repo or a pretrained tag, resolved without reading its weights.

    ``weights`` is None (and ``sha256`` too) only when the files are not cached and may still be downloaded
    (``resolve_model_source(fetch=False)`` online: what ``eval --dry-run`` reports)."""

    kind: str  # "hf-hub" | "local-dir" | "pretrained"
    label: str  # a default label, one safe file-name component
    path: str  # the record's "path": "hf-hub:ORG/REPO", "local-dir:/abs/dir", "pretrained:MODEL:TAG"
    weights: Path | None  # the weights file that will be read
    sha256: str | None  # that file's
    model_name: str  # the architecture: --model for a tag, the source's own name otherwise
    model_cfg: dict | None = None  # open_clip_config.json's model_cfg (folders and repos)
    preprocess_cfg: dict = field(default_factory=dict)  # its preprocess_cfg, or a tag's mean/std/…
    quick_gelu: bool = False  # a tag trained with QuickGELU (OpenAI's weights)
    tokenizer_dir: Path | None = None  # a model folder's own HF tokenizer files (open_clip's local-dir rule)
    details: dict = field(default_factory=dict)  # repo_id / tag / dir, revision, cache: the record's "source"
    given: tuple[str, str | None, str] = ("", None, "--checkpoint")  # (source, --model, flag) as resolved

    def fetched(self) -> ModelSource:
        """This source with its weights on disk: itself, or resolved again with downloading allowed."""
        if self.weights is not None:
            return self
        source, model_name, flag = self.given
        return resolve_model_source(source, model_name, flag=flag, fetch=True)

    @property
    def record(self) -> dict[str, Any]:
        """The provenance of where the weights came from (results' ``checkpoint.source``)."""
        weights = str(self.weights) if self.weights else None
        return {"kind": self.kind, **self.details, "weights_file": weights, "weights_sha256": self.sha256}

    @property
    def where(self) -> str:
        """Where the weights are read from, for the plan: the file, or that they are still to be downloaded."""
        if self.weights is None:
            return "not cached: downloaded when the run starts"
        revision = self.details.get("revision")
        return f"weights {self.weights}" + (f", revision {revision}" if revision else "")


def is_model_source(source: str) -> bool:
    """True for ``hf-hub:``/``local-dir:`` names and folders holding ``open_clip_config.json``."""
    return source.startswith((HF_HUB, LOCAL_DIR)) or (Path(source) / CONFIG_NAME).is_file()


def resolve_model_source(
    source: str, model_name: str | None = None, *, flag: str = "--checkpoint", fetch: bool = True
) -> ModelSource:
    """``source`` (an hf-hub repo, a model folder or, with ``model_name``, a pretrained tag) → its files in the
    cache or on disk, hashed, nothing loaded. ``fetch``: download what the cache lacks unless HF_HUB_OFFLINE is
    set (False: report it as still to download). Every failure is one UserError line naming ``flag``."""
    for matches, resolver in _RESOLVERS:
        if matches(source):
            return dataclasses.replace(resolver(source, model_name, flag, fetch), given=(source, model_name, flag))
    raise AssertionError("the pretrained-tag resolver matches every name")  # pragma: no cover


def source_label(source: str) -> str | None:
    """The default label of an hf-hub repo (``ORG-REPO``) or a model folder (its name), from the name alone
    (nothing read but the folder's listing); None for anything else (a weights file, a pretrained tag)."""
    if source.startswith(HF_HUB):
        return safe_label(source[len(HF_HUB) :].strip("/").replace("/", "-"))
    if is_model_source(source):
        raw = source[len(LOCAL_DIR) :] if source.startswith(LOCAL_DIR) else source
        return safe_label(Path(raw).expanduser().resolve().name)
    return None


# ---- model folders ------------------------------------------------------------------------------------------
def read_open_clip_config(path: Path, where: str) -> tuple[dict, dict]:
    """(model_cfg, preprocess_cfg) of an ``open_clip_config.json`` (JSON only; ConfigError naming the file)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{where}: cannot read {path} ({err.strerror or type(err).__name__})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{where}: {path} is not valid JSON ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("model_cfg"), dict):
        raise ConfigError(
            f"{where}: {path} has no 'model_cfg' table (expected open_clip's open_clip_config.json: "
            '{"model_cfg": {...}, "preprocess_cfg": {...}})'
        )
    preprocess = doc.get("preprocess_cfg") or {}
    if not isinstance(preprocess, dict):
        raise ConfigError(f"{where}: {path}: 'preprocess_cfg' must be a table, found {type(preprocess).__name__}")
    return doc["model_cfg"], preprocess


def _tokenizer_dir(model_cfg: dict, folder: Path) -> Path | None:
    return folder if model_cfg.get("text_cfg", {}).get("hf_tokenizer_name") else None


def _resolve_folder(source: str, model_name: str | None, flag: str, fetch: bool) -> ModelSource:
    raw = source[len(LOCAL_DIR) :] if source.startswith(LOCAL_DIR) else source
    where = f"{flag} {source}"
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise UserError(f"{where}: no such folder (local-dir: names a folder holding {CONFIG_NAME} + weights)")
    config = folder / CONFIG_NAME
    if not config.is_file():
        raise UserError(f"{where}: the folder has no {CONFIG_NAME} (open_clip's model folder: config + weights)")
    model_cfg, preprocess_cfg = read_open_clip_config(config, where)
    weights = next((folder / n for n in WEIGHT_NAMES if (folder / n).is_file()), None)
    if weights is None:
        raise UserError(f"{where}: the folder has {CONFIG_NAME} but no weights ({' or '.join(WEIGHT_NAMES[:3])})")
    folder = folder.resolve()
    return ModelSource(
        kind="local-dir",
        label=safe_label(folder.name),
        path=f"{LOCAL_DIR}{folder}",
        weights=weights.resolve(),
        sha256=sha256_file(weights),
        model_name=f"{LOCAL_DIR}{folder}",
        model_cfg=model_cfg,
        preprocess_cfg=preprocess_cfg,
        tokenizer_dir=_tokenizer_dir(model_cfg, folder),
        details={"dir": str(folder)},
    )


# ---- hf-hub repos -------------------------------------------------------------------------------------------
def _cached_or_fetched(
    repo_id: str, names: tuple[str, ...], fetch: bool, miss: Callable[[str], UserError]
) -> CachedFile | None:
    """The first of ``names`` in the cache; else downloaded (``fetch`` and online); else None (not ``fetch``,
    online: to download later); else ``miss(reason)`` raised."""
    found = find_cached(repo_id, names)
    if found is not None:
        return found
    if hub_offline():
        raise miss("HF_HUB_OFFLINE=1 forbids downloading")
    if not fetch:
        return None
    try:
        return download(repo_id, names)
    except Exception as err:  # noqa: BLE001 -- whatever the hub client raises: one line with its reason
        raise miss(f"downloading failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None


def _resolve_hub(source: str, model_name: str | None, flag: str, fetch: bool) -> ModelSource:
    repo_id = source[len(HF_HUB) :].strip("/")
    where = f"{flag} {source}"
    check_repo_id(repo_id, where)

    def miss(what: str) -> Callable[[str], UserError]:
        return lambda reason: UserError(
            f"{where}: {what} is not in the local Hugging Face cache (looked in {repo_folder(repo_id)}) and "
            f"{reason}; fetch it on a connected machine ({fetch_hint(repo_id)}) into that cache, "
            + ON_DISK.format(flag=flag)
        )

    config = _cached_or_fetched(repo_id, (CONFIG_NAME,), fetch, miss(CONFIG_NAME))
    label = safe_label(repo_id.replace("/", "-"))
    details: dict[str, Any] = {"repo_id": repo_id, "revision": None, "cache": str(hub_cache_dir())}
    if config is None:
        path = f"{HF_HUB}{repo_id}"
        return ModelSource("hf-hub", label, path, weights=None, sha256=None, model_name=path, details=details)
    model_cfg, preprocess_cfg = read_open_clip_config(config.path, where)
    weights = _cached_or_fetched(repo_id, WEIGHT_NAMES[:3], fetch, miss("its weights (open_clip_model.safetensors)"))
    details["revision"] = config.revision
    return ModelSource(
        kind="hf-hub",
        label=label,
        path=f"{HF_HUB}{repo_id}",
        weights=weights.path if weights else None,
        sha256=sha256_file(weights.path) if weights else None,
        model_name=f"{HF_HUB}{repo_id}",
        model_cfg=model_cfg,
        preprocess_cfg=preprocess_cfg,
        details=details,
    )


# ---- open_clip pretrained tags ------------------------------------------------------------------------------
def check_pretrained_tag(tag: str, model_name: str | None, flag: str = "--checkpoint") -> str:
    """The architecture of a pretrained tag: --model, checked (did-you-mean), whose tags include ``tag``."""
    import open_clip

    if model_name is None:
        raise UserError(
            f"{flag} {tag!r} does not exist: not a file, a model folder, hf-hub:ORG/REPO or local-dir:DIR "
            f"(a pretrained tag needs --model NAME)"
        )
    try:
        check_model_name(model_name)
    except UserError as err:
        raise UserError(f"--model: {err}") from None
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if tag.lower().replace("-", "_") not in tags:  # open_clip's own spelling rule for tags
        known = ", ".join(tags) or "none"
        hint = did_you_mean(tag, tags)
        raise UserError(
            f"{flag} {tag!r} is neither a file nor a pretrained tag of {model_name!r}.{hint} Its tags: {known}"
        )
    return model_name


def _tag_files(cfg: dict) -> tuple[str | None, tuple[str, ...], Path | None]:
    """(hub repo, file names to look for there, the URL's file in open_clip's cache) of a tag's config, in
    open_clip's order (a .safetensors alternative first)."""
    repo, names = None, ()
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])  # "ORG/REPO/" → the default file name
        filename = filename or "open_clip_pytorch_model.bin"
        names = (filename,)
        if filename == "open_clip_pytorch_model.bin":
            names = ("open_clip_model.safetensors", filename)
        elif filename.endswith((".bin", ".pth")):
            names = (filename[:-4] + ".safetensors", filename)
    url_file = None
    if cfg.get("url"):
        url_file = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
    return repo, names, url_file


def _resolve_tag(source: str, model_name: str | None, flag: str, fetch: bool) -> ModelSource:
    import open_clip

    model_name = check_pretrained_tag(source, model_name, flag)
    cfg = open_clip.get_pretrained_cfg(model_name, source)
    repo, names, url_file = _tag_files(cfg)
    label = safe_label(f"{model_name}-{source}")
    details: dict[str, Any] = {"model": model_name, "tag": source, "repo_id": repo, "revision": None}
    preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    found: Path | None = Path(cfg["file"]) if cfg.get("file") and Path(cfg["file"]).is_file() else None
    if found is None and repo:
        cached = find_cached(repo, names)
        if cached is not None:
            found, details["revision"] = cached.path, cached.revision
    if found is None and url_file is not None and url_file.is_file():
        found = url_file
    if found is None:
        looked = [f"{repo_folder(repo)} ({' or '.join(names)})"] if repo else []
        looked += [str(url_file)] if url_file else []
        fetch_it = fetch_hint(repo, names[0]) if repo else f"download {cfg.get('url')} to {url_file}"
        on_disk = ON_DISK.format(flag=flag)

        def miss(reason: str) -> UserError:
            return UserError(
                f"{flag} {source} (model {model_name}): its weights are not on this machine (looked in "
                f"{' and '.join(looked)}) and {reason}; fetch them on a connected machine ({fetch_it}), {on_disk}"
            )

        if hub_offline():
            raise miss("HF_HUB_OFFLINE=1 forbids downloading")
        if fetch:
            try:
                found = Path(open_clip.pretrained.download_pretrained(cfg))
            except Exception as err:  # noqa: BLE001 -- whatever the download raises: one line with its reason
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise miss(f"downloading failed: {reason}") from None
            if repo and found.is_relative_to(repo_folder(repo)):
                details["revision"] = found.relative_to(repo_folder(repo) / "snapshots").parts[0]
    details["cache"] = str(hub_cache_dir()) if repo else str(url_file.parent if url_file else "")
    return ModelSource(
        kind="pretrained",
        label=label,
        path=f"pretrained:{model_name}:{source}",
        weights=found,
        sha256=sha256_file(found) if found else None,
        model_name=model_name,
        preprocess_cfg=preprocess,
        quick_gelu=bool(cfg.get("quick_gelu", False)),
        details=details,
    )


_RESOLVERS: tuple[tuple[Callable[[str], bool], Callable[[str, str | None, str, bool], ModelSource]], ...] = (
    (lambda s: s.startswith(HF_HUB), _resolve_hub),
    (lambda s: s.startswith(LOCAL_DIR) or (Path(s) / CONFIG_NAME).is_file(), _resolve_folder),
    (lambda s: True, _resolve_tag),
)

__all__ = [
    "CONFIG_NAME",
    "HF_HUB",
    "LOCAL_DIR",
    "WEIGHT_NAMES",
    "ModelSource",
    "check_pretrained_tag",
    "is_model_source",
    "read_open_clip_config",
    "resolve_model_source",
    "source_label",
]
