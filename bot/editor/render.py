"""Reports as Telegram HTML: every echoed value escaped, every message within 4096.

Why budget on the raw HTML length: Telegram applies its 4096 limit to the text after parsing, which
is never longer than the HTML we send, so a page whose HTML fits is certain to fit.  Values are
clipped before escaping, so a clip can never cut an entity or a tag in half.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from .i18n import t

__all__ = [
    "PAGE_BUDGET",
    "audit_lines",
    "clip",
    "delivery_lines",
    "esc",
    "esc_text",
    "failed_lines",
    "link",
    "paginate",
    "status_lines",
    "when",
]

TEXT_LIMIT = 4096
PAGE_BUDGET = 3900  # leaves room for the page footer
VALUE_CLIP = 300


def clip(value: object, limit: int = VALUE_CLIP) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def esc(value: object, limit: int = VALUE_CLIP) -> str:
    """Clip, then escape: the only way a value enters a reply."""
    return html.escape(clip(value, limit), quote=False)


def esc_text(value: object, limit: int = 3000) -> str:
    """Clip, then escape, keeping every line break: for a text shown exactly as it will read
    (the X post in previews), where ``esc`` would fold it onto one line."""
    text = "" if value is None else str(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def link(url: str | None, label: str = "link") -> str:
    """An <a> for http(s) URLs; anything else is shown as escaped text."""
    if not url:
        return ""
    if url.startswith(("https://", "http://")) and len(url) <= 1000:
        return f'<a href="{html.escape(url, quote=True)}">{esc(label)}</a>'
    return esc(url)


def post_link(url: object, limit: int = 160) -> str:
    """A post URL as readers see it (percent-decoded, no scheme), linked to the real URL."""
    text = "" if url is None else str(url)
    if not text.startswith(("https://", "http://")):
        return esc(text, limit)
    label = unquote(text.split("://", 1)[1])
    return link(text, clip(label, limit))


def when(value: str | float | None) -> str:
    """ISO string or epoch -> 'YYYY-MM-DD HH:MM UTC'."""
    if value is None or value == "":
        return "-"
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = str(value)
    return esc(text[:19].replace("T", " ") + " UTC")


def paginate(lines: Sequence[str], header: str = "", budget: int = PAGE_BUDGET) -> list[str]:
    """Group whole lines into pages of at most ``budget`` characters (header included)."""
    pages: list[str] = []
    current: list[str] = [header] if header else []
    size = len(header)
    for line in lines:
        if len(line) > budget // 2:  # a builder bug must not produce an unsendable page
            line = esc(html.unescape(_strip_tags(line)), budget // 2)
        if current and size + 1 + len(line) > budget and (len(current) > 1 or not header):
            pages.append("\n".join(current))
            current = [header] if header else []
            size = len(header)
        current.append(line)
        size += len(line) + 1
    if current and (len(current) > 1 or not pages):
        pages.append("\n".join(current))
    return pages


def _strip_tags(text: str) -> str:
    out, inside = [], False
    for ch in text:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------------ reports
def outcome_line(outcome: Any) -> str:
    where = f"{esc(outcome.platform)} {esc(outcome.destination, 80)}"
    extra = f" {link(outcome.receipt_url)}" if getattr(outcome, "receipt_url", None) else ""
    return f"• {where}: {esc(outcome.message)}{extra}"


def delivery_lines(language: str, head_key: str, report: Any) -> list[str]:
    """Lines for a DeliveryReport (push / retry / skip / resolve)."""
    title = report.title or report.post or report.ref
    lines = [t(language, head_key, title=esc(title, 200))]
    if report.warning:
        lines.append(t(language, "warning", text=esc(report.warning)))
    lines.extend(outcome_line(o) for o in report.outcomes)
    if report.error and report.outcomes:
        lines.append(t(language, "warning", text=esc(report.error)))
    return lines


def _record_line(item: Mapping[str, Any], *, reason: bool = False) -> str:
    receipt = item.get("receipt") or {}
    url = receipt.get("url") if isinstance(receipt, Mapping) else None
    parts = [f"• {esc(item.get('state'))} {esc(item.get('platform'))}",
             post_link(item.get("post"))]
    if url:
        parts.append(link(url))
    if reason and item.get("reason"):
        parts.append(f"— {esc(item.get('reason'), 200)}")
    line = " ".join(parts)
    for note in item.get("notes") or ():  # e.g. the image failed and the text went out
        line += f"\n  ⚠ {esc(note, 200)}"
    return line


def status_lines(language: str, report: Any, records: Iterable[Any] = ()) -> tuple[str, list[str]]:
    """(header, lines) for /status; ``records`` are extra failed / in-doubt records to list."""
    data = report.to_json()
    header = t(language, "status_head", mode=esc(data["mode"]))
    lines: list[str] = []
    if data["paused"]:
        info = data["pause"] or {}
        lines.append(t(language, "status_paused", who=esc(info.get("who")),
                       at=when(info.get("at")), reason=esc(info.get("reason"))))
    else:
        lines.append(t(language, "status_running"))
    counts = " · ".join(f"{esc(k)} {int(v)}" for k, v in data["counts"].items() if v)
    lines.append(f"<b>{t(language, 'status_counts')}</b>: {counts or t(language, 'none')}")

    workers = data["workers"]
    if workers:
        ages = ", ".join(f"{esc(name, 60)} {float(age):.0f}s" for name, age in workers.items())
        lines.append(f"<b>{t(language, 'status_workers')}</b>: {ages}")
    else:
        lines.append(f"<b>{t(language, 'status_workers')}</b>: {t(language, 'status_no_workers')}")

    rate_parts = []
    for bucket, entry in data["rate"].items():
        text = esc(bucket, 80)
        for rule in entry.get("rules") or []:
            text += f" {int(rule['remaining'])}/{int(rule['limit'])} per {_span(rule['window'])}"
        daily = entry.get("daily")
        if daily and daily.get("remaining") is not None:
            text += f" {int(daily['remaining'])} left"
        if entry.get("wait"):
            text += f" wait {float(entry['wait']):.0f}s"
        rate_parts.append(text)
    if rate_parts:
        lines.append(f"<b>{t(language, 'status_rate')}</b>: {'; '.join(rate_parts)}")
    spend = data.get("spend")
    if spend:
        lines.append(spend_status_line(spend))

    health_parts = []
    for entry in (data.get("health") or {}).values():
        where = esc(f"{entry['platform']} {entry['destination']}", 80)
        checked = when(entry.get("checked_at")) if entry.get("checked_at") else "—"
        if entry.get("status") == "unhealthy":
            health_parts.append(f"{where}: ❌ {esc(entry.get('reason'), 300)} ({checked})")
        else:
            health_parts.append(f"{where}: {esc(entry.get('status'))} ({checked})")
    if health_parts:
        lines.append(f"<b>{t(language, 'status_health')}</b>: {'; '.join(health_parts)}")

    listed = list(records)
    failures = [r.to_dict() for r in listed if r.state == "failed"]
    doubts = [r.to_dict() for r in listed if r.state == "in_doubt"]
    for key, items in (("status_failures", failures), ("status_doubt", doubts)):
        if items:
            lines.append(f"<b>{t(language, key)}</b> ({len(items)})")
            lines.extend(_record_line(i, reason=True) for i in items)
    if data["pending"]:
        total = int(data.get("pending_total", len(data["pending"])))
        lines.append(f"<b>{t(language, 'status_pending')}</b> ({total})")
        lines.extend(
            f"• {esc(p.get('label') or p['state'])} {esc(p['platform'])} {post_link(p['post'])}"
            f" → {when(p['eta'])}"
            for p in data["pending"]
        )
        if total > len(data["pending"]):
            lines.append(f"… +{total - len(data['pending'])}")
    lines.extend(paced_queue_lines(data.get("queue") or {}, language))
    lines.append(f"<b>{t(language, 'status_recent')}</b>")
    if data["deliveries"]:
        lines.extend(_record_line(d) for d in data["deliveries"])
    else:
        lines.append(t(language, "none"))
    return header, lines


def paced_queue_lines(queue: Mapping[str, Any], language: str = "en") -> list[str]:
    """/status: each paced backlog (MAX_PER_HOUR, MIN_SPACING_SECONDS) with the expected send
    time of its next posts, in the order they will go."""
    lines: list[str] = []
    for entry in queue.values():
        cap = int(entry.get("max_per_hour") or 0)
        rule = f"{cap}/h" if cap else "spacing"
        lines.append(f"<b>{t(language, 'status_paced')}</b> {esc(entry['platform'])} "
                     f"{esc(entry['destination'], 80)} "
                     f"({int(entry['total'])}, {esc(rule)}, {esc(entry.get('order'))} first)")
        for e in entry.get("next") or ():
            stale = f" ({t(language, 'status_paced_stale')})" if e.get("stale") else ""
            lines.append(f"• {when(e['expected_at'])} {post_link(e['post'])}{stale}")
        shown = len(entry.get("next") or ())
        if int(entry["total"]) > shown:
            lines.append(f"… +{int(entry['total']) - shown}")
    return lines


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${float(value):,.3f}"


def spend_status_line(spend: Mapping[str, Any]) -> str:
    """X spend for /status: month, today, projection, budgets; posts waiting for budget."""
    text = (f"<b>X spend</b>: {_usd(spend['total_usd'])} in {esc(spend['month'])} · "
            f"today {_usd(spend['today_usd'])} · projected {_usd(spend['projection_usd'])}")
    if spend.get("monthly_budget_usd") is not None:
        text += (f" · monthly budget {_usd(spend['monthly_budget_usd'])} "
                 f"({_usd(spend.get('month_left_usd'))} left)")
    if spend.get("daily_budget_usd") is not None:
        text += (f" · daily budget {_usd(spend['daily_budget_usd'])} "
                 f"({_usd(spend.get('today_left_usd'))} left)")
    if spend.get("waiting_for_budget"):
        text += f" · {int(spend['waiting_for_budget'])} waiting (budget)"
    return text


def _span(seconds: float) -> str:
    seconds = float(seconds)
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


def failed_lines(language: str, records: Sequence[Any]) -> tuple[str, list[str]]:
    header = t(language, "failed_head", count=len(records))
    lines = [_record_line(r.to_dict(), reason=True) for r in records]
    return header, lines or [t(language, "none")]


def audit_lines(language: str, rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    lines = [
        f"• {when(row.get('at'))} {esc(row.get('who'), 60)} <b>{esc(row.get('action'), 40)}</b> "
        f"{post_link(row.get('target'))} → {esc(row.get('result'), 200)}"
        for row in rows
    ]
    return t(language, "audit_head"), lines or [t(language, "none")]
