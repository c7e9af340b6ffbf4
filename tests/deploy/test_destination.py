"""check_destination: the folders it cannot make or write said in one PermissionError."""

import errno
import os

import pytest

from keras_resnet.deploy import job
from keras_resnet.deploy.job import check_destination


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
