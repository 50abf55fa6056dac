"""Image folders (one subfolder per class): classes, shapes, channels, sizes, skipped files and one-line errors."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from automl.data import DataError, ImageFolderWarning, load_dataset, load_image_folder

ROOT = Path(__file__).resolve().parents[2]


def save(path: Path, mode: str = "RGB", size: tuple[int, int] = (16, 16), colour: object = None) -> Path:
    """A solid image; size is Pillow's (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if colour is not None else 0).save(path)
    return path


def folder(root: Path, classes: dict[str, int], mode: str = "RGB", size: tuple[int, int] = (16, 16)) -> Path:
    """root/CLASS/i.png, images of class k filled with grey level 40 * (k + 1)."""
    for index, (name, count) in enumerate(classes.items()):
        level = 40 * (index + 1)
        fill = level if mode in ("L", "1") else (level,) * len(mode)
        for image in range(count):
            save(root / name / f"{image}.png", mode, size, fill)
    return root


def messages(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(item.message) for item in record if issubclass(item.category, ImageFolderWarning)]


def assert_one_line(error: pytest.ExceptionInfo[DataError], *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_three_classes_give_sorted_classes_and_image_shape(tmp_path: Path) -> None:
    root = folder(tmp_path / "pets", {"dog": 4, "cat": 3, "bird": 5})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one size, one mode: nothing to say
        dataset = load_image_folder(root, workers=3)
    assert dataset.name == "pets"
    assert dataset.task == "classification"
    assert dataset.class_names == ["bird", "cat", "dog"]
    assert dataset.features.shape == (12, 3, 16, 16) and dataset.features.dtype == np.float32
    assert dataset.input_shape == (3, 16, 16) and dataset.num_outputs == 3
    np.testing.assert_array_equal(dataset.target, [0] * 5 + [1] * 3 + [2] * 4)
    # class k was filled with grey level 40 * (its position in the dict + 1): dog 40, cat 80, bird 120
    levels = {name: dataset.features[dataset.target == k].reshape(-1) for k, name in enumerate(dataset.class_names)}
    for name, level in (("dog", 40), ("cat", 80), ("bird", 120)):
        np.testing.assert_allclose(levels[name], level / 255, rtol=1e-6)
    assert len(dataset.feature_names) == 3 * 16 * 16
    assert dataset.feature_names[:2] == ["red_0_0", "red_0_1"] and dataset.feature_names[-1] == "blue_15_15"
    # the same data, thread pool or plain loop
    np.testing.assert_array_equal(load_image_folder(root, workers=1).features, dataset.features)


def test_grey_images_give_one_channel_and_colour_three(tmp_path: Path) -> None:
    grey = load_image_folder(folder(tmp_path / "grey", {"a": 2, "b": 2}, mode="L", size=(12, 10)))
    assert grey.features.shape == (4, 1, 10, 12)
    assert grey.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]  # as digits and mnist name them
    colour = load_image_folder(folder(tmp_path / "colour", {"a": 2, "b": 2}, mode="RGB"))
    assert colour.input_shape == (3, 16, 16)
    assert load_image_folder(tmp_path / "grey", channels=3).input_shape == (3, 10, 12)
    assert load_image_folder(tmp_path / "colour", channels=1).input_shape == (1, 16, 16)
    with pytest.raises(DataError, match="channels must be 1"):
        load_image_folder(tmp_path / "colour", channels=2)
    with pytest.raises(DataError, match="workers must be"):
        load_image_folder(tmp_path / "colour", workers=0)


def test_mixed_modes_follow_the_majority(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    save(root / "a" / "grey1.png", "L", colour=255)
    save(root / "a" / "grey2.png", "L", colour=255)
    save(root / "b" / "rgba.png", "RGBA", colour=(255, 0, 0, 0))  # fully transparent: the alpha is dropped
    palette = Image.new("P", (16, 16), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    palette.save(root / "b" / "palette.png", transparency=0)
    save(root / "b" / "grey3.png", "L", colour=0)
    with pytest.warns(ImageFolderWarning) as record:
        dataset = load_image_folder(root)
    (message,) = messages(record)
    assert "2 colour and 3 grey" in message and "grey (1 channel)" in message
    assert dataset.input_shape == (1, 16, 16)
    colour = load_image_folder(root, channels=3)  # asked for: no warning needed
    by_name = dict(zip(["grey1", "grey2", "grey3", "palette", "rgba"], colour.features))
    np.testing.assert_allclose(by_name["rgba"][:, 0, 0], [1, 0, 0])
    np.testing.assert_allclose(by_name["palette"][:, 0, 0], [0, 0, 1])
    np.testing.assert_allclose(by_name["grey1"][:, 0, 0], [1, 1, 1])


def test_sixteen_bit_grey_is_scaled_to_one(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    for name, value in (("a", 65535), ("b", 32768)):
        path = root / name / "x.png"
        path.parent.mkdir(parents=True)
        Image.fromarray(np.full((8, 8), value, dtype=np.uint16)).save(path)
    dataset = load_image_folder(root)
    assert dataset.input_shape == (1, 8, 8)
    np.testing.assert_allclose(dataset.features[:, 0, 0, 0], [1.0, 32768 / 65535], rtol=1e-6)


def test_jpegs_are_turned_upright_by_their_exif_orientation(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    rotated = Image.Exif()
    rotated[0x0112] = 6  # stored 40 wide x 20 tall, shown rotated 90 degrees: 20 wide x 40 tall
    for name in ("a/0.jpg", "a/1.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 20), (200, 100, 50)).save(root / name, exif=rotated)
    save(root / "b" / "0.jpg", size=(20, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all three are 40 tall x 20 wide once upright
        dataset = load_image_folder(root)
    assert dataset.input_shape == (3, 40, 20)
    np.testing.assert_allclose(dataset.features[0, :, 20, 10], np.array([200, 100, 50]) / 255, atol=0.03)
    assert load_image_folder(root, size=(8, 4)).input_shape == (3, 8, 4)  # decoded at a reduced scale


def test_mixed_sizes_are_resized_to_the_most_common_with_a_warning(tmp_path: Path) -> None:
    root = folder(tmp_path / "sizes", {"a": 2, "b": 2}, mode="L", size=(16, 16))
    wide = np.zeros((16, 32), dtype=np.uint8)
    wide[:, 8:24] = 255  # white centre, black sides: the centre crop keeps only the white
    Image.fromarray(wide).save(root / "a" / "wide.png")
    with pytest.warns(ImageFolderWarning) as record:
        dataset = load_image_folder(root)
    (message,) = messages(record)
    assert "2 sizes" in message and "16x16" in message and "4 of 5" in message
    assert dataset.features.shape == (5, 1, 16, 16)
    np.testing.assert_allclose(dataset.features[2], 1.0)  # a/0.png, a/1.png, a/wide.png
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resized = load_image_folder(root, size=(8, 12))
    assert resized.input_shape == (1, 8, 12)
    assert load_image_folder(root, size=4).input_shape == (1, 4, 4)
    with pytest.raises(DataError, match="size must be"):
        load_image_folder(root, size=(0, 4))


def test_a_first_image_unlike_the_rest_does_not_decide(tmp_path: Path) -> None:
    root = tmp_path / "odd-first"
    save(root / "a" / "0.png", "L", size=(8, 8), colour=200)  # read first: its size and mode are the guess
    save(root / "a" / "1.png", colour=(10, 20, 30))
    for name in ("0.png", "1.png"):
        save(root / "b" / name, colour=(40, 50, 60))
    with pytest.warns(ImageFolderWarning) as record:
        dataset = load_image_folder(root)
    assert len(messages(record)) == 2  # the sizes, the modes
    assert dataset.features.shape == (4, 3, 16, 16)
    np.testing.assert_allclose(dataset.features[0], 200 / 255, rtol=1e-6)
    np.testing.assert_allclose(dataset.features[1, :, 5, 5], np.array([10, 20, 30]) / 255, rtol=1e-6)
    np.testing.assert_allclose(dataset.features[3, :, 5, 5], np.array([40, 50, 60]) / 255, rtol=1e-6)


@pytest.mark.parametrize("max_bytes", [None, 5 * 3 * 16 * 16 * 4], ids=["one-pass", "two-pass"])
def test_corrupt_and_text_files_are_skipped_with_a_warning_each(tmp_path: Path, max_bytes: int | None) -> None:
    root = folder(tmp_path / "dirty", {"a": 2, "b": 2})
    (root / "a" / "x.png").write_bytes(np.random.default_rng(0).bytes(300))
    (root / "b" / "notes.txt").write_text("not an image\n")
    data = (root / "b" / "0.png").read_bytes()
    (root / "b" / "truncated.png").write_bytes(data[: len(data) // 2])  # a header that reads, pixels that do not
    (root / "a" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: ignored silently
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    # two-pass: an array for all 7 files would be above max_bytes (5 headers read), so nothing is decoded with them
    options = {} if max_bytes is None else {"max_bytes": max_bytes}
    with pytest.warns(ImageFolderWarning) as record:
        dataset = load_image_folder(root, **options)
    skipped = messages(record)
    assert len(skipped) == 3, skipped
    assert all("\n" not in message for message in skipped)
    for name in ("a/x.png", "b/notes.txt", "b/truncated.png"):
        assert sum(f"skipped {name}:" in message for message in skipped) == 1, (name, skipped)
    assert not any("DS_Store" in message for message in skipped)
    assert dataset.rows == 4
    np.testing.assert_array_equal(dataset.target, [0, 0, 1, 1])


def test_nested_folders_inside_a_class_count_for_that_class(tmp_path: Path) -> None:
    root = folder(tmp_path / "nested", {"a": 1, "b": 1})
    save(root / "a" / "more" / "deeper.png")
    assert load_image_folder(root).target.tolist() == [0, 0, 1]


def test_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        load_image_folder(tmp_path / "absent")
    assert_one_line(error, "absent", "does not exist", "one subfolder of images per class")
    file = save(tmp_path / "one.png")
    with pytest.raises(DataError) as error:
        load_image_folder(file)
    assert_one_line(error, "one.png", "is not a folder")


def test_fewer_than_two_classes(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as error:
        load_image_folder(tmp_path / "empty")
    assert_one_line(error, "no class folders", "at least 2")
    root = folder(tmp_path / "single", {"only": 3})
    with pytest.raises(DataError) as error:
        load_image_folder(root)
    assert_one_line(error, "only one class folder (only)", "at least 2")


def test_files_directly_in_the_root(tmp_path: Path) -> None:
    root = folder(tmp_path / "flat", {"a": 1, "b": 1})
    save(root / "loose.png")
    with pytest.raises(DataError) as error:
        load_image_folder(root)
    assert_one_line(error, "files directly in it", "loose.png", "subfolder named after its class")


def test_a_class_folder_without_images(tmp_path: Path) -> None:
    root = folder(tmp_path / "hollow", {"a": 2, "b": 2})
    (root / "c").mkdir()
    with pytest.raises(DataError) as error:
        load_image_folder(root)
    assert_one_line(error, "class folder(s)", str(root / "c"), "no image")
    (root / "c" / "readme.txt").write_text("soon")  # skipped with a warning, and the class is still empty
    with pytest.warns(ImageFolderWarning, match="c/readme.txt"), pytest.raises(DataError, match="no image"):
        load_image_folder(root)


def test_a_folder_above_the_memory_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    root = folder(tmp_path / "big", {"a": 2, "b": 2})
    with pytest.raises(DataError) as error:
        load_image_folder(root, max_bytes=4 * 3 * 16 * 16 * 4 - 1)
    assert_one_line(error, "4 images of 3x16x16 take 12.0 KiB", "more than the limit of 12.0 KiB", "size=")
    assert load_image_folder(root, max_bytes=4 * 3 * 16 * 16 * 4).rows == 4


def test_load_dataset_reads_a_folder(tmp_path: Path) -> None:
    root = folder(tmp_path / "shapes", {"a": 2, "b": 3})
    dataset = load_dataset(str(root))
    assert dataset.class_names == ["a", "b"] and dataset.input_shape == (3, 16, 16)
    with pytest.raises(DataError) as error:
        load_dataset(str(root), target="label")
    assert_one_line(error, "image folder", "drop --target label")
    with pytest.raises(DataError, match="drop --task regression"):
        load_dataset(str(root), task="regression")
    assert load_dataset(str(root), image_size=(4, 6), image_channels=1).input_shape == (1, 4, 6)
    with pytest.raises(DataError, match="wine is not an image folder; drop the image size 8"):
        load_dataset("wine", image_size=8)
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert load_dataset("shapes").rows == 5  # not a built-in name: the folder in the working directory
    finally:
        os.chdir(previous)


def test_a_search_runs_on_an_image_folder(tmp_path: Path) -> None:
    import automl

    root = folder(tmp_path / "images", {"red": 8, "green": 8, "blue": 8})
    study = automl.search(
        str(ROOT / "search_spaces" / "cnn.py"), str(root), trials=1, epochs=1, study=tmp_path / "s.db"
    )
    (trial,) = study.trials
    assert trial.status == "complete", trial.error
    assert study.meta["data"] == "images: 24 rows, input shape 3x16x16, classification, 3 classes"
    assert study.config.data == str(root)


def test_a_folder_given_by_a_relative_path_is_stored_by_its_absolute_one(tmp_path: Path, monkeypatch) -> None:
    """So that --resume and export find the images from another working directory."""
    import automl

    folder(tmp_path / "images", {"red": 4, "green": 4})
    monkeypatch.chdir(tmp_path)
    study = automl.search(str(ROOT / "search_spaces" / "cnn.py"), "images", trials=1, epochs=1, study="s.db")
    assert study.config.data == str((tmp_path / "images").resolve())
    study.close()
    (tmp_path / "digits-flat").mkdir()  # a folder named like a built-in does not replace the built-in
    study = automl.search(str(ROOT / "search_spaces" / "mlp.py"), "digits-flat", trials=1, epochs=1, study="t.db")
    assert study.config.data == "digits-flat"
