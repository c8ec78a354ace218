/* Outgoing mail: plain-text messages over SMTP with libcurl.
 *
 * Each mail is sent by a blocking curl_easy_perform on one dedicated worker
 * thread (its own workpool, separate from the password hashers), not by
 * libcurl's multi interface driven by libevent. Mail is rare (a reset
 * link, a verification link) and one transaction at a time is plenty; the
 * worker costs a fraction of the code of wiring multi's socket and timer
 * callbacks into the loop, and keeps what matters: the loop never waits on
 * DNS, connect or the SMTP dialogue. The queue is bounded; a full queue
 * refuses the mail and the caller decides what the client hears. A slow
 * server only delays the mails behind it, each bounded by [mail]
 * timeout_ms.
 *
 * Everything a send needs (URL, addresses, the whole message) is copied
 * into the job on the loop thread, so the worker touches no configuration
 * and every [mail] option can be reloaded. */
#include "authd.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "secret.h"
#include "workpool.h"

#define AUTH_MAIL_THREADS 1
#define AUTH_MAIL_QUEUE 256
#define AUTH_MAIL_MAX_ADDR 320

/* One mail; owned by the pending list from auth_mail_send until its
 * completion runs on the loop (or auth_mail_fini frees it). */
struct auth_mail {
	struct auth_mail *prev, *next;
	char *url;
	char *from;			/* envelope sender, bare address */
	char *to;
	char *what;			/* for the log: never the token */
	char *msg;			/* headers and body, CRLF lines */
	size_t len, off;
	long timeout_ms;
	CURLcode rc;			/* set by the worker */
	long smtp_code;
	char err[CURL_ERROR_SIZE];
};

static struct workpool *auth_mailers;
/* [mail] password_file's password, read at start; the workers only read
 * it, and it is wiped once they have stopped. */
static char auth_mail_password[513];
static struct auth_mail *auth_mail_pending;
static atomic_bool auth_mail_stopping;

static void
auth_mail_free(struct auth_mail *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else if (auth_mail_pending == m)
		auth_mail_pending = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	if (m->msg != NULL) {
		sodium_memzero(m->msg, m->len);	/* it holds a live token */
		free(m->msg);
	}
	free(m->url), free(m->from), free(m->to), free(m->what);
	free(m);
}

/* libcurl pulls the message through this, on the worker. */
static size_t
auth_mail_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct auth_mail *m = arg;
	size_t n = m->len - m->off, room = size * nmemb;	/* size is 1 */

	if (n > room)
		n = room;
	memcpy(buf, m->msg + m->off, n);
	m->off += n;
	return n;
}

/* Aborts a transfer in progress when the daemon stops. */
static int
auth_mail_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&auth_mail_stopping) ? 1 : 0;
}

/* Worker thread: one SMTP transaction. */
static void
auth_mail_work(void *arg)
{
	struct auth_mail *m = arg;
	struct curl_slist *rcpt = NULL;
	CURL *c;

	if (atomic_load(&auth_mail_stopping)) {
		m->rc = CURLE_ABORTED_BY_CALLBACK;
		return;
	}
	if ((c = curl_easy_init()) == NULL ||
	    (rcpt = curl_slist_append(NULL, m->to)) == NULL) {
		m->rc = CURLE_OUT_OF_MEMORY;
		curl_easy_cleanup(c);
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, m->url);
	if (auth_mail_password[0] != '\0')
		curl_easy_setopt(c, CURLOPT_PASSWORD, auth_mail_password);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, m->from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, auth_mail_read);
	curl_easy_setopt(c, CURLOPT_READDATA, m);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);	/* threads and signals */
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, auth_mail_progress);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, m->err);
	m->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &m->smtp_code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
}

/* Loop thread: the outcome goes to the log, nowhere else. */
static void
auth_mail_done(void *arg)
{
	struct auth_mail *m = arg;

	if (m->rc == CURLE_OK)
		log_info("mail sent: %s", m->what);
	else
		log_warnx("mail not sent: %s: %s (SMTP %ld)", m->what,
		    m->err[0] != '\0' ? m->err : curl_easy_strerror(m->rc), m->smtp_code);
	auth_mail_free(m);
}

/* The bare address of a From value: "Name <a@b>" gives "a@b", "a@b" itself.
 * NULL when out of memory or when it does not look like one address. */
static char *
auth_mail_addr(const char *from)
{
	const char *lt = strrchr(from, '<'), *gt;
	size_t n;

	if (lt != NULL) {
		if ((gt = strchr(lt, '>')) == NULL)
			return NULL;
		from = lt + 1;
		n = (size_t)(gt - from);
	} else {
		from += strspn(from, " ");
		n = strcspn(from, " ");
	}
	if (n == 0 || n > AUTH_MAIL_MAX_ADDR || memchr(from, '@', n) == NULL)
		return NULL;
	return strndup(from, n);
}

/* A header value must not end the header: no CR or LF (injection). */
static bool
auth_mail_header_ok(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

/* Headers and body with CRLF line ends; NULL when out of memory. */
static char *
auth_mail_compose(const char *from_addr, const char *to, const char *subject,
    const char *body, size_t *lenp)
{
	const char *domain = strchr(from_addr, '@') + 1;
	unsigned char rnd[16];
	char date[64], id[33], *msg, *p;
	time_t now = time(NULL);
	struct tm tm;
	size_t cap;
	int n;

	gmtime_r(&now, &tm);
	/* RFC 5322 date; LC_TIME stays "C", so the names are English. */
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(id, sizeof(id), rnd, sizeof(rnd));
	cap = 512 + strlen(authd.conf->mail_from) + strlen(to) + strlen(subject) +
	    strlen(domain) + 2 * strlen(body);
	if ((msg = malloc(cap)) == NULL)
		return NULL;
	n = snprintf(msg, cap, "Date: %s\r\nFrom: %s\r\nTo: <%s>\r\nSubject: %s\r\n"
	    "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n",
	    date, authd.conf->mail_from, to, subject, id, domain);
	if (n < 0 || (size_t)n >= cap) {
		free(msg);
		return NULL;
	}
	/* libcurl dot-stuffs the body; it only needs CRLF line ends. */
	for (p = msg + n; *body != '\0'; body++) {
		if (*body == '\n')
			*p++ = '\r';
		if (*body != '\r')
			*p++ = *body;
	}
	*lenp = (size_t)(p - msg);
	return msg;
}

static bool
auth_mail_url_ok(const char *url)
{
	return strncmp(url, "smtp://", 7) == 0 || strncmp(url, "smtps://", 8) == 0;
}

int
auth_mail_send(const char *to, const char *subject, const char *body, const char *what)
{
	const char *url = authd.conf->mail_smtp_url;
	struct auth_mail *m;
	char *from;

	if (!auth_mail_url_ok(url)) {
		log_warnx("mail is off ([mail] smtp_url is empty or not smtp/smtps): "
		    "%s not sent", what);
		return 0;
	}
	if (!auth_mail_header_ok(to) || !auth_mail_header_ok(subject) ||
	    !auth_mail_header_ok(authd.conf->mail_from) || strlen(to) > AUTH_MAIL_MAX_ADDR ||
	    (from = auth_mail_addr(authd.conf->mail_from)) == NULL) {
		log_warnx("mail not sent: %s: bad recipient or [mail] from", what);
		return -1;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		free(from);
		return -1;
	}
	m->from = from;
	m->timeout_ms = (long)authd.conf->mail_timeout_ms;
	if ((m->url = strdup(url)) == NULL || (m->to = strdup(to)) == NULL ||
	    (m->what = strdup(what)) == NULL ||
	    (m->msg = auth_mail_compose(from, to, subject, body, &m->len)) == NULL) {
		log_warnx("mail not sent: %s: out of memory", what);
		auth_mail_free(m);
		return -1;
	}
	if (workpool_submit(auth_mailers, auth_mail_work, auth_mail_done, m) < 0) {
		log_warnx("mail not sent: %s: %d mails already queued", what, AUTH_MAIL_QUEUE);
		auth_mail_free(m);
		return -1;
	}
	if ((m->next = auth_mail_pending) != NULL)
		m->next->prev = m;
	auth_mail_pending = m;
	return 0;
}

char *
auth_mail_link(const char *path, const char *token)
{
	const char *base = authd.conf->mail_link_base;
	size_t n = strlen(base);
	char *out;

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (asprintf(&out, "%.*s%s?token=%s", (int)n, base, path, token) < 0)
		return NULL;
	return out;
}

int
auth_mail_init(void)
{
	char *addr;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("libcurl failed to initialise");
		return -1;
	}
	if ((addr = auth_mail_addr(authd.conf->mail_from)) == NULL) {
		log_warnx("[mail] from holds no address: %s", authd.conf->mail_from);
		curl_global_cleanup();
		return -1;
	}
	free(addr);
	if (*authd.conf->mail_password_file != '\0' &&
	    secret_file_read(authd.conf->mail_password_file, auth_mail_password,
	    sizeof(auth_mail_password), "[mail] password_file") < 0) {
		curl_global_cleanup();
		return -1;
	}
	if (*authd.conf->mail_smtp_url == '\0')
		log_warnx("mail is off ([mail] smtp_url is empty): reset and "
		    "verification links are not sent");
	else if (!auth_mail_url_ok(authd.conf->mail_smtp_url))
		log_warnx("[mail] smtp_url must start with smtp:// or smtps://; mail is off");
	atomic_store(&auth_mail_stopping, false);
	auth_mailers = workpool_new(svc_base(authd.svc), AUTH_MAIL_THREADS, AUTH_MAIL_QUEUE);
	return 0;
}

/* Stops at once: a transfer in progress is aborted, queued mails are
 * dropped (and logged). */
void
auth_mail_fini(void)
{
	atomic_store(&auth_mail_stopping, true);
	workpool_free(auth_mailers);
	auth_mailers = NULL;
	while (auth_mail_pending != NULL) {
		log_warnx("mail not sent: %s: shutting down", auth_mail_pending->what);
		auth_mail_free(auth_mail_pending);
	}
	sodium_memzero(auth_mail_password, sizeof(auth_mail_password));
	curl_global_cleanup();
}
