/* Categories: the list for everyone, and their creation, update and
 * deletion by global admins (ROUTE_ADMIN). Deleting a category leaves its
 * rooms uncategorised (the foreign key's ON DELETE SET NULL). */
#include "chatd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* sort_order is a bigint; clients send doubles, exact below 2^53. */
#define CHAT_SORT_MAX 9007199254740991LL

const struct pg_stmt chat_categories_stmts[] = {
	{ "chat_categories_list", "SELECT coalesce(json_agg(chat.category_json(c)"
	  " ORDER BY c.sort_order, c.name, c.id), '[]')::text FROM chat.categories c", 0 },
	{ "chat_category_create", "INSERT INTO chat.categories AS c (name, description, icon,"
	  " color, sort_order, is_private, created_by)"
	  " VALUES ($1, coalesce($2, ''), coalesce($3, ''), coalesce($4, ''),"
	  " coalesce($5::bigint, 0), coalesce($6::boolean, false), $7)"
	  " RETURNING chat.category_json(c)::text", 7 },
	{ "chat_category_update", "UPDATE chat.categories AS c SET name = coalesce($2, name),"
	  " description = coalesce($3, description), icon = coalesce($4, icon),"
	  " color = coalesce($5, color), sort_order = coalesce($6::bigint, sort_order),"
	  " is_private = coalesce($7::boolean, is_private), updated_at = now()"
	  " WHERE id = $1 RETURNING chat.category_json(c)::text", 7 },
	{ "chat_category_delete", "DELETE FROM chat.categories WHERE id = $1"
	  " RETURNING '{\"status\":\"deleted\"}'", 1 },
	{ NULL, NULL, 0 },
};

/* The checked fields of a category body, as statement parameters (NULL
 * for absent); they point into the body. */
struct chat_category {
	const char *name, *description, *icon, *color, *is_private;
	char sort_order[24];
	bool has_sort;
};

static const char *
chat_category_parse(const cJSON *body, bool create, struct chat_category *c)
{
	const char *why;
	long long sort;
	int priv;

	if ((why = valid_member_text(body, "name", create, 1, 100, &c->name)) != NULL ||
	    (why = valid_member_text(body, "description", false, 0, 500, &c->description)) != NULL ||
	    (why = valid_member_text(body, "icon", false, 0, 100, &c->icon)) != NULL ||
	    (why = valid_member_text(body, "color", false, 0, 20, &c->color)) != NULL ||
	    (why = chat_member_int(body, "sort_order", -CHAT_SORT_MAX, CHAT_SORT_MAX, 0,
	    &sort)) != NULL ||
	    (why = chat_member_bool(body, "is_private", &priv)) != NULL)
		return why;
	c->has_sort = cJSON_GetObjectItemCaseSensitive(body, "sort_order") != NULL &&
	    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "sort_order"));
	snprintf(c->sort_order, sizeof(c->sort_order), "%lld", sort);
	c->is_private = priv < 0 ? NULL : priv ? "true" : "false";
	return NULL;
}

static void
chat_category_cb(PGresult *res, void *arg)
{
	struct svc_request *r = arg;

	if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR &&
	    strcmp(pg_sqlstate(res), PG_UNIQUE_VIOLATION) == 0) {
		svc_respond_error(r, 409, "conflict", "Category name already exists");
		return;
	}
	chat_json_answer(r, res, "Category not found");
}

/* GET /api/categories: every category, by sort_order then name, each with
 * its room_count. */
static void
chat_categories_list(struct svc_request *r)
{
	svc_query(r, "chat_categories_list", NULL, chat_category_cb, r);
}

/* POST /api/category/create {name, description?, icon?, color?,
 * sort_order?, is_private?}: 200 with the category; 409 for a taken name. */
static void
chat_category_create(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	struct chat_category c;
	const char *why, *params[7];

	if (body == NULL)
		return;
	if ((why = chat_category_parse(body, true, &c)) != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		cJSON_Delete(body);
		return;
	}
	params[0] = c.name, params[1] = c.description, params[2] = c.icon;
	params[3] = c.color, params[4] = c.has_sort ? c.sort_order : NULL;
	params[5] = c.is_private, params[6] = r->user_id;
	svc_query(r, "chat_category_create", params, chat_category_cb, r);
	cJSON_Delete(body);		/* pg_exec copied the parameters */
}

/* The category id of an update or delete: "id" in the body, or ?id=. */
static bool
chat_category_id(struct svc_request *r, const cJSON *body, char id[UUID_STRLEN + 1])
{
	const char *why;

	if (body == NULL || cJSON_GetObjectItemCaseSensitive(body, "id") == NULL)
		return chat_query_uuid(r, "id", id);
	if ((why = chat_member_id(body, "id", id)) != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return false;
	}
	return true;
}

/* PUT (or POST) /api/category/update {id, and any field of create}:
 * absent fields stay as they are ("" clears a text). */
static void
chat_category_update(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	struct chat_category c;
	char id[UUID_STRLEN + 1];
	const char *why, *params[7];

	if (body == NULL)
		return;
	if (!chat_category_id(r, body, id)) {
		cJSON_Delete(body);
		return;
	}
	if ((why = chat_category_parse(body, false, &c)) != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		cJSON_Delete(body);
		return;
	}
	params[0] = id, params[1] = c.name, params[2] = c.description;
	params[3] = c.icon, params[4] = c.color, params[5] = c.has_sort ? c.sort_order : NULL;
	params[6] = c.is_private;
	svc_query(r, "chat_category_update", params, chat_category_cb, r);
	cJSON_Delete(body);
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
	ok = chat_category_id(r, body, id);
	cJSON_Delete(body);
	if (ok)
		svc_query(r, "chat_category_delete", params, chat_category_cb, r);
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
