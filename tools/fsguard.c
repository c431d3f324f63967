/* fsguard.c - the file tools' confinement: every path resolves beneath the
 * workspace or is refused.
 *
 * Invariants:
 *  1. Every lookup starts from an O_PATH descriptor of the workspace and
 *     goes through openat2 with RESOLVE_BENEATH (no "..", no absolute
 *     symlink, no symlink leaving it), RESOLVE_NO_MAGICLINKS (no /proc
 *     fd/cwd/root links) and RESOLVE_NO_XDEV (no crossing into another
 *     mount).  Absolute paths are accepted only when they name something
 *     under the workspace's real path; they are turned into relative ones.
 *  2. Only regular files are read or written, and never one with more than
 *     one hard link: a link could share its inode with a file outside.
 *  3. Writes go to a temporary file in the same directory, renamed over
 *     the target (which is never followed if it is a symlink: it is
 *     replaced, so nothing outside can be written through it).
 *  4. Sizes are bounded: max_file for reads and writes, max entries for
 *     listings. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tools_int.h"

#define FSG_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
#define FSG_MAX_DEPTH 64

int fsg_open(struct fsg *g, const char *workspace, size_t max_file)
{
	char real[PATH_MAX];

	memset(g, 0, sizeof(*g));
	g->wsfd = -1;
	if (workspace == NULL || realpath(workspace, real) == NULL)
		return tools_seterr(TOOLS_EINVAL, "workspace '%s': %s",
				    workspace ? workspace : "(null)", strerror(errno));
	if (strlen(real) >= sizeof(g->root) || strcmp(real, "/") == 0)
		return tools_seterr(TOOLS_EINVAL, "workspace '%s' is not usable", workspace);
	g->wsfd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (g->wsfd < 0)
		return tools_seterr(TOOLS_EINVAL, "workspace '%s': %s", workspace,
				    strerror(errno));
	strcpy(g->root, real);
	g->max_file = max_file ? max_file : (4u << 20);
	return 0;
}

void fsg_close(struct fsg *g)
{
	if (g && g->wsfd >= 0) {
		close(g->wsfd);
		g->wsfd = -1;
	}
}

/* Invariant 1: the path relative to the workspace, into out. */
static int rel_path(const struct fsg *g, const char *path, char *out, size_t cap)
{
	size_t n = strlen(g->root);

	if (path == NULL || *path == '\0')
		return tools_seterr(TOOLS_EINVAL, "the path is empty");
	if (path[0] == '/') {
		if (strncmp(path, g->root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
			return tools_seterr(TOOLS_EDENIED, "'%s' is outside the workspace %s",
					    path, g->root);
		path += n;
		while (*path == '/')
			path++;
		if (*path == '\0')
			path = ".";
	}
	if (strlen(path) >= cap)
		return tools_seterr(TOOLS_EINVAL, "the path is too long");
	strcpy(out, path);
	return 0;
}

static int resolve_err(const char *path, int e)
{
	switch (e) {
	case EXDEV:
	case ELOOP:
		return tools_seterr(TOOLS_EDENIED, "'%s' resolves outside the workspace "
				    "(through '..', a symlink, a mount or /proc)", path);
	case ENOENT:
		return tools_seterr(TOOLS_ENOTFOUND, "'%s' does not exist", path);
	case ENOTDIR:
		return tools_seterr(TOOLS_EINVAL, "a component of '%s' is not a directory", path);
	case EISDIR:
		return tools_seterr(TOOLS_EINVAL, "'%s' is a directory", path);
	case EACCES:
	case EPERM:
		return tools_seterr(TOOLS_EDENIED, "'%s': permission denied", path);
	default:
		return tools_seterr(TOOLS_EIO, "'%s': %s", path, strerror(e));
	}
}

static int open_beneath(int dirfd, const char *rel, uint64_t flags, uint64_t mode)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .mode = mode,
				.resolve = FSG_RESOLVE };
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

/* Split rel into its parent directory (opened beneath, as an O_PATH fd,
 * created when mkdirs) and its last component. */
static int open_parent(const struct fsg *g, const char *user, const char *rel,
		       bool mkdirs, int *dirfd, char *base, size_t bcap)
{
	char dir[SBX_PATH];
	const char *slash = strrchr(rel, '/');
	const char *b = slash ? slash + 1 : rel;
	int fd;

	if (*b == '\0' || strcmp(b, ".") == 0 || strcmp(b, "..") == 0 || strlen(b) >= bcap)
		return tools_seterr(TOOLS_EINVAL, "'%s' does not name a file", user);
	strcpy(base, b);
	if (slash == NULL) {
		strcpy(dir, ".");
	} else {
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = '\0';
		if (dir[0] == '\0')
			strcpy(dir, ".");
	}
	fd = open_beneath(g->wsfd, dir, O_PATH | O_DIRECTORY, 0);
	if (fd == -ENOENT && mkdirs) {
		/* create each missing component beneath, one at a time */
		char part[SBX_PATH];
		size_t depth = 0;

		for (char *p = dir;; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			if (++depth > FSG_MAX_DEPTH)
				return tools_seterr(TOOLS_EINVAL, "'%s' is nested too deep", user);
			memcpy(part, dir, (size_t)(p - dir));
			part[p - dir] = '\0';
			fd = open_beneath(g->wsfd, part, O_PATH | O_DIRECTORY, 0);
			if (fd == -ENOENT) {
				const char *ls = strrchr(part, '/');
				char pdir[SBX_PATH];
				int pfd;

				snprintf(pdir, sizeof(pdir), "%.*s", ls ? (int)(ls - part) : 1,
					 ls ? part : ".");
				pfd = open_beneath(g->wsfd, pdir, O_PATH | O_DIRECTORY, 0);
				if (pfd < 0)
					return resolve_err(user, -pfd);
				if (mkdirat(pfd, ls ? ls + 1 : part, 0755) < 0 && errno != EEXIST) {
					int e = errno;

					close(pfd);
					return resolve_err(user, e);
				}
				close(pfd);
				fd = open_beneath(g->wsfd, part, O_PATH | O_DIRECTORY, 0);
			}
			if (fd < 0)
				return resolve_err(user, -fd);
			if (*p == '\0')
				break;
			close(fd);
		}
	}
	if (fd < 0)
		return resolve_err(user, -fd);
	*dirfd = fd;
	return 0;
}

/* Invariant 2, for an open descriptor. */
static int check_regular(const char *path, int fd, struct stat *st)
{
	if (fstat(fd, st) < 0)
		return tools_seterr(TOOLS_EIO, "'%s': %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return tools_seterr(TOOLS_EINVAL, "'%s' is not a regular file", path);
	if (st->st_nlink > 1)
		return tools_seterr(TOOLS_EDENIED, "'%s' has %lu hard links; refusing "
				    "(it may be a file outside the workspace)", path,
				    (unsigned long)st->st_nlink);
	return 0;
}

int fsg_read(const struct fsg *g, const char *path, uint64_t offset, size_t max,
	     char **out, size_t *len, uint64_t *size)
{
	char rel[SBX_PATH];
	struct stat st;
	char *buf = NULL;
	size_t want, got = 0;
	int fd, rc;

	*out = NULL;
	*len = 0;
	if ((rc = rel_path(g, path, rel, sizeof(rel))) < 0)
		return rc;
	fd = open_beneath(g->wsfd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (fd < 0)
		return resolve_err(path, -fd);
	if ((rc = check_regular(path, fd, &st)) < 0)
		goto out;
	*size = (uint64_t)st.st_size;
	if (max == 0 || max > g->max_file)
		max = g->max_file;
	want = offset >= (uint64_t)st.st_size ? 0 :
		((uint64_t)st.st_size - offset < max ? (size_t)(st.st_size - (off_t)offset) : max);
	buf = malloc(want + 1);
	if (buf == NULL) {
		rc = tools_seterr(TOOLS_EIO, "out of memory");
		goto out;
	}
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, (off_t)(offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tools_seterr(TOOLS_EIO, "reading '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* The existing target, if any, must be a single-link regular file or a
 * symlink (which the rename replaces without following). */
static int check_target(const char *path, int dirfd, const char *base)
{
	struct stat st;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : resolve_err(path, errno);
	if (S_ISLNK(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode))
		return tools_seterr(TOOLS_EINVAL, "'%s' exists and is not a regular file", path);
	if (st.st_nlink > 1)
		return tools_seterr(TOOLS_EDENIED, "'%s' has %lu hard links; refusing "
				    "(it may be a file outside the workspace)", path,
				    (unsigned long)st.st_nlink);
	return 0;
}

int fsg_tmp_create(const struct fsg *g, const char *path, bool mkdirs,
		   int *dirfd, char *tmp, size_t tmpcap)
{
	char rel[SBX_PATH], base[256];
	int rc, fd = -1, dfd = -1, rfd;

	*dirfd = -1;
	if ((rc = rel_path(g, path, rel, sizeof(rel))) < 0)
		return rc;
	if ((rc = open_parent(g, path, rel, mkdirs, &dfd, base, sizeof(base))) < 0)
		return rc;
	if ((rc = check_target(path, dfd, base)) < 0)
		goto fail;
	/* an O_PATH fd cannot be used with openat(O_CREAT): reopen the dir */
	rfd = open_beneath(dfd, ".", O_DIRECTORY | O_RDONLY, 0);
	close(dfd);
	dfd = rfd;
	if (dfd < 0) {
		rc = resolve_err(path, -dfd);
		goto fail;
	}
	for (int i = 0; i < 100 && fd < 0; i++) {
		snprintf(tmp, tmpcap, ".halo-tmp-%d-%d-%.100s", (int)getpid(), rand() % 100000,
			 base);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST) {
			rc = resolve_err(path, errno);
			goto fail;
		}
	}
	if (fd < 0) {
		rc = tools_seterr(TOOLS_EIO, "no temporary name free beside '%s'", path);
		goto fail;
	}
	*dirfd = dfd;
	return fd;
fail:
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int fsg_tmp_commit(const struct fsg *g, int dirfd, const char *tmp, const char *path)
{
	char rel[SBX_PATH], base[256];
	const char *slash;
	int rc;

	if ((rc = rel_path(g, path, rel, sizeof(rel))) < 0)
		return rc;
	slash = strrchr(rel, '/');
	slash = slash ? slash + 1 : rel;
	if (strlen(slash) >= sizeof(base))
		return tools_seterr(TOOLS_EINVAL, "'%s': the name is too long", path);
	strcpy(base, slash);
	if ((rc = check_target(path, dirfd, base)) < 0)
		return rc;
	if (renameat(dirfd, tmp, dirfd, base) < 0)
		return tools_seterr(TOOLS_EIO, "renaming into '%s': %s", path, strerror(errno));
	return 0;
}

void fsg_tmp_abort(int dirfd, const char *tmp)
{
	if (dirfd >= 0)
		unlinkat(dirfd, tmp, 0);
}

int fsg_write(const struct fsg *g, const char *path, const char *data,
	      size_t len, bool mkdirs)
{
	char tmp[400];
	size_t done = 0;
	int fd, dfd = -1, rc = 0;

	if (len > g->max_file)
		return tools_seterr(TOOLS_EINVAL, "%zu bytes is more than the %zu-byte "
				    "limit for a file", len, g->max_file);
	fd = fsg_tmp_create(g, path, mkdirs, &dfd, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tools_seterr(TOOLS_EIO, "writing '%s': %s", path, strerror(errno));
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0 && rc == 0)
		rc = tools_seterr(TOOLS_EIO, "writing '%s': %s", path, strerror(errno));
	if (rc == 0)
		rc = fsg_tmp_commit(g, dfd, tmp, path);
	if (rc < 0)
		fsg_tmp_abort(dfd, tmp);
	close(dfd);
	return rc;
}

int fsg_edit(const struct fsg *g, const char *path, const char *old_s,
	     const char *new_s, bool all, size_t *count)
{
	size_t olen = strlen(old_s), nlen = strlen(new_s), len, n = 0, outlen = 0;
	uint64_t size;
	char *text = NULL, *res = NULL;
	int rc;

	*count = 0;
	if (olen == 0)
		return tools_seterr(TOOLS_EINVAL, "old_string is empty");
	if ((rc = fsg_read(g, path, 0, 0, &text, &len, &size)) < 0)
		return rc;
	if (size > len) {
		rc = tools_seterr(TOOLS_EINVAL, "'%s' is larger than the %zu-byte limit",
				  path, g->max_file);
		goto out;
	}
	if (memchr(text, '\0', len)) {
		rc = tools_seterr(TOOLS_EINVAL, "'%s' is not a text file", path);
		goto out;
	}
	for (const char *p = text; (p = strstr(p, old_s)) != NULL; p += olen)
		n++;
	if (n == 0) {
		rc = tools_seterr(TOOLS_ENOTFOUND, "old_string does not occur in '%s'", path);
		goto out;
	}
	if (n > 1 && !all) {
		rc = tools_seterr(TOOLS_EINVAL, "old_string occurs %zu times in '%s'; give "
				  "more context or set replace_all", n, path);
		goto out;
	}
	if (nlen > olen && (nlen - olen) > (g->max_file - len) / n) {
		rc = tools_seterr(TOOLS_EINVAL, "the result would exceed %zu bytes", g->max_file);
		goto out;
	}
	res = malloc(len + n * (nlen > olen ? nlen - olen : 0) + 1);
	if (res == NULL) {
		rc = tools_seterr(TOOLS_EIO, "out of memory");
		goto out;
	}
	for (const char *p = text, *q;; p = q + olen) {
		q = strstr(p, old_s);
		if (q == NULL) {
			memcpy(res + outlen, p, (size_t)(text + len - p));
			outlen += (size_t)(text + len - p);
			break;
		}
		memcpy(res + outlen, p, (size_t)(q - p));
		outlen += (size_t)(q - p);
		memcpy(res + outlen, new_s, nlen);
		outlen += nlen;
	}
	rc = fsg_write(g, path, res, outlen, false);
	if (rc == 0)
		*count = n;
out:
	free(text);
	free(res);
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

int fsg_list(const struct fsg *g, const char *path, size_t max, json_t **out,
	     bool *truncated)
{
	char rel[SBX_PATH];
	json_t **items = NULL, *arr;
	size_t n = 0;
	struct dirent *e;
	DIR *d;
	int fd, rc;

	*out = NULL;
	*truncated = false;
	if ((rc = rel_path(g, path ? path : ".", rel, sizeof(rel))) < 0)
		return rc;
	fd = open_beneath(g->wsfd, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return resolve_err(path ? path : ".", -fd);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return tools_seterr(TOOLS_EIO, "listing '%s': %s", path, strerror(errno));
	}
	items = calloc(max ? max : 1, sizeof(*items));
	while (items && (e = readdir(d)) != NULL) {
		struct stat st;
		const char *type = "other";

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n >= max) {
			*truncated = true;
			break;
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" :
			       S_ISLNK(st.st_mode) ? "symlink" : "other";
		else
			st.st_size = 0;
		items[n++] = json_pack("{s:s, s:s, s:I}", "name", e->d_name, "type", type,
				       "size", (json_int_t)st.st_size);
	}
	closedir(d);
	if (items == NULL)
		return tools_seterr(TOOLS_EIO, "out of memory");
	qsort(items, n, sizeof(*items), cmp_entry);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
	*out = arr;
	return 0;
}

int fsg_new_abs(const struct fsg *g, const char *path, char *out, size_t cap)
{
	char rel[SBX_PATH], base[256];
	struct stat st;
	int dfd, rc;

	if ((rc = rel_path(g, path, rel, sizeof(rel))) < 0)
		return rc;
	if ((rc = open_parent(g, path, rel, true, &dfd, base, sizeof(base))) < 0)
		return rc;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		close(dfd);
		return tools_seterr(TOOLS_EINVAL, "'%s' already exists", path);
	}
	close(dfd);
	/* rel is beneath and free of symlinks up to its parent (just checked) */
	if ((size_t)snprintf(out, cap, "%s/%s", g->root, rel) >= cap)
		return tools_seterr(TOOLS_EINVAL, "the path is too long");
	return 0;
}

static void remove_at(int pfd, const char *name, int depth)
{
	int fd;
	DIR *d;
	struct dirent *e;

	if (unlinkat(pfd, name, 0) == 0 || depth > FSG_MAX_DEPTH * 4)
		return;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_at(dirfd(d), e->d_name, depth + 1);
	closedir(d);
	unlinkat(pfd, name, AT_REMOVEDIR);
}

void fsg_remove_tree(const struct fsg *g, const char *path)
{
	char rel[SBX_PATH], base[256];
	int dfd;

	if (rel_path(g, path, rel, sizeof(rel)) < 0 ||
	    open_parent(g, path, rel, false, &dfd, base, sizeof(base)) < 0)
		return;
	{
		int rfd = open_beneath(dfd, ".", O_DIRECTORY | O_RDONLY, 0);

		close(dfd);
		if (rfd < 0)
			return;
		remove_at(rfd, base, 0);
		close(rfd);
	}
}

int fsg_open_read(const struct fsg *g, const char *path)
{
	char rel[SBX_PATH];
	struct stat st;
	int fd, rc;

	if ((rc = rel_path(g, path, rel, sizeof(rel))) < 0)
		return rc;
	fd = open_beneath(g->wsfd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (fd < 0)
		return resolve_err(path, -fd);
	if ((rc = check_regular(path, fd, &st)) < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int fsg_dir_abs(const struct fsg *g, const char *path, bool create, char *out,
		size_t cap)
{
	char rel[SBX_PATH], base[256], link[64];
	ssize_t n;
	int fd, dfd, rc;

	if ((rc = rel_path(g, path, rel, sizeof(rel))) < 0)
		return rc;
	fd = open_beneath(g->wsfd, rel, O_PATH | O_DIRECTORY, 0);
	if (fd == -ENOENT && create) {
		if ((rc = open_parent(g, path, rel, true, &dfd, base, sizeof(base))) < 0)
			return rc;
		if (mkdirat(dfd, base, 0755) < 0 && errno != EEXIST) {
			rc = resolve_err(path, errno);
			close(dfd);
			return rc;
		}
		close(dfd);
		fd = open_beneath(g->wsfd, rel, O_PATH | O_DIRECTORY, 0);
	}
	if (fd < 0)
		return resolve_err(path, -fd);
	/* the kernel's name for what was opened beneath: no symlink in it */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, cap);
	close(fd);
	if (n < 0 || (size_t)n >= cap)
		return tools_seterr(TOOLS_EIO, "'%s': cannot read its real path", path);
	out[n] = '\0';
	return 0;
}
