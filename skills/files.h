/* files.h - file work of libhalo_skills (private to the library). */
#ifndef HALO_SKILLS_FILES_H
#define HALO_SKILLS_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One entry under a root, by relative path. */
struct snap_ent {
	char *path;
	char type;          /* 'f' file, 'd' directory, 'l' link (or other) */
	int64_t size;
	int64_t mtime_ns;
};

struct snap {
	struct snap_ent *v; /* sorted by path */
	size_t n, cap;
};

/* Every entry under root (a missing root is empty).  Links are not
 * followed. */
int snap_take(const char *root, struct snap *out);
struct stat;
/* Append one entry (type, size and mtime from sb); snap_sort afterwards. */
int snap_push_ent(struct snap *s, const char *path, const struct stat *sb);
void snap_sort(struct snap *s);
const struct snap_ent *snap_find(const struct snap *s, const char *path);
/* The same among the first n entries (sorted) only. */
const struct snap_ent *snap_find_n(const struct snap *s, size_t n, const char *path);
void snap_free(struct snap *s);

/* Remove the entries (sorted by path) beneath root: files and links, then
 * directories that are empty, deepest first.  With check, a file whose
 * size or mtime differs from the entry is kept (and noted). */
int files_remove(const char *root, const struct snap_ent *ents, size_t n, bool check,
		 size_t *removed, size_t *kept, void (*note)(void *ud, const char *msg),
		 void *ud);

int files_rm_tree(const char *path);
int files_mkdirs(const char *path, mode_t mode);
/* Copy a folder's regular files and folders (not .git, not links) into a
 * new folder dst; bounded in files and bytes. */
int files_copy_tree(const char *src, const char *dst);
/* Copy one file into an existing folder. */
int files_copy_one(const char *src, const char *dst_dir);

#endif
