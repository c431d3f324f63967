/* files.c - the file work of installing: snapshots of the prefix (what a
 * step created), removing exactly those files again, copying a skill's
 * folder, and removing trees without following links.
 *
 * Every walk uses openat on directory descriptors opened with O_NOFOLLOW,
 * so a symlink planted in the prefix cannot send a removal elsewhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "skills_int.h"

#define SNAP_MAX_ENTRIES 500000
#define SNAP_MAX_DEPTH 64

/* ---- snapshots ------------------------------------------------------------ */

int snap_push_ent(struct snap *s, const char *path, const struct stat *sb)
{
	struct snap_ent *e;

	if (s->n >= SNAP_MAX_ENTRIES)
		return skills_seterr(SKILLS_EIO, "more than %d entries under the prefix: choose "
				     "a smaller --prefix", SNAP_MAX_ENTRIES);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct snap_ent *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return skills_seterr(SKILLS_EIO, "out of memory");
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->n];
	if ((e->path = strdup(path)) == NULL)
		return skills_seterr(SKILLS_EIO, "out of memory");
	e->type = S_ISDIR(sb->st_mode) ? 'd' : S_ISLNK(sb->st_mode) ? 'l' : 'f';
	e->size = (int64_t)sb->st_size;
	e->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
	s->n++;
	return 0;
}

static int walk(int dfd, const char *rel, int depth, struct snap *s)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > SNAP_MAX_DEPTH)
		return 0;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if ((rc = snap_push_ent(s, path, &sb)) < 0)
			break;
		if (S_ISDIR(sb.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0 && (rc = walk(sub, path, depth + 1, s)) < 0)
				break;
		}
	}
	closedir(d);
	return rc;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct snap_ent *)a)->path, ((const struct snap_ent *)b)->path);
}

int snap_take(const char *root, struct snap *out)
{
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : skills_seterr(SKILLS_EIO, "%s: %s", root,
							   strerror(errno));
	if ((rc = walk(fd, "", 0, out)) < 0) {
		snap_free(out);
		return rc;
	}
	snap_sort(out);
	return 0;
}

void snap_sort(struct snap *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), ent_cmp);
}

const struct snap_ent *snap_find(const struct snap *s, const char *path)
{
	return snap_find_n(s, s->n, path);
}

const struct snap_ent *snap_find_n(const struct snap *s, size_t n, const char *path)
{
	struct snap_ent key = { .path = (char *)path };

	return n ? bsearch(&key, s->v, n, sizeof(*s->v), ent_cmp) : NULL;
}

void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- removing ----------------------------------------------------------------- */

/* Open the directory holding `rel` beneath rootfd without following links;
 * *base is the last component. */
static int open_parent(int rootfd, const char *rel, const char **base)
{
	char comp[256];
	const char *p = rel;
	int fd = dup(rootfd);

	for (;;) {
		size_t n = strcspn(p, "/");
		int next;

		if (p[n] == '\0') {
			*base = p;
			return fd;
		}
		if (n == 0 || n >= sizeof(comp) || (n == 2 && p[0] == '.' && p[1] == '.') ||
		    (n == 1 && p[0] == '.')) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
		p += n + 1;
	}
}

int files_remove(const char *root, const struct snap_ent *ents, size_t n, bool check,
		 size_t *removed, size_t *kept, void (*note)(void *ud, const char *msg),
		 void *ud)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char msg[4200];

	*removed = *kept = 0;
	if (rootfd < 0)
		return errno == ENOENT ? 0 : skills_seterr(SKILLS_EIO, "%s: %s", root,
							   strerror(errno));
	/* files and links first, then directories deepest first */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < n; k++) {
			const struct snap_ent *e = &ents[pass ? n - 1 - k : k];
			const char *base;
			struct stat sb;
			int pfd;

			if ((e->type == 'd') != (pass == 1))
				continue;
			if (e->path[0] == '/' || (pfd = open_parent(rootfd, e->path, &base)) < 0)
				continue;
			if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
				close(pfd);
				continue; /* already gone */
			}
			if (e->type == 'd') {
				if (unlinkat(pfd, base, AT_REMOVEDIR) == 0)
					(*removed)++;
			} else if (check && e->type == 'f' &&
				   (!S_ISREG(sb.st_mode) || sb.st_size != e->size ||
				    (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec !=
				    e->mtime_ns)) {
				(*kept)++;
				if (note) {
					snprintf(msg, sizeof(msg), "kept %s/%s: changed since the "
						 "install", root, e->path);
					note(ud, msg);
				}
			} else if (unlinkat(pfd, base, 0) == 0) {
				(*removed)++;
			}
			close(pfd);
		}
	}
	close(rootfd);
	return 0;
}

static int rm_at(int dfd, const char *name, int depth)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (depth > SNAP_MAX_DEPTH)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	return unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

int files_rm_tree(const char *path)
{
	if (rm_at(AT_FDCWD, path, 0) < 0)
		return skills_seterr(SKILLS_EIO, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int files_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return skills_seterr(SKILLS_EIO, "bad path '%s'", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return skills_seterr(SKILLS_EIO, "cannot create %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return skills_seterr(SKILLS_EIO, "cannot create %s: %s", buf, strerror(errno));
	return 0;
}

/* ---- copying a skill's folder ------------------------------------------------- */

#define COPY_MAX_FILES 10000
#define COPY_MAX_BYTES (256ll << 20)

struct copy_state {
	size_t files;
	long long bytes;
};

static int copy_file(int sfd, const char *name, int dfd, mode_t mode, struct copy_state *cs)
{
	int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out;
	char buf[65536];
	ssize_t r;
	int rc = 0;

	if (in < 0)
		return skills_seterr(SKILLS_EIO, "cannot read %s: %s", name, strerror(errno));
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0755);
	if (out < 0) {
		close(in);
		return skills_seterr(SKILLS_EIO, "cannot write %s: %s", name, strerror(errno));
	}
	while ((r = read(in, buf, sizeof(buf))) > 0) {
		cs->bytes += r;
		if (cs->bytes > COPY_MAX_BYTES) {
			rc = skills_seterr(SKILLS_EIO, "the skill's folder is larger than %lld MiB",
					   COPY_MAX_BYTES >> 20);
			break;
		}
		if (write(out, buf, (size_t)r) != r) {
			rc = skills_seterr(SKILLS_EIO, "cannot write %s: %s", name, strerror(errno));
			break;
		}
	}
	if (r < 0 && rc == 0)
		rc = skills_seterr(SKILLS_EIO, "cannot read %s: %s", name, strerror(errno));
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = skills_seterr(SKILLS_EIO, "cannot write %s: %s", name, strerror(errno));
	return rc;
}

static int copy_dir(int sfd, int dfd, int depth, struct copy_state *cs)
{
	DIR *d = fdopendir(sfd);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		close(sfd);
		return skills_seterr(SKILLS_EIO, "cannot read a folder: %s", strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".git") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (++cs->files > COPY_MAX_FILES) {
			rc = skills_seterr(SKILLS_EIO, "the skill's folder has more than %d files",
					   COPY_MAX_FILES);
			break;
		}
		if (S_ISREG(sb.st_mode)) {
			rc = copy_file(dirfd(d), de->d_name, dfd, sb.st_mode, cs);
		} else if (S_ISDIR(sb.st_mode) && depth < 32) {
			int s2, d2;

			if (mkdirat(dfd, de->d_name, 0755) < 0) {
				rc = skills_seterr(SKILLS_EIO, "cannot create %s: %s", de->d_name,
						   strerror(errno));
				break;
			}
			s2 = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				    O_CLOEXEC);
			d2 = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0) {
				if (s2 >= 0)
					close(s2);
				if (d2 >= 0)
					close(d2);
				rc = skills_seterr(SKILLS_EIO, "cannot copy %s", de->d_name);
				break;
			}
			rc = copy_dir(s2, d2, depth + 1, cs);
			close(d2);
		}
		/* links, devices, sockets: not part of a skill's copy */
	}
	closedir(d);
	return rc;
}

int files_copy_tree(const char *src, const char *dst)
{
	struct copy_state cs = { 0 };
	int sfd, dfd, rc;

	if (mkdir(dst, 0755) < 0)
		return skills_seterr(SKILLS_EIO, "cannot create %s: %s", dst, strerror(errno));
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return skills_seterr(SKILLS_EIO, "%s: %s", src, strerror(errno));
	dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		close(sfd);
		return skills_seterr(SKILLS_EIO, "%s: %s", dst, strerror(errno));
	}
	rc = copy_dir(sfd, dfd, 0, &cs);
	close(dfd);
	return rc;
}

int files_copy_one(const char *src, const char *dst_dir)
{
	struct copy_state cs = { 0 };
	const char *slash = strrchr(src, '/');
	char dir[4096];
	int sfd, dfd, rc;

	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - src), src);
		if (dir[0] == '\0')
			snprintf(dir, sizeof(dir), "/");
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	sfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dfd = open(dst_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 || dfd < 0) {
		rc = skills_seterr(SKILLS_EIO, "%s: %s", sfd < 0 ? dir : dst_dir, strerror(errno));
	} else {
		rc = copy_file(sfd, slash ? slash + 1 : src, dfd, 0644, &cs);
	}
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}
