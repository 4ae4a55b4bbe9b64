"""The hostile strings, URLs and bodies the hostile corpus is made of (data, no I/O).

Each table entry names the class of the issue it belongs to, so the generator can say which
classes it wrote and the suite can refuse to pass on a corpus that misses one.
"""

from __future__ import annotations

import json

__all__ = [
    "BODY_SHAPES",
    "HOSTILE_IMAGE_ROUTES",
    "REFUSED_IMAGES",
    "TEMPLATES",
    "TITLES",
    "VALUE_FIELDS",
    "yq",
]

MB = 1024 * 1024


def yq(text: str) -> str:
    """``text`` as a YAML double-quoted scalar that reads back exactly (JSON escapes, plus the
    characters YAML treats as line breaks or refuses in a stream)."""
    out = json.dumps(text, ensure_ascii=False)
    escaped = []
    for ch in out:
        code = ord(ch)
        if 0x7F <= code <= 0x9F or ch in "\u2028\u2029\ufffe\uffff":
            escaped.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")
        else:
            escaped.append(ch)
    return "".join(escaped)


#: (class, title).  The classes: html-title (Telegram's markup), template-sandbox ({{ }} and
#: {% %} in values), rich-markup (the CLI's console), log-injection (newlines, ANSI, controls),
#: lengths (what fitting must cut without breaking a grapheme).
TITLES: tuple[tuple[str, str], ...] = (
    ("html-title", "<b>bold</b> and </a> closing & an ampersand"),
    ("html-title", "A &amp; B &lt;script&gt;alert(1)&lt;/script&gt; &"),
    ("html-title", "<script>alert(1)</script><img src=x onerror=alert(1)>"),
    ("html-title", '<a href="javascript:alert(1)">click</a> </b></i></a></code></pre>'),
    ("html-title", "RTL \u202egpj.exe\u202c override and \u2066isolate\u2069"),
    ("html-title", "zero\u200dwidth\u200bjoiner\u2060and\ufeffBOM\u200e\u200f"),
    ("html-title", "<tg-spoiler>spoiler</tg-spoiler> <blockquote expandable>q</blockquote>"),
    ("html-title", "<b><i><u><s>nested</s></u></i></b> <b>unclosed <i>too"),
    ("html-title", "&#0; &#x110000; &#xD800; &nbsp; &bogus; &#x1F600; &#9999999999;"),
    ("html-title", "<![CDATA[x]]> <!-- comment --> <?php echo 1 ?> <!DOCTYPE x>"),
    ("template-sandbox", "{{ 7*7 }} and {{ post.path }} and {{ ''.__class__.__mro__ }}"),
    ("template-sandbox", "{% for i in range(10**9) %}x{% endfor %}{% raw %}{{ y }}"),
    ("template-sandbox", "{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
    ("template-sandbox", "{{ lipsum.__globals__['os'].environ }} {{ config }}"),
    ("template-sandbox", "{{ post.extra.update({'x': 1}) }} {{ post.__class__ }} {#"),
    ("template-sandbox", "{% include '/etc/passwd' %} {% import 'x' as y %} {{ self }}"),
    ("rich-markup", "[bold red]Rich[/bold red] [link=file:///etc/passwd]markup[/link]"),
    ("rich-markup", "[/] unbalanced [bold :fire: :skull: :pile_of_poo: [blink]x"),
    ("rich-markup", "\\[escaped] [red]\\[/red] [on red]bg[/] [@click=app.quit]q[/]"),
    ("log-injection", "Line one\nINFO bot.delivery event=state_change new=sent post=x"),
    ("log-injection", "ANSI \x1b[31mred\x1b[0m \x1b]8;;http://evil/\x07link\x1b]8;;\x07 bell\x07"),
    ("log-injection", "CR\roverwrite and \x08\x08backspace and \x1b[2J\x1b[H clear"),
    ("log-injection", "Unicode line\u2028separator\u2029paragraph\x85NEL"),
    ("log-injection", "Tab\tand \x7f DEL and \x9b CSI and \x00 NUL"),
    ("log-injection", "%s %d %(name)s {} {0} %n ${jndi:ldap://127.0.0.1/a} \\n"),
    ("lengths", "👨\u200d👩\u200d👧\u200d👦" * 300),
    ("lengths", "a" + "\u0301" * 3000),
    ("lengths", "한국어 뉴스 제목입니다 " * 150),
    ("lengths", "https://a.example/x " * 40),
    ("lengths", "#hashtag @mention $CASH " * 60),
    ("lengths", "x" * 5000),
    ("lengths", "\u202e" * 200 + "end"),
    ("lengths", "🇰🇷" * 700),
)

#: Hostile values in other fields than the title: (class, front-matter lines as YAML).
VALUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("template-sandbox", "excerpt: " + yq("{{ post.path.read_text() }} {% debug %}")),
    ("template-sandbox", "telegram_text: " + yq("<b>{{ url }}</b> {{ 9**9**9 }}")),
    ("template-sandbox", "x_text: " + yq("{{ post.__init__.__globals__ }} {{ range(10) }}")),
    ("template-sandbox", "tags: [\"{{7*7}}\", \"{% if 1 %}\", \"{{ post }}\"]"),
    ("template-sandbox", "image_alt: " + yq("{{ 7*7 }} alt") + "\nimage: /assets/ok.jpg"),
    ("html-title", "categories: [\"<b>bold</b>\", \"a&b\", \"</a>\", \"#hash\"]"),
    ("html-title", "excerpt: " + yq("<b>unclosed & </i> <a href=x>")),
    ("html-title", "telegram_text: " + yq("<b>fine</b> <p>para</p> <br> <unknown>")),
    ("rich-markup", "tags: [\"[red]x[/red]\", \"[/]\", \":fire:\"]"),
    ("log-injection", "excerpt: " + yq("first\nsecond \x1b[31mred\x1b[0m \u2028third")),
    ("log-injection", "categories: [" + yq("a\nb") + ", " + yq("c\x1bd") + "]"),
    ("log-injection", "slug: " + yq("slug\x1b[31m with ansi")),
    ("lengths", "telegram_text: " + yq("Long override. " * 700)),
    ("lengths", "x_text: " + yq("https://example.com/" * 100)),
    ("lengths", "excerpt: " + yq("긴 요약 " * 6000)),
    ("lengths", "image_alt: " + yq("alt text " * 600) + "\nimage: /assets/ok.jpg"),
    ("lengths", "tags: [" + ", ".join(f"t{i}" for i in range(1000)) + "]"),
    ("lengths", "categories: [" + ", ".join(f"c{i}" for i in range(300)) + "]"),
    ("lengths", "title: " + yq("Caption " * 300) + "\nimage: /assets/ok.jpg"),
    ("lengths", "telegram_text: " + yq("𝒜" * 5000) + "\nimage: /assets/ok.jpg"),
)

#: The hostile image host's routes (see ``hostile_server``) and the class each belongs to.
HOSTILE_IMAGE_ROUTES: tuple[tuple[str, str], ...] = (
    ("hostile-host", "/ok.jpg"),
    ("text-as-jpg", "/text.jpg"),
    ("text-as-jpg", "/page.jpg"),
    ("text-as-jpg", "/svg.jpg"),
    ("hostile-host", "/no-type.jpg"),
    ("truncated-image", "/truncated.jpg"),
    ("truncated-image", "/truncated.png"),
    ("image-bomb", "/bomb-400mp.png"),
    ("image-bomb", "/bomb-under-cap.png"),
    ("image-bomb", "/claims-huge.png"),
    ("image-bomb", "/claims-under-cap.png"),
    ("image-bomb", "/claims-huge.jpg"),
    ("image-bomb", "/claims-under-cap.jpg"),
    ("image-bomb", "/frames.gif"),
    ("gzip-bomb", "/gzip-gzip.jpg"),
    ("gzip-bomb", "/gzip-comma.jpg"),
    ("gzip-bomb", "/gzip-bomb.jpg"),
    ("gzip-bomb", "/deflate-bomb.jpg"),
    ("gzip-bomb", "/br.jpg"),
    ("gzip-bomb", "/gzip-corrupt.jpg"),
    ("header-drip", "/drip-status.jpg"),
    ("header-drip", "/drip-headers.jpg"),
    ("header-drip", "/drip-body.jpg"),
    ("header-drip", "/slow-start.jpg"),
    ("hostile-host", "/endless.jpg"),
    ("hostile-host", "/huge-length.jpg"),
    ("hostile-host", "/header-flood.jpg"),
    ("hostile-host", "/long-header.jpg"),
    ("hostile-host", "/bad-status.jpg"),
    ("hostile-host", "/garbage.jpg"),
    ("hostile-host", "/chunk-lie.jpg"),
    ("hostile-host", "/missing.jpg"),
    ("hostile-host", "/error.jpg"),
    ("redirect", "/hops/0"),
)

#: Image values that must be refused before any byte is read or sent: (class, template).
#: ``{c}`` is the canary port (only refused URLs lead there), ``{p}`` the hostile host's.
REFUSED_IMAGES: tuple[tuple[str, str], ...] = (
    ("file-url", "file:///etc/passwd"),
    ("file-url", "FILE:///etc/hostname"),
    ("file-url", "file://localhost/etc/passwd"),
    ("file-url", "file:/etc/passwd"),
    ("file-url", "/etc/passwd"),
    ("file-url", "~/.ssh/id_rsa"),
    ("file-url", "C:\\Windows\\win.ini"),
    ("file-url", "\\\\server\\share\\x.jpg"),
    ("file-url", "jar:file:///x.jar!/y.jpg"),
    ("file-url", "data:image/png;base64,iVBORw0KGgo="),
    ("file-url", "ftp://127.0.0.1:{c}/x.jpg"),
    ("file-url", "gopher://127.0.0.1:{c}/_x"),
    ("file-url", "javascript:alert(1)"),
    ("symlink-out", "../../outside/canary.png"),
    ("symlink-out", "/../outside/canary.png"),
    ("symlink-out", "%2e%2e/%2e%2e/outside/canary.png"),
    ("symlink-out", "assets/../../outside/canary.png"),
    ("symlink-out", "/assets/leak.png"),
    ("symlink-out", "/assets/passwd.jpg"),
    ("loopback-url", "http://127.0.0.1:{c}/canary.png"),
    ("loopback-url", "http://localhost:{c}/canary.png"),
    ("loopback-url", "http://localhost:{p}/ok.jpg"),
    ("loopback-url", "http://127.1:{c}/canary.png"),
    ("loopback-url", "http://2130706433:{c}/canary.png"),
    ("loopback-url", "http://0x7f000001:{c}/canary.png"),
    ("loopback-url", "http://0177.0.0.1:{c}/canary.png"),
    ("loopback-url", "http://017700000001:{c}/canary.png"),
    ("loopback-url", "http://0.0.0.0:{c}/canary.png"),
    ("loopback-url", "http://[::1]:{c}/canary.png"),
    ("loopback-url", "http://[::ffff:127.0.0.1]:{c}/canary.png"),
    ("loopback-url", "http://[::ffff:7f00:1]:{c}/canary.png"),
    ("loopback-url", "http://[0:0:0:0:0:ffff:7f00:1]:{c}/canary.png"),
    ("loopback-url", "http://[::]:{c}/canary.png"),
    ("loopback-url", "HTTP://127.0.0.1:{c}/canary.png"),
    ("loopback-url", "//127.0.0.1:{c}/canary.png"),
    ("loopback-url", "http://user:pass@127.0.0.1:{c}/canary.png"),
    ("loopback-url", "http://127.0.0.1:{c}@evil.invalid/x.jpg"),
    ("loopback-url", "http://evil.invalid#@127.0.0.1:{c}/x.jpg"),
    ("loopback-url", "http://%31%32%37.0.0.1:{c}/canary.png"),
    ("loopback-url", "http://127.0.0.1:99999/x.jpg"),
    ("loopback-url", "http://[::1/x.jpg"),
    ("metadata-url", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
    ("metadata-url", "http://[::ffff:169.254.169.254]/latest/meta-data/"),
    ("metadata-url", "http://169.254.169.254:{c}/computeMetadata/v1/"),
    ("metadata-url", "http://[fd00:ec2::254]/latest/meta-data/"),
    ("non-global-address", "http://[fec0::1]:{c}/canary.png"),
    ("non-global-address", "http://[fe80::1%25lo]:{c}/canary.png"),
    ("non-global-address", "http://[fd00::1]/x.jpg"),
    ("non-global-address", "http://[64:ff9b::7f00:1]:{c}/canary.png"),
    ("non-global-address", "http://[2002:7f00:1::]:{c}/canary.png"),
    ("non-global-address", "http://[100::1]/x.jpg"),
    ("non-global-address", "http://[2001:db8::1]/x.jpg"),
    ("non-global-address", "http://10.0.0.1/x.jpg"),
    ("non-global-address", "http://172.16.0.1/x.jpg"),
    ("non-global-address", "http://192.168.0.1/x.jpg"),
    ("non-global-address", "http://100.64.0.1/x.jpg"),
    ("non-global-address", "http://192.0.0.8/x.jpg"),
    ("non-global-address", "http://198.18.0.1/x.jpg"),
    ("non-global-address", "http://224.0.0.1/x.jpg"),
    ("non-global-address", "http://240.0.0.1/x.jpg"),
    ("non-global-address", "http://255.255.255.255/x.jpg"),
)


def _paragraphs(size: int, unit: str) -> str:
    return unit * (size // len(unit.encode()) + 1)


#: Post bodies of every markup shape, ``size`` bytes or a little more: (name, class, builder).
#: ``quadratic-excerpt`` are the shapes a naive excerpt search is quadratic on.
BODY_SHAPES: tuple[tuple[str, str, object], ...] = (
    ("unclosed-fence", "quadratic-excerpt",
     lambda n: "```\n" + _paragraphs(n, "Para graph inside a fence.\n\n")),
    ("unclosed-comment", "quadratic-excerpt",
     lambda n: "<!--\n" + _paragraphs(n, "Para graph inside a comment.\n\n")),
    ("unclosed-liquid", "quadratic-excerpt",
     lambda n: "{% comment %}\n" + _paragraphs(n, "Para {% raw %} graph {{ x\n\n")),
    ("nested-html", "body-5mb", lambda n: "<div>" * (n // 5)),
    ("one-line", "body-5mb", lambda n: _paragraphs(n, "word ")),
    ("paragraphs", "body-5mb", lambda n: _paragraphs(n, "A sentence. Another one.\n\n")),
    ("unclosed-attribute", "body-5mb", lambda n: '<p class="' + "a" * n),
    ("angles", "body-5mb", lambda n: "<" * n),
    ("emphasis", "body-5mb", lambda n: _paragraphs(n, "*_**__")),
    ("brackets", "body-5mb", lambda n: "[" * (n // 2) + "](" * (n // 4)),
    ("blockquotes", "body-5mb", lambda n: _paragraphs(n, "> " * 200 + "quote\n")),
    ("nested-lists", "body-5mb",
     lambda n: "".join("  " * (i % 500) + "- item\n" for i in range(n // 500))),
    ("table", "body-5mb", lambda n: "| a | b |\n|---|---|\n" + _paragraphs(n, "| x | y |\n")),
    ("entities", "body-5mb", lambda n: _paragraphs(n, "&amp;&#x41;&#0;&bogus;")),
    ("backticks", "body-5mb", lambda n: "`" * n),
    ("reference-links", "body-5mb", lambda n: _paragraphs(n, "[a]: http://x\n")),
    ("crlf-blank", "body-5mb", lambda n: "\r\n" * (n // 2) + "Finally text."),
    ("whitespace", "body-5mb", lambda n: " " * n),
    ("liquid-tags", "body-5mb", lambda n: _paragraphs(n, "{% include x %}{{ site.x }}")),
    ("script-style", "body-5mb", lambda n: "<script>" + "x" * n),
    ("hangul", "body-5mb", lambda n: _paragraphs(n, "한국어 문장입니다. ")),
)

#: Teaser templates trying to leave the sandbox or exhaust the renderer: (name, Telegram
#: template).  Every one must be refused with a one-line template error, nothing else.
TEMPLATES: tuple[tuple[str, str], ...] = (
    ("path", "{{ post.path }}"),
    ("read-file", "{{ post.path.read_text() }}"),
    ("class-mro", "{{ post.__class__.__mro__[1].__subclasses__() }}"),
    ("globals", "{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
    ("lipsum", "{{ lipsum.__globals__['os'].environ }}"),
    ("extra-update", "{{ post.extra.update({'title': 'x'}) }}{{ title }}"),
    ("self-context", "{{ self._TemplateReference__context }}"),
    ("string-format", "{{ '{0.__class__}'.format(post) }}"),
    ("big-string", "{{ 'x' * 10**9 }}"),
    ("big-power", "{{ 10 ** (10 ** 10) }}"),  # Jinja's ** is left-associative
    ("big-range", "{% for i in range(10**9) %}{{ i }}{% endfor %}"),
    ("big-width", "{{ '{:>999999999}'.format('x') }}"),
    ("recursion", "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}"),
    ("include", "{% include '/etc/passwd' %}"),
    ("syntax", "{% if %}"),
    ("bad-tag", "<p>{{ title }}</p>"),
)
