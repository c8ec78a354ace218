/* libFuzzer target: gatewayd's WebSocket frame parser (wsframe.c) on
 * arbitrary client bytes. The first byte picks the message size limit,
 * the second how the rest is cut into reads. The same bytes are parsed
 * twice, at once and in pieces: both must hand out the same events, and
 * every event must keep the parser's promises (sizes, UTF-8, codes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "wsframe.h"

#define FUZZ_CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const size_t fuzz_limits[] = { 0, 1, 16, 125, 126, 1000, 4096, 65536 };

struct fuzz_trace {
	uint64_t hash;
	size_t events;
};

static void
fuzz_mix(struct fuzz_trace *t, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		t->hash = (t->hash ^ b[i]) * 0x100000001b3ULL;
}

/* The promises of one event. */
static void
fuzz_check_event(const struct wsf_parser *p, enum wsf_kind k, const struct wsf_msg *m)
{
	FUZZ_CHECK(p->msg_cap <= p->max);
	switch (k) {
	case WSF_TEXT:
		FUZZ_CHECK(m->data != NULL && m->len <= p->max && utf8_valid(m->data, m->len));
		break;
	case WSF_PING:
	case WSF_PONG:
		FUZZ_CHECK(m->len <= WSF_CONTROL_MAX);
		break;
	case WSF_CLOSE:
		FUZZ_CHECK(m->code == WSF_CLOSE_NO_STATUS || wsf_close_code_valid(m->code));
		FUZZ_CHECK(m->len <= WSF_CONTROL_MAX - 2 && utf8_valid(m->data, m->len));
		break;
	case WSF_FAIL:
		FUZZ_CHECK(m->reason != NULL);
		FUZZ_CHECK(m->code == 1002 || m->code == 1003 || m->code == 1007 ||
		    m->code == 1009 || m->code == 1011);
		break;
	case WSF_MORE:
		FUZZ_CHECK(0);
	}
}

/* Reads what is complete in in, answering as ws.c does, which reads no
 * more after a close or a failure: returns that last event, else
 * WSF_MORE. */
static enum wsf_kind
fuzz_drain(struct wsf_parser *p, struct evbuffer *in, struct evbuffer *out,
    struct fuzz_trace *t)
{
	struct wsf_msg m;
	enum wsf_kind k;

	while ((k = wsf_next(p, in, &m)) != WSF_MORE) {
		fuzz_check_event(p, k, &m);
		fuzz_mix(t, &k, sizeof(k));
		fuzz_mix(t, &m.code, sizeof(m.code));
		fuzz_mix(t, &m.len, sizeof(m.len));
		if (m.len > 0)
			fuzz_mix(t, m.data, m.len);
		t->events++;
		if (k == WSF_PING)
			FUZZ_CHECK(wsf_write_control(out, WSF_OP_PONG, m.data, m.len) == 0);
		else if (k == WSF_CLOSE)
			FUZZ_CHECK(wsf_write_close(out, m.code, m.data, m.len) == 0);
		else if (k == WSF_FAIL)
			FUZZ_CHECK(wsf_write_close(out, m.code, m.reason, strlen(m.reason)) == 0);
		if (k == WSF_FAIL || k == WSF_CLOSE)
			return k;
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	return WSF_MORE;
}

/* Parses data in reads whose sizes come from seed (0: one read). */
static struct fuzz_trace
fuzz_parse(const uint8_t *data, size_t size, size_t max, unsigned seed)
{
	struct fuzz_trace t = { 0xcbf29ce484222325ULL, 0 };
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct wsf_parser p;
	struct wsf_msg m;
	size_t off = 0;
	enum wsf_kind last;

	FUZZ_CHECK(in != NULL && out != NULL);
	wsf_parser_init(&p, max);
	while (off < size) {
		size_t n = seed == 0 ? size - off : 1 + (seed = seed * 1103515245u + 12345u) % 9;
		if (n > size - off)
			n = size - off;
		evbuffer_add(in, data + off, n);
		off += n;
		if ((last = fuzz_drain(&p, in, out, &t)) == WSF_FAIL)
			FUZZ_CHECK(wsf_next(&p, in, &m) == WSF_MORE);	/* nothing after */
		if (last != WSF_MORE)
			break;
	}
	wsf_parser_free(&p);
	evbuffer_free(in);
	evbuffer_free(out);
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_trace whole, cut;
	size_t max;

	if (size < 2)
		return 0;
	max = fuzz_limits[data[0] % (sizeof(fuzz_limits) / sizeof(fuzz_limits[0]))];
	whole = fuzz_parse(data + 2, size - 2, max, 0);
	cut = fuzz_parse(data + 2, size - 2, max, 1u + data[1]);
	FUZZ_CHECK(whole.events == cut.events && whole.hash == cut.hash);
	return 0;
}
