"""`check_site` and the scan read a site by the same rules: what one calls bad, so does the other.

Regression: two files giving one URL were both "ok" in `newsbot check` while the scan kept only
the first, and a file whose reading raised anything but the reader's own error stopped `check`.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from bot.actions.check import check_site
from bot.sources.jekyll import scan_site
from bot.sources.site import SiteConfig

DEMO = Path(__file__).resolve().parents[2] / "examples" / "site"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_check_and_scan_agree_on_every_file(tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(DEMO, root)
    posts = root / "_posts"
    sample = posts / "2024-08-07-exaone-3-open-source.md"
    (posts / "archive").mkdir()
    shutil.copyfile(sample, posts / "archive" / sample.name)  # same URL, later in path order
    (posts / "2024-01-02-deep.md").write_text(
        '+++\ntitle = "x"\nx = ' + "[" * 5000 + "]" * 5000 + "\n+++\n", encoding="utf-8")
    (posts / "2024-01-03-colon.md").write_text("---\ntitle: a: b\n---\n", encoding="utf-8")
    site = SiteConfig.load(root)

    rows = {r.file: r for r in check_site(site, NOW)}
    scan = scan_site(site)
    assert {f for f, r in rows.items() if r.ok} == {p.rel_path for p in scan.posts}
    bad_rows = {f: r.reason for f, r in rows.items() if not r.ok}
    assert bad_rows == {
        b.rel_path: (f"line {b.line}: {b.reason}" if b.line else b.reason) for b in scan.bad
    }
    assert bad_rows["_posts/archive/2024-08-07-exaone-3-open-source.md"].startswith(
        "same URL as _posts/2024-08-07-exaone-3-open-source.md (https://newsdao.kr/")
    assert "nested too deeply" in bad_rows["_posts/2024-01-02-deep.md"]
    assert rows["_posts/2024-08-07-exaone-3-open-source.md"].publishable
