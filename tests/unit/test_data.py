import logging
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from n2n_tf import data
from n2n_tf.data.arrays import ArraySource, carve, split


def _count(ds):
    return sum(int(y.shape[0]) for _, y in ds)


def _pixels(ds):
    return np.concatenate([x.numpy().reshape(len(x), -1) for x, _ in ds])


@pytest.mark.parametrize(
    ("name", "shape", "total"), [("digits", (8, 8, 1), 1797), ("mnist5k", (28, 28, 1), 5000)]
)
def test_bundled_sets_give_disjoint_normalised_splits(name, shape, total):
    ds = data.load(name, batch_size=256, val_fraction=0.1, test_fraction=0.2)
    info = ds.info
    assert info.input_shape == shape
    assert info.num_classes == 10 and info.class_names[3] == "3"
    assert sum(info.split_sizes.values()) == total
    assert info.augment == "none"
    assert {k: _count(getattr(ds, k)) for k in ("train", "val", "test")} == info.split_sizes
    train = _pixels(ds.train_plain)
    assert abs(train.mean()) < 0.05 and abs(train.std() - 1.0) < 0.05
    # No image of the test split also appears in train or validation.
    seen = {row.tobytes() for row in np.concatenate([train, _pixels(ds.val)])}
    test = _pixels(ds.test)
    overlap = sum(row.tobytes() in seen for row in test)
    assert overlap <= 0.01 * len(test)  # MNIST holds a few exact duplicate digits


def test_splits_depend_on_split_seed_not_run_seed():
    a = data.load("digits", seed=1)
    b = data.load("digits", seed=2)
    c = data.load("digits", split_seed=5)
    np.testing.assert_array_equal(_pixels(a.test), _pixels(b.test))
    assert not np.array_equal(_pixels(a.test), _pixels(c.test))


def test_carve_is_seeded_disjoint_and_complete():
    keep, carved = carve(100, 0.25, seed=3)
    assert len(carved) == 25 and len(keep) == 75
    assert set(keep).isdisjoint(carved) and set(keep) | set(carved) == set(range(100))
    np.testing.assert_array_equal(carve(100, 0.25, seed=3)[1], carved)
    assert not np.array_equal(carve(100, 0.25, seed=4)[1], carved)


def test_split_keeps_a_source_test_split():
    x = np.arange(40, dtype=np.uint8).reshape(10, 2, 2, 1)
    y = np.arange(10)
    source = ArraySource(x, y, ("a",), x_test=x[:3], y_test=y[:3])
    parts = split(source, val_fraction=0.2, test_fraction=0.5, split_seed=0)
    assert len(parts["test"][1]) == 3 and len(parts["val"][1]) == 2 and len(parts["train"][1]) == 8


def _write_images(root, classes, count, size=(10, 12), mode="RGB"):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            channels = 3 if mode == "RGB" else 1
            pixels = rng.integers(0, 255, (*size, channels), dtype=np.uint8).squeeze()
            Image.fromarray(pixels, mode).save(root / c / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_folder_source_skips_corrupt_files_and_resizes(tmp_path, caplog):
    _write_images(tmp_path, ["cat", "dog"], 10)
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(tmp_path / "dog" / "big.png")
    (tmp_path / "cat" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    truncated = (tmp_path / "cat" / "0.jpg").read_bytes()[:40]
    (tmp_path / "cat" / "truncated.jpg").write_bytes(truncated)
    (tmp_path / "dog" / "notes.txt").write_text("hello")
    with caplog.at_level(logging.WARNING):
        ds = data.load(f"folder:{tmp_path}", val_fraction=0.2, test_fraction=0.2, batch_size=4)
    assert ds.info.input_shape == (10, 12, 3)  # the most common size wins
    assert ds.info.class_names == ("cat", "dog")
    assert sum(ds.info.split_sizes.values()) == 21
    assert "Skipped 3 unreadable or non-image file(s)" in caplog.text
    assert ds.info.augment == "none"  # too small for crop+flip


def test_folder_with_train_test_layout_and_image_size(tmp_path):
    _write_images(tmp_path / "train", ["a", "b", "c"], 6, size=(32, 32))
    _write_images(tmp_path / "test", ["a", "b", "c"], 2, size=(32, 32))
    ds = data.load(f"folder:{tmp_path}", image_size=(16, 16), val_fraction=0.25)
    assert ds.info.split_sizes == {"train": 14, "val": 4, "test": 6}
    assert ds.info.input_shape == (16, 16, 3)
    x, _ = next(iter(ds.test))
    assert tuple(x.shape[1:]) == (16, 16, 3)


def test_folder_grayscale_and_cifar_like_augmentation(tmp_path):
    _write_images(tmp_path / "gray", ["x", "y"], 4, size=(8, 8), mode="L")
    assert data.load(f"folder:{tmp_path / 'gray'}").info.input_shape == (8, 8, 1)
    _write_images(tmp_path / "rgb", ["x", "y"], 4, size=(32, 32))
    ds = data.load(f"folder:{tmp_path / 'rgb'}", test_fraction=0.25, val_fraction=0.2)
    assert ds.info.augment == "crop_flip"
    x, _ = next(iter(ds.train))
    assert tuple(x.shape[1:]) == (32, 32, 3)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda p: p / "missing", "Image folder not found"),
        (lambda p: p, "no class sub-folders"),
    ],
)
def test_bad_folders(tmp_path, make, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.load(f"folder:{make(tmp_path)}")


def test_folder_without_any_image(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="no readable image"):
        data.load(f"folder:{tmp_path}")


def test_tfds_source_through_mocked_data(tmp_path, monkeypatch):
    from n2n_tf.data import tfds_source

    # The real download runs in a child process, which the mock cannot reach;
    # prepare in-process here (the mock makes that a no-op).
    monkeypatch.setattr(
        tfds_source, "_prepare", lambda builder, *args: builder.download_and_prepare()
    )
    with tfds.testing.mock_data(num_examples=40):
        ds = data.load("mnist", data_dir=str(tmp_path), batch_size=8)
    assert ds.info.input_shape == (28, 28, 1) and ds.info.num_classes == 10
    assert ds.info.split_sizes == {"train": 36, "val": 4, "test": 40}
    x, y = next(iter(ds.train))
    assert tuple(x.shape) == (8, 28, 28, 1) and y.dtype.name == "int32"


def test_tfds_without_data_or_network_fails_fast(tmp_path, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    # The download runs in a child process: send it to a closed local port.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(
        data.DatasetUnavailableError, match=r"--data-dir.*Received: dataset='cifar10'"
    ):
        data.load("cifar10", data_dir=str(tmp_path), network_timeout_s=2)
    assert time.monotonic() - start < 30


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset `cifar11`"):
        data.load("cifar11", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="dataset name is required"):
        data.load("")


def test_train_subset_is_seeded_and_leaves_val_and_test_alone():
    ds = data.load("digits", batch_size=64)
    n = ds.info.split_sizes["train"]
    quarter = data.subset_train(ds, 0.25, seed=1)
    assert quarter.info.split_sizes["train"] == round(n * 0.25)
    assert _count(quarter.train_plain) == round(n * 0.25) == _count(quarter.train)
    again = _pixels(data.subset_train(ds, 0.25, seed=1).train_plain)
    other = _pixels(data.subset_train(ds, 0.25, seed=2).train_plain)
    assert np.array_equal(_pixels(quarter.train_plain), again)
    assert not np.array_equal(again, other)
    # Every kept example is a training example, and val/test are the same pipelines' data.
    full = {row.tobytes() for row in _pixels(ds.train_plain)}
    assert all(row.tobytes() in full for row in again)
    assert np.array_equal(_pixels(quarter.val), _pixels(ds.val))
    assert data.subset_train(ds, 1.0) is ds
    assert data.subset_train(ds, 0.001).info.split_sizes["train"] == 64  # at least a batch
