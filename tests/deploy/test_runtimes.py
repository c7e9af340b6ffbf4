"""The raw runners (one per runtime) check a batch against the input their file declares.

Without the check a wrong batch failed inside each runtime in its own way: OpenVINO's
and LiteRT's C++ shape checks, an IndexError from LiteRT for an empty batch, ONNX
Runtime refusing float64, and TensorFlow aborting the whole process when a SavedModel
got one image without its batch axis.
"""

import keras
import numpy as np
import pytest

from keras_resnet.deploy import export
from keras_resnet.deploy.runtimes import (LiteRTRunner, OnnxRuntimeRunner, OpenVINORunner,
                                          SavedModelRunner)

RUNNERS = {"onnx": (".onnx", OnnxRuntimeRunner), "openvino": (".xml", OpenVINORunner),
           "tflite": (".tflite", LiteRTRunner), "saved_model": ("", SavedModelRunner)}


def _tiny(channels, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((12, 12, channels)), keras.layers.Conv2D(4, 3),
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(3, name="predictions")])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One small float32 file per runtime (input (N, 12, 12, 1)) and its Keras model."""
    root = tmp_path_factory.mktemp("runtimes")
    model = _tiny(1)
    paths = {}
    for kind, (suffix, _) in RUNNERS.items():
        paths[kind] = str(root / f"m{suffix}")
        getattr(export, kind)(model, paths[kind])
    return model, paths


@pytest.mark.parametrize("kind", sorted(RUNNERS))
def test_a_batch_of_the_wrong_shape_gets_an_error_that_says_what_to_change(files, kind):
    _, paths = files
    run = RUNNERS[kind][1](paths[kind])
    cases = [(np.zeros((12, 12, 1), "float32"), r"one image\? add a batch axis: x\[None\]"),
             (np.zeros((2, 12, 12), "float32"), r"channel axis: x\[\.\.\., None\]"),
             (np.zeros((12, 12), "float32"), r"x\[None, \.\.\., None\]"),
             (np.zeros((2, 12, 12, 3), "float32"), r"shape \(N, 12, 12, 1\), got \(2, 12, 12, 3\)"),
             (np.zeros((2, 10, 12, 1), "float32"), r"shape \(N, 12, 12, 1\)"),
             (np.zeros((0, 12, 12, 1), "float32"), "the batch is empty"),
             (np.array([["a"]]), "expected real numbers"),
             (np.full((1, 12, 12, 1), np.nan, "float32"), "NaN or infinite"),
             (np.full((1, 12, 12, 1), 1e300), "NaN or infinite")]  # inf as float32
    for x, message in cases:
        with pytest.raises(ValueError, match=message):
            run(x)


@pytest.mark.parametrize("kind", sorted(RUNNERS))
def test_float64_integer_and_list_batches_answer_as_their_float32_cast(files, kind):
    model, paths = files
    run = RUNNERS[kind][1](paths[kind])
    x = np.random.default_rng(1).integers(0, 4, (3, 12, 12, 1)).astype("float32")
    want = np.asarray(model(x))
    for given in (x, x.astype("float64"), x.astype("uint8"), x.tolist()):
        got = run(given)["predictions"]
        assert got.dtype == np.float32 and got.shape == (3, 3)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["onnx", "openvino"])
def test_a_raw_pixel_file_takes_whole_numbers_and_refuses_normalised_floats(tmp_path, kind):
    suffix, runner = RUNNERS[kind]
    path = str(tmp_path / f"raw{suffix}")
    getattr(export, kind)(_tiny(3), path, raw_uint8=True, include_preprocessing="torch")
    run = runner(path)
    pixels = np.random.default_rng(2).integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    want = run(pixels)["predictions"]
    np.testing.assert_allclose(run(pixels.astype("float32"))["predictions"], want,
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"not integers in 0\.\.255"):
        run(pixels.astype("float32") / 255.0 + 0.5)


def test_an_ir_with_the_bin_of_another_export_is_refused(tmp_path):
    import shutil

    from keras_resnet.deploy import open_artifact

    first, second = _tiny(1), _tiny(1, seed=1)  # the same net, other weights
    export.openvino(first, str(tmp_path / "a.xml"))
    export.openvino(second, str(tmp_path / "b.xml"))
    x = np.random.default_rng(3).uniform(0, 1, (2, 12, 12, 1)).astype("float32")
    np.testing.assert_allclose(open_artifact(tmp_path / "a.xml")(x)["predictions"],
                               np.asarray(first(x)), rtol=1e-4, atol=1e-4)
    shutil.copy(tmp_path / "b.bin", tmp_path / "a.bin")  # same size, other weights
    # OpenVINO itself runs the pair and answers with the other model's weights ...
    raw = OpenVINORunner(str(tmp_path / "a.xml"))(x)["predictions"]
    assert not np.allclose(raw, np.asarray(first(x)), atol=1e-3)
    # ... which open_artifact refuses, naming both files
    with pytest.raises(ValueError, match=r"a\.bin is not the weights file .*a\.xml"):
        open_artifact(tmp_path / "a.xml")
    # a .bin cut short is named as such (before: OpenVINO's "Incorrect weights in bin")
    (tmp_path / "a.bin").write_bytes((tmp_path / "b.bin").read_bytes()[:100])
    with pytest.raises(ValueError, match=r"a\.bin is not the weights file"):
        open_artifact(tmp_path / "a.xml")
    # an IR re-saved by OpenVINO (another weights layout) is a new, consistent pair
    import openvino as ov

    ov.save_model(ov.Core().read_model(str(tmp_path / "b.xml")), str(tmp_path / "c.xml"))
    np.testing.assert_allclose(open_artifact(tmp_path / "c.xml")(x)["predictions"],
                               np.asarray(second(x)), rtol=1e-2, atol=1e-2)
    (tmp_path / "a.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"a\.bin not found.*copy both files"):
        open_artifact(tmp_path / "a.xml")


def _fix_batch(kind, model, path, batch):
    """A file of ``model`` whose input takes only batches of ``batch`` images, as other
    tools write them (torch.onnx.export with a traced batch, an IR reshaped by OpenVINO,
    a SavedModel with a fixed signature)."""
    if kind == "onnx":
        import onnx

        export.onnx(model, path)
        proto = onnx.load(path)
        proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = batch
        onnx.save(proto, path)
    elif kind == "openvino":
        import openvino as ov

        export.openvino(model, path[:-4] + ".free.xml")
        ir = ov.Core().read_model(path[:-4] + ".free.xml")  # maps its .bin: write elsewhere
        ir.reshape({0: [batch, 12, 12, 1]})
        ov.save_model(ir, path, compress_to_fp16=False)
    else:
        from keras_resnet.deploy.keras_export import write_saved_model
        from keras_resnet.deploy.serving import serving_model

        serving, signature = serving_model(model)
        write_saved_model(serving, signature, path, batch=batch)


@pytest.mark.parametrize("kind", ["onnx", "openvino", "saved_model"])
def test_a_file_with_a_fixed_batch_runs_any_batch_in_slices(tmp_path, kind):
    suffix, runner = RUNNERS[kind]
    model, path = _tiny(1), str(tmp_path / f"fixed{suffix}")
    _fix_batch(kind, model, path, 2)
    run = runner(path)
    assert run.file_input.batch == 2
    x = np.random.default_rng(4).uniform(0, 1, (5, 12, 12, 1)).astype("float32")
    want = np.asarray(model(x))
    for n in (1, 2, 5):  # smaller, equal, larger and not a multiple (padded, cut back)
        got = run(x[:n])["predictions"]
        assert got.shape == (n, 3)
        np.testing.assert_allclose(got, want[:n], rtol=1e-4, atol=1e-5)


def test_uint8_pixels_into_a_file_that_records_no_preprocessing_are_refused(files):
    from keras_resnet.deploy import open_artifact, read_metadata

    model, paths = files
    assert read_metadata(paths["onnx"])["preprocessing"] is None
    run = open_artifact(paths["onnx"])
    pixels = np.random.default_rng(5).integers(0, 256, (2, 12, 12, 1), dtype=np.uint8)
    # cast to float, raw pixels would run and answer for the wrong input values
    with pytest.raises(ValueError, match=r"records no preprocessing.*astype\('float32'\)"):
        run(pixels)
    np.testing.assert_allclose(run(pixels.astype("float32"))["predictions"],
                               np.asarray(model(pixels.astype("float32"))),
                               rtol=1e-4, atol=1e-4)


_NCHW_WITHOUT_ONEDNN = """
import sys
import numpy as np
from keras_resnet.deploy.runtimes import SavedModelRunner
try:
    SavedModelRunner(sys.argv[1])(np.zeros((1, 3, 16, 16), "float32"))
except ValueError as e:
    print("ValueError:", e)
"""


def test_a_channels_first_saved_model_runs_on_a_cpu_or_says_how_to(tmp_path):
    import os
    import subprocess
    import sys

    import tensorflow as tf

    import keras_resnet

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU runs NCHW convolutions")
    keras.config.set_image_data_format("channels_first")
    try:
        model = keras_resnet.build("resnet20", input_shape=(3, 16, 16), classes=3)
    finally:
        keras.config.set_image_data_format("channels_last")
    path = str(tmp_path / "nchw")
    export.saved_model(model, path)
    # oneDNN on (the package turns it on when imported first, as conftest does): it runs
    x = np.random.default_rng(6).uniform(0, 1, (2, 3, 16, 16)).astype("float32")
    np.testing.assert_allclose(SavedModelRunner(path)(x)["predictions"],
                               np.asarray(model(x)), rtol=1e-4, atol=1e-5)
    # oneDNN off: TensorFlow's UnimplementedError ("Conv2D ... only supports the NHWC
    # tensor format on the CPU") becomes a ValueError that says what to do
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", _NCHW_WITHOUT_ONEDNN, path], env=env,
                         capture_output=True, text=True, timeout=300).stdout
    assert "ValueError: this SavedModel runs its convolutions channels_first" in out
    assert "TF_ENABLE_ONEDNN_OPTS=1" in out


def test_check_batch_refuses_float64_values_that_overflow_float32():
    from keras_resnet.deploy.serving import check_batch, serving_model

    _, signature = serving_model(_tiny(1))
    with pytest.raises(ValueError, match=r"NaN or infinite values \(as float32\)"):
        check_batch(np.full((1, 12, 12, 1), 1e300), signature)
    assert check_batch(np.ones((1, 12, 12, 1)), signature).dtype == np.float32


def test_the_ir_record_read_from_the_xml_text_is_openvinos_rt_info(files):
    import json

    import openvino as ov

    from keras_resnet.deploy import read_metadata

    _, paths = files
    ir = ov.Core().read_model(paths["openvino"])
    assert read_metadata(paths["openvino"]) == json.loads(
        ir.get_rt_info(["keras_resnet"]).astype(str))
    weights = json.loads(ir.get_rt_info(["keras_resnet_weights"]).astype(str))
    assert weights["bytes"] == len(open(paths["openvino"][:-4] + ".bin", "rb").read())


_INTEGERS = ["uint8", "uint16", "int32", "int64", "list"]


def _without_record(path, out):
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    onnx.save(proto, out)
    return out


@pytest.mark.parametrize("dtype", _INTEGERS)
def test_integer_pixels_into_a_float_file_are_refused_whatever_it_records(files, tmp_path,
                                                                          dtype):
    """Only uint8 was refused: int64, int32, uint16 pixels (or nested lists of ints)
    ran cast to float into a file that records no preprocessing, and any integers into
    a file with no record at all (another tool's), answering for the wrong input."""
    from keras_resnet.deploy import open_artifact, read_metadata

    model, paths = files
    bare = _without_record(paths["onnx"], str(tmp_path / "bare.onnx"))
    assert not read_metadata(bare)
    pixels = np.random.default_rng(6).integers(0, 256, (2, 12, 12, 1))
    given = pixels.tolist() if dtype == "list" else pixels.astype(dtype)
    for path, message in ((paths["onnx"], "records no preprocessing"),
                          (bare, "records nothing about them")):
        run = open_artifact(path)
        with pytest.raises(ValueError, match=rf"{message}.*pixels.*astype\('float32'\)"):
            run(given)
        np.testing.assert_allclose(run(pixels.astype("float32"))["predictions"],
                                   np.asarray(model(pixels.astype("float32"))),
                                   rtol=1e-4, atol=1e-4)


def test_raw_pixels_as_floats_into_a_preprocessed_file_are_refused(tmp_path):
    """A file that records torch-mode preprocessing (values in [-2.2, 2.7]) given 0-255
    pixels cast to float ran and answered for them; the preprocessed batch runs."""
    from keras_resnet import Preprocessing
    from keras_resnet.deploy import open_artifact

    model, path = _tiny(3), str(tmp_path / "torch.onnx")
    export.onnx(model, path, preprocessing="torch")
    run = open_artifact(path)
    pixels = np.random.default_rng(7).integers(0, 256, (2, 12, 12, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"values up to 25\d.*\[-2.12, 2.64\].*look like raw "
                                         r"pixels.*runner\.preprocessing\(pixels\)"):
        run(pixels)
    with pytest.raises(ValueError, match="got int64 pixels: preprocess them first"):
        run(pixels.astype("int64"))
    x = run.preprocessing(pixels)
    assert run.preprocessing == Preprocessing.from_mode("torch")
    np.testing.assert_allclose(run(x)["predictions"], np.asarray(model(x)), rtol=1e-4,
                               atol=1e-4)
    # noise of the preprocessed scale is not refused (a probe batch, say)
    run(np.random.default_rng(8).normal(0, 3, (2, 12, 12, 3)).astype("float32"))
    # the export's verification refuses what the file's runner refuses, before writing
    for given, match in ((pixels.astype("uint8"), "uint8 pixels, but this model takes "
                                                  "preprocessed float images"),
                         (pixels, "values up to 25\\d.*look like raw pixels")):
        with pytest.raises(ValueError, match=rf"verify_images: {match}"):
            export.onnx(model, str(tmp_path / "v.onnx"), preprocessing="torch",
                        verify_images=given)
    assert not (tmp_path / "v.onnx").exists()


def test_damaged_or_mismatched_files_say_what_they_are_in_one_line(files, tmp_path):
    """TensorFlow answered a damaged SavedModel folder with its readers' errors
    (OSError, FileNotFoundError from a TensorSliceReader, an IndexError), LiteRT a
    truncated file without naming it, OpenVINO an IR beside a foreign .bin (from a
    tool that records no weights digest) with a multi-line validation trace."""
    import re
    import shutil

    from keras_resnet.deploy import open_artifact

    _, paths = files
    folder = paths["saved_model"]
    cases = {}
    cases["empty"] = tmp_path / "empty"
    cases["empty"].mkdir()
    cases["no_variables"] = tmp_path / "no_variables"
    shutil.copytree(folder, cases["no_variables"])
    shutil.rmtree(cases["no_variables"] / "variables")
    cases["truncated"] = tmp_path / "truncated"
    shutil.copytree(folder, cases["truncated"])
    for data in (cases["truncated"] / "variables").glob("*data*"):
        data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])
    for name, path in cases.items():
        with pytest.raises(ValueError, match=r"is not a readable SavedModel folder \(.*\): "
                                             r"it needs saved_model.pb and the variables/"):
            open_artifact(path)
    short = tmp_path / "short.tflite"
    short.write_bytes(open(paths["tflite"], "rb").read()[:1000])
    with pytest.raises(ValueError, match=r"short.tflite is not a readable TFLite file"):
        open_artifact(short)
    # an IR without this package's record, beside the .bin of a different network
    other = tmp_path / "other.xml"
    keras.utils.set_random_seed(1)
    export.openvino(keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(8, 3),
                                      keras.layers.GlobalAveragePooling2D(),
                                      keras.layers.Dense(3)]), str(other))
    xml = re.sub(r"<keras_resnet_weights[^>]*/>", "", open(paths["openvino"]).read())
    (tmp_path / "foreign.xml").write_text(xml)
    shutil.copy(tmp_path / "other.bin", tmp_path / "foreign.bin")
    with pytest.raises(ValueError, match=r"OpenVINO could not read or compile .*foreign.xml "
                                         r"\(Check .*\): an IR is the .xml and the .bin "
                                         r"written with it; if .*foreign.bin comes from"):
        open_artifact(tmp_path / "foreign.xml")


def test_upper_case_suffixes_and_a_converters_own_input_name(files, tmp_path):
    """open_artifact("m.ONNX") said the suffix was unknown; a TFLiteConverter file's
    one input (not named 'images') was refused by name."""
    import shutil

    import tensorflow as tf

    from keras_resnet.deploy import open_artifact

    model, paths = files
    x = np.random.default_rng(9).normal(size=(2, 12, 12, 1)).astype("float32")
    want = np.asarray(model(x))
    for kind, upper in (("onnx", "m.ONNX"), ("tflite", "m.TFLite")):
        shutil.copy(paths[kind], tmp_path / upper)
        got = next(iter(open_artifact(tmp_path / upper)(x).values()))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    converted = tmp_path / "converted.tflite"
    converted.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    got = next(iter(open_artifact(converted)(x).values()))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
