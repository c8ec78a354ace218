"""Categories (§1.5, the first four routes): the list for every user, and
creation, update and deletion by global admins only."""

import uuid

import pytest

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import assert_error, get, pg_rows, post, put, request
from chatlib import get_room, new_room, token_user, uniq_name
from stacklib import RFC3339_RE, UUID4_RE

CATEGORY_KEYS = {"id", "name", "description", "icon", "color", "sort_order", "is_private",
                 "created_by", "created_at", "updated_at", "room_count"}


@pytest.fixture(scope="module")
def admin(stack):
    return token_user(stack, admin=True)


def create(stack, token, body):
    return post(stack, "/api/category/create", body, token=token)


def new_category(stack, admin, **fields):
    body = {"name": uniq_name("cat")}
    body.update(fields)
    r = create(stack, admin.token, body)
    assert r.status_code == 200, r.text
    return assert_category(r.json())


def assert_category(c):
    assert set(c) == CATEGORY_KEYS, sorted(c)
    assert UUID4_RE.match(c["id"]) and UUID4_RE.match(c["created_by"])
    assert RFC3339_RE.match(c["created_at"]) and RFC3339_RE.match(c["updated_at"])
    assert isinstance(c["sort_order"], int) and isinstance(c["room_count"], int)
    assert isinstance(c["is_private"], bool)
    return c


def listed(stack, token):
    r = get(stack, "/api/categories", token=token)
    assert r.status_code == 200, r.text
    return [assert_category(c) for c in r.json()]


def test_create(stack, admin):
    c = new_category(stack, admin, description="desc", icon="icon", color="#ff0000",
                     sort_order=-3, is_private=True)
    assert c["description"] == "desc" and c["icon"] == "icon" and c["color"] == "#ff0000"
    assert c["sort_order"] == -3 and c["is_private"] is True
    assert c["created_by"] == admin.id and c["room_count"] == 0
    d = new_category(stack, admin)
    assert (d["description"], d["icon"], d["color"], d["sort_order"], d["is_private"]) == \
        ("", "", "", 0, False)


def test_create_duplicate_409(stack, admin):
    c = new_category(stack, admin)
    assert_error(create(stack, admin.token, {"name": c["name"]}), 409, "conflict",
                 "Category name already exists")


@pytest.mark.parametrize("body,message", [
    ({}, "name is required"), ({"name": ""}, "name must not be empty"),
    ({"name": 1}, "name must be a string"), ({"name": "x" * 101}, "name is too long"),
    ({"name": "a\tb"}, "name must not contain control characters"),
    ({"name": "ok", "description": "d" * 501}, "description is too long"),
    ({"name": "ok", "icon": "i" * 101}, "icon is too long"),
    ({"name": "ok", "color": "c" * 21}, "color is too long"),
    ({"name": "ok", "sort_order": "1"}, None), ({"name": "ok", "sort_order": 0.5}, None),
    ({"name": "ok", "sort_order": 1e300}, None),
    ({"name": "ok", "is_private": 1}, "is_private must be true or false"),
])
def test_create_bad_400(stack, admin, body, message):
    body = dict(body)
    if body.get("name") == "ok":
        body["name"] = uniq_name("cat")
    assert_error(create(stack, admin.token, body), 400, "invalid_request", message)
    if body.get("name") and isinstance(body["name"], str):
        assert pg_rows(stack, "SELECT 1 FROM chat.categories WHERE name = %s",
                       (body["name"],)) == []


def test_list_order_and_room_count(stack, admin):
    tag = uuid.uuid4().hex[:8]
    b = new_category(stack, admin, name=f"{tag}-b", sort_order=1)
    a = new_category(stack, admin, name=f"{tag}-a", sort_order=1)
    z = new_category(stack, admin, name=f"{tag}-z", sort_order=-1)
    owner = token_user(stack)
    for _ in range(2):
        new_room(stack, owner.token, category_id=a["id"])
    new_room(stack, owner.token, category_id=z["id"], is_private=True)
    got = [c for c in listed(stack, token_user(stack).token) if c["name"].startswith(tag)]
    assert [c["name"] for c in got] == [z["name"], a["name"], b["name"]]
    assert [c["room_count"] for c in got] == [1, 2, 0]
    everything = listed(stack, owner.token)
    keys = [(c["sort_order"], c["name"]) for c in everything]
    assert keys == sorted(keys)


def test_update(stack, admin):
    c = new_category(stack, admin, description="keep", icon="i", sort_order=5)
    new_name = uniq_name("cat")
    r = put(stack, "/api/category/update", {"id": c["id"], "name": new_name, "sort_order": 0},
            token=admin.token)
    assert r.status_code == 200, r.text
    u = assert_category(r.json())
    assert u["name"] == new_name and u["sort_order"] == 0          # 0 is settable
    assert u["description"] == "keep" and u["icon"] == "i"          # absent: unchanged
    r = request(stack, "POST", "/api/category/update", {"id": c["id"], "icon": ""},
                token=admin.token)
    assert r.status_code == 200 and r.json()["icon"] == "" and r.json()["name"] == new_name


def test_update_errors(stack, admin):
    c, d = new_category(stack, admin), new_category(stack, admin)
    assert_error(put(stack, "/api/category/update", {"id": c["id"], "name": d["name"]},
                     token=admin.token), 409, "conflict", "Category name already exists")
    assert_error(put(stack, "/api/category/update", {"id": str(uuid.uuid4()), "name": "x"},
                     token=admin.token), 404, "not_found", "Category not found")
    assert_error(put(stack, "/api/category/update", {"id": "nope"}, token=admin.token),
                 400, "invalid_request", "id must be a UUID")
    assert_error(put(stack, "/api/category/update", {"name": "x"}, token=admin.token),
                 400, "missing_parameter", "id is required")
    assert_error(put(stack, "/api/category/update", {"id": c["id"], "name": ""},
                     token=admin.token), 400, "invalid_request", "name must not be empty")


def test_delete_uncategorises_rooms(stack, admin):
    c = new_category(stack, admin)
    owner = token_user(stack)
    room = new_room(stack, owner.token, category_id=c["id"])
    assert room["category_id"] == c["id"]
    r = request(stack, "DELETE", "/api/category/delete", {"id": c["id"]}, token=admin.token)
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    got = get_room(stack, owner.token, room["id"]).json()
    assert "category_id" not in got
    assert c["id"] not in [x["id"] for x in listed(stack, owner.token)]
    assert_error(request(stack, "DELETE", "/api/category/delete", {"id": c["id"]},
                         token=admin.token), 404, "not_found", "Category not found")


def test_delete_by_query_and_post(stack, admin):
    c, d = new_category(stack, admin), new_category(stack, admin)
    r = request(stack, "DELETE", "/api/category/delete", token=admin.token,
                params={"id": c["id"]})
    assert r.status_code == 200, r.text
    r = request(stack, "POST", "/api/category/delete", {"id": d["id"]}, token=admin.token)
    assert r.status_code == 200, r.text
    assert pg_rows(stack, "SELECT 1 FROM chat.categories WHERE id IN (%s, %s)",
                   (c["id"], d["id"])) == []
    assert_error(request(stack, "DELETE", "/api/category/delete", token=admin.token),
                 400, "missing_parameter", "id is required")


def test_only_global_admins_write(stack, admin):
    c = new_category(stack, admin)
    user = token_user(stack)
    for method, path, body in (("POST", "/api/category/create", {"name": uniq_name()}),
                               ("PUT", "/api/category/update", {"id": c["id"], "name": "x"}),
                               ("POST", "/api/category/update", {"id": c["id"], "name": "x"}),
                               ("DELETE", "/api/category/delete", {"id": c["id"]}),
                               ("POST", "/api/category/delete", {"id": c["id"]})):
        r = request(stack, method, path, body, token=user.token)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        r = request(stack, method, path, body)
        assert r.status_code == 401, (method, path, r.status_code)
    assert get(stack, "/api/categories").status_code == 401
    assert pg_rows(stack, "SELECT name FROM chat.categories WHERE id = %s",
                   (c["id"],)) == [(c["name"],)]


def test_methods_and_limits(stack, admin):
    r = request(stack, "PATCH", "/api/category/update", {}, token=admin.token)
    assert r.status_code == 405 and "PUT" in r.headers.get("Allow", ""), r.headers
    r = create(stack, admin.token, {"name": "x", "description": "d" * 5000})
    assert r.status_code == 413, r.text
