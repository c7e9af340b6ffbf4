"""Weight downloads against a real HTTP server on 127.0.0.1: a good file, a truncated
transfer, wrong bytes, a dead origin with a mirror, an offline folder."""

import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

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
        if name.startswith("slow"):  # ~1 MB in 64 KiB pieces, 0.1 s apart (~1.6 s)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            for i in range(0, len(PAYLOAD), 1 << 16):
                self.wfile.write(PAYLOAD[i:i + (1 << 16)])
                self.wfile.flush()
                time.sleep(0.1)
            self.close_connection = True
            return
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


FETCH = ("import sys\nfrom keras_resnet.pretrained.download import fetch\n"
         "print(fetch('slow.bin', [sys.argv[1] + '/slow.bin'], sys.argv[2], "
         "cache=sys.argv[3], progress=False))\n")


def _fetchers(n, server, cache):
    env = {k: v for k, v in os.environ.items()
           if k not in ("KERAS_RESNET_WEIGHTS_DIR", "KERAS_RESNET_WEIGHTS_MIRROR")}
    return [subprocess.Popen([sys.executable, "-c", FETCH, server, MD5, str(cache)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env) for _ in range(n)]


def test_processes_fetching_one_file_at_once_all_get_it_whole(server, cache):
    procs = _fetchers(3, server, cache)
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e[-800:] for _, e in outs]
    target = cache / "slow.bin"
    assert {o.strip() for o, _ in outs} == {str(target)}
    assert target.read_bytes() == PAYLOAD
    assert sorted(os.listdir(cache)) == ["slow.bin"]  # no temporary file left


def test_a_download_killed_midway_leaves_nothing_after_the_next_one(server, cache):
    (victim,) = _fetchers(1, server, cache)
    deadline = time.time() + 60
    while time.time() < deadline and not any(".partial" in f for f in
                                             (os.listdir(cache) if cache.exists() else [])):
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    left = [f for f in os.listdir(cache) if ".partial" in f]
    assert left and not (cache / "slow.bin").exists()  # the kill left its temporary file
    path = fetch("slow.bin", [server + "/slow.bin"], MD5, cache=str(cache), progress=False)
    assert open(path, "rb").read() == PAYLOAD
    assert sorted(os.listdir(cache)) == ["slow.bin"]


def _hub_cache(tmp_path, payload):
    """A Hugging Face cache holding one file at a pinned revision, laid out as
    huggingface_hub writes it (models--<org>--<name>/snapshots/<revision>/<file>)."""
    revision = "93271f4677dbf7b4d7f7e7d9d7811bd66c327e56"
    hf = {"repo_id": "timm/resnet50.a1_in1k", "revision": revision,
          "filename": "model.safetensors"}
    snap = tmp_path / "hub" / "models--timm--resnet50.a1_in1k" / "snapshots" / revision
    snap.mkdir(parents=True)
    if payload is not None:
        (snap / "model.safetensors").write_bytes(payload)
    return hf


@pytest.mark.parametrize("payload,match", [
    (PAYLOAD, None),
    (PAYLOAD[:-1] + b"x", "does not match its published hash"),
    (None, "could not fetch https://huggingface.co/timm/resnet50.a1_in1k/resolve/"
           "93271f4677dbf7b4d7f7e7d9d7811bd66c327e56/model.safetensors through "
           "huggingface_hub"),
])
def test_hub_files_come_through_huggingface_hub_and_our_hash(tmp_path, monkeypatch,
                                                             payload, match):
    """Offline (HF_HUB_OFFLINE=1): huggingface_hub serves its own cache; the SHA-256 is
    then checked by us; a file it cannot serve gives the URL, the hash and the folder to
    put a copy in."""
    hf = _hub_cache(tmp_path, payload)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("KERAS_RESNET_WEIGHTS_DIR", raising=False)
    import huggingface_hub.constants as c
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)  # read at import; the env is for children
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    sha = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
    if match is None:
        path = fetch("resnet50.a1_in1k.safetensors", [], sha, hf=hf)
        assert open(path, "rb").read() == PAYLOAD
        assert str(tmp_path / "hub") in path  # the library's cache, not a copy
        return
    with pytest.raises(WeightsDownloadError, match=match) as err:
        fetch("resnet50.a1_in1k.safetensors", [], sha, hf=hf)
    if payload is None:
        assert sha in str(err.value) and "KERAS_RESNET_WEIGHTS_DIR" in str(err.value)
    # a copy placed by hand is used first, and checked
    placed = tmp_path / "placed"
    placed.mkdir()
    (placed / "resnet50.a1_in1k.safetensors").write_bytes(PAYLOAD)
    assert fetch("resnet50.a1_in1k.safetensors", [], sha, hf=hf,
                 offline_dir=str(placed)).startswith(str(placed))
