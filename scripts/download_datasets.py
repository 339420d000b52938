#!/usr/bin/env python3
"""Download and unpack the public dataset archives nerfplex reads (docs/datasets.md), with checksums.

    python scripts/download_datasets.py --list
    python scripts/download_datasets.py replica                    # -> data/Replica/scan1 ...
    python scripts/download_datasets.py nsvf_tanks_and_temples --dest /big/disk/data
    python scripts/download_datasets.py replica --sha256 HEX       # verify against a checksum you trust

How it behaves:

* The archive is streamed (with progress on stderr) into ``DEST/.downloads/NAME.part``; only a complete,
  verified file is renamed to its final name, so no half-written archive ever carries that name.
  An interrupted download keeps its ``.part`` file and the next run resumes it (HTTP Range) unless
  ``--restart``; a checksum mismatch deletes it.
* Checksums: an archive with a published checksum in the table below is always verified. For the
  others nobody publishes one, so none is invented here: pass ``--sha256`` to verify, otherwise the
  computed SHA-256 is printed with the words "NOT verified" (keep it to check later copies).
* Unpacking goes into a staging folder inside ``DEST`` (archive members with absolute paths, ``..``
  or links out of the folder are refused) whose top-level entries are then renamed into ``DEST``; an
  existing entry is an error unless ``--overwrite``. Nothing is left behind on failure.

Only the Python standard library is used; exit status 0 on success, 1 on an error (printed as
``error: ...``), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    url: str
    what: str
    layout: str
    sha256: Optional[str] = None
    md5: Optional[str] = None
    checksum_source: str = ""


ARCHIVES: dict[str, Archive] = {
    "replica": Archive(
        "https://s3.eu-central-1.amazonaws.com/avg-projects/monosdf/data/Replica.tar",
        "Replica scan1..scan8 (room0-2, office0-4), MonoSDF's 384x384 preprocessing with monocular cues; "
        "the archive the S3IM authors' prepare_data.sh downloads",
        "data.kind monosdf",
    ),
    "tnt_advanced": Archive(
        "https://s3.eu-central-1.amazonaws.com/avg-projects/monosdf/data/tnt_advanced.tar",
        "Tanks and Temples advanced scan1..scan4, MonoSDF's preprocessing",
        "data.kind monosdf",
    ),
    "nsvf_tanks_and_temples": Archive(
        "https://dl.fbaipublicfiles.com/nsvf/dataset/TanksAndTemple.zip",
        "Tanks and Temples (Barn, Caterpillar, Family, Ignatius, Truck) in NSVF's layout, as DVGO and TensoRF read it",
        "data.kind nsvf",
    ),
    "dtu_idr": Archive(
        "https://www.dropbox.com/s/ujmakiaiekdl6sh/DTU.zip?dl=1",
        "DTU scans in IDR's layout (image/, mask/, cameras.npz), the download of IDR's data script",
        "data.kind dtu",
        md5="b1ad1eff5c4a4f99ae4d3503e976dafb",
        checksum_source="MD5 published by the pynif3d library for this URL (class DTUMVSIDR)",
    ),
    "dtu_points": Archive(
        "http://roboimagedata2.compute.dtu.dk/data/MVS/Points.zip",
        "DTU's reference STL point clouds (Points/stl/stlNNN_total.ply) for the Chamfer protocol",
        "nerfplex.geometry.geometry_protocols",
    ),
    "dtu_sampleset": Archive(
        "http://roboimagedata2.compute.dtu.dk/data/MVS/SampleSet.zip",
        "DTU's sample set with the observation masks (ObsMask/) of the Chamfer protocol",
        "nerfplex.geometry.geometry_protocols",
    ),
}


class DownloadError(Exception):
    """A failure to report as ``error: ...`` (exit status 1)."""


# ----------------------------------------------------------------------------- download
def _progress(done: int, total: Optional[int], start: float, name: str) -> None:
    rate = done / max(time.monotonic() - start, 1e-6) / 1e6
    if total:
        sys.stderr.write(
            f"\r{name}: {done / 1e6:9.1f} / {total / 1e6:.1f} MB ({100 * done / total:5.1f}%) {rate:6.1f} MB/s"
        )
    else:
        sys.stderr.write(f"\r{name}: {done / 1e6:9.1f} MB {rate:6.1f} MB/s")
    sys.stderr.flush()


def fetch(url: str, part: Path, *, resume: bool = True, quiet: bool = False, timeout: float = 60.0) -> None:
    """Stream ``url`` into ``part``, appending to an existing ``part`` when the server honours Range."""
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if resume and part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "nerfplex-download/1"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the .part file is already complete
            return
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"could not reach {url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        if offset and response.status != 206:  # no Range support: start again
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        done, start = offset, time.monotonic()
        with open(part, "ab" if offset else "wb") as out:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, urllib.error.URLError) as exc:
                    raise DownloadError(
                        f"download of {url} broke off after {done} bytes ({exc}); run the "
                        f"same command again to resume it"
                    ) from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if not quiet:
                    _progress(done, total, start, part.name)
    if not quiet:
        sys.stderr.write("\n")
    if total is not None and done != total:
        raise DownloadError(
            f"download of {url} ended after {done} of {total} bytes; run the same command again to resume it"
        )


def digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(part: Path, expected: dict[str, str], quiet: bool = False) -> str:
    """Check ``part`` against ``{algorithm: hex}``; delete it on a mismatch. Returns its SHA-256."""
    sha256 = digest(part, "sha256")
    for algorithm, want in expected.items():
        got = sha256 if algorithm == "sha256" else digest(part, algorithm)
        if got.lower() != want.lower():
            part.unlink()
            raise DownloadError(
                f"{algorithm} mismatch for {part.name}: expected {want}, got {got}. The file "
                f"was deleted; the download was corrupt or the archive changed upstream."
            )
    if not expected and not quiet:
        name = part.name[:-5] if part.name.endswith(".part") else part.name
        print(f"sha256 {sha256}  {name}: NOT verified (no published checksum; pass --sha256 to verify)")
    return sha256


# ----------------------------------------------------------------------------- unpacking
def _safe_members_zip(archive: zipfile.ZipFile) -> None:
    for name in archive.namelist():
        path = Path(name)
        if path.is_absolute() or ".." in path.parts:
            raise DownloadError(f"refusing to unpack {name!r}: it points outside the destination folder")


def extract(archive: Path, dest: Path, overwrite: bool = False) -> list[Path]:
    """Unpack ``archive`` (zip / tar[.gz|.bz2|.xz]) into ``dest`` via a staging folder; returns the
    top-level entries created."""
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".unpack-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    created: list[Path] = []
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                _safe_members_zip(z)
                z.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                if hasattr(tarfile, "data_filter"):
                    try:
                        t.extractall(staging, filter="data")
                    except tarfile.FilterError as exc:
                        raise DownloadError(f"refusing to unpack {archive.name}: {exc}") from None
                else:  # Python < 3.11.4: check the members by hand
                    for member in t.getmembers():
                        path = Path(member.name)
                        if path.is_absolute() or ".." in path.parts or member.issym() or member.islnk():
                            raise DownloadError(f"refusing to unpack {member.name!r} from {archive.name}")
                    t.extractall(staging)
        else:
            raise DownloadError(f"{archive} is neither a zip nor a tar archive")
        entries = [p for p in staging.iterdir() if p.name not in ("__MACOSX",)]
        clashes = [dest / p.name for p in entries if (dest / p.name).exists()]
        if clashes and not overwrite:
            raise DownloadError(f"{clashes[0]} already exists; pass --overwrite to replace it (or remove it)")
        for entry in entries:
            target = dest / entry.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(entry, target)
            created.append(target)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise DownloadError(f"could not unpack {archive}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return created


# ----------------------------------------------------------------------------- command line
def download(
    name: str,
    dest: Path,
    *,
    url: Optional[str] = None,
    sha256: Optional[str] = None,
    keep_archive: bool = False,
    overwrite: bool = False,
    restart: bool = False,
    quiet: bool = False,
) -> list[Path]:
    """Download, verify and unpack archive ``name`` of :data:`ARCHIVES` (``url`` overrides its address,
    e.g. for a mirror) into ``dest``; returns the created top-level entries."""
    if name not in ARCHIVES:
        raise DownloadError(f"unknown dataset {name!r}; choose one of {', '.join(ARCHIVES)} (--list)")
    entry = ARCHIVES[name]
    url = url or entry.url
    filename = Path(url.split("?")[0]).name or f"{name}.archive"
    downloads = dest / ".downloads"
    final, part = downloads / filename, downloads / f"{filename}.part"
    expected = {k: v for k, v in (("sha256", sha256 or entry.sha256), ("md5", entry.md5)) if v}
    if restart and part.exists():
        part.unlink()
    if not final.exists():
        fetch(url, part, quiet=quiet)
        verify(part, expected, quiet=quiet)
        os.replace(part, final)
    else:
        try:
            verify(final, expected, quiet=quiet)
        except DownloadError:
            raise DownloadError(
                f"the archive {final} kept from an earlier run does not match its checksum "
                f"and was deleted; run again to download it afresh"
            ) from None
    created = extract(final, dest, overwrite=overwrite)
    if not keep_archive:
        final.unlink()
        if downloads.exists() and not any(downloads.iterdir()):
            downloads.rmdir()
    if not quiet:
        print(f"{name}: unpacked {', '.join(p.name for p in created)} into {dest} ({entry.layout})")
    return created


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", nargs="?", help="dataset to download (see --list)")
    parser.add_argument("--list", action="store_true", help="list the datasets and exit")
    parser.add_argument("--dest", type=Path, default=Path("data"), help="where to unpack (default: data/)")
    parser.add_argument("--sha256", help="expected SHA-256 of the archive (verified; mismatch deletes it)")
    parser.add_argument("--url", help="download from this address instead (a mirror)")
    parser.add_argument("--keep-archive", action="store_true", help="keep DEST/.downloads/ARCHIVE")
    parser.add_argument("--overwrite", action="store_true", help="replace existing folders in DEST")
    parser.add_argument("--restart", action="store_true", help="discard a partial download instead of resuming it")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    if args.list or not args.name:
        for key, entry in ARCHIVES.items():
            check = "sha256" if entry.sha256 else "md5" if entry.md5 else "no published checksum"
            print(f"{key:24s} {entry.what}\n{'':24s} {entry.url}\n{'':24s} ({entry.layout}; {check})")
        return 0 if args.list else 2
    try:
        download(
            args.name,
            args.dest,
            url=args.url,
            sha256=args.sha256,
            keep_archive=args.keep_archive,
            overwrite=args.overwrite,
            restart=args.restart,
            quiet=args.quiet,
        )
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume the download", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
