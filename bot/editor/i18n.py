"""The editor bot's words in Korean and English, in one table.

Why a plain table instead of gettext: the bot has a few dozen short strings, editors switch the
whole bot with BOT_LANGUAGE, and a test can check that every key exists in both languages.
Values are HTML fragments with ``{placeholders}``; callers escape what they put in them.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("ko", "en")

# command -> (Korean description, English description); the order is the menu order.
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "help": ("명령어 안내", "What each command does"),
    "preview": ("채널에 나갈 모습 미리보기", "Preview exactly what would go out"),
    "push": ("지금 발행 (telegram|x|all, force)", "Publish now (telegram|x|all, force)"),
    "edit": ("발행된 글의 현재 내용으로 텔레그램 메시지 수정",
             "Push a published post's current text (Telegram edit)"),
    "status": ("발행 현황", "Delivery status"),
    "failed": ("실패 목록", "Failed deliveries"),
    "retry": ("실패한 발행 다시 시도", "Retry a failed delivery"),
    "skip": ("자동 발행하지 않기", "Never auto-publish a post"),
    "pause": ("모든 자동 발행 중지", "Stop all automatic publishing"),
    "resume": ("자동 발행 재개", "Resume automatic publishing"),
    "audit": ("편집자 작업 기록", "Editors' audit trail"),
}

STRINGS: Final[dict[str, tuple[str, str]]] = {
    "help": (
        "<b>뉴스봇 편집 데스크</b>\n"
        "/preview &lt;슬러그|URL|파일&gt; — 채널과 X에 나갈 그대로 미리보기\n"
        "/push &lt;슬러그|URL&gt; [telegram|x|all] [force] — 지금 발행 (이미 나간 글은 링크만)\n"
        "/edit &lt;슬러그|URL&gt; — 이미 나간 텔레그램 메시지를 지금 내용으로 수정 "
        "(X는 수정 불가)\n"
        "/status — 상태별 개수, 최근 발행, 실패, 대기열, 한도, 워커, 일시정지 여부\n"
        "/failed — 실패 목록과 사유\n"
        "/retry &lt;슬러그|URL&gt; — 실패한 발행 다시 시도\n"
        "/skip &lt;슬러그|URL&gt; — 이 글은 자동 발행하지 않음\n"
        "/pause, /resume — 모든 자동 발행 중지/재개\n"
        "/audit — 최근 편집자 작업 기록",
        "<b>newsbot editors' desk</b>\n"
        "/preview &lt;slug|URL|file&gt; — exactly what the channel and X would get\n"
        "/push &lt;slug|URL&gt; [telegram|x|all] [force] — publish now (sent posts: link only)\n"
        "/edit &lt;slug|URL&gt; — edit the sent Telegram message to the post's current text "
        "(X posts cannot be edited)\n"
        "/status — counts, last deliveries, failures, queue, budget, workers, paused or not\n"
        "/failed — failures with the platform's reason\n"
        "/retry &lt;slug|URL&gt; — retry a failed delivery\n"
        "/skip &lt;slug|URL&gt; — never auto-publish this post\n"
        "/pause, /resume — stop / restart all automatic publishing\n"
        "/audit — recent editor actions",
    ),
    "refused": (
        "죄송합니다. 이 봇은 편집자만 사용할 수 있습니다. (사용자 ID {user_id})",
        "Sorry, this bot is for the newsroom's editors only. (user id {user_id})",
    ),
    "refused_short": ("편집자만 사용할 수 있습니다", "Editors only"),
    "cb_invalid": ("만료되었거나 잘못된 버튼입니다", "Expired or invalid button"),
    "cb_used": ("이미 처리된 버튼입니다", "This button was already used"),
    "cb_done": ("처리했습니다", "Done"),
    "usage": ("사용법: {usage}", "Usage: {usage}"),
    "too_long": (
        "⚠️ 인자가 너무 깁니다 ({length}자, 최대 {limit}자).",
        "⚠️ That argument is too long ({length} characters, at most {limit}).",
    ),
    "cannot": ("⚠️ {action} 불가: {reason}", "⚠️ Cannot {action}: {reason}"),
    "error": (
        "⚠️ {action} 중 오류가 발생했습니다 ({reason}).",
        "⚠️ {action} failed unexpectedly ({reason}).",
    ),
    "preview_head": ("<b>미리보기</b> {title}", "<b>Preview</b> {title}"),
    "preview_tg": ("Telegram {length}/{limit} · {image}", "Telegram {length}/{limit} · {image}"),
    "preview_x": ("X {length}/{limit} · 이미지: {image}", "X {length}/{limit} · image: {image}"),
    "preview_shortened": ("(요약됨)", "(shortened)"),
    "preview_x_price": ("X 비용 {price} ({calls})", "X price {price} ({calls})"),
    "push_head": ("<b>발행</b> {title}", "<b>Push</b> {title}"),
    "force_ask": (
        "<b>다시 발행할까요?</b> {title}\n{lines}",
        "<b>Send again?</b> {title}\n{lines}",
    ),
    "force_button": ("다시 보내기", "Send again"),
    "paused_ask": (
        "⏸ 자동 발행이 일시정지 상태입니다. 그래도 발행할까요? {title}",
        "⏸ Publishing is paused. Push anyway? {title}",
    ),
    "paused_button": ("그래도 발행", "Push anyway"),
    "never_sent": ("아직 발행된 적 없음", "never sent"),
    "warning": ("⚠️ {text}", "⚠️ {text}"),
    "retry_head": ("<b>다시 시도</b> {title}", "<b>Retry</b> {title}"),
    "skip_head": ("<b>건너뛰기</b> {title}", "<b>Skip</b> {title}"),
    "resolve_head": ("<b>처리</b> {title}", "<b>Resolved</b> {title}"),
    "paused": (
        "⏸ 모든 자동 발행을 멈췄습니다 ({who}).",
        "⏸ All automatic publishing is paused ({who}).",
    ),
    "paused_already": ("⏸ 이미 일시정지 상태입니다.", "⏸ Publishing was already paused."),
    "resumed": (
        "▶️ 자동 발행을 재개했습니다. 대기 중이던 {count}건을 다시 보냈습니다.",
        "▶️ Publishing resumed; {count} queued deliveries handed to the workers.",
    ),
    "resumed_already": (
        "▶️ 일시정지 상태가 아니었습니다. 대기 {count}건 재전송.",
        "▶️ Publishing was not paused; {count} queued deliveries handed to the workers.",
    ),
    "status_head": ("<b>발행 현황</b> ({mode})", "<b>Status</b> ({mode})"),
    "status_paused": ("⏸ 일시정지: {who} {at} {reason}", "⏸ PAUSED by {who} at {at} {reason}"),
    "status_running": ("▶️ 자동 발행 중", "▶️ publishing"),
    "status_counts": ("상태별", "Counts"),
    "status_recent": ("최근 발행", "Last deliveries"),
    "status_failures": ("실패", "Failures"),
    "status_doubt": ("확인 필요 (in doubt)", "In doubt"),
    "status_pending": ("대기열", "Queue"),
    "status_rate": ("발행 한도", "Rate budget"),
    "status_paced": ("발행 간격 대기", "Paced"),
    "status_paced_stale": ("오래되어 건너뜀 예정", "stale: will be skipped"),
    "status_workers": ("워커", "Workers"),
    "status_no_workers": ("워커 신호 없음", "no worker heartbeat"),
    "none": ("없음", "none"),
    "failed_head": ("<b>실패 목록</b> ({count})", "<b>Failures</b> ({count})"),
    "audit_head": ("<b>작업 기록</b>", "<b>Audit trail</b>"),
    "retry_button": ("다시 시도", "Retry"),
    "page": ("{page}/{pages}쪽", "page {page}/{pages}"),
    # notices (events from bot/delivery/notify.py, rendered by bot/editor/notices.py)
    "n_published": ("✅ <b>발행됨</b> {title}\n{links}", "✅ <b>Published</b> {title}\n{links}"),
    "n_failed": (
        "❌ <b>발행 실패</b> {title}\n{where}\n사유: {reason}",
        "❌ <b>Delivery failed</b> {title}\n{where}\nReason: {reason}",
    ),
    "n_in_doubt": (
        "❓ <b>발행 여부 불확실</b> {title}\n{where}\n채널을 확인한 뒤 선택하세요. "
        "답하기 전에는 다시 보내지 않습니다.",
        "❓ <b>Outcome unknown</b> {title}\n{where}\nCheck the channel, then choose; "
        "nothing is re-sent without your answer.",
    ),
    "n_bad_file": (
        "📄 <b>잘못된 글 파일</b> {file}\n{reason}",
        "📄 <b>Bad post file</b> {file}\n{reason}",
    ),
    "n_approval": (
        "📝 <b>승인 대기</b> {title}\n{details}",
        "📝 <b>Waiting for approval</b> {title}\n{details}",
    ),
    "n_generic": ("ℹ️ {text}", "ℹ️ {text}"),
    "n_unhealthy": (
        "🔌 <b>연결 이상</b> {where}\n사유: {reason}\n고칠 때까지 아무것도 보내지 않습니다. "
        "대기 중인 글은 다음 점검 뒤 저절로 나갑니다.",
        "🔌 <b>Connection unhealthy</b> {where}\nReason: {reason}\nNothing is sent there "
        "until it is fixed; the waiting posts go out by themselves after the next check.",
    ),
    "n_healthy": (
        "🔌 <b>연결 정상</b> {where}\n대기 중인 글을 이제 보냅니다.",
        "🔌 <b>Connection healthy again</b> {where}\nThe waiting posts go out now.",
    ),
    "n_not_live": (
        "🕸 <b>페이지가 아직 없음</b> {title}\n{url}\n"
        "LIVE_TIMEOUT_MINUTES 안에 공개되지 않았습니다. 마지막 상태: {reason}\n"
        "티저는 기다리다가 페이지가 열리면 저절로 나갑니다. 지금 보내려면 /push.",
        "🕸 <b>Page not live</b> {title}\n{url}\nNot live within LIVE_TIMEOUT_MINUTES. "
        "Last status seen: {reason}\nThe teaser waits (a link preview of a missing page is "
        "cached for days) and goes out by itself once the page is live; /push sends it now.",
    ),
    "status_health": ("연결 상태", "Health"),
    "n_retraction": (
        "🗑 <b>철회된 글</b> {title}\n({reason})\n{details}\n이미 나간 메시지를 삭제할까요? "
        "텔레그램은 48시간 안에 보낸 메시지만 지울 수 있습니다.",
        "🗑 <b>Retracted</b> {title}\n({reason})\n{details}\nDelete what went out? "
        "Telegram deletes channel messages only within 48 h.",
    ),
    "b_delete": ("삭제 (텔레그램·X)", "Delete (Telegram and X)"),
    "b_keep": ("그대로 두기", "Keep them"),
    "edit_head": ("<b>수정</b> {title}", "<b>Edit</b> {title}"),
    "retract_head": ("<b>삭제</b>", "<b>Delete</b>"),
    "kept_by": ("📌 그대로 둠: {who}", "📌 Kept by {who}"),
    # digests: many notices of one kind pending at once, one message
    "n_bad_files": ("📄 <b>잘못된 글 파일 {count}개</b>", "📄 <b>Bad post files: {count}</b>"),
    "n_bad_files_foot": ("<i>전체 사유: newsbot check</i>", "<i>Full reasons: newsbot check</i>"),
    "n_published_many": ("✅ <b>발행됨 {count}건</b>", "✅ <b>Published: {count}</b>"),
    "n_generic_many": ("ℹ️ <b>알림 {count}건</b>", "ℹ️ <b>Notices: {count}</b>"),
    "b_publish": ("지금 발행", "Publish now"),
    "b_skip": ("건너뛰기", "Skip"),
    "b_send_again": ("다시 보내기", "Send again"),
    "b_went_out": ("이미 나갔음", "It went out"),
    "b_retry": ("다시 시도", "Retry"),
    "approve_changed": (
        "✏️ 미리보기 이후 글이 바뀌었습니다. 새 미리보기를 보냈습니다.",
        "✏️ The post changed after this preview; a new preview was sent.",
    ),
    "approved": ("✅ 승인: {who}", "✅ Approved by {who}"),
    "skipped_by": ("⏭ 건너뜀: {who}", "⏭ Skipped by {who}"),
}


def t(language: str, key: str, **values: object) -> str:
    """The string ``key`` in ``language`` (English for an unknown language) with values filled."""
    ko, en = STRINGS[key]
    text = ko if language == "ko" else en
    return text.format(**values) if values else text


def command_descriptions(language: str) -> list[tuple[str, str]]:
    """(command, description) pairs for setMyCommands in one language."""
    index = 0 if language == "ko" else 1
    return [(name, pair[index]) for name, pair in COMMANDS.items()]
