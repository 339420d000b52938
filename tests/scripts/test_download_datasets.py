"""scripts/download_datasets.py against a local HTTP server serving tiny archives the tests make."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "download_datasets.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("download_datasets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


dl = _load_script()


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files[path]``, honours ``Range: bytes=N-`` (when ``server.ranges``) and hangs up
    after ``server.break_after`` bytes when that is set."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        data = self.server.files.get(self.path.split("?")[0])
        self.server.requests.append((self.path, self.headers.get("Range")))
        if data is None:
            self.send_error(404)
            return
        start = 0
        ranged = self.headers.get("Range")
        if ranged and self.server.ranges:
            start = int(ranged.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.break_after is not None:
            self.wfile.write(body[: self.server.break_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.break_after, httpd.ranges = {}, [], None, True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd, path):
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _targz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as t:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


SCENE = {"Replica/scan1/meta_data.json": b"{}", "Replica/scan1/000000_rgb.png": b"png" * 1000}


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_zip_with_checksum_is_verified_and_unpacked(server, tmp_path, capsys):
    archive = _zip(SCENE)
    server.files["/Replica.zip"] = archive
    code = dl.main(
        [
            "replica",
            "--dest",
            str(tmp_path / "data"),
            "--url",
            _url(server, "/Replica.zip"),
            "--sha256",
            hashlib.sha256(archive).hexdigest(),
            "--quiet",
        ]
    )
    assert code == 0
    assert _files(tmp_path / "data") == {"Replica", "Replica/scan1", *SCENE}
    image = "Replica/scan1/000000_rgb.png"
    assert (tmp_path / "data" / image).read_bytes() == SCENE[image]


def test_tar_without_published_checksum_prints_it_unverified(server, tmp_path, capsys):
    archive = _targz(SCENE)
    server.files["/tnt.tar.gz"] = archive
    dl.download("tnt_advanced", tmp_path, url=_url(server, "/tnt.tar.gz"), keep_archive=True, quiet=False)
    captured = capsys.readouterr()
    assert hashlib.sha256(archive).hexdigest() in captured.out and "NOT verified" in captured.out
    assert "MB" in captured.err  # progress goes to stderr
    assert (tmp_path / "Replica" / "scan1" / "meta_data.json").is_file()
    assert (tmp_path / ".downloads" / "tnt.tar.gz").read_bytes() == archive


def test_wrong_checksum_leaves_nothing_behind(server, tmp_path, capsys):
    server.files["/Replica.zip"] = _zip(SCENE)
    dest = tmp_path / "data"
    code = dl.main(
        ["replica", "--dest", str(dest), "--url", _url(server, "/Replica.zip"), "--sha256", "0" * 64, "--quiet"]
    )
    assert code == 1
    assert "sha256 mismatch" in capsys.readouterr().err
    assert not [p for p in dest.rglob("*") if p.is_file()]  # no archive, no .part, nothing unpacked


def test_published_md5_is_checked(server, tmp_path):
    server.files["/DTU.zip"] = _zip({"DTU/scan24/cameras.npz": b"x"})
    with pytest.raises(dl.DownloadError, match="md5 mismatch"):
        dl.download("dtu_idr", tmp_path, url=_url(server, "/DTU.zip"), quiet=True)
    assert not list(tmp_path.rglob("*.zip*")) and not (tmp_path / "DTU").exists()


def test_interrupted_download_keeps_part_file_and_resumes(server, tmp_path):
    archive = _zip({f"Replica/scan{i}/f.bin": bytes(range(256)) * 200 for i in range(3)})
    server.files["/Replica.zip"] = archive
    server.break_after = len(archive) // 3
    with pytest.raises(dl.DownloadError, match="run the same command again"):
        dl.download("replica", tmp_path, url=_url(server, "/Replica.zip"), quiet=True)
    part = tmp_path / ".downloads" / "Replica.zip.part"
    assert part.stat().st_size == len(archive) // 3 and not (tmp_path / "Replica").exists()
    server.break_after = None
    dl.download(
        "replica", tmp_path, url=_url(server, "/Replica.zip"), quiet=True, sha256=hashlib.sha256(archive).hexdigest()
    )
    assert server.requests[-1][1] == f"bytes={len(archive) // 3}-"  # resumed, not restarted
    assert (tmp_path / "Replica" / "scan2" / "f.bin").stat().st_size == 256 * 200
    assert not part.exists()


def test_server_without_range_support_restarts(server, tmp_path):
    archive = _zip(SCENE)
    server.files["/Replica.zip"] = archive
    server.ranges = False
    part = tmp_path / ".downloads" / "Replica.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes from another file")
    dl.download(
        "replica", tmp_path, url=_url(server, "/Replica.zip"), quiet=True, sha256=hashlib.sha256(archive).hexdigest()
    )
    assert (tmp_path / "Replica" / "scan1" / "meta_data.json").read_bytes() == b"{}"


def test_archive_escaping_the_folder_is_refused(server, tmp_path):
    server.files["/evil.zip"] = _zip({"../evil.txt": b"x", "ok.txt": b"y"})
    with pytest.raises(dl.DownloadError, match="outside"):
        dl.download("replica", tmp_path / "data", url=_url(server, "/evil.zip"), quiet=True)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "data" / "ok.txt").exists()
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".unpack")]


def test_existing_folder_needs_overwrite(server, tmp_path):
    server.files["/Replica.zip"] = _zip(SCENE)
    (tmp_path / "Replica").mkdir()
    with pytest.raises(dl.DownloadError, match="--overwrite"):
        dl.download("replica", tmp_path, url=_url(server, "/Replica.zip"), quiet=True)
    dl.download("replica", tmp_path, url=_url(server, "/Replica.zip"), quiet=True, overwrite=True)
    assert (tmp_path / "Replica" / "scan1" / "meta_data.json").is_file()


def test_http_error_and_unknown_name(server, tmp_path):
    with pytest.raises(dl.DownloadError, match="404"):
        dl.download("replica", tmp_path, url=_url(server, "/missing.zip"), quiet=True)
    with pytest.raises(dl.DownloadError, match="unknown dataset"):
        dl.download("imagenet", tmp_path)
    assert dl.main(["--list"]) == 0
