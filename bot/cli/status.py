"""`newsbot status` for people: every value whole, at any width, piped or not.

Why lines and not a table: a table shares the width between its columns, so in a narrow terminal
(or at the 80 columns rich assumes when piped) it folds a URL over three lines or drops the
column altogether, and a URL cut in pieces can be neither clicked nor copied.  Each delivery is a
head line and its URL on a line of its own, printed with ``soft_wrap`` (rich inserts no line
break: the terminal wraps, the text stays one line for a pipe or a copy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from rich.console import Console
from rich.text import Text

from bot.cli.text import literal

__all__ = ["ago", "destination_label", "print_status", "span", "spend_line", "usd"]

_STATE_STYLE = {
    "sent": "green", "queued": "blue", "sending": "blue", "waiting": "yellow",
    "retry_wait": "yellow", "failed": "red", "in_doubt": "magenta", "skipped": "dim", "new": "",
}


_WINDOW_NAMES = {"15min": "15 min window", "user24h": "24 h user window",
                 "app24h": "24 h app window"}


def _window_order(name: str) -> tuple[int, str]:
    order = list(_WINDOW_NAMES)
    return (order.index(name) if name in order else len(order), name)


def ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def span(seconds: float) -> str:
    """A rate window as the platforms write it: 1s, 60s, 15min, 24h."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 600 and seconds % 60 == 0:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


def destination_label(platform: str, destination: str, names: Mapping[str, str]) -> str:
    """``x @handle`` once the X account's handle is known; until then ``x account`` (the
    destination id ``x`` alone read as ``x x``)."""
    name = names.get(f"{platform}:{destination}")
    if name:
        return f"{platform} {name}"
    if platform == "x" and destination == "x":
        return "x account"
    return f"{platform} {destination}"


def _short(iso_text: str | None) -> str:
    return (iso_text or "")[:19].replace("T", " ")


def _line(console: Console, text: Text) -> None:
    console.print(text, soft_wrap=True, highlight=False)


def print_status(console: Console, report: Any) -> None:
    """``report``: ``bot.actions.reports.StatusReport``."""
    names = report.destination_names
    head = Text.assemble("mode ", ("dry-run", "yellow") if report.mode == "dry-run"
                         else ("live", "green"))
    if report.paused:
        who = (report.pause or {}).get("who", "")
        why = (report.pause or {}).get("reason", "")
        head.append_text(Text.assemble("  ", ("PAUSED", "bold yellow"), " by ", literal(who),
                                       literal(f": {why}" if why else "")))
    _line(console, head)
    _line(console, Text("  ").join(
        Text(f"{s} {n}", style=_STATE_STYLE.get(s, "") if n else "dim")
        for s, n in report.counts.items()))

    _line(console, Text(f"deliveries ({len(report.deliveries)} of {report.total}, newest "
                        "first; updated UTC)", style="bold"))
    for d in report.deliveries:
        state = d["state"]
        _line(console, Text.assemble(
            "  ", literal(_short(d["updated_at"])[5:16]), "  ",
            literal(state, _STATE_STYLE.get(state, "")), "  ",
            literal(destination_label(d["platform"], d["destination"], names)),
            literal(f"  attempts {d['attempts']}" if (d.get("attempts") or 0) > 1 else "",
                    "dim")))
        _line(console, Text.assemble("    ", literal(unquote(d["post"]))))
        receipt = d["receipt"]
        detail = (receipt.get("url") or receipt.get("id") or "") if receipt else d["reason"]
        if detail:
            _line(console, Text.assemble("    ", literal(detail, "dim" if receipt else "")))
        for note in d.get("notes") or ():  # what the send decided alone (an image failed ...)
            _line(console, Text.assemble("    ", literal(f"⚠ {note}", "yellow")))

    if report.pending:
        shown, total = len(report.pending), getattr(report, "pending_total", len(report.pending))
        _line(console, Text("pending (due UTC)" if shown == total else
                            f"pending: the {shown} soonest of {total} (due UTC)", style="bold"))
        for p in report.pending:
            _line(console, Text.assemble(
                "  ", literal(_short(p["eta"]) or "now"), "  ",
                literal(p.get("label") or p["state"]), "  ",
                literal(destination_label(p["platform"], p["destination"], names))))
            _line(console, Text.assemble("    ", literal(unquote(p["post"]))))
            if p["reason"]:
                _line(console, Text.assemble("    ", literal(p["reason"])))

    for entry in (getattr(report, "queue", None) or {}).values():
        _print_paced(console, entry, names)
    for entry in report.rate.values():
        _line(console, _rate_line(entry, names))
    for entry in (getattr(report, "health", None) or {}).values():
        _line(console, _health_line(entry, names))
    spend = getattr(report, "spend", None)
    if spend:
        _line(console, spend_line(spend))
    _print_workers(console, report.workers, report.workers_stale)


def _print_paced(console: Console, entry: Mapping[str, Any], names: Mapping[str, str]) -> None:
    """A paced backlog: how many wait, the rule, and each next post's expected time (UTC)."""
    cap = int(entry.get("max_per_hour") or 0)
    rules = [f"at most {cap} per hour"] if cap else []
    if entry.get("min_spacing_seconds"):
        rules.append(f"{float(entry['min_spacing_seconds']):g} s apart")
    shown, total = len(entry.get("next") or ()), int(entry["total"])
    _line(console, Text.assemble(
        ("paced ", "bold"), literal(destination_label(entry["platform"], entry["destination"],
                                                      names)),
        literal(f": {total} waiting ({', '.join(rules)}; {entry.get('order')} first)"
                + (f", the next {shown}" if shown < total else "") + "; expected UTC")))
    for e in entry.get("next") or ():
        _line(console, Text.assemble(
            "  ", literal(_short(e["expected_at"])), "  ", literal(unquote(e["post"])),
            literal("  stale: will be skipped" if e.get("stale") else "", "yellow")))


def _health_line(entry: Mapping[str, Any], names: Mapping[str, str]) -> Text:
    """``health telegram @news: ok (checked 02:14:05 UTC)`` or ``UNHEALTHY since ...: why``."""
    line = Text.assemble("health ", literal(destination_label(
        entry["platform"], entry["destination"], names)), ": ")
    status = entry.get("status") or "unknown"
    checked = f"checked {_short(entry['checked_at'])[11:19]} UTC" if entry.get(
        "checked_at") else "not checked yet"
    if status == "unhealthy":
        line.append("UNHEALTHY", "bold red")
        line.append_text(literal(f" since {_short(entry.get('since'))[5:19]} UTC ({checked}): "
                                 f"{entry.get('reason') or ''}; sends wait"))
    elif status == "ok":
        line.append("ok", "green")
        line.append_text(literal(f" ({checked})"))
        if entry.get("check_error"):
            line.append_text(literal(f"; last check got no answer: {entry['check_error']}",
                                     "yellow"))
    elif status == "off":
        line.append_text(literal("not checked (HEALTH_SECONDS=0)", "dim"))
    else:
        line.append_text(literal(f"unknown ({checked})", "dim"))
    return line


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.3f}"


def spend_line(spend: dict[str, Any]) -> Text:
    """One line for ``newsbot status``: this month, today, projection, budgets, waits."""
    parts = [f"{usd(spend['total_usd'])} this month ({spend['month']} UTC)",
             f"{usd(spend['today_usd'])} today",
             f"projected {usd(spend['projection_usd'])}"]
    if spend.get("monthly_budget_usd") is not None:
        parts.append(f"monthly budget {usd(spend['monthly_budget_usd'])} "
                     f"({usd(spend['month_left_usd'])} left)")
    if spend.get("daily_budget_usd") is not None:
        parts.append(f"daily budget {usd(spend['daily_budget_usd'])} "
                     f"({usd(spend.get('today_left_usd'))} left)")
    line = Text.assemble("X spend: ", literal(", ".join(parts)))
    if spend.get("waiting_for_budget"):
        line.append(f"; {spend['waiting_for_budget']} waiting (budget)", "yellow")
    return line


def _rate_line(entry: Mapping[str, Any], names: Mapping[str, str]) -> Text:
    parts = [literal(f"{r['remaining']}/{r['limit']} per {span(float(r['window']))}")
             for r in entry["rules"]]
    windows = entry.get("platform_windows") or {}
    said = [f"{w['remaining']} left in its {_WINDOW_NAMES.get(name, name)} (resets "
            f"{_short(w['reset_at'])[5:16]} UTC)"
            for name, w in sorted(windows.items(), key=lambda kv: _window_order(kv[0]))]
    if said:
        parts.append(literal(f"{entry['platform'].upper()} says " + ", ".join(said)))
    daily = entry.get("daily")
    if not windows and daily and daily.get("platform_remaining") is not None:
        parts.append(literal(f"platform says {daily['platform_remaining']} left today"))
    if entry.get("blocked_until"):
        parts.append(literal(f"blocked until {_short(entry['blocked_until'])}", "red"))
    line = Text.assemble("rate ", literal(destination_label(entry["platform"],
                                                            entry["destination"], names)), ": ")
    line.append_text(Text(", ").join(parts) if parts else Text("no local limit"))
    if not entry.get("enforced", True):
        line.append(" (not enforced in a dry run)", "dim")
    return line


def _print_workers(console: Console, fresh: Mapping[str, float],
                   stale: Mapping[str, float]) -> None:
    if fresh:
        _line(console, literal("workers: " + ", ".join(f"{name} ({ago(age)})"
                                                       for name, age in fresh.items())))
    else:
        _line(console, Text("workers: none has reported lately (start `newsbot run` or "
                            "`newsbot worker`)", style="yellow"))
    if stale:
        _line(console, literal("not heard from: " + ", ".join(
            f"{name} (last seen {ago(age)})" for name, age in stale.items()), "dim"))
