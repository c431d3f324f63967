/* source.c - where a skill comes from: a local file or folder, a git
 * repository (libgit2), or the URL of a document (libcurl).
 *
 * Remote sources land in a fresh folder under <data>/skills/.incoming/,
 * reached through the tools' git_clone and download, whose host allow-list
 * is just the host the user named. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "skills_int.h"
#include "tools.h"

/* The document of a folder: SKILL.md, else an install document. */
static int pick_document(const char *dir, char **doc)
{
	static const char *const names[] = { "SKILL.md", "install.md", "INSTALL.md",
		"Install.md", "README.md", "readme.md", "Readme.md", NULL };
	char path[PATH_MAX];

	for (const char *const *n = names; *n; n++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, *n) >= (int)sizeof(path))
			break;
		if (access(path, R_OK) == 0) {
			*doc = strdup(path);
			return *doc ? 0 : skills_seterr(SKILLS_EIO, "out of memory");
		}
	}
	return skills_seterr(SKILLS_ENOTFOUND, "%s: no SKILL.md, install.md, INSTALL.md or "
			     "README.md in this folder", dir);
}

/* A bare git repository: HEAD, objects/ and refs/ and no work tree. */
static bool is_bare_repo(const char *dir)
{
	char p[PATH_MAX];
	struct stat sb;

	return snprintf(p, sizeof(p), "%s/HEAD", dir) < (int)sizeof(p) &&
	       stat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
	       snprintf(p, sizeof(p), "%s/objects", dir) < (int)sizeof(p) &&
	       stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	       snprintf(p, sizeof(p), "%s/refs", dir) < (int)sizeof(p) &&
	       stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_url(const char *s)
{
	return strstr(s, "://") != NULL || (strncmp(s, "git@", 4) == 0 && strchr(s, ':'));
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* The host of a URL, for the allow-list ("" for file://). */
static void url_host(const char *url, char *host, size_t cap)
{
	const char *p = strstr(url, "://"), *e;

	host[0] = '\0';
	if (p == NULL) {
		if (strncmp(url, "git@", 4) == 0) {
			e = strchr(url + 4, ':');
			snprintf(host, cap, "%.*s", e ? (int)(e - url - 4) : 0, url + 4);
		}
		return;
	}
	p += 3;
	if (strchr(p, '@') && strchr(p, '@') < p + strcspn(p, "/"))
		p = strchr(p, '@') + 1;
	if (*p == '[') {
		e = strchr(p, ']');
		snprintf(host, cap, "%.*s", e ? (int)(e - p - 1) : 0, p + 1);
		return;
	}
	snprintf(host, cap, "%.*s", (int)strcspn(p, ":/?#"), p);
}

int skills_fetch_source(const char *source, const char *data_dir, char **doc, char **dir)
{
	char incoming[PATH_MAX], host[256];
	struct tools_ctx_opts co = TOOLS_CTX_OPTS_INIT;
	struct tools_ctx *ctx = NULL;
	struct tools_result tr = { 0 };
	bool md;
	json_t *a;
	char *args;
	int rc;
	struct stat sb;
	char *local = NULL;

	*doc = *dir = NULL;
	if (!is_url(source)) {
		char real[PATH_MAX];

		if (stat(source, &sb) < 0)
			return skills_seterr(SKILLS_ENOTFOUND, "%s: %s", source, strerror(errno));
		if (realpath(source, real) == NULL)
			return skills_seterr(SKILLS_EIO, "%s: %s", source, strerror(errno));
		if (S_ISDIR(sb.st_mode) && is_bare_repo(real)) {
			source = local = strdup(real); /* cloned below, like a URL */
			if (local == NULL)
				return skills_seterr(SKILLS_EIO, "out of memory");
			goto remote;
		}
		if (S_ISDIR(sb.st_mode)) {
			if ((*dir = strdup(real)) == NULL)
				return skills_seterr(SKILLS_EIO, "out of memory");
			if ((rc = pick_document(real, doc)) < 0) {
				free(*dir);
				*dir = NULL;
			}
			return rc;
		}
		*doc = strdup(real);
		/* a SKILL.md brings its folder (scripts/, assets/) */
		if (ends_with(real, "/SKILL.md")) {
			real[strlen(real) - 9] = '\0';
			*dir = strdup(real);
		}
		return *doc ? 0 : skills_seterr(SKILLS_EIO, "out of memory");
	}

remote:
	/* remote (or a bare repository): a fresh folder for it */
	if (snprintf(incoming, sizeof(incoming), "%s/skills/.incoming", data_dir) >=
	    (int)sizeof(incoming) - 16) {
		free(local);
		return skills_seterr(SKILLS_EIO, "data dir path too long");
	}
	if ((rc = files_mkdirs(incoming, 0700)) < 0) {
		free(local);
		return rc;
	}
	strcat(incoming, "/src-XXXXXX");
	if (mkdtemp(incoming) == NULL) {
		free(local);
		return skills_seterr(SKILLS_EIO, "cannot create a folder in %s: %s", data_dir,
				     strerror(errno));
	}
	url_host(source, host, sizeof(host));
	co.policy.workspace = incoming;
	if (host[0])
		co.hosts[co.n_hosts++] = host;
	co.approval = TOOLS_APPROVAL_AUTO;
	if (tools_ctx_open(&ctx, &co) < 0) {
		rc = skills_seterr(SKILLS_EIO, "%s", tools_errmsg());
		goto fail;
	}
	md = (strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0) &&
	     ends_with(source, ".md");
	a = json_object();
	json_object_set_new(a, "url", json_string(source));
	if (md) {
		const char *base = strrchr(source, '/');

		json_object_set_new(a, "path", json_string(base && base[1] ? base + 1 : "SKILL.md"));
	} else {
		json_object_set_new(a, "path", json_string("repo"));
	}
	args = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	rc = tools_call(ctx, md ? "download" : "git_clone", args, &tr);
	free(args);
	tools_result_clear(&tr);
	tools_ctx_close(ctx);
	if (rc < 0) {
		rc = skills_seterr(SKILLS_EIO, "cannot fetch %s: %s", source, tools_errmsg());
		goto fail;
	}
	if (md) {
		const char *base = strrchr(source, '/');
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", incoming, base && base[1] ? base + 1 : "SKILL.md");
		*doc = strdup(path);
		*dir = strdup(incoming);
	} else {
		char repo[PATH_MAX];

		snprintf(repo, sizeof(repo), "%s/repo", incoming);
		if ((rc = pick_document(repo, doc)) < 0)
			goto fail;
		*dir = strdup(repo);
	}
	if (*doc == NULL || *dir == NULL) {
		rc = skills_seterr(SKILLS_EIO, "out of memory");
		goto fail;
	}
	free(local);
	return 0;
fail:
	free(*doc);
	free(*dir);
	*doc = *dir = NULL;
	files_rm_tree(incoming);
	free(local);
	return rc;
}

void skills_discard_source(const char *dir, const char *data_dir)
{
	char incoming[PATH_MAX];
	size_t n;

	if (dir == NULL)
		return;
	n = (size_t)snprintf(incoming, sizeof(incoming), "%s/skills/.incoming/", data_dir);
	if (n < sizeof(incoming) && strncmp(dir, incoming, n) == 0) {
		char top[PATH_MAX];

		/* the src-XXXXXX folder itself */
		snprintf(top, sizeof(top), "%.*s", (int)(n + strcspn(dir + n, "/")), dir);
		files_rm_tree(top);
	}
}
