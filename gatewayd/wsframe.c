/* RFC 6455 framing, the server's side (wsframe.h).
 *
 * The parser reads straight from the connection's input evbuffer and keeps
 * no copy of it between calls: a frame header (at most 14 bytes) and a
 * control frame (at most 139) are left in the input until they are whole.
 * A text message in one frame that is already contiguous in the input is
 * unmasked there and handed out in place; only a message that arrives in
 * pieces is gathered into a buffer of its own, never past the size limit,
 * and that buffer is freed as soon as the message is handed out. */
#include "wsframe.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define WSF_CLIENT_HEADER_MAX 14	/* 2, 8 of length, 4 of mask */

/* A client frame's header, as read. */
struct wsf_head {
	unsigned op;
	bool fin;
	uint64_t len;
	size_t hlen;
	uint8_t mask[4];
};

void
wsf_parser_init(struct wsf_parser *p, size_t max_message)
{
	memset(p, 0, sizeof(*p));
	p->max = max_message;
}

/* Frees the message buffer; the parser stays usable. */
void
wsf_parser_free(struct wsf_parser *p)
{
	free(p->msg);
	p->msg = NULL;
	p->msg_len = p->msg_cap = 0;
	p->msg_out = false;
}

static void
wsf_unmask(unsigned char *d, size_t n, const uint8_t mask[4], unsigned off)
{
	for (size_t i = 0; i < n; i++)
		d[i] ^= mask[(off + i) & 3];
}

static enum wsf_kind
wsf_fail(struct wsf_parser *p, struct wsf_msg *m, uint16_t code, const char *reason)
{
	wsf_parser_free(p);
	p->failed = true;
	p->in_frame = p->in_msg = false;
	m->data = NULL, m->len = 0;
	m->code = code, m->reason = reason;
	return WSF_FAIL;
}

/* Reads the header at the start of in. 1 when whole, 0 when more bytes
 * are needed, -1 with why for a header no client may send. */
static int
wsf_read_header(struct evbuffer *in, struct wsf_head *h, const char **why)
{
	unsigned char b[WSF_CLIENT_HEADER_MAX];
	ev_ssize_t n = evbuffer_copyout(in, b, sizeof(b));
	size_t ext;

	if (n < 2)
		return 0;
	if (b[0] & 0x70) {
		*why = "reserved bits set";
		return -1;
	}
	if (!(b[1] & 0x80)) {
		*why = "client frames must be masked";
		return -1;
	}
	h->fin = (b[0] & 0x80) != 0;
	h->op = b[0] & 0x0f;
	h->len = b[1] & 0x7f;
	ext = h->len == 126 ? 2 : h->len == 127 ? 8 : 0;
	h->hlen = 2 + ext + 4;
	if ((size_t)n < h->hlen)
		return 0;
	if (ext > 0) {
		h->len = 0;
		for (size_t i = 0; i < ext; i++)
			h->len = h->len << 8 | b[2 + i];
	}
	if (h->len >> 63) {
		*why = "frame length out of range";
		return -1;
	}
	memcpy(h->mask, b + 2 + ext, 4);
	return 1;
}

/* Why a frame with this header may not come now, or NULL. */
static const char *
wsf_check(const struct wsf_parser *p, const struct wsf_head *h)
{
	if (h->op & 0x8) {
		if (h->op > WSF_OP_PONG)
			return "unknown opcode";
		if (!h->fin)
			return "fragmented control frame";
		if (h->len > WSF_CONTROL_MAX)
			return "control frame too long";
		return NULL;
	}
	if (h->op > WSF_OP_BINARY)
		return "unknown opcode";
	if (h->op == WSF_OP_CONT && !p->in_msg)
		return "continuation outside a message";
	if (h->op != WSF_OP_CONT && p->in_msg)
		return "new message inside a fragmented one";
	return NULL;
}

bool
wsf_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	    (code >= 3000 && code <= 4999);
}

/* A close frame's payload in m: no code, or a valid code and a UTF-8
 * reason. */
static enum wsf_kind
wsf_close(struct wsf_parser *p, struct wsf_msg *m)
{
	const unsigned char *d = (const unsigned char *)m->data;

	if (m->len == 0) {
		m->code = WSF_CLOSE_NO_STATUS;
		return WSF_CLOSE;
	}
	if (m->len == 1)
		return wsf_fail(p, m, 1002, "close frame of one byte");
	m->code = (uint16_t)(d[0] << 8 | d[1]);
	if (!wsf_close_code_valid(m->code))
		return wsf_fail(p, m, 1002, "invalid close code");
	if (!utf8_valid(m->data + 2, m->len - 2))
		return wsf_fail(p, m, 1007, "close reason is not UTF-8");
	m->data += 2, m->len -= 2;
	return WSF_CLOSE;
}

/* A control frame, once it is all in: unmasked in place, handed out. */
static enum wsf_kind
wsf_control(struct wsf_parser *p, struct evbuffer *in, const struct wsf_head *h,
    struct wsf_msg *m)
{
	size_t total = h->hlen + (size_t)h->len;
	unsigned char *f;

	if (evbuffer_get_length(in) < total)
		return WSF_MORE;
	if ((f = evbuffer_pullup(in, (ev_ssize_t)total)) == NULL)
		return wsf_fail(p, m, 1011, "out of memory");
	wsf_unmask(f + h->hlen, (size_t)h->len, h->mask, 0);
	p->drain = total;
	m->data = (const char *)f + h->hlen, m->len = (size_t)h->len;
	if (h->op == WSF_OP_PING)
		return WSF_PING;
	if (h->op == WSF_OP_PONG)
		return WSF_PONG;
	return wsf_close(p, m);
}

/* Room for need bytes of message; need <= p->max. */
static int
wsf_reserve(struct wsf_parser *p, size_t need)
{
	size_t cap = p->msg_cap * 2;
	char *b;

	if (need <= p->msg_cap)
		return 0;
	if (cap < need)
		cap = need;
	if (cap > p->max)
		cap = p->max;
	if ((b = realloc(p->msg, cap)) == NULL)
		return -1;
	p->msg = b, p->msg_cap = cap;
	return 0;
}

/* The end of a text message: checked, then handed out. */
static enum wsf_kind
wsf_text(struct wsf_parser *p, struct wsf_msg *m, const char *data, size_t len)
{
	p->in_msg = false;
	if (!utf8_valid(data, len))
		return wsf_fail(p, m, 1007, "text is not UTF-8");
	m->data = data != NULL ? data : "", m->len = len;
	return WSF_TEXT;
}

/* The header of a data frame: a whole one-frame message contiguous in the
 * input is handed out in place; anything else starts reading the payload
 * into msg (WSF_MORE, p->in_frame set). */
static enum wsf_kind
wsf_data(struct wsf_parser *p, struct evbuffer *in, const struct wsf_head *h,
    struct wsf_msg *m)
{
	size_t total;
	unsigned char *f;

	if (h->len > p->max - p->msg_len)
		return wsf_fail(p, m, 1009, "message too big");
	if (h->op == WSF_OP_BINARY)
		return wsf_fail(p, m, 1003, "text frames only");
	total = h->hlen + (size_t)h->len;
	if (h->op == WSF_OP_TEXT && h->fin && evbuffer_get_contiguous_space(in) >= total) {
		if ((f = evbuffer_pullup(in, (ev_ssize_t)total)) == NULL)
			return wsf_fail(p, m, 1011, "out of memory");
		wsf_unmask(f + h->hlen, (size_t)h->len, h->mask, 0);
		p->drain = total;
		return wsf_text(p, m, (const char *)f + h->hlen, (size_t)h->len);
	}
	if (wsf_reserve(p, p->msg_len + (size_t)h->len) < 0)
		return wsf_fail(p, m, 1011, "out of memory");
	evbuffer_drain(in, h->hlen);
	memcpy(p->mask, h->mask, sizeof(p->mask));
	p->mask_off = 0;
	p->left = h->len;
	p->fin = h->fin;
	p->in_frame = p->in_msg = true;
	return WSF_MORE;
}

/* Moves what has arrived of the current frame's payload into msg; true
 * once all of it is there. */
static bool
wsf_payload(struct wsf_parser *p, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t n = p->left < avail ? (size_t)p->left : avail;

	if (n > 0) {
		evbuffer_remove(in, p->msg + p->msg_len, n);
		wsf_unmask((unsigned char *)p->msg + p->msg_len, n, p->mask, p->mask_off);
		p->msg_len += n;
		p->left -= n;
		p->mask_off = (uint8_t)((p->mask_off + n) & 3);
	}
	return p->left == 0;
}

enum wsf_kind
wsf_next(struct wsf_parser *p, struct evbuffer *in, struct wsf_msg *m)
{
	struct wsf_head h;
	const char *why = NULL;
	enum wsf_kind k;
	int r;

	memset(m, 0, sizeof(*m));
	if (p->drain > 0) {
		evbuffer_drain(in, p->drain);
		p->drain = 0;
	}
	if (p->msg_out)
		wsf_parser_free(p);
	if (p->failed)
		return WSF_MORE;
	for (;;) {
		if (p->in_frame) {
			if (!wsf_payload(p, in))
				return WSF_MORE;
			p->in_frame = false;
			if (!p->fin)
				continue;
			p->msg_out = true;
			return wsf_text(p, m, p->msg, p->msg_len);
		}
		if ((r = wsf_read_header(in, &h, &why)) == 0)
			return WSF_MORE;
		if (r < 0 || (why = wsf_check(p, &h)) != NULL)
			return wsf_fail(p, m, 1002, why);
		if (h.op & 0x8)
			return wsf_control(p, in, &h, m);
		if ((k = wsf_data(p, in, &h, m)) != WSF_MORE)
			return k;
	}
}

/* ------------------------------------------------------------ writing */

size_t
wsf_header(unsigned char h[WSF_HEADER_MAX], unsigned opcode, size_t len)
{
	h[0] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		h[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

int
wsf_write_control(struct evbuffer *out, unsigned opcode, const void *data, size_t len)
{
	unsigned char f[WSF_HEADER_MAX + WSF_CONTROL_MAX];
	size_t h;

	if (len > WSF_CONTROL_MAX)
		return -1;
	h = wsf_header(f, opcode, len);
	if (len > 0)
		memcpy(f + h, data, len);
	return evbuffer_add(out, f, h + len);
}

int
wsf_write_close(struct evbuffer *out, uint16_t code, const char *reason, size_t len)
{
	unsigned char p[WSF_CONTROL_MAX];

	if (code == WSF_CLOSE_NO_STATUS)
		return wsf_write_control(out, WSF_OP_CLOSE, NULL, 0);
	if (len > WSF_CONTROL_MAX - 2)
		len = WSF_CONTROL_MAX - 2;
	p[0] = (unsigned char)(code >> 8), p[1] = (unsigned char)code;
	if (len > 0)
		memcpy(p + 2, reason, len);
	return wsf_write_control(out, WSF_OP_CLOSE, p, len + 2);
}
