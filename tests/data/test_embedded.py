"""The embedded Fashion-MNIST sample and the idx reader."""

import gzip
import os

import numpy as np
import pytest

from keras_resnet.data import FASHION_MNIST_CLASSES, load_embedded, load_idx_dir, read_idx, write_idx
from keras_resnet.data.embedded import SAMPLE_DIR

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


def test_embedded_sample_shapes_balance_and_size():
    (x_train, y_train), (x_test, y_test) = load_embedded()
    assert x_train.shape == (5000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert np.bincount(y_train).tolist() == [500] * 10
    assert np.bincount(y_test).tolist() == [200] * 10
    assert len(FASHION_MNIST_CLASSES) == 10
    assert 60 < x_train.mean() < 90  # real clothing images, not noise or blanks
    size = sum(os.path.getsize(os.path.join(SAMPLE_DIR, f)) for f in os.listdir(SAMPLE_DIR))
    assert size < 4_000_000


def test_embedded_sample_ships_as_package_data():
    from importlib import resources

    folder = resources.files("keras_resnet.data") / "files" / "fashion_mnist_sample"
    names = {p.name for p in folder.iterdir()}
    assert {"train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "LICENSE"} <= names


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR), reason="dataset-fashion-mnist not installed")
def test_embedded_sample_is_a_real_subset_of_the_original():
    (x_train, y_train), (x_test, y_test) = load_embedded()
    (ox_train, oy_train), (ox_test, oy_test) = load_idx_dir(DEBIAN_DIR)
    assert ox_train.shape == (60000, 28, 28) and ox_test.shape == (10000, 28, 28)
    for x, y, ox, oy in ((x_train, y_train, ox_train, oy_train),
                         (x_test, y_test, ox_test, oy_test)):
        index = {img.tobytes(): label for img, label in zip(ox, oy)}
        assert all(index.get(img.tobytes()) == label for img, label in zip(x, y))


def test_idx_round_trip_and_reproducible_gzip(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    write_idx(tmp_path / "a.idx", a)
    write_idx(tmp_path / "a.idx.gz", a)
    write_idx(tmp_path / "b.idx.gz", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), a)
    assert (tmp_path / "a.idx.gz").read_bytes() == (tmp_path / "b.idx.gz").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def test_idx_reader_rejects_bad_files(tmp_path):
    good = tmp_path / "g.idx"
    write_idx(good, np.zeros((4, 2, 2), np.uint8))
    data = good.read_bytes()
    (tmp_path / "short.idx").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02" + data[2:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "magic.idx")
    (tmp_path / "cut.idx.gz").write_bytes(gzip.compress(data)[:20])
    with pytest.raises(ValueError, match="cannot read"):
        read_idx(tmp_path / "cut.idx.gz")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_idx_dir(tmp_path)
