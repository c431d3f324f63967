/* audit.c - the audit log: every run a user starts and every tool call
 * inside it (what ran, under which policy, how it ended, how much output,
 * and since schema 2 the output itself and why a call failed). */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int store_run_begin(struct store *st, const char *kind, const char *subject,
		    int64_t *out_id)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO runs (kind, subject, started_at) VALUES (?1, ?2, ?3)",
			       -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "recording a run");
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, subject ? subject : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, store_now_ms());
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_sqlerr(st, "recording a run");
	else
		*out_id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return rc;
}

int store_run_end(struct store *st, int64_t run_id, int exit_status)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db,
			       "UPDATE runs SET ended_at = ?2, exit_status = ?3 WHERE id = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "ending a run");
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, store_now_ms());
	sqlite3_bind_int(s, 3, exit_status);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_sqlerr(st, "ending a run");
	else if (sqlite3_changes(st->db) == 0)
		rc = store_seterr(STORE_ENOTFOUND, "no run with id %lld", (long long)run_id);
	sqlite3_finalize(s);
	return rc;
}

/* Output as TEXT of an exact length: embedded NULs and invalid UTF-8 are
 * kept as they came (SQLite stores TEXT bytes as given). */
static void bind_bytes(sqlite3_stmt *s, int i, const char *p, size_t len)
{
	if (p == NULL)
		sqlite3_bind_text(s, i, "", 0, SQLITE_STATIC);
	else
		sqlite3_bind_text64(s, i, p, len ? len : strlen(p), SQLITE_STATIC,
				    SQLITE_UTF8);
}

/* A column's bytes, NUL-terminated and never NULL (NULL on out of memory
 * only); *len gets their number. */
static char *col_bytes(sqlite3_stmt *s, int col, size_t *len)
{
	const void *b = sqlite3_column_blob(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	char *d = malloc(n + 1);

	*len = 0;
	if (d == NULL)
		return NULL;
	if (n)
		memcpy(d, b, n);
	d[n] = '\0';
	*len = n;
	return d;
}

int store_tool_call_add(struct store *st, const struct store_tool_call *c,
			int64_t *out_id)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (c->tool == NULL || *c->tool == '\0')
		return store_seterr(STORE_EINVAL, "a tool call needs the tool's name");
	if (sqlite3_prepare_v2(st->db,
		"INSERT INTO tool_calls (run_id, tool, args, policy, exit_status, "
		"duration_ms, out_bytes, truncated, stdout, stderr, error, started_at) "
		"VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
		-1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "recording a tool call");
	sqlite3_bind_int64(s, 1, c->run_id);
	sqlite3_bind_text(s, 2, c->tool, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, c->args ? c->args : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, c->policy ? c->policy : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, c->exit_status);
	sqlite3_bind_int64(s, 6, c->duration_ms);
	sqlite3_bind_int64(s, 7, c->out_bytes);
	sqlite3_bind_int(s, 8, c->truncated ? 1 : 0);
	bind_bytes(s, 9, c->out, c->out_len);
	bind_bytes(s, 10, c->err, c->err_len);
	sqlite3_bind_text(s, 11, c->error ? c->error : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 12, c->started_at ? c->started_at :
			   store_now_ms() - c->duration_ms);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_sqlerr(st, "recording a tool call");
	else if (out_id)
		*out_id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return rc;
}

int store_run_list(struct store *st, size_t limit, struct store_run **out,
		   size_t *n)
{
	sqlite3_stmt *s = NULL;
	struct store_run *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
		"SELECT id, kind, subject, started_at, ended_at, exit_status FROM runs "
		"ORDER BY id DESC LIMIT ?1", -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "listing runs");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = store_grow((void **)&v, &cap, len, sizeof(*v))) < 0)
			goto fail;
		v[len].id = sqlite3_column_int64(s, 0);
		v[len].kind = store_col_dup(s, 1);
		v[len].subject = store_col_dup(s, 2);
		v[len].started_at = sqlite3_column_int64(s, 3);
		v[len].ended_at = sqlite3_column_int64(s, 4);
		v[len].exit_status = sqlite3_column_int(s, 5);
		len++;
	}
	if (rc != SQLITE_DONE) {
		rc = store_sqlerr(st, "listing runs");
		goto fail;
	}
	sqlite3_finalize(s);
	*out = v;
	*n = len;
	return 0;
fail:
	sqlite3_finalize(s);
	store_runs_free(v, len);
	return rc;
}

void store_runs_free(struct store_run *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].kind);
		free(r[i].subject);
	}
	free(r);
}

int store_tool_call_list(struct store *st, int64_t run_id,
			 struct store_tool_call **out, size_t *n)
{
	sqlite3_stmt *s = NULL;
	struct store_tool_call *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
		"SELECT id, run_id, tool, args, policy, exit_status, duration_ms, "
		"out_bytes, truncated, stdout, stderr, error, started_at "
		"FROM tool_calls WHERE run_id = ?1 ORDER BY id",
		-1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "listing tool calls");
	sqlite3_bind_int64(s, 1, run_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_tool_call *c;

		if ((rc = store_grow((void **)&v, &cap, len, sizeof(*v))) < 0)
			goto fail;
		c = &v[len++];
		c->id = sqlite3_column_int64(s, 0);
		c->run_id = sqlite3_column_int64(s, 1);
		c->tool = store_col_dup(s, 2);
		c->args = store_col_dup(s, 3);
		c->policy = store_col_dup(s, 4);
		c->exit_status = sqlite3_column_int(s, 5);
		c->duration_ms = sqlite3_column_int64(s, 6);
		c->out_bytes = sqlite3_column_int64(s, 7);
		c->truncated = sqlite3_column_int(s, 8) != 0;
		c->out = col_bytes(s, 9, &c->out_len);
		c->err = col_bytes(s, 10, &c->err_len);
		c->error = store_col_dup(s, 11);
		c->started_at = sqlite3_column_int64(s, 12);
		if (c->out == NULL || c->err == NULL || c->error == NULL) {
			rc = store_seterr(STORE_EIO, "out of memory listing tool calls");
			goto fail;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = store_sqlerr(st, "listing tool calls");
		goto fail;
	}
	sqlite3_finalize(s);
	*out = v;
	*n = len;
	return 0;
fail:
	sqlite3_finalize(s);
	store_tool_calls_free(v, len);
	return rc;
}

void store_tool_calls_free(struct store_tool_call *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].tool);
		free(c[i].args);
		free(c[i].policy);
		free(c[i].out);
		free(c[i].err);
		free(c[i].error);
	}
	free(c);
}
