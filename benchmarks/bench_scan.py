"""Benchmark: scan a generated N-post Jekyll site; reports per-post total and parse overhead."""
import shutil, sys, time, random
from pathlib import Path
from bot.sources.site import SiteConfig
from bot.sources.jekyll import scan_site, iter_post_files

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
root = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/bench_site")
sample = Path("/work/shared/samples/newsdao-exaone-3.md").read_text(encoding="utf-8")
head, body = sample.split("\n---\n", 1)
if root.exists():
    shutil.rmtree(root)
(root / "_posts").mkdir(parents=True)
(root / "_config.yml").write_text("url: https://newsdao.kr\ntimezone: Asia/Seoul\npermalink: /:categories/:year/:month/:day/:title:output_ext\n")
rnd = random.Random(1)
for i in range(N):
    folder = root / (["", "tech/", "news/world/"][i % 3]) / "_posts"
    folder.mkdir(parents=True, exist_ok=True)
    y, m, d = 2015 + i % 10, 1 + i % 12, 1 + i % 28
    if i % 2:  # sample-like: excerpt in front matter
        text = head.replace("AI LG", f"AI LG {i}") + f"\ndate: {y}-{m:02d}-{d:02d} 09:{i%60:02d}:00 +0900\ntags: [AI, LG, n{i}]\n---\n" + body
    else:      # no excerpt: first paragraph comes from the body
        text = f"---\ntitle: \"기사 {i}: 제목\"\ncategories: [경제]\nimage: /assets/img/{i}.jpg\n---\n" + body
    (folder / f"{y}-{m:02d}-{d:02d}-post-{i}.md").write_text(text, encoding="utf-8")
site = SiteConfig.load(root)
files = list(iter_post_files(site))
t0 = time.perf_counter(); files = list(iter_post_files(site)); t_walk = time.perf_counter() - t0
t0 = time.perf_counter()
for f in files: f.read_bytes().decode()
t_read = time.perf_counter() - t0
t0 = time.perf_counter(); r = scan_site(site); t_scan = time.perf_counter() - t0
assert len(r.posts) == N and not r.bad, (len(r.posts), r.bad[:3])
print(f"{N} posts: walk {t_walk:.3f}s, read+decode {t_read:.3f}s, scan_site {t_scan:.3f}s "
      f"= {t_scan / N * 1000:.3f} ms/post; overhead beyond walk+read {(t_scan - t_walk - t_read) / N * 1000:.3f} ms/post")
