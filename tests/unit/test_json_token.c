/* The JSON error helper, UTF-8 validation, UUIDs, migration file names and
 * access tokens (sign, verify, and every refusal). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "migrate.h"
#include "token.h"
#include "utf8.h"
#include "uuid.h"

static void
test_json_error_body(void **state)
{
	(void)state;
	char *b = json_error_body("not_found", "No \"such\" route");
	assert_string_equal(b, "{\"error\":\"not_found\",\"message\":\"No \\\"such\\\" route\"}");
	free(b);
}

static void
test_json_parse_exact(void **state)
{
	cJSON *j;
	(void)state;
	assert_non_null(j = json_parse_exact("{\"a\":1}\n", 8));
	cJSON_Delete(j);
	assert_null(json_parse_exact("{\"a\":1} x", 9));
	assert_null(json_parse_exact("{\"a\":", 5));
	assert_null(json_parse_exact("", 0));
	assert_null(json_parse_exact("{}{}", 4));
	const char *nul = "{\"s\":\"a\\u0000b\"}", *bs = "{\"s\":\"a\\\\u0000b\"}";
	assert_null(json_parse_exact(nul, strlen(nul)));
	assert_non_null(j = json_parse_exact(bs, strlen(bs)));	/* an escaped backslash */
	cJSON_Delete(j);
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(utf8_valid("héllo €𝄞", strlen("héllo €𝄞")));
	assert_false(utf8_valid("\xff", 1));
	assert_false(utf8_valid("\xc0\xaf", 2));		/* overlong '/' */
	assert_false(utf8_valid("\xed\xa0\x80", 3));		/* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	assert_false(utf8_valid("\xe2\x82", 2));		/* truncated */
}

static void
test_uuid(void **state)
{
	char u[UUID_STRLEN + 1];
	(void)state;
	uuid_v4(u);
	assert_true(uuid_valid(u));
	assert_int_equal(u[14], '4');
	assert_true(strchr("89ab", u[19]) != NULL);
	char s1[UUID_STRLEN + 1], s2[UUID_STRLEN + 1];
	uuid_v4_seq(s1);
	uuid_v4_seq(s2);
	assert_true(uuid_valid(s1) && uuid_valid(s2));
	assert_string_not_equal(s1, s2);
	assert_int_equal(s1[14], '4');
	assert_false(uuid_valid("not-a-uuid"));
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));
	assert_false(uuid_valid("123e4567e89b-12d3-a456-4266141740000"));
}

static void
test_migration_names(void **state)
{
	int v;
	(void)state;
	assert_true(migrate_file_version("001_init.sql", &v));
	assert_int_equal(v, 1);
	assert_true(migrate_file_version("042_add_rooms_2.sql", &v));
	assert_int_equal(v, 42);
	assert_false(migrate_file_version("1_init.sql", &v));
	assert_false(migrate_file_version("001-init.sql", &v));
	assert_false(migrate_file_version("001_Init.sql", &v));
	assert_false(migrate_file_version("001_init.sql~", &v));
}

static unsigned char pk[TOKEN_PK_LEN], sk[TOKEN_SK_LEN];

static struct token_claims
claims(long long iat, long long exp)
{
	struct token_claims c = { .adm = true, .iat = iat, .exp = exp };
	uuid_v4(c.sub);
	uuid_v4(c.sid);
	return c;
}

static void
test_token_round_trip(void **state)
{
	struct token_claims c = claims(1000, 2000), out;
	char *t = token_sign(&c, sk);
	(void)state;
	assert_int_equal(token_verify(t, pk, 1500, &out), TOKEN_OK);
	assert_string_equal(out.sub, c.sub);
	assert_string_equal(out.sid, c.sid);
	assert_true(out.adm);
	assert_int_equal(out.exp, 2000);
	assert_int_equal(token_verify(t, pk, 2000, &out), TOKEN_EXPIRED);
	assert_int_equal(token_verify(t, pk, 1000 - TOKEN_LEEWAY_S - 1, &out), TOKEN_NOT_YET_VALID);
	free(t);
}

static void
test_token_tampering(void **state)
{
	struct token_claims c = claims(1000, 2000), out;
	unsigned char pk2[TOKEN_PK_LEN], sk2[TOKEN_SK_LEN];
	char *t = token_sign(&c, sk), *dot;
	(void)state;
	crypto_sign_keypair(pk2, sk2);
	assert_int_equal(token_verify(t, pk2, 1500, &out), TOKEN_BAD_SIGNATURE);
	dot = strrchr(t, '.');
	dot[3] = dot[3] == 'A' ? 'B' : 'A';
	assert_int_equal(token_verify(t, pk, 1500, &out), TOKEN_BAD_SIGNATURE);
	free(t);
}

static void
test_token_alg_none_and_hs256(void **state)
{
	struct token_claims out;
	(void)state;
	/* {"alg":"none","typ":"JWT"} . {"sub":...} . (empty) */
	const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.";
	const char *hs = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2ln";
	assert_int_equal(token_verify(none, pk, 1500, &out), TOKEN_BAD_ALG);
	assert_int_equal(token_verify(hs, pk, 1500, &out), TOKEN_BAD_ALG);
}

static void
test_token_malformed(void **state)
{
	struct token_claims out;
	char big[TOKEN_MAX_LEN + 10];
	(void)state;
	assert_int_equal(token_verify("", pk, 0, &out), TOKEN_MALFORMED);
	assert_int_equal(token_verify("a.b", pk, 0, &out), TOKEN_MALFORMED);
	assert_int_equal(token_verify("a.b.c.d", pk, 0, &out), TOKEN_MALFORMED);
	assert_int_equal(token_verify("!!.b.c", pk, 0, &out), TOKEN_MALFORMED);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(token_verify(big, pk, 0, &out), TOKEN_MALFORMED);
}

static int
keys(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_keypair(pk, sk);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_error_body),
		cmocka_unit_test(test_json_parse_exact),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_migration_names),
		cmocka_unit_test(test_token_round_trip),
		cmocka_unit_test(test_token_tampering),
		cmocka_unit_test(test_token_alg_none_and_hs256),
		cmocka_unit_test(test_token_malformed),
	};
	return cmocka_run_group_tests_name("json_token", tests, keys, NULL);
}
