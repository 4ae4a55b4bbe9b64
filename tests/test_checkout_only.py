"""The suite reads nothing outside the checkout: a user's laptop has only the repository.

Fixtures that tests need (the twitter-text conformance data, the sample post, the Compose schema)
are vendored under ``tests/data/`` with their licence notes.  This test fails when a test module
names a path of this machine or of the project's shared folder again.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: This machine's workspace root, spelled in parts so that this file does not name it itself.
_HERE = "/" + "work"
OUTSIDE = re.compile(rf"""Path\(\s*["']{_HERE}\b|["']{_HERE}/shared"""
                     r"""|\.parent\s*/\s*["']shared["']""")


def test_no_test_module_reads_outside_the_checkout() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(TESTS)}:{number}: {line.strip()}")
    assert offenders == []


def test_vendored_fixtures_are_present_with_their_licences() -> None:
    data = TESTS / "data"
    for name in ("twitter-text/validate.yml", "twitter-text/LICENSE", "twitter-text/SOURCE.md",
                 "samples/newsdao-exaone-3.md", "samples/SOURCE.md",
                 "compose-spec.json", "compose-spec.LICENSE"):
        assert (data / name).is_file(), name


def test_vendored_copies_are_the_documented_bytes() -> None:
    """Each SOURCE note records the sha256 of the upstream file; the copy must still be it."""
    import hashlib

    data = TESTS / "data"
    for copy, note in (("twitter-text/validate.yml", "twitter-text/SOURCE.md"),
                       ("samples/newsdao-exaone-3.md", "samples/SOURCE.md"),
                       ("compose-spec.json", "compose-spec.SOURCE.md")):
        digest = hashlib.sha256((data / copy).read_bytes()).hexdigest()
        assert digest in (data / note).read_text(encoding="utf-8"), copy
