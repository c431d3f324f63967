/* store_int.h - private declarations shared by the files of libhalo_store. */
#ifndef HALO_STORE_INT_H
#define HALO_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3 *db;
	char *path;        /* <data_dir>/halo.db */
	int version;       /* PRAGMA user_version after migrations */
};

/* A schema migration: version N takes the database from N-1 to N. */
struct store_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;

/* store_open with another migration list (tests inject failing ones). */
int store_open_with(struct store **out, const char *data_dir,
		    const struct store_opts *opts,
		    const struct store_migration *migs, size_t n_migs);

int store_seterr(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Set the error from the database's last SQLite error, prefixed by `what`. */
int store_sqlerr(struct store *st, const char *what);

/* Duplicate a column's text (NULL stays NULL). */
char *store_col_dup(sqlite3_stmt *s, int col);

int64_t store_now_ms(void);

/* Make room for one more element in a growing array: returns 0, or
 * STORE_EIO with the error set when out of memory (*v is kept). */
int store_grow(void **v, size_t *cap, size_t len, size_t elem);

#endif
