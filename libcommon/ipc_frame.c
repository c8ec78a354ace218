#include "ipc_proto.h"

#include <string.h>

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)(v & 0xff);
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

void
ipc_hdr_pack(uint8_t hdr[IPC_HDR_LEN], enum ipc_type type, uint64_t id,
    uint32_t body_len)
{
	put_be(hdr, IPC_MAGIC, 2);
	hdr[2] = IPC_VERSION;
	hdr[3] = (uint8_t)type;
	put_be(hdr + 4, body_len, 4);
	put_be(hdr + 8, id, 8);
}

/* Parses the frame at the start of buf, which may hold more after it. */
static enum ipc_frame_err
ipc_frame_head(const uint8_t *buf, size_t len, struct ipc_frame *fr)
{
	memset(fr, 0, sizeof(*fr));
	if (len < IPC_HDR_LEN)
		return IPC_ESHORT;
	if (get_be(buf, 2) != IPC_MAGIC)
		return IPC_EMAGIC;
	fr->version = buf[2];
	if (fr->version != IPC_VERSION)
		return IPC_EVERSION;
	fr->type = buf[3];
	if (fr->type < 1 || fr->type > IPC_TYPE_MAX)
		return IPC_ETYPE;
	fr->body_len = (size_t)get_be(buf + 4, 4);
	if (fr->body_len > IPC_MAX_BODY || fr->body_len > len - IPC_HDR_LEN)
		return IPC_ELENGTH;
	fr->id = get_be(buf + 8, 8);
	fr->body = (const char *)buf + IPC_HDR_LEN;
	return IPC_OK;
}

enum ipc_frame_err
ipc_frame_parse(const uint8_t *buf, size_t len, struct ipc_frame *fr)
{
	enum ipc_frame_err err = ipc_frame_head(buf, len, fr);

	if (err == IPC_OK && fr->body_len != len - IPC_HDR_LEN)
		return IPC_ELENGTH;
	return err;
}

enum ipc_frame_err
ipc_frame_next(const uint8_t *buf, size_t len, size_t *off, struct ipc_frame *fr)
{
	enum ipc_frame_err err;

	if (*off >= len)
		return IPC_ESHORT;
	err = ipc_frame_head(buf + *off, len - *off, fr);
	if (err == IPC_OK)
		*off += IPC_HDR_LEN + fr->body_len;
	return err;
}

enum ipc_frame_err
ipc_event_parse(const uint8_t *buf, size_t len, struct ipc_frame *fr)
{
	size_t scan = len < IPC_MAX_TOPIC + 1 ? len : IPC_MAX_TOPIC + 1;
	const uint8_t *nul = memchr(buf, '\0', scan);
	enum ipc_frame_err err;

	if (nul == NULL || nul == buf) {
		memset(fr, 0, sizeof(*fr));
		return IPC_ETOPIC;
	}
	err = ipc_frame_parse(nul + 1, len - (size_t)(nul + 1 - buf), fr);
	if (err == IPC_OK && fr->type != IPC_EVENT)
		err = IPC_ETYPE;
	fr->topic = (const char *)buf;
	return err;
}

const char *
ipc_frame_strerror(enum ipc_frame_err err)
{
	switch (err) {
	case IPC_OK: return "ok";
	case IPC_ESHORT: return "short frame";
	case IPC_EMAGIC: return "bad magic";
	case IPC_EVERSION: return "protocol version mismatch";
	case IPC_ETYPE: return "unknown message type";
	case IPC_ELENGTH: return "length mismatch";
	case IPC_ETOPIC: return "missing topic";
	}
	return "?";
}

const char *
ipc_type_name(int type)
{
	static const char *names[] = { "?", "ping", "pong", "routes-get",
		"routes", "http-request", "http-response", "event", "error" };
	return type >= 1 && type <= IPC_TYPE_MAX ? names[type] : names[0];
}
