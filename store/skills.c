/* skills.c - the skills registry: one row per installed (or failed, or
 * removed) skill, with the manifest of files its install created. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const status_names[] = { "installed", "failed", "removed" };

const char *store_skill_status_name(enum store_skill_status s)
{
	return (unsigned)s < 3 ? status_names[s] : "?";
}

static enum store_skill_status status_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, status_names[i]) == 0)
			return (enum store_skill_status)i;
	return STORE_SKILL_FAILED;
}

int store_skill_put(struct store *st, const struct store_skill *sk)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sk->name == NULL || *sk->name == '\0' || (unsigned)sk->status > 2)
		return store_seterr(STORE_EINVAL, "skill needs a name and a valid status");
	if (sqlite3_prepare_v2(st->db,
		"INSERT INTO skills (name, version, source, content_hash, status, "
		"installed_at, manifest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
		"ON CONFLICT(name) DO UPDATE SET version = excluded.version, "
		"source = excluded.source, content_hash = excluded.content_hash, "
		"status = excluded.status, installed_at = excluded.installed_at, "
		"manifest = excluded.manifest", -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "saving a skill");
	sqlite3_bind_text(s, 1, sk->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sk->version ? sk->version : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, sk->source ? sk->source : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, sk->content_hash ? sk->content_hash : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, status_names[sk->status], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, sk->installed_at);
	sqlite3_bind_text(s, 7, sk->manifest ? sk->manifest : "[]", -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_sqlerr(st, "saving a skill");
	sqlite3_finalize(s);
	return rc;
}

static void skill_from_row(sqlite3_stmt *s, struct store_skill *out)
{
	char *status = store_col_dup(s, 4);

	out->name = store_col_dup(s, 0);
	out->version = store_col_dup(s, 1);
	out->source = store_col_dup(s, 2);
	out->content_hash = store_col_dup(s, 3);
	out->status = status_parse(status);
	out->installed_at = sqlite3_column_int64(s, 5);
	out->manifest = store_col_dup(s, 6);
	free(status);
}

#define SKILL_COLS "name, version, source, content_hash, status, installed_at, manifest"

int store_skill_get(struct store *st, const char *name, struct store_skill *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(st->db, "SELECT " SKILL_COLS " FROM skills WHERE name = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "reading a skill");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		skill_from_row(s, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = store_seterr(STORE_ENOTFOUND, "no skill named '%s'", name);
	} else {
		rc = store_sqlerr(st, "reading a skill");
	}
	sqlite3_finalize(s);
	return rc;
}

int store_skill_delete(struct store *st, const char *name)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM skills WHERE name = ?1", -1, &s,
			       NULL) != SQLITE_OK)
		return store_sqlerr(st, "deleting a skill");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_sqlerr(st, "deleting a skill");
	else if (sqlite3_changes(st->db) == 0)
		rc = store_seterr(STORE_ENOTFOUND, "no skill named '%s'", name);
	sqlite3_finalize(s);
	return rc;
}

int store_skill_list(struct store *st, struct store_skill **out, size_t *n)
{
	sqlite3_stmt *s = NULL;
	struct store_skill *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT " SKILL_COLS " FROM skills ORDER BY name",
			       -1, &s, NULL) != SQLITE_OK)
		return store_sqlerr(st, "listing skills");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = store_grow((void **)&v, &cap, len, sizeof(*v))) < 0)
			goto fail;
		skill_from_row(s, &v[len++]);
	}
	if (rc != SQLITE_DONE) {
		rc = store_sqlerr(st, "listing skills");
		goto fail;
	}
	sqlite3_finalize(s);
	*out = v;
	*n = len;
	return 0;
fail:
	sqlite3_finalize(s);
	store_skills_free(v, len);
	return rc;
}

void store_skill_clear(struct store_skill *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->version);
	free(s->source);
	free(s->content_hash);
	free(s->manifest);
	memset(s, 0, sizeof(*s));
}

void store_skills_free(struct store_skill *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		store_skill_clear(&s[i]);
	free(s);
}
