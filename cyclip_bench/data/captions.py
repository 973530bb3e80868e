"""Caption tables (CSV/TSV of image path + caption) and the image-text dataset the trainer reads."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from cyclip_bench.data.images import load_image, probe_image
from cyclip_bench.errors import DataError, UserError

BAD_ROW_POLICIES = ("error", "skip")
_OTHER_DELIMITERS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def _show(delimiter: str) -> str:
    return repr(delimiter) if delimiter not in _OTHER_DELIMITERS else f"{_OTHER_DELIMITERS[delimiter]} ({delimiter!r})"


def _flag(delimiter: str) -> str:
    """How to write ``delimiter`` after --delimiter on a command line."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def _header_hint(path: Path, delimiter: str) -> str:
    """``; the header looks tab-separated: try --delimiter tab`` when the first line holds another delimiter
    and not this one (a tab-separated file named .csv fails to tokenise once a caption has a comma)."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            header = handle.readline()
    except OSError:
        return ""
    for other, name in _OTHER_DELIMITERS.items():
        if other != delimiter and other in header and delimiter not in header:
            return f"; the header looks {name}-separated: try --delimiter {_flag(other)}"
    return ""


def check_delimiter(delimiter: str) -> None:
    """One character that can separate CSV fields (not a quote, a line break or NUL)."""
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n\x00':
        raise DataError(
            f"--delimiter {delimiter!r}: expected one character that is not a quote or a line break "
            "(',' or tab; write a tab as '\\t')"
        )


def default_delimiter(path: str | os.PathLike) -> str:
    return "\t" if str(path).lower().endswith(".tsv") else ","


def read_table(path: str | os.PathLike, columns: list[str], delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV as strings; check it exists, has rows and holds ``columns`` (or say which delimiter
    it uses)."""
    path = Path(path)
    delimiter = default_delimiter(path) if delimiter is None else delimiter
    check_delimiter(delimiter)
    if not path.is_file():
        raise DataError(f"{path}: {'is a folder, not a table' if path.is_dir() else 'file not found'}")
    try:
        table = pd.read_csv(
            path, sep=delimiter, dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL, engine="c"
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty (expected a header with columns {', '.join(columns)})") from None
    except (pd.errors.ParserError, ValueError) as err:  # ValueError: e.g. a NUL byte pandas cannot tokenise
        hint = _header_hint(path, delimiter)
        message = f"{path}: cannot parse with delimiter {_show(delimiter)}: {str(err).strip()}{hint}"
        raise DataError(" ".join(message.split())) from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from None
    except OSError as err:  # it vanished or became unreadable after the check above
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    found = [str(c) for c in table.columns]
    missing = [c for c in columns if c not in found]
    if missing:
        if len(found) == 1:
            for other in _OTHER_DELIMITERS:
                if other != delimiter and other in found[0]:
                    raise DataError(
                        f"{path}: found one column {found[0]!r} with delimiter {_show(delimiter)}; "
                        "the header looks "
                        f"{_OTHER_DELIMITERS[other]}-delimited — wrong delimiter? pass --delimiter {_flag(other)}"
                    )
        raise DataError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; columns found: {', '.join(map(repr, found))}"
        )
    if len(table) == 0:
        raise DataError(f"{path}: has a header but no rows")
    return table


def resolve_paths(values: list[str], base: Path) -> list[str]:
    """Relative image paths are relative to the table's folder; return absolute path strings (as pathlib joins
    them: a plain relative path is joined as a string, ~10x faster for the tens of thousands of rows of a table;
    one with '.' or empty components goes through pathlib, which drops them)."""
    base = base.resolve()
    prefix = str(base).rstrip("/") + "/"
    return [v if os.path.isabs(v) else prefix + v if _plain_relative(v) else str(base / v) for v in values]


def _plain_relative(value: str) -> bool:
    """A relative path that pathlib would join unchanged: no '.', '..' or empty components."""
    return bool(value) and not value.endswith("/") and all(part not in ("", ".") for part in value.split("/"))


def read_caption_table(
    path: str | os.PathLike,
    image_key: str = "image",
    caption_key: str = "caption",
    delimiter: str | None = None,
) -> pd.DataFrame:
    """Columns ``["image", "caption"]``, image as absolute path strings; rows in file order (row 1 = first
    data row)."""
    path = Path(path)
    table = read_table(path, [image_key, caption_key], delimiter)
    images = table[image_key].tolist()
    for i, value in enumerate(images):
        if not value.strip():
            raise DataError(f"{path}: row {i + 1}: empty {image_key!r} value")
    return pd.DataFrame({"image": resolve_paths(images, path.parent), "caption": table[caption_key].tolist()})


class CaptionDataset(torch.utils.data.Dataset):
    """Image-caption pairs from a caption table.

    Bad rows (image file missing, or not decodable as an image): with ``bad_rows="error"`` the first one
    stops with
    a DataError naming the table and row; with ``"skip"`` they are dropped and counted (``.skipped``, and
    ``.skipped_rows`` lists (row, reason)); more than ``max_skipped_fraction`` of the rows skipped is still
    an error.
    Missing files are checked up front in both modes; "skip" also reads every image header up front. A file
    that
    passes those checks but fails to decode later raises a DataError naming it.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        transform: Any = None,
        tokenizer: Any = None,
        image_key: str = "image",
        caption_key: str = "caption",
        delimiter: str | None = None,
        bad_rows: str = "error",
        max_skipped_fraction: float = 0.05,
    ) -> None:
        if bad_rows not in BAD_ROW_POLICIES:
            raise UserError(f"bad_rows must be one of {', '.join(BAD_ROW_POLICIES)}, not {bad_rows!r}")
        self.path = Path(path)
        self.transform = transform
        self.tokenizer = tokenizer
        table = read_caption_table(self.path, image_key, caption_key, delimiter)
        images, captions = table["image"].tolist(), table["caption"].tolist()
        self.skipped_rows: list[tuple[int, str]] = []
        keep: list[int] = []
        for i, image in enumerate(images):
            if bad_rows == "error":
                if not os.path.isfile(image):
                    raise DataError(f"{self.path}: row {i + 1}: image file {image} not found")
                keep.append(i)
                continue
            problem = probe_image(image)
            if problem is None:
                keep.append(i)
            else:
                self.skipped_rows.append((i + 1, f"image file {image} {problem}"))
        if self.skipped_rows and len(self.skipped_rows) > max_skipped_fraction * len(images):
            row, reason = self.skipped_rows[0]
            raise DataError(
                f"{self.path}: {len(self.skipped_rows)} of {len(images)} rows are bad, more than the allowed "
                f"{max_skipped_fraction:.0%} (first: row {row}: {reason})"
            )
        self.images: list[str] = [images[i] for i in keep]
        self.captions: list[str] = [captions[i] for i in keep]
        self.skipped: int = len(self.skipped_rows)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = load_image(self.images[index])
        if self.transform is not None:
            image = self.transform(image)
        caption = self.captions[index]
        text = self.tokenizer([caption])[0] if self.tokenizer is not None else caption
        return image, text

    def report(self) -> str:
        """One line for logs: how many pairs were read and how many rows skipped."""
        line = f"{self.path}: {len(self)} image-caption pairs"
        if self.skipped:
            row, reason = self.skipped_rows[0]
            line += f", {self.skipped} bad rows skipped (first: row {row}: {reason})"
        return line
