"""Image decoding with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cyclip_bench.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


def load_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image file to PIL RGB; a missing, unreadable or corrupt file is a DataError naming it."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"image file {path} not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"image file {path} is unreadable or corrupt ({type(err).__name__}: {err})") from None


def probe_image(path: str | os.PathLike) -> str | None:
    """Cheap check (header only): None when the file looks like an image, else the reason it does not."""
    try:
        with Image.open(path) as img:
            img.size  # noqa: B018  (reading the header is the check)
        return None
    except FileNotFoundError:
        return "not found"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"unreadable ({type(err).__name__})"


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
