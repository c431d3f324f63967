/* http.c - http_get and download through libcurl, held to the policy's
 * host allow-list.
 *
 * Invariants:
 *  1. libcurl never follows a redirect itself: each Location is parsed
 *     and its host checked against the allow-list before it is fetched
 *     (at most HTTP_MAX_REDIRECTS hops); only http and https are spoken.
 *  2. The body is bounded by max_bytes (the transfer is aborted past it)
 *     and the whole exchange by timeout_ms.
 *  3. The sha256 covers exactly the bytes of the final response; each
 *     redirect hop starts the sink and the digest afresh. */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "halo_config.h"
#include "tools_int.h"

#define HTTP_MAX_REDIRECTS 5

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

bool net_host_allowed(const char *host, const char *const *hosts, size_t n)
{
	size_t hl = strlen(host);

	for (size_t i = 0; i < n; i++) {
		const char *h = hosts[i];

		if (h == NULL)
			continue;
		if (strncmp(h, "*.", 2) == 0) {
			size_t sl = strlen(h + 1); /* ".example.com" */

			if (hl > sl && strcasecmp(host + hl - sl, h + 1) == 0)
				return true;
		} else if (strcasecmp(host, h) == 0) {
			return true;
		}
	}
	return false;
}

/* Invariant 1: http(s) and an allowed host, or a TOOLS_EDENIED. */
static int check_url(const char *url, const char *const *hosts, size_t n)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = 0;

	if (u == NULL)
		return tools_seterr(TOOLS_EIO, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = tools_seterr(TOOLS_EINVAL, "'%s' is not a valid URL", url);
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		rc = tools_seterr(TOOLS_EDENIED, "'%s': only http and https are allowed", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = tools_seterr(TOOLS_EINVAL, "'%s' has no host", url);
		goto out;
	}
	if (!net_host_allowed(host, hosts, n))
		rc = tools_seterr(TOOLS_EDENIED, "host '%s' is not on the allow-list "
				  "(policy hosts)", host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

struct sink {
	struct http_req *req;
	EVP_MD_CTX *md;
	char *buf;
	size_t len, cap;
	bool over;
	int werr;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (s->req->bytes + n > s->req->max_bytes) {
		s->over = true;
		return 0; /* aborts the transfer */
	}
	if (s->req->fd >= 0) {
		size_t done = 0;

		while (done < n) {
			ssize_t w = write(s->req->fd, data + done, n - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				s->werr = errno;
				return 0;
			}
			done += (size_t)w;
		}
	} else {
		if (s->len + n + 1 > s->cap) {
			size_t nc = s->cap ? s->cap : 65536;
			char *nb;

			while (nc < s->len + n + 1)
				nc *= 2;
			nb = realloc(s->buf, nc);
			if (nb == NULL)
				return 0;
			s->buf = nb;
			s->cap = nc;
		}
		memcpy(s->buf + s->len, data, n);
		s->len += n;
	}
	EVP_DigestUpdate(s->md, data, n);
	s->req->bytes += n;
	return n;
}

static int reset_sink(struct sink *s)
{
	s->len = 0;
	s->req->bytes = 0;
	if (s->req->fd >= 0 && (ftruncate(s->req->fd, 0) < 0 ||
				lseek(s->req->fd, 0, SEEK_SET) < 0))
		return -1;
	return EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int http_fetch(struct http_req *req)
{
	struct sink s = { .req = req };
	char url[sizeof(req->final_url)], errbuf[CURL_ERROR_SIZE];
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	CURL *c = NULL;
	int rc;

	pthread_once(&curl_once, curl_init_once);
	req->body = NULL;
	req->bytes = 0;
	req->status = 0;
	req->redirects = 0;
	req->sha256[0] = '\0';
	if (strlen(req->url) >= sizeof(url))
		return tools_seterr(TOOLS_EINVAL, "the URL is too long");
	strcpy(url, req->url);
	s.md = EVP_MD_CTX_new();
	c = curl_easy_init();
	if (s.md == NULL || c == NULL) {
		rc = tools_seterr(TOOLS_EIO, "out of memory");
		goto out;
	}
	for (;;) {
		char *loc = NULL;
		CURLcode cc;

		if ((rc = check_url(url, req->hosts, req->n_hosts)) < 0)
			goto out;
		if (reset_sink(&s) < 0) {
			rc = tools_seterr(TOOLS_EIO, "resetting the download: %s", strerror(errno));
			goto out;
		}
		curl_easy_reset(c);
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_bytes);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "halo-agent/" HALO_VERSION);
		curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
		cc = curl_easy_perform(c);
		if (s.over || cc == CURLE_FILESIZE_EXCEEDED) {
			rc = tools_seterr(TOOLS_EINVAL, "%s: the response exceeds the %llu-byte "
					  "limit", url, (unsigned long long)req->max_bytes);
			goto out;
		}
		if (s.werr) {
			rc = tools_seterr(TOOLS_EIO, "writing the download: %s", strerror(s.werr));
			goto out;
		}
		if (cc != CURLE_OK) {
			rc = tools_seterr(TOOLS_EIO, "%s: %s", url,
					  errbuf[0] ? errbuf : curl_easy_strerror(cc));
			goto out;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &req->status);
		if (req->status >= 300 && req->status < 400 &&
		    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
			if (++req->redirects > HTTP_MAX_REDIRECTS) {
				rc = tools_seterr(TOOLS_EIO, "more than %d redirects from %s",
						  HTTP_MAX_REDIRECTS, req->url);
				goto out;
			}
			if (strlen(loc) >= sizeof(url)) {
				rc = tools_seterr(TOOLS_EINVAL, "a redirect URL is too long");
				goto out;
			}
			strcpy(url, loc); /* checked at the top of the loop */
			continue;
		}
		break;
	}
	snprintf(req->final_url, sizeof(req->final_url), "%s", url);
	if (req->status >= 400) {
		rc = tools_seterr(TOOLS_EIO, "%s: HTTP %ld", url, req->status);
		goto out;
	}
	EVP_DigestFinal_ex(s.md, dig, &dlen);
	for (unsigned i = 0; i < dlen && i < 32; i++)
		snprintf(req->sha256 + 2 * i, 3, "%02x", dig[i]);
	if (req->fd < 0) {
		if (s.buf == NULL)
			s.buf = malloc(1);
		if (s.buf == NULL) {
			rc = tools_seterr(TOOLS_EIO, "out of memory");
			goto out;
		}
		s.buf[s.len] = '\0';
		req->body = s.buf;
		s.buf = NULL;
	}
	rc = 0;
out:
	free(s.buf);
	EVP_MD_CTX_free(s.md);
	curl_easy_cleanup(c);
	return rc;
}
