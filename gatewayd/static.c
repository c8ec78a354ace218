/* The web client's static files: served from memory (re-checked on disk at
 * most once a second), by reference so one copy serves every response, gzip
 * precomputed for text types, ETag/Last-Modified validation. */
#include "gatewayd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "hash.h"
#include "log.h"
#include "uuid.h"

#define GW_STATIC_BUCKETS 256
#define GW_STATIC_MAX_ENTRIES 4096
#define GW_STATIC_MAX_FILE (16 * 1024 * 1024)
#define GW_STATIC_RECHECK_MS 1000

/* One cached file. The cache holds one reference and every response in
 * flight holds one; the last release frees it. */
struct gw_file {
	struct gw_file *next;
	char *urlpath;
	char *data, *gz;
	size_t len, gzlen;
	time_t mtime;
	off_t size;
	ino_t ino;
	char etag[64], lastmod[40];
	const char *ctype;
	long long checked_ms;
	int refs;
};

static struct gw_file *gw_static_cache[GW_STATIC_BUCKETS];
static int gw_static_entries;

static const struct {
	const char *ext, *type;
	bool text;
} gw_types[] = {
	{ "html", "text/html; charset=utf-8", true },
	{ "css", "text/css; charset=utf-8", true },
	{ "js", "text/javascript; charset=utf-8", true },
	{ "mjs", "text/javascript; charset=utf-8", true },
	{ "json", "application/json", true },
	{ "map", "application/json", true },
	{ "webmanifest", "application/manifest+json", true },
	{ "svg", "image/svg+xml", true },
	{ "txt", "text/plain; charset=utf-8", true },
	{ "wasm", "application/wasm", true },
	{ "png", "image/png", false },
	{ "jpg", "image/jpeg", false },
	{ "jpeg", "image/jpeg", false },
	{ "gif", "image/gif", false },
	{ "webp", "image/webp", false },
	{ "ico", "image/x-icon", false },
	{ "woff2", "font/woff2", false },
	{ "woff", "font/woff", false },
	{ "ogg", "audio/ogg", false },
	{ "mp3", "audio/mpeg", false },
};

static const char *
gw_static_type(const char *path, bool *text)
{
	const char *dot = strrchr(path, '.');

	*text = false;
	if (dot != NULL && strchr(dot, '/') == NULL)
		for (size_t i = 0; i < sizeof(gw_types) / sizeof(gw_types[0]); i++)
			if (strcasecmp(dot + 1, gw_types[i].ext) == 0) {
				*text = gw_types[i].text;
				return gw_types[i].type;
			}
	return "application/octet-stream";
}

static void
gw_file_release(struct gw_file *f)
{
	if (--f->refs > 0)
		return;
	free(f->urlpath);
	free(f->data);
	free(f->gz);
	free(f);
}

static void
gw_file_unref_cb(const void *data, size_t len, void *arg)
{
	(void)data, (void)len;
	gw_file_release(arg);
}

/* gzip of f's data when it is text and compresses; otherwise none. */
static void
gw_file_compress(struct gw_file *f)
{
	z_stream zs = { 0 };
	uLong bound;

	if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	bound = deflateBound(&zs, (uLong)f->len);
	if ((f->gz = malloc(bound)) != NULL) {
		zs.next_in = (Bytef *)f->data;
		zs.avail_in = (uInt)f->len;
		zs.next_out = (Bytef *)f->gz;
		zs.avail_out = (uInt)bound;
		if (deflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out < f->len) {
			f->gzlen = zs.total_out;
		} else {
			free(f->gz);
			f->gz = NULL;
		}
	}
	deflateEnd(&zs);
}

static int
gw_read_fd(int fd, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Loads the regular file at fspath; NULL (errno set) when missing, not a
 * regular file, or too large. */
static struct gw_file *
gw_file_load(const char *urlpath, const char *fspath)
{
	struct gw_file *f;
	struct stat st;
	struct tm tm;
	bool text;
	int fd = open(fspath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > GW_STATIC_MAX_FILE ||
	    (f = calloc(1, sizeof(*f))) == NULL) {
		close(fd);
		errno = ENOENT;
		return NULL;
	}
	f->len = (size_t)st.st_size;
	f->data = malloc(f->len + 1);
	f->urlpath = strdup(urlpath);
	if (f->data == NULL || f->urlpath == NULL || gw_read_fd(fd, f->data, f->len) < 0) {
		close(fd);
		f->refs = 1;
		gw_file_release(f);
		return NULL;
	}
	close(fd);
	f->refs = 1;
	f->mtime = st.st_mtime, f->size = st.st_size, f->ino = st.st_ino;
	f->ctype = gw_static_type(urlpath, &text);
	snprintf(f->etag, sizeof(f->etag), "\"%lx-%lx-%lx\"", (unsigned long)st.st_ino,
	    (unsigned long)st.st_size, (unsigned long)st.st_mtime);
	gmtime_r(&f->mtime, &tm);
	strftime(f->lastmod, sizeof(f->lastmod), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (text)
		gw_file_compress(f);
	f->checked_ms = time_mono_ms();
	return f;
}

static bool
gw_file_stale(const struct gw_file *f, const char *fspath)
{
	struct stat st;

	if (stat(fspath, &st) < 0)
		return true;
	return st.st_mtime != f->mtime || st.st_size != f->size || st.st_ino != f->ino;
}

static void
gw_cache_remove(struct gw_file *f)
{
	struct gw_file **pp = &gw_static_cache[hash_fnv1a(f->urlpath) % GW_STATIC_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			gw_static_entries--;
			gw_file_release(f);
			return;
		}
	}
}

/* The file for urlpath, from the cache or the disk; the caller holds one
 * reference on it. */
static struct gw_file *
gw_static_lookup(const char *urlpath, const char *fspath)
{
	unsigned h = hash_fnv1a(urlpath) % GW_STATIC_BUCKETS;
	struct gw_file *f;
	long long now = time_mono_ms();

	for (f = gw_static_cache[h]; f != NULL; f = f->next)
		if (strcmp(f->urlpath, urlpath) == 0)
			break;
	if (f != NULL && now - f->checked_ms >= GW_STATIC_RECHECK_MS) {
		if (gw_file_stale(f, fspath)) {
			gw_cache_remove(f);
			f = NULL;
		} else {
			f->checked_ms = now;
		}
	}
	if (f == NULL) {
		if ((f = gw_file_load(urlpath, fspath)) == NULL)
			return NULL;
		if (gw_static_entries < GW_STATIC_MAX_ENTRIES) {
			f->next = gw_static_cache[h];
			gw_static_cache[h] = f;
			gw_static_entries++;
			f->refs++;
		}
		return f;
	}
	f->refs++;
	return f;
}

static bool
gw_accepts_gzip(const struct gw_request *r)
{
	const char *ae = gw_request_header(r, "Accept-Encoding");
	const char *g = ae ? strstr(ae, "gzip") : NULL;

	return g != NULL && strncmp(g + 4, ";q=0", 4) != 0;
}

static bool
gw_not_modified(const struct gw_request *r, const struct gw_file *f)
{
	const char *inm = gw_request_header(r, "If-None-Match");
	const char *ims = gw_request_header(r, "If-Modified-Since");
	struct tm tm = { 0 };

	if (inm != NULL)
		return strcmp(inm, "*") == 0 || strstr(inm, f->etag) != NULL;
	if (ims != NULL && strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL)
		return timegm(&tm) >= f->mtime;
	return false;
}

static void
gw_static_respond(struct gw_request *r, struct gw_file *f)
{
	bool gz = f->gz != NULL && gw_accepts_gzip(r);

	if (gw_not_modified(r, f)) {
		gw_response_start(r, 304);
		gw_response_header(r, "ETag", f->etag);
		gw_response_body(r, NULL, 0);
		gw_file_release(f);
		return;
	}
	gw_response_start(r, 200);
	gw_response_header(r, "Content-Type", f->ctype);
	gw_response_header(r, "ETag", f->etag);
	gw_response_header(r, "Last-Modified", f->lastmod);
	gw_response_header(r, "Cache-Control", "no-cache");
	if (f->gz != NULL)
		gw_response_header(r, "Vary", "Accept-Encoding");
	if (gz)
		gw_response_header(r, "Content-Encoding", "gzip");
	gw_response_body_ref(r, gz ? f->gz : f->data, gz ? f->gzlen : f->len,
	    gw_file_unref_cb, f);
}

void
gw_static_serve(struct gw_request *r)
{
	char fspath[PATH_MAX], urlpath[PATH_MAX];
	const char *root = r->conn->gw->conf->web_root;
	size_t plen = strlen(r->path);
	struct gw_file *f;

	/* The path is already decoded and free of "." and ".." segments. */
	snprintf(urlpath, sizeof(urlpath), "%s%s", r->path,
	    r->path[plen - 1] == '/' ? "index.html" : "");
	if ((size_t)snprintf(fspath, sizeof(fspath), "%s%s", root, urlpath) >= sizeof(fspath) ||
	    (f = gw_static_lookup(urlpath, fspath)) == NULL) {
		gw_respond_error(r, 404, "not_found", "No such file");
		return;
	}
	gw_static_respond(r, f);
}

void
gw_static_free(void)
{
	for (int i = 0; i < GW_STATIC_BUCKETS; i++) {
		while (gw_static_cache[i] != NULL)
			gw_cache_remove(gw_static_cache[i]);
	}
}
