/* test_install.c - `halo-agent install` and `halo-agent skills` end to end
 * (issue #7): the built binary, each case in a fresh temporary HOME, data
 * dir and prefix, judged by what is on disk afterwards, the exit status, the
 * messages, the --json reports, `runs show ID --json` and `skills list
 * --json`.
 *
 *   - every example in examples/skills/ installs, its program runs from the
 *     prefix and prints what it should, a re-install runs nothing and
 *     touches nothing, verify passes, remove takes away exactly what the
 *     install created (or runs the Uninstall section) and the registry
 *     forgets it; a changed file is kept, links are removed as links,
 *     --force re-installs, a skill without Verify is not installed twice;
 *   - downloads from our own HTTP/1.0 server on 127.0.0.1 (a pthread on an
 *     ephemeral port): a tarball that does not match its sha256, a host not
 *     in halo-network, a skill given as the URL of its document;
 *   - --dry-run writes nothing, not even the database;
 *   - a failing step: its message, its files removed, the earlier step's
 *     kept, the transcript, the registry, remove afterwards; a step past
 *     --timeout; a failing verify and a failing Uninstall step;
 *   - a skill from a git repository (file:// URL, a local path, a bare one);
 *   - no --yes and no terminal: refused, nothing installed;
 *   - malformed documents: one `file:line: message` line, nothing created;
 *   - the sandbox: a step cannot write outside the workspace and prefix,
 *     read the home directory, or reach the network.
 *
 * The suite runs in a session of its own (main() calls setsid), so that no
 * case can find a controlling terminal to ask on. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "testutil.h"

/* ---- the fixture: a temporary root holding home/, data/, prefix/ --------------- */

static char root[PATH_MAX];   /* realpath of the temporary directory */
static char home[PATH_MAX];   /* $HOME of every run */
static char data[PATH_MAX];   /* --data-dir (not created: the binary makes it) */
static char prefix[PATH_MAX]; /* --prefix */
static char examples[PATH_MAX];
static bool as_nobody;        /* run the binary as uid 65534 */
static char lsan_env[PATH_MAX + 64]; /* LSAN_OPTIONS=... for the binary */

static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		fail_msg("path too long");
}

/* Under LeakSanitizer, the binary's runs get the suppressions they
 * inherit plus libgit2 1.5's own leak (a PCRE2 match data per
 * git_remote_create, see tests/tools/lsan.supp), which every git clone
 * shows; this suite's own process links no libgit2 and keeps its plain
 * LSAN_OPTIONS. */
static void lsan_setup(void)
{
	const char *inherited = getenv("LSAN_OPTIONS"), *p;
	char supp[PATH_MAX], from[PATH_MAX];
	FILE *f;

	lsan_env[0] = '\0';
	if (getenv("ASAN_OPTIONS") == NULL && inherited == NULL)
		return;
	pathf(supp, "%s/lsan.supp", root);
	if ((f = fopen(supp, "w")) == NULL)
		fail_msg("%s: %s", supp, strerror(errno));
	fputs("leak:libgit2.so\nleak:libpcre2-8.so\n", f);
	if (inherited && (p = strstr(inherited, "suppressions=")) != NULL) {
		char *text;

		p += strlen("suppressions=");
		snprintf(from, sizeof(from), "%.*s", (int)strcspn(p, ":"), p);
		if ((text = tu_read_file(from, NULL)) != NULL) {
			fputs(text, f);
			free(text);
		}
	}
	fclose(f);
	snprintf(lsan_env, sizeof(lsan_env), "LSAN_OPTIONS=suppressions=%s:print_suppressions=0",
		 supp);
}

static int setup(void **state)
{
	char *t = tu_mkdtemp("install");
	const char *src = getenv("HALO_SRCDIR");

	(void)state;
	if (realpath(t, root) == NULL)
		fail_msg("realpath %s: %s", t, strerror(errno));
	free(t);
	pathf(home, "%s/home", root);
	pathf(data, "%s/data", root);
	pathf(prefix, "%s/prefix", root);
	pathf(examples, "%s/examples/skills", src && *src ? src : "..");
	if (mkdir(home, 0777) < 0)
		fail_msg("mkdir %s: %s", home, strerror(errno));
	as_nobody = false;
	lsan_setup();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(root);
	return 0;
}

/* ---- running halo-agent ------------------------------------------------------------ */

#define MAX_ARGS 40

/* halo-agent --data-dir <data> ARGS... (NULL-terminated). */
static void halo_v(struct tu_run *r, const char *const *args)
{
	const char *argv[MAX_ARGS + 3];
	size_t n = 0;

	argv[n++] = "--data-dir";
	argv[n++] = data;
	for (; *args && n < MAX_ARGS; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	tu_run(r, home, lsan_env[0] ? (const char *const[]){ lsan_env, NULL } : NULL, as_nobody,
	       argv);
}

#define HALO(r, ...) halo_v((r), (const char *const[]){ __VA_ARGS__, NULL })

/* What of a run's stderr fits in a cmocka message (which it cuts): a
 * sanitizer's report from its start, else the end. */
static const char *err_excerpt(const char *err)
{
	const char *san = strstr(err, "==ERROR: ");
	size_t n = strlen(err);

	if (san == NULL)
		san = strstr(err, "runtime error: ");
	return san ? san : err + (n > 1200 ? n - 1200 : 0);
}

#define assert_status(r, want) do { \
	if ((r).status != (want)) \
		fail_msg("exit status %d, want %d; stdout: %.300s; stderr: ...%.1200s", \
			 (r).status, (want), (r).out, err_excerpt((r).err)); \
} while (0)

#define assert_contains(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (h_ == NULL || strstr(h_, n_) == NULL) \
		fail_msg("expected to find\n  \"%s\"\nin\n  \"%s\"", n_, h_ ? h_ : "(null)"); \
} while (0)

#define assert_lacks(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (h_ && strstr(h_, n_)) \
		fail_msg("did not expect\n  \"%s\"\nin\n  \"%s\"", n_, h_); \
} while (0)

/* The JSON a run printed; when it is none, the run's status and the end of
 * its stderr say why (a sanitizer's report, say). */
static json_t *parse_run(const struct tu_run *r)
{
	json_error_t e;
	json_t *j = json_loads(r->out, 0, &e);

	if (j == NULL)
		fail_msg("not JSON (%s): %.200s; exit status %d; stderr: ...%.1200s", e.text,
			 r->out, r->status, err_excerpt(r->err));
	return j;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static long long jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("'%s' is not an integer", key);
	return (long long)json_integer_value(v);
}

static bool jtrue(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		fail_msg("'%s' is not a boolean", key);
	return json_is_true(v);
}

/* `skills list --json`, and the entry named `name` in it (NULL if none). */
static json_t *skills_list(void)
{
	struct tu_run r;
	json_t *j;

	HALO(&r, "--json", "skills", "list");
	assert_status(r, 0);
	j = parse_run(&r);
	tu_run_free(&r);
	assert_true(json_is_array(j));
	return j;
}

static const json_t *list_find(const json_t *list, const char *name)
{
	size_t i;
	const json_t *v;

	json_array_foreach(list, i, v)
		if (jstr(v, "name") && strcmp(jstr(v, "name"), name) == 0)
			return v;
	return NULL;
}

/* The registry's status for `name`, or "" when it is not listed. */
static void assert_registry(const char *name, const char *want_status)
{
	json_t *list = skills_list();
	const json_t *e = list_find(list, name);

	if (want_status == NULL) {
		if (e)
			fail_msg("'%s' is still in skills list (%s)", name, jstr(e, "status"));
	} else {
		if (e == NULL)
			fail_msg("'%s' is not in skills list", name);
		assert_string_equal(jstr(e, "status"), want_status);
	}
	json_decref(list);
}

/* ---- files ------------------------------------------------------------------------- */

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX];

	pathf(tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0777);
			*p = '/';
		}
	if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", tmp, strerror(errno));
}

static void write_text(const char *path, const char *text)
{
	tu_write_file(path, text, strlen(text));
}

static char *read_text(const char *path)
{
	char *s = tu_read_file(path, NULL);

	if (s == NULL)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	return s;
}

static int64_t mtime_ns(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		fail_msg("stat %s: %s", path, strerror(errno));
	return (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

/* A listing of a tree: one line per entry below `dir`, sorted, its path
 * relative to dir, and with `meta` its type, mode, size and mtime.  "" for
 * an empty or missing tree.  nftw has no user pointer: the walk fills these. */
static char **walk_v;
static size_t walk_n, walk_cap, walk_skip;
static bool walk_meta;

static int walk_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	char *line;

	(void)flag;
	if (ftw->level == 0)
		return 0;
	if (walk_meta) {
		if (asprintf(&line, "%s %c %o %lld %lld.%09ld", path + walk_skip,
			     S_ISDIR(sb->st_mode) ? 'd' : S_ISLNK(sb->st_mode) ? 'l' : 'f',
			     (unsigned)(sb->st_mode & 07777), (long long)sb->st_size,
			     (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec) < 0)
			abort();
	} else if ((line = strdup(path + walk_skip)) == NULL) {
		abort();
	}
	if (walk_n == walk_cap) {
		walk_cap = walk_cap ? 2 * walk_cap : 64;
		if ((walk_v = realloc(walk_v, walk_cap * sizeof(*walk_v))) == NULL)
			abort();
	}
	walk_v[walk_n++] = line;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_sorted(char **v, size_t n)
{
	size_t len = 1;
	char *s;

	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	if ((s = malloc(len)) == NULL)
		abort();
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(s, v[i]);
		strcat(s, "\n");
	}
	return s;
}

static char *tree(const char *dir, bool meta)
{
	char *s;

	walk_v = NULL;
	walk_n = walk_cap = 0;
	walk_skip = strlen(dir) + 1;
	walk_meta = meta;
	if (exists(dir))
		nftw(dir, walk_one, 16, FTW_PHYS);
	s = join_sorted(walk_v, walk_n);
	for (size_t i = 0; i < walk_n; i++)
		free(walk_v[i]);
	free(walk_v);
	walk_v = NULL;
	return s;
}

/* The lines of `after` that are not in `before` (both sorted listings). */
static char *lines_added(const char *before, const char *after)
{
	size_t cap = strlen(after) + 1, o = 0;
	char *out = malloc(cap);

	if (out == NULL)
		abort();
	for (const char *p = after; *p; ) {
		size_t n = strcspn(p, "\n") + 1;
		bool found = false;

		for (const char *q = before; *q && !found; ) {
			size_t m = strcspn(q, "\n") + 1;

			found = m == n && memcmp(p, q, n) == 0;
			q += m;
		}
		if (!found) {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return out;
}

/* The 1-based line of `text` on which `needle` first appears. */
static unsigned line_of(const char *text, const char *needle)
{
	const char *at = strstr(text, needle);
	unsigned line = 1;

	if (at == NULL)
		fail_msg("'%s' is not in the document", needle);
	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

static void sha256_hex(const char *path, char out[65])
{
	size_t len;
	char *buf = tu_read_file(path, &len);
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (buf == NULL || !EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		fail_msg("sha256 of %s", path);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	free(buf);
}

/* Write a skill folder <root>/src/<name>/SKILL.md; its path goes to out
 * (the folder to install is out's dirname). */
static void write_skill(char *doc, char *dir, const char *name, const char *text)
{
	pathf(dir, "%s/src/%s", root, name);
	mkdirs(dir);
	pathf(doc, "%s/SKILL.md", dir);
	write_text(doc, text);
}

/* Run a shell command line outside halo-agent (the installed programs,
 * git): its stdout, and *status its exit status. */
static char *sh_out(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sh_out(int *status, const char *fmt, ...)
{
	char *cmd, *out = NULL;
	size_t len = 0;
	char buf[4096];
	size_t n;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	if ((f = popen(cmd, "r")) == NULL)
		fail_msg("popen %s", cmd);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if ((out = realloc(out, len + n + 1)) == NULL)
			abort();
		memcpy(out + len, buf, n);
		len += n;
	}
	if (out == NULL && (out = malloc(1)) == NULL)
		abort();
	out[len] = '\0';
	st = pclose(f);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	free(cmd);
	return out;
}

/* Assert that a command line prints exactly `want` and exits 0. */
#define assert_prints(want, ...) do { \
	int st_; \
	char *o_ = sh_out(&st_, __VA_ARGS__); \
	if (st_ != 0 || strcmp(o_, (want)) != 0) \
		fail_msg("'%s' printed \"%s\" (exit %d), want \"%s\"", #__VA_ARGS__, o_, st_, \
			 (want)); \
	free(o_); \
} while (0)

/* ---- a tiny HTTP/1.0 server on 127.0.0.1 ----------------------------------------- */

struct httpd {
	int fd;
	int port;
	char dir[PATH_MAX];      /* the folder it serves */
	pthread_t thread;
	atomic_bool stop;
	atomic_int requests;     /* every request seen, served or not */
};

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void httpd_reply(int fd, const char *status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: application/"
			 "octet-stream\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, len);

	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

/* One request: GET of a file directly in h->dir; anything else is 404/405. */
static void httpd_serve(struct httpd *h, int fd)
{
	char req[8192], method[16], path[1024], file[PATH_MAX + 1100];
	size_t got = 0;
	struct timeval tv = { 5, 0 };
	char *body;
	size_t len;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + got, sizeof(req) - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = '\0';
	atomic_fetch_add(&h->requests, 1);
	if (sscanf(req, "%15s %1023s", method, path) != 2) {
		httpd_reply(fd, "400 Bad Request", "", 0);
		return;
	}
	if (strcmp(method, "GET") != 0) {
		httpd_reply(fd, "405 Method Not Allowed", "", 0);
		return;
	}
	if (path[0] != '/' || strchr(path + 1, '/') || strstr(path, "..")) {
		httpd_reply(fd, "404 Not Found", "", 0);
		return;
	}
	snprintf(file, sizeof(file), "%s%s", h->dir, path);
	if ((body = tu_read_file(file, &len)) == NULL) {
		httpd_reply(fd, "404 Not Found", "", 0);
		return;
	}
	httpd_reply(fd, "200 OK", body, len);
	free(body);
}

static void *httpd_main(void *arg)
{
	struct httpd *h = arg;

	while (!atomic_load(&h->stop)) {
		struct pollfd p = { h->fd, POLLIN, 0 };
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((c = accept(h->fd, NULL, NULL)) < 0)
			continue;
		httpd_serve(h, c);
		close(c);
	}
	return NULL;
}

static void httpd_start(struct httpd *h, const char *dir)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	memset(h, 0, sizeof(*h));
	pathf(h->dir, "%s", dir);
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(h->fd, 16) < 0 || getsockname(h->fd, (struct sockaddr *)&a, &alen) < 0)
		fail_msg("httpd: %s", strerror(errno));
	h->port = ntohs(a.sin_port);
	atomic_init(&h->stop, false);
	atomic_init(&h->requests, 0);
	if (pthread_create(&h->thread, NULL, httpd_main, h) != 0)
		fail_msg("pthread_create");
}

static void httpd_stop(struct httpd *h)
{
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
	close(h->fd);
}

/* ---- the examples: install, run, re-install, verify, remove ----------------------- */

struct example {
	const char *dir;          /* folder under examples/skills/ */
	const char *name;         /* the name it registers as */
	const char *version;      /* "" for none */
	long long steps;          /* install steps that run on this machine */
	bool has_uninstall;       /* remove runs its Uninstall section */
	bool reinstall_checked;   /* a re-install is expected to run nothing */
	void (*check)(void);      /* the installed program does what it should */
	const char *set;          /* one --set NAME=VALUE, or NULL */
};

/* Install an example into a prefix that already holds bin/keep-me, and
 * check everything up to (not including) its removal.  Returns the
 * listing of the prefix before the install (paths only). */
static char *example_install(const struct example *ex, char *keep, int64_t *keep_mtime)
{
	char src[PATH_MAX], doc[PATH_MAX], sum[65];
	char *before, *after, *after_meta, *again, *created;
	const char *args[MAX_ARGS];
	size_t n = 0;
	struct tu_run r;
	json_t *j, *man, *files, *v;
	char **paths;
	size_t i, nf;

	pathf(src, "%s/%s", examples, ex->dir);
	/* a file of the user's, there before the install */
	pathf(keep, "%s/bin/keep-me", prefix);
	mkdirs(prefix);
	pathf(doc, "%s/bin", prefix);
	mkdirs(doc);
	write_text(keep, "mine\n");
	*keep_mtime = mtime_ns(keep);
	before = tree(prefix, false);

	args[n++] = "--json";
	args[n++] = "install";
	args[n++] = "--yes";
	args[n++] = "--prefix";
	args[n++] = prefix;
	if (ex->set) {
		args[n++] = "--set";
		args[n++] = ex->set;
	}
	args[n++] = src;
	args[n] = NULL;
	halo_v(&r, args);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_string_equal(jstr(j, "name"), ex->name);
	if (ex->version[0])
		assert_string_equal(jstr(j, "version"), ex->version);
	else
		assert_true(json_is_null(json_object_get(j, "version")));
	assert_true(jtrue(j, "ok"));
	assert_true(json_is_null(json_object_get(j, "error")));
	assert_false(jtrue(j, "already_installed"));
	assert_int_equal(jint(j, "steps_run"), ex->steps);
	assert_true(jtrue(j, "verified"));
	assert_string_equal(jstr(j, "prefix"), prefix);
	assert_true(jint(j, "run_id") > 0);
	json_decref(j);
	assert_contains(r.err, ex->name);
	tu_run_free(&r);

	ex->check();

	/* the registry: exactly the entries the install added, and the
	 * document's sha256 */
	after = tree(prefix, false);
	created = lines_added(before, after);
	HALO(&r, "--json", "skills", "show", ex->name);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_string_equal(jstr(j, "status"), "installed");
	assert_string_equal(jstr(j, "source"), src);
	pathf(doc, "%s/SKILL.md", src);
	if (!exists(doc))
		pathf(doc, "%s/install.md", src);
	sha256_hex(doc, sum);
	assert_string_equal(jstr(j, "sha256"), sum);
	man = json_object_get(j, "manifest");
	assert_string_equal(jstr(man, "prefix"), prefix);
	files = json_object_get(man, "files");
	nf = json_array_size(files);
	paths = calloc(nf + 1, sizeof(*paths));
	json_array_foreach(files, i, v)
		paths[i] = strdup(jstr(v, "path"));
	{
		char *listed = join_sorted(paths, nf);

		assert_string_equal(listed, created);
		free(listed);
	}
	for (i = 0; i < nf; i++)
		free(paths[i]);
	free(paths);
	json_decref(j);
	tu_run_free(&r);
	assert_registry(ex->name, "installed");

	/* a re-install: Verify passes first, so nothing runs and nothing under
	 * the prefix changes, not even a time stamp */
	if (ex->reinstall_checked) {
		after_meta = tree(prefix, true);
		halo_v(&r, args);
		assert_status(r, 0);
		j = parse_run(&r);
		assert_true(jtrue(j, "ok"));
		assert_true(jtrue(j, "already_installed"));
		assert_int_equal(jint(j, "steps_run"), 0);
		assert_true(jtrue(j, "verified"));
		json_decref(j);
		assert_contains(r.err, "already installed");
		tu_run_free(&r);
		again = tree(prefix, true);
		assert_string_equal(again, after_meta);
		free(again);
		free(after_meta);

		HALO(&r, "skills", "verify", ex->name);
		assert_status(r, 0);
		assert_contains(r.err, ex->name);
		assert_contains(r.err, ": verified");
		tu_run_free(&r);
		HALO(&r, "--json", "skills", "verify", ex->name);
		assert_status(r, 0);
		j = parse_run(&r);
		assert_true(jtrue(j, "ok"));
		assert_true(jtrue(j, "verified"));
		json_decref(j);
		tu_run_free(&r);
		assert_registry(ex->name, "installed");
	}
	free(after);
	free(created);
	return before;
}

static void example_remove(const struct example *ex, const char *before, const char *keep,
			   int64_t keep_mtime)
{
	struct tu_run r;
	json_t *j;
	char *now, *k, skdir[PATH_MAX];

	HALO(&r, "--json", "skills", "remove", ex->name, "--yes");
	assert_status(r, 0);
	j = parse_run(&r);
	assert_true(jtrue(j, "ok"));
	if (ex->has_uninstall) {
		assert_int_equal(jint(j, "steps_run"), 1);
		assert_contains(r.err, "its Uninstall section ran");
	} else {
		assert_int_equal(jint(j, "steps_run"), 0);
		assert_contains(r.err, "removed:");
	}
	json_decref(j);
	tu_run_free(&r);

	/* the prefix is as it was before the install; the user's file untouched */
	now = tree(prefix, false);
	assert_string_equal(now, before);
	free(now);
	k = read_text(keep);
	assert_string_equal(k, "mine\n");
	free(k);
	assert_true(mtime_ns(keep) == keep_mtime);
	assert_registry(ex->name, NULL);
	pathf(skdir, "%s/skills/%s", data, ex->name);
	assert_false(exists(skdir));
	HALO(&r, "skills", "verify", ex->name);
	assert_status(r, 1);
	assert_contains(r.err, "no skill named");
	tu_run_free(&r);
}

static void example_cycle(const struct example *ex)
{
	char keep[PATH_MAX];
	int64_t keep_mtime;
	char *before = example_install(ex, keep, &keep_mtime);

	example_remove(ex, before, keep, keep_mtime);
	free(before);
}

static void check_hello(void)
{
	char man[PATH_MAX], ref[PATH_MAX];
	char *a, *b;
	struct stat sb;

	assert_prints("Hello, halo!\n", "'%s/bin/hello' halo", prefix);
	assert_prints("hello 1.0.0\n", "'%s/bin/hello' --version", prefix);
	pathf(man, "%s/bin/hello", prefix);
	assert_int_equal(stat(man, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0755);
	/* the man page is the skill's own, byte for byte */
	pathf(man, "%s/share/man/man1/hello.1", prefix);
	pathf(ref, "%s/hello-c/assets/hello.1", examples);
	a = read_text(man);
	b = read_text(ref);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(stat(man, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
}

static void check_wcount(void)
{
	assert_prints("2 3 14\n", "printf 'one two\\nthree\\n' | '%s/bin/wcount'", prefix);
	assert_prints("wcount 0.3\n", "'%s/bin/wcount' --version", prefix);
}

static void check_greet(void)
{
	assert_prints("Greetings, halo.\n", "'%s/bin/greet' halo", prefix);
	assert_prints("greet 1.2\n", "'%s/bin/greet' --version", prefix);
}

static void check_pkgcount(void)
{
	char want[64];
	char *ref;
	int st;

	/* the reference: dpkg's own count */
	ref = sh_out(&st, "dpkg-query -W -f '${Status}\\n' | grep -c 'install ok installed'");
	assert_int_equal(st, 0);
	ref[strcspn(ref, "\n")] = '\0';
	snprintf(want, sizeof(want), "%s packages installed\n", ref);
	free(ref);
	assert_prints(want, "'%s/bin/pkgcount'", prefix);
}

static void check_todo(void)
{
	assert_prints("todo.sh 2.0\n", "'%s/bin/todo' --version", prefix);
	assert_prints("", "TODO_FILE='%s/todo' '%s/bin/todo' add buy milk", root, prefix);
	assert_prints("", "TODO_FILE='%s/todo' '%s/bin/todo' add write it", root, prefix);
	assert_prints("     1\tbuy milk\n     2\twrite it\n", "TODO_FILE='%s/todo' '%s/bin/todo'",
		      root, prefix);
	assert_prints("", "TODO_FILE='%s/todo' '%s/bin/todo' done 1", root, prefix);
	assert_prints("     1\twrite it\n", "TODO_FILE='%s/todo' '%s/bin/todo'", root, prefix);
}

static const struct example ex_hello = {
	"hello-c", "hello-c", "1.0.0", 2, false, true, check_hello, NULL,
};
static const struct example ex_wcount = {
	"wcount-git", "wcount-git", "0.3", 3, true, true, check_wcount, NULL,
};
static const struct example ex_pkgcount = {
	"pkgcount", "pkgcount", "1.1", 2, false, true, check_pkgcount, NULL,
};
static const struct example ex_todo = {
	"todo-installmd", "todo-sh", "", 2, false, true, check_todo, NULL,
};

static void test_example_hello_c(void **state)
{
	(void)state;
	example_cycle(&ex_hello);
}

static void test_example_wcount_git(void **state)
{
	(void)state;
	example_cycle(&ex_wcount);
}

static void test_example_pkgcount(void **state)
{
	(void)state;
	/* the Debian section is the one that runs here (2 steps) */
	if (access("/usr/bin/dpkg-query", X_OK) != 0)
		skip();
	example_cycle(&ex_pkgcount);
}

static void test_example_todo_installmd(void **state)
{
	(void)state;
	example_cycle(&ex_todo);
}

/* A skill with no Verify section, installed again from the same document
 * with its files as it left them, is not installed again; once one of its
 * files changed, it is. */
static void test_reinstall_without_verify(void **state)
{
	static const char text[] =
		"---\nname: plain\ndescription: No Verify section.\n---\n# plain\n\n"
		"## Install\n\n```sh\nmkdir -p \"$PREFIX/share/plain\"\n"
		"echo v1 > \"$PREFIX/share/plain/data\"\n```\n";
	char doc[PATH_MAX], dir[PATH_MAX], file[PATH_MAX];
	char *first, *now;
	struct tu_run r;
	json_t *j;

	(void)state;
	write_skill(doc, dir, "plain", text);
	pathf(file, "%s/share/plain/data", prefix);
	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_int_equal(jint(j, "steps_run"), 1);
	assert_false(jtrue(j, "verified"));
	json_decref(j);
	assert_contains(r.err, "no Verify section");
	tu_run_free(&r);
	first = tree(prefix, true);

	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_true(jtrue(j, "already_installed"));
	assert_int_equal(jint(j, "steps_run"), 0);
	json_decref(j);
	tu_run_free(&r);
	now = tree(prefix, true);
	assert_string_equal(now, first);
	free(now);
	free(first);

	/* nothing to verify with */
	HALO(&r, "skills", "verify", "plain");
	assert_status(r, 1);
	assert_contains(r.err, "has no Verify section to run");
	tu_run_free(&r);

	/* a changed file: the steps run again */
	write_text(file, "mine\n");
	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_false(jtrue(j, "already_installed"));
	assert_int_equal(jint(j, "steps_run"), 1);
	json_decref(j);
	tu_run_free(&r);
	now = read_text(file);
	assert_string_equal(now, "v1\n");
	free(now);
	assert_registry("plain", "installed");
}

static void test_example_hello_c_nobody(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	chmod(root, 0777);
	chmod(home, 0777);
	as_nobody = true;
	/* the prefix and its bin/ are the user's (install -d chmods them) */
	mkdirs(prefix);
	{
		char bin[PATH_MAX];

		pathf(bin, "%s/bin", prefix);
		mkdirs(bin);
		if (chown(prefix, 65534, 65534) < 0 || chown(bin, 65534, 65534) < 0)
			fail_msg("chown: %s", strerror(errno));
	}
	example_cycle(&ex_hello);
}

/* A file changed after the install is kept by remove, and named; so are
 * the directories that still hold it. */
static void test_remove_keeps_changed(void **state)
{
	char keep[PATH_MAX], man[PATH_MAX], hello[PATH_MAX];
	int64_t keep_mtime;
	char *before, *now, *s;
	struct tu_run r;

	(void)state;
	before = example_install(&ex_hello, keep, &keep_mtime);
	pathf(man, "%s/share/man/man1/hello.1", prefix);
	pathf(hello, "%s/bin/hello", prefix);
	{
		FILE *f = fopen(man, "a");

		assert_non_null(f);
		fputs(".\\\" my note\n", f);
		fclose(f);
	}
	HALO(&r, "skills", "remove", "hello-c");
	assert_status(r, 0);
	assert_contains(r.err, "share/man/man1/hello.1");
	assert_contains(r.err, "1 changed file(s) kept");
	tu_run_free(&r);
	assert_false(exists(hello));
	s = read_text(man);
	assert_contains(s, "my note");
	free(s);
	now = tree(prefix, false);
	assert_string_equal(now, "bin\nbin/keep-me\nshare\nshare/man\nshare/man/man1\n"
			    "share/man/man1/hello.1\n");
	free(now);
	assert_registry("hello-c", NULL);
	free(before);
}

/* --force runs the steps again over an installed skill: the files are
 * rewritten, the registry learns their new state, and remove still takes
 * them all (none looks "changed since the install"). */
static void test_force_reinstall(void **state)
{
	char keep[PATH_MAX], hello[PATH_MAX], src[PATH_MAX];
	int64_t keep_mtime, t0;
	char *before, *now;
	struct tu_run r;
	json_t *j;

	(void)state;
	before = example_install(&ex_hello, keep, &keep_mtime);
	pathf(hello, "%s/bin/hello", prefix);
	pathf(src, "%s/hello-c", examples);
	t0 = mtime_ns(hello);
	HALO(&r, "--json", "install", "--yes", "--force", "--prefix", prefix, src);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_false(jtrue(j, "already_installed"));
	assert_int_equal(jint(j, "steps_run"), 2);
	assert_true(jtrue(j, "verified"));
	json_decref(j);
	tu_run_free(&r);
	assert_true(mtime_ns(hello) != t0);
	check_hello();
	HALO(&r, "skills", "remove", "hello-c");
	assert_status(r, 0);
	assert_lacks(r.err, "kept");
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, before);
	free(now);
	free(before);
}

/* Symbolic links a step made are removed as links: what they point at
 * (outside the prefix) is untouched. */
static void test_remove_symlinks(void **state)
{
	char doc[PATH_MAX], dir[PATH_MAX], target[PATH_MAX], file[PATH_MAX], text[4 * PATH_MAX];
	char *now;
	struct tu_run r;

	(void)state;
	pathf(target, "%s/target", root);
	pathf(file, "%s/target/sub", root);
	mkdirs(file);
	pathf(file, "%s/target/sub/file", root);
	write_text(file, "precious\n");
	snprintf(text, sizeof(text),
		 "---\nname: links\ndescription: Links out of the prefix.\n---\n# links\n\n"
		 "## Install\n\n```sh\nmkdir -p \"$PREFIX/bin\"\nln -s '%s' \"$PREFIX/bin/tdir\"\n"
		 "ln -s '%s' \"$PREFIX/bin/tfile\"\n```\n", target, file);
	write_skill(doc, dir, "links", text);
	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 0);
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, "bin\nbin/tdir\nbin/tfile\n");
	free(now);
	HALO(&r, "skills", "remove", "links");
	assert_status(r, 0);
	assert_contains(r.err, "3 entries deleted");
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);
	now = read_text(file);
	assert_string_equal(now, "precious\n");
	free(now);
	now = tree(target, false);
	assert_string_equal(now, "sub\nsub/file\n");
	free(now);
}

/* greeter-config: the install runs, its Verify fails by design and says
 * what to do; once the config exists, verify passes. */
static void test_example_greeter_config(void **state)
{
	char src[PATH_MAX], doc[PATH_MAX], conf[PATH_MAX], keep[PATH_MAX], msg[PATH_MAX * 3];
	char *text, *before, *after;
	int64_t keep_mtime;
	unsigned vline;
	struct tu_run r;
	json_t *j;
	int st;

	(void)state;
	pathf(src, "%s/greeter-config", examples);
	pathf(doc, "%s/SKILL.md", src);
	pathf(conf, "%s/etc/greeter.conf", prefix);
	text = read_text(doc);
	vline = line_of(text, "\"$PREFIX/bin/greeter\" --check");
	free(text);
	pathf(keep, "%s/bin", prefix);
	mkdirs(keep);
	pathf(keep, "%s/bin/keep-me", prefix);
	write_text(keep, "mine\n");
	keep_mtime = mtime_ns(keep);
	before = tree(prefix, false);

	HALO(&r, "install", "--yes", "--prefix", prefix, src);
	assert_status(r, 1);
	/* the line and the command */
	snprintf(msg, sizeof(msg), "halo-agent: %s:%u: verify failed (exit 3): "
		 "\"$PREFIX/bin/greeter\" --check\n", doc, vline);
	assert_contains(r.err, msg);
	/* greeter's own hint, and the skill's note */
	snprintf(msg, sizeof(msg), "    | greeter: create it with: mkdir -p %s/etc && echo "
		 "'name=YOUR NAME' > %s\n", prefix, conf);
	assert_contains(r.err, msg);
	assert_contains(r.err, "  the skill says about this step: If this fails, greeter has "
			"no configuration yet: create $PREFIX/etc/greeter.conf with a line "
			"name=YOUR NAME, then run halo-agent skills verify greeter-config.");
	assert_contains(r.err, "check again with: halo-agent skills verify greeter-config");
	tu_run_free(&r);
	assert_registry("greeter-config", "failed");
	/* the program is there, and says the same (a failing `skills verify`
	 * is test_verify_failure_report's) */
	free(sh_out(&st, "'%s/bin/greeter' 2>/dev/null", prefix));
	assert_int_equal(st, 3);

	/* do what it says */
	pathf(msg, "%s/etc", prefix);
	mkdirs(msg);
	write_text(conf, "name=Ada\n");
	HALO(&r, "skills", "verify", "greeter-config");
	assert_status(r, 0);
	assert_contains(r.err, "greeter-config: verified");
	tu_run_free(&r);
	assert_registry("greeter-config", "installed");
	assert_prints("Hello, Ada.\n", "'%s/bin/greeter'", prefix);

	/* now a re-install has nothing to do */
	after = tree(prefix, true);
	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, src);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_true(jtrue(j, "already_installed"));
	assert_int_equal(jint(j, "steps_run"), 0);
	json_decref(j);
	tu_run_free(&r);
	{
		char *again = tree(prefix, true);

		assert_string_equal(again, after);
		free(again);
	}
	free(after);

	/* remove takes greeter; the config is the user's and stays */
	HALO(&r, "skills", "remove", "greeter-config");
	assert_status(r, 0);
	tu_run_free(&r);
	after = tree(prefix, false);
	{
		char want[4096];

		snprintf(want, sizeof(want), "%setc\netc/greeter.conf\n", before);
		/* before is sorted and holds only bin entries: etc sorts after */
		assert_string_equal(after, want);
	}
	free(after);
	assert_true(mtime_ns(keep) == keep_mtime);
	assert_registry("greeter-config", NULL);
	free(before);
}

/* A failing `skills verify` and a failing Uninstall step report like a
 * failing install: line, command, output, the skill's note (the step
 * they name belongs to a parse of the registry's copy that is freed
 * before the report: once read after free, caught by the ASan build). */
static void test_verify_failure_report(void **state)
{
	char src[PATH_MAX], doc[PATH_MAX], dir[PATH_MAX], copy[PATH_MAX], msg[2 * PATH_MAX];
	char *text;
	unsigned vline, uline;
	struct tu_run r;
	json_t *j;
	static const char undoc[] =
		"---\nname: stuck\ndescription: Its Uninstall fails.\n---\n# stuck\n\n"
		"## Install\n\n```sh\ntouch \"$PREFIX/stuck\"\n```\n\n"
		"## Uninstall\n\nThe file is not ours to remove.\n\n"
		"```sh\necho refusing >&2\nfalse\n```\n";

	(void)state;
	pathf(src, "%s/greeter-config", examples);
	pathf(copy, "%s/skills/greeter-config/skill/SKILL.md", data);
	pathf(doc, "%s/SKILL.md", src);
	text = read_text(doc);
	vline = line_of(text, "\"$PREFIX/bin/greeter\" --check");
	free(text);
	HALO(&r, "install", "--yes", "--prefix", prefix, src);
	assert_status(r, 1);
	tu_run_free(&r);

	HALO(&r, "--json", "skills", "verify", "greeter-config");
	assert_status(r, 1);
	j = parse_run(&r);
	assert_false(jtrue(j, "ok"));
	assert_false(jtrue(j, "verified"));
	assert_int_equal(jint(j, "failed_line"), vline);
	assert_int_equal(jint(j, "failed_status"), 3);
	assert_string_equal(jstr(j, "failed_command"), "\"$PREFIX/bin/greeter\" --check");
	json_decref(j);
	snprintf(msg, sizeof(msg), "halo-agent: %s:%u: verify failed (exit 3): "
		 "\"$PREFIX/bin/greeter\" --check\n", copy, vline);
	assert_contains(r.err, msg);
	assert_contains(r.err, "  the skill says about this step: If this fails, greeter has "
			"no configuration yet:");
	tu_run_free(&r);
	assert_registry("greeter-config", "failed");

	/* an Uninstall step that fails: remove says so and keeps the skill */
	write_skill(doc, dir, "stuck", undoc);
	uline = line_of(undoc, "false\n");
	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 0);
	tu_run_free(&r);
	HALO(&r, "--json", "skills", "remove", "stuck", "--yes");
	assert_status(r, 1);
	j = parse_run(&r);
	assert_false(jtrue(j, "ok"));
	assert_int_equal(jint(j, "failed_line"), uline);
	assert_string_equal(jstr(j, "failed_command"), "false");
	json_decref(j);
	assert_contains(r.err, "uninstall step 1 failed (exit 1): false");
	assert_contains(r.err, "    | refusing\n");
	assert_contains(r.err, "the skill says about this step: The file is not ours to remove.");
	tu_run_free(&r);
	pathf(msg, "%s/stuck", prefix);
	assert_true(exists(msg));
	assert_registry("stuck", "installed");
}

/* Was a bug (fixed: the second prefix is refused): installing an installed skill into a second prefix
 * loses the first.  skills/run.c skills_install() seeds the list of
 * created files from the registry's previous entry (manifest_read of
 * prev.manifest) without looking at the prefix that entry was for, and
 * register_skill() then records the new prefix with that list.  So after
 * `install hello-c --prefix A` and `install hello-c --prefix B`, the
 * registry knows only B and `skills remove hello-c` leaves A's bin/hello,
 * man page and directories behind, tracked by nothing.  (When Verify
 * already passes in B, "already installed" even records A's file list as
 * B's, so remove deletes B files the skill never created, if their size
 * and time match.)  Whatever the fix (refuse, move, or track both), removing
 * the skill until the registry forgets it must leave both prefixes as
 * they were. */
static void test_second_prefix(void **state)
{
	char src[PATH_MAX], pa[PATH_MAX], pb[PATH_MAX];
	char *now;
	struct tu_run r;
	json_t *list;

	(void)state;
	pathf(src, "%s/hello-c", examples);
	pathf(pa, "%s/a", prefix);
	pathf(pb, "%s/b", prefix);
	HALO(&r, "install", "--yes", "--prefix", pa, src);
	assert_status(r, 0);
	tu_run_free(&r);
	HALO(&r, "install", "--yes", "--prefix", pb, src);
	tu_run_free(&r);
	for (int i = 0; i < 3; i++) {
		list = skills_list();
		if (list_find(list, "hello-c") == NULL) {
			json_decref(list);
			break;
		}
		json_decref(list);
		HALO(&r, "skills", "remove", "hello-c");
		assert_status(r, 0);
		tu_run_free(&r);
	}
	assert_registry("hello-c", NULL);
	now = tree(pa, false);
	assert_string_equal(now, "");
	free(now);
	now = tree(pb, false);
	assert_string_equal(now, "");
	free(now);
}

/* Was a bug (fixed: the names are refused): a skill's metadata.halo-vars (or --set) could
 * redefine PREFIX, SKILL_DIR and WORKSPACE for its steps.  skills/run.c
 * runner_init() sets PREFIX, SKILL_DIR and WORKSPACE, then env_set()s the
 * skill's vars and the --set values over them.  With `halo-vars:
 * PREFIX=/tmp/elsewhere` the steps write into the sandbox's private /tmp,
 * and install reports "pv installed: ... 0 file(s)" with nothing
 * installed (a --set PREFIX=... does the same).  Either the names are
 * refused, naming PREFIX, or the steps see the real prefix. */
static void test_reserved_vars(void **state)
{
	char doc[PATH_MAX], dir[PATH_MAX], pv[PATH_MAX];
	struct tu_run r;
	static const char text[] =
		"---\nname: pv\ndescription: Redefines PREFIX.\nmetadata:\n"
		"  halo-vars: PREFIX=/tmp/elsewhere\n---\n# pv\n\n## Install\n\n```sh\n"
		"mkdir -p \"$PREFIX/bin\" && echo hi > \"$PREFIX/bin/pv\"\n```\n";
	static const char plain[] =
		"---\nname: pv\ndescription: Uses PREFIX.\n---\n# pv\n\n## Install\n\n```sh\n"
		"mkdir -p \"$PREFIX/bin\" && echo hi > \"$PREFIX/bin/pv\"\n```\n";

	(void)state;
	pathf(pv, "%s/bin/pv", prefix);
	write_skill(doc, dir, "pv", text);
	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	if (r.status == 0)
		assert_true(exists(pv));
	else
		assert_contains(r.err, "PREFIX");
	tu_run_free(&r);

	tu_rmtree(data);
	tu_rmtree(prefix);
	write_skill(doc, dir, "pv", plain);
	HALO(&r, "install", "--yes", "--prefix", prefix, "--set", "PREFIX=/tmp/elsewhere", dir);
	if (r.status == 0)
		assert_true(exists(pv));
	else
		assert_contains(r.err, "PREFIX");
	tu_run_free(&r);
}

/* ---- greet-tarball and downloads --------------------------------------------------- */

/* Was a bug (fixed: a URL starting with a variable is checked once expanded): greet-tarball did not parse.  skills/parse.c,
 * the fetch block's `url:` check (since 1447f8d) wants the value to start
 * with http:// or https:// before variables are expanded, so the
 * example's `url: ${MIRROR}/greet-1.2.tar.gz` is refused as
 * "SKILL.md:29: url: '${MIRROR}/greet-1.2.tar.gz' is not an http:// or
 * https:// address", even by --dry-run.  The scheme can only be judged
 * after expansion (the download tool refuses other schemes at run time
 * anyway).  test_tarball_sha256_mismatch installs the same tarball through
 * a skill with the address written out. */
static void test_example_greet_tarball(void **state)
{
	struct httpd h;
	char dist[PATH_MAX], mirror[64];
	struct example ex = { "greet-tarball", "greet-tarball", "1.2", 2, false, true,
			      check_greet, mirror };
	char keep[PATH_MAX];
	int64_t keep_mtime;
	char *before;

	(void)state;
	pathf(dist, "%s/greet-tarball/dist", examples);
	httpd_start(&h, dist);
	snprintf(mirror, sizeof(mirror), "MIRROR=http://127.0.0.1:%d", h.port);
	before = example_install(&ex, keep, &keep_mtime);
	/* one download; the re-install did not fetch again */
	assert_int_equal(atomic_load(&h.requests), 1);
	example_remove(&ex, before, keep, keep_mtime);
	free(before);
	httpd_stop(&h);
}

/* A skill like greet-tarball, but with the mirror's address written into
 * its fetch block, allowed to reach `hosts`.  Returns the fetch's line. */
static unsigned tarball_skill(char *doc, char *dir, const char *name, int port,
			      const char *hosts)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "---\n"
		 "name: %s\n"
		 "description: greet 1.2 from a tarball at a fixed address.\n"
		 "metadata:\n"
		 "  halo-version: \"1.2\"\n"
		 "  halo-network: %s\n"
		 "---\n"
		 "# %s\n"
		 "\n"
		 "## Install\n"
		 "\n"
		 "```fetch\n"
		 "url: http://127.0.0.1:%d/greet-1.2.tar.gz\n"
		 "sha256: 8e2e791101d2c4f7e9bb328c02ba8ca086955a9e9eb9f714493a384f1cf5b2b7\n"
		 "extract: src\n"
		 "```\n"
		 "\n"
		 "```sh\n"
		 "make -C src/greet-1.2 install PREFIX=\"$PREFIX\"\n"
		 "```\n", name, hosts, name, port);
	write_skill(doc, dir, name, text);
	return line_of(text, "```fetch");
}

static void test_tarball_sha256_mismatch(void **state)
{
	struct httpd h;
	char dist[PATH_MAX], file[PATH_MAX], src[PATH_MAX], want[PATH_MAX + 256], got[65];
	char doc[PATH_MAX], dir[PATH_MAX], ws[PATH_MAX];
	size_t len;
	char *bytes, *now;
	unsigned line;
	struct tu_run r;

	(void)state;
	/* a mirror whose tarball is one byte longer than the pinned one */
	pathf(dist, "%s/dist", root);
	mkdirs(dist);
	pathf(src, "%s/greet-tarball/dist/greet-1.2.tar.gz", examples);
	bytes = tu_read_file(src, &len);
	assert_non_null(bytes);
	pathf(file, "%s/greet-1.2.tar.gz", dist);
	bytes = realloc(bytes, len + 1);
	bytes[len] = '\n';
	tu_write_file(file, bytes, len + 1);
	sha256_hex(file, got);
	httpd_start(&h, dist);
	line = tarball_skill(doc, dir, "greet-local", h.port, "127.0.0.1");

	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 1);
	snprintf(want, sizeof(want), "halo-agent: %s:%u: download failed: sha256 mismatch for "
		 "http://127.0.0.1:%d/greet-1.2.tar.gz: expected "
		 "8e2e791101d2c4f7e9bb328c02ba8ca086955a9e9eb9f714493a384f1cf5b2b7, got %s",
		 doc, line, h.port, got);
	assert_contains(r.err, want);
	tu_run_free(&r);
	assert_int_equal(atomic_load(&h.requests), 1);
	/* nothing under the prefix, nothing left in the workspace */
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);
	pathf(ws, "%s/skills/greet-local/work", data);
	now = tree(ws, false);
	assert_string_equal(now, "");
	free(now);
	assert_registry("greet-local", "failed");

	/* the control: the same skill, once the mirror serves the right bytes */
	tu_write_file(file, bytes, len);
	free(bytes);
	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 0);
	tu_run_free(&r);
	assert_int_equal(atomic_load(&h.requests), 2);
	httpd_stop(&h);
	check_greet();
	assert_registry("greet-local", "installed");
}

static void test_download_host_refused(void **state)
{
	struct httpd h;
	char dist[PATH_MAX], doc[PATH_MAX], dir[PATH_MAX], want[PATH_MAX + 128];
	char *now;
	unsigned line;
	struct tu_run r;

	(void)state;
	pathf(dist, "%s/greet-tarball/dist", examples);
	httpd_start(&h, dist);
	line = tarball_skill(doc, dir, "elsewhere", h.port, "example.org *.example.net localhost");

	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 1);
	snprintf(want, sizeof(want), "halo-agent: %s:%u: download failed: host '127.0.0.1' is not "
		 "on the allow-list", doc, line);
	assert_contains(r.err, want);
	assert_contains(r.err, "declare the host in metadata.halo-network");
	tu_run_free(&r);
	/* refused before any connection */
	assert_int_equal(atomic_load(&h.requests), 0);
	httpd_stop(&h);
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);
	assert_registry("elsewhere", "failed");
}

/* ---- --dry-run ----------------------------------------------------------------------- */

static void test_dry_run(void **state)
{
	struct httpd h;
	char src[PATH_MAX], dot_local[PATH_MAX], doc[PATH_MAX], dir[PATH_MAX];
	struct tu_run r;
	json_t *j, *steps, *s;
	size_t i;
	static const struct { long long line; const char *section, *kind, *verdict; } want[] = {
		{ 20, "requirements", "packages", "satisfied" },
		{ 28, "install", "shell", "run" },
		{ 34, "install", "shell", "run" },
		{ 44, "verify", "shell", "run" },
		{ 52, "other", "shell", "skip" },
	};

	(void)state;
	pathf(src, "%s/hello-c", examples);
	pathf(dot_local, "%s/.local", home);

	HALO(&r, "install", "--dry-run", "--prefix", prefix, src);
	assert_status(r, 0);
	assert_contains(r.out, "plan for hello-c 1.0.0");
	assert_contains(r.out, "2 install step(s) would run, then 1 verify step(s); nothing was "
			"changed (--dry-run)");
	assert_contains(r.out, "$ cc -O2 -Wall -o hello \"$SKILL_DIR/assets/hello.c\"");
	tu_run_free(&r);
	assert_false(exists(data));
	assert_false(exists(prefix));

	HALO(&r, "--json", "install", "--dry-run", src);
	assert_status(r, 0);
	j = parse_run(&r);
	tu_run_free(&r);
	assert_true(jtrue(j, "dry_run"));
	assert_string_equal(jstr(j, "prefix"), dot_local);
	assert_true(json_is_null(json_object_get(j, "problem")));
	assert_string_equal(jstr(json_object_get(j, "skill"), "name"), "hello-c");
	steps = json_object_get(j, "steps");
	assert_int_equal(json_array_size(steps), sizeof(want) / sizeof(want[0]));
	json_array_foreach(steps, i, s) {
		assert_int_equal(jint(s, "line"), want[i].line);
		assert_string_equal(jstr(s, "section"), want[i].section);
		assert_string_equal(jstr(s, "kind"), want[i].kind);
		assert_string_equal(jstr(s, "verdict"), want[i].verdict);
		assert_non_null(jstr(s, "reason"));
	}
	assert_contains(jstr(json_array_get(steps, 1), "script"), "cc -O2 -Wall -o hello");
	json_decref(j);
	assert_false(exists(data));
	assert_false(exists(dot_local));

	/* a download is planned, not done */
	pathf(dot_local, "%s/dist", root);
	mkdirs(dot_local);
	httpd_start(&h, dot_local);
	tarball_skill(doc, dir, "greet-local", h.port, "127.0.0.1");
	HALO(&r, "--json", "install", "--dry-run", "--prefix", prefix, dir);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_string_equal(jstr(json_array_get(json_object_get(j, "steps"), 0), "kind"), "fetch");
	assert_string_equal(jstr(json_array_get(json_object_get(j, "steps"), 0), "verdict"), "run");
	json_decref(j);
	tu_run_free(&r);
	assert_int_equal(atomic_load(&h.requests), 0);
	httpd_stop(&h);
	assert_false(exists(data));
	assert_false(exists(prefix));
}

/* ---- a failing step -------------------------------------------------------------------- */

static const char fails_doc[] =
	"---\n"
	"name: fails\n"
	"description: Its second step fails after creating files.\n"
	"metadata:\n"
	"  halo-version: \"0.1\"\n"
	"---\n"
	"# fails\n"
	"\n"
	"## Install\n"
	"\n"
	"Create the first file:\n"
	"\n"
	"```sh\n"
	"mkdir -p \"$PREFIX/share/fails\"\n"
	"echo one > \"$PREFIX/share/fails/first\"\n"
	"echo made first\n"
	"```\n"
	"\n"
	"Then the second, and fail:\n"
	"\n"
	"```sh\n"
	"echo two > \"$PREFIX/share/fails/second\"\n"
	"mkdir -p \"$PREFIX/lib/fails\"\n"
	"echo about to fail >&2\n"
	"false\n"
	"echo never\n"
	"```\n";

static void test_failing_step(void **state)
{
	char doc[PATH_MAX], dir[PATH_MAX], first[PATH_MAX], msg[PATH_MAX + 256], id[32];
	char *before, *now;
	unsigned fline = line_of(fails_doc, "false\n");
	struct tu_run r;
	json_t *j, *calls, *c0, *c1;

	(void)state;
	write_skill(doc, dir, "fails", fails_doc);
	pathf(first, "%s/bin", prefix);
	mkdirs(first);
	pathf(first, "%s/bin/keep-me", prefix);
	write_text(first, "mine\n");
	before = tree(prefix, false);
	pathf(first, "%s/share/fails/first", prefix);

	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 1);
	snprintf(msg, sizeof(msg), "halo-agent: %s:%u: step 2 of 2 failed (exit 1): false\n", doc,
		 fline);
	assert_contains(r.err, msg);
	assert_contains(r.err, "    | about to fail\n");
	assert_contains(r.err, "the skill says about this step: Then the second, and fail:");
	assert_contains(r.err, "removed the 3 entries the failed step had created under");
	assert_lacks(r.err, "\nnever\n");
	j = parse_run(&r);
	assert_false(jtrue(j, "ok"));
	assert_int_equal(jint(j, "steps_run"), 1);
	assert_int_equal(jint(j, "failed_line"), fline);
	assert_int_equal(jint(j, "failed_status"), 1);
	assert_string_equal(jstr(j, "failed_command"), "false");
	assert_string_equal(jstr(j, "stderr_tail"), "about to fail\n");
	snprintf(id, sizeof(id), "%lld", jint(j, "run_id"));
	json_decref(j);
	tu_run_free(&r);

	/* the first step's file stays; the failing step's are gone */
	now = tree(prefix, false);
	assert_string_equal(now, "bin\nbin/keep-me\nshare\nshare/fails\nshare/fails/first\n");
	free(now);
	now = read_text(first);
	assert_string_equal(now, "one\n");
	free(now);
	assert_registry("fails", "failed");

	/* the transcript: each step, what it ran, what it printed */
	HALO(&r, "--json", "runs", "show", id);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_string_equal(jstr(j, "kind"), "install");
	assert_string_equal(jstr(j, "subject"), "fails");
	assert_int_equal(jint(j, "exit_status"), 1);
	calls = json_object_get(j, "tool_calls");
	assert_int_equal(json_array_size(calls), 2);
	c0 = json_array_get(calls, 0);
	c1 = json_array_get(calls, 1);
	assert_string_equal(jstr(c0, "tool"), "shell");
	assert_int_equal(jint(json_object_get(c0, "args"), "line"), 13);
	assert_string_equal(jstr(json_object_get(c0, "args"), "phase"), "install");
	assert_string_equal(jstr(c0, "command"),
			    "mkdir -p \"$PREFIX/share/fails\"\necho one > \"$PREFIX/share/fails/first\"\n"
			    "echo made first\n");
	assert_int_equal(jint(c0, "exit_status"), 0);
	assert_string_equal(jstr(c0, "stdout"), "made first\n");
	assert_string_equal(jstr(c1, "tool"), "shell");
	assert_int_equal(jint(json_object_get(c1, "args"), "line"), 21);
	assert_contains(jstr(c1, "command"), "echo about to fail >&2\nfalse\n");
	assert_int_equal(jint(c1, "exit_status"), 1);
	assert_string_equal(jstr(c1, "stdout"), "");
	snprintf(msg, sizeof(msg), "about to fail\nhalo-agent: command failed (exit 1) at line %u: "
		 "false\n", fline);
	assert_string_equal(jstr(c1, "stderr"), msg);
	assert_contains(jstr(json_object_get(c1, "policy"), "layers"), "landlock-fs");
	json_decref(j);
	tu_run_free(&r);

	/* remove undoes what the good step made */
	HALO(&r, "skills", "remove", "fails");
	assert_status(r, 0);
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, before);
	free(now);
	assert_registry("fails", NULL);
	free(before);
}

/* --timeout: a step that runs too long is killed with everything it
 * started, reported with status 124, and what it made is removed. */
static void test_step_timeout(void **state)
{
	char doc[PATH_MAX], dir[PATH_MAX], text[1024], marker[32];
	char *now, *ps;
	struct timespec t0, t1;
	struct tu_run r;
	json_t *j;
	int st;

	(void)state;
	snprintf(marker, sizeof(marker), "30.%05ld", (long)getpid() % 100000);
	snprintf(text, sizeof(text),
		 "---\nname: slow\ndescription: Never finishes.\n---\n# slow\n\n## Install\n\n"
		 "```sh\nmkdir -p \"$PREFIX/bin\"\necho x > \"$PREFIX/bin/partial\"\n"
		 "(sleep %s &)\nsleep %s\n```\n", marker, marker);
	write_skill(doc, dir, "slow", text);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	HALO(&r, "--json", "install", "--yes", "--timeout", "1", "--prefix", prefix, dir);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_status(r, 1);
	assert_true(t1.tv_sec - t0.tv_sec < 15);
	j = parse_run(&r);
	assert_int_equal(jint(j, "failed_status"), 124);
	assert_int_equal(jint(j, "steps_run"), 0);
	json_decref(j);
	assert_contains(r.err, "step 1 of 1 timed out after 1 s");
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);
	/* nothing it started is still running */
	ps = sh_out(&st, "pgrep -f '[s]leep %s'", marker);
	assert_string_equal(ps, "");
	free(ps);
	assert_registry("slow", "failed");
}

/* The transcript names what each step ran, in JSON and in the text of
 * `runs show` (it once gave "command": null for every step). */
static void test_transcript_command(void **state)
{
	char doc[PATH_MAX], dir[PATH_MAX], id[32];
	struct tu_run r;
	json_t *j, *calls;

	(void)state;
	write_skill(doc, dir, "fails", fails_doc);
	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 1);
	j = parse_run(&r);
	snprintf(id, sizeof(id), "%lld", jint(j, "run_id"));
	json_decref(j);
	tu_run_free(&r);
	HALO(&r, "--json", "runs", "show", id);
	assert_status(r, 0);
	j = parse_run(&r);
	calls = json_object_get(j, "tool_calls");
	assert_int_equal(json_array_size(calls), 2);
	assert_non_null(jstr(json_array_get(calls, 0), "command"));
	assert_contains(jstr(json_array_get(calls, 0), "command"), "echo made first");
	assert_contains(jstr(json_array_get(calls, 1), "command"), "false");
	json_decref(j);
	tu_run_free(&r);
	HALO(&r, "runs", "show", id);
	assert_status(r, 0);
	assert_contains(r.out, "command:   ");
	assert_contains(r.out, "echo about to fail");
	tu_run_free(&r);
}

/* ---- from a git repository --------------------------------------------------------- */

static bool have_git(void)
{
	return access("/usr/bin/git", X_OK) == 0 || access("/usr/local/bin/git", X_OK) == 0 ||
	       access("/bin/git", X_OK) == 0;
}

/* A repository at <root>/repo holding a copy of examples/skills/hello-c, one
 * commit with a fixed author and date. */
static void make_repo(char *repo)
{
	int st;
	char *out;

	pathf(repo, "%s/repo", root);
	out = sh_out(&st,
		"set -e; cp -R '%s/hello-c' '%s' && cd '%s' && "
		"export HOME='%s' GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e "
		"GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e "
		"GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' && "
		"git init -q -b main . && git add -A && git commit -q -m 'hello-c' 2>&1",
		examples, repo, repo, root);
	if (st != 0)
		fail_msg("making the repository failed (%d): %s", st, out);
	free(out);
}

static void test_git_sources(void **state)
{
	char repo[PATH_MAX], url[PATH_MAX + 8], incoming[PATH_MAX];
	char *now;
	struct tu_run r;
	json_t *list, *j;

	(void)state;
	if (!have_git())
		skip();
	make_repo(repo);
	pathf(url, "file://%s", repo);
	pathf(incoming, "%s/skills/.incoming", data);

	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, url);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_int_equal(jint(j, "steps_run"), 2);
	json_decref(j);
	tu_run_free(&r);
	check_hello();
	list = skills_list();
	assert_non_null(list_find(list, "hello-c"));
	assert_string_equal(jstr(list_find(list, "hello-c"), "source"), url);
	assert_string_equal(jstr(list_find(list, "hello-c"), "status"), "installed");
	json_decref(list);
	/* the clone was temporary */
	now = tree(incoming, false);
	assert_string_equal(now, "");
	free(now);
	HALO(&r, "skills", "remove", "hello-c");
	assert_status(r, 0);
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);

	/* the repository's own folder */
	HALO(&r, "--json", "install", "--yes", "--prefix", prefix, repo);
	assert_status(r, 0);
	j = parse_run(&r);
	assert_int_equal(jint(j, "steps_run"), 2);
	json_decref(j);
	tu_run_free(&r);
	check_hello();
	list = skills_list();
	assert_string_equal(jstr(list_find(list, "hello-c"), "source"), repo);
	json_decref(list);
	HALO(&r, "skills", "verify", "hello-c");
	assert_status(r, 0);
	tu_run_free(&r);
}

/* The URL of a document: fetched (that host only), installed, recorded
 * with its URL; a missing one says so and installs nothing. */
static void test_url_source(void **state)
{
	struct httpd h;
	char web[PATH_MAX], file[PATH_MAX], src[PATH_MAX], url[128], incoming[PATH_MAX];
	char *text, *now;
	struct tu_run r;
	json_t *list;

	(void)state;
	pathf(web, "%s/web", root);
	mkdirs(web);
	pathf(src, "%s/todo-installmd/install.md", examples);
	pathf(file, "%s/todo.md", web);
	text = read_text(src);
	write_text(file, text);
	free(text);
	httpd_start(&h, web);
	pathf(incoming, "%s/skills/.incoming", data);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/missing.md", h.port);
	HALO(&r, "install", "--yes", "--prefix", prefix, url);
	assert_status(r, 1);
	assert_contains(r.err, "cannot fetch http://127.0.0.1:");
	assert_contains(r.err, "HTTP 404");
	tu_run_free(&r);
	assert_false(exists(prefix));
	now = tree(incoming, false);
	assert_string_equal(now, "");
	free(now);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/todo.md", h.port);
	HALO(&r, "install", "--yes", "--prefix", prefix, url);
	assert_status(r, 0);
	tu_run_free(&r);
	assert_int_equal(atomic_load(&h.requests), 2);
	httpd_stop(&h);
	check_todo();
	list = skills_list();
	assert_non_null(list_find(list, "todo-sh"));
	assert_string_equal(jstr(list_find(list, "todo-sh"), "source"), url);
	json_decref(list);
	now = tree(incoming, false);
	assert_string_equal(now, "");
	free(now);
	/* the registry's copy is what verify and remove read later */
	pathf(file, "%s/skills/todo-sh/skill/todo.md", data);
	assert_true(exists(file));
	HALO(&r, "skills", "remove", "todo-sh");
	assert_status(r, 0);
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);
}

/* A bare repository (no work tree, so no SKILL.md to read directly) is a
 * "local repository": cloned with libgit2, like a git URL. */
static void test_git_bare_repository(void **state)
{
	char repo[PATH_MAX], bare[PATH_MAX];
	int st;
	char *out;
	struct tu_run r;

	(void)state;
	if (!have_git())
		skip();
	make_repo(repo);
	pathf(bare, "%s/hello.git", root);
	out = sh_out(&st, "git clone -q --bare '%s' '%s' 2>&1", repo, bare);
	assert_int_equal(st, 0);
	free(out);
	HALO(&r, "install", "--yes", "--prefix", prefix, bare);
	assert_status(r, 0);
	tu_run_free(&r);
	check_hello();
}

/* ---- approval ------------------------------------------------------------------------- */

/* No --yes and no terminal: the first step is refused and nothing lands. */
static void test_no_terminal_refused(void **state)
{
	char src[PATH_MAX], cfg[PATH_MAX], cfgarg[PATH_MAX + 16];
	char *now;
	struct tu_run r;
	json_t *j;
	char id[32];

	(void)state;
	pathf(src, "%s/hello-c", examples);
	HALO(&r, "--json", "install", "--prefix", prefix, src);
	assert_status(r, 1);
	assert_contains(r.err, "SKILL.md:28: step refused");
	j = parse_run(&r);
	assert_false(jtrue(j, "ok"));
	assert_int_equal(jint(j, "steps_run"), 0);
	snprintf(id, sizeof(id), "%lld", jint(j, "run_id"));
	json_decref(j);
	tu_run_free(&r);
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);
	{
		json_t *list = skills_list();
		const json_t *e = list_find(list, "hello-c");

		assert_true(e == NULL || strcmp(jstr(e, "status"), "installed") != 0);
		json_decref(list);
	}
	/* the transcript: the Verify probe (which runs without asking, and
	 * fails: nothing is installed), then the refusal; nothing else ran */
	HALO(&r, "--json", "runs", "show", id);
	assert_status(r, 0);
	j = parse_run(&r);
	{
		json_t *calls = json_object_get(j, "tool_calls");
		json_t *probe = json_array_get(calls, 0), *no = json_array_get(calls, 1);

		assert_int_equal(json_array_size(calls), 2);
		assert_string_equal(jstr(json_object_get(probe, "args"), "phase"), "verify");
		assert_int_equal(jint(probe, "exit_status"), 127);
		assert_string_equal(jstr(json_object_get(no, "args"), "phase"), "install");
		assert_int_equal(jint(json_object_get(no, "args"), "line"), 28);
		assert_string_equal(jstr(no, "error"), "refused");
	}
	json_decref(j);
	tu_run_free(&r);

	/* sandbox.approval: auto in the config approves like --yes */
	pathf(cfg, "%s/config.yaml", root);
	write_text(cfg, "sandbox:\n  approval: auto\n");
	snprintf(cfgarg, sizeof(cfgarg), "--config=%s", cfg);
	HALO(&r, cfgarg, "install", "--prefix", prefix, src);
	assert_status(r, 0);
	tu_run_free(&r);
	check_hello();
	assert_registry("hello-c", "installed");
}

/* With no terminal, the refusal says how to approve. */
static void test_no_terminal_says_yes(void **state)
{
	char src[PATH_MAX];
	struct tu_run r;

	(void)state;
	pathf(src, "%s/hello-c", examples);
	HALO(&r, "install", "--prefix", prefix, src);
	assert_status(r, 1);
	assert_contains(r.err, "step refused");
	assert_contains(r.err, "--yes");
	tu_run_free(&r);
}

/* ---- malformed documents ---------------------------------------------------------------- */

static void test_bad_documents(void **state)
{
	static const struct { const char *text; unsigned line; const char *msg; } cases[] = {
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```sh\necho hi\n",
		  9, "unterminated code fence: the block opened here is never closed with ```" },
		{ "---\nname: bad\n  description: x\nlicense: MIT\n---\n# bad\n\n## Install\n\n"
		  "```sh\necho hi\n```\n",
		  3, "front matter is not valid YAML: mapping values are not allowed in this context" },
		{ "---\nname: bad\ndescription: x\n# bad\n\n## Install\n\n```sh\necho hi\n```\n",
		  1, "the front matter opened with '---' is never closed with '---'" },
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```fetch\n"
		  "url: http://example.org/x.tar.gz\n```\n",
		  9, "fetch of http://example.org/x.tar.gz has no sha256: pin the download with "
		  "'sha256: <64 hex digits>'" },
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```sh {os=linux\n"
		  "echo hi\n```\n",
		  9, "unterminated '{' in the info string 'sh {os=linux'" },
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```fetch\n"
		  "url: http://example.org/x.tar.gz\nsha256: 8e2e79\n```\n",
		  11, "sha256 '8e2e79' is not a sha256 (64 hex digits)" },
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```fetch\n"
		  "url: http://example.org/x.tar.gz\n"
		  "sha256: 8e2e791101d2c4f7e9bb328c02ba8ca086955a9e9eb9f714493a384f1cf5b2b7\n"
		  "to: ../../escape\n```\n",
		  12, "to: '../../escape' must be a relative path inside the workspace" },
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```fetch\n"
		  "url: http://example.org/x.tar.gz\n"
		  "sha256: 8e2e791101d2c4f7e9bb328c02ba8ca086955a9e9eb9f714493a384f1cf5b2b7\n"
		  "mode: 755\n```\n",
		  12, "fetch block: unknown key 'mode' (known: url, sha256, git, commit, to, extract)" },
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```sh\n"
		  "# only a comment\n```\n",
		  9, "this sh block has no command to run" },
		{ "---\nname: bad\ndescription: x\n---\n# bad\n\n## Install\n\n```sh {os=plan9}\n"
		  "true\n```\n",
		  9, "os=plan9: unknown system (e.g. linux, debian, ubuntu, fedora, arch, alpine, macos)" },
		{ "---\ndescription: x\n---\n# bad\n\n## Install\n\n```sh\ntrue\n```\n",
		  1, "missing name: the front matter needs 'name: my-skill' (lower case letters, digits, "
		  "'-')" },
		{ "---\nname: ../../bad\ndescription: x\n---\n# bad\n\n## Install\n\n```sh\n"
		  "true\n```\n",
		  2, "name '../../bad' cannot name a folder" },
	};
	char doc[PATH_MAX], dir[PATH_MAX], want[PATH_MAX + 256];
	struct tu_run r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_skill(doc, dir, "bad", cases[i].text);
		snprintf(want, sizeof(want), "halo-agent: %s:%u: %s\n", doc, cases[i].line,
			 cases[i].msg);
		HALO(&r, "install", "--yes", "--prefix", prefix, dir);
		assert_status(r, 1);
		/* exactly one line, the whole message */
		assert_string_equal(r.err, want);
		assert_string_equal(r.out, "");
		tu_run_free(&r);
		HALO(&r, "install", "--dry-run", "--prefix", prefix, dir);
		assert_status(r, 1);
		assert_string_equal(r.err, want);
		tu_run_free(&r);
		assert_false(exists(data));
		assert_false(exists(prefix));
	}
}

/* ---- the sandbox --------------------------------------------------------------------------- */

/* Checks see the prefix read-only: a Verify step that writes into it
 * fails, and what it wrote is not there. */
static void test_checks_read_only(void **state)
{
	char doc[PATH_MAX], dir[PATH_MAX], made[PATH_MAX], sneaked[PATH_MAX];
	struct tu_run r;

	(void)state;
	write_skill(doc, dir, "ro-verify",
		    "---\nname: ro-verify\ndescription: Its verify writes.\n---\n# ro\n\n"
		    "## Install\n\n```sh\necho made > \"$PREFIX/made\"\n```\n\n"
		    "## Verify\n\n```sh\ntest -f \"$PREFIX/made\"\n"
		    "echo sneaked > \"$PREFIX/sneaked\"\n```\n");
	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 1);
	assert_contains(r.err, "verify failed");
	assert_contains(r.err, "Read-only file system");
	tu_run_free(&r);
	pathf(made, "%s/made", prefix);
	pathf(sneaked, "%s/sneaked", prefix);
	assert_true(exists(made));
	assert_false(exists(sneaked));
}

static void test_sandbox_confines(void **state)
{
	char doc[PATH_MAX], dir[PATH_MAX], outside[PATH_MAX], secret[PATH_MAX], vartmp[PATH_MAX];
	char text[8 * PATH_MAX], msg[2 * PATH_MAX + 128];
	char *now;
	struct tu_run r;
	unsigned line;

	(void)state;
	/* a step that writes to $HOME fails, and nothing appears there */
	pathf(outside, "%s/outside", home);
	snprintf(text, sizeof(text),
		 "---\nname: escape\ndescription: Writes outside its workspace.\n---\n# escape\n\n"
		 "## Install\n\n```sh\necho inside > \"$PREFIX/inside\"\necho out > '%s'\n```\n",
		 outside);
	write_skill(doc, dir, "escape", text);
	line = line_of(text, "echo out");
	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	assert_status(r, 1);
	snprintf(msg, sizeof(msg), "%s:%u: step 1 of 1 failed (exit 1): echo out > '%s'", doc,
		 line, outside);
	assert_contains(r.err, msg);
	tu_run_free(&r);
	assert_false(exists(outside));
	/* the step's own prefix file went with its failure */
	now = tree(prefix, false);
	assert_string_equal(now, "");
	free(now);

	/* no network: not even our own server on the loopback */
	{
		struct httpd h;
		char dist[PATH_MAX];

		pathf(dist, "%s/greet-tarball/dist", examples);
		httpd_start(&h, dist);
		snprintf(text, sizeof(text),
			 "---\nname: netcall\ndescription: Calls out.\n---\n# netcall\n\n"
			 "## Install\n\n```sh\nexec 3<>/dev/tcp/127.0.0.1/%d\n"
			 "printf 'GET /greet-1.2.tar.gz HTTP/1.0\\r\\n\\r\\n' >&3\n"
			 "echo CONNECTED\n```\n", h.port);
		write_skill(doc, dir, "netcall", text);
		HALO(&r, "install", "--yes", "--prefix", prefix, dir);
		assert_status(r, 1);
		assert_lacks(r.err, "\nCONNECTED\n");
		tu_run_free(&r);
		assert_int_equal(atomic_load(&h.requests), 0);
		httpd_stop(&h);
	}

	/* every other way out.  The sandbox's /tmp is a private tmpfs, so a
	 * write to a path under the host's /tmp (the home, the data dir beside
	 * the workspace, the skill's source, the temporary root) may succeed
	 * in there, but must not reach the host; the skill's copy is
	 * read-only; a place outside /tmp (/var/tmp) is refused outright.
	 * Reading $HOME fails too.  Only the prefix and workspace writes land. */
	pathf(secret, "%s/secret", home);
	write_text(secret, "hunter2\n");
	pathf(vartmp, "/var/tmp/halo-test-install-%ld-outside", (long)getpid());
	unlink(vartmp);
	snprintf(text, sizeof(text),
		 "---\nname: escape2\ndescription: Tries every way out.\n---\n# escape2\n\n"
		 "## Install\n\n```sh\n"
		 "for t in '%s/outside' '%s/outside' '%s/src/escape2/outside' '%s/outside' "
		 "\"$WORKSPACE/../outside\" \"$SKILL_DIR/outside\" '%s'; do\n"
		 "  if (echo x > \"$t\") 2>/dev/null; then echo \"WROTE $t\"; "
		 "else echo \"blocked $t\"; fi\n"
		 "done\n"
		 "if cat '%s' 2>/dev/null; then echo READ; fi\n"
		 "echo ok > \"$WORKSPACE/mine\" && echo ok > \"$PREFIX/mine\"\n"
		 "```\n", home, data, root, root, vartmp, secret);
	write_skill(doc, dir, "escape2", text);
	HALO(&r, "install", "--yes", "--prefix", prefix, dir);
	if (exists(vartmp)) {
		unlink(vartmp);
		fail_msg("a step wrote %s on the host", vartmp);
	}
	assert_status(r, 0);
	snprintf(msg, sizeof(msg), "\nblocked %s\n", vartmp);
	assert_contains(r.err, msg);
	pathf(msg, "\nblocked %s/skills/escape2/skill/outside\n", data);
	assert_contains(r.err, msg);
	assert_lacks(r.err, "\nREAD\n");
	assert_lacks(r.err, "hunter2");
	tu_run_free(&r);
	pathf(msg, "%s/outside", data);
	assert_false(exists(msg));
	pathf(msg, "%s/skills/escape2/skill/outside", data);
	assert_false(exists(msg));
	pathf(msg, "%s/skills/escape2/outside", data);
	assert_false(exists(msg));
	pathf(msg, "%s/src/escape2/outside", root);
	assert_false(exists(msg));
	pathf(msg, "%s/outside", root);
	assert_false(exists(msg));
	assert_false(exists(outside));
	pathf(msg, "%s/skills/escape2/work/mine", data);
	assert_true(exists(msg));
	pathf(msg, "%s/mine", prefix);
	assert_true(exists(msg));
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_example_hello_c, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_hello_c_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_wcount_git, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_pkgcount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_greeter_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_todo_installmd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reinstall_without_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_keeps_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_force_reinstall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_failure_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tarball_sha256_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_download_host_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transcript_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_bare_repository, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_terminal_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_terminal_says_yes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_documents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_confines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checks_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_greet_tarball, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_vars, setup, teardown),
	};
	/* A session of our own: no controlling terminal for halo-agent to ask on. */
	if (setsid() < 0) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			return 1;
		if (pid > 0) {
			if (waitpid(pid, &st, 0) < 0)
				return 1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		}
		if (setsid() < 0)
			return 1;
	}
	return cmocka_run_group_tests_name("install", tests, NULL, NULL);
}
