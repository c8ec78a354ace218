/* gatewayd's router: exact, pattern and subtree paths, precedence, 405
 * with Allow, HEAD via GET, ownership. Includes the file under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "../../gatewayd/router.c"

static int owner_a, owner_b;

static void
add(struct gw_router *r, const char *method, const char *path, void *owner)
{
	struct route_decl d = { method, path, ROUTE_USER, 1024, "default" };
	assert_int_equal(gw_router_add(r, &d, owner), 0);
}

static int
setup(void **state)
{
	static struct gw_router r;
	gw_router_init(&r);
	add(&r, "GET", "/api/rooms", &owner_a);
	add(&r, "POST", "/api/room/create", &owner_a);
	add(&r, "GET", "/api/users/{id}", &owner_b);
	add(&r, "GET", "/api/users/search", &owner_b);
	add(&r, "PUT", "/api/users/{id}/avatar", &owner_b);
	add(&r, "GET", "/api/files/", &owner_b);
	add(&r, "GET", "/api/files/special/", &owner_a);
	*state = &r;
	return 0;
}

static int
teardown(void **state)
{
	gw_router_free(*state);
	return 0;
}

static const struct gw_route *
found(struct gw_router *r, const char *method, const char *path)
{
	const struct gw_route *rt = NULL;
	assert_int_equal(gw_router_match(r, method, path, &rt, NULL, 0), GW_MATCH_FOUND);
	return rt;
}

static void
test_exact(void **state)
{
	const struct gw_route *rt = found(*state, "GET", "/api/rooms");
	assert_string_equal(rt->path, "/api/rooms");
	assert_ptr_equal(rt->owner, &owner_a);
	assert_int_equal(rt->body_limit, 1024);
}

static void
test_exact_beats_pattern(void **state)
{
	assert_string_equal(found(*state, "GET", "/api/users/search")->path, "/api/users/search");
	assert_string_equal(found(*state, "GET", "/api/users/42")->path, "/api/users/{id}");
	assert_string_equal(found(*state, "PUT", "/api/users/42/avatar")->path,
	    "/api/users/{id}/avatar");
}

static void
test_pattern_needs_one_segment(void **state)
{
	const struct gw_route *rt;
	assert_int_equal(gw_router_match(*state, "GET", "/api/users/", &rt, NULL, 0), GW_MATCH_NONE);
	assert_int_equal(gw_router_match(*state, "GET", "/api/users/1/2", &rt, NULL, 0), GW_MATCH_NONE);
	assert_int_equal(gw_router_match(*state, "GET", "/api/users", &rt, NULL, 0), GW_MATCH_NONE);
}

static void
test_longest_subtree(void **state)
{
	assert_string_equal(found(*state, "GET", "/api/files/a/b.png")->path, "/api/files/");
	assert_string_equal(found(*state, "GET", "/api/files/special/x")->path, "/api/files/special/");
	assert_string_equal(found(*state, "GET", "/api/files")->path, "/api/files/");
}

static void
test_method_mismatch_lists_allow(void **state)
{
	const struct gw_route *rt;
	char allow[64];
	assert_int_equal(gw_router_match(*state, "DELETE", "/api/rooms", &rt, allow, sizeof(allow)),
	    GW_MATCH_METHOD);
	assert_string_equal(allow, "GET, HEAD, OPTIONS");
	assert_int_equal(gw_router_match(*state, "GET", "/api/room/create", &rt, allow, sizeof(allow)),
	    GW_MATCH_METHOD);
	assert_string_equal(allow, "POST, OPTIONS");
}

static void
test_head_uses_get(void **state)
{
	assert_string_equal(found(*state, "HEAD", "/api/rooms")->method, "GET");
}

static void
test_unknown_path(void **state)
{
	const struct gw_route *rt;
	assert_int_equal(gw_router_match(*state, "GET", "/api/nope", &rt, NULL, 0), GW_MATCH_NONE);
	assert_int_equal(gw_router_match(*state, "GET", "/", &rt, NULL, 0), GW_MATCH_NONE);
}

static void
test_ownership(void **state)
{
	struct gw_router *r = *state;
	struct route_decl d = { "GET", "/api/rooms", ROUTE_PUBLIC, 0, NULL };
	assert_int_equal(gw_router_add(r, &d, &owner_b), -1);	/* owned by a */
	assert_int_equal(gw_router_add(r, &d, &owner_a), 0);	/* re-announced */
	gw_router_remove_owner(r, &owner_a);
	const struct gw_route *rt;
	assert_int_equal(gw_router_match(r, "GET", "/api/rooms", &rt, NULL, 0), GW_MATCH_NONE);
	assert_string_equal(found(r, "GET", "/api/users/7")->path, "/api/users/{id}");
	assert_int_equal(gw_router_add(r, &d, &owner_b), 0);	/* free now */
}

static void
test_route_decl_check(void **state)
{
	struct route_decl ok = { "GET", "/api/x", ROUTE_PUBLIC, 0, NULL };
	struct route_decl bad[] = {
		{ "FETCH", "/api/x", ROUTE_PUBLIC, 0, NULL },
		{ "GET", "api/x", ROUTE_PUBLIC, 0, NULL },
		{ "GET", "/api/../x", ROUTE_PUBLIC, 0, NULL },
		{ "GET", "/api//x", ROUTE_PUBLIC, 0, NULL },
		{ "GET", "/api/x?y", ROUTE_PUBLIC, 0, NULL },
		{ "POST", "/api/x", ROUTE_PUBLIC, ROUTE_MAX_BODY + 1, NULL },
		{ "GET", "/api/x", ROUTE_PUBLIC, 0, "Auth Class" },
		{ "GET", "/api/x", ROUTE_PUBLIC, 0, "" },
	};
	(void)state;
	assert_null(route_decl_check(&ok));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(route_decl_check(&bad[i]));
	assert_int_equal(route_auth_parse("admin"), ROUTE_ADMIN);
	assert_int_equal(route_auth_parse("root"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_beats_pattern, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pattern_needs_one_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longest_subtree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_method_mismatch_lists_allow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_uses_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ownership, setup, teardown),
		cmocka_unit_test(test_route_decl_check),
	};
	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
