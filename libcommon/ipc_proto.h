/* The IPC protocol between gatewayd and the back-end daemons: every message
 * type and the version live here, and only here.
 *
 * A frame is a 16-byte header followed by a JSON body (UTF-8, no NUL):
 *   offset 0  u16 magic   0x454e ("EN")
 *   offset 2  u8  version IPC_VERSION
 *   offset 3  u8  type    enum ipc_type
 *   offset 4  u32 length  of the body in bytes, exactly what follows
 *   offset 8  u64 id      request id, echoed in the reply
 * All integers are big-endian. A frame whose length does not match the bytes
 * received, or with another magic, version or an unknown type is refused.
 * A request or reply message holds one or more frames back to back: what a
 * daemon or gatewayd produces in one turn of its loop travels together.
 *
 * Published events are "<topic>\0<frame>", so that subscribers can filter on
 * the topic prefix (room.<uuid>, user.<uuid>, voice.<uuid>, session.<uuid>,
 * heartbeat.<daemon>). Bodies are described in docs/ipc.md. */
#ifndef ENCLAVR_IPC_PROTO_H
#define ENCLAVR_IPC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define IPC_MAGIC 0x454e
#define IPC_VERSION 1
#define IPC_HDR_LEN 16
#define IPC_MAX_BODY (16u * 1024 * 1024)
#define IPC_MAX_TOPIC 128

enum ipc_type {
	IPC_PING = 1,		/* gw -> d: {} */
	IPC_PONG = 2,		/* d -> gw: daemon status */
	IPC_ROUTES_GET = 3,	/* gw -> d: {} */
	IPC_ROUTES = 4,		/* d -> gw: the daemon's route table */
	IPC_HTTP_REQUEST = 5,	/* gw -> d: one forwarded HTTP request */
	IPC_HTTP_RESPONSE = 6,	/* d -> gw: its response */
	IPC_EVENT = 7,		/* d -> all (pub): an event on a topic */
	IPC_ERROR = 8,		/* d -> gw: the request could not be read */
	IPC_TYPE_MAX = 8,
};

enum ipc_frame_err {
	IPC_OK = 0,
	IPC_ESHORT,		/* fewer bytes than a header */
	IPC_EMAGIC,
	IPC_EVERSION,
	IPC_ETYPE,
	IPC_ELENGTH,		/* length field disagrees with the bytes */
	IPC_ETOPIC,		/* an event without a NUL-terminated topic */
};

struct ipc_frame {
	uint8_t version;
	uint8_t type;
	uint64_t id;
	const char *body;	/* points into the parsed buffer */
	size_t body_len;
	const char *topic;	/* events only, NUL-terminated, in the buffer */
};

/* Writes the header for a body of body_len bytes into hdr. */
void ipc_hdr_pack(uint8_t hdr[IPC_HDR_LEN], enum ipc_type type, uint64_t id,
    uint32_t body_len);
/* Parses one frame that fills buf exactly; fr points into buf afterwards. */
enum ipc_frame_err ipc_frame_parse(const uint8_t *buf, size_t len,
    struct ipc_frame *fr);
/* Parses the frame at *off of a message holding one or more frames back to
 * back (a batch) and advances *off past it. The last frame must end exactly
 * at len. */
enum ipc_frame_err ipc_frame_next(const uint8_t *buf, size_t len, size_t *off,
    struct ipc_frame *fr);
/* Parses "<topic>\0<frame>". */
enum ipc_frame_err ipc_event_parse(const uint8_t *buf, size_t len,
    struct ipc_frame *fr);
const char *ipc_frame_strerror(enum ipc_frame_err err);
const char *ipc_type_name(int type);

#endif
