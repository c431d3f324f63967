/* migrations.c - the schema, as an ordered list of migrations.
 *
 * Invariants: a migration, once released, never changes (new work is a new
 * entry); versions are 1, 2, 3, ... in order; each runs in one transaction
 * together with the PRAGMA user_version bump, so a failure leaves the
 * database exactly at the previous version. */
#include "store_int.h"

const struct store_migration store_migrations[] = {
	{ 1, "skills registry and audit log",
	  "CREATE TABLE skills (\n"
	  "  name TEXT PRIMARY KEY NOT NULL,\n"
	  "  version TEXT NOT NULL DEFAULT '',\n"
	  "  source TEXT NOT NULL DEFAULT '',\n"
	  "  content_hash TEXT NOT NULL DEFAULT '',\n"
	  "  status TEXT NOT NULL CHECK (status IN ('installed','failed','removed')),\n"
	  "  installed_at INTEGER NOT NULL,\n"
	  "  manifest TEXT NOT NULL DEFAULT '[]'\n"
	  ");\n"
	  "CREATE TABLE runs (\n"
	  "  id INTEGER PRIMARY KEY,\n"
	  "  kind TEXT NOT NULL,\n"
	  "  subject TEXT NOT NULL DEFAULT '',\n"
	  "  started_at INTEGER NOT NULL,\n"
	  "  ended_at INTEGER NOT NULL DEFAULT 0,\n"
	  "  exit_status INTEGER NOT NULL DEFAULT -1\n"
	  ");\n"
	  "CREATE TABLE tool_calls (\n"
	  "  id INTEGER PRIMARY KEY,\n"
	  "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
	  "  tool TEXT NOT NULL,\n"
	  "  args TEXT NOT NULL DEFAULT '{}',\n"
	  "  policy TEXT NOT NULL DEFAULT '{}',\n"
	  "  exit_status INTEGER NOT NULL,\n"
	  "  duration_ms INTEGER NOT NULL,\n"
	  "  out_bytes INTEGER NOT NULL DEFAULT 0,\n"
	  "  truncated INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0,1))\n"
	  ");\n"
	  "CREATE INDEX tool_calls_run ON tool_calls(run_id);\n" },
	{ 2, "tool call transcripts",
	  /* what a call printed (as captured, so capped), why a refused or
	   * failed call failed, and when it started: an install's steps read
	   * back as a transcript */
	  "ALTER TABLE tool_calls ADD COLUMN stdout TEXT NOT NULL DEFAULT '';\n"
	  "ALTER TABLE tool_calls ADD COLUMN stderr TEXT NOT NULL DEFAULT '';\n"
	  "ALTER TABLE tool_calls ADD COLUMN error TEXT NOT NULL DEFAULT '';\n"
	  "ALTER TABLE tool_calls ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0;\n" },
};

const size_t store_n_migrations =
	sizeof(store_migrations) / sizeof(store_migrations[0]);
