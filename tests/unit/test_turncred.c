/* TURN REST API credentials against vectors computed independently with
 * Python's hmac module:
 *   base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest())
 * and the refusals of bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "turncred.h"

static const char secret1[] = "north-wind-3f9a1c77e2b54d08";

static void
test_turncred_vector(void **state)
{
	char user[128], cred[TURNCRED_CREDENTIAL_LEN];
	(void)state;
	assert_int_equal(turncred_make((const unsigned char *)secret1, strlen(secret1),
	    1700000000, "0b5e7c7e-2f0a-4c3e-9d5e-8f3a2b1c4d5e", user, sizeof(user), cred), 0);
	assert_string_equal(user, "1700000000:0b5e7c7e-2f0a-4c3e-9d5e-8f3a2b1c4d5e");
	assert_string_equal(cred, "XTXHu1LDHkSQdgTR/GHEUroOsFA=");
}

/* A secret longer than SHA-1's 64-byte block is hashed first (RFC 2104);
 * coturn and Python do the same. */
static void
test_turncred_long_secret(void **state)
{
	unsigned char secret[100];
	char user[32], cred[TURNCRED_CREDENTIAL_LEN];
	(void)state;
	memset(secret, 'x', sizeof(secret));
	assert_int_equal(turncred_make(secret, sizeof(secret), 4102444800LL, "u", user,
	    sizeof(user), cred), 0);
	assert_string_equal(user, "4102444800:u");
	assert_string_equal(cred, "HcD0Q+i4q7ZElY8QJBsco/RA7fA=");
}

static void
test_turncred_changes_with_inputs(void **state)
{
	char u1[128], u2[128], c1[TURNCRED_CREDENTIAL_LEN], c2[TURNCRED_CREDENTIAL_LEN];
	const unsigned char *s = (const unsigned char *)secret1;
	(void)state;
	assert_int_equal(turncred_make(s, strlen(secret1), 1700000000, "a", u1, sizeof(u1), c1), 0);
	assert_int_equal(turncred_make(s, strlen(secret1), 1700000001, "a", u2, sizeof(u2), c2), 0);
	assert_string_not_equal(c1, c2);
	assert_int_equal(turncred_make(s, strlen(secret1) - 1, 1700000000, "a", u2, sizeof(u2), c2), 0);
	assert_string_equal(u1, u2);
	assert_string_not_equal(c1, c2);
	assert_int_equal(strlen(c1), TURNCRED_CREDENTIAL_LEN - 1);
}

static void
test_turncred_refusals(void **state)
{
	char user[16], cred[TURNCRED_CREDENTIAL_LEN];
	const unsigned char *s = (const unsigned char *)secret1;
	(void)state;
	/* "1700000000:" plus five bytes and the NUL need 17 bytes */
	assert_int_equal(turncred_make(s, 4, 1700000000, "abcde", user, sizeof(user), cred), -1);
	assert_string_equal(user, "");
	assert_string_equal(cred, "");
	assert_int_equal(turncred_make(s, 4, 1700000000, "abcd", user, sizeof(user), cred), 0);
	assert_string_equal(user, "1700000000:abcd");
	assert_int_equal(turncred_make(s, 4, 1700000000, "", user, sizeof(user), cred), -1);
	assert_int_equal(turncred_make(s, 4, 1700000000, NULL, user, sizeof(user), cred), -1);
	assert_int_equal(turncred_make(s, 4, -1, "a", user, sizeof(user), cred), -1);
	assert_string_equal(user, "");
	assert_string_equal(cred, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_turncred_vector),
		cmocka_unit_test(test_turncred_long_secret),
		cmocka_unit_test(test_turncred_changes_with_inputs),
		cmocka_unit_test(test_turncred_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
