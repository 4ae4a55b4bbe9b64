#!/usr/bin/env python3
"""Rebuild tests/sources/golden/**/expected.json and golden/ruby/*.json with the real Jekyll.

The golden files pin down how Jekyll 4 turns a post's file name and front matter into `page.url`
and `page.date`; newsbot must reproduce them exactly (the URL is a post's identity). Tests read
the committed JSON, so Jekyll is needed only to regenerate them:

    apt-get install -y jekyll        # Debian 12: jekyll 4.3.1, ruby 3.1
    python3 scripts/make_golden.py   # rewrites the expected files; review with `git diff`

Each site folder is copied to a temporary directory, an extraction page is added there (so the
committed site holds only real post sources), and `jekyll build` runs with `TZ=UTC` so a site
without a `timezone` setting is built in UTC (Jekyll otherwise uses the machine's zone).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "sources" / "golden"

EXTRACT_PAGE = """---
layout: null
permalink: /golden-extract.json
---
[{% for post in site.posts %}
{"path": {{ post.path | jsonify }}, "url": {{ post.url | jsonify }},
 "absolute_url": {{ post.url | absolute_url | jsonify }},
 "date": {{ post.date | date_to_xmlschema | jsonify }},
 "categories": {{ post.categories | jsonify }}, "slug": {{ post.slug | jsonify }}
}{% unless forloop.last %},{% endunless %}{% endfor %}
]
"""

# Ruby-side tables: the primitives newsbot re-implements, evaluated by Jekyll's own code.
RUBY_TABLES = r"""
require "json"
require "time"
require "jekyll"
input = JSON.parse(STDIN.read)
out = {"slugify" => [], "escape_path" => [], "time_parse" => []}
input["slugify"].each do |text|
  %w(default pretty ascii latin raw none).each do |mode|
    [false, true].each do |cased|
      out["slugify"] << {"text" => text, "mode" => mode, "cased" => cased,
                         "slug" => Jekyll::Utils.slugify(text, mode: mode, cased: cased)}
    end
  end
end
input["escape_path"].each do |text|
  out["escape_path"] << {"text" => text, "escaped" => Jekyll::URL.escape_path(text)}
end
input["time_parse"].each do |zone, texts|
  ENV["TZ"] = zone
  texts.each do |text|
    begin
      value = Time.parse(text).localtime.xmlschema
    rescue ArgumentError => e
      value = nil
    end
    out["time_parse"] << {"tz" => zone, "text" => text, "xmlschema" => value}
  end
end
puts JSON.pretty_generate(out)
"""

RUBY_INPUT = {
    "slugify": [
        "Hello, World!",
        "  --Hello  World--  ",
        "The _config.yml file?",
        "한글 제목: 테스트",
        "Café Crème brûlée",
        "C++ & Rust",
        "a  b\tc",
        "Custom Slug, Really!",
        "Mixed Case & Spaces",
        "email@example.com (1+1=2); ok~",
        "ÀÉÎÕÜ ß Ǆ",
        "日本語のタイトル",
        "数字123 and ١٢٣",
        "-leading and trailing-",
        "under_score",
        "...dots...",
    ],
    "escape_path": [
        "기술",
        "ai news",
        "news/기술/ai tools",
        "c#",
        "c#/f#",
        "what?",
        "what?/x#y",
        "50%",
        "a:b",
        "emoji-😀",
        "Custom-Slug,-Really!",
        'quote"d<>',
        "[brackets]",
        "tab\tx",
        "a@b!$&'()*+,;=",
    ],
    "time_parse": {
        zone: [
            "2024-08-25",
            "2024-8-5",
            "2024-08-25 00:15:00",
            "2024-08-25T00:15",
            "2024-08-25 00:15:00 +09:00",
            "2024-08-25 00:15:00 -0500",
            "2024-08-25 00:15:00 +09",
            "2024-08-25 00:15:00 +9",
            "2024-08-25 00:15:00 +930",
            "2024-08-25 00:15:00 +9:30",
            "2024-08-25 00:15:00 UTC",
            "2024-08-25 00:15:00 KST",
            "2024-08-25 00:15:00 EST",
            "2024-08-25 00:15:00 PDT",
            "2024-08-25T00:15Z",
            "2024-08-25 10:00 PM",
            "2024-8-5 9:5:3",
            "2024/08/25 10:00",
            "2024.08.25 10:00",
            "05/08/2024",
            "08/05/2024",
            "05.08.2024",
            "10:00 2024-08-05",
            "Aug 25, 2024 10:00 PM",
            "Aug 5, 2024 10:00 +0900",
            "Mon, 05 Aug 2024 10:00:00 +0000",
            "25 August 2024",
            "20240825",
            "20240825101500",
            "2024-08-25 10:00:00.987",
            "2024-03-10 02:30:00",
            "2024-11-03 01:30:00",
            "2024-12-31 23:59:59",
            # Ruby accepts these, newsbot refuses them on purpose (see test_golden.py)
            "2024-08-05Z",
            "2024-08-05 +05:00",
            "08-05-24",
            "Aug 2024",
            "2024-08-05 10:00:00 GMT+9",
            "2024-08-05 24:00:00",
            # Ruby refuses these
            "2024-13-45",
            "xyz",
            "2024-08-25 25:00",
        ]
        for zone in ("Asia/Seoul", "America/New_York")
    },
}


def build_site(site: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(site, src, ignore=shutil.ignore_patterns("expected.json", "_site"))
        (src / "golden-extract.json").write_text(EXTRACT_PAGE, encoding="utf-8")
        env = dict(os.environ, TZ="UTC", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        subprocess.run(
            [
                "jekyll",
                "build",
                "--source",
                str(src),
                "--destination",
                str(src / "_site"),
                "--future",
                "--quiet",
                "--disable-disk-cache",
            ],
            check=True,
            env=env,
        )
        posts = json.loads((src / "_site" / "golden-extract.json").read_text(encoding="utf-8"))
    expected = {
        p["path"]: {k: p[k] for k in ("url", "absolute_url", "date", "categories", "slug")}
        for p in posts
    }
    out = site / "expected.json"
    out.write_text(
        json.dumps(dict(sorted(expected.items())), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"{out.relative_to(GOLDEN)}: {len(expected)} posts")


def build_ruby_tables() -> None:
    result = subprocess.run(
        ["ruby", "-e", RUBY_TABLES],
        input=json.dumps(RUBY_INPUT),
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8"),
    )
    tables = json.loads(result.stdout)
    (GOLDEN / "ruby").mkdir(exist_ok=True)
    for name, rows in tables.items():
        out = GOLDEN / "ruby" / f"{name}.json"
        out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"{out.relative_to(GOLDEN)}: {len(rows)} rows")


def main() -> int:
    if shutil.which("jekyll") is None:
        print("jekyll is not installed (apt-get install -y jekyll)", file=sys.stderr)
        return 1
    for site in sorted(GOLDEN.iterdir()):
        if (site / "_config.yml").is_file():
            build_site(site)
    build_ruby_tables()
    return 0


if __name__ == "__main__":
    sys.exit(main())
