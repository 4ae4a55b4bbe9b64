"""Content-addressed store of finished variants, shared by workers through the filesystem.

The key covers the source bytes, the platform and PIPELINE_VERSION, so editing the image, or
changing how variants are made, naturally misses the cache; no invalidation is ever needed.
Each entry is the encoded file plus a small JSON sidecar, both written atomically (temp file in
the same folder + rename) so a reader sees a whole file or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Bump when the pipeline's output for the same input changes.
PIPELINE_VERSION = "1"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    path: Path
    mime: str
    width: int
    height: int
    size: int
    sha256: str
    notes: tuple[str, ...]


def cache_key(source_sha256: str, platform: str) -> str:
    return hashlib.sha256(f"{PIPELINE_VERSION}\0{platform}\0{source_sha256}".encode()).hexdigest()


class VariantCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _meta_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CacheEntry | None:
        """The stored entry, or None when absent or damaged (then it is simply rebuilt)."""
        try:
            meta = json.loads(self._meta_path(key).read_text("utf-8"))
            path = self._meta_path(key).with_name(meta["file"])
            data = path.read_bytes()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        digest = hashlib.sha256(data).hexdigest()
        if digest != meta.get("sha256") or len(data) != meta.get("size"):
            return None
        return CacheEntry(
            path=path,
            mime=str(meta["mime"]),
            width=int(meta["width"]),
            height=int(meta["height"]),
            size=len(data),
            sha256=digest,
            notes=tuple(str(n) for n in meta.get("notes", [])),
        )

    def put(
        self,
        key: str,
        data: bytes,
        *,
        ext: str,
        mime: str,
        width: int,
        height: int,
        notes: tuple[str, ...],
    ) -> CacheEntry:
        folder = self.root / key[:2]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}.{ext}"
        digest = hashlib.sha256(data).hexdigest()
        _atomic_write(path, data)
        meta = {
            "file": path.name,
            "mime": mime,
            "width": width,
            "height": height,
            "size": len(data),
            "sha256": digest,
            "notes": list(notes),
        }
        # The sidecar goes last: its presence is what marks the entry complete.
        _atomic_write(self._meta_path(key), json.dumps(meta, ensure_ascii=False).encode())
        return CacheEntry(path, mime, width, height, len(data), digest, notes)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
