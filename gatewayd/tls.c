/* TLS for the client-facing listener: the SSL_CTX built from [http]
 * tls_cert_file and tls_key_file (TLS 1.2 or later, AEAD suites only),
 * its replacement on SIGHUP, the server side of each connection (a
 * libevent OpenSSL bufferevent), and the plain redirect port that sends
 * every request to https://. */
#include "gatewayd.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

/* Fills why with "what: OpenSSL's reason" and empties OpenSSL's queue. */
static void
gw_tls_why(char *why, size_t len, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[160] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	snprintf(why, len, "%s: %s", what, reason);
	ERR_clear_error();
}

/* A private key others may read is a leaked key waiting to happen: said
 * at start and on every reload, but not refused (the operator decides). */
static void
gw_tls_check_key_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0)
		log_warnx("tls: %s is accessible to every user; chmod 600 it", path);
}

static int
gw_tls_ctx_setup(SSL_CTX *ctx, const struct gw_conf *conf, char *why, size_t len)
{
	char what[1200];

	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_min_proto_version(ctx,
	    conf->tls_min_version == 1 ? TLS1_3_VERSION : TLS1_2_VERSION)) {
		gw_tls_why(why, len, "tls: cannot set the minimum version");
		return -1;
	}
	if (!SSL_CTX_set_cipher_list(ctx, conf->tls_ciphers)) {
		gw_tls_why(why, len, "tls: tls_ciphers names no usable cipher");
		return -1;
	}
	if (!SSL_CTX_use_certificate_chain_file(ctx, conf->tls_cert_file)) {
		snprintf(what, sizeof(what), "tls: cannot load %s", conf->tls_cert_file);
		gw_tls_why(why, len, what);
		return -1;
	}
	if (!SSL_CTX_use_PrivateKey_file(ctx, conf->tls_key_file, SSL_FILETYPE_PEM) ||
	    !SSL_CTX_check_private_key(ctx)) {
		snprintf(what, sizeof(what), "tls: cannot use the key %s", conf->tls_key_file);
		gw_tls_why(why, len, what);
		return -1;
	}
	return 0;
}

/* A new context from conf's files, or NULL with why. */
static SSL_CTX *
gw_tls_ctx_new(const struct gw_conf *conf, char *why, size_t len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		gw_tls_why(why, len, "tls: cannot create a context");
		return NULL;
	}
	gw_tls_check_key_mode(conf->tls_key_file);
	if (gw_tls_ctx_setup(ctx, conf, why, len) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
gw_tls_init(struct gw *gw, char *why, size_t whylen)
{
	const struct gw_conf *conf = gw->conf;
	bool cert = *conf->tls_cert_file != '\0', key = *conf->tls_key_file != '\0';

	if (cert != key) {
		snprintf(why, whylen, "tls: tls_cert_file and tls_key_file go together");
		return -1;
	}
	if (!cert && conf->redirect_port != 0) {
		snprintf(why, whylen, "tls: redirect_port needs tls_cert_file");
		return -1;
	}
	if (conf->redirect_port == conf->http_port) {
		snprintf(why, whylen, "tls: redirect_port is the HTTPS port");
		return -1;
	}
	if (!cert)
		return 0;
	if ((gw->tls_ctx = gw_tls_ctx_new(conf, why, whylen)) == NULL)
		return -1;
	log_info("tls: loaded %s", conf->tls_cert_file);
	return 0;
}

void
gw_tls_reload(struct gw *gw)
{
	char why[512];
	SSL_CTX *ctx;

	if (gw->tls_ctx == NULL)
		return;			/* TLS is turned on by a restart */
	if ((ctx = gw_tls_ctx_new(gw->conf, why, sizeof(why))) == NULL) {
		log_warnx("reload: %s; keeping the previous certificate", why);
		return;
	}
	SSL_CTX_free(gw->tls_ctx);	/* open connections hold their own reference */
	gw->tls_ctx = ctx;
	log_info("reload: tls: loaded %s", gw->conf->tls_cert_file);
}

void
gw_tls_free(struct gw *gw)
{
	SSL_CTX_free(gw->tls_ctx);
	gw->tls_ctx = NULL;
}

struct bufferevent *
gw_tls_bufferevent(struct gw *gw, evutil_socket_t fd)
{
	SSL *ssl = SSL_new(gw->tls_ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	/* With BEV_OPT_CLOSE_ON_FREE the bufferevent frees ssl. */
	bev = bufferevent_openssl_socket_new(gw->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	/* A client that closes TCP without close_notify has still sent its
	 * request: an end of input, as on a plain connection. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void
gw_tls_shutdown(struct gw_conn *c)
{
	SSL *ssl = c->gw->tls_ctx != NULL ? bufferevent_openssl_get_ssl(c->bev) : NULL;

	if (ssl != NULL && SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);	/* best effort: the socket is writable */
	ERR_clear_error();
}

/* The Host header without its port, or NULL when it is not a plain host
 * name, IPv4 address or [IPv6] literal. */
static char *
gw_tls_redirect_host(const char *host)
{
	size_t n;

	if (host == NULL || *host == '\0')
		return NULL;
	if (host[0] == '[')
		n = strcspn(host, "]") + 1;
	else
		n = strcspn(host, ":");
	if (n > 255 || (host[0] == '[' && host[n - 1] != ']'))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(host[i] >= 'a' && host[i] <= 'z') && !(host[i] >= 'A' && host[i] <= 'Z') &&
		    !(host[i] >= '0' && host[i] <= '9') && strchr(".-[]:", host[i]) == NULL)
			return NULL;
	return strndup(host, n);
}

/* 301 for GET and HEAD; 308 for the rest, which keeps method and body. */
void
gw_tls_redirect(struct gw_request *r)
{
	struct gw *gw = r->conn->gw;
	char *host = gw_tls_redirect_host(gw_request_header(r, "Host")), *loc;
	char port[16] = "";
	int status = strcmp(r->method, "GET") == 0 || r->head ? 301 : 308;

	r->keep_alive = false;
	if (host == NULL) {
		gw_respond_error(r, 400, "bad_host", "A Host header is needed to redirect");
		return;
	}
	if (gw->conf->http_port != 443)
		snprintf(port, sizeof(port), ":%lld", gw->conf->http_port);
	if (asprintf(&loc, "https://%s%s%s", host, port, r->url) < 0) {
		free(host);
		gw_respond_error(r, 503, "busy", "Cannot answer now");
		return;
	}
	gw_respond_error_with(r, status, "use_https", "This server answers over HTTPS",
	    "Location", loc);
	free(loc);
	free(host);
}
