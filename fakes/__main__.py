"""`python -m fakes`: try the whole path without accounts.

``serve`` starts the fake Telegram Bot API and the fake X API (the ones the tests use) and prints
the settings that point newsbot at them: a bot token, a channel, an editors' chat and editor,
four X keys.  While it runs, from another terminal:

* ``python -m fakes sent`` lists what the fakes received: the channel's posts, the X posts,
  and the messages the editors' bot sent (replies, notices);
* ``python -m fakes say "/status"`` posts an editor's command to the bot (as Telegram would
  hand it over through getUpdates) and prints the bot's answer.

The fakes are for local trials only: they listen on 127.0.0.1, keep everything in memory, and
accept only the token and keys printed here.  A small control endpoint (``--control-port``)
carries ``sent`` and ``say``; nothing of it exists on the real platforms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["main"]

CHANNEL = -1001234567890
CHANNEL_NAME = "newsdemo"
EDITOR_CHAT = -1009876543210
EDITOR = 1001
PORTS = {"telegram": 8081, "x": 8082, "control": 8083}
CONTROL_ENV = "NEWSBOT_FAKES"


class _Fakes:
    def __init__(self, telegram: Any, x: Any) -> None:
        self.telegram = telegram
        self.x = x
        self.lock = threading.Lock()

    def sent(self) -> dict[str, Any]:
        def messages(chat: int) -> list[dict[str, Any]]:
            return [{"message_id": m.message_id, "kind": m.kind, "text": m.text or m.caption or "",
                     "buttons": _buttons(m.reply_markup)}
                    for m in self.telegram.channel_posts(chat)]

        return {
            "telegram_channel": messages(CHANNEL),
            "editors_chat": messages(EDITOR_CHAT),
            "editor_private": messages(EDITOR),
            "x": [{"id": p.id, "text": p.text, "media": len(p.media_ids)} for p in self.x.posts],
            "x_billable": self.x.billable_calls(),  # what X would bill, by kind
        }

    def say(self, text: str, user: int) -> dict[str, Any]:
        """An editor's message to the bot; returns how many messages the bot had sent to that
        chat before, so the caller can wait for the answer."""
        before = len(self.telegram.channel_posts(user))
        self.telegram.push_update(self.telegram.make_message_update(user, text=text))
        return {"before": before}

    def health(self, action: str) -> dict[str, Any]:
        """Break or fix a destination, as an owner or X would (connection health trials)."""
        actions = {
            "telegram-demote": lambda: self.telegram.demote_bot(CHANNEL, "member"),
            "telegram-kick": lambda: self.telegram.demote_bot(CHANNEL, "kicked"),
            "telegram-restore": lambda: self.telegram.restore_bot(CHANNEL),
            "x-revoke": self.x.revoke_credentials,
            "x-lock": self.x.lock_account,
            "x-credits": self.x.deplete_credits,
            "x-restore": self.x.restore_account,
        }
        if action not in actions:
            return {"error": f"one of {', '.join(actions)}"}
        actions[action]()
        return {"done": action}

    def replies(self, user: int, after: int) -> list[str]:
        return [m.text or m.caption or "" for m in self.telegram.channel_posts(user)[after:]]


def _buttons(markup: dict[str, Any] | None) -> list[str]:
    rows = (markup or {}).get("inline_keyboard", [])
    return [button.get("text", "") for row in rows for button in row]


def _control_handler(fakes: _Fakes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, data: Any, status: int = 200) -> None:
            body = json.dumps(data, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            if path == "/sent":
                self._reply(fakes.sent())
            elif path == "/replies":
                self._reply(fakes.replies(int(params.get("user", EDITOR)),
                                          int(params.get("after", 0))))
            else:
                self._reply({"error": "unknown path"}, 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(min(length, 65536)) or b"{}")
                if self.path == "/health":
                    done = fakes.health(str(body.get("action", "")))
                    self._reply(done, 400 if "error" in done else 200)
                    return
                text, user = str(body["text"]), int(body.get("user", EDITOR))
            except (ValueError, KeyError, TypeError):
                self._reply({"error": "send {\"text\": ..., \"user\": id}"}, 400)
                return
            if self.path == "/say":
                self._reply(fakes.say(text, user))
            else:
                self._reply({"error": "unknown path"}, 404)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the terminal shows the settings, not an access log."""

    return Handler


def serve(args: argparse.Namespace) -> int:
    from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
    from fakes.x import FakeX

    telegram = FakeTelegram(port=args.telegram_port, enforce_rate_limits=True)
    telegram.add_chat(CHANNEL, CHANNEL_NAME)
    telegram.add_chat(EDITOR_CHAT, None, type="supergroup", title="Editors")
    telegram.add_chat(EDITOR, None, type="private", first_name="Editor")
    x = FakeX(port=args.x_port)
    try:
        telegram.start()
        x.start()
        control = ThreadingHTTPServer(("127.0.0.1", args.control_port),
                                      _control_handler(_Fakes(telegram, x)))
    except OSError as exc:
        telegram.stop()
        x.stop()
        print(f"error: cannot listen: {exc.strerror or exc} (choose other ports with "
              "--telegram-port, --x-port, --control-port)", file=sys.stderr)
        return 1
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, args=(0.1,), daemon=True).start()
    key, secret, access, access_secret = x.credentials
    control_url = f"http://127.0.0.1:{control.server_address[1]}"
    lines = [
        "# fake Telegram and X are up; put these in .env (or export them) for newsbot:",
        f"TELEGRAM_API_URL={telegram.base_url}",
        f"TELEGRAM_BOT_TOKEN={DEFAULT_TOKEN}",
        f"TELEGRAM_CHANNEL={CHANNEL}",
        f"TELEGRAM_EDITOR_CHAT={EDITOR_CHAT}",
        f"TELEGRAM_EDITOR_IDS={EDITOR}",
        "BOT_LANGUAGE=en",
        f"X_API_URL={x.base_url}",
        f"X_API_KEY={key}",
        f"X_API_SECRET={secret}",
        f"X_ACCESS_TOKEN={access}",
        f"X_ACCESS_TOKEN_SECRET={access_secret}",
        f"# then: python -m fakes sent | python -m fakes say \"/help\" "
        f"(control {control_url}); Ctrl-C stops the fakes",
    ]
    print("\n".join(lines), flush=True)
    stop = threading.Event()
    # SIGINT set here too: a shell starting us in the background hands us SIGINT ignored, and
    # Python then never turns Ctrl-C into KeyboardInterrupt.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        control.shutdown()
        control.server_close()
        x.stop()
        telegram.stop()
    return 0


def _control_url(args: argparse.Namespace) -> str:
    return (args.control or os.environ.get(CONTROL_ENV)
            or f"http://127.0.0.1:{PORTS['control']}").rstrip("/")


def _call(url: str, data: dict[str, Any] | None = None) -> Any:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def show_sent(args: argparse.Namespace) -> int:
    sent = _call(f"{_control_url(args)}/sent")
    if args.json:
        print(json.dumps(sent, ensure_ascii=False, indent=2))
        return 0
    titles = {"telegram_channel": f"Telegram channel {CHANNEL}", "x": "X",
              "editors_chat": f"editors' chat {EDITOR_CHAT}",
              "editor_private": f"editor {EDITOR} (private chat with the bot)"}
    for key, title in titles.items():
        items = sent[key]
        print(f"== {title}: {len(items)}")
        for item in items:
            lines = [line for line in item["text"].splitlines() if line.strip()] or [""]
            buttons = "".join(f" [{b}]" for b in item.get("buttons", []))
            print(f"- {lines[0]}")
            for line in lines[1:]:
                print(f"  {line}")
            if buttons:
                print(f" {buttons}")
    billed = ", ".join(f"{n} {kind}" for kind, n in (sent.get("x_billable") or {}).items() if n)
    print(f"== X billable calls: {billed or 'none'}")
    return 0


def say(args: argparse.Namespace) -> int:
    base = _control_url(args)
    before = _call(f"{base}/say", {"text": args.text, "user": args.user})["before"]
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        replies = _call(f"{base}/replies?user={args.user}&after={before}")
        if replies:
            time.sleep(0.3)  # a command may answer in more than one message
            for reply in _call(f"{base}/replies?user={args.user}&after={before}"):
                print(reply)
            return 0
        time.sleep(0.1)
    print(f"no answer within {args.wait:.0f} s: is `newsbot run` up with the settings "
          "`python -m fakes serve` printed?", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes",
                                     description="Fake Telegram and X for local trials.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="start both fakes and print newsbot's settings for them")
    run.add_argument("--telegram-port", type=int, default=PORTS["telegram"])
    run.add_argument("--x-port", type=int, default=PORTS["x"])
    run.add_argument("--control-port", type=int, default=PORTS["control"])
    for name, help_text in (("sent", "what the fakes received"),
                            ("say", "an editor's message to the bot, and its answer"),
                            ("health", "break or fix a destination (connection health)")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--control", help=f"control URL (default ${CONTROL_ENV} or "
                                           f"http://127.0.0.1:{PORTS['control']})")
        if name == "sent":
            cmd.add_argument("--json", action="store_true")
        elif name == "health":
            cmd.add_argument("action", choices=("telegram-demote", "telegram-kick",
                                                "telegram-restore", "x-revoke", "x-lock",
                                                "x-credits", "x-restore"))
        else:
            cmd.add_argument("text", help='e.g. "/status" or "/preview exaone-3-open-source"')
            cmd.add_argument("--user", type=int, default=EDITOR, help="the sender's user id")
            cmd.add_argument("--wait", type=float, default=10.0, help="seconds to wait")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    try:
        if args.command == "health":
            print(_call(f"{_control_url(args)}/health", {"action": args.action})["done"])
            return 0
        return show_sent(args) if args.command == "sent" else say(args)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"error: the fakes do not answer at {_control_url(args)} ({reason}); start them "
              "with `python -m fakes serve`", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
