/* The checks of client input (libcommon/validate.c): text, JSON members as
 * text, UUID, integer and boolean, and the lower-casing of UUIDs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "validate.h"

static cJSON *
parse(const char *text)
{
	cJSON *o = cJSON_Parse(text);

	assert_non_null(o);
	return o;
}

static void
test_text(void **state)
{
	(void)state;
	assert_null(valid_text("héllo", 1, 5, false));
	assert_string_equal(valid_text("héllo!", 1, 5, false), "is too long");
	assert_string_equal(valid_text("", 1, 5, false), "must not be empty");
	assert_string_equal(valid_text("a\nb", 0, 5, false), "must not contain control characters");
	assert_null(valid_text("a\nb\tc", 0, 5, true));
	/* C1 controls (U+0080-U+009F) are refused, U+00A0 and up are not */
	assert_string_equal(valid_text("a\xc2\x85" "b", 0, 5, true),
	    "must not contain control characters");
	assert_string_equal(valid_text("\xc2\x9f", 0, 5, true),
	    "must not contain control characters");
	assert_null(valid_text("\xc2\xa0\xc3\xa9", 0, 5, true));
	assert_string_equal(valid_text("\xff", 0, 5, true), "must be valid UTF-8");
}

static void
test_member_text_and_uuid(void **state)
{
	cJSON *o = parse("{\"s\":\"abc\",\"n\":1,\"z\":null,"
	    "\"id\":\"0F0E0D0C-0000-4000-8000-00000000000A\",\"bad\":\"nope\"}");
	const char *out;
	(void)state;

	assert_null(valid_member_text(o, "s", true, 1, 10, &out));
	assert_string_equal(out, "abc");
	assert_string_equal(valid_member_text(o, "n", true, 1, 10, &out), "n must be a string");
	assert_null(valid_member_text(o, "z", false, 1, 10, &out));
	assert_null(out);
	assert_string_equal(valid_member_text(o, "z", true, 1, 10, &out), "z is required");
	assert_null(valid_member_uuid(o, "id", true, &out));
	assert_string_equal(valid_member_uuid(o, "bad", true, &out), "bad must be a UUID");
	assert_null(valid_member_uuid(o, "absent", false, &out));
	assert_null(out);
	cJSON_Delete(o);
}

static void
test_member_int(void **state)
{
	cJSON *o = parse("{\"a\":5,\"b\":1.5,\"c\":\"5\",\"d\":-3,\"e\":null,\"f\":1e300}");
	long long n;
	(void)state;

	assert_null(valid_member_int(o, "a", 0, 10, 7, &n));
	assert_int_equal(n, 5);
	assert_null(valid_member_int(o, "absent", 0, 10, 7, &n));
	assert_int_equal(n, 7);
	assert_null(valid_member_int(o, "e", 0, 10, -1, &n));
	assert_int_equal(n, -1);
	assert_string_equal(valid_member_int(o, "b", 0, 10, 7, &n),
	    "b must be an integer from 0 to 10");
	assert_non_null(valid_member_int(o, "c", 0, 10, 7, &n));
	assert_non_null(valid_member_int(o, "d", 0, 10, 7, &n));
	assert_null(valid_member_int(o, "d", -3, 10, 7, &n));
	assert_int_equal(n, -3);
	assert_non_null(valid_member_int(o, "f", 0, 9007199254740991LL, 0, &n));
	cJSON_Delete(o);
}

static void
test_member_bool(void **state)
{
	cJSON *o = parse("{\"t\":true,\"f\":false,\"n\":1,\"z\":null}");
	int b;
	(void)state;

	assert_null(valid_member_bool(o, "t", &b));
	assert_int_equal(b, 1);
	assert_null(valid_member_bool(o, "f", &b));
	assert_int_equal(b, 0);
	assert_null(valid_member_bool(o, "z", &b));
	assert_int_equal(b, -1);
	assert_null(valid_member_bool(o, "absent", &b));
	assert_int_equal(b, -1);
	assert_string_equal(valid_member_bool(o, "n", &b), "n must be true or false");
	cJSON_Delete(o);
}

static void
test_uuid_lower(void **state)
{
	char out[UUID_STRLEN + 1], in[UUID_STRLEN + 1] = "ABCDEF01-2345-4789-ABCD-EF0123456789";
	(void)state;

	valid_uuid_lower(out, in);
	assert_string_equal(out, "abcdef01-2345-4789-abcd-ef0123456789");
	valid_uuid_lower(in, in);
	assert_string_equal(in, out);
	valid_uuid_lower(out, "AB");		/* stops at the end of a short string */
	assert_string_equal(out, "ab");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_member_text_and_uuid),
		cmocka_unit_test(test_member_int),
		cmocka_unit_test(test_member_bool),
		cmocka_unit_test(test_uuid_lower),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
