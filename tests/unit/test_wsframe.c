/* gatewayd's RFC 6455 framing (wsframe.c): client frames parsed whole and
 * cut anywhere (down to one byte at a time), masking, 7/16/64-bit lengths,
 * fragmentation with control frames in between, every protocol error and
 * its close code, the size limit (1009 before buffering past it), UTF-8
 * (1007), and the server frames' writer. Includes the file under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../gatewayd/wsframe.c"

#define MAX_EVENTS 16

/* A client byte stream under construction. */
struct stream {
	unsigned char *b;
	size_t len, cap;
};

/* What the parser handed out, copied. */
struct event {
	enum wsf_kind kind;
	char *data;
	size_t len;
	unsigned code;
	const char *reason;
};

struct run {
	struct event ev[MAX_EVENTS];
	int n;
	size_t peak_cap;	/* the largest message buffer seen */
};

static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };

static void
put(struct stream *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->b = realloc(s->b, s->cap);
		assert_non_null(s->b);
	}
	memcpy(s->b + s->len, p, n);
	s->len += n;
}

/* A frame as a client sends it: b0 is FIN|RSV|opcode; masked unless
 * mask is NULL. */
static void
frame_raw(struct stream *s, unsigned b0, const void *payload, size_t len, const uint8_t *mask)
{
	unsigned char h[14], *p = malloc(len + 1);
	size_t n = 2;

	assert_non_null(p);
	h[0] = (unsigned char)b0;
	h[1] = mask != NULL ? 0x80 : 0;
	if (len < 126) {
		h[1] |= (unsigned char)len;
	} else if (len < 65536) {
		h[1] |= 126;
		h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
		n = 4;
	} else {
		h[1] |= 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		memcpy(h + n, mask, 4);
		n += 4;
	}
	put(s, h, n);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(((const unsigned char *)payload)[i] ^ (mask ? mask[i & 3] : 0));
	put(s, p, len);
	free(p);
}

static void
frame(struct stream *s, bool fin, unsigned op, const char *payload, size_t len)
{
	frame_raw(s, (fin ? 0x80u : 0) | op, payload, len, MASK);
}

static void
text(struct stream *s, const char *t)
{
	frame(s, true, WSF_OP_TEXT, t, strlen(t));
}

static void
record(struct run *r, struct wsf_parser *p, enum wsf_kind k, const struct wsf_msg *m)
{
	struct event *e;

	assert_true(r->n < MAX_EVENTS);
	e = &r->ev[r->n++];
	e->kind = k;
	e->len = m->len;
	e->data = malloc(m->len + 1);
	assert_non_null(e->data);
	if (m->len > 0)
		memcpy(e->data, m->data, m->len);
	e->data[m->len] = '\0';
	e->code = m->code;
	e->reason = m->reason;
	if (p->msg_cap > r->peak_cap)
		r->peak_cap = p->msg_cap;
}

/* Reads everything in `in` that is complete. */
static void
drain_events(struct run *r, struct wsf_parser *p, struct evbuffer *in)
{
	struct wsf_msg m;
	enum wsf_kind k;

	while ((k = wsf_next(p, in, &m)) != WSF_MORE) {
		record(r, p, k, &m);
		if (k == WSF_FAIL)
			break;
	}
	if (p->msg_cap > r->peak_cap)
		r->peak_cap = p->msg_cap;
}

/* Feeds s in pieces of `step` bytes (0: all at once). */
static void
parse(struct run *r, const struct stream *s, size_t max, size_t step)
{
	struct wsf_parser p;
	struct evbuffer *in = evbuffer_new();

	assert_non_null(in);
	memset(r, 0, sizeof(*r));
	wsf_parser_init(&p, max);
	for (size_t off = 0; off < s->len;) {
		size_t n = step == 0 || s->len - off < step ? s->len - off : step;
		evbuffer_add(in, s->b + off, n);
		off += n;
		drain_events(r, &p, in);
	}
	wsf_parser_free(&p);
	assert_null(p.msg);
	evbuffer_free(in);
}

static void
run_free(struct run *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->ev[i].data);
}

static void
assert_event(const struct run *r, int i, enum wsf_kind k, const char *data)
{
	assert_true(i < r->n);
	assert_int_equal(r->ev[i].kind, k);
	if (data != NULL) {
		assert_int_equal(r->ev[i].len, strlen(data));
		assert_memory_equal(r->ev[i].data, data, strlen(data));
	}
}

/* The same events whatever the cut: all at once, byte by byte, odd sizes. */
static void
parse_every_way(struct run *r, const struct stream *s, size_t max)
{
	static const size_t steps[] = { 1, 2, 3, 5, 7, 13, 64, 1000 };
	struct run other;

	parse(r, s, max, 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		parse(&other, s, max, steps[i]);
		assert_int_equal(other.n, r->n);
		for (int j = 0; j < r->n; j++) {
			assert_int_equal(other.ev[j].kind, r->ev[j].kind);
			assert_int_equal(other.ev[j].len, r->ev[j].len);
			assert_memory_equal(other.ev[j].data, r->ev[j].data, r->ev[j].len);
			assert_int_equal(other.ev[j].code, r->ev[j].code);
		}
		run_free(&other);
	}
}

/* The close code that ends stream s, read every way. */
static unsigned
fail_code(const struct stream *s, size_t max)
{
	struct run r;
	unsigned code;

	parse_every_way(&r, s, max);
	assert_true(r.n >= 1);
	assert_int_equal(r.ev[r.n - 1].kind, WSF_FAIL);
	assert_non_null(r.ev[r.n - 1].reason);
	code = r.ev[r.n - 1].code;
	run_free(&r);
	return code;
}

/* ------------------------------------------------------------ tests */

static void
test_one_text_frame(void **state)
{
	struct stream s = { 0 };
	struct run r;
	(void)state;

	text(&s, "{\"type\":\"ping\"}");
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 1);
	assert_event(&r, 0, WSF_TEXT, "{\"type\":\"ping\"}");
	run_free(&r);
	free(s.b);
}

static void
test_several_messages_in_one_read(void **state)
{
	struct stream s = { 0 };
	struct run r;
	(void)state;

	text(&s, "one");
	text(&s, "");
	text(&s, "three");
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 3);
	assert_event(&r, 0, WSF_TEXT, "one");
	assert_event(&r, 1, WSF_TEXT, "");
	assert_event(&r, 2, WSF_TEXT, "three");
	run_free(&r);
	free(s.b);
}

static void
test_fragmented_text(void **state)
{
	struct stream s = { 0 };
	struct run r;
	(void)state;

	frame(&s, false, WSF_OP_TEXT, "Hel", 3);
	frame(&s, false, WSF_OP_CONT, "", 0);
	frame(&s, false, WSF_OP_CONT, "lo, w", 5);
	frame(&s, true, WSF_OP_CONT, "orld", 4);
	text(&s, "next");
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 2);
	assert_event(&r, 0, WSF_TEXT, "Hello, world");
	assert_event(&r, 1, WSF_TEXT, "next");
	run_free(&r);
	free(s.b);
}

/* A character cut between two fragments is still one valid character. */
static void
test_utf8_across_fragments(void **state)
{
	struct stream s = { 0 };
	struct run r;
	(void)state;

	frame(&s, false, WSF_OP_TEXT, "caf\xc3", 4);
	frame(&s, true, WSF_OP_CONT, "\xa9!", 2);
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 1);
	assert_event(&r, 0, WSF_TEXT, "caf\xc3\xa9!");
	run_free(&r);
	free(s.b);
}

static void
test_control_frames_between_fragments(void **state)
{
	struct stream s = { 0 };
	struct run r;
	(void)state;

	frame(&s, false, WSF_OP_TEXT, "ab", 2);
	frame(&s, true, WSF_OP_PING, "are you there", 13);
	frame(&s, false, WSF_OP_CONT, "cd", 2);
	frame(&s, true, WSF_OP_PONG, "", 0);
	frame(&s, true, WSF_OP_CONT, "ef", 2);
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 3);
	assert_event(&r, 0, WSF_PING, "are you there");
	assert_event(&r, 1, WSF_PONG, "");
	assert_event(&r, 2, WSF_TEXT, "abcdef");
	run_free(&r);
	free(s.b);
}

/* Every mask byte at every offset: payloads longer than the mask, cut
 * anywhere, come out as sent. */
static void
test_masking(void **state)
{
	struct stream s = { 0 };
	struct run r;
	char payload[37];
	(void)state;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)('a' + i % 26);
	frame_raw(&s, 0x80 | WSF_OP_PING, payload, sizeof(payload), (const uint8_t[]){ 1, 2, 3, 4 });
	frame_raw(&s, 0x00 | WSF_OP_TEXT, payload, 5, (const uint8_t[]){ 0xff, 0, 0xff, 0 });
	frame_raw(&s, 0x80 | WSF_OP_CONT, payload + 5, 32, (const uint8_t[]){ 9, 8, 7, 6 });
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].kind, WSF_PING);
	assert_memory_equal(r.ev[0].data, payload, sizeof(payload));
	assert_int_equal(r.ev[1].kind, WSF_TEXT);
	assert_memory_equal(r.ev[1].data, payload, sizeof(payload));
	run_free(&r);
	free(s.b);
}

static void
test_16_and_64_bit_lengths(void **state)
{
	size_t sizes[] = { 125, 126, 300, 65535, 65536, 70000 };
	(void)state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct stream s = { 0 };
		struct run r;
		char *p = malloc(sizes[i]);

		assert_non_null(p);
		memset(p, 'x', sizes[i]);
		frame(&s, true, WSF_OP_TEXT, p, sizes[i]);
		text(&s, "after");
		parse(&r, &s, 100000, 0);
		assert_int_equal(r.n, 2);
		assert_int_equal(r.ev[0].len, sizes[i]);
		assert_memory_equal(r.ev[0].data, p, sizes[i]);
		assert_event(&r, 1, WSF_TEXT, "after");
		run_free(&r);
		parse(&r, &s, 100000, 4093);	/* cut: gathered, not in place */
		assert_int_equal(r.n, 2);
		assert_memory_equal(r.ev[0].data, p, sizes[i]);
		run_free(&r);
		free(p);
		free(s.b);
	}
}

static void
test_close_frames(void **state)
{
	struct stream s = { 0 };
	struct run r;
	(void)state;

	frame(&s, true, WSF_OP_CLOSE, "", 0);
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 1);
	assert_event(&r, 0, WSF_CLOSE, "");
	assert_int_equal(r.ev[0].code, WSF_CLOSE_NO_STATUS);
	run_free(&r);
	free(s.b);

	memset(&s, 0, sizeof(s));
	frame(&s, true, WSF_OP_CLOSE, "\x03\xe8" "bye \xc3\xa9", 8);
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 1);
	assert_event(&r, 0, WSF_CLOSE, "bye \xc3\xa9");
	assert_int_equal(r.ev[0].code, 1000);
	run_free(&r);
	free(s.b);

	memset(&s, 0, sizeof(s));
	frame(&s, true, WSF_OP_CLOSE, "\x0f\xa1", 2);	/* 4001: an application's */
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.ev[0].code, 4001);
	run_free(&r);
	free(s.b);
}

static void
test_protocol_errors_close_1002(void **state)
{
	static const char *bad_codes[] = { "\x03\xe7", "\x03\xec", "\x03\xed", "\x03\xee",
		"\x03\xf7", "\x07\xd0", "\x0b\xb7", "\x13\x88", "\x00\x00" };
	char big[126];
	(void)state;

	memset(big, 'p', sizeof(big));
#define EXPECT_1002(build) do {						\
		struct stream s = { 0 };				\
		build;							\
		assert_int_equal(fail_code(&s, 1024), 1002);		\
		free(s.b);						\
	} while (0)
	EXPECT_1002(frame_raw(&s, 0x81, "hi", 2, NULL));		/* unmasked */
	EXPECT_1002(frame_raw(&s, 0x80 | WSF_OP_CLOSE, "", 0, NULL));
	EXPECT_1002(frame_raw(&s, 0xc1, "hi", 2, MASK));		/* RSV1 */
	EXPECT_1002(frame_raw(&s, 0xa1, "hi", 2, MASK));		/* RSV2 */
	EXPECT_1002(frame_raw(&s, 0x91, "hi", 2, MASK));		/* RSV3 */
	EXPECT_1002(frame(&s, true, 0x3, "hi", 2));			/* reserved data opcode */
	EXPECT_1002(frame(&s, true, 0xb, "hi", 2));			/* reserved control opcode */
	EXPECT_1002(frame(&s, false, WSF_OP_PING, "hi", 2));		/* fragmented control */
	EXPECT_1002(frame(&s, true, WSF_OP_PING, big, 126));		/* control over 125 */
	EXPECT_1002(frame(&s, true, WSF_OP_CONT, "hi", 2));		/* nothing to continue */
	EXPECT_1002((frame(&s, false, WSF_OP_TEXT, "a", 1),		/* a new message inside */
	    frame(&s, true, WSF_OP_TEXT, "b", 1)));
	EXPECT_1002(frame(&s, true, WSF_OP_CLOSE, "\x03", 1));		/* a one-byte close */
	for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++)
		EXPECT_1002(frame(&s, true, WSF_OP_CLOSE, bad_codes[i], 2));
	EXPECT_1002(put(&s, "\x81\xff\x80\x00\x00\x00\x00\x00\x00\x00" "abcd", 14));	/* 2^63 */
	EXPECT_1002((text(&s, "fine"), frame_raw(&s, 0x81, "x", 1, NULL)));
#undef EXPECT_1002
}

/* What precedes the error is handed out; after it nothing more is read. */
static void
test_nothing_after_a_failure(void **state)
{
	struct stream s = { 0 };
	struct run r;
	struct wsf_parser p;
	struct wsf_msg m;
	struct evbuffer *in = evbuffer_new();
	(void)state;

	text(&s, "before");
	frame_raw(&s, 0x81, "x", 1, NULL);
	text(&s, "after");
	parse_every_way(&r, &s, 1024);
	assert_int_equal(r.n, 2);
	assert_event(&r, 0, WSF_TEXT, "before");
	assert_int_equal(r.ev[1].kind, WSF_FAIL);
	run_free(&r);

	wsf_parser_init(&p, 1024);
	evbuffer_add(in, s.b, s.len);
	assert_int_equal(wsf_next(&p, in, &m), WSF_TEXT);
	assert_int_equal(wsf_next(&p, in, &m), WSF_FAIL);
	assert_int_equal(wsf_next(&p, in, &m), WSF_MORE);
	assert_int_equal(wsf_next(&p, in, &m), WSF_MORE);
	wsf_parser_free(&p);
	evbuffer_free(in);
	free(s.b);
}

static void
test_binary_closes_1003(void **state)
{
	struct stream s = { 0 };
	struct run r;
	(void)state;

	frame(&s, true, WSF_OP_BINARY, "\x00\x01", 2);
	assert_int_equal(fail_code(&s, 1024), 1003);
	parse(&r, &s, 1024, 0);
	assert_string_equal(r.ev[0].reason, "text frames only");
	run_free(&r);
	free(s.b);
}

static void
test_invalid_utf8_closes_1007(void **state)
{
	static const char *bad[] = { "\xff", "\xc0\xaf", "\xed\xa0\x80", "ok\xe2\x82",
		"\xf4\x90\x80\x80" };
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct stream s = { 0 };
		text(&s, bad[i]);
		assert_int_equal(fail_code(&s, 1024), 1007);
		free(s.b);
	}
	{	/* fragmented: the whole message is checked */
		struct stream s = { 0 };
		frame(&s, false, WSF_OP_TEXT, "ab\xe2", 3);
		frame(&s, true, WSF_OP_CONT, "cd", 2);
		assert_int_equal(fail_code(&s, 1024), 1007);
		free(s.b);
	}
	{	/* a close reason */
		struct stream s = { 0 };
		frame(&s, true, WSF_OP_CLOSE, "\x03\xe8\xff", 3);
		assert_int_equal(fail_code(&s, 1024), 1007);
		free(s.b);
	}
}

/* Up to the limit is taken; one byte more fails with 1009 as soon as the
 * header says so, and no buffer ever grows past the limit. */
static void
test_size_limit_1009(void **state)
{
	char p[200];
	struct run r;
	(void)state;

	memset(p, 'z', sizeof(p));
	{
		struct stream s = { 0 };
		frame(&s, true, WSF_OP_TEXT, p, 100);
		parse_every_way(&r, &s, 100);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ev[0].len, 100);
		assert_true(r.peak_cap <= 100);
		run_free(&r);
		free(s.b);
	}
	{
		struct stream s = { 0 };
		frame(&s, false, WSF_OP_TEXT, p, 60);
		frame(&s, true, WSF_OP_CONT, p, 40);
		parse_every_way(&r, &s, 100);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ev[0].len, 100);
		run_free(&r);
		free(s.b);
	}
	{
		struct stream s = { 0 };
		frame(&s, true, WSF_OP_TEXT, p, 101);
		assert_int_equal(fail_code(&s, 100), 1009);
		free(s.b);
	}
	{	/* the header alone is enough: the payload never comes */
		struct stream s = { 0 };
		struct wsf_parser ps;
		struct wsf_msg m;
		struct evbuffer *in = evbuffer_new();
		frame(&s, true, WSF_OP_TEXT, p, 200);
		wsf_parser_init(&ps, 100);
		evbuffer_add(in, s.b, 4 + 4);	/* 16-bit length, mask */
		assert_int_equal(wsf_next(&ps, in, &m), WSF_FAIL);
		assert_int_equal(m.code, 1009);
		assert_null(ps.msg);
		wsf_parser_free(&ps);
		evbuffer_free(in);
		free(s.b);
	}
	{	/* fragments that add up past it: 1009 at the frame that would */
		struct stream s = { 0 };
		frame(&s, false, WSF_OP_TEXT, p, 60);
		frame(&s, false, WSF_OP_CONT, p, 30);
		frame(&s, true, WSF_OP_CONT, p, 11);
		assert_int_equal(fail_code(&s, 100), 1009);
		parse(&r, &s, 100, 1);
		assert_true(r.peak_cap <= 100);
		run_free(&r);
		free(s.b);
	}
}

/* A gathered message's buffer lives only while the message does. */
static void
test_buffer_freed_after_the_message(void **state)
{
	struct stream s = { 0 };
	struct wsf_parser p;
	struct wsf_msg m;
	struct evbuffer *in = evbuffer_new();
	(void)state;

	frame(&s, false, WSF_OP_TEXT, "abc", 3);
	frame(&s, true, WSF_OP_CONT, "def", 3);
	wsf_parser_init(&p, 1024);
	evbuffer_add(in, s.b, s.len);
	assert_int_equal(wsf_next(&p, in, &m), WSF_TEXT);
	assert_non_null(p.msg);
	assert_int_equal(wsf_next(&p, in, &m), WSF_MORE);
	assert_null(p.msg);
	assert_int_equal(evbuffer_get_length(in), 0);
	wsf_parser_free(&p);
	evbuffer_free(in);
	free(s.b);
}

/* A one-frame message is handed out from the input without a buffer, and
 * its bytes leave the input at the next call. */
static void
test_in_place_message(void **state)
{
	struct stream s = { 0 };
	struct wsf_parser p;
	struct wsf_msg m;
	struct evbuffer *in = evbuffer_new();
	(void)state;

	text(&s, "hello");
	wsf_parser_init(&p, 1024);
	evbuffer_add(in, s.b, s.len);
	assert_int_equal(wsf_next(&p, in, &m), WSF_TEXT);
	assert_null(p.msg);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.data, "hello", 5);
	assert_int_equal(wsf_next(&p, in, &m), WSF_MORE);
	assert_int_equal(evbuffer_get_length(in), 0);
	wsf_parser_free(&p);
	evbuffer_free(in);
	free(s.b);
}

static void
test_server_frames(void **state)
{
	unsigned char h[WSF_HEADER_MAX], b[200];
	struct evbuffer *out = evbuffer_new();
	size_t n;
	(void)state;

	assert_int_equal(wsf_header(h, WSF_OP_TEXT, 0), 2);
	assert_memory_equal(h, "\x81\x00", 2);
	assert_int_equal(wsf_header(h, WSF_OP_TEXT, 125), 2);
	assert_memory_equal(h, "\x81\x7d", 2);
	assert_int_equal(wsf_header(h, WSF_OP_TEXT, 126), 4);
	assert_memory_equal(h, "\x81\x7e\x00\x7e", 4);
	assert_int_equal(wsf_header(h, WSF_OP_TEXT, 65535), 4);
	assert_memory_equal(h, "\x81\x7e\xff\xff", 4);
	assert_int_equal(wsf_header(h, WSF_OP_TEXT, 65536), 10);
	assert_memory_equal(h, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);

	assert_int_equal(wsf_write_control(out, WSF_OP_PONG, "xyz", 3), 0);
	assert_int_equal(wsf_write_control(out, WSF_OP_PING, NULL, 0), 0);
	assert_int_equal(wsf_write_close(out, 1001, "server shutting down", 20), 0);
	assert_int_equal(wsf_write_close(out, WSF_CLOSE_NO_STATUS, NULL, 0), 0);
	assert_int_equal(wsf_write_control(out, WSF_OP_PING, b, 126), -1);
	n = evbuffer_get_length(out);
	assert_int_equal(n, 5 + 2 + 24 + 2);
	evbuffer_remove(out, b, n);
	assert_memory_equal(b, "\x8a\x03xyz\x89\x00\x88\x16\x03\xe9server shutting down\x88\x00", n);

	memset(b, 'r', sizeof(b));	/* a reason too long is cut to fit */
	assert_int_equal(wsf_write_close(out, 1000, (const char *)b, 200), 0);
	assert_int_equal(evbuffer_get_length(out), 2 + 125);
	evbuffer_free(out);

	assert_true(wsf_close_code_valid(1000) && wsf_close_code_valid(1011) &&
	    wsf_close_code_valid(4999) && wsf_close_code_valid(3000));
	assert_false(wsf_close_code_valid(1005) || wsf_close_code_valid(1006) ||
	    wsf_close_code_valid(1004) || wsf_close_code_valid(1015) ||
	    wsf_close_code_valid(2999) || wsf_close_code_valid(5000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_text_frame),
		cmocka_unit_test(test_several_messages_in_one_read),
		cmocka_unit_test(test_fragmented_text),
		cmocka_unit_test(test_utf8_across_fragments),
		cmocka_unit_test(test_control_frames_between_fragments),
		cmocka_unit_test(test_masking),
		cmocka_unit_test(test_16_and_64_bit_lengths),
		cmocka_unit_test(test_close_frames),
		cmocka_unit_test(test_protocol_errors_close_1002),
		cmocka_unit_test(test_nothing_after_a_failure),
		cmocka_unit_test(test_binary_closes_1003),
		cmocka_unit_test(test_invalid_utf8_closes_1007),
		cmocka_unit_test(test_size_limit_1009),
		cmocka_unit_test(test_buffer_freed_after_the_message),
		cmocka_unit_test(test_in_place_message),
		cmocka_unit_test(test_server_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
