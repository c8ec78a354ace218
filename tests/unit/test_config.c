/* Config parsing: defaults, types, bounds, unknown keys, the line named. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

struct tconf {
	char *name;
	long long port;
	bool flag;
	int mode;
};

static const char *const modes[] = { "fast", "safe", NULL };

static const struct cfg_opt topts[] = {
	{ "main", "name", CFG_STR, "enclavr", 1, 8, NULL, true, offsetof(struct tconf, name), "" },
	{ "main", "port", CFG_INT, "8080", 1, 65535, NULL, false, offsetof(struct tconf, port), "" },
	{ "main", "flag", CFG_BOOL, "no", 0, 0, NULL, true, offsetof(struct tconf, flag), "" },
	{ "other", "mode", CFG_ENUM, "safe", 0, 0, modes, true, offsetof(struct tconf, mode), "" },
	CFG_END
};

static char tmp_path[64];

static const char *
write_tmp(const char *text)
{
	strcpy(tmp_path, "/tmp/enclavr-cfg-XXXXXX");
	int fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return tmp_path;
}

static int
load(const char *text, struct tconf *c, struct cfg_error *err)
{
	memset(c, 0, sizeof(*c));
	int rv = cfg_load(topts, c, write_tmp(text), err);
	unlink(tmp_path);
	return rv;
}

static void
test_defaults_apply(void **state)
{
	struct tconf c;
	struct cfg_error err;
	(void)state;
	assert_int_equal(load("# nothing\n", &c, &err), 0);
	assert_string_equal(c.name, "enclavr");
	assert_int_equal(c.port, 8080);
	assert_false(c.flag);
	assert_int_equal(c.mode, 1);
	cfg_free(topts, &c);
}

static void
test_values_parsed(void **state)
{
	struct tconf c;
	struct cfg_error err;
	(void)state;
	assert_int_equal(load("[main]\nname = abc\nport = 1\nflag = yes\n[other]\nmode = fast\n",
	    &c, &err), 0);
	assert_string_equal(c.name, "abc");
	assert_int_equal(c.port, 1);
	assert_true(c.flag);
	assert_int_equal(c.mode, 0);
	cfg_free(topts, &c);
}

static void
expect_error(const char *text, int line, const char *needle)
{
	struct tconf c;
	struct cfg_error err;
	assert_int_equal(load(text, &c, &err), -1);
	assert_int_equal(err.line, line);
	assert_non_null(strstr(err.msg, needle));
	cfg_free(topts, &c);
}

static void
test_out_of_bounds_names_line(void **state)
{
	(void)state;
	expect_error("[main]\nname = x\nport = 99999\n", 3, "outside");
	expect_error("[main]\nport = 0\n", 2, "outside");
}

static void
test_bad_types_name_line(void **state)
{
	(void)state;
	expect_error("[main]\nport = 80x\n", 2, "not an integer");
	expect_error("[main]\nflag = maybe\n", 2, "yes/no");
	expect_error("[other]\nmode = turbo\n", 2, "allowed values");
	expect_error("[main]\nname = waytoolongname\n", 2, "longer than");
}

static void
test_unknown_key_and_section(void **state)
{
	(void)state;
	expect_error("[main]\nnope = 1\n", 2, "unknown option");
	expect_error("[main]\nport = 1\n[nowhere]\nport = 2\n", 4, "unknown option");
}

static void
test_syntax_error(void **state)
{
	(void)state;
	expect_error("[main]\nport = 1\nthis line has no equals sign\n", 3, "syntax");
}

static void
test_first_error_wins(void **state)
{
	(void)state;
	/* a syntax error before a bad value is the one reported */
	expect_error("[main]\nnot ini\nport = 99999\n", 2, "syntax");
	expect_error("[main\nport = 1\n", 1, "syntax");
	/* a bad value before a syntax error is the one reported */
	expect_error("[main]\nport = 99999\nnot ini\n", 2, "outside");
	expect_error("[main]\nname =\n", 2, "empty");
}

static void
test_lines_inih_would_misread(void **state)
{
	char text[600];
	(void)state;
	/* a line longer than inih's buffer would be split and half-read */
	snprintf(text, sizeof(text), "[main]\nname = x\n# %0400d\nport = 1\n", 0);
	expect_error(text, 3, "too long");
	/* an indented line would replace the value above it */
	expect_error("[main]\nname = ab\n  cd\n", 3, "indented");
	/* indented comments and blank lines are fine */
	struct tconf c;
	struct cfg_error err;
	assert_int_equal(load("[main]\n  # note\n\t\n \nport = 2\n", &c, &err), 0);
	assert_int_equal(c.port, 2);
	cfg_free(topts, &c);
}

static void
test_missing_file(void **state)
{
	struct tconf c = { 0 };
	struct cfg_error err;
	(void)state;
	assert_int_equal(cfg_load(topts, &c, "/nonexistent/enclavr.conf", &err), -1);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "cannot read"));
	cfg_free(topts, &c);
}

static void
test_reload_applies_only_reloadable(void **state)
{
	struct tconf cur, next;
	struct cfg_error err;
	(void)state;
	assert_int_equal(load("[main]\nport = 10\n", &cur, &err), 0);
	assert_int_equal(load("[main]\nname = new\nport = 20\nflag = on\n", &next, &err), 0);
	assert_int_equal(cfg_apply_reloadable(topts, &cur, &next), 2);
	assert_string_equal(cur.name, "new");
	assert_true(cur.flag);
	assert_int_equal(cur.port, 10);	/* needs a restart */
	cfg_free(topts, &cur);
	cfg_free(topts, &next);
}

static void
test_dump_round_trips(void **state)
{
	struct tconf c, again;
	struct cfg_error err;
	char *text = NULL;
	size_t len = 0;
	(void)state;
	assert_int_equal(load("[main]\nname = ab\nport = 7\n", &c, &err), 0);
	FILE *f = open_memstream(&text, &len);
	cfg_dump(topts, &c, f);
	fclose(f);
	assert_non_null(strstr(text, "[other]\nmode = safe\n"));
	assert_int_equal(load(text, &again, &err), 0);
	assert_string_equal(again.name, "ab");
	assert_int_equal(again.port, 7);
	free(text);
	cfg_free(topts, &c);
	cfg_free(topts, &again);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_apply),
		cmocka_unit_test(test_values_parsed),
		cmocka_unit_test(test_out_of_bounds_names_line),
		cmocka_unit_test(test_bad_types_name_line),
		cmocka_unit_test(test_unknown_key_and_section),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_lines_inih_would_misread),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_reload_applies_only_reloadable),
		cmocka_unit_test(test_dump_round_trips),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
