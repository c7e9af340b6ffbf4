"""check_destination: the folders it makes for an export, removed again when the export
fails (only those, only while empty), and the folders it cannot make or write said in
one PermissionError."""

import errno
import os

import pytest

from keras_resnet.deploy import job
from keras_resnet.deploy.job import check_destination, removing_created_folders


def test_a_failed_export_removes_the_folders_it_made_and_no_other(tmp_path):
    ex = tmp_path / "ex"
    ex.mkdir()
    with pytest.raises(RuntimeError), removing_created_folders() as made:
        check_destination(ex / "newdir" / "sub" / "k.xml", ".xml")
        assert made == [str(ex / "newdir"), str(ex / "newdir" / "sub")]
        raise RuntimeError("the converter failed")
    assert os.listdir(ex) == []  # newdir/sub gone, ex (there before) kept
    # a made folder that holds a file by then stays
    with pytest.raises(RuntimeError), removing_created_folders():
        check_destination(ex / "kept" / "m.tflite", ".tflite")
        (ex / "kept" / "notes.txt").write_text("x")
        raise RuntimeError
    assert os.listdir(ex / "kept") == ["notes.txt"]
    # an export that succeeds keeps its folder
    with removing_created_folders():
        check_destination(ex / "ok" / "m.onnx", ".onnx")
    assert (ex / "ok").is_dir()
    # outside removing_created_folders: made, nothing recorded (as before)
    check_destination(ex / "plain" / "m.onnx", ".onnx")
    assert (ex / "plain").is_dir()


def test_removing_created_folders_as_a_decorator_and_nested(tmp_path):
    @removing_created_folders()
    def export(path, fail):
        check_destination(path, ".tflite")
        if fail:
            raise ValueError("verification failed")

    for name in ("a", "b"):  # each call its own record
        with pytest.raises(ValueError):
            export(tmp_path / name / "m.tflite", True)
        assert not (tmp_path / name).exists()
    export(tmp_path / "c" / "m.tflite", False)
    assert (tmp_path / "c").is_dir()
    # an inner export that succeeds inside an outer job that fails: its folder is the
    # outer job's too
    with pytest.raises(KeyError), removing_created_folders() as outer:
        export(tmp_path / "d" / "m.tflite", False)
        assert outer == [str(tmp_path / "d")]
        raise KeyError
    assert not (tmp_path / "d").exists()


def test_a_folder_on_a_read_only_file_system_is_one_permission_error(tmp_path, monkeypatch):
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):  # the first folder is made, the second refused
        if os.path.basename(path) == "sub":
            raise OSError(errno.EROFS, "Read-only file system", path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(PermissionError) as info:
        check_destination(tmp_path / "new" / "sub" / "m.xml", ".xml")
    assert str(info.value) == (f"cannot write to {str(tmp_path / 'new')!r} (read-only file "
                               "system) to make the folder 'sub': choose a folder you can "
                               "write to")
    assert not (tmp_path / "new").exists()  # the folder it had made is removed


def test_an_unwritable_parent_and_a_file_in_the_way(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="'.*file' is not a folder, and the export's folder"):
        check_destination(tmp_path / "file" / "sub" / "m.onnx", ".onnx")
    monkeypatch.setattr(job.os, "access", lambda path, mode: False)
    with pytest.raises(PermissionError, match=r"^cannot write to '.*new': choose a folder"):
        check_destination(tmp_path / "new" / "m.onnx", ".onnx")
    assert not (tmp_path / "new").exists()


SIGTERM_SCRIPT = """
import sys, time
import keras
from keras_resnet.deploy import export, writers
model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3),
                          keras.layers.GlobalAveragePooling2D()])
def slow_export(serving, path, fmt, signature):  # stands in for a long conversion
    open(path, "w").write("half-written")
    print("converting", flush=True)
    try:
        while True:
            time.sleep(0.05)
    except SystemExit:
        if sys.argv[2] == "wrapped":  # as OpenVINO's C++ frontend reports Python's exit
            raise RuntimeError("Check 'false' failed at src/frontends/common/src/frontend.cpp")
        raise
writers.export_with_keras = slow_export
export.openvino(model, sys.argv[1])
"""


@pytest.mark.parametrize("converter", ["python", "wrapped"])
def test_sigterm_during_an_export_leaves_nothing_behind(tmp_path, converter):
    """docker stop / a CI timeout send SIGTERM, which ended Python without its clean-up:
    the hidden temporary folder with a half-written model.xml stayed beside the
    destination. The process still ends, with SIGTERM's status, and leaves nothing;
    also where the converter turns the exit into an error of its own (OpenVINO's
    frontend: it was reported as "the OpenVINO converter cannot take model")."""
    import signal
    import subprocess
    import sys

    pytest.importorskip("openvino")
    out = tmp_path / "new" / "m.xml"
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(out), converter],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "converting"
        assert [p.name for p in out.parent.iterdir()][0].startswith(".export-")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert not (tmp_path / "new").exists()  # nor the folder made for the file
