"""Fetching weight files: cached, hash-verified, written atomically, with progress.

Where a file is looked for, in order:

1. ``offline_dir`` / ``$KERAS_RESNET_WEIGHTS_DIR``: a folder of files placed by hand
   (same file names as the registry's); never written to.
2. Files on the Hugging Face hub (the registry gives their repository, pinned revision
   and file name): ``huggingface_hub.hf_hub_download``, the library timm and keras-hub
   use, with its shared cache, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT`` and resumable
   downloads. Our own SHA-256 check follows, against the registry's hash.
3. Other files: the cache, ``$KERAS_RESNET_CACHE`` or
   ``$KERAS_HOME/models/keras_resnet`` (``~/.keras/models/keras_resnet`` by default),
   then ``mirror`` / ``$KERAS_RESNET_WEIGHTS_MIRROR`` (a base URL; the file name is
   appended), then the registry's origin URLs.

A download goes to a temporary file of its own beside its final place
(:func:`keras_resnet.io.atomic_write`) and is renamed only when complete and verified,
so the cache never holds a partial or corrupt file. A wrong hash deletes the file and
says so. Processes that ask for the same file at once each download to their own
temporary file; each rename puts a whole, verified file in place. Temporary files of
processes killed mid-download are removed by the next download of that file.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from ..io import atomic_write, cache_dir, file_digest, remove_stale_partials

HASH_ALGORITHMS = ("md5", "sha256")


class WeightsDownloadError(RuntimeError):
    """A weight file could not be fetched or verified."""


def parse_hash(spec: str) -> tuple[str, str]:
    """``"md5:2cb9..."`` -> ``("md5", "2cb9...")``. A torchvision-style short SHA-256
    prefix (``"sha256:f37072fd"``) is matched as a prefix of the full digest."""
    algorithm, _, digest = str(spec).partition(":")
    if algorithm not in HASH_ALGORITHMS or not digest:
        raise ValueError(f"hash must look like 'md5:<hex>' or 'sha256:<hex>', got {spec!r}")
    return algorithm, digest.lower()


def hash_matches(path, spec: str) -> bool:
    algorithm, expected = parse_hash(spec)
    return file_digest(path, algorithm).startswith(expected)


def fetch(file_name: str, urls, file_hash: str, *, cache: str | None = None,
          offline_dir: str | None = None, mirror: str | None = None,
          progress: bool = True, timeout: float = 60.0, hf: dict | None = None) -> str:
    """Return a local, verified path to ``file_name``, downloading it if needed.

    ``hf``: ``{"repo_id", "revision", "filename"}`` of a Hugging Face hub file, fetched
    through ``huggingface_hub`` (see the module docstring).

    Raises:
        WeightsDownloadError: the file could not be fetched, or it does not match
            ``file_hash``; the message says where to put a copy fetched elsewhere.
    """
    if os.path.basename(file_name) != file_name or not file_name:
        raise ValueError(f"file_name must be a plain file name, got {file_name!r}")
    parse_hash(file_hash)
    offline_dir = offline_dir or os.environ.get("KERAS_RESNET_WEIGHTS_DIR")
    if offline_dir:
        placed = os.path.join(offline_dir, file_name)
        if os.path.exists(placed):
            if not hash_matches(placed, file_hash):
                raise WeightsDownloadError(
                    f"{placed} does not match its published hash ({file_hash}); it is "
                    "corrupt or a different file. Replace it with the original download."
                )
            return placed
    if hf:
        return _fetch_from_hub(file_name, urls, file_hash, hf, offline_dir)

    cache = cache or cache_dir()
    target = os.path.join(cache, file_name)
    if os.path.exists(target):
        if hash_matches(target, file_hash):
            return target
        os.remove(target)  # corrupt cache entry: fetch it again

    mirror = mirror or os.environ.get("KERAS_RESNET_WEIGHTS_MIRROR")
    candidates = ([mirror.rstrip("/") + "/" + file_name] if mirror else []) + list(urls)
    if not candidates:
        raise WeightsDownloadError(f"no URL is known for {file_name}")
    os.makedirs(cache, exist_ok=True)
    remove_stale_partials(target)  # left by processes killed mid-download
    errors = []
    for url in candidates:
        try:
            _download(url, target, file_hash, progress=progress, timeout=timeout)
            return target
        except WeightsDownloadError as err:
            errors.append(str(err))
    raise WeightsDownloadError(
        "\n".join(errors) + f"\nTo install the file by hand, download {candidates[-1]} "
        f"elsewhere and put it at {target} (or into a folder named by "
        "KERAS_RESNET_WEIGHTS_DIR); it is checked against its hash before use."
    )


def _fetch_from_hub(file_name, urls, file_hash, hf, offline_dir):
    """``huggingface_hub.hf_hub_download`` at the pinned revision, then our hash check."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - a dependency
        raise WeightsDownloadError("fetching hub weights needs huggingface_hub: "
                                   "pip install huggingface_hub") from None
    url = urls[0] if urls else (f"https://huggingface.co/{hf['repo_id']}/resolve/"
                                f"{hf['revision']}/{hf['filename']}")
    try:
        path = hf_hub_download(hf["repo_id"], hf["filename"], revision=hf["revision"])
    except Exception as err:  # offline, unreachable, gated: the library's many types
        placed = os.path.join(offline_dir or "$KERAS_RESNET_WEIGHTS_DIR", file_name)
        raise WeightsDownloadError(
            f"could not fetch {url} through huggingface_hub ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no detail'}). To install the "
            f"file by hand, download it elsewhere and put it at {placed} (a folder named "
            f"by KERAS_RESNET_WEIGHTS_DIR); it is checked against its {file_hash} before "
            "use. Offline, HF_HUB_OFFLINE=1 skips huggingface_hub's network retries."
        ) from None
    if not hash_matches(path, file_hash):
        algorithm, digest = parse_hash(file_hash)
        raise WeightsDownloadError(
            f"{path} (from {url}) does not match its published hash: expected {algorithm} "
            f"{digest}, got {file_digest(path, algorithm)}. Delete it from the Hugging "
            "Face cache (huggingface-cli delete-cache) and try again.")
    return path


def _download(url, target, file_hash, *, progress, timeout):
    def write(partial):
        try:
            response = urllib.request.urlopen(url, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise WeightsDownloadError(f"could not download {url}: {reason}") from None
        with response:
            expected = response.headers.get("Content-Length")
            expected = int(expected) if expected and expected.isdigit() else None
            received = 0
            bar = _progress_bar(expected, os.path.basename(target)) if progress else None
            try:
                with open(partial, "wb") as out:
                    while True:
                        try:
                            chunk = response.read(1 << 16)
                        except (OSError, ValueError) as err:  # connection dropped mid-way
                            raise WeightsDownloadError(
                                f"download of {url} broke off after {received} bytes: {err}"
                            ) from None
                        if not chunk:
                            break
                        out.write(chunk)
                        received += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        if expected is not None and received != expected:
            raise WeightsDownloadError(
                f"download of {url} is truncated: {received} of {expected} bytes"
            )
        algorithm, digest = parse_hash(file_hash)
        actual = file_digest(partial, algorithm)
        if not actual.startswith(digest):
            raise WeightsDownloadError(
                f"{url} does not match its published hash: expected {algorithm} {digest}, "
                f"got {actual}. The downloaded file was deleted."
            )

    atomic_write(target, write)


def _progress_bar(total, name):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"Downloading {name}")

