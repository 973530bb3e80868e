"""The Hugging Face cache, read from disk: where it is (``HF_HUB_CACHE`` / ``HF_HOME``, read at call time, so a
changed environment counts), whether downloads are off (``HF_HUB_OFFLINE``), which cached file answers a repo's
file name (and the snapshot revision it sits in), and the one download path used when a file is not cached.

Lookups never touch the network: a file already in the cache is used as it is, as open_clip would (its
``hf_hub_download`` returns the cached file), so a populated cache works with the network off."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cyclip_bench.errors import UserError

_TRUE = {"1", "on", "yes", "true"}


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache as ``huggingface_hub`` resolves it: ``$HF_HUB_CACHE`` (or the older
    ``$HUGGINGFACE_HUB_CACHE``), else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
    ``~/.cache/huggingface/hub``."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.path.expandvars(os.path.expanduser(os.environ[name])))
    if os.environ.get("HF_HOME"):
        home = Path(os.path.expandvars(os.path.expanduser(os.environ["HF_HOME"])))
    else:
        home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return home / "hub"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` says so: nothing is downloaded, a file not in the cache is an error."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def repo_folder(repo_id: str) -> Path:
    """The cache folder of a model repo: ``<cache>/models--ORG--REPO``."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


@dataclass(frozen=True)
class CachedFile:
    """A file of a hub repo found in the cache: its path and the snapshot (commit) it belongs to."""

    path: Path
    revision: str


def check_repo_id(repo_id: str, where: str) -> None:
    """``ORG/REPO`` as the hub spells it; UserError naming ``where`` otherwise."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    problem = None
    if repo_id.count("/") != 1:
        problem = "expected ORG/REPO"
    else:
        try:
            validate_repo_id(repo_id)
        except HFValidationError as err:
            problem = str(err).splitlines()[0]
    if problem:
        raise UserError(f"{where}: {repo_id!r} is not a Hugging Face repo id ({problem})")


def find_cached(repo_id: str, filenames: tuple[str, ...], revision: str = "main") -> CachedFile | None:
    """The first of ``filenames`` present in the cached snapshot of ``revision`` (a ref such as ``main`` or a
    commit), without network. A cache holding one snapshot and no ``refs/`` (copied by hand) is that snapshot."""
    from huggingface_hub import try_to_load_from_cache

    cache = hub_cache_dir()
    snapshots = repo_folder(repo_id) / "snapshots"
    for name in filenames:
        found = try_to_load_from_cache(repo_id, name, cache_dir=cache, revision=revision)
        if isinstance(found, str):
            path = Path(found)
            return CachedFile(path=path, revision=path.relative_to(snapshots).parts[0])
    if revision == "main" and not (repo_folder(repo_id) / "refs" / "main").is_file() and snapshots.is_dir():
        only = [p for p in snapshots.iterdir() if p.is_dir()]
        if len(only) == 1:
            for name in filenames:
                if (only[0] / name).is_file():
                    return CachedFile(path=only[0] / name, revision=only[0].name)
    return None


def download(repo_id: str, filenames: tuple[str, ...]) -> CachedFile:
    """Fetch the first of ``filenames`` the repo has into the cache (the network path; callers check
    ``hub_offline`` first). Raises OSError/RuntimeError-like errors of ``huggingface_hub`` as they come."""
    from huggingface_hub import hf_hub_download

    last: Exception | None = None
    for name in filenames:
        try:
            path = Path(hf_hub_download(repo_id, name, cache_dir=hub_cache_dir(), library_name="cyclip-bench"))
        except Exception as err:  # noqa: BLE001 -- any failure: try the next name, report the last reason
            last = err
            continue
        snapshots = repo_folder(repo_id) / "snapshots"
        return CachedFile(path=path, revision=path.relative_to(snapshots).parts[0])
    raise RuntimeError(str(last).splitlines()[0] if last else "nothing to download")


def fetch_hint(repo_id: str, filename: str | None = None) -> str:
    """The command that puts a repo (or one of its files) into the cache on a connected machine."""
    return f"hf download {repo_id}" + (f" {filename}" if filename else "")


__all__ = [
    "CachedFile",
    "check_repo_id",
    "download",
    "fetch_hint",
    "find_cached",
    "hub_cache_dir",
    "hub_offline",
    "repo_folder",
]
