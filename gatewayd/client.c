/* Who the client of a request is. Normally the peer address; behind
 * reverse proxies listed in [http] trusted_proxies, the right-most
 * X-Forwarded-For address that is not itself a trusted proxy. Rate limits,
 * logs and the daemons (sessions' ip_address) all use this one answer.
 * X-Forwarded-For from anyone else is ignored: it is the client's to forge. */
#include "gatewayd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_MAX_PROXIES 64

struct gw_net {
	int family;
	unsigned char addr[16];
	int bits;
};

static struct gw_net gw_proxies[GW_MAX_PROXIES];
static int gw_nproxies;

/* "a.b.c.d", "a.b.c.d/n", "x::y", "x::y/n"; false when malformed. */
static bool
gw_net_parse(const char *text, struct gw_net *n)
{
	char buf[64], *slash;
	int max;

	if (strlen(text) >= sizeof(buf))
		return false;
	strcpy(buf, text);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, n->addr) == 1)
		n->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, buf, n->addr) == 1)
		n->family = AF_INET6, max = 128;
	else
		return false;
	n->bits = max;
	if (slash != NULL) {
		char *end;
		long bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1 || bits < 0 || bits > max)
			return false;
		n->bits = (int)bits;
	}
	return true;
}

static bool
gw_net_contains(const struct gw_net *n, const struct gw_net *a)
{
	int full = n->bits / 8, rest = n->bits % 8;

	if (n->family != a->family || memcmp(n->addr, a->addr, (size_t)full) != 0)
		return false;
	return rest == 0 ||
	    ((n->addr[full] ^ a->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static bool
gw_trusted(const char *addr)
{
	struct gw_net a;

	if (!gw_net_parse(addr, &a) || a.bits != (a.family == AF_INET ? 32 : 128))
		return false;
	for (int i = 0; i < gw_nproxies; i++)
		if (gw_net_contains(&gw_proxies[i], &a))
			return true;
	return false;
}

int
gw_client_load(const char *list, char *why, size_t whylen)
{
	struct gw_net nets[GW_MAX_PROXIES];
	char buf[4096], *save = NULL;
	int n = 0;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(why, whylen, "trusted_proxies is too long");
		return -1;
	}
	strcpy(buf, list);
	for (char *t = strtok_r(buf, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
		if (n == GW_MAX_PROXIES || !gw_net_parse(t, &nets[n])) {
			snprintf(why, whylen, "trusted_proxies: bad or too many entries at \"%s\"", t);
			return -1;
		}
		n++;
	}
	memcpy(gw_proxies, nets, sizeof(nets[0]) * (size_t)n);
	gw_nproxies = n;
	return 0;
}

/* Fills r->client from the peer and, behind a trusted proxy, from
 * X-Forwarded-For (only the last of several such headers counts). */
void
gw_client_resolve(struct gw_request *r)
{
	const char *xff;
	char hops[512], *p;

	snprintf(r->client, sizeof(r->client), "%s", r->conn->peer);
	if (gw_nproxies == 0 || !gw_trusted(r->conn->peer) ||
	    (xff = gw_request_header(r, "X-Forwarded-For")) == NULL ||
	    strlen(xff) >= sizeof(hops))
		return;
	strcpy(hops, xff);
	/* From the right: each trusted hop vouches for the one before it. */
	while ((p = strrchr(hops, ',')) != NULL || hops[0] != '\0') {
		char *hop = p ? p + 1 : hops;
		struct gw_net a;

		hop += strspn(hop, " \t");
		hop[strcspn(hop, " \t")] = '\0';
		if (!gw_net_parse(hop, &a) || a.bits != (a.family == AF_INET ? 32 : 128))
			return;		/* garbage: keep the last trusted answer */
		snprintf(r->client, sizeof(r->client), "%s", hop);
		if (!gw_trusted(hop) || p == NULL)
			return;
		*p = '\0';
	}
}
