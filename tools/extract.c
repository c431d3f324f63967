/* extract.c - unpack an archive (tar, tar.gz, tar.xz, tar.bz2, zip) beneath
 * one directory with libarchive, refusing every entry that could land, or
 * later point, outside it.
 *
 * Design notes.
 *  1. Names are ours to check before libarchive sees them: relative, not
 *     empty, no ".." component, bounded length.  A checked name is then
 *     rewritten as <real path of dest_dir>/<name> and written with
 *     ARCHIVE_EXTRACT_SECURE_NODOTDOT and ARCHIVE_EXTRACT_SECURE_SYMLINKS.
 *     (SECURE_NOABSOLUTEPATHS cannot apply to the rewritten, absolute
 *     name: note 1's own check is what refuses absolute names.)
 *  2. SECURE_SYMLINKS: nothing is written through a symlink (a symlink as
 *     the last component is replaced, not followed).  So every directory
 *     on the path of an extracted entry is a real directory.
 *  3. A symlink's target must be relative, of the form (../)*rest where
 *     rest has no ".." component, and climb no higher than the link's own
 *     directory's depth.  By note 2 the directories it climbs are real, so
 *     the climb the kernel makes is the one checked here; the descent goes
 *     through directories, or links that obey this rule themselves, so by
 *     induction it stays beneath dest_dir too.
 *  4. A hard link's target is a name (note 1) that must exist as a regular
 *     file: a hard link to a symlink would re-home the symlink's relative
 *     target and so break note 3.
 *  5. Only regular files, directories, symlinks and hard links: devices,
 *     FIFOs and sockets are refused.  Permissions keep rwx bits only
 *     (setuid, setgid and sticky dropped; the umask applies); owners, ACLs,
 *     xattrs (a file capability) and file flags are never restored.
 *  6. Bounds: entries, and bytes written (counted from the data itself,
 *     since headers may lie, and from the offsets, since sparse files may
 *     claim more than they carry).
 *  7. On failure, entries extracted so far stay; the message names the
 *     archive and the entry at fault.  Callers extract into a fresh
 *     directory and remove it when this fails.
 *  8. Only built-in decompressors are used: a filter that would run an
 *     external program (gzip, xz, ...) when the library lacks its own is
 *     refused rather than exec'ed outside the sandbox. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools_int.h"

#define EXTRACT_BLOCK 65536

/* Note 1.  Returns NULL when the name is acceptable, or why not; *depth
 * gets the number of components (".", "" not counted). */
static const char *check_name(const char *name, size_t *depth)
{
	const char *p = name;

	*depth = 0;
	if (name == NULL || *name == '\0')
		return "it has no name";
	if (name[0] == '/')
		return "its name is an absolute path";
	if (strlen(name) >= PATH_MAX / 2)
		return "its name is too long";
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "a '..' component would leave the destination";
		if (n > NAME_MAX)
			return "a component of its name is too long";
		if (n > 0 && !(n == 1 && p[0] == '.'))
			(*depth)++;
		p += n;
		while (*p == '/')
			p++;
	}
	return NULL;
}

/* Note 3: a symlink at a name of `depth` components. */
static const char *check_link_target(const char *target, size_t depth)
{
	const char *p = target;
	size_t up = 0;
	bool down = false;

	if (target == NULL || *target == '\0')
		return "it is a symlink with no target";
	if (target[0] == '/')
		return "it is a symlink to an absolute path";
	if (strlen(target) >= PATH_MAX / 2)
		return "its symlink target is too long";
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (down)
				return "its symlink target has a '..' after a name";
			up++;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			down = true;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	/* the link's own directory is depth - 1 components deep */
	if (depth == 0 || up > depth - 1)
		return "it is a symlink that points outside the destination";
	return NULL;
}

static const char *aerr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "failed";
}

/* Whether a directory on the way to name (beneath dest) is a symlink:
 * note 2 checked here too, so the refusal is ours and names the entry. */
static bool through_symlink(const char *dest, const char *name)
{
	char path[PATH_MAX];
	size_t dl = strlen(dest);
	struct stat st;

	if (dl + 1 + strlen(name) >= sizeof(path))
		return true;
	memcpy(path, dest, dl);
	path[dl] = '/';
	for (const char *p = name; (p = strchr(p, '/')) != NULL; p++) {
		size_t n = (size_t)(p - name);

		memcpy(path + dl + 1, name, n);
		path[dl + 1 + n] = '\0';
		if (lstat(path, &st) < 0)
			return false; /* nothing deeper exists yet */
		if (S_ISLNK(st.st_mode))
			return true;
	}
	return false;
}

static int refuse(const char *archive, const char *entry, const char *why)
{
	return tools_seterr(TOOLS_EDENIED, "%s: entry '%s' refused: %s", archive,
			    entry ? entry : "", why);
}

/* Note 8: a filter that would need an external program is no filter. */
static int support(struct archive *a, int (*fn)(struct archive *), const char *what)
{
	if (fn(a) != ARCHIVE_OK)
		return tools_seterr(TOOLS_EIO, "libarchive has no built-in %s decoder", what);
	return 0;
}

static int open_reader(struct archive **out, int fd, const char *name)
{
	struct archive *a = archive_read_new();
	int rc;

	*out = NULL;
	if (a == NULL)
		return tools_seterr(TOOLS_EIO, "out of memory");
	if ((rc = support(a, archive_read_support_filter_gzip, "gzip")) < 0 ||
	    (rc = support(a, archive_read_support_filter_xz, "xz")) < 0 ||
	    (rc = support(a, archive_read_support_filter_bzip2, "bzip2")) < 0 ||
	    (rc = support(a, archive_read_support_format_tar, "tar")) < 0 ||
	    (rc = support(a, archive_read_support_format_zip, "zip")) < 0) {
		archive_read_free(a);
		return rc;
	}
	if (archive_read_open_fd(a, fd, EXTRACT_BLOCK) != ARCHIVE_OK) {
		rc = tools_seterr(TOOLS_EINVAL, "%s: not an archive this can read (tar, "
				  "tar.gz, tar.xz, tar.bz2, zip): %s", name,
				  aerr(a));
		archive_read_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

static bool join(char *out, size_t cap, const char *dir, const char *name)
{
	return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap;
}

/* Copy one entry's data; bounded by note 6. */
static int copy_data(struct archive *a, struct archive *w, const char *archive,
		     const char *entry, uint64_t *total, uint64_t max_bytes)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &size, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return tools_seterr(TOOLS_EIO, "%s: entry '%s': %s", archive, entry,
					    aerr(a));
		*total += size;
		if (*total > max_bytes || off < 0 || (uint64_t)off + size > max_bytes)
			return tools_seterr(TOOLS_EDENIED, "%s: entry '%s': the archive "
					    "unpacks to more than %llu bytes; refused", archive,
					    entry, (unsigned long long)max_bytes);
		if (archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN)
			return tools_seterr(TOOLS_EIO, "%s: entry '%s': %s", archive, entry,
					    aerr(w));
	}
}

/* Check and rewrite one entry (notes 1 and 3-5); 0 to write it, 1 to skip
 * it (the destination itself), or a tools_err. */
static int prepare_entry(struct archive_entry *e, const char *archive,
			 const char *dest, char *path, size_t cap)
{
	const char *name = archive_entry_pathname(e), *why;
	const char *hard = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	size_t depth, hdepth;
	char target[PATH_MAX];
	struct stat st;

	if ((why = check_name(name, &depth)) != NULL)
		return refuse(archive, name, why);
	if (through_symlink(dest, name))
		return refuse(archive, name, "its path goes through a symlink");
	if (hard) {
		if ((why = check_name(hard, &hdepth)) != NULL || hdepth == 0)
			return refuse(archive, name, why ? why :
				      "it is a hard link to the destination");
		if (through_symlink(dest, hard))
			return refuse(archive, name, "its hard link target goes through a "
				      "symlink");
		if (!join(target, sizeof(target), dest, hard))
			return refuse(archive, name, "its hard link target is too long");
		if (lstat(target, &st) < 0 || !S_ISREG(st.st_mode))
			return refuse(archive, name, "it is a hard link to something that is "
				      "not a regular file extracted before it");
		archive_entry_copy_hardlink(e, target);
	} else if (type == AE_IFLNK) {
		if ((why = check_link_target(archive_entry_symlink(e), depth)) != NULL)
			return refuse(archive, name, why);
	} else if (type == AE_IFDIR) {
		if (depth == 0)
			return 1; /* "./": the destination itself, left as it is */
	} else if (type != AE_IFREG) {
		return refuse(archive, name, type == AE_IFCHR || type == AE_IFBLK ?
			      "it is a device node" : type == AE_IFIFO ? "it is a FIFO" :
			      type == AE_IFSOCK ? "it is a socket" :
			      "it is not a file, directory or link");
	}
	if (depth == 0)
		return refuse(archive, name, "it names the destination itself");
	if (!join(path, cap, dest, name))
		return refuse(archive, name, "its name is too long");
	archive_entry_copy_pathname(e, path);
	/* note 5: rwx only; directories stay enterable and writable by us */
	archive_entry_set_perm(e, (archive_entry_perm(e) & 0777) |
			       (type == AE_IFDIR ? 0700 : 0600));
	return 0;
}

int extract_fd(int fd, const char *name, const char *dest_dir,
	       uint64_t max_entries, uint64_t max_bytes, size_t *n_files)
{
	struct archive *a = NULL, *w = NULL;
	struct archive_entry *e;
	char dest[PATH_MAX], path[PATH_MAX];
	uint64_t total = 0, entries = 0;
	struct stat st;
	int rc, r;

	if (n_files)
		*n_files = 0;
	if (dest_dir == NULL || realpath(dest_dir, dest) == NULL)
		return tools_seterr(TOOLS_EINVAL, "destination '%s': %s",
				    dest_dir ? dest_dir : "(null)", strerror(errno));
	if (stat(dest, &st) < 0 || !S_ISDIR(st.st_mode))
		return tools_seterr(TOOLS_EINVAL, "destination '%s' is not a directory",
				    dest_dir);
	if ((rc = open_reader(&a, fd, name)) < 0)
		return rc;
	w = archive_write_disk_new();
	if (w == NULL) {
		rc = tools_seterr(TOOLS_EIO, "out of memory");
		goto out;
	}
	/* notes 1, 2, 5: no PERM, OWNER, ACL, XATTR or FFLAGS */
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_TIME |
				       ARCHIVE_EXTRACT_SECURE_SYMLINKS |
				       ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	for (;;) {
		char entry[512];

		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN && entries == 0) {
			rc = tools_seterr(TOOLS_EINVAL, "%s: not an archive this can read "
					  "(tar, tar.gz, tar.xz, tar.bz2, zip): %s", name, aerr(a));
			goto out;
		}
		if (r < ARCHIVE_WARN) {
			rc = tools_seterr(TOOLS_EIO, "%s: after %llu entries: %s", name,
					  (unsigned long long)entries, aerr(a));
			goto out;
		}
		snprintf(entry, sizeof(entry), "%s", archive_entry_pathname(e) ?
			 archive_entry_pathname(e) : "");
		if (++entries > max_entries) {
			rc = tools_seterr(TOOLS_EDENIED, "%s: more than %llu entries; refused "
					  "at '%s'", name, (unsigned long long)max_entries, entry);
			goto out;
		}
		if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
		    total + (uint64_t)archive_entry_size(e) > max_bytes) {
			rc = tools_seterr(TOOLS_EDENIED, "%s: entry '%s': the archive unpacks "
					  "to more than %llu bytes; refused", name, entry,
					  (unsigned long long)max_bytes);
			goto out;
		}
		rc = prepare_entry(e, name, dest, path, sizeof(path));
		if (rc == 1)
			continue;
		if (rc < 0)
			goto out;
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			rc = tools_seterr(TOOLS_EIO, "%s: entry '%s': %s", name, entry,
					  aerr(w));
			goto out;
		}
		/* whatever the header says: a streamed zip entry has no size */
		if (archive_entry_filetype(e) == AE_IFREG &&
		    (rc = copy_data(a, w, name, entry, &total, max_bytes)) < 0)
			goto out;
		if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
			rc = tools_seterr(TOOLS_EIO, "%s: entry '%s': %s", name, entry,
					  aerr(w));
			goto out;
		}
		if (n_files)
			(*n_files)++;
	}
	if (archive_write_close(w) < ARCHIVE_WARN) {
		rc = tools_seterr(TOOLS_EIO, "%s: %s", name, aerr(w));
		goto out;
	}
	rc = 0;
out:
	archive_write_free(w);
	archive_read_free(a);
	return rc;
}

int tools_extract(const char *archive, const char *dest_dir, size_t *n_files)
{
	int fd, rc;

	if (n_files)
		*n_files = 0;
	if (archive == NULL)
		return tools_seterr(TOOLS_EINVAL, "no archive given");
	fd = open(archive, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return tools_seterr(errno == ENOENT ? TOOLS_ENOTFOUND : TOOLS_EIO, "%s: %s",
				    archive, strerror(errno));
	rc = extract_fd(fd, archive, dest_dir, TOOLS_EXTRACT_MAX_ENTRIES,
			TOOLS_EXTRACT_MAX_BYTES, n_files);
	close(fd);
	return rc;
}
