/* cli_engine.h - what the commands that run a model share (run, eval,
 * bench; agent/cli_engine.c): the engine options with their defaults from
 * the config, opening a model and a context, number parsing, bounded file
 * reads and an atomic .npy writer.  Kept apart from cli.h so that the
 * commands that do not run models do not see the engine. */
#ifndef HALO_CLI_ENGINE_H
#define HALO_CLI_ENGINE_H

#include <stdint.h>

#include "cli.h"
#include "engine.h"

/* Long-only option codes of the shared engine options. */
enum {
	CLI_OPT_BACKEND = 0x100,
	CLI_OPT_DEVICE,
	CLI_OPT_KV_TYPE,
	CLI_OPT_FIRST_FREE = 0x110, /* commands number their own from here */
};

/* -m, -t/--threads, -c/--ctx-size, -b/--batch-size, --backend, --device,
 * --kv-type; defaults from the config's engine.* keys. */
struct cli_engine_opts {
	const char *model;        /* NULL when neither -m nor engine.model */
	int threads;              /* 0 = one per core */
	uint32_t ctx_size;        /* 0 = the engine's default */
	uint32_t batch;
	int device;
	enum engine_backend_kind backend;
	enum engine_kv_type kv_type;
	bool profile;             /* Vulkan device time per shader (bench --profile) */
};

void cli_engine_opts_init(struct cli_engine_opts *o, const struct app *app);
/* Take option `opt` (a getopt code) if it is one of the shared ones:
 * returns 1 when taken, 0 when not ours, -1 after a usage error. */
int cli_engine_opt(const char *cmd, int opt, const char *arg, struct cli_engine_opts *o);
/* Open o->model; an exit code (the message printed). */
int cli_engine_open(const char *cmd, const struct cli_engine_opts *o, struct engine_model **m);
/* A context with o's threads, backend, device and KV type. */
int cli_engine_ctx(const char *cmd, const struct cli_engine_opts *o, struct engine_model *m,
		   uint32_t n_ctx, uint32_t n_batch, bool logits_all, struct engine_ctx **c);

/* A finite number in [lo, hi]; a usage error naming `opt` otherwise. */
bool cli_parse_float(const char *cmd, const char *opt, const char *s, float lo, float hi,
		     float *out);
/* All of `path` ("-" = stdin), at most `max` bytes, NUL-terminated; an
 * exit code. */
int cli_read_file(const char *cmd, const char *path, size_t max, char **out, size_t *len);
/* Write a float32 [rows, cols] .npy (format 1.0, data at a multiple of 64)
 * atomically: a temporary file beside `path`, fsync, rename.  -1 with errno
 * on failure, and nothing is left behind. */
int cli_npy_write(const char *path, const float *data, size_t rows, size_t cols);

#endif
