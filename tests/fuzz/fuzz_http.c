/* libFuzzer target: gatewayd's request parsing (http_parser callbacks, URL
 * and path decoding, header accumulation and limits, body limits, query
 * parameters), fed arbitrary bytes as one connection's input stream.
 * Includes the file under test to reach its static callbacks. */
#include "../../gatewayd/http.c"

static struct gw_conf fuzz_conf;
static struct gw fuzz_gw;

static void
fuzz_init(void)
{
	static const struct route_decl routes[] = {
		{ "POST", "/api/echo", ROUTE_USER, 64, NULL },
		{ "GET", "/api/users/{id}", ROUTE_PUBLIC, 0, NULL },
		{ "GET", "/api/files/", ROUTE_PUBLIC, 0, NULL },
	};
	log_init("fuzz", LOG_LVL_ERR);
	fuzz_conf.max_header_bytes = 4096;
	fuzz_conf.cors_origins = "";
	fuzz_gw.conf = &fuzz_conf;
	gw_router_init(&fuzz_gw.router);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		gw_router_add(&fuzz_gw.router, &routes[i], &fuzz_gw);
}

/* Reads what a handler would read from a complete request. */
static void
fuzz_use_request(const struct gw_request *r)
{
	char buf[128];

	gw_request_header(r, "Host");
	gw_request_header(r, "Authorization");
	url_query_param(r->query, "token", buf, sizeof(buf));
	url_query_param(r->query, "room_id", buf, sizeof(buf));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct gw_conn c = { 0 };
	size_t off = 0;

	if (!ready) {
		fuzz_init();
		ready = true;
	}
	c.gw = &fuzz_gw;
	http_parser_init(&c.parser, HTTP_REQUEST);
	c.parser.data = &c;
	while (off < size) {
		if ((c.req = gw_request_new(&c)) == NULL)
			break;
		c.header_bytes = 0;
		c.last_header_cb = 0;
		off += http_parser_execute(&c.parser, &gw_parser_settings,
		    (const char *)data + off, size - off);
		bool complete = c.req->complete;
		if (complete)
			fuzz_use_request(c.req);
		gw_request_free(c.req);
		c.req = NULL;
		if (!complete || HTTP_PARSER_ERRNO(&c.parser) != HPE_PAUSED)
			break;
		http_parser_pause(&c.parser, 0);
	}
	return 0;
}
