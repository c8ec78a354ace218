/* RFC 6455 framing, the server's side: an incremental parser of the
 * client's frames, read from an evbuffer as they arrive, and the writer of
 * every frame the server sends. It knows nothing of connections: ws.c
 * feeds it and acts on what it returns (docs/websocket.md). */
#ifndef GATEWAYD_WSFRAME_H
#define GATEWAYD_WSFRAME_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WSF_OP_CONT = 0x0,
	WSF_OP_TEXT = 0x1,
	WSF_OP_BINARY = 0x2,
	WSF_OP_CLOSE = 0x8,
	WSF_OP_PING = 0x9,
	WSF_OP_PONG = 0xa,
};

#define WSF_HEADER_MAX 10	/* of a server frame: no mask */
#define WSF_CONTROL_MAX 125	/* payload of a control frame */
#define WSF_CLOSE_NO_STATUS 1005	/* a close frame without a code */

/* What wsf_next found in the input. */
enum wsf_kind {
	WSF_MORE,		/* nothing complete yet: wait for more bytes */
	WSF_TEXT,		/* a whole text message, valid UTF-8 */
	WSF_PING,
	WSF_PONG,
	WSF_CLOSE,		/* code (1005: none) and reason, both valid */
	WSF_FAIL,		/* the client broke the protocol: close with
				 * code and reason, and read no more */
};

/* A message handed out by wsf_next. data stays valid until the next call
 * to wsf_next or wsf_parser_free, and until then the input must not
 * change: it may point into the input itself. */
struct wsf_msg {
	const char *data;	/* text, ping/pong payload, close reason */
	size_t len;
	uint16_t code;		/* WSF_CLOSE: the client's; WSF_FAIL: ours */
	const char *reason;	/* WSF_FAIL: ours, a C string */
};

/* The parser of one connection's input: a few dozen bytes between frames.
 * A text message that arrives in pieces (fragments, or a frame cut by the
 * network) is gathered in msg, allocated for it alone and freed once it
 * is handed out. Zero-initialised is ready; wsf_parser_free frees it. */
struct wsf_parser {
	size_t max;		/* the largest message taken, in bytes */
	char *msg;		/* the message being gathered, or NULL */
	size_t msg_len, msg_cap;
	uint64_t left;		/* payload bytes of the current frame to come */
	size_t drain;		/* input bytes handed out in place: dropped
				 * at the next call */
	uint8_t mask[4];
	uint8_t mask_off;	/* payload bytes consumed, modulo 4 */
	bool in_frame;		/* inside a data frame's payload */
	bool in_msg;		/* a text message is in progress */
	bool fin;		/* the current frame ends its message */
	bool msg_out;		/* msg was handed out: free it next call */
	bool failed;		/* after WSF_FAIL: nothing more is read */
};

/* Sets the largest message taken ([ws] max_message_bytes); a message past
 * it fails with 1009 before it is buffered. */
void wsf_parser_init(struct wsf_parser *p, size_t max_message);
void wsf_parser_free(struct wsf_parser *p);
/* The next message, control frame or protocol failure in in, consuming
 * what it reads. WSF_MORE when in holds nothing complete; WSF_FAIL once
 * (then WSF_MORE for ever). */
enum wsf_kind wsf_next(struct wsf_parser *p, struct evbuffer *in, struct wsf_msg *m);

/* Writes the header of an unmasked, final server frame of opcode and
 * payload length len into h; returns its length (2, 4 or 10). The one
 * header writer of every frame gatewayd sends. */
size_t wsf_header(unsigned char h[WSF_HEADER_MAX], unsigned opcode, size_t len);
/* Appends a whole control frame (ping, pong, close) in one piece, so that
 * nothing appended later can land inside it. len <= 125; -1 when out of
 * memory. */
int wsf_write_control(struct evbuffer *out, unsigned opcode, const void *data, size_t len);
/* A close frame: code, then reason (at most 123 bytes, truncated); code
 * WSF_CLOSE_NO_STATUS sends an empty one. */
int wsf_write_close(struct evbuffer *out, uint16_t code, const char *reason, size_t len);
/* True for a code a peer may send in a close frame (RFC 6455 7.4). */
bool wsf_close_code_valid(unsigned code);

#endif
