/* fuzz_extract.c - libFuzzer target for archive extraction (tools/extract.c,
 * libarchive underneath).
 *
 * Each input is an archive, held in a memfd, unpacked into a fresh
 * directory d inside a private base directory, with small bounds.  The
 * contract, checked after every input whether it was refused or not:
 *   - nothing appears in the base directory beside d;
 *   - every symlink under d that resolves, resolves beneath d;
 *   - no file under d has setuid, setgid or sticky bits, and nothing is a
 *     device, FIFO or socket;
 *   - a failure comes with a message naming the archive.
 * Then d is removed.  Aborts when the contract is broken. */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools_int.h"

static char base[PATH_MAX], dest[PATH_MAX];
static size_t dest_len;

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_extract: contract broken: %s\n", what);
		abort();
	}
}

static int inspect(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	char real[PATH_MAX];

	(void)flag;
	(void)f;
	check(!(st->st_mode & (S_ISUID | S_ISGID | S_ISVTX)), "no setuid/setgid/sticky bit");
	check(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode),
	      "only files, directories and symlinks");
	if (S_ISLNK(st->st_mode) && realpath(path, real) != NULL)
		check(strncmp(real, dest, dest_len) == 0 &&
		      (real[dest_len] == '\0' || real[dest_len] == '/'),
		      "a symlink resolves beneath the destination");
	return 0;
}

/* Directories were made at least u+rwx (extract.c note 5), so a
 * depth-first walk removes everything. */
static int removal(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

static void remove_base(void)
{
	rmdir(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	DIR *d;
	struct dirent *e;
	int fd, rc;

	if (base[0] == '\0') {
		snprintf(base, sizeof(base), "%s/halo-fuzz-extract-XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		check(mkdtemp(base) != NULL, "mkdtemp");
		snprintf(dest, sizeof(dest), "%s/d", base);
		dest_len = strlen(dest);
		atexit(remove_base);
	}
	check(mkdir(dest, 0700) == 0, "mkdir of the destination");
	fd = memfd_create("archive", MFD_CLOEXEC);
	check(fd >= 0, "memfd_create");
	check(size == 0 || write(fd, data, size) == (ssize_t)size, "write to the memfd");
	lseek(fd, 0, SEEK_SET);
	rc = extract_fd(fd, "fuzz.tar", dest, 1000, 8u << 20, NULL);
	close(fd);
	if (rc < 0)
		check(strstr(tools_errmsg(), "fuzz.tar") != NULL ||
		      strstr(tools_errmsg(), "destination") != NULL,
		      "a failure names the archive");

	d = opendir(base);
	check(d != NULL, "opendir of the base");
	while ((e = readdir(d)) != NULL)
		check(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		      strcmp(e->d_name, "d") == 0, "nothing beside the destination");
	closedir(d);
	nftw(dest, inspect, 16, FTW_PHYS);
	nftw(dest, removal, 16, FTW_PHYS | FTW_DEPTH);
	check(access(dest, F_OK) != 0, "the destination was removed");
	return 0;
}
