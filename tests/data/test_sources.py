"""Data sources in their real formats (synthetic stand-ins where the real data is not
reachable), tensorflow-datasets through its own mechanisms, and the augmentations."""

import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from keras_resnet.data import load_split, read_cifar_python
from keras_resnet.data import augment
from keras_resnet.data.sources import DEBIAN_FASHION_MNIST, fashion_mnist_manual_dir


def write_cifar10_python(folder, n_per_batch=6, seed=0):
    """A miniature cifar-10-batches-py: pickled dicts, rows of 3072 bytes (R, G, B
    planes of 32 x 32), labels list, batches.meta with label_names."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    images = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (n_per_batch, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, n_per_batch).tolist()
        rows = x.transpose(0, 3, 1, 2).reshape(n_per_batch, 3072)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": y, b"data": rows,
                         b"filenames": [b"x.png"] * n_per_batch}, f)
        images[name] = (x, y)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
             "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in names], b"num_vis": 3072}, f)
    return images, names


def test_cifar10_python_folder(tmp_path):
    images, names = write_cifar10_python(tmp_path / "cifar-10-batches-py")
    train = load_split(str(tmp_path / "cifar-10-batches-py"), "train")
    assert train.size == 30 and train.num_classes == 10 and train.class_names == tuple(names)
    x, y = train.arrays
    np.testing.assert_array_equal(x[:6], images["data_batch_1"][0])  # planes -> HWC
    np.testing.assert_array_equal(y[6:12], images["data_batch_2"][1])
    test = load_split(str(tmp_path / "cifar-10-batches-py"), "test")
    np.testing.assert_array_equal(test.arrays[0], images["test_batch"][0])
    # The paper's 45k/5k split, here 24/6: disjoint and together the training set.
    a = load_split(str(tmp_path / "cifar-10-batches-py"), "train", holdout=6)
    b = load_split(str(tmp_path / "cifar-10-batches-py"), "holdout", holdout=6)
    assert a.size == 24 and b.size == 6
    np.testing.assert_array_equal(np.concatenate([a.arrays[0], b.arrays[0]]), x)


class _RunsCode:
    def __reduce__(self):  # what a crafted "batch" file does: call a function on load
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_batches_load_with_both_pickle_protocols(tmp_path, protocol):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    x = np.arange(2 * 3072, dtype=np.uint64).reshape(2, 3072).astype(np.uint8)
    for name in ("data_batch_1", "test_batch"):
        with open(folder / name, "wb") as f:  # protocol 2: how the published files are
            pickle.dump({b"data": x, b"labels": [3, 4], b"batch_label": b"b"}, f,
                        protocol=protocol)
    images, labels, names = read_cifar_python(str(folder), "test")
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [3, 4] and names is None


@pytest.mark.parametrize("payload", [_RunsCode(), {b"data": _RunsCode()},
                                     {b"labels": [1], b"data": eval}])
def test_a_crafted_cifar_file_runs_no_code(tmp_path, monkeypatch, payload):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump(payload, f)
    with pytest.raises(ValueError, match="not a CIFAR batch file"):
        load_split(str(folder), "train")
    assert not (tmp_path / "pwned").exists()


def test_a_non_pickle_cifar_file_is_a_clear_error(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"GIF89a not a pickle")
    with pytest.raises(ValueError, match="not a CIFAR batch file"):
        read_cifar_python(str(folder), "train")


def test_cifar100_python_folder(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        x = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        with open(folder / split, "wb") as f:
            pickle.dump({b"data": x, b"fine_labels": [0, 99, 5, 7],
                         b"coarse_labels": [0, 1, 2, 3]}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [f"c{i}".encode() for i in range(100)]}, f)
    x, y, names = read_cifar_python(str(folder), "test")
    assert x.shape == (4, 32, 32, 3) and y.tolist() == [0, 99, 5, 7] and len(names) == 100
    assert load_split(str(folder), "train").num_classes == 100


def test_sample_of_a_class_sorted_array_split_spans_the_classes():
    from keras_resnet.data.sources import _array_split

    x = np.arange(100, dtype=np.uint8).reshape(100, 1, 1)
    s = _array_split("sorted", x, np.repeat(np.arange(10), 10), 10)
    cut = s.sample(20, seed=3)
    images, labels = cut.arrays
    assert cut.size == 20 and len(set(labels.tolist())) >= 6  # take(20): 2 classes
    assert images[:, 0, 0, 0].tolist() == sorted(images[:, 0, 0, 0].tolist())  # in order
    assert (images[:, 0, 0, 0] // 10 == labels).all()  # images keep their labels
    assert (s.sample(20, seed=3).arrays[0] == images).all()
    assert s.sample(100) is s and s.sample(500) is s


def write_image_tree(root, classes=("n01440764", "n01443537"), per_class=3, gray_one=True):
    """An ImageNet-style tree: train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, mixed sizes,
    one grayscale JPEG (ImageNet has some)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for i, c in enumerate(classes):
            d = root / split / c
            d.mkdir(parents=True)
            for j in range(per_class):
                h, w = 40 + 7 * j, 50 + 5 * i
                img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                if gray_one and j == 0 and i == 0:
                    img = img[..., :1]
                tf.io.write_file(str(d / f"{c}_{j}.JPEG"), tf.io.encode_jpeg(img))
    return classes


def test_image_folder_tree_like_extracted_imagenet(tmp_path):
    classes = write_image_tree(tmp_path / "imagenet")
    train = load_split(str(tmp_path / "imagenet"), "train")
    assert train.size == 6 and train.class_names == classes and train.image_shape == (None, None, 3)
    items = list(train.dataset.as_numpy_iterator())
    assert [int(y) for _, y in items] == [0, 0, 0, 1, 1, 1]
    assert all(img.shape[-1] == 3 and img.dtype == np.uint8 for img, _ in items)
    assert items[1][0].shape[:2] == (47, 50)
    val = load_split(str(tmp_path / "imagenet"), "validation")
    assert val.size == 6
    # a holdout of a folder listed class by class takes every class, not the last one
    kept = load_split(str(tmp_path / "imagenet"), "train", holdout=2)
    held = load_split(str(tmp_path / "imagenet"), "holdout", holdout=2)
    assert kept.size == 4 and held.size == 2
    assert sorted(held.files[1]) == [0, 1]
    assert sorted(kept.files[0] + held.files[0]) == sorted(train.files[0])
    with pytest.raises(ValueError, match="no class folders"):
        (tmp_path / "empty").mkdir()
        load_split(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="unknown dataset"):
        load_split("not_a_dataset_or_folder")


def test_imagenet_training_pipeline_on_the_tree(tmp_path):
    write_image_tree(tmp_path / "imagenet")
    train = load_split(str(tmp_path / "imagenet"), "train")
    mean = augment.compute_pixel_mean(train, "imagenet", 3)
    assert mean.shape == (224, 224, 3) and 0.3 < mean.mean() < 0.7
    ds = augment.train_dataset(train, "imagenet", mean, 4, seed=1)
    x, y = next(iter(ds))
    assert tuple(x.shape) == (4, 224, 224, 3) and x.dtype == tf.float32
    assert abs(float(tf.reduce_mean(x))) < 0.2  # mean-subtracted


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST),
                    reason="Debian dataset-fashion-mnist not installed")
def test_fashion_mnist_through_tfds_from_debian_files_offline(tmp_path):
    """TFDS' own manual_dir mechanism, fed with Debian's files after restoring their
    upstream gzip headers (TFDS checks SHA-256)."""
    import tensorflow_datasets as tfds

    manual = fashion_mnist_manual_dir(target=str(tmp_path / "manual"))
    test = load_split("fashion_mnist", "test", data_dir=str(tmp_path / "tfds"),
                      manual_dir=manual)
    assert test.size == 10_000 and test.image_shape == (28, 28, 1)
    from keras_resnet.data import load_idx_dir

    _, (x_ref, y_ref) = load_idx_dir(DEBIAN_FASHION_MNIST)
    # TFDS stores examples in its own (shuffled) order: compare as multisets.
    def keyed(x, y):
        return sorted(img.tobytes() + bytes([int(lab)]) for img, lab in zip(x, y))

    assert keyed(test.arrays[0][..., 0], test.arrays[1]) == keyed(x_ref, y_ref)
    info = tfds.builder("fashion_mnist", data_dir=str(tmp_path / "tfds")).info
    assert info.splits["train"].num_examples == 60_000


def test_tfds_sources_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        s = load_split("cifar10", "train")
        assert s.num_classes == 10 and s.image_shape == (32, 32, 3) and s.size == 12
        mean = augment.compute_pixel_mean(s, "cifar", 3)
        x, y = next(iter(augment.train_dataset(s, "cifar", mean, 5, seed=0)))
        assert tuple(x.shape) == (5, 32, 32, 3)
        s100 = load_split("cifar100", "test")
        assert s100.num_classes == 100


def test_cifar_augmentation_is_pad_crop_flip_of_the_mean_subtracted_image():
    img = np.arange(8 * 8, dtype=np.uint8).reshape(8, 8, 1) * 3
    mean = np.full((8, 8, 1), 0.1, "float32")
    f = augment.cifar_train_map(mean, 1, pad=4)
    centred = img / 255.0 - 0.1
    padded = np.pad(centred, ((4, 4), (4, 4), (0, 0)))
    windows = {padded[t:t + 8, l:l + 8].tobytes() for t in range(9) for l in range(9)}
    windows |= {padded[t:t + 8, l:l + 8][:, ::-1].tobytes() for t in range(9) for l in range(9)}
    seen = set()
    for i in range(40):
        x, _ = f(tf.constant(img), tf.constant(0, tf.int64), tf.constant([7, i], tf.int64))
        x = x.numpy().astype(centred.dtype)
        assert x.shape == (8, 8, 1)
        assert x.astype("float32").tobytes() in {np.asarray(np.frombuffer(w), "float32").tobytes()
                                                 for w in windows} or \
            min(np.abs(x - np.frombuffer(w).reshape(8, 8, 1)).max() for w in windows) < 1e-6
        seen.add(x.tobytes())
    assert len(seen) > 5  # it is random
    again, _ = f(tf.constant(img), tf.constant(0, tf.int64), tf.constant([7, 3], tf.int64))
    first, _ = f(tf.constant(img), tf.constant(0, tf.int64), tf.constant([7, 3], tf.int64))
    np.testing.assert_array_equal(again.numpy(), first.numpy())  # a function of the seed


def _epochs(ds):
    """Batches of an epoch-keyed dataset, as one numpy array of images and of labels."""
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_epoch_keyed_pipeline_resumes_with_the_same_batches():
    """A run resumed at epoch k sees exactly the batches of an uninterrupted run from
    epoch k: order and augmentation depend on (seed, epoch) only."""
    rng = np.random.default_rng(0)
    from keras_resnet.data.sources import _array_split

    split = _array_split("toy", rng.integers(0, 255, (20, 8, 8, 1), dtype=np.uint8),
                         np.arange(20), 20)
    mean = np.zeros((8, 8, 1), "float32")
    tf.random.set_seed(0)  # a global seed of 0 must not matter (nor break the pipeline)
    full = augment.train_dataset(split, "cifar", mean, 6, seed=5, epochs=3)
    x_full, y_full = _epochs(full)
    assert len(y_full) == 60 and len(list(full)) == 3 * 4  # 4 batches per epoch (6,6,6,2)
    for e in range(3):  # each epoch is a permutation of the data
        assert sorted(y_full[20 * e:20 * (e + 1)]) == list(range(20))
    assert list(y_full[:20]) != list(y_full[20:40])  # reshuffled between epochs
    tf.random.set_seed(1234)
    x_res, y_res = _epochs(augment.train_dataset(split, "cifar", mean, 6, seed=5,
                                                 epochs=3, initial_epoch=1))
    np.testing.assert_array_equal(y_res, y_full[20:])
    np.testing.assert_array_equal(x_res, x_full[20:])  # same crops and flips too
    _, y_other = _epochs(augment.train_dataset(split, "cifar", mean, 6, seed=6, epochs=1))
    assert list(y_other) != list(y_full[:20])  # another seed, another order
    with pytest.raises(ValueError, match="needs a seed"):
        augment.train_dataset(split, "cifar", mean, 6, epochs=2)


def test_grayscale_sources_feed_rgb_networks_and_back():
    gray = tf.constant(np.full((4, 4, 1), 100, np.uint8))
    rgb = augment.to_channels(gray, 3)
    assert rgb.shape[-1] == 3 and int(tf.reduce_max(tf.abs(tf.cast(rgb, tf.int32) - 100))) == 0
    back = augment.to_channels(rgb, 1)
    assert back.shape[-1] == 1 and int(back[0, 0, 0]) == 100


def test_pca_lighting_shifts_each_image_by_a_colour_along_the_eigenvectors():
    tf.random.set_seed(3)
    x = tf.zeros((5, 5, 3))
    y = augment.pca_lighting(x).numpy()
    seeded = augment.pca_lighting(x, seed=tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(
        seeded, augment.pca_lighting(x, seed=tf.constant([1, 2], tf.int64)).numpy())
    shift = y[0, 0]
    np.testing.assert_allclose(y, np.broadcast_to(shift, y.shape))  # one colour per image
    coeffs = np.linalg.solve(augment.PCA_EIGVEC, shift) / augment.PCA_EIGVAL
    assert np.all(np.abs(coeffs) < 0.5) and np.any(coeffs != 0)  # alpha ~ N(0, 0.1)


def test_a_holdout_of_arrays_stored_by_class_takes_every_class():
    """idx or CIFAR files sorted by label: the last k examples (Keras' validation_split)
    were the last class or two, so most of one class never trained and the holdout
    accuracy spoke for one class. Arrays in random order (the shipped datasets) keep
    the last k, as before."""
    from keras_resnet.data.sources import _array_split, holdout_split

    index = np.arange(1000)
    x = np.zeros((1000, 2, 2, 1), "uint8")
    x[:, 0, 0, 0], x[:, 0, 1, 0] = index // 256, index % 256  # each image names itself
    y = np.repeat(np.arange(10), 100)

    def indices(split):
        return set(split.arrays[0][:, 0, 0, 0].astype(int) * 256 + split.arrays[0][:, 0, 1, 0])

    train, held = holdout_split(_array_split("sorted", x, y, 10), 200)
    assert held.size == 200 and train.size == 800
    assert set(np.unique(held.arrays[1])) == set(range(10))
    assert np.bincount(held.arrays[1]).min() >= 15  # each class in about its share
    assert indices(held) | indices(train) == set(range(1000))
    assert not indices(held) & indices(train)
    shuffled = np.random.default_rng(0).permutation(1000)
    train, held = holdout_split(_array_split("shuffled", x[shuffled], y[shuffled], 10), 200)
    np.testing.assert_array_equal(held.arrays[1], y[shuffled][800:])


def test_the_pixel_mean_of_a_large_folder_holds_every_class(tmp_path):
    """A folder lists its files class by class: the mean of its first max_images would
    be the first class's. Two classes, black and white, 12 images each, 12 taken: a
    random choice holds both (the mean of the first 12 would be 0)."""
    for label, value in (("black", 0), ("white", 255)):
        (tmp_path / label).mkdir()
        for i in range(12):
            png = tf.io.encode_png(np.full((8, 8, 3), value, np.uint8)).numpy()
            (tmp_path / label / f"{i:02d}.png").write_bytes(png)
    train = load_split(str(tmp_path), "train", holdout=0)
    assert train.files[1][:12] == (0,) * 12  # stored class by class
    mean = augment.compute_pixel_mean(train, "cifar", 3, max_images=12)
    white = np.isin(np.arange(24), np.random.default_rng(0).choice(24, 12, replace=False)
                    ).reshape(2, 12)[1].sum()  # the images Split.sample(12, 0) takes
    np.testing.assert_allclose(mean, white / 12, atol=1e-6)
    assert 0.2 < float(mean.mean()) < 0.8


def test_split_folders_without_train_are_not_taken_for_classes(tmp_path):
    """A folder with test/ (or test/ and val/) but no train/ read its split folders as two
    classes, or said "one class folder (test)": the error says train/ is missing."""
    for splits in (("test",), ("test", "val")):
        root = tmp_path / "_".join(splits)
        for split in splits:
            for label in ("cat", "dog"):
                (root / split / label).mkdir(parents=True)
                png = tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy()
                (root / split / label / "0.png").write_bytes(png)
        for split in ("train", "test"):
            with pytest.raises(ValueError, match=r"has test/.*but no train/ folder.*"
                                                 r"--dataset .*test"):
                load_split(str(root), split)
        assert load_split(str(root / "test"), "test").num_classes == 2
