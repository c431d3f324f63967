/* store.c - open the database safely and migrate it.
 *
 * Design notes (invariants):
 * 1. Nothing is written to a file before we know it is a SQLite database of
 *    a schema version we understand: the header is read by hand, then
 *    user_version inside a read transaction, and only then is WAL turned on
 *    (which rewrites header bytes) and migrations run.
 * 2. Each migration runs in its own IMMEDIATE transaction together with the
 *    user_version bump: the database is always at a whole version.
 * 3. Errors name the file and, for migrations, the one that failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

static _Thread_local char errbuf[1024];

const char *store_errmsg(void)
{
	return errbuf;
}

int store_seterr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return code;
}

int store_sqlerr(struct store *st, const char *what)
{
	int rc = sqlite3_errcode(st->db);
	int code = STORE_ESQL;

	if (rc == SQLITE_READONLY)
		code = STORE_EREADONLY;
	else if (rc == SQLITE_NOTADB)
		code = STORE_ENOTDB;
	else if (rc == SQLITE_CANTOPEN || rc == SQLITE_IOERR || rc == SQLITE_FULL)
		code = STORE_EIO;
	return store_seterr(code, "%s: %s: %s", st->path, what,
			    sqlite3_errmsg(st->db));
}

char *store_col_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? strdup((const char *)t) : NULL;
}

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_grow(void **v, size_t *cap, size_t len, size_t elem)
{
	void *g;
	size_t ncap;

	if (len < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	g = realloc(*v, ncap * elem);
	if (g == NULL)
		return store_seterr(STORE_EIO, "out of memory");
	*v = g;
	*cap = ncap;
	return 0;
}

int store_schema_latest(void)
{
	return store_migrations[store_n_migrations - 1].version;
}

const char *store_path(const struct store *st)
{
	return st->path;
}

int store_schema_version(const struct store *st)
{
	return st->version;
}

/* mkdir -p with mode 0700 for the directories we create. */
static int make_dirs(const char *dir)
{
	char buf[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return store_seterr(STORE_EINVAL, "data dir path is empty or too long");
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char save = *p;

			*p = '\0';
			if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
				int code = (errno == EACCES || errno == EROFS ||
					    errno == EPERM) ? STORE_EREADONLY : STORE_EIO;

				return store_seterr(code,
					"cannot create data dir %s: %s (check the permissions of its "
					"parent, or choose another with --data-dir)", buf,
					strerror(errno));
			}
			*p = save;
			if (save == '\0')
				break;
		}
	}
	return 0;
}

/* Invariant 1: an existing file must carry the SQLite header. */
static int check_header(const char *path, bool *exists)
{
	static const char magic[16] = "SQLite format 3";
	unsigned char hdr[16];
	struct stat sb;
	ssize_t n;
	int fd;

	*exists = false;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		return store_seterr(STORE_EIO, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return store_seterr(STORE_ENOTDB, "%s: not a regular file", path);
	*exists = true;
	if (sb.st_size == 0)
		return 0; /* SQLite treats an empty file as an empty database */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return store_seterr(errno == EACCES ? STORE_EREADONLY : STORE_EIO,
				    "%s: cannot read: %s", path, strerror(errno));
	n = read(fd, hdr, sizeof(hdr));
	close(fd);
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr, magic, sizeof(magic)) != 0)
		return store_seterr(STORE_ENOTDB,
			"%s: not a SQLite database; it was left untouched (move it "
			"aside, or point --data-dir at another directory)", path);
	return 0;
}

static int exec_sql(struct store *st, const char *sql, const char *what)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlerr(st, what);
	return 0;
}

static int read_user_version(struct store *st, int *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "reading the schema version");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(s);
		return store_sqlerr(st, "reading the schema version");
	}
	*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

/* Invariant 2. */
static int migrate(struct store *st, const struct store_migration *migs,
		   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_migration *m = &migs[i];
		char bump[64], *msg = NULL;

		if (m->version <= st->version)
			continue;
		if (m->version != st->version + 1)
			return store_seterr(STORE_EMIGRATE,
				"%s: migration %d (%s) does not follow version %d",
				st->path, m->version, m->name, st->version);
		if (exec_sql(st, "BEGIN IMMEDIATE", "starting a migration") < 0)
			return STORE_EMIGRATE;
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", m->version);
		if (sqlite3_exec(st->db, m->sql, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(st->db, bump, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(st->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			store_seterr(STORE_EMIGRATE,
				"%s: migration %d (%s) failed: %s; the database stays at "
				"schema version %d", st->path, m->version, m->name,
				msg ? msg : sqlite3_errmsg(st->db), st->version);
			sqlite3_free(msg);
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return STORE_EMIGRATE;
		}
		st->version = m->version;
	}
	return 0;
}

int store_open_with(struct store **out, const char *data_dir,
		    const struct store_opts *opts,
		    const struct store_migration *migs, size_t n_migs)
{
	struct store_opts defaults = STORE_OPTS_INIT;
	struct store *st = NULL;
	char pragma[64];
	bool exists;
	int flags, rc, latest = migs[n_migs - 1].version;

	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (opts->version != STORE_OPTS_VERSION)
		return store_seterr(STORE_EINVAL, "store_opts version %u unknown",
				    opts->version);
	if (opts->create && (rc = make_dirs(data_dir)) < 0)
		return rc;
	st = calloc(1, sizeof(*st));
	if (st == NULL || asprintf(&st->path, "%s/%s", data_dir, STORE_DB_NAME) < 0) {
		free(st);
		return store_seterr(STORE_EIO, "out of memory");
	}
	if ((rc = check_header(st->path, &exists)) < 0)
		goto fail;
	if (!exists && !opts->create) {
		rc = store_seterr(STORE_ENOTFOUND, "%s: no database here yet", st->path);
		goto fail;
	}
	if (access(data_dir, W_OK) < 0 || (exists && access(st->path, W_OK) < 0)) {
		rc = store_seterr(STORE_EREADONLY,
			"%s is not writable: %s (fix its permissions, or choose another "
			"data dir with --data-dir or HALO_AGENT_DATA_DIR)",
			exists && access(data_dir, W_OK) == 0 ? st->path : data_dir,
			strerror(errno));
		goto fail;
	}
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		(opts->create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK) {
		rc = st->db ? store_sqlerr(st, "cannot open")
			    : store_seterr(STORE_EIO, "%s: cannot open", st->path);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 0);
	if (sqlite3_db_readonly(st->db, "main") == 1) {
		rc = store_seterr(STORE_EREADONLY, "%s: opened read-only; fix its "
				  "permissions or use another --data-dir", st->path);
		goto fail;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA busy_timeout = %d",
		 opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000);
	if ((rc = exec_sql(st, pragma, "setting the busy timeout")) < 0 ||
	    (rc = read_user_version(st, &st->version)) < 0)
		goto fail;
	if (st->version > latest) {
		rc = store_seterr(STORE_ETOONEW,
			"%s: schema version %d is newer than this halo-agent knows (%d); "
			"upgrade halo-agent. The database was not modified",
			st->path, st->version, latest);
		goto fail;
	}
	if ((rc = exec_sql(st, "PRAGMA journal_mode = WAL", "enabling WAL")) < 0 ||
	    (rc = exec_sql(st, "PRAGMA foreign_keys = ON", "enabling foreign keys")) < 0 ||
	    (rc = migrate(st, migs, n_migs)) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

int store_open(struct store **out, const char *data_dir,
	       const struct store_opts *opts)
{
	return store_open_with(out, data_dir, opts, store_migrations,
			       store_n_migrations);
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int store_table_counts(struct store *st, struct store_count **out, size_t *n)
{
	sqlite3_stmt *s = NULL;
	struct store_count *c = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT name FROM sqlite_schema WHERE type = 'table' "
			       "AND name NOT LIKE 'sqlite_%' ORDER BY name",
			       -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "listing tables");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = store_grow((void **)&c, &cap, len, sizeof(*c))) < 0)
			goto fail;
		c[len].table = store_col_dup(s, 0);
		c[len].rows = -1;
		len++;
	}
	if (rc != SQLITE_DONE) {
		rc = store_sqlerr(st, "listing tables");
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	for (size_t i = 0; i < len; i++) {
		char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", c[i].table);

		if (sql == NULL || sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
			sqlite3_free(sql);
			rc = store_sqlerr(st, "counting rows");
			goto fail;
		}
		sqlite3_free(sql);
		if (sqlite3_step(s) == SQLITE_ROW)
			c[i].rows = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		s = NULL;
	}
	*out = c;
	*n = len;
	return 0;
fail:
	sqlite3_finalize(s);
	store_counts_free(c, len);
	return rc;
}

void store_counts_free(struct store_count *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].table);
	free(c);
}
