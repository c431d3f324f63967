/* config.h - halo-agent's YAML configuration file.
 *
 * One flat table of documented keys (config.c: config_keys) describes every
 * setting: its dotted name, its type and where it lands in struct config.
 * Unknown keys are warned about, never fatal; a malformed file or a value of
 * the wrong type is an error "path:line:col: message" and nothing is used. */
#ifndef HALO_CONFIG_H
#define HALO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config {
	char *data_dir;           /* data_dir */
	char *engine_backend;     /* engine.backend: auto | cpu | vulkan */
	unsigned long long engine_device;   /* engine.device */
	unsigned long long engine_threads;  /* engine.threads: 0 = one per core */
	unsigned long long engine_ctx_size; /* engine.ctx_size */
	char *engine_model;       /* engine.model: default GGUF path */
	char *sandbox_network;    /* sandbox.network: none | host */
	char *sandbox_approval;   /* sandbox.approval: ask | auto | deny */
	unsigned long long sandbox_timeout;      /* sandbox.timeout: seconds */
	unsigned long long sandbox_memory;       /* sandbox.memory: bytes */
};

enum config_vtype { CFG_STR, CFG_PATH, CFG_UINT, CFG_ENUM };

struct config_key {
	const char *name;    /* dotted: "engine.threads" */
	enum config_vtype type;
	size_t offset;       /* into struct config */
	const char *choices; /* CFG_ENUM: "a|b|c" */
	const char *def;     /* default, as text */
	const char *doc;     /* one line for `config keys` and the docs */
};

extern const struct config_key config_keys[];

/* Set every key to its default. */
void config_init(struct config *cfg);
void config_free(struct config *cfg); /* the strings; cfg itself is the caller's */

/* Read `path` over the defaults already in *cfg.  A missing file is fine
 * unless `must_exist`.  On error returns -1 with one line in err
 * ("path:line:col: message") and leaves *cfg as it was.  Warnings (unknown
 * keys) go to `warn` (may be NULL to drop them). */
int config_load(struct config *cfg, const char *path, bool must_exist,
		void (*warn)(void *ud, const char *msg), void *ud,
		char *err, size_t errlen);

/* The same over text in memory (at most 1 MiB); `name` is used in messages
 * as the path.  `text` need not be NUL-terminated. */
int config_load_buffer(struct config *cfg, const char *name, const char *text,
		       size_t len, void (*warn)(void *ud, const char *msg),
		       void *ud, char *err, size_t errlen);

/* The value of `key` as text (borrowed, or written into buf for numbers). */
const char *config_value_text(const struct config *cfg,
			      const struct config_key *key,
			      char *buf, size_t buflen);

#endif
