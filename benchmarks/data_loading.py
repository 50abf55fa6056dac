"""Data-loading benchmark: images per second from an image folder, automl's loader against torchvision's loop.

The folder is written at start into a temporary directory from the packaged MNIST (a
stratified draw of ``--images`` digits, 5,000 by default, as 28x28 grey PNGs through
Pillow, one subfolder per digit), so both sides decode the same files.

1. **Images per second for one epoch.** Each contender reads the folder and yields every
   image once in shuffled batches of 64, as a training loop would see them:

   - *automl*: ``automl.data.images.load_image_folder`` (threads, decoded into one float32
     array), then the batches as automl's training loop makes them
     (``automl.training.trainer.as_tensors`` and a ``randperm`` sliced per batch); with its
     default threads (one per CPU) and with ``workers=1`` (a plain loop).
   - *torchvision*: ``torchvision.datasets.ImageFolder`` with ``Grayscale`` and
     ``ToTensor``, through a ``torch.utils.data.DataLoader`` with 0 workers (the plain loop)
     and with one worker process per CPU (workers start within the epoch, as in a fresh one).
   - *PIL + DataLoader*: the same loop written with Pillow and PyTorch alone (what
     ImageFolder's default loader does: open, convert, to a tensor), so that a peer is
     measured where torchvision is not installed or does not load; the torchvision rows are
     then skipped, with the reason printed and stored.

   The contenders run interleaved (``common.interleaved``), and each ratio is the median over
   rounds of the peer's seconds over automl's (above 1: automl is faster; the goal is at least
   0.9 against torchvision's DataLoader). A later epoch costs automl only the batches (the
   images are decoded once): that is measured too.
2. **Peak memory.** The peak resident set size gained by loading the folder (``VmHWM``, reset
   after the imports through ``/proc/self/clear_refs``; ``ru_maxrss`` where there is no
   ``/proc``), each in a fresh process so that the peak is the load's own: automl's loader, a
   DataLoader epoch (0 workers), and automl refusing the folder when ``max_bytes`` is half of
   what it needs (the refusal comes from the images' headers, before any array is made).

Torch runs on one thread (``--threads``), as in DataLoader workers and the other benchmarks: on a
shared 2-core machine, two OpenMP threads made each batch's gather wait for the busy core (about
8 ms a batch instead of 0.05 ms), which measured the machine's load rather than the loaders.

Run: ``.venv/bin/python benchmarks/data_loading.py [--quick]``; results go to
``benchmarks/results/data_loading.json``. Quick: 1,000 images and 3 rounds (under a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved, median, median_ratio, table, write_results

BATCH_SIZE = 64
GOAL = 0.9  # automl's images per second over torchvision's, at least


def cpus() -> int:
    """The CPUs this process may use (what load_image_folder's threads default to, up to 16)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def write_folder(root: Path, images: int, seed: int = 0) -> dict[str, Any]:
    """``images`` MNIST training digits, stratified by class, as PNG files in ``root/<digit>/``."""
    from PIL import Image

    from automl.data.packaged import read_mnist

    pixels, labels, test_rows = read_mnist()
    training = labels[: len(labels) - test_rows]
    generator = np.random.default_rng(seed)
    per_class = np.bincount(training) * images // len(training)
    per_class[: images - per_class.sum()] += 1  # the rounding, so the total is exact
    total_bytes = 0
    for digit, count in enumerate(per_class):
        folder = root / str(digit)
        folder.mkdir(parents=True)
        for index in generator.choice(np.flatnonzero(training == digit), count, replace=False):
            path = folder / f"{index:05d}.png"
            Image.fromarray(np.rint(pixels[index] * 255).astype(np.uint8), mode="L").save(path)
            total_bytes += path.stat().st_size
    return {"images": int(per_class.sum()), "classes": len(per_class), "png_bytes": total_bytes}


# ------------------------------------------------------------------------------------------------ contenders
def automl_epoch(root: Path, workers: int | None = None) -> Callable[[], int]:
    """Load the folder with automl's loader, then every batch of one epoch as automl's training loop slices it."""
    import torch

    from automl.data.images import load_image_folder
    from automl.training.trainer import as_tensors

    def run() -> int:
        dataset = load_image_folder(root, workers=workers)
        features, target = as_tensors(dataset, "classification", torch.device("cpu"))
        return batches(features, target, torch.Generator().manual_seed(0))

    return run


def automl_later_epoch(root: Path) -> Callable[[], int]:
    """A later epoch of automl's training loop: the images are in memory already, only the batches remain."""
    import torch

    from automl.data.images import load_image_folder
    from automl.training.trainer import as_tensors

    features, target = as_tensors(load_image_folder(root), "classification", torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    return lambda: batches(features, target, generator)


def batches(features: Any, target: Any, generator: Any) -> int:
    """The images of one epoch, in the batches automl.training.trainer.train_model draws."""
    import torch

    rows = len(features)
    order = torch.randperm(rows, generator=generator)
    seen = 0
    for start in range(0, rows - BATCH_SIZE + 1, BATCH_SIZE):
        index = order[start : start + BATCH_SIZE]
        images, _labels = features[index], target[index]  # the copies a training step gets
        seen += len(images)
    return seen


def torchvision_problem() -> str | None:
    """Why torchvision's loop cannot be measured here (one line), or None when it can."""
    try:
        import torchvision  # noqa: F401
        from torchvision import datasets, transforms  # noqa: F401
    except Exception as error:  # a wheel built for another torch raises RuntimeError, not ImportError
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"torchvision does not import ({type(error).__name__}: {first})"
    return None


def torchvision_epoch(root: Path, workers: int) -> Callable[[], int]:
    """torchvision.datasets.ImageFolder + DataLoader: every file opened, decoded and made a tensor per epoch."""
    import torch
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.Grayscale(num_output_channels=1), transforms.ToTensor()])

    def run() -> int:
        folder = datasets.ImageFolder(str(root), transform=transform)
        generator = torch.Generator().manual_seed(0)
        loader = torch.utils.data.DataLoader(
            folder, batch_size=BATCH_SIZE, shuffle=True, drop_last=True, num_workers=workers, generator=generator
        )
        return sum(len(batch) for batch, _ in loader)

    return run


class _PillowFolder:
    """A map-style data set doing what ImageFolder's default loader does: open with Pillow, convert, to a tensor."""

    def __init__(self, root: Path) -> None:
        classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
        self.items = [(path, label) for label, name in enumerate(classes) for path in sorted((root / name).iterdir())]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        import torch
        from PIL import Image

        path, label = self.items[index]
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)
        return torch.from_numpy(pixels)[None], label


def pillow_epoch(root: Path, workers: int) -> Callable[[], int]:
    """Pillow + torch.utils.data.DataLoader, without torchvision: the same per-file loop."""
    import torch

    def run() -> int:
        generator = torch.Generator().manual_seed(0)
        loader = torch.utils.data.DataLoader(
            _PillowFolder(root),
            batch_size=BATCH_SIZE,
            shuffle=True,
            drop_last=True,
            num_workers=workers,
            generator=generator,
        )
        return sum(len(batch) for batch, _ in loader)

    return run


def throughput(root: Path, images: int, rounds: int, skip_torchvision: str | None) -> dict[str, Any]:
    workers = cpus()
    contenders: dict[str, Callable[[], int]] = {
        "automl: load_image_folder + batches": automl_epoch(root),
        "automl: load_image_folder(workers=1) + batches": automl_epoch(root, workers=1),
        "automl: a later epoch (batches only)": automl_later_epoch(root),
        "PIL + DataLoader, 0 workers": pillow_epoch(root, 0),
        f"PIL + DataLoader, {workers} workers": pillow_epoch(root, workers),
    }
    if skip_torchvision is None:
        contenders["torchvision ImageFolder + DataLoader, 0 workers"] = torchvision_epoch(root, 0)
        contenders[f"torchvision ImageFolder + DataLoader, {workers} workers"] = torchvision_epoch(root, workers)
    counts = {name: run() for name, run in contenders.items()}  # a warm-up round, and what each yields
    seconds = interleaved(contenders, rounds)
    ours_name = next(iter(contenders))
    ours = [value / counts[ours_name] for value in seconds[ours_name]]  # seconds per image, per round
    results = {}
    for name, values in seconds.items():
        results[name] = {
            "images_per_epoch": counts[name],
            "median_seconds": median(values),
            "images_per_second": counts[name] / median(values),
            # a peer's seconds per image over automl's, per round (the median): automl's speed over the peer's
            "automl_speed_ratio": None
            if name.startswith("automl")
            else median_ratio([value / counts[name] for value in values], ours),
            "seconds": values,
        }
    torchvision_ratios = [
        entry["automl_speed_ratio"] for name, entry in results.items() if name.startswith("torchvision")
    ]
    return {
        "images": images,
        "batch_size": BATCH_SIZE,
        "rounds": rounds,
        "torch_threads": torch_threads(),
        "dataloader_workers": workers,
        "loader_threads": min(16, workers),
        "contenders": results,
        "torchvision_skipped": skip_torchvision,
        # against the faster torchvision loop: the goal is met only when automl keeps up with the better peer
        "ratio_to_torchvision": min(torchvision_ratios) if torchvision_ratios else None,
        "goal": GOAL,
    }


# ---------------------------------------------------------------------------------------------------- memory
def peak_memory(root: Path, how: str) -> dict[str, Any]:
    """Run one load in a fresh process (this file, ``--memory-child``) and return what it measured."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", how, "--folder", str(root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the memory measurement '{how}' failed:\n{result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _status_bytes(field: str) -> int | None:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in bytes; None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the peak resident set size (VmHWM) to the current one (Linux: write 5 to /proc/self/clear_refs),
    so that the imports' own peak does not hide the load's; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(how: str, root: Path) -> None:
    """Import what the load needs, take the baseline, load, and print the peak RSS gained as one JSON line."""
    import torch

    from automl.data.errors import DataError
    from automl.data.images import load_image_folder

    measured: dict[str, Any] = {"how": how}
    baseline = _status_bytes("VmRSS")
    reset = _reset_peak()
    if how == "automl":
        dataset = load_image_folder(root)
        measured["array_bytes"] = int(dataset.features.nbytes)
    elif how == "automl-refused":
        needed = sum(1 for _ in root.rglob("*.png")) * 28 * 28 * 4
        try:
            load_image_folder(root, max_bytes=needed // 2)
            measured["refused"] = False
        except DataError as error:
            measured["refused"] = True
            measured["message"] = str(error)
        measured["max_bytes"] = needed // 2
    elif how == "dataloader":
        loader = torch.utils.data.DataLoader(_PillowFolder(root), batch_size=BATCH_SIZE, shuffle=True)
        measured["images"] = sum(len(batch) for batch, _ in loader)
    else:
        raise SystemExit(f"unknown memory measurement {how!r}")
    peak = _status_bytes("VmHWM") if reset else None
    if peak is None or baseline is None:  # no /proc: the process's lifetime peak, imports included
        baseline, peak = 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    measured.update(baseline_bytes=baseline, peak_bytes=peak, peak_gain_bytes=max(0, peak - baseline), peak_reset=reset)
    print(json.dumps(measured))


# ------------------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 images and 3 rounds (under a minute)")
    parser.add_argument("--images", type=int, help="images in the folder (default 5000; 1000 with --quick)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7; 3 with --quick)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch.set_num_threads for the batches and collation (default 1)"
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.memory_child:
        memory_child(arguments.memory_child, arguments.folder)
        return
    images = arguments.images or (1000 if arguments.quick else 5000)
    rounds = arguments.rounds or (3 if arguments.quick else 7)
    if images < 10 * BATCH_SIZE or rounds < 1 or arguments.threads < 1:
        parser.error(f"--images must be at least {10 * BATCH_SIZE}, --rounds and --threads at least 1")
    import torch

    torch.set_num_threads(arguments.threads)

    skipped = torchvision_problem()
    if skipped:
        print(f"torchvision skipped: {skipped}; the PIL + DataLoader rows stand in for its loop")
    with tempfile.TemporaryDirectory(prefix="automl-data-loading-") as directory:
        root = Path(directory) / "mnist-png"
        folder = write_folder(root, images)
        print(
            f"{folder['images']} PNG files in {folder['classes']} class folders, {folder['png_bytes'] / 2**20:.1f} MiB"
        )
        speed = throughput(root, folder["images"], rounds, skipped)
        memory = {how: peak_memory(root, how) for how in ("automl", "dataloader", "automl-refused")}

    rows = [
        (
            name,
            entry["images_per_second"],
            entry["median_seconds"],
            "-" if entry["automl_speed_ratio"] is None else f"{entry['automl_speed_ratio']:.2f}x",
        )
        for name, entry in speed["contenders"].items()
    ]
    table(
        f"images per second, one epoch of {folder['images']} 28x28 PNGs, batches of {BATCH_SIZE}, "
        f"{rounds} interleaved rounds",
        ["loader", "images/s", "median s", "automl's speed over it"],
        rows,
    )
    if speed["ratio_to_torchvision"] is not None:
        met = "met" if speed["ratio_to_torchvision"] >= GOAL else "NOT met"
        print(f"automl / torchvision (the faster loop): {speed['ratio_to_torchvision']:.2f}x; goal {GOAL}x {met}")
    table(
        "peak resident memory gained by loading the folder (a fresh process each)",
        ["load", "peak RSS gained (MiB)", "note"],
        [
            ("automl load_image_folder", memory["automl"]["peak_gain_bytes"] / 2**20,
             f"the float32 array: {memory['automl']['array_bytes'] / 2**20:.1f} MiB"),
            ("PIL + DataLoader epoch, 0 workers", memory["dataloader"]["peak_gain_bytes"] / 2**20, "per-batch tensors"),
            ("automl, max_bytes = half the array", memory["automl-refused"]["peak_gain_bytes"] / 2**20,
             "refused" if memory["automl-refused"]["refused"] else "NOT refused"),
        ],
    )  # fmt: skip
    write_results(
        "data_loading", {"quick": arguments.quick, "folder": folder, "throughput": speed, "peak_memory": memory}
    )


if __name__ == "__main__":
    main()
