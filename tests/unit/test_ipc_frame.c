/* IPC framing: the header layout, and every way a frame is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "ipc_proto.h"

static size_t
frame(uint8_t *buf, enum ipc_type type, uint64_t id, const char *body)
{
	size_t len = strlen(body);
	ipc_hdr_pack(buf, type, id, (uint32_t)len);
	memcpy(buf + IPC_HDR_LEN, body, len);
	return IPC_HDR_LEN + len;
}

static void
test_header_layout_is_big_endian(void **state)
{
	uint8_t h[IPC_HDR_LEN];
	const uint8_t want[IPC_HDR_LEN] = { 0x45, 0x4e, IPC_VERSION, IPC_HTTP_REQUEST,
		0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0x30, 0x39 };
	(void)state;
	ipc_hdr_pack(h, IPC_HTTP_REQUEST, 12345, 0x0102);
	assert_memory_equal(h, want, IPC_HDR_LEN);
}

static void
test_round_trip(void **state)
{
	uint8_t buf[256];
	struct ipc_frame fr;
	size_t n = frame(buf, IPC_PING, 0x1122334455667788ull, "{\"a\":1}");
	(void)state;
	assert_int_equal(ipc_frame_parse(buf, n, &fr), IPC_OK);
	assert_int_equal(fr.type, IPC_PING);
	assert_int_equal(fr.version, IPC_VERSION);
	assert_true(fr.id == 0x1122334455667788ull);
	assert_int_equal(fr.body_len, 7);
	assert_memory_equal(fr.body, "{\"a\":1}", 7);
}

static void
test_short_and_length_mismatch(void **state)
{
	uint8_t buf[256];
	struct ipc_frame fr;
	size_t n = frame(buf, IPC_PING, 1, "{}");
	(void)state;
	assert_int_equal(ipc_frame_parse(buf, 0, &fr), IPC_ESHORT);
	assert_int_equal(ipc_frame_parse(buf, IPC_HDR_LEN - 1, &fr), IPC_ESHORT);
	assert_int_equal(ipc_frame_parse(buf, n - 1, &fr), IPC_ELENGTH);	/* short body */
	buf[n] = 'x';
	assert_int_equal(ipc_frame_parse(buf, n + 1, &fr), IPC_ELENGTH);	/* trailing byte */
}

static void
test_version_magic_and_type_refused(void **state)
{
	uint8_t buf[256];
	struct ipc_frame fr;
	size_t n = frame(buf, IPC_PING, 1, "{}");
	(void)state;
	buf[2] = IPC_VERSION + 1;
	assert_int_equal(ipc_frame_parse(buf, n, &fr), IPC_EVERSION);
	assert_string_equal(ipc_frame_strerror(IPC_EVERSION), "protocol version mismatch");
	n = frame(buf, IPC_PING, 1, "{}");
	buf[0] = 'X';
	assert_int_equal(ipc_frame_parse(buf, n, &fr), IPC_EMAGIC);
	n = frame(buf, IPC_PING, 1, "{}");
	buf[3] = 0;
	assert_int_equal(ipc_frame_parse(buf, n, &fr), IPC_ETYPE);
	buf[3] = IPC_TYPE_MAX + 1;
	assert_int_equal(ipc_frame_parse(buf, n, &fr), IPC_ETYPE);
}

static void
test_event_topic(void **state)
{
	uint8_t buf[512];
	struct ipc_frame fr;
	const char *topic = "room.6f1c";
	size_t t = strlen(topic) + 1, n;
	(void)state;
	memcpy(buf, topic, t);
	n = t + frame(buf + t, IPC_EVENT, 0, "{\"x\":true}");
	assert_int_equal(ipc_event_parse(buf, n, &fr), IPC_OK);
	assert_string_equal(fr.topic, topic);
	assert_int_equal(fr.body_len, 10);
	/* an event frame must carry the EVENT type */
	n = t + frame(buf + t, IPC_PING, 0, "{}");
	assert_int_equal(ipc_event_parse(buf, n, &fr), IPC_ETYPE);
	/* no NUL, or an empty topic */
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(ipc_event_parse(buf, sizeof(buf), &fr), IPC_ETOPIC);
	buf[0] = '\0';
	assert_int_equal(ipc_event_parse(buf, sizeof(buf), &fr), IPC_ETOPIC);
}

static void
test_batch_iteration(void **state)
{
	uint8_t buf[512];
	struct ipc_frame fr;
	size_t n = 0, off = 0;
	(void)state;
	n += frame(buf + n, IPC_HTTP_REQUEST, 1, "{\"a\":1}");
	n += frame(buf + n, IPC_PING, 2, "{}");
	n += frame(buf + n, IPC_HTTP_REQUEST, 3, "[]");
	assert_int_equal(ipc_frame_next(buf, n, &off, &fr), IPC_OK);
	assert_true(fr.id == 1 && fr.body_len == 7);
	assert_int_equal(ipc_frame_next(buf, n, &off, &fr), IPC_OK);
	assert_true(fr.id == 2 && fr.type == IPC_PING);
	assert_int_equal(ipc_frame_next(buf, n, &off, &fr), IPC_OK);
	assert_true(fr.id == 3);
	assert_int_equal(off, n);
	assert_int_equal(ipc_frame_next(buf, n, &off, &fr), IPC_ESHORT);
	/* a batch cut inside its last frame */
	off = 0;
	assert_int_equal(ipc_frame_next(buf, n - 1, &off, &fr), IPC_OK);
	assert_int_equal(ipc_frame_next(buf, n - 1, &off, &fr), IPC_OK);
	assert_int_equal(ipc_frame_next(buf, n - 1, &off, &fr), IPC_ELENGTH);
	/* trailing bytes too short for a header */
	off = n;
	buf[n] = 'E';
	assert_int_equal(ipc_frame_next(buf, n + 3, &off, &fr), IPC_ESHORT);
	/* a single-frame parse still refuses a batch */
	assert_int_equal(ipc_frame_parse(buf, n, &fr), IPC_ELENGTH);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(ipc_type_name(IPC_HTTP_RESPONSE), "http-response");
	assert_string_equal(ipc_type_name(0), "?");
	assert_string_equal(ipc_type_name(99), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_layout_is_big_endian),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_short_and_length_mismatch),
		cmocka_unit_test(test_version_magic_and_type_refused),
		cmocka_unit_test(test_event_topic),
		cmocka_unit_test(test_batch_iteration),
		cmocka_unit_test(test_type_names),
	};
	return cmocka_run_group_tests_name("ipc_frame", tests, NULL, NULL);
}
