/* Categories: the list for everyone, and their creation, update and
 * deletion by global admins (ROUTE_ADMIN). Deleting a category leaves its
 * rooms uncategorised (the foreign key's ON DELETE SET NULL). */
#include "chatd.h"

#include <stdio.h>

#include "validate.h"

const struct pg_stmt chat_categories_stmts[] = {
	{ "chat_categories_list", SVC_REPLY("chat.categories_list()"), 0 },
	{ "chat_category_save",
	  SVC_REPLY("chat.category_save($1, $2, $3, $4, $5, $6, $7, $8)"), 8 },
	{ "chat_category_delete", SVC_REPLY("chat.category_delete($1)"), 1 },
	{ NULL, NULL, 0 },
};

/* GET /api/categories: every category, by sort_order then name, each with
 * its room_count. */
static void
chat_categories_list(struct svc_request *r)
{
	svc_call(r, "chat_categories_list", NULL);
}

/* Checks a category body into params[2..7] of chat.category_save (NULL for
 * absent; they point into the body or sort); NULL or why not. */
static const char *
chat_category_parse(const cJSON *body, bool create, const char *params[8], char sort[24])
{
	const char *why;
	long long n;
	int priv;

	if ((why = valid_member_text(body, "name", create, 1, 100, &params[2])) != NULL ||
	    (why = valid_member_text(body, "description", false, 0, 500, &params[3])) != NULL ||
	    (why = valid_member_text(body, "icon", false, 0, 100, &params[4])) != NULL ||
	    (why = valid_member_text(body, "color", false, 0, 20, &params[5])) != NULL ||
	    (why = valid_member_int(body, "sort_order", -VALID_INT_EXACT, VALID_INT_EXACT, 0,
	    &n)) != NULL ||
	    (why = valid_member_bool(body, "is_private", &priv)) != NULL)
		return why;
	snprintf(sort, 24, "%lld", n);
	params[6] = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(body, "sort_order")) ?
	    sort : NULL;
	params[7] = priv < 0 ? NULL : priv ? "true" : "false";
	return NULL;
}

/* Creates a category (create) or changes the one the request names by id:
 * 200 with the category; 409 for a taken name. */
static void
chat_category_save(struct svc_request *r, bool create)
{
	cJSON *body = svc_request_json(r);
	char id[UUID_STRLEN + 1], sort[24];
	const char *why, *params[8] = { NULL, r->user_id };

	if (body == NULL)
		return;
	if (create || svc_uuid_param(r, body, "id", id)) {
		params[0] = create ? NULL : id;
		if ((why = chat_category_parse(body, create, params, sort)) != NULL)
			svc_respond_error(r, 400, "invalid_request", why);
		else
			svc_call(r, "chat_category_save", params);
	}
	cJSON_Delete(body);		/* pg_exec copied the parameters */
}

/* POST /api/category/create {name, description?, icon?, color?,
 * sort_order?, is_private?}. */
static void
chat_category_create(struct svc_request *r)
{
	chat_category_save(r, true);
}

/* PUT (or POST) /api/category/update {id, and any field of create} (or
 * ?id=): absent fields stay as they are ("" clears a text). */
static void
chat_category_update(struct svc_request *r)
{
	chat_category_save(r, false);
}

/* DELETE (or POST) /api/category/delete {id} (or ?id=): its rooms become
 * uncategorised. {"status":"deleted"}. */
static void
chat_category_delete(struct svc_request *r)
{
	cJSON *body = NULL;
	char id[UUID_STRLEN + 1];
	const char *params[1] = { id };
	bool ok;

	if (r->body_len > 0 && (body = svc_request_json(r)) == NULL)
		return;
	ok = svc_uuid_param(r, body, "id", id);
	cJSON_Delete(body);
	if (ok)
		svc_call(r, "chat_category_delete", params);
}

static const struct svc_route chat_categories_table[] = {
	{ { "GET", "/api/categories", ROUTE_USER, 0, "default" }, chat_categories_list },
	{ { "POST", "/api/category/create", ROUTE_ADMIN, 4096, "default" }, chat_category_create },
	{ { "PUT", "/api/category/update", ROUTE_ADMIN, 4096, "default" }, chat_category_update },
	{ { "POST", "/api/category/update", ROUTE_ADMIN, 4096, "default" }, chat_category_update },
	{ { "DELETE", "/api/category/delete", ROUTE_ADMIN, 1024, "default" }, chat_category_delete },
	{ { "POST", "/api/category/delete", ROUTE_ADMIN, 1024, "default" }, chat_category_delete },
};

const struct svc_routes chat_categories_routes = {
	chat_categories_table, sizeof(chat_categories_table) / sizeof(chat_categories_table[0])
};
