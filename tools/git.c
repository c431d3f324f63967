/* git.c - git_clone through libgit2: remote URLs only to allowed hosts
 * (redirects not followed, so the allow-list holds), local paths always;
 * optionally checked out at a pinned commit, detached. */
#include <git2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tools_int.h"

/* The host of a remote URL (scheme://[user@]host[:port]/... or scp-like
 * [user@]host:path), or "" for a local one. */
static int url_host(const char *url, char *host, size_t cap)
{
	const char *p = strstr(url, "://"), *end;

	host[0] = '\0';
	if (url[0] == '/' || strncmp(url, "file://", 7) == 0)
		return 0;
	if (p) {
		if (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7) &&
		    strncasecmp(url, "ssh://", 6) && strncasecmp(url, "git://", 6))
			return tools_seterr(TOOLS_EDENIED, "'%s': unsupported URL scheme", url);
		p += 3;
	} else if (strchr(url, ':')) {
		p = url; /* scp-like */
	} else {
		return tools_seterr(TOOLS_EINVAL, "'%s' is neither a URL nor an absolute "
				    "path", url);
	}
	end = p + strcspn(p, "/");
	{
		const char *at = memchr(p, '@', (size_t)(end - p));

		if (at)
			p = at + 1;
	}
	if (*p == '[') { /* IPv6 literal */
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb == NULL)
			return tools_seterr(TOOLS_EINVAL, "'%s' is not a valid URL", url);
		p++;
		end = rb;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon)
			end = colon;
	}
	if (end == p || (size_t)(end - p) >= cap)
		return tools_seterr(TOOLS_EINVAL, "'%s' has no usable host", url);
	memcpy(host, p, (size_t)(end - p));
	host[end - p] = '\0';
	return 0;
}

static int giterr(const char *what)
{
	const git_error *e = git_error_last();

	return tools_seterr(TOOLS_EIO, "%s: %s", what, e && e->message ? e->message : "failed");
}

int git_clone_to(const char *url, const char *dest, const char *commit,
		 const char *const *hosts, size_t n_hosts, char *head, size_t headcap)
{
	git_clone_options o;
	git_repository *repo = NULL;
	git_object *obj = NULL;
	git_checkout_options co;
	char host[256];
	const git_oid *id;
	int rc;

	if ((rc = url_host(url, host, sizeof(host))) < 0)
		return rc;
	if (host[0] && !net_host_allowed(host, hosts, n_hosts))
		return tools_seterr(TOOLS_EDENIED, "host '%s' is not on the allow-list "
				    "(policy hosts)", host);
	git_libgit2_init();
	git_clone_options_init(&o, GIT_CLONE_OPTIONS_VERSION);
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	o.fetch_opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	if (git_clone(&repo, url, dest, &o) < 0) {
		rc = giterr("git clone");
		goto out;
	}
	if (commit && *commit) {
		git_object *any = NULL;
		int prc = git_revparse_single(&any, repo, commit);

		if (prc == 0)
			prc = git_object_peel(&obj, any, GIT_OBJECT_COMMIT);
		git_object_free(any);
		if (prc < 0) {
			rc = tools_seterr(TOOLS_ENOTFOUND, "commit '%s' is not in %s", commit, url);
			goto out;
		}
		co.checkout_strategy = GIT_CHECKOUT_FORCE;
		if (git_checkout_tree(repo, obj, &co) < 0 ||
		    git_repository_set_head_detached(repo, git_object_id(obj)) < 0) {
			rc = giterr("checking out the pinned commit");
			goto out;
		}
	}
	{
		git_reference *ref = NULL;

		if (git_repository_head(&ref, repo) == 0 && (id = git_reference_target(ref)))
			git_oid_tostr(head, headcap, id);
		git_reference_free(ref);
	}
	rc = 0;
out:
	git_object_free(obj);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
