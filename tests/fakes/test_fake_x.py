"""The fake X server speaks the contract of platform-contracts.md part B, checked over raw HTTP."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from requests_oauthlib import OAuth1
from twitter_text import parse_tweet

from fakes.x import DUPLICATE_DETAIL, IMAGE_MAX_BYTES, TOO_LONG_DETAIL, FakeX

CREDS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-secret")


def _auth(key: str = CREDS[0], token: str = CREDS[2]) -> OAuth1:
    return OAuth1(key, client_secret=CREDS[1], resource_owner_key=token,
                  resource_owner_secret=CREDS[3], decoding=None)




@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def _post(fake: FakeX, body: dict, auth: OAuth1 | None = None, **kw) -> requests.Response:
    return requests.post(fake.base_url + "/2/tweets", json=body, auth=auth or _auth(),
                         timeout=5, **kw)


def _png(w: int = 40, h: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "red").save(buf, "PNG")
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    frames = [Image.new("P", (8, 8), i) for i in range(3)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def _upload(fake: FakeX, data: bytes, category: str = "tweet_image") -> requests.Response:
    return requests.post(fake.base_url + "/2/media/upload", auth=_auth(), timeout=5,
                         files={"media": ("media", data, "application/octet-stream")},
                         data={"media_category": category})


# ---------------------------------------------------------------- POST /2/tweets
def test_create_post_201_with_digit_id_and_rate_headers(fake: FakeX) -> None:
    r = _post(fake, {"text": "Hello from newsbot"})
    assert r.status_code == 201
    data = r.json()["data"]
    assert len(data["id"]) == 19 and data["id"].isdigit()
    assert data["text"] == "Hello from newsbot"
    now = time.time()
    assert int(r.headers["x-rate-limit-limit"]) == 100
    assert int(r.headers["x-rate-limit-remaining"]) == 99
    assert int(r.headers["x-rate-limit-reset"]) > now
    assert r.headers["x-user-limit-24hour-remaining"] == "99"
    assert r.headers["x-app-limit-24hour-remaining"] == "9999"
    assert int(r.headers["x-user-limit-24hour-reset"]) > now + 80000
    r2 = _post(fake, {"text": "second"})
    assert r2.headers["x-user-limit-24hour-remaining"] == "98"
    assert [p.text for p in fake.posts] == ["Hello from newsbot", "second"]
    assert fake.posts[0]["id"] == data["id"]


def test_unknown_key_is_rejected_as_invalid_request(fake: FakeX) -> None:
    r = _post(fake, {"text": "hi", "bogus": 1})
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "Invalid Request" and body["status"] == 400
    assert body["type"].endswith("/2/problems/invalid-request")
    assert "bogus" in body["errors"][0]["message"]
    assert fake.posts == []


@pytest.mark.parametrize(("text", "ok"), [
    ("x" * 280, True), ("x" * 281, False), ("日" * 140, True), ("日" * 141, False),
    ("https://example.com/" + "a" * 400, True),
])
def test_weighted_length_limit(fake: FakeX, text: str, ok: bool) -> None:
    r = _post(fake, {"text": text})
    if ok:
        assert r.status_code == 201
    else:
        assert r.status_code == 400
        assert r.json()["detail"] == TOO_LONG_DETAIL


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=320))
def test_acceptance_matches_twitter_text(shared_fake: FakeX, text: str) -> None:
    shared_fake.reset()
    r = _post(shared_fake, {"text": text})
    weighted = parse_tweet(text).weightedLength
    if weighted > 280:
        assert r.status_code == 400 and r.json()["detail"] == TOO_LONG_DETAIL
    else:
        assert r.status_code == 201, r.text
        assert r.json()["data"]["text"] == text


def test_duplicate_text_gets_verbatim_403(fake: FakeX) -> None:
    assert _post(fake, {"text": "same"}).status_code == 201
    r = _post(fake, {"text": "same"})
    assert r.status_code == 403
    assert r.json() == {"detail": DUPLICATE_DETAIL, "type": "about:blank",
                        "title": "Forbidden", "status": 403}
    assert len(fake.posts) == 1


def test_oauth_required_and_checked_by_key_and_token(fake: FakeX) -> None:
    unauthorized = {"title": "Unauthorized", "type": "about:blank", "status": 401,
                    "detail": "Unauthorized"}
    r = requests.post(fake.base_url + "/2/tweets", json={"text": "a"}, timeout=5)
    assert (r.status_code, r.json()) == (401, unauthorized)
    assert "x-rate-limit-reset" in r.headers
    assert _post(fake, {"text": "a"}, auth=_auth(key="other")).status_code == 401
    assert _post(fake, {"text": "a"}, auth=_auth(token="other")).status_code == 401
    bearer = requests.post(fake.base_url + "/2/tweets", json={"text": "a"}, timeout=5,
                           headers={"Authorization": "Bearer abc"})
    assert bearer.status_code == 403
    assert bearer.json()["title"] == "Unsupported Authentication"
    assert fake.posts == []


def test_same_routes_whatever_the_host_header(fake: FakeX) -> None:
    for host in ("api.x.com", "api.twitter.com"):
        r = _post(fake, {"text": f"via {host}"}, headers={"Host": host})
        assert r.status_code == 201
    assert [c.headers["Host"] for c in fake.calls("/2/tweets")] == ["api.x.com",
                                                                      "api.twitter.com"]


def test_unknown_route_is_404_problem(fake: FakeX) -> None:
    r = requests.get(fake.base_url + "/2/nothing", auth=_auth(), timeout=5)
    assert r.status_code == 404 and r.json()["status"] == 404


# ---------------------------------------------------------------- rate limits
def test_15min_window_exhausts_and_resets_with_time_scale() -> None:
    with FakeX(rate_limit_15min=2, time_scale=0.001) as fake:  # window = 0.9 s
        assert _post(fake, {"text": "1"}).status_code == 201
        assert _post(fake, {"text": "2"}).status_code == 201
        r = _post(fake, {"text": "3"})
        assert r.status_code == 429
        assert r.json() == {"title": "Too Many Requests", "detail": "Too Many Requests",
                            "type": "about:blank", "status": 429}
        assert r.headers["x-rate-limit-remaining"] == "0"
        assert int(r.headers["x-rate-limit-reset"]) >= time.time()
        assert fake.count_429 == 1
        time.sleep(1.0)
        assert _post(fake, {"text": "3"}).status_code == 201


def test_set_rate_limit_exhausted_gives_future_reset(fake: FakeX) -> None:
    fake.set_rate_limit_exhausted(120)
    r = _post(fake, {"text": "blocked"})
    assert r.status_code == 429
    assert int(r.headers["x-rate-limit-reset"]) >= time.time() + 119
    assert fake.posts == [] and fake.count_429 == 1


def test_user_24h_cap() -> None:
    with FakeX(user_24h_limit=1) as fake:
        assert _post(fake, {"text": "one"}).status_code == 201
        r = _post(fake, {"text": "two"})
        assert r.status_code == 429
        assert r.headers["x-user-limit-24hour-remaining"] == "0"
        assert r.headers["x-rate-limit-remaining"] != "0"  # the 15-min window is not the cause
        assert int(r.headers["x-user-limit-24hour-reset"]) > time.time() + 80000


# ---------------------------------------------------------------- media
def test_one_shot_multipart_upload_alt_text_and_post(fake: FakeX) -> None:
    r = _upload(fake, _png(40, 30))
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["id"].isdigit() and data["media_key"] == f"3_{data['id']}"
    assert data["image"] == {"image_type": "image/png", "w": 40, "h": 30}
    assert data["size"] == len(_png(40, 30)) and "processing_info" not in data
    meta = requests.post(fake.base_url + "/2/media/metadata", auth=_auth(), timeout=5,
                         json={"id": data["id"], "metadata": {"alt_text": {"text": "A red box"}}})
    assert meta.status_code == 200
    assert meta.json()["data"]["associated_metadata"]["alt_text"]["text"] == "A red box"
    post = _post(fake, {"text": "with image", "media": {"media_ids": [data["id"]]}})
    assert post.status_code == 201
    assert fake.posts[0].media_ids == [data["id"]]
    record = fake.media[data["id"]]
    assert record["bytes"] == _png(40, 30) and record["alt_text"] == "A red box"
    assert record["mime"] == "image/png" and record["media_category"] == "tweet_image"


def test_one_shot_json_base64_upload(fake: FakeX) -> None:
    r = requests.post(fake.base_url + "/2/media/upload", auth=_auth(), timeout=5,
                      json={"media": base64.b64encode(_png()).decode(),
                            "media_category": "tweet_image"})
    assert r.status_code == 200
    assert fake.media[r.json()["data"]["id"]]["bytes"] == _png()


def test_media_limits(fake: FakeX) -> None:
    too_big = _png() + b"\0" * (IMAGE_MAX_BYTES + 1 - len(_png()))
    r = _upload(fake, too_big)
    assert r.status_code == 400 and "5242880" in r.json()["errors"][0]["message"]
    r = _upload(fake, b"this is not an image")
    assert r.status_code == 400 and r.json()["errors"][0]["message"] == "media type unrecognized."
    assert fake.media == {}
    media_id = _upload(fake, _png()).json()["data"]["id"]
    r = requests.post(fake.base_url + "/2/media/metadata", auth=_auth(), timeout=5,
                      json={"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}})
    assert r.status_code == 400
    assert fake.media[media_id]["alt_text"] is None


def test_one_shot_media_type_enum(fake: FakeX) -> None:
    r = requests.post(fake.base_url + "/2/media/upload", auth=_auth(), timeout=5,
                      files={"media": ("m", _gif())},
                      data={"media_category": "tweet_image", "media_type": "image/gif"})
    assert r.status_code == 400 and "media_type" in r.json()["errors"][0]["message"]
    r = requests.post(fake.base_url + "/2/media/upload", auth=_auth(), timeout=5,
                      files={"media": ("m", _png())},
                      data={"media_category": "tweet_image", "media_type": "image/png"})
    assert r.status_code == 200


def test_post_media_ids_validated(fake: FakeX) -> None:
    ids = [_upload(fake, _png()).json()["data"]["id"] for _ in range(5)]
    assert _post(fake, {"text": "five", "media": {"media_ids": ids}}).status_code == 400
    r = _post(fake, {"text": "ghost", "media": {"media_ids": ["1234567890123456789"]}})
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"] == "Your media IDs are invalid."
    assert _post(fake, {"text": "four", "media": {"media_ids": ids[:4]}}).status_code == 201


def test_chunked_gif_upload_with_processing_and_status(fake: FakeX) -> None:
    gif = _gif()
    init = requests.post(fake.base_url + "/2/media/upload/initialize", auth=_auth(), timeout=5,
                         json={"media_type": "image/gif", "total_bytes": len(gif),
                               "media_category": "tweet_gif"})
    assert init.status_code == 200
    media_id = init.json()["data"]["id"]
    half = len(gif) // 2
    for index, chunk in enumerate((gif[:half], gif[half:])):
        r = requests.post(f"{fake.base_url}/2/media/upload/{media_id}/append", auth=_auth(),
                          timeout=5, files={"media": ("blob", chunk)},
                          data={"segment_index": str(index)})
        assert r.status_code == 200 and r.json()["data"]["expires_at"] > time.time()
    fin = requests.post(f"{fake.base_url}/2/media/upload/{media_id}/finalize", auth=_auth(),
                        timeout=5)
    assert fin.json()["data"]["processing_info"]["state"] == "pending"
    # Not finished yet: a post may not use it.
    assert _post(fake, {"text": "gif", "media": {"media_ids": [media_id]}}).status_code == 400
    states = []
    for _ in range(2):
        s = requests.get(fake.base_url + "/2/media/upload", auth=_auth(), timeout=5,
                         params={"command": "STATUS", "media_id": media_id})
        states.append(s.json()["data"]["processing_info"]["state"])
    assert states == ["in_progress", "succeeded"]
    assert fake.media[media_id]["bytes"] == gif
    assert _post(fake, {"text": "gif", "media": {"media_ids": [media_id]}}).status_code == 201
    # Billed: the upload once (its INIT; appends, finalize and STATUS polls are free), the
    # post, and the refused post before it not at all.
    assert fake.billable_calls() == {"post": 1, "post_url": 0, "media": 1, "delete": 0,
                                     "read": 0}


def test_billable_calls_by_kind(fake: FakeX) -> None:
    """What X bills under pay-per-use (contracts B5): 2xx answers only, a post with a URL (as
    twitter-text finds one) apart from a plain post."""
    assert _post(fake, {"text": "plain words"}).status_code == 201
    assert _post(fake, {"text": "read https://newsdao.kr/a.html"}).status_code == 201
    assert _post(fake, {"text": "bare newsdao.kr too"}).status_code == 201
    assert _post(fake, {"text": "plain words"}).status_code == 403  # duplicate: not billed
    assert _post(fake, {"text": "x" * 300}).status_code == 400  # too long: not billed
    up = _upload(fake, _png())
    media_id = up.json()["data"]["id"]
    meta = requests.post(fake.base_url + "/2/media/metadata", auth=_auth(), timeout=5,
                         json={"id": media_id, "metadata": {"alt_text": {"text": "alt"}}})
    assert meta.status_code == 200
    me = requests.get(fake.base_url + "/2/users/me", auth=_auth(), timeout=5)
    assert me.status_code == 200
    post_id = fake.posts[0].id
    assert requests.delete(f"{fake.base_url}/2/tweets/{post_id}", auth=_auth(),
                           timeout=5).status_code == 200
    assert requests.delete(f"{fake.base_url}/2/tweets/{post_id}", auth=_auth(),
                           timeout=5).status_code == 404  # gone: not billed
    assert requests.get(fake.base_url + "/2/users/me", timeout=5).status_code == 401
    assert fake.billable_calls() == {"post": 1, "post_url": 2, "media": 2, "delete": 1,
                                     "read": 1}
    fake.reset()
    assert sum(fake.billable_calls().values()) == 0


# ---------------------------------------------------------------- controls, journal, CLI
def test_fail_drop_delay_controls(fake: FakeX) -> None:
    fake.fail_next("/2/tweets", status=503, count=2)
    assert _post(fake, {"text": "a"}).status_code == 503
    assert _post(fake, {"text": "a"}).status_code == 503
    fake.fail_next("/2/tweets", status=429)
    r = _post(fake, {"text": "a"})
    assert r.status_code == 429 and int(r.headers["x-rate-limit-reset"]) > time.time()
    assert fake.count_429 == 1
    fake.drop_next("/2/tweets")
    with pytest.raises(requests.ConnectionError):
        _post(fake, {"text": "a"})
    fake.delay_next("/2/tweets", 0.6)
    with pytest.raises(requests.Timeout):
        requests.post(fake.base_url + "/2/tweets", json={"text": "a"}, auth=_auth(),
                      timeout=0.2)
    assert _post(fake, {"text": "b"}).status_code == 201
    statuses = [c.status for c in fake.calls("/2/tweets")]
    assert statuses[:4] == [503, 503, 429, None]


def test_journal_repr_redacts_authorization(fake: FakeX) -> None:
    _post(fake, {"text": "journal"})
    entry = fake.calls("/2/tweets")[0]
    assert entry.headers["Authorization"].startswith("OAuth ")
    assert "oauth_signature" not in repr(entry) and "<redacted>" in repr(entry)
    assert entry.json == {"text": "journal"} and entry.status == 201


def test_concurrent_posts_are_consistent(fake: FakeX) -> None:
    results: list[int] = []

    def worker(n: int) -> None:
        for i in range(5):
            results.append(_post(fake, {"text": f"t{n}-{i}"}).status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 30
    assert len({p.id for p in fake.posts}) == 30
    r = _post(fake, {"text": "last"})
    assert r.headers["x-rate-limit-remaining"] == str(100 - 31)


def test_cli_prints_base_url_and_serves() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "fakes.x", "--port", "0",
                             "--time-scale", "0.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        r = requests.post(base_url + "/2/tweets", json={"text": "cli"}, auth=_auth(), timeout=5)
        assert r.status_code == 201
        # 15-minute window scaled by 0.5 -> reset about 450 s ahead.
        assert int(r.headers["x-rate-limit-reset"]) - time.time() < 460
    finally:
        proc.terminate()
        proc.wait(timeout=5)
