"""Users (§2.7): search by part of a name, another user's public profile
(never the email), one's own profile, and its update."""

import uuid

import pytest

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import (PUBLIC_KEYS, assert_401, assert_error, assert_user, get, me, new_user,
                     new_client_ip, post, put, register)
from stacklib import RFC3339_RE

SEARCH_KEYS = {"id", "username", "display_name", "avatar_url"}


def search(stack, token, q, param="username"):
    return get(stack, "/api/users/search", token=token, params={param: q})


def names(resp):
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body, list), body
    for u in body:
        assert set(u) == SEARCH_KEYS, u
    return [u["username"] for u in body]


@pytest.fixture(scope="module")
def tagged(stack):
    """12 users whose names hold one tag, three that differ only in "_",
    "X" and "-" (LIKE's wildcard must not match the latter two), and a
    searcher."""
    tag, ip = uuid.uuid4().hex[:8], new_client_ip()
    made = []
    for i in range(12):
        name = f"s{tag}n{i:02d}"
        r = register(stack, name, source_ip=ip)
        assert r.status_code == 200, r.text
        made.append(name)
    for name in (f"q{tag}a_b", f"q{tag}aXb", f"q{tag}a-b"):
        assert register(stack, name, source_ip=ip).status_code == 200
    return tag, made, new_user(stack, "searcher", source_ip=ip)


def test_search_substring_any_case_max_10(stack, tagged):
    tag, made, me_ = tagged
    got = names(search(stack, me_.access, tag))
    assert len(got) == 10, got
    assert set(got) <= set(made) | {f"q{tag}a_b", f"q{tag}aXb", f"q{tag}a-b"}
    got = names(search(stack, me_.access, f"S{tag.upper()}N0"))
    assert sorted(got) == sorted(made[:10]), got
    assert names(search(stack, me_.access, f"{tag}N11")) == [made[11]]
    assert names(search(stack, me_.access, f"{tag}axb")) == [f"q{tag}aXb"]
    assert names(search(stack, me_.access, f"{tag}n99")) == []


def test_search_wildcards_are_literal(stack, tagged):
    tag, _, me_ = tagged
    assert names(search(stack, me_.access, f"{tag}a_b")) == [f"q{tag}a_b"]
    assert names(search(stack, me_.access, f"{tag}%")) == []
    assert names(search(stack, me_.access, "%")) == []
    assert names(search(stack, me_.access, f"{tag}a\\b")) == []
    got = names(search(stack, me_.access, f"q{tag}a"))
    assert sorted(got) == sorted([f"q{tag}a_b", f"q{tag}aXb", f"q{tag}a-b"])


def test_search_never_shows_email(stack, tagged):
    tag, _, me_ = tagged
    r = search(stack, me_.access, tag)
    assert "@" not in r.text, r.text
    r = search(stack, me_.access, me_.username, param="q")     # the alternative name
    assert names(r) == [me_.username]


@pytest.mark.parametrize("query", ["", "?username=", "?q=", "?other=x",
                                   "?username=" + "a" * 65, "?username=%00",
                                   "?username=a%0Ab"])
def test_search_bad_query_400(stack, tagged, query):
    r = get(stack, f"/api/users/search{query}", token=tagged[2].access)
    assert_error(r, 400, "invalid_request")


def test_search_requires_a_token(stack):
    assert_401(get(stack, "/api/users/search?username=abc"), "unauthorized")


# ------------------------------------------------------------ public profile

def test_public_profile_without_email(stack):
    a, b = new_user(stack, "pub"), new_user(stack, "viewer")
    r = get(stack, f"/api/users/{a.id}", token=b.access)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == PUBLIC_KEYS, body
    assert body == {"id": a.id, "username": a.username, "display_name": a.username,
                    "avatar_url": "", "created_at": a.user["created_at"]}
    assert RFC3339_RE.match(body["created_at"])
    assert a.email not in r.text and "@" not in r.text


def test_public_profile_unknown_404_bad_400(stack):
    u = new_user(stack, "look")
    assert_error(get(stack, f"/api/users/{uuid.uuid4()}", token=u.access), 404, "not_found")
    for bad in ("not-a-uuid", "12345", str(uuid.uuid4())[:-1], str(uuid.uuid4()) + "0"):
        assert_error(get(stack, f"/api/users/{bad}", token=u.access), 400, "invalid_request")
    assert_401(get(stack, f"/api/users/{u.id}"), "unauthorized")


# ------------------------------------------------------------ own profile, update

def test_profile_is_the_own_account(stack):
    u = new_user(stack, "prof")
    r = get(stack, "/api/user/profile", token=u.access)
    assert r.status_code == 200, r.text
    assert_user(r.json(), u.username, u.email)
    assert r.json()["id"] == u.id
    assert_401(get(stack, "/api/user/profile"), "unauthorized")


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_update_display_name_and_avatar(stack, method):
    u = new_user(stack, "upd")
    send = put if method == "PUT" else post
    r = send(stack, "/api/user/update", {"display_name": "Zo\u00eb \u2603", "avatar_url":
                                         "https://cdn.example.test/a.png"}, token=u.access)
    assert r.status_code == 200, r.text
    user = assert_user(r.json(), u.username, u.email)
    assert user["display_name"] == "Zo\u00eb \u2603"
    assert user["avatar_url"] == "https://cdn.example.test/a.png"
    assert me(stack, u.access).json() == user
    assert get(stack, "/api/user/profile", token=u.access).json() == user
    viewer = new_user(stack, "viewer")
    pub = get(stack, f"/api/users/{u.id}", token=viewer.access).json()
    assert (pub["display_name"], pub["avatar_url"]) == (user["display_name"], user["avatar_url"])


def test_update_empty_or_absent_fields_are_unchanged(stack):
    u = new_user(stack, "keep")
    r = put(stack, "/api/user/update", {"display_name": "Kept", "avatar_url": "/avatars/k.png"},
            token=u.access)
    assert r.status_code == 200, r.text
    for body in ({"display_name": "", "avatar_url": ""}, {}, {"display_name": None},
                 {"avatar_url": ""}, {"unknown": "x"}):
        r = put(stack, "/api/user/update", body, token=u.access)
        assert r.status_code == 200, (body, r.text)
        assert (r.json()["display_name"], r.json()["avatar_url"]) == ("Kept", "/avatars/k.png"), body
    r = put(stack, "/api/user/update", {"avatar_url": "http://x.example.test/b.png"}, token=u.access)
    assert (r.json()["display_name"], r.json()["avatar_url"]) == ("Kept", "http://x.example.test/b.png")


@pytest.mark.parametrize("body", [
    {"avatar_url": "javascript:alert(1)"},
    {"avatar_url": "JavaScript:alert(1)"},
    {"avatar_url": " javascript:alert(1)"},
    {"avatar_url": "data:text/html,<script>alert(1)</script>"},
    {"avatar_url": "vbscript:msgbox(1)"},
    {"avatar_url": "//evil.example.test/a.png"},
    {"avatar_url": "ftp://example.test/a.png"},
    {"avatar_url": "https://example.test/" + "a" * 493},          # 513 characters
    {"display_name": "d" * 65},
    {"display_name": "tab\there"},
    {"display_name": 42},
    {"avatar_url": ["https://example.test/a.png"]},
])
def test_update_refuses_bad_values_400(stack, body):
    u = new_user(stack, "bad")
    r = put(stack, "/api/user/update", body, token=u.access)
    assert_error(r, 400, "invalid_request")
    assert me(stack, u.access).json() == u.user, "a refused update changed the account"


def test_update_length_limits_inclusive(stack):
    u = new_user(stack, "limit")
    url = "https://example.test/" + "a" * 491                       # 512 characters
    assert len(url) == 512
    r = put(stack, "/api/user/update", {"display_name": "\u00e9" * 64, "avatar_url": url},
            token=u.access)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "\u00e9" * 64 and r.json()["avatar_url"] == url


def test_update_non_json_400_and_requires_token(stack):
    u = new_user(stack, "nj")
    assert_error(put(stack, "/api/user/update", b"display_name=x", token=u.access), 400, "invalid_json")
    assert_401(put(stack, "/api/user/update", {"display_name": "x"}), "unauthorized")


def test_update_only_touches_the_caller(stack):
    a, b = new_user(stack, "upa"), new_user(stack, "upb")
    assert put(stack, "/api/user/update", {"display_name": "Changed A"}, token=a.access).status_code == 200
    assert me(stack, b.access).json() == b.user
