"""Image folders: one subfolder per class, images read with Pillow into an in-memory Dataset.

``root/CLASS/.../image.png``: every file under a class folder (nested folders included, in
sorted order) that Pillow can read is one example of that class; class names are the sorted
subfolder names, so class k is the k-th name. Hidden files and folders (a leading dot, e.g.
``.DS_Store``, ``.ipynb_checkpoints``) and ``Thumbs.db`` / ``desktop.ini`` are ignored
silently; any other file Pillow cannot read is skipped with one warning line naming it.

Loading runs on a thread pool (Pillow releases the GIL while it decodes and resizes), each image
decoded straight into its row of one preallocated float32 array. The first pass reads every
header (size and mode), so that the common size, the number of channels and the memory needed
are known and a folder that would not fit is refused; an image whose size and mode match the first
image's is decoded in that same pass, so a uniform folder is opened once per image. The second
pass decodes the rest (all of them when the first image was not of the common size and mode).

Resizing: a centre crop to the target's aspect ratio, then a bilinear resize (Pillow's
``resize`` with a ``box``, one step, antialiased when shrinking); shapes are never distorted.
JPEGs are decoded at a reduced scale when that is still at least the target size (``draft``),
and turned upright by their EXIF orientation.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from automl.data.dataset import Dataset
from automl.data.errors import DataError

DEFAULT_MAX_BYTES = 4 * 1024**3  # the decoded float32 array; 4 GiB
IGNORED_FILE_NAMES = frozenset({"thumbs.db", "desktop.ini"})  # compared in lower case
# modes read as one grey channel; every other mode (RGB, RGBA, P, CMYK, YCbCr...) is colour
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})  # more than 8 bits per pixel
_EXIF_FORMATS = frozenset({"JPEG", "MPO"})  # formats whose orientation is read (cheaply, from the header)
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # width and height swap once upright
COLOUR_CHANNEL_NAMES = ("red", "green", "blue")
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class ImageFolderWarning(UserWarning):
    """A file skipped, or images converted or resized to fit the rest: one line, the data still loads."""


@dataclass(frozen=True)
class _Header:
    """What an image's header says: its upright size and whether it is colour."""

    height: int
    width: int
    colour: bool


@dataclass(frozen=True)
class _Target:
    """The shape every image is decoded to."""

    height: int
    width: int
    colour: bool

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3 if self.colour else 1, self.height, self.width)

    def fits(self, header: _Header, size_open: bool, channels_open: bool) -> bool:
        """Whether an image with this header is decoded the same whatever the folder's common size and mode are."""
        same_size = not size_open or (header.height, header.width) == (self.height, self.width)
        return same_size and (not channels_open or header.colour == self.colour)


def load_image_folder(
    path: str | Path,
    size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    workers: int | None = None,
) -> Dataset:
    """A folder of class subfolders of images as a classification Dataset of shape (rows, channels, height, width).

    Pixels are float32 in [0, 1] (16-bit grey images are scaled by 65535). ``size`` is an int
    (square) or (height, width), the array's order; None keeps the images' size when they all
    share one, else resizes to the most common size with a warning. ``channels`` is 1 (grey) or
    3 (colour, RGB); None takes the mode of the majority of the images (a tie: colour), and
    converts the others (alpha is dropped, palette images become RGB, colour becomes grey by
    ITU-R 601-2 luma). ``max_bytes`` bounds the decoded array: a folder above it is refused
    from its headers, and no array above it is ever made. ``workers`` threads decode (default:
    the CPUs this process may use, up to 16; 1 reads in a plain loop).
    """
    root = Path(path).expanduser()
    where = f"image folder {root}"
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise DataError(f"{where} {what}; pass a folder that holds one subfolder of images per class")
    wanted_size = _checked_size(size)
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise DataError(f"channels must be 1 (grey) or 3 (colour), not {channels!r}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise DataError(f"max_bytes must be a positive number of bytes, not {max_bytes!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise DataError(f"workers must be a positive number of threads, not {workers!r}")
    image_module = _pillow()

    class_names, files = _scan(root, where)
    paths = [file for file, _ in files]
    labels = np.array([label for _, label in files], dtype=np.int64)
    # One open per image when the folder is uniform: the first image's size and mode are a guess at the
    # common ones, and every image that matches it is decoded along with its header in the first pass.
    # Only the others wait for the second pass, once the common size and channels are known.
    guess = _guess(image_module, paths, wanted_size, channels)
    buffer = None
    if guess is not None and _float32_bytes(len(paths), guess) <= max_bytes:
        buffer = np.empty((len(paths), *guess.shape), dtype=np.float32)

    def first(index: int) -> tuple[_Header | None, str | None, bool]:
        def destination(header: _Header) -> np.ndarray | None:
            if buffer is None or guess is None or not guess.fits(header, wanted_size is None, channels is None):
                return None
            return buffer[index]

        return _read(image_module, paths[index], guess, destination)

    results = _map(first, list(range(len(paths))), workers)
    failures = {index: failure for index, (_, failure, _) in enumerate(results) if failure is not None}
    for index in sorted(failures):
        _warn(f"{where}: skipped {_relative(paths[index], root)}: {failures[index]}")
    read = {index: header for index, (header, failure, _) in enumerate(results) if header and failure is None}
    usable = list(read)
    _check_every_class_has_images(root, where, class_names, labels[usable].tolist())

    height, width = wanted_size or _common_size(where, list(read.values()))
    target = _Target(height, width, _colour(where, [header.colour for header in read.values()], channels))
    rows = len(usable)
    needed = _float32_bytes(rows, target)
    if needed > max_bytes:
        raise DataError(
            f"{where}: {rows} images of {'x'.join(map(str, target.shape))} take {_readable_bytes(needed)} in memory "
            f"as float32, more than the limit of {_readable_bytes(max_bytes)}; load a smaller size (size=...), "
            "fewer images, or raise the limit (max_bytes=...)"
        )
    if buffer is not None and target == guess:
        features, row_of = buffer, {index: index for index in usable}
        pending = [index for index in usable if not results[index][2]]
    else:  # no guess, or a wrong one: what the first pass decoded has the wrong shape
        buffer = None
        features = np.empty((rows, *target.shape), dtype=np.float32)
        row_of = {index: row for row, index in enumerate(usable)}
        pending = usable

    def second(index: int) -> str | None:
        return _decode(image_module, paths[index], target, features[row_of[index]])

    late = {index: failure for index, failure in zip(pending, _map(second, pending, workers)) if failure is not None}
    for index in sorted(late):
        _warn(f"{where}: skipped {_relative(paths[index], root)}: {late[index]}")
    kept = [index for index in usable if index not in late]
    if len(kept) != len(features):
        features = features[[row_of[index] for index in kept]]
    _check_every_class_has_images(root, where, class_names, labels[kept].tolist())
    return Dataset(
        root.resolve().name or str(root),
        features,
        labels[kept],
        "classification",
        _feature_names(*target.shape),
        class_names,
    )


def _pillow() -> Any:
    """PIL.Image, imported on use (matplotlib, a dependency of automl, requires Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError("reading an image folder needs Pillow; install it with: pip install pillow") from None
    return Image


def _checked_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """(height, width) from an int or a pair of positive ints."""
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int | np.integer) and not isinstance(size, bool) else size
    if (
        not isinstance(pair, Sequence)
        or len(pair) != 2
        or not all(isinstance(side, int | np.integer) and not isinstance(side, bool) and side > 0 for side in pair)
    ):
        raise DataError(f"size must be a positive int or a pair (height, width) of positive ints, not {size!r}")
    return int(pair[0]), int(pair[1])


def _hidden(entry: Path) -> bool:
    return entry.name.startswith(".") or entry.name.lower() in IGNORED_FILE_NAMES


def _scan(root: Path, where: str) -> tuple[list[str], list[tuple[Path, int]]]:
    """The sorted class names and every (file, class index), or the DataError for a folder of the wrong shape."""
    entries = sorted((entry for entry in root.iterdir() if not _hidden(entry)), key=lambda entry: entry.name)
    stray = [entry.name for entry in entries if not entry.is_dir()]
    if stray:
        shown = ", ".join(stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
        raise DataError(
            f"{where} has files directly in it ({shown}); every image must be in a subfolder named after its "
            f"class ({root / 'CLASS' / stray[0]}): move them into class folders, or remove files that are not images"
        )
    class_folders = [entry for entry in entries if entry.is_dir()]
    if len(class_folders) < 2:
        found = f"only one class folder ({class_folders[0].name})" if class_folders else "no class folders"
        raise DataError(
            f"{where} has {found}; classification needs at least 2: put each class's images in a subfolder "
            "named after the class (ROOT/cat/1.png, ROOT/dog/1.png)"
        )
    files: list[tuple[Path, int]] = []
    for label, folder in enumerate(class_folders):
        for directory, subdirectories, names in os.walk(folder):
            subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
            base = Path(directory)
            files.extend((base / name, label) for name in sorted(names) if not _hidden(base / name))
    return [folder.name for folder in class_folders], files


def _check_every_class_has_images(root: Path, where: str, class_names: list[str], labels: list[int]) -> None:
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(class_names))
    empty = [name for name, count in zip(class_names, counts) if count == 0]
    if empty:
        folders = ", ".join(str(root / name) for name in empty)
        raise DataError(
            f"{where}: class folder(s) {folders} hold no image Pillow can read; add images of that class or "
            "remove the folder (each subfolder is a class)"
        )


def _relative(file: Path, root: Path) -> str:
    return file.relative_to(root).as_posix()


def _warn(message: str, stacklevel: int = 3) -> None:
    """One line, attributed to the caller of load_image_folder (3 from load_image_folder, 4 from its helpers)."""
    warnings.warn(message, ImageFolderWarning, stacklevel=stacklevel)


def _float32_bytes(rows: int, target: _Target) -> int:
    return rows * int(np.prod(target.shape)) * np.dtype(np.float32).itemsize


def _readable_bytes(count: int) -> str:
    """3.2 GiB, 12.0 KiB, 100 bytes."""
    for power, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if count >= 1024**power:
            return f"{count / 1024**power:.1f} {unit}"
    return f"{count} bytes"


def _map(function: Callable[[_Item], _Result], items: list[_Item], workers: int | None) -> list[_Result]:
    """function over items in order, on a thread pool in chunks (a task per item would cost more than a tiny image)."""
    threads = workers or _default_threads()
    if threads == 1 or len(items) < 2:
        return [function(item) for item in items]
    chunk = max(1, min(256, len(items) // (threads * 4)))
    chunks = [items[start : start + chunk] for start in range(0, len(items), chunk)]
    with ThreadPoolExecutor(max_workers=min(threads, len(chunks))) as pool:
        results = pool.map(lambda part: [function(item) for item in part], chunks)
        return [result for part in results for result in part]


def _default_threads() -> int:
    """The CPUs this process may use, up to 16: decoding is CPU-bound, and more threads than cores only
    contend for the GIL between decodes (measured: slower on small PNGs)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    return max(1, min(16, count))


def _reason(error: Exception) -> str:
    """Why a file was skipped, in a few words (Pillow's own messages repeat the full path)."""
    if type(error).__name__ == "UnidentifiedImageError":
        return "not an image Pillow can read"
    text = (str(error).strip().splitlines() or [""])[0]
    return f"could not be decoded ({type(error).__name__}{': ' + text if text else ''})"


def _header(image: Any) -> _Header:
    width, height = image.size
    if image.format in _EXIF_FORMATS and _orientation(image) in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return _Header(height, width, image.mode not in GREY_MODES)


def _guess(
    image_module: Any, paths: list[Path], size: tuple[int, int] | None, channels: int | None, tries: int = 8
) -> _Target | None:
    """The target the first readable image (of the first few) suggests; None when they do not read."""
    for path in paths[:tries]:
        try:
            with image_module.open(path) as image:
                header = _header(image)
        except Exception:  # reported in the first pass
            continue
        height, width = size or (header.height, header.width)
        return _Target(height, width, header.colour if channels is None else channels == 3)
    return None


def _read(
    image_module: Any, file: Path, target: _Target | None, destination: Callable[[_Header], np.ndarray | None]
) -> tuple[_Header | None, str | None, bool]:
    """(header, why it was skipped, whether it was decoded): the header, then the pixels when there is a destination."""
    try:
        with image_module.open(file) as image:
            header = _header(image)
            out = destination(header)
            if out is None or target is None:
                return header, None, False
            try:
                _decode_open(image_module, image, target, out)
            except Exception as error:  # a header that reads but pixels that do not: truncated, damaged
                return header, _reason(error), False
            return header, None, True
    except Exception as error:  # Pillow raises many unrelated types for a file that is not an image
        return None, _reason(error), False


def _orientation(image: Any) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a damaged EXIF block: leave the image as stored
        return 1


def _decode(image_module: Any, file: Path, target: _Target, out: np.ndarray) -> str | None:
    """Decode one image into ``out``; None, or why it failed."""
    try:
        with image_module.open(file) as image:
            _decode_open(image_module, image, target, out)
    except Exception as error:  # a header that reads but pixels that do not: truncated, damaged
        return _reason(error)
    return None


def _decode_open(image_module: Any, image: Any, target: _Target, out: np.ndarray) -> None:
    """An open image's pixels into ``out`` (channels, height, width), in [0, 1], upright, converted and resized."""
    height, width, colour = target.height, target.width, target.colour
    if image.format in _EXIF_FORMATS:
        orientation = _orientation(image)
        upright = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
        image.draft("RGB" if colour else "L", upright)  # decode at 1/2, 1/4, 1/8 scale when that suffices
        if orientation != 1:
            from PIL import ImageOps

            image = ImageOps.exif_transpose(image)
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")  # direct P -> RGB / L warns about transparency; alpha is dropped next
    if image.mode in _WIDE_GREY_MODES:
        scale = 1.0 if image.mode == "F" else 1.0 / 65535.0
        image = _fitted(image_module, image if image.mode == "F" else image.convert("F"), height, width)
        # 32-bit integer and float images may hold values outside 16 bits / [0, 1]; broadcast to 3 channels if asked
        out[...] = np.clip(np.asarray(image, dtype=np.float32) * np.float32(scale), 0.0, 1.0)
        return
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV...: through RGB
    wanted_mode = "RGB" if colour else "L"
    if image.mode != wanted_mode:
        image = image.convert(wanted_mode)
    pixels = np.asarray(_fitted(image_module, image, height, width))  # uint8, (height, width[, 3])
    np.multiply(pixels.transpose(2, 0, 1) if colour else pixels, np.float32(1.0 / 255.0), out=out if colour else out[0])


def _fitted(image_module: Any, image: Any, height: int, width: int) -> Any:
    """The image cropped at its centre to the aspect ratio of (height, width) and resized to it, bilinear."""
    current_width, current_height = image.size
    if (current_width, current_height) == (width, height):
        return image
    if current_width * height > width * current_height:  # too wide: crop the sides
        kept = current_height * width / height
        box = ((current_width - kept) / 2, 0.0, (current_width + kept) / 2, float(current_height))
    else:  # too tall: crop top and bottom
        kept = current_width * height / width
        box = (0.0, (current_height - kept) / 2, float(current_width), (current_height + kept) / 2)
    return image.resize((width, height), image_module.Resampling.BILINEAR, box=box)


def _common_size(where: str, headers: list[_Header]) -> tuple[int, int]:
    """The images' one size, or the most common one (ties: the larger, then the taller) with a warning."""
    counts = Counter((header.height, header.width) for header in headers)
    (height, width), count = max(counts.items(), key=lambda item: (item[1], item[0][0] * item[0][1], item[0]))
    if len(counts) > 1:
        _warn(
            f"{where}: images come in {len(counts)} sizes; all are resized to {height}x{width} (height x width), "
            f"the most common ({count} of {len(headers)} images), by a centre crop and a bilinear resize; "
            "pass size=(height, width) to load_image_folder to choose another",
            stacklevel=4,
        )
    return height, width


def _colour(where: str, colours: list[bool], channels: int | None) -> bool:
    """Whether to load 3 channels: as asked, or as the majority of the images are (a tie: colour)."""
    if channels is not None:
        return channels == 3
    coloured = sum(colours)
    grey = len(colours) - coloured
    colour = coloured >= grey
    if coloured and grey:
        minority = grey if colour else coloured
        _warn(
            f"{where}: {coloured} colour and {grey} grey images; the {minority} "
            f"{'grey' if colour else 'colour'} ones are converted, all load as "
            f"{'colour (3 channels)' if colour else 'grey (1 channel)'}; pass channels=1 or 3 to choose",
            stacklevel=4,
        )
    return colour


def _feature_names(depth: int, height: int, width: int) -> list[str]:
    """pixel_ROW_COL as the built-in grey image sets name them; red_ROW_COL, green_..., blue_... for colour."""
    prefixes = ["pixel"] if depth == 1 else list(COLOUR_CHANNEL_NAMES)
    return [f"{prefix}_{row}_{column}" for prefix in prefixes for row in range(height) for column in range(width)]
