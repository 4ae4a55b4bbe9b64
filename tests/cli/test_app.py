"""`newsbot check` and `newsbot preview` as a user runs them: a real subprocess, real files.

The Telegram teaser is checked with the fake server's TDLib-port HTML parser (written apart from
the teaser code), and the X teaser with twitter-text-parser, so these tests judge the product by
the platforms' rules rather than by its own counters.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from twitter_text import parse_tweet

from fakes.telegram_html import clean_and_trim, parse_html

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "site"
SAMPLE = REPO / "tests" / "data" / "samples" / "newsdao-exaone-3.md"
SAMPLE_COPY = DEMO / "_posts" / "2024-08-07-exaone-3-open-source.md"


def newsbot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SITE_", "TIMEZONE"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=120,
    )


def test_demo_site_keeps_the_sample_post_verbatim() -> None:
    assert SAMPLE_COPY.read_bytes() == SAMPLE.read_bytes()


def test_preview_json_of_the_sample_post_gives_teasers_the_platforms_accept(tmp_path: Path) -> None:
    run = newsbot(
        "preview",
        str(SAMPLE_COPY),
        "--site",
        str(DEMO),
        "--json",
        env={"DATA_DIR": str(tmp_path / "var")},
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data) == {"post", "teasers"}
    post = data["post"]
    assert set(post) == {"id", "url", "title", "date", "categories", "tags", "excerpt", "image",
                         "warnings"}
    url = "https://newsdao.kr/%EA%B8%B0%EC%88%A0/2024/08/07/exaone-3-open-source.html"
    assert post["id"] == post["url"] == url
    assert post["title"] == "AI LG ‘엑사원 3.0’ 오픈소스 공개 데이터 600만건!"
    assert post["date"] == "2024-08-07T00:00:00+09:00"
    assert post["categories"] == ["기술"]
    assert post["excerpt"].startswith("LG AI연구원이") and not post["excerpt"].endswith("\n")
    assert post["image"] == "/assets/img/newsdao_breakingnews.jpg"

    tg = data["teasers"]["telegram"]
    assert {"text", "parse_mode", "length", "limit", "image"} <= set(tg)
    assert tg["parse_mode"] == "HTML" and tg["limit"] == 1024  # a photo caption
    assert tg["image"]["status"] == "ok" and tg["image"]["mime"] == "image/jpeg"
    visible = clean_and_trim(parse_html(tg["text"])).text  # raises if Telegram would refuse it
    assert len(visible) == tg["length"] <= 1024
    assert len(visible.encode("utf-16-le")) // 2 <= 1024
    assert post["title"] in visible
    assert f'href="{url}"' in tg["text"]

    x = data["teasers"]["x"]
    assert x["parse_mode"] is None and x["limit"] == 280
    parsed = parse_tweet(x["text"])
    assert parsed.valid and parsed.weightedLength == x["length"] <= 280
    assert url in x["text"] and post["title"] in x["text"]
    if x["shortened"]:
        assert "…" in x["text"]


def test_preview_terminal_output_shows_lengths_and_image(tmp_path: Path) -> None:
    run = newsbot(
        "preview",
        "exaone-3-open-source",
        "--site",
        str(DEMO),
        "--platform",
        "x",
        env={"DATA_DIR": str(tmp_path / "var")},
    )
    assert run.returncode == 0, run.stderr
    assert "x " in run.stdout and "/280" in run.stdout
    assert "telegram" not in run.stdout
    assert "photo 1200x630" in run.stdout


def test_preview_of_an_unknown_post_is_one_clear_line(tmp_path: Path) -> None:
    run = newsbot("preview", "no-such-post", "--site", str(DEMO), env={"DATA_DIR": str(tmp_path)})
    assert run.returncode == 2
    assert "no post matches 'no-such-post'" in run.stderr
    assert "Traceback" not in run.stderr


def test_check_json_lists_every_file_and_exits_1_on_a_bad_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    (site / "_posts" / "2024-08-09-broken.md").write_text(
        "---\ntitle: Broken: colon\n---\nbody\n", encoding="utf-8"
    )
    (site / "_posts" / "notes.md").write_text("---\ntitle: Not a post\n---\n", encoding="utf-8")
    run = newsbot("check", "--site", str(site), "--json")
    assert run.returncode == 1, run.stderr
    rows = {row["file"]: row for row in json.loads(run.stdout)}
    for row in rows.values():
        assert set(row) == {"file", "ok", "publishable", "reason", "url", "date", "title",
                            "warnings"}
    broken = rows["_posts/2024-08-09-broken.md"]
    assert broken["ok"] is False and broken["publishable"] is False
    assert "line 2" in broken["reason"]
    assert rows["_posts/notes.md"]["ok"] is False
    sample = rows["_posts/2024-08-07-exaone-3-open-source.md"]
    assert sample["ok"] and sample["publishable"] and sample["reason"] is None
    assert sample["date"] == "2024-08-07T00:00:00+09:00"
    future = next(r for r in rows.values() if r["file"].startswith("_posts/2030-"))
    assert future["ok"] and not future["publishable"] and "scheduled" in future["reason"]
    draft = next(r for r in rows.values() if "draft" in r["file"])
    assert draft["reason"] == "published: false"


def test_check_of_the_demo_site_is_clean() -> None:
    run = newsbot("check", "--site", str(DEMO))
    assert run.returncode == 0, run.stderr
    assert "0 bad" in run.stdout


def test_an_invalid_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    run = newsbot("check", "--site", str(DEMO), env={"TIMEZONE": "Mars/Olympus_Mons"})
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "TIMEZONE" in lines[0] and "Mars/Olympus_Mons" in lines[0]


def test_a_missing_site_folder_is_one_line(tmp_path: Path) -> None:
    run = newsbot("check", "--site", str(tmp_path / "nowhere"))
    assert run.returncode == 2
    assert "site folder not found" in run.stderr and "Traceback" not in run.stderr


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SITE_DIR={DEMO}\nHASHTAG_MAX=0\n", encoding="utf-8")
    run = newsbot("preview", "exaone-3-open-source", "--json", "--platform", "x", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = json.loads(run.stdout)["teasers"]["x"]["text"]
    assert "#기술" not in text  # HASHTAG_MAX=0 from .env took effect


def test_the_readme_template_example_renders(tmp_path: Path) -> None:
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```jinja\n(.*?)```", readme, re.S)
    assert example, "README lost its template example"
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "telegram.html.j2").write_text(example.group(1), encoding="utf-8")
    run = newsbot(
        "preview",
        "exaone-3-open-source",
        "--site",
        str(DEMO),
        "--json",
        env={"TEMPLATES_DIR": str(tmp_path / "tpl"), "DATA_DIR": str(tmp_path / "var")},
    )
    assert run.returncode == 0, run.stderr
    teasers = json.loads(run.stdout)["teasers"]
    assert teasers["telegram"]["text"].startswith("<b>[속보] AI LG")
    assert "<i>08/07 00:00</i>" in teasers["telegram"]["text"]
    clean_and_trim(parse_html(teasers["telegram"]["text"]))
    assert not teasers["x"]["text"].startswith("[속보]")  # x.txt.j2 fell back to the default


def test_preview_refuses_a_post_symlinked_from_outside_the_site(tmp_path: Path) -> None:
    """Regression: `newsbot preview` (and push) read a symlink out of the site that every scan
    skipped; the local CLI follows the scans' rule too."""
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    embargo = tmp_path / "private" / "2024-01-05-embargo.md"
    embargo.parent.mkdir()
    embargo.write_text("---\ntitle: EMBARGOED until Friday\n---\nSecret.\n", encoding="utf-8")
    link = site / "_posts" / "2024-01-05-embargo.md"
    link.symlink_to(embargo)
    for ref in (str(link), "_posts/2024-01-05-embargo.md"):
        run = newsbot("preview", ref, "--site", str(site), env={"DATA_DIR": str(tmp_path)},
                      cwd=site)
        assert run.returncode == 2, run.stdout
        assert "outside the site folder" in run.stderr and "Traceback" not in run.stderr
        assert "EMBARGOED" not in run.stdout + run.stderr


def test_check_lists_a_deeply_nested_file_as_bad_and_goes_on(tmp_path: Path) -> None:
    """Regression: 5,000 nested TOML arrays raised RecursionError out of the reader and
    `newsbot check` died with a traceback instead of listing the file."""
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    (site / "_posts" / "2024-08-09-deep.md").write_text(
        '+++\ntitle = "x"\nx = ' + "[" * 5000 + "]" * 5000 + "\n+++\nbody\n", encoding="utf-8"
    )
    run = newsbot("check", "--site", str(site), "--json")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    rows = {row["file"]: row for row in json.loads(run.stdout)}
    assert rows["_posts/2024-08-09-deep.md"]["ok"] is False
    assert "nested too deeply" in rows["_posts/2024-08-09-deep.md"]["reason"]
    assert rows["_posts/2024-08-07-exaone-3-open-source.md"]["publishable"]
    table = newsbot("check", "--site", str(site))
    assert table.returncode == 1 and "Traceback" not in table.stderr, table.stderr
    assert "1 bad" in table.stdout


def test_check_reports_the_second_of_two_files_with_one_url_as_the_scan_does(
    tmp_path: Path,
) -> None:
    """Regression: `check` called both files fine while the scan kept only the first."""
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    twin = site / "_posts" / "archive" / SAMPLE_COPY.name
    twin.parent.mkdir()
    twin.write_bytes(SAMPLE_COPY.read_bytes())
    run = newsbot("check", "--site", str(site), "--json")
    assert run.returncode == 1, run.stderr
    rows = {row["file"]: row for row in json.loads(run.stdout)}
    first = rows["_posts/2024-08-07-exaone-3-open-source.md"]
    second = rows["_posts/archive/2024-08-07-exaone-3-open-source.md"]
    assert first["ok"] and first["publishable"]
    assert second["ok"] is False and second["url"] is None
    assert second["reason"].startswith(
        f"same URL as _posts/2024-08-07-exaone-3-open-source.md ({first['url']})"
    )
    table = newsbot("check", "--site", str(site))
    assert table.returncode == 1 and "1 bad" in table.stdout


# --- values print literally ---------------------------------------------------------------------

HOSTILE_TITLE = "[/] [link=https://evil.example]x[/link] [bold red]loud :fire: \\[b]"
HOSTILE_FILE = "2024-08-10-[bold red]odd[link=x].md"  # no `/` in a file name


def _hostile_site(tmp_path: Path) -> Path:
    """The demo site plus a post whose title, excerpt and file name read as Rich markup and
    whose title ends in terminal control sequences (YAML's \\e is ESC, \\a is BEL)."""
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    title = HOSTILE_TITLE.replace("\\", "\\\\") + " \\e[2J\\e]0;pwned\\a"
    (site / "_posts" / HOSTILE_FILE).write_text(
        f'---\ntitle: "{title}"\nexcerpt: "[i]not italic[/i] [/]"\n---\nbody\n', encoding="utf-8"
    )
    return site


def _assert_literal(out: str) -> None:
    assert HOSTILE_TITLE in out, out
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in out  # the controls show as escapes...
    assert "\x1b" not in out and "\x07" not in out  # ...and never reach the terminal
    assert "🔥" not in out


def test_preview_prints_markup_in_values_literally(tmp_path: Path) -> None:
    site = _hostile_site(tmp_path)
    env = {"DATA_DIR": str(tmp_path / "var"), "COLUMNS": "400"}
    run = newsbot("preview", str(site / "_posts" / HOSTILE_FILE), "--site", str(site), env=env)
    assert run.returncode == 0, run.stderr
    _assert_literal(run.stdout)
    assert "[i]not italic[/i] [/]" in run.stdout
    assert f"_posts/{HOSTILE_FILE}" in run.stdout

    run = newsbot("preview", str(site / "_posts" / HOSTILE_FILE), "--site", str(site), "--json",
                  env=env)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["post"]["title"] == HOSTILE_TITLE + " \x1b[2J\x1b]0;pwned\x07"
    assert data["post"]["excerpt"] == "[i]not italic[/i] [/]"


def test_check_prints_markup_in_values_literally(tmp_path: Path) -> None:
    site = _hostile_site(tmp_path)
    (site / "_posts" / "2024-08-11-[bold]bad.md").write_text("---\ntitle: [\n---\n", "utf-8")
    run = newsbot("check", "--site", str(site), env={"COLUMNS": "400"})
    assert run.returncode == 1, run.stderr  # the bad file, reported like any other
    _assert_literal(run.stdout)
    assert HOSTILE_FILE in run.stdout and "2024-08-11-[bold]bad.md" in run.stdout

    run = newsbot("check", "--site", str(site), "--json")
    rows = {row["file"]: row for row in json.loads(run.stdout)}
    assert rows[f"_posts/{HOSTILE_FILE}"]["title"] == HOSTILE_TITLE + " \x1b[2J\x1b]0;pwned\x07"
    assert rows["_posts/2024-08-11-[bold]bad.md"]["ok"] is False


def test_an_error_naming_a_markup_ref_prints_it_literally(tmp_path: Path) -> None:
    run = newsbot("preview", "[/][link=https://evil.example]x", "--site", str(DEMO),
                  env={"DATA_DIR": str(tmp_path), "COLUMNS": "400"})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "[/][link=https://evil.example]x" in run.stderr


def test_a_template_reading_the_environment_is_refused_without_printing_it(
    tmp_path: Path,
) -> None:
    """The attack from the issue, end to end: the bot token in the environment stays unseen."""
    token = "123456789" + ":" + "AAH-fake-cli-sandbox-token-0123456789ab"
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "x.txt.j2").write_text(
        "{{ title }}\n{% for kv in post.path.joinpath('/proc/self/environ').read_text()"
        ".split('\\x00') %}{% if kv.startswith('TELEGRAM_BOT') %}{{ kv }}{% endif %}"
        "{% endfor %}\n{{ url }}",
        encoding="utf-8",
    )
    run = newsbot(
        "preview", "exaone-3-open-source", "--site", str(DEMO), "--platform", "x", "--json",
        env={"TEMPLATES_DIR": str(tmp_path / "tpl"), "DATA_DIR": str(tmp_path / "var"),
             "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_CHANNEL": "@newsbot_test"},
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "x.txt.j2:2:" in run.stderr and "Traceback" not in run.stderr
    for secret in (token, token.split(":")[1]):
        assert secret not in run.stdout and secret not in run.stderr
    assert "TELEGRAM_BOT_TOKEN" not in run.stdout + run.stderr
