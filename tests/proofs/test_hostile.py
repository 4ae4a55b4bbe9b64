"""The hostile-corpus proof: its generator is deterministic, and its short version, run as
documented (``python -m proofs.hostile --short``), prints its table and keeps every promise.

The short run takes about two minutes on two cores; select or skip it with ``-k hostile``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # proofs/ runs from the checkout; it is not installed

from proofs.hostile_corpus import CLASSES, Hosts, generate  # noqa: E402

TABLE_END = "-- end of table --"


def snapshot(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry under ``root``: its kind and its bytes (a symlink: its target)."""
    out: dict[str, tuple[str, bytes]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = os.fsencode(path.relative_to(root)).decode("latin-1")
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                out[rel] = ("link", os.fsencode(os.readlink(path)))
            elif stat.S_ISFIFO(mode):
                out[rel] = ("fifo", b"")
            elif stat.S_ISDIR(mode):
                out[rel] = ("dir", b"")
            else:
                out[rel] = ("file", path.read_bytes())
    return out


def test_same_seed_same_bytes_and_every_class(tmp_path: Path) -> None:
    hosts = Hosts(port=40001, canary=40002)
    first = generate(tmp_path / "a", hosts=hosts, seed=7, posts=0, long=False)
    second = generate(tmp_path / "b", hosts=hosts, seed=7, posts=0, long=False)
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    assert [i.rel for i in first.items] == [i.rel for i in second.items]
    assert first.missing() == [] and set(first.classes()) <= set(CLASSES)


def test_the_long_corpus_has_300_posts_and_the_seed_shapes_the_fill(tmp_path: Path) -> None:
    hosts = Hosts(port=40001, canary=40002)
    corpus = generate(tmp_path / "a", hosts=hosts, seed=7, posts=340)
    assert len(corpus.items) >= 340 and corpus.missing() == []
    generate(tmp_path / "b", hosts=hosts, seed=8, posts=340)

    def filled(root: Path) -> list[bytes]:
        return [(root / "site" / i.rel).read_bytes() for i in corpus.items if "mixed" in i.rel]

    assert filled(tmp_path / "a") and filled(tmp_path / "a") != filled(tmp_path / "b")


@pytest.mark.timeout(600)
def test_short_hostile_corpus_proof_keeps_its_promises() -> None:
    done = subprocess.run([sys.executable, "-m", "proofs", "hostile", "--short"], cwd=ROOT,
                          capture_output=True, text=True, timeout=580, check=False)
    out = done.stdout
    assert "proof suite: hostile --short" in out and TABLE_END in out, out + done.stderr[-3000:]
    for figure in ("files tried", "scans crashed", "files read over 1 s", "peak RSS",
                   "unsafe fetches", "sends refused by the fakes", "secrets in any output"):
        assert figure in out, figure
    assert "[kept  ]" in out and "BROKEN" not in out, out
    assert done.returncode == 0, out + done.stderr[-3000:]


def test_the_judge_tells_a_refusal_from_a_fetch() -> None:
    from proofs.hostile_judge import unsafe_decision

    refused = {"status": "failed", "reason": "host 2130706433 resolves to loopback address "
               "127.0.0.1; images are only fetched from public hosts"}
    reached = {"status": "failed", "reason": "HTTP 404 from http://169.254.169.254/x"}
    read = {"status": "failed", "reason": "not a readable image: unrecognised format"}
    canary = {"status": "ok", "width": 333, "height": 222}
    assert unsafe_decision(refused, must_refuse=True) is None
    assert unsafe_decision(reached, must_refuse=True) is not None
    assert unsafe_decision(read, must_refuse=True) is not None
    assert unsafe_decision(read, must_refuse=False) is None
    assert unsafe_decision(canary, must_refuse=False) == "the canary image was used"
    assert unsafe_decision({"status": "ok", "width": 800, "height": 420},
                           must_refuse=True) == "fetched and used"
    malformed = {"status": "failed", "reason": "download failed from "
                 "http://127.0.0.1:9/redirect/octal: RemoteProtocolError"}
    assert unsafe_decision(malformed, must_refuse=True, origin="http://127.0.0.1:9") is None
    assert unsafe_decision(malformed, must_refuse=True) is not None
    assert unsafe_decision(reached, must_refuse=True, origin="http://127.0.0.1:9") is not None


def test_the_hostile_server_journals_each_port_and_host() -> None:
    import urllib.request

    from proofs.hostile_server import HostileServer

    server = HostileServer().start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.canary}/canary.png",
                                    timeout=5) as resp:
            assert resp.read().startswith(b"\x89PNG")
        with urllib.request.urlopen(f"http://localhost:{server.port}/ok.jpg", timeout=5) as resp:
            assert resp.headers["Content-Type"] == "image/jpeg"
        [canary] = server.hits_on(server.canary)
        [host] = server.hits_on(server.port)
        assert canary.path == "/canary.png" and host.host == f"localhost:{server.port}"
    finally:
        server.stop()
