/* Sessions revoked by authd. Their access tokens are refused from the
 * moment the event arrives until they would have expired anyway. Events
 * come from authd's PUB socket; Redis holds the same set for a gatewayd
 * that was not listening (started later, another host) and is read when
 * Redis connects. */
#include "gatewayd.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "hash.h"
#include "log.h"
#include "uuid.h"

#define GW_REVOKED_BUCKETS 4096
#define GW_REVOKED_BOOT_TTL_S 86400	/* the TTL Redis had is not read */

struct gw_revoked {
	struct gw_revoked *next;
	long long until_ms;
	char sid[UUID_STRLEN + 1];
};

static struct gw_revoked *gw_revoked_table[GW_REVOKED_BUCKETS];
static int gw_revoked_count;

void
gw_revoked_add(const char *sid, long long ttl_s)
{
	struct gw_revoked **b, *e;
	long long until = time_mono_ms() + ttl_s * 1000;

	if (!uuid_valid(sid) || ttl_s <= 0)
		return;
	b = &gw_revoked_table[hash_fnv1a(sid) % GW_REVOKED_BUCKETS];
	for (e = *b; e != NULL; e = e->next) {
		if (strcmp(e->sid, sid) == 0) {
			if (e->until_ms < until)
				e->until_ms = until;
			return;
		}
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warnx("revoked: out of memory for session %s", sid);
		return;
	}
	memcpy(e->sid, sid, sizeof(e->sid));
	e->until_ms = until;
	e->next = *b;
	*b = e;
	gw_revoked_count++;
}

bool
gw_revoked(const char *sid)
{
	long long now = time_mono_ms();

	for (struct gw_revoked *e = gw_revoked_table[hash_fnv1a(sid) % GW_REVOKED_BUCKETS]; e;
	    e = e->next)
		if (strcmp(e->sid, sid) == 0)
			return e->until_ms > now;
	return false;
}

/* Forgets sessions whose tokens have all expired; run from the tick. */
void
gw_revoked_purge(void)
{
	long long now = time_mono_ms();

	for (int i = 0; i < GW_REVOKED_BUCKETS; i++) {
		struct gw_revoked **pp = &gw_revoked_table[i], *e;
		while ((e = *pp) != NULL) {
			if (e->until_ms > now) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			gw_revoked_count--;
		}
	}
}

void
gw_revoked_free(void)
{
	for (int i = 0; i < GW_REVOKED_BUCKETS; i++) {
		while (gw_revoked_table[i] != NULL) {
			struct gw_revoked *e = gw_revoked_table[i];
			gw_revoked_table[i] = e->next;
			free(e);
		}
	}
	gw_revoked_count = 0;
}

/* An event on session.<sid> from authd. */
void
gw_revoked_event(const cJSON *body)
{
	const char *sid = json_str(body, "session_id");

	if (sid != NULL && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "revoked")))
		gw_revoked_add(sid, (long long)json_num(body, "ttl_s", 0));
}

static void gw_revoked_scan(struct redis_conn *r, const char *cursor);

static void
gw_revoked_scan_cb(redisReply *reply, void *arg)
{
	struct redis_conn *r = arg;
	const size_t plen = strlen("enclavr:revoked:");

	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < reply->element[1]->elements; i++) {
		redisReply *k = reply->element[1]->element[i];
		if (k->type == REDIS_REPLY_STRING && (size_t)k->len > plen)
			gw_revoked_add(k->str + plen, GW_REVOKED_BOOT_TTL_S);
	}
	if (strcmp(reply->element[0]->str, "0") != 0)
		gw_revoked_scan(r, reply->element[0]->str);
}

static void
gw_revoked_scan(struct redis_conn *r, const char *cursor)
{
	redis_command(r, gw_revoked_scan_cb, r, "SCAN %s MATCH enclavr:revoked:* COUNT 1000",
	    cursor);
}

/* Redis (re)connected: read the sessions revoked while we were away. */
void
gw_revoked_bootstrap(struct redis_conn *r, void *arg)
{
	(void)arg;
	gw_revoked_scan(r, "0");
}
