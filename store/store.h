/* store.h - the public interface of libhalo_store: halo-agent's one SQLite
 * database (schema and migrations, skills registry, run/audit log; later the
 * knowledge base and monitor state).
 *
 * Errors: functions return 0 or a negative enum store_err; the message of
 * the last error on the calling thread is store_errmsg().  It names the
 * database file and, for migrations, the migration that failed.
 */
#ifndef HALO_STORE_H
#define HALO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum store_err {
	STORE_OK = 0,
	STORE_EIO = -1,        /* cannot create/open/write the data dir or file */
	STORE_ENOTDB = -2,     /* the file is not a SQLite database */
	STORE_ETOONEW = -3,    /* schema newer than this build knows */
	STORE_EREADONLY = -4,  /* data dir or database not writable */
	STORE_EMIGRATE = -5,   /* a migration failed; database left at the previous version */
	STORE_ENOTFOUND = -6,
	STORE_EINVAL = -7,
	STORE_ESQL = -8,       /* any other SQLite error */
};

const char *store_errmsg(void);

struct store; /* opaque */

struct store_opts {
	unsigned version;        /* STORE_OPTS_VERSION */
	int busy_timeout_ms;     /* 0 = 5000 */
	bool create;             /* create the data dir and database if missing */
};
#define STORE_OPTS_VERSION 1
#define STORE_OPTS_INIT { STORE_OPTS_VERSION, 0, true }

/* The file name of the database inside the data dir. */
#define STORE_DB_NAME "halo.db"

/* Open (creating if asked) <data_dir>/halo.db: checks that an existing file
 * is a SQLite database of a version we know before touching it, then turns
 * on WAL, foreign keys and the busy timeout, and applies pending migrations,
 * each in its own transaction.  opts may be NULL for defaults. */
int store_open(struct store **out, const char *data_dir,
	       const struct store_opts *opts);
void store_close(struct store *st); /* accepts NULL */

const char *store_path(const struct store *st);

/* Schema version now, and the newest this build knows. */
int store_schema_version(const struct store *st);
int store_schema_latest(void);

/* Row counts of the application's tables, for `halo-agent status`.
 * *out is an array of n entries the caller frees with store_counts_free. */
struct store_count {
	char *table;
	int64_t rows;
};
int store_table_counts(struct store *st, struct store_count **out, size_t *n);
void store_counts_free(struct store_count *c, size_t n);

/* ---- skills registry -------------------------------------------------- */

enum store_skill_status {
	STORE_SKILL_INSTALLED = 0,
	STORE_SKILL_FAILED = 1,
	STORE_SKILL_REMOVED = 2,
};

struct store_skill {
	char *name;
	char *version;
	char *source;        /* path or URL it came from */
	char *content_hash;  /* sha256 hex of the skill document */
	enum store_skill_status status;
	int64_t installed_at; /* unix seconds */
	char *manifest;      /* JSON array of files it created */
};

/* Insert or replace the skill named s->name. */
int store_skill_put(struct store *st, const struct store_skill *s);
/* STORE_ENOTFOUND if absent.  Free with store_skill_clear. */
int store_skill_get(struct store *st, const char *name, struct store_skill *out);
int store_skill_delete(struct store *st, const char *name);
/* All skills, ordered by name; free with store_skills_free. */
int store_skill_list(struct store *st, struct store_skill **out, size_t *n);
void store_skill_clear(struct store_skill *s);
void store_skills_free(struct store_skill *s, size_t n);
const char *store_skill_status_name(enum store_skill_status s);

/* ---- audit log -------------------------------------------------------- */

/* One run: a command the user started (an install, an exec, an agent turn). */
struct store_run {
	int64_t id;
	char *kind;          /* "install", "exec", ... */
	char *subject;       /* what it was about, e.g. the skill name */
	int64_t started_at;  /* unix ms */
	int64_t ended_at;    /* unix ms, 0 while running */
	int exit_status;     /* -1 while running */
};

/* One tool call within a run. */
struct store_tool_call {
	int64_t id;
	int64_t run_id;
	char *tool;          /* "shell", "read_file", ... */
	char *args;          /* JSON */
	char *policy;        /* JSON: the sandbox policy and layers in force */
	int exit_status;
	int64_t duration_ms;
	int64_t out_bytes;   /* bytes of output produced */
	bool truncated;      /* output beyond the cap was dropped */
	/* schema 2: the transcript */
	char *out, *err;     /* the command's stdout and stderr as captured (so
			      * capped); NULL = empty.  May hold any bytes. */
	size_t out_len, err_len; /* their lengths; 0 with a non-NULL pointer
			      * means strlen when written.  Read back: exact, and
			      * out/err are NUL-terminated and never NULL. */
	char *error;         /* why the call failed or was refused; NULL = "" */
	int64_t started_at;  /* unix ms; 0 when written = now - duration_ms;
			      * 0 when read for calls logged before schema 2 */
};

int store_run_begin(struct store *st, const char *kind, const char *subject,
		    int64_t *out_id);
int store_run_end(struct store *st, int64_t run_id, int exit_status);
int store_tool_call_add(struct store *st, const struct store_tool_call *c,
			int64_t *out_id);
/* The most recent runs first, at most `limit`. */
int store_run_list(struct store *st, size_t limit, struct store_run **out,
		   size_t *n);
void store_runs_free(struct store_run *r, size_t n);
int store_tool_call_list(struct store *st, int64_t run_id,
			 struct store_tool_call **out, size_t *n);
void store_tool_calls_free(struct store_tool_call *c, size_t n);

#ifdef __cplusplus
}
#endif

#endif
