/* extract_seeds.c - write small archives for the extraction fuzzer's seed
 * corpus: the same little tree (directories, files, a symlink inside, a
 * hard link, a setuid file) as tar, tar.gz, tar.xz, tar.bz2, GNU tar and
 * zip, and one of each kind of refusal ('..', an absolute name, a symlink
 * out and a file through it, a device node).
 * Usage: extract_seeds DIR */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

struct ent {
	char type;          /* f file, d dir, l symlink, h hard link, c char device */
	const char *name;
	const char *data;   /* content or link target */
	unsigned mode;
};

static const struct ent tree[] = {
	{ 'd', "pkg/", NULL, 0755 },
	{ 'f', "pkg/README", "hello\n", 0644 },
	{ 'f', "pkg/bin/tool", "#!/bin/sh\necho tool\n", 04755 },
	{ 'l', "pkg/link", "README", 0777 },
	{ 'l', "pkg/bin/up", "../README", 0777 },
	{ 'h', "pkg/hard", "pkg/README", 0644 },
};

static const struct ent evil[][2] = {
	{ { 'f', "../evil", "x", 0644 }, { 0, NULL, NULL, 0 } },
	{ { 'f', "/tmp/evil", "x", 0644 }, { 0, NULL, NULL, 0 } },
	{ { 'l', "etc", "/etc", 0777 }, { 'f', "etc/evil", "x", 0644 } },
	{ { 'l', "up", "../..", 0777 }, { 'f', "up/evil", "x", 0644 } },
	{ { 'c', "null", NULL, 0666 }, { 0, NULL, NULL, 0 } },
};

static int write_archive(const char *path, int (*format)(struct archive *),
			 int (*filter)(struct archive *), const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	int ok = 1;

	if (format(a) != ARCHIVE_OK || (filter && filter(a) != ARCHIVE_OK) ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK) {
		fprintf(stderr, "extract_seeds: %s: %s\n", path, archive_error_string(a));
		archive_write_free(a);
		return 0;
	}
	for (size_t i = 0; i < n && e[i].type; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e[i].type == 'f' ? strlen(e[i].data) : 0;

		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_mtime(ae, 1700000000, 0);
		archive_entry_set_perm(ae, e[i].mode);
		switch (e[i].type) {
		case 'f':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, (la_int64_t)len);
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			break;
		case 'c':
			archive_entry_set_filetype(ae, AE_IFCHR);
			archive_entry_set_rdev(ae, makedev(1, 3));
			break;
		}
		if (archive_write_header(a, ae) != ARCHIVE_OK ||
		    (len && archive_write_data(a, e[i].data, len) != (la_ssize_t)len))
			ok = 0;
		archive_entry_free(ae);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		ok = 0;
	archive_write_free(a);
	return ok;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*format)(struct archive *);
		int (*filter)(struct archive *);
	} kinds[] = {
		{ "tree.tar", archive_write_set_format_pax_restricted, NULL },
		{ "tree.gnu.tar", archive_write_set_format_gnutar, NULL },
		{ "tree.tar.gz", archive_write_set_format_pax_restricted,
		  archive_write_add_filter_gzip },
		{ "tree.tar.xz", archive_write_set_format_ustar, archive_write_add_filter_xz },
		{ "tree.tar.bz2", archive_write_set_format_pax, archive_write_add_filter_bzip2 },
		{ "tree.zip", archive_write_set_format_zip, NULL },
	};
	char path[4096];
	int ok = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: extract_seeds DIR\n");
		return 2;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		/* zip has no hard links: the last entry is left out */
		size_t n = sizeof(tree) / sizeof(tree[0]) - (kinds[k].format ==
			archive_write_set_format_zip);

		snprintf(path, sizeof(path), "%s/%s", argv[1], kinds[k].name);
		ok &= write_archive(path, kinds[k].format, kinds[k].filter, tree, n);
	}
	for (size_t k = 0; k < sizeof(evil) / sizeof(evil[0]); k++) {
		snprintf(path, sizeof(path), "%s/evil%zu.tar", argv[1], k);
		ok &= write_archive(path, archive_write_set_format_pax_restricted, NULL,
				    evil[k], 2);
	}
	return ok ? 0 : 1;
}
