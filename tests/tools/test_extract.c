/* test_extract.c - tools_extract and the "extract" tool against archives
 * written here with libarchive's writer: a good tree in every container
 * this reads (tar, tar.gz, tar.xz, tar.bz2, zip), checked file by file,
 * mode by mode and inode by inode; and each way out of the destination
 * ('..', an absolute name, a symlink to /etc and a file through it, a
 * symlink that climbs out, a hard link to a symlink, device nodes, FIFOs,
 * too many entries, too many bytes), each refused with the entry named and
 * nothing written outside. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tools.h"
#include "tools_int.h"

static char *ws, *outside;

struct ent {
	char type;          /* f file, d dir, l symlink, h hard link, c char dev, p fifo */
	const char *name;
	const char *data;   /* file content, or link target */
	unsigned mode;      /* 0: 0644 / 0755 */
};

enum { TAR = 't', ZIP = 'z' };

/* Write an archive of entries with libarchive: format TAR or ZIP, filter
 * 0, 'g'zip, 'x'z or 'b'zip2. */
static void make_archive(const char *path, int format, int filter,
			 const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae;

	assert_non_null(a);
	if (format == ZIP)
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	else
		assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (filter == 'g')
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	else if (filter == 'x')
		assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
	else if (filter == 'b')
		assert_int_equal(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		size_t len = e[i].type == 'f' && e[i].data ? strlen(e[i].data) : 0;

		ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_mtime(ae, 1700000000, 0);
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
		case 'p':
			archive_entry_set_filetype(ae, AE_IFIFO);
			break;
		}
		archive_entry_set_perm(ae, e[i].mode ? e[i].mode :
				       e[i].type == 'd' ? 0755 : 0644);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static int setup(void **state)
{
	(void)state;
	ws = tu_mkdtemp("extract-ws");
	outside = tu_mkdtemp("extract-outside");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(ws);
	tu_rmtree(outside);
	free(ws);
	free(outside);
	return 0;
}

/* A fresh destination <ws>/<name>, made here. */
static char *fresh_dir(const char *name)
{
	char *d;

	assert_true(asprintf(&d, "%s/%s", ws, name) > 0);
	assert_int_equal(mkdir(d, 0755), 0);
	return d;
}

static char *at(const char *dir, const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static void assert_file(const char *dir, const char *name, const char *want)
{
	size_t len;
	char *s = tu_read_file(at(dir, name), &len);

	assert_non_null(s);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(s, want, len);
	free(s);
}

/* Nothing in the directory `outside` and nothing beside the destination. */
static void assert_nothing_outside(void)
{
	struct stat st;

	assert_int_equal(rmdir(outside), 0); /* fails unless empty */
	assert_int_equal(mkdir(outside, 0700), 0);
	assert_int_equal(lstat(at(ws, "evil"), &st), -1);
}

/* ---- the good tree --------------------------------------------------------------- */

static const struct ent good[] = {
	{ 'd', "d/", NULL, 0 },
	{ 'f', "d/a.txt", "alpha\n", 0 },
	{ 'f', "./b.sh", "#!/bin/sh\necho b\n", 04755 },  /* setuid: dropped */
	{ 'l', "d/l", "a.txt", 0 },
	{ 'l', "d/up", "../b.sh", 0 },
	{ 'd', "d/e/f/", NULL, 02775 },                  /* setgid: dropped */
	{ 'f', "d/e/f/deep", "deep\n", 0 },
	{ 'h', "hard", "d/a.txt", 0 },
};

static void check_good(const char *d, bool hard)
{
	struct stat st, st2;
	char link[64];
	ssize_t n;

	assert_file(d, "d/a.txt", "alpha\n");
	assert_file(d, "b.sh", "#!/bin/sh\necho b\n");
	assert_file(d, "d/e/f/deep", "deep\n");
	assert_int_equal(stat(at(d, "b.sh"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07000, 0);
	assert_true(st.st_mode & S_IXUSR);
	assert_int_equal(st.st_mtime, 1700000000);
	assert_int_equal(stat(at(d, "d/e/f"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07000, 0);
	n = readlink(at(d, "d/l"), link, sizeof(link));
	assert_int_equal(n, 5);
	assert_memory_equal(link, "a.txt", 5);
	assert_file(d, "d/l", "alpha\n");
	assert_file(d, "d/up", "#!/bin/sh\necho b\n");
	if (hard) {
		assert_int_equal(stat(at(d, "hard"), &st), 0);
		assert_int_equal(stat(at(d, "d/a.txt"), &st2), 0);
		assert_int_equal(st.st_ino, st2.st_ino);
	}
}

static void test_good_archives(void **state)
{
	static const struct { int format, filter; const char *name; } kinds[] = {
		{ TAR, 0, "x.tar" }, { TAR, 'g', "x.tar.gz" }, { TAR, 'x', "x.tar.xz" },
		{ TAR, 'b', "x.tar.bz2" }, { ZIP, 0, "x.zip" },
	};
	(void)state;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		/* zip has no hard links */
		size_t n_ent = kinds[k].format == ZIP ? 7 : 8, n = 0;
		char *arc, *d;

		assert_true(asprintf(&arc, "%s/%s", outside, kinds[k].name) > 0);
		make_archive(arc, kinds[k].format, kinds[k].filter, good, n_ent);
		d = fresh_dir(kinds[k].name);
		if (tools_extract(arc, d, &n) != 0)
			fail_msg("%s: %s", kinds[k].name, tools_errmsg());
		assert_int_equal(n, n_ent);
		check_good(d, kinds[k].format == TAR);
		/* again from a pipe: no seeking, so a zip is read as a stream
		 * whose entries' sizes come after their data (and whose modes,
		 * symlinks included, are only in the central directory at the
		 * end: its files' contents are what a stream can promise) */
		{
			size_t len;
			char *bytes = tu_read_file(arc, &len), *d2;
			int p[2];

			assert_true(len < 65536); /* fits in the pipe */
			assert_int_equal(pipe(p), 0);
			assert_int_equal(write(p[1], bytes, len), (ssize_t)len);
			close(p[1]);
			assert_true(asprintf(&d2, "%s.pipe", kinds[k].name) > 0);
			free(d);
			d = fresh_dir(d2);
			if (extract_fd(p[0], kinds[k].name, d, 100, 1 << 20, &n) != 0)
				fail_msg("%s from a pipe: %s", kinds[k].name, tools_errmsg());
			assert_int_equal(n, n_ent);
			if (kinds[k].format == TAR) {
				check_good(d, true);
			} else {
				assert_file(d, "d/a.txt", "alpha\n");
				assert_file(d, "b.sh", "#!/bin/sh\necho b\n");
				assert_file(d, "d/e/f/deep", "deep\n");
			}
			close(p[0]);
			free(bytes);
			free(d2);
		}
		unlink(arc);
		free(arc);
		free(d);
	}
	assert_nothing_outside();
}

/* ---- the ways out ------------------------------------------------------------------ */

/* Extract entries as a tar into a fresh dir: the code, with the message
 * checked to name `entry` when the extraction fails. */
static int extract_entries(const char *dname, const struct ent *e, size_t n,
			   const char *entry, size_t *n_files)
{
	char *arc, *d;
	int rc;

	assert_true(asprintf(&arc, "%s/t.tar", ws) > 0);
	make_archive(arc, TAR, 0, e, n);
	d = fresh_dir(dname);
	rc = tools_extract(arc, d, n_files);
	if (rc < 0 && entry && strstr(tools_errmsg(), entry) == NULL)
		fail_msg("the message '%s' does not name '%s'", tools_errmsg(), entry);
	unlink(arc);
	free(arc);
	free(d);
	return rc;
}

static void test_dotdot(void **state)
{
	const struct ent e[] = {
		{ 'f', "ok.txt", "ok\n", 0 },
		{ 'f', "sub/../../evil", "evil\n", 0 },
	};
	size_t n = 0;
	(void)state;

	assert_int_equal(extract_entries("dd", e, 2, "sub/../../evil", &n), TOOLS_EDENIED);
	assert_non_null(strstr(tools_errmsg(), "'..'"));
	assert_int_equal(n, 1);       /* what came before stays */
	assert_file(at(ws, "dd"), "ok.txt", "ok\n");
	assert_nothing_outside();

	/* a plain "../evil" too, and "..": each component is checked */
	const struct ent e2[] = { { 'f', "../evil", "evil\n", 0 } };
	assert_int_equal(extract_entries("dd2", e2, 1, "../evil", NULL), TOOLS_EDENIED);
	const struct ent e3[] = { { 'd', "a/..", NULL, 0 } };
	assert_int_equal(extract_entries("dd3", e3, 1, "a/..", NULL), TOOLS_EDENIED);
	assert_nothing_outside();

	/* a name that would set the terminal's title and split the message:
	 * quoted with its control characters as '?', on one line */
	const struct ent e4[] = { { 'f', "\033]0;pwned\a\n/../evil", "evil\n", 0 } };
	assert_int_equal(extract_entries("dd4", e4, 1, "'?]0;pwned?" "?/../evil'", NULL),
			 TOOLS_EDENIED);
	for (const char *c = tools_errmsg(); *c; c++)
		assert_false((unsigned char)*c < 0x20 || *c == 0x7f);
	assert_nothing_outside();
}

static void test_absolute(void **state)
{
	char abs[PATH_MAX];
	struct ent e[] = { { 'f', abs, "evil\n", 0 } };
	(void)state;

	snprintf(abs, sizeof(abs), "%s/abs-evil", outside);
	assert_int_equal(extract_entries("abs", e, 1, abs, NULL), TOOLS_EDENIED);
	assert_non_null(strstr(tools_errmsg(), "absolute"));
	assert_nothing_outside();
}

static void test_symlink_out(void **state)
{
	char target[PATH_MAX];
	(void)state;

	/* a symlink to /etc, then a file through it */
	const struct ent e[] = {
		{ 'l', "etc", "/etc", 0 },
		{ 'f', "etc/halo-evil", "evil\n", 0 },
	};
	assert_int_equal(extract_entries("s1", e, 2, "etc", NULL), TOOLS_EDENIED);
	assert_int_equal(access("/etc/halo-evil", F_OK), -1);

	/* the same into a directory of ours, by an absolute target */
	snprintf(target, sizeof(target), "%s", outside);
	const struct ent e2[] = {
		{ 'l', "o", target, 0 },
		{ 'f', "o/evil", "evil\n", 0 },
	};
	assert_int_equal(extract_entries("s2", e2, 2, "'o'", NULL), TOOLS_EDENIED);

	/* relative targets that climb out, directly or by a '..' after a name
	 * (b -> ".", then e -> "b/.." would be the destination's parent) */
	const struct ent e3[] = { { 'l', "d/up", "../../x", 0 } };
	assert_int_equal(extract_entries("s3", e3, 1, "d/up", NULL), TOOLS_EDENIED);
	const struct ent e4[] = {
		{ 'l', "b", ".", 0 },
		{ 'l', "e", "b/..", 0 },
		{ 'f', "e/evil", "evil\n", 0 },
	};
	assert_int_equal(extract_entries("s4", e4, 3, "'e'", NULL), TOOLS_EDENIED);

	/* a link that points inside is fine, but nothing is written through it */
	const struct ent e5[] = {
		{ 'd', "real/", NULL, 0 },
		{ 'l', "in", "real", 0 },
		{ 'f', "in/x", "x\n", 0 },
	};
	assert_int_equal(extract_entries("s5", e5, 3, "in/x", NULL), TOOLS_EDENIED);
	assert_int_equal(access(at(ws, "s5/real/x"), F_OK), -1);

	/* a hard link to a symlink would re-home its relative target */
	const struct ent e6[] = {
		{ 'l', "a/b/s", "../../x", 0 },
		{ 'h', "h", "a/b/s", 0 },
	};
	assert_int_equal(extract_entries("s6", e6, 2, "'h'", NULL), TOOLS_EDENIED);
	/* a hard link to a name outside */
	const struct ent e7[] = { { 'h', "h", "../../etc/passwd", 0 } };
	assert_int_equal(extract_entries("s7", e7, 1, "'h'", NULL), TOOLS_EDENIED);
	assert_nothing_outside();
}

static void test_special_files(void **state)
{
	const struct ent e[] = { { 'c', "null", NULL, 0 } };
	const struct ent e2[] = { { 'p', "fifo", NULL, 0 } };
	struct stat st;
	(void)state;

	assert_int_equal(extract_entries("c", e, 1, "null", NULL), TOOLS_EDENIED);
	assert_non_null(strstr(tools_errmsg(), "device node"));
	assert_int_equal(lstat(at(ws, "c/null"), &st), -1);
	assert_int_equal(extract_entries("p", e2, 1, "fifo", NULL), TOOLS_EDENIED);
	assert_non_null(strstr(tools_errmsg(), "FIFO"));
	assert_int_equal(lstat(at(ws, "p/fifo"), &st), -1);
}

static void test_bounds(void **state)
{
	const struct ent e[] = {
		{ 'f', "1", "1", 0 }, { 'f', "2", "2", 0 }, { 'f', "3", "3", 0 },
		{ 'f', "4", "4", 0 }, { 'f', "big", "0123456789abcdef", 0 },
	};
	char *arc, *d;
	size_t n = 0;
	int fd;
	(void)state;

	assert_true(asprintf(&arc, "%s/b.tar", outside) > 0);
	make_archive(arc, TAR, 'g', e, 5);
	d = fresh_dir("bounds1");
	fd = open(arc, O_RDONLY);
	assert_int_equal(extract_fd(fd, "b.tar", d, 3, 1000, &n), TOOLS_EDENIED);
	assert_non_null(strstr(tools_errmsg(), "more than 3 entries"));
	assert_non_null(strstr(tools_errmsg(), "'4'"));
	assert_int_equal(n, 3);
	close(fd);
	free(d);

	d = fresh_dir("bounds2");
	fd = open(arc, O_RDONLY);
	assert_int_equal(extract_fd(fd, "b.tar", d, 100, 10, &n), TOOLS_EDENIED);
	assert_non_null(strstr(tools_errmsg(), "more than 10 bytes"));
	assert_non_null(strstr(tools_errmsg(), "'big'"));
	close(fd);
	free(d);

	/* the defaults are the documented ones and this archive is within them */
	d = fresh_dir("bounds3");
	assert_int_equal(tools_extract(arc, d, &n), 0);
	assert_int_equal(n, 5);
	free(d);
	unlink(arc);
	free(arc);
}

/* A zip whose entry's size is only in the data descriptor after its data
 * (as streaming writers make them), read from a pipe: the entry's size is
 * unknown until its data has been read, and the data must still land. */
static void test_zip_stream(void **state)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	static const char body[] = "streamed, size unknown up front\n";
	char buf[4096], *d;
	size_t used = 0, n = 0;
	int p[2];
	(void)state;

	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
	archive_entry_set_pathname(ae, "s.txt");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_unset_size(ae); /* length at the end */
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, body, strlen(body)), (la_ssize_t)strlen(body));
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ae);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], buf, used), (ssize_t)used);
	close(p[1]);
	d = fresh_dir("zs");
	if (extract_fd(p[0], "s.zip", d, 10, 1 << 20, &n) != 0)
		fail_msg("s.zip: %s", tools_errmsg());
	close(p[0]);
	assert_int_equal(n, 1);
	assert_file(d, "s.txt", body);
	free(d);
}

static void test_bad_input(void **state)
{
	char *arc, *d;
	(void)state;

	assert_true(asprintf(&arc, "%s/junk.tar.gz", outside) > 0);
	tu_write_file(arc, "this is not an archive at all\n", 30);
	d = fresh_dir("junk");
	assert_int_equal(tools_extract(arc, d, NULL), TOOLS_EINVAL);
	assert_non_null(strstr(tools_errmsg(), "junk.tar.gz"));
	assert_int_equal(tools_extract("/nonexistent/x.tar", d, NULL), TOOLS_ENOTFOUND);
	assert_int_equal(tools_extract(arc, "/nonexistent/dir", NULL), TOOLS_EINVAL);
	unlink(arc);
	free(arc);
	free(d);
}

/* ---- the tool ------------------------------------------------------------------------ */

static void test_extract_tool(void **state)
{
	struct tools_ctx_opts o = TOOLS_CTX_OPTS_INIT;
	struct tools_ctx *c = NULL;
	struct tools_result r;
	char d[PATH_MAX];
	json_t *f;
	(void)state;

	o.policy.workspace = ws;
	assert_int_equal(tools_ctx_open(&c, &o), 0);
	make_archive(at(ws, "src.tar.xz"), TAR, 'x', good, 8);
	assert_int_equal(tools_call(c, "extract", "{\"path\": \"src.tar.xz\", "
				    "\"to\": \"build/src\"}", &r), 0);
	f = json_loads(r.fields, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(f, "entries")), 8);
	json_decref(f);
	tools_result_clear(&r);
	snprintf(d, sizeof(d), "%s/build/src", ws);
	check_good(d, true);

	/* into an existing directory too */
	assert_int_equal(tools_call(c, "extract", "{\"path\": \"src.tar.xz\", "
				    "\"to\": \"build\"}", &r), 0);
	tools_result_clear(&r);
	snprintf(d, sizeof(d), "%s/build", ws);
	check_good(d, true);

	/* both paths stay beneath the workspace */
	assert_int_equal(tools_call(c, "extract", "{\"path\": \"../x.tar\", "
				    "\"to\": \"y\"}", &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	assert_int_equal(tools_call(c, "extract", "{\"path\": \"src.tar.xz\", "
				    "\"to\": \"../evil\"}", &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	assert_int_equal(symlink(outside, at(ws, "out")), 0);
	assert_int_equal(tools_call(c, "extract", "{\"path\": \"src.tar.xz\", "
				    "\"to\": \"out\"}", &r), TOOLS_EDENIED);
	tools_result_clear(&r);
	assert_int_equal(tools_call(c, "extract", "{\"path\": \"src.tar.xz\"}", &r),
			 TOOLS_EINVAL);
	assert_non_null(strstr(r.text, "'to'"));
	tools_result_clear(&r);
	/* a bad entry: the tool's message names it */
	{
		const struct ent e[] = { { 'f', "../evil", "evil\n", 0 } };

		make_archive(at(ws, "bad.tar"), TAR, 0, e, 1);
		assert_int_equal(tools_call(c, "extract", "{\"path\": \"bad.tar\", "
					    "\"to\": \"bad\"}", &r), TOOLS_EDENIED);
		assert_non_null(strstr(r.text, "../evil"));
		tools_result_clear(&r);
	}
	tools_ctx_close(c);
	assert_nothing_outside();
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_archives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absolute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zip_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_tool, setup, teardown),
	};

	return cmocka_run_group_tests_name("extract", tests, NULL, NULL);
}
