/* libFuzzer target: IPC frame and event parsing, then the JSON body as the
 * receiving daemon reads it. */
#include <stdint.h>

#include "ipc_proto.h"
#include "json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_frame fr;
	cJSON *body;

	if (ipc_frame_parse(data, size, &fr) == IPC_OK &&
	    (body = json_parse_exact(fr.body, fr.body_len)) != NULL) {
		json_str(body, "method");
		json_num(body, "status", 0);
		cJSON_Delete(body);
	}
	ipc_event_parse(data, size, &fr);
	return 0;
}
