"""A folder of images as a dataset: every file decoded right (PNG/JPEG, 8/16-bit,
grey/RGB/RGBA), its size known, a corrupt file named before anything trains, images of
another size resized, offline TFDS names failing within seconds."""

import os
import time

import numpy as np
import pytest

from keras_resnet.data import SkippedFilesWarning, load_split
from keras_resnet.data.images import (IMAGE_EXTENSIONS, IMAGE_FORMATS, decoder_reason,
                                      read_image, scan_images)
from keras_resnet.data.sources import files_split, read_images

from tests.helpers import FOLDER_KINDS, class_image, write_image, write_image_folder


@pytest.mark.parametrize("kind", FOLDER_KINDS)
def test_every_kind_of_file_reads_as_its_8_bit_rgb_image(tmp_path, kind):
    rgb = class_image(1, (12, 10), seed=3)
    path = tmp_path / ("x.jpg" if kind.startswith("jpeg") else "x.png")
    expected = write_image(path, rgb, kind)
    got = read_image(str(path))
    assert got.shape == (12, 10, 3) and got.dtype == np.uint8
    if kind.startswith("jpeg"):  # PIL's decoder, not ours: within rounding
        assert np.abs(got.astype(int) - expected).max() <= 2
    else:  # exact, 16-bit files included (v * 257 read back as v)
        np.testing.assert_array_equal(got, expected)


def test_a_16_bit_grey_png_is_scaled_not_wrapped_or_clipped(tmp_path):
    """The issue's sandal: a 16-bit PNG read as an all-zero (or all-255) image."""
    import tensorflow as tf

    ramp = np.linspace(0, 65535, 16 * 16).reshape(16, 16, 1).astype("uint16")
    path = tmp_path / "ramp16.png"
    path.write_bytes(tf.io.encode_png(tf.constant(ramp)).numpy())
    got = read_image(str(path))[..., 0]
    np.testing.assert_array_equal(got, (ramp[..., 0] >> 8).astype("uint8"))
    # the predict reader gives the same pixels, in grey for a 1-channel network
    np.testing.assert_array_equal(read_images([str(path)], (16, 16), 1)[0, ..., 0], got)


def test_folder_split_knows_its_size_and_reads_each_file(tmp_path):
    expected = write_image_folder(tmp_path / "photos", per_class=6)
    train = load_split(str(tmp_path / "photos"), "train")
    assert train.image_shape == (32, 32, 3)  # all share one size: not (None, None, 3)
    assert train.image_sizes == {(32, 32)} and train.class_names == ("a", "b")
    assert train.size == 12 and train.num_classes == 2
    for (x, y), path in zip(train.dataset, train.files[0]):
        want = expected[path]
        tol = 2 if path.endswith(".jpg") else 0
        assert np.abs(x.numpy().astype(int) - want).max() <= tol, path
        assert int(y) == (0 if "/a/" in path else 1)


def test_mixed_sizes_are_reported_and_resized_on_request(tmp_path):
    root = tmp_path / "mixed"
    write_image_folder(root, per_class=2, size=(32, 32), kinds=("png8_rgb",))
    os.makedirs(root / "train" / "a", exist_ok=True)
    big = class_image(0, (71, 53))
    write_image(root / "train" / "a" / "big.png", big, "png8_rgb")
    train = load_split(str(root), "train")
    assert train.image_shape == (None, None, 3)
    assert train.image_sizes == {(32, 32), (71, 53)}
    fixed = train.resized((32, 32))
    assert fixed.image_shape == (32, 32, 3)
    shapes = {tuple(x.shape) for x, _ in fixed.dataset}
    assert shapes == {(32, 32, 3)}
    # the resized file, bilinear with antialiasing, against TensorFlow's own resize
    import tensorflow as tf

    i = fixed.files[0].index(str(root / "train" / "a" / "big.png"))
    got = list(fixed.dataset)[i][0].numpy()
    ref = np.clip(np.round(tf.image.resize(big.astype("float32"), (32, 32), antialias=True)
                           .numpy()), 0, 255)
    np.testing.assert_array_equal(got, ref.astype("uint8"))
    # holdout and take keep the resize
    assert {tuple(x.shape) for x, _ in fixed.take(3).dataset} == {(32, 32, 3)}


def test_a_corrupt_file_is_named_with_its_reason_or_skipped_with_a_count(tmp_path, capsys):
    root = tmp_path / "photos"
    write_image_folder(root, per_class=3, kinds=("png8_rgb", "jpeg_rgb"))
    bad = root / "train" / "b" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 5)
    text = root / "train" / "a" / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(ValueError) as info:
        load_split(str(root), "train")
    message = str(info.value)
    assert "\n" not in message and "2 of 8 image files" in message
    assert str(bad) in message and "Invalid PNG" in message
    assert str(text) in message and "--skip-bad-images" in message
    split = load_split(str(root), "train", skip_bad_images=True)
    assert split.size == 6 and split.skipped == 2
    assert "Skipping 2 unreadable image file(s)" in capsys.readouterr().out
    assert len(list(split.dataset)) == 6  # the pipeline never meets the bad files


def test_files_it_does_not_read_are_counted_and_named_in_one_warning(tmp_path):
    """A .tiff photo, notes.txt and a sub-folder were left out silently; now one warning
    counts them, names a few and says what is read (hidden files stay unmentioned)."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=3, kinds=("png8_rgb",))
    (root / "train" / "a" / "scan.tiff").write_bytes(b"II*\0")
    (root / "train" / "b" / "notes.txt").write_text("where these came from")
    (root / "train" / "b" / "more").mkdir()
    (root / "train" / "b" / ".DS_Store").write_bytes(b"")
    with pytest.warns(SkippedFilesWarning) as caught:
        split = load_split(str(root), "train")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "3 of the 9 entries" in message and str(root / "train") in message
    for name in ("a/scan.tiff", "b/notes.txt", "b/more/", ".webp", "PNG"):
        assert name in message, name
    assert ".DS_Store" not in message and "\n" not in message
    assert split.size == 6 and split.class_names == ("a", "b")
    import warnings

    with warnings.catch_warnings():  # a folder of images only: no warning
        warnings.simplefilter("error")
        assert load_split(str(root), "test").size == 6


def test_a_class_folder_without_a_readable_training_image_is_named(tmp_path, capsys):
    """A class with no training image stayed in class_names.json, a class never seen."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",), classes=("a", "b", "c", "d"))
    for path in (root / "train" / "c").iterdir():  # c: photos in a format not read
        path.rename(path.with_suffix(".tiff"))
    for path in (root / "train" / "d").iterdir():  # d: one unreadable file, skipped
        path.unlink()
    (root / "train" / "d" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 40)
    with pytest.warns(SkippedFilesWarning), pytest.raises(ValueError) as info:
        load_split(str(root), "train", skip_bad_images=True)
    message = str(info.value)
    assert "class folder(s) c, d (2 of 4 classes)" in message and "\n" not in message
    assert "remove those folders" in message and ".png" in message
    assert load_split(str(root), "test").size == 8  # a test split may lack a class
    # the command line: one warning line, one error line, no run directory
    from keras_resnet.cli import main

    out = tmp_path / "run"
    assert main(["train", "--model", "resnet8", "--dataset", str(root), "--out", str(out),
                 "--epochs", "1", "--skip-bad-images"]) == 2
    err = capsys.readouterr().err
    assert "keras-resnet train: warning: 2 of the" in err and "c/000_png8_rgb.tiff" in err
    assert "keras-resnet train: error:" in err and "c, d (2 of 4 classes)" in err
    assert "Traceback" not in err and not out.exists()


def test_webp_files_are_listed_and_read_as_predict_reads_them(tmp_path):
    """predict decoded a .webp named on the command line while folders skipped it; RGBA
    WebPs failed ("Number of channels requested does not match input")."""
    import PIL.Image

    from keras_resnet.workflows import _image_paths

    assert ".webp" in IMAGE_EXTENSIONS and "WebP" in IMAGE_FORMATS
    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",))
    rgb = class_image(0, (12, 10), seed=5)
    alpha = np.full((12, 10, 1), 90, "uint8")
    PIL.Image.fromarray(rgb).save(root / "train" / "a" / "lossless.webp", lossless=True)
    PIL.Image.fromarray(np.concatenate([rgb, alpha], -1)).save(
        root / "train" / "b" / "rgba.WEBP", lossless=True)
    split = load_split(str(root), "train")
    assert split.size == 6 and split.skipped == 0
    assert sorted(p for p in split.files[0] if p.lower().endswith(".webp")) == [
        str(root / "train" / "a" / "lossless.webp"), str(root / "train" / "b" / "rgba.WEBP")]
    for path in (root / "train" / "a" / "lossless.webp", root / "train" / "b" / "rgba.WEBP"):
        np.testing.assert_array_equal(read_image(str(path)), rgb)  # alpha dropped
    decoded = {p: x.numpy() for (x, _), p in zip(split.dataset, split.files[0])}  # tf.data
    np.testing.assert_array_equal(decoded[str(root / "train" / "b" / "rgba.WEBP")], rgb)
    assert str(root / "train" / "b" / "rgba.WEBP") in _image_paths(str(root))
    frames = [PIL.Image.fromarray(class_image(i % 2, (12, 10), seed=i)) for i in range(3)]
    animated = tmp_path / "anim.webp"
    frames[0].save(animated, save_all=True, append_images=frames[1:])
    with pytest.raises(ValueError, match="anim.webp.*an animated WebP"):
        read_image(str(animated))


def test_the_docs_name_every_format_the_folders_read():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    guide = (root / "docs" / "guides" / "own-images.md").read_text()
    readme = (root / "README.md").read_text()
    for ext in IMAGE_EXTENSIONS:
        assert f"`{ext}`" in guide, ext
    for name in IMAGE_FORMATS.split(", "):
        assert name in guide and name in readme, name


def test_scan_reports_sizes_and_the_decoders_reason(tmp_path):
    good = tmp_path / "good.png"
    write_image(good, class_image(0, (9, 7)), "png16_rgb")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    scan = scan_images([str(good), str(empty)])
    assert scan.sizes == ((9, 7), None)
    assert scan.bad[0][0] == str(empty) and scan.bad[0][1]
    assert "[Op:" not in scan.bad[0][1] and "{{" not in scan.bad[0][1]


def test_scan_and_split_say_whether_the_files_hold_colour(tmp_path):
    grey = class_image(0, (9, 7))[..., :1].repeat(3, -1)
    files = {"colour.png": (class_image(0, (9, 7)), "png8_rgb"),
             "grey.png": (class_image(1, (9, 7)), "png8_grey"),
             "grey16.png": (class_image(1, (9, 7)), "png16_grey"),
             "rgb_of_grey.png": (grey, "png8_rgb")}
    for name, (rgb, kind) in files.items():
        write_image(tmp_path / name, rgb, kind)
    (tmp_path / "empty.png").write_bytes(b"")
    scan = scan_images([str(tmp_path / n) for n in (*files, "empty.png")], progress=False)
    assert scan.colour == (True, False, False, False, None)
    for kinds, colour in ((("png8_grey", "png16_grey"), False), (("png8_rgb",), True)):
        root = tmp_path / kinds[0]
        write_image_folder(root, per_class=2, kinds=kinds)
        split = load_split(str(root), "train")
        assert split.has_colour() is colour and split.sample(2).has_colour() is colour


def test_decoder_reason_strips_tensorflow_wrapping():
    text = ("{{function_node __wrapped__DecodeImage_device_/job:localhost/replica:0/task:0/"
            "device:CPU:0}} Invalid PNG data, size 100 [Op:DecodeImage] name: ")
    assert decoder_reason(ValueError(text)) == "Invalid PNG data, size 100"


def test_files_split_names_a_missing_or_bad_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        files_split([str(tmp_path / "missing.png")])
    (tmp_path / "x.png").write_text("no")
    with pytest.raises(ValueError, match="x.png.*not an image file"):
        files_split([str(tmp_path / "x.png")])


def test_offline_tfds_name_fails_within_seconds_with_what_to_do(tmp_path, monkeypatch):
    from keras_resnet.data import sources

    for var in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    # a host that cannot answer: an unroutable TEST-NET address (RFC 5737)
    monkeypatch.setitem(sources._TFDS_HOSTS, "cifar10", "192.0.2.1")
    monkeypatch.setattr(sources, "HOST_TIMEOUT_S", 1.0)
    start = time.perf_counter()
    with pytest.raises(RuntimeError) as info:
        load_split("cifar10", "train", data_dir=str(tmp_path / "tfds"))
    assert time.perf_counter() - start < 15
    message = str(info.value)
    assert "cannot be reached" in message and "cifar-10-batches-py" in message
    assert "--dataset DIR" in message and "class folders" in message
    assert not (tmp_path / "tfds" / "cifar10").exists() or not any(
        (tmp_path / "tfds" / "cifar10").rglob("*.tfrecord*"))


def test_an_animated_gif_is_its_first_frame_and_exif_orientation_is_not_applied(tmp_path):
    """What docs/guides/own-images.md promises, against PIL as the reference: an
    animated GIF reads as its first frame (as Keras' image_dataset_from_directory
    reads it), and a JPEG's EXIF orientation tag leaves its stored pixels as they are
    (a rotated read would differ from training to whatever reads the file otherwise)."""
    import PIL.Image

    frames = [np.zeros((8, 12, 3), "uint8") + v for v in (40, 200, 120)]
    frames[0][:, :6] = 250  # the first frame is not uniform: a wrong frame shows
    gif = tmp_path / "anim.gif"
    PIL.Image.fromarray(frames[0]).save(
        gif, save_all=True, append_images=[PIL.Image.fromarray(f) for f in frames[1:]])
    with PIL.Image.open(gif) as im:
        assert im.n_frames == 3
        first = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(read_image(str(gif)), first)
    tall = class_image(1, (20, 8), seed=3)  # 20 x 8 stored; orientation 6 = "rotate 90"
    exif = PIL.Image.Exif()
    exif[0x0112] = 6
    jpg = tmp_path / "tagged.jpg"
    PIL.Image.fromarray(tall).save(jpg, exif=exif.tobytes(), quality=95)
    with PIL.Image.open(jpg) as im:
        assert im.getexif()[0x0112] == 6
        stored = np.asarray(im.convert("RGB"))
    got = read_image(str(jpg))
    assert got.shape == (20, 8, 3)
    np.testing.assert_array_equal(got, stored)


def test_hidden_folders_are_not_classes_and_one_class_is_refused(tmp_path):
    """A `.thumbnails` folder in train/ became a third class (the network learnt and
    predicted it); a train/ of one class trained a one-output network that train scored
    at 0% and evaluate at 100% (Keras' "accuracy" on one unit is binary accuracy)."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",), classes=("cat", "dog"))
    for hidden in (root / "train" / ".thumbnails", root / ".ipynb_checkpoints"):
        hidden.mkdir()
    write_image(root / "train" / ".thumbnails" / "0.png", class_image(0, (32, 32)), "png8_rgb")
    for split in ("train", "test"):
        s = load_split(str(root), split)
        assert s.class_names == ("cat", "dog") and s.size == 4
    flat = tmp_path / "flat"
    write_image_folder(flat, per_class=2, kinds=("png8_rgb",), split_dirs=("",))
    (flat / ".ipynb_checkpoints").mkdir()  # empty: it had been "a class without images"
    assert load_split(str(flat), "train").class_names == ("a", "b")
    one = tmp_path / "one"
    write_image_folder(one, per_class=2, kinds=("png8_rgb",), classes=("cat",))
    for split in ("train", "test"):
        with pytest.raises(ValueError, match=r"train has one class folder \(cat\): a "
                                             r"classifier needs at least two classes.*"
                                             r"Add a folder per class"):
            load_split(str(one), split)


def test_images_beside_the_class_folders_are_counted_in_a_warning(tmp_path):
    """Images put directly in train/ (not in a class folder) were left out without a
    word, while other unread entries were counted."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",))
    for name in ("loose.png", "other.JPG"):
        write_image(root / "train" / name, class_image(0, (32, 32)), "png8_rgb")
    with pytest.warns(SkippedFilesWarning, match=r"2 image file\(s\) directly in .*train "
                                                 r"are not read \(loose.png, other.JPG\).*"
                                                 r"move them into the folder of their class"):
        s = load_split(str(root), "train")
    assert s.size == 4


def test_images_too_small_for_the_network_say_how_to_resize(tmp_path):
    """A folder of 1x1 photos ended in the builder's "input_shape (1, 1, 3) is too
    small ... or None", which names neither --image-size nor the images."""
    from keras_resnet.arch.specs import get_spec
    from keras_resnet.training.inputs import resolve_input

    root = tmp_path / "tiny"
    write_image_folder(root, per_class=2, size=(1, 1), kinds=("png8_rgb",))
    split = load_split(str(root), "train")
    with pytest.raises(ValueError, match=r"images of .*train are all 1x1, smaller than "
                                         r"resnet20 takes \(at least 4x4.*--image-size H W"):
        resolve_input(get_spec("resnet20"), split)
    assert resolve_input(get_spec("resnet20"), split, image_size=(32, 32))[0] == (32, 32, 3)


def test_class_folders_match_across_unicode_forms_and_a_capitalised_test_is_named(tmp_path):
    """A test/café written decomposed (NFD, as macOS writes it) beside a train/café
    written composed (NFC) was refused as "a class folder training lacks: café", the
    same name on both sides; a Test/ folder was "none of ('test', 'val', ...)"."""
    import unicodedata

    root = tmp_path / "photos"
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    write_image_folder(root, per_class=2, kinds=("png8_rgb",), classes=(nfc, "dog"),
                       split_dirs=("train",))
    write_image_folder(root, per_class=3, kinds=("png8_rgb",), classes=(nfd, "dog"),
                       split_dirs=("test",))
    test = load_split(str(root), "test")
    assert test.class_names == (nfc, "dog") and test.size == 6 and not test.unread_classes
    assert sorted(test.files[1]) == [0, 0, 0, 1, 1, 1]
    (root / "test").rename(root / "Test")
    with pytest.raises(ValueError, match=r"none of test/, val/, valid/, validation/ for split "
                                         r"'test'; it has Test/: folder names are "
                                         r"case-sensitive, rename it to test/"):
        load_split(str(root), "test")


def test_folders_beside_train_that_no_split_reads_are_named(tmp_path):
    """Class folders put at the top beside train/, or a second validation folder, were
    left out without a word; Roboflow's valid/ was not a split name."""
    root = tmp_path / "photos"
    write_image_folder(root, per_class=2, kinds=("png8_rgb",), split_dirs=("train", ""))
    write_image_folder(root, per_class=1, kinds=("png8_rgb",), split_dirs=("valid",))
    with pytest.warns(SkippedFilesWarning, match=r"photos has 2 entries beside train/ that no "
                                                 r"split reads: a/, b/ \(a/, b/ have the names "
                                                 r"of classes of train/: move their images "
                                                 r"into train/<class>/.*Its splits are "
                                                 r"train/ \(training\), valid/ \(the "
                                                 r"score\), each with"):
        assert load_split(str(root), "train").size == 4
    assert load_split(str(root), "test").name == str(root / "valid")  # no test/: valid/
    write_image_folder(root, per_class=1, kinds=("png8_rgb",), split_dirs=("test",))
    (root / "validation").mkdir()  # a second validation folder: valid/ is read
    import shutil

    for name in ("a", "b"):
        shutil.rmtree(root / name)
    with pytest.warns(SkippedFilesWarning, match=r"1 entry beside train/ that no split "
                                                 r"reads: validation/\. Its splits are "
                                                 r"train/ \(training\), test/ \(the score\), "
                                                 r"valid/ \(validation\), each"):
        load_split(str(root), "train")
    assert load_split(str(root), "test").name == str(root / "test")
    assert load_split(str(root), "validation").name == str(root / "valid")


def test_a_jpeg_cut_short_in_its_header_is_named_without_libjpeg_writing_to_stderr(
        tmp_path, capfd):
    """A JPEG truncated in its header made libjpeg write "Input file read error" or
    "Improper call to JPEG library in state 201" to stderr (past TensorFlow's log
    level), twice per file during a folder's scan, before the package's own line."""
    import io

    from PIL import Image

    rgb = class_image(1, (40, 30), seed=5)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", exif=b"Exif\0\0" + b"x" * 3000)
    whole = buffer.getvalue()
    sos = whole.index(b"\xff\xda")
    cuts = {"soi_only.jpg": whole[:3], "in_exif.jpg": whole[:1500],
            "in_tables.jpg": whole[:sos - 5], "in_sos.jpg": whole[:sos + 4]}
    for name, data in cuts.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "no_image.jpg").write_bytes(whole[:2] + b"\xff\xd9")
    (tmp_path / "trailing.jpg").write_bytes(whole + b"more bytes")  # still readable
    (tmp_path / "whole.jpg").write_bytes(whole)
    capfd.readouterr()
    paths = [str(tmp_path / n) for n in (*cuts, "no_image.jpg", "trailing.jpg", "whole.jpg")]
    scan = scan_images(paths, progress=False)
    assert scan.sizes[-2:] == ((40, 30), (40, 30))
    reasons = dict(scan.bad)
    for name, data in cuts.items():
        assert reasons[str(tmp_path / name)] == (
            f"a JPEG cut short inside its header ({len(data)} bytes)")
        with pytest.raises(ValueError, match=r"not an image file this can read .*: a JPEG "
                                             r"cut short inside its header"):
            read_image(str(tmp_path / name))
    assert reasons[str(tmp_path / "no_image.jpg")] == (
        "a JPEG with no image data (it ends before its first scan)")
    np.testing.assert_array_equal(read_image(str(tmp_path / "trailing.jpg")),
                                  read_image(str(tmp_path / "whole.jpg")))
    err = capfd.readouterr().err
    assert "Input file read error" not in err and "Improper call" not in err, err

