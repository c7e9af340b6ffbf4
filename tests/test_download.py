"""Weight downloads against a real HTTP server on 127.0.0.1: a good file, a truncated
transfer, wrong bytes, a dead origin with a mirror, an offline folder."""

import hashlib
import http.server
import socket
import threading

import pytest

from keras_resnet.pretrained.download import WeightsDownloadError, fetch

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB
MD5 = "md5:" + hashlib.md5(PAYLOAD).hexdigest()
SHA_PREFIX = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()[:8]


class Handler(http.server.BaseHTTPRequestHandler):
    hits = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Handler.hits.append(self.path)
        name = self.path.rsplit("/", 1)[-1]
        if name.startswith("good"):
            body, length = PAYLOAD, len(PAYLOAD)
        elif name.startswith("truncated"):
            body, length = PAYLOAD[: len(PAYLOAD) // 2], len(PAYLOAD)
        elif name.startswith("wrong"):
            body = bytearray(PAYLOAD)
            body[1000] ^= 0xFF
            body, length = bytes(body), len(PAYLOAD)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_RESNET_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("KERAS_RESNET_WEIGHTS_MIRROR", raising=False)
    return tmp_path / "cache"


def dead_url(name):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}/{name}"


def listing(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file_is_cached_verified_and_not_fetched_twice(server, cache):
    Handler.hits.clear()
    path = fetch("good.bin", [f"{server}/good.bin"], MD5, cache=str(cache), progress=False)
    assert open(path, "rb").read() == PAYLOAD
    assert listing(cache) == ["good.bin"]
    again = fetch("good.bin", [f"{server}/good.bin"], MD5, cache=str(cache), progress=False)
    assert again == path and Handler.hits == ["/good.bin"]


def test_sha256_prefix_as_torchvision_publishes_it(server, cache):
    path = fetch("good.pth", [f"{server}/good.pth"], SHA_PREFIX, cache=str(cache),
                 progress=True)
    assert open(path, "rb").read() == PAYLOAD


def test_truncated_transfer_leaves_nothing_in_the_cache(server, cache):
    with pytest.raises(WeightsDownloadError, match="truncated|broke off"):
        fetch("truncated.bin", [f"{server}/truncated.bin"], MD5, cache=str(cache),
              progress=False)
    assert listing(cache) == []


def test_wrong_bytes_are_deleted_and_reported(server, cache):
    with pytest.raises(WeightsDownloadError, match="does not match its published hash.*deleted"):
        fetch("wrong.bin", [f"{server}/wrong.bin"], MD5, cache=str(cache), progress=False)
    assert listing(cache) == []


def test_corrupt_cache_entry_is_replaced(server, cache):
    cache.mkdir()
    (cache / "good.bin").write_bytes(b"garbage")
    path = fetch("good.bin", [f"{server}/good.bin"], MD5, cache=str(cache), progress=False)
    assert open(path, "rb").read() == PAYLOAD


def test_unreachable_origin_names_the_url_and_where_to_put_the_file(cache):
    url = dead_url("resnet50.h5")
    with pytest.raises(WeightsDownloadError) as err:
        fetch("resnet50.h5", [url], MD5, cache=str(cache), progress=False, timeout=5)
    text = str(err.value)
    assert url in text and str(cache / "resnet50.h5") in text
    assert "KERAS_RESNET_WEIGHTS_DIR" in text
    assert listing(cache) == []


def test_mirror_is_tried_before_the_origin(server, cache, monkeypatch):
    monkeypatch.setenv("KERAS_RESNET_WEIGHTS_MIRROR", server + "/")
    path = fetch("good.bin", [dead_url("good.bin")], MD5, cache=str(cache), progress=False)
    assert open(path, "rb").read() == PAYLOAD


def test_offline_folder_is_used_as_is_and_checked(tmp_path, cache, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "good.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("KERAS_RESNET_WEIGHTS_DIR", str(offline))
    path = fetch("good.bin", [dead_url("good.bin")], MD5, cache=str(cache), progress=False)
    assert path == str(offline / "good.bin") and listing(cache) == []
    (offline / "good.bin").write_bytes(PAYLOAD[:-1])
    with pytest.raises(WeightsDownloadError, match="does not match its published hash"):
        fetch("good.bin", [dead_url("good.bin")], MD5, cache=str(cache), progress=False)


def test_bad_arguments(cache):
    with pytest.raises(ValueError, match="hash must look like"):
        fetch("x.bin", ["http://127.0.0.1:9/x"], "crc32:1234", cache=str(cache))
    with pytest.raises(ValueError, match="plain file name"):
        fetch("../x.bin", ["http://127.0.0.1:9/x"], MD5, cache=str(cache))
