"""What an exported file says about itself: its input, outputs, preprocessing and
class names, stored inside the artifact where the format has a place for it.

==========  ==========================================================================
format      where the JSON record is stored (key ``keras_resnet``)
==========  ==========================================================================
ONNX        ``model.metadata_props`` (read by ``onnxruntime``'s
            ``get_modelmeta().custom_metadata_map``)
OpenVINO    the model's ``rt_info`` (``model.get_rt_info(["keras_resnet"])``)
TFLite      a named entry of the flatbuffer's ``metadata`` table (the mechanism the
            TFLite metadata standard uses; runtimes ignore entries they do not know)
SavedModel  ``assets.extra/keras_resnet.json`` (the folder TF Serving reserves for files
            that travel with a model but are not part of its graph)
==========  ==========================================================================

Every export also writes the same record into ``<file>.report.json``.
:func:`read_metadata` reads it back from any of the four.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from .._version import __version__
from ..preprocessing import Preprocessing

KEY = "keras_resnet"


def describe_preprocessing(settings: Preprocessing | None, *, in_model: bool = False
                           ) -> dict | None:
    """The preprocessing record: :meth:`~keras_resnet.Preprocessing.to_metadata`
    (``mode``, ``channel_order``, ``scale`` applied to 0-255 pixel values first, ``mean``
    and ``std`` per channel or per pixel as an (H, W, C) nested list, ``resize``/``crop``
    /``interpolation`` where the weights define them) and ``in_model`` (True: the
    artifact takes raw 0-255 images and normalises itself)."""
    if settings is None:
        return {"in_model": True} if in_model else None
    return {**settings.to_metadata(), "in_model": bool(in_model)}


def read_preprocessing(metadata: dict | None) -> Preprocessing | None:
    """The :class:`~keras_resnet.Preprocessing` an artifact's record holds, also where
    the file applies it inside (``in_model``); None when it records none, or only that
    its preprocessing is inside."""
    record = (metadata or {}).get("preprocessing") or {}
    if "mode" not in record:
        return None
    return Preprocessing.from_metadata(record)


def build_metadata(signature, model_name: str, *, preprocessing=None, class_names=None,
                   in_model: bool = False) -> dict:
    layout = "NCHW" if signature.data_format == "channels_first" else "NHWC"
    if class_names is not None:
        class_names = [str(c) for c in class_names]
    return {
        "producer": f"keras_resnet {__version__}",
        "model": model_name,
        "input": {"name": signature.input_name, "dtype": signature.input_dtype,
                  "shape": [None, *signature.input_shape], "layout": layout,
                  "values": ("raw 0-255 pixels" if in_model or signature.input_dtype == "uint8"
                             else "preprocessed (see preprocessing)" if preprocessing
                             else "as the Keras model took them (no preprocessing recorded)")},
        "outputs": list(signature.output_names),
        "preprocessing": describe_preprocessing(preprocessing, in_model=in_model),
        "class_names": class_names,
    }


# ------------------------------------------------------------------ per format
def write_onnx(path, metadata):
    import onnx

    proto = onnx.load(path)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {KEY: json.dumps(metadata)})
    onnx.save(proto, path)


def read_onnx(path):
    import onnx

    proto = onnx.load(path, load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    return json.loads(props[KEY]) if KEY in props else None


WEIGHTS_KEY = "keras_resnet_weights"


def _sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_openvino(path_xml, metadata):
    """Store ``metadata`` in the IR's ``rt_info``, and beside it the size and SHA-256 of
    its ``.bin`` (under ``keras_resnet_weights``), so that :func:`check_openvino_weights`
    can tell an ``.xml`` from the ``.bin`` of another export (two files copied from two
    runs, an overwrite cut short between its two renames): with weights of the same
    size OpenVINO itself would run the pair and answer wrongly.

    The IR is saved once; the weights entry, which needs the ``.bin`` OpenVINO has just
    written, goes into the ``.xml``'s ``<rt_info>`` as text (saving a second time to put
    it there through OpenVINO cost a second write and hash of the weights: ~1 s on
    ResNet-152)."""
    import openvino as ov
    from xml.sax.saxutils import quoteattr

    model = ov.Core().read_model(path_xml)
    model.set_rt_info(json.dumps(metadata), [KEY])
    # compress_to_fp16=False: save_model halves the weights by default; the IR stays f32.
    tmp = path_xml[:-4] + ".meta.xml"
    tmp_bin = tmp[:-4] + ".bin"
    ov.save_model(model, tmp, compress_to_fp16=False)
    weights = {"bytes": os.path.getsize(tmp_bin), "sha256": _sha256(tmp_bin)}
    with open(tmp, encoding="utf-8") as f:
        text = f.read()
    opening = "<rt_info>"
    if text.count(opening) != 1:  # OpenVINO writes one, holding the entry set above
        raise RuntimeError(f"OpenVINO wrote {text.count(opening)} <rt_info> sections into "
                           f"{tmp}, expected one; the IR's weights check cannot be recorded")
    entry = f"\n\t\t<{WEIGHTS_KEY} value={quoteattr(json.dumps(weights))} />"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text.replace(opening, opening + entry))
    os.replace(tmp, path_xml)
    os.replace(tmp_bin, path_xml[:-4] + ".bin")


def _ir_root(path_xml):
    """The parsed ``.xml`` of an IR (xml.etree; a ValueError for an unreadable one)."""
    import xml.etree.ElementTree as ET

    try:
        return ET.parse(path_xml).getroot()
    except (ET.ParseError, OSError) as e:
        raise ValueError(f"{path_xml} is not a readable OpenVINO IR file: {e}") from e


def _ir_weights_record(path_xml):
    """(the recorded ``{"bytes", "sha256"}`` or None, the end of the last weight the
    ``.xml``'s constants point into) read from the XML text itself, without OpenVINO
    (which would first fail on a short ``.bin`` with its own message)."""
    root = _ir_root(path_xml)
    end = 0
    for data in root.iter("data"):
        if "offset" in data.attrib and "size" in data.attrib:
            end = max(end, int(data.attrib["offset"]) + int(data.attrib["size"]))
    entry = root.find(f"rt_info/{WEIGHTS_KEY}")
    record = None if entry is None else json.loads(entry.attrib.get("value", "null"))
    return record, end


def check_openvino_weights(path_xml) -> None:
    """Raise unless the ``.bin`` beside ``path_xml`` is the one the IR was written with
    (its size, then its SHA-256, as :func:`write_openvino` recorded them; about a second
    per 500 MB). An IR written elsewhere, without the record, passes unchecked; so does
    one re-saved by OpenVINO with another weights layout (``compress_to_fp16``, an NNCF
    quantisation of the exported IR), whose constants no longer end where the recorded
    ``.bin`` did: the record then describes another file.

    Raises:
        FileNotFoundError: the ``.bin`` is missing. ValueError: it is another file, or
            the ``.xml`` is not readable.
    """
    path_bin = path_xml[:-4] + ".bin"
    if not os.path.exists(path_bin):
        raise FileNotFoundError(f"{path_bin} not found: an OpenVINO IR's weights live in "
                                "the .bin beside its .xml; copy both files")
    want, end = _ir_weights_record(path_xml)
    if want is None or end != want["bytes"]:
        return
    if os.path.getsize(path_bin) != want["bytes"] or _sha256(path_bin) != want["sha256"]:
        raise ValueError(f"{path_bin} is not the weights file {path_xml} was written with "
                         "(its size or SHA-256 differs: files from two exports, an export "
                         "that was cut short, or weights changed after the export): export "
                         "again, or copy the .xml and .bin of one export together")


def read_openvino(path_xml):
    """The record in an IR's ``rt_info``, read from the XML text (OpenVINO stores a
    top-level entry as ``<rt_info><keras_resnet value="..."/>``), so that reading it
    needs no openvino and does not compile anything."""
    entry = _ir_root(path_xml).find(f"rt_info/{KEY}")
    return None if entry is None else json.loads(entry.attrib["value"])


def add_to_tflite(content: bytes, metadata) -> bytes:
    """``content`` with a metadata entry ``keras_resnet`` holding the JSON record."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != KEY.encode()] + [entry]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_tflite(content: bytes):
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(bytearray(content), 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == KEY:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
    return None


def write_saved_model(path, metadata):
    folder = os.path.join(path, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{KEY}.json"), "w") as f:
        f.write(json.dumps(metadata, indent=2) + "\n")


def read_metadata(path) -> dict | None:
    """The record an export stored inside ``path`` (``.onnx``, ``.xml``, ``.tflite`` or a
    SavedModel folder); None when the file has none.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not one of the four formats.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found")
    readers = {".onnx": ("ONNX", read_onnx), ".xml": ("OpenVINO IR", read_openvino),
               ".tflite": ("TFLite", lambda p: read_tflite(open(p, "rb").read()))}
    if os.path.isdir(path):
        file = os.path.join(path, "assets.extra", f"{KEY}.json")
        return json.load(open(file)) if os.path.exists(file) else None
    kind = next((k for k in readers if path.lower().endswith(k)), None)
    if kind is None:
        raise ValueError(f"{path}: expected a .onnx, .xml (OpenVINO IR) or .tflite file or a "
                         "SavedModel folder")
    name, read = readers[kind]
    try:
        return read(path)
    except ImportError:
        raise
    except Exception as e:  # the parsers' own errors say little about the file
        raise ValueError(f"{path} is not a readable {name} file ({type(e).__name__}: "
                         f"{str(e).strip()[:120]})") from None
