/* cli_engine.c - what the commands that run a model share (cli_engine.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_engine.h"

void cli_engine_opts_init(struct cli_engine_opts *o, const struct app *app)
{
	memset(o, 0, sizeof(*o));
	o->model = app->cfg.engine_model && *app->cfg.engine_model ? app->cfg.engine_model : NULL;
	o->threads = (int)(app->cfg.engine_threads > 1024 ? 1024 : app->cfg.engine_threads);
	o->ctx_size = app->cfg.engine_ctx_size > UINT32_MAX ? UINT32_MAX
							     : (uint32_t)app->cfg.engine_ctx_size;
	o->batch = 512;
	o->device = (int)(app->cfg.engine_device > 64 ? 64 : app->cfg.engine_device);
	o->backend = ENGINE_BACKEND_AUTO;
	if (app->cfg.engine_backend && strcmp(app->cfg.engine_backend, "cpu") == 0)
		o->backend = ENGINE_BACKEND_CPU;
	else if (app->cfg.engine_backend && strcmp(app->cfg.engine_backend, "vulkan") == 0)
		o->backend = ENGINE_BACKEND_VULKAN;
	o->kv_type = ENGINE_KV_F16;
}

/* An unsigned option value of at most `max`. */
static bool parse_bounded(const char *cmd, const char *opt, const char *s,
			  unsigned long long max, unsigned long long *out)
{
	if (!cli_parse_u64(cmd, opt, s, out))
		return false;
	if (*out > max) {
		cli_usage_error(cmd, "%s: %llu is larger than %llu", opt, *out, max);
		return false;
	}
	return true;
}

int cli_engine_opt(const char *cmd, int opt, const char *arg, struct cli_engine_opts *o)
{
	unsigned long long v;

	switch (opt) {
	case 'm':
		o->model = arg;
		return 1;
	case 't':
		if (!parse_bounded(cmd, "--threads", arg, 1024, &v))
			return -1;
		o->threads = (int)v;
		return 1;
	case 'c':
		if (!parse_bounded(cmd, "--ctx-size", arg, 1u << 24, &v))
			return -1;
		o->ctx_size = (uint32_t)v;
		return 1;
	case 'b':
		if (!parse_bounded(cmd, "--batch-size", arg, 1u << 16, &v))
			return -1;
		if (v == 0) {
			cli_usage_error(cmd, "--batch-size must be at least 1");
			return -1;
		}
		o->batch = (uint32_t)v;
		return 1;
	case CLI_OPT_DEVICE:
		if (!parse_bounded(cmd, "--device", arg, 64, &v))
			return -1;
		o->device = (int)v;
		return 1;
	case CLI_OPT_BACKEND:
		if (strcmp(arg, "auto") == 0)
			o->backend = ENGINE_BACKEND_AUTO;
		else if (strcmp(arg, "cpu") == 0)
			o->backend = ENGINE_BACKEND_CPU;
		else if (strcmp(arg, "vulkan") == 0)
			o->backend = ENGINE_BACKEND_VULKAN;
		else {
			cli_usage_error(cmd, "--backend must be auto, cpu or vulkan, not '%s'", arg);
			return -1;
		}
		return 1;
	case CLI_OPT_KV_TYPE:
		if (strcmp(arg, "f16") == 0)
			o->kv_type = ENGINE_KV_F16;
		else if (strcmp(arg, "f32") == 0)
			o->kv_type = ENGINE_KV_F32;
		else {
			cli_usage_error(cmd, "--kv-type must be f16 or f32, not '%s'", arg);
			return -1;
		}
		return 1;
	}
	return 0;
}

int cli_engine_open(const char *cmd, const struct cli_engine_opts *o, struct engine_model **m)
{
	*m = NULL;
	if (o->model == NULL)
		return cli_usage_error(cmd, "missing -m FILE.gguf (or set engine.model in the config)");
	if (engine_model_open(m, o->model, NULL) != 0)
		return cli_fail("%s: %s", cmd, engine_errmsg());
	return EXIT_OK;
}

int cli_engine_ctx(const char *cmd, const struct cli_engine_opts *o, struct engine_model *m,
		   uint32_t n_ctx, uint32_t n_batch, bool logits_all, struct engine_ctx **c)
{
	struct engine_ctx_params p = ENGINE_CTX_PARAMS_INIT;

	p.n_ctx = n_ctx;
	p.n_batch = n_batch;
	p.n_threads = o->threads;
	p.kv_type = o->kv_type;
	p.backend = o->backend;
	p.device = o->device;
	p.logits_all = logits_all;
	p.profile = o->profile;
	if (engine_ctx_new(c, m, &p) != 0)
		return cli_fail("%s: %s", cmd, engine_errmsg());
	return EXIT_OK;
}

bool cli_parse_float(const char *cmd, const char *opt, const char *s, float lo, float hi,
		     float *out)
{
	char *end;
	double v;

	errno = 0;
	v = s && *s ? strtod(s, &end) : NAN;
	if (!s || !*s || errno != 0 || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
		cli_usage_error(cmd, "%s expects a number in [%g, %g], got '%s'", opt,
				(double)lo, (double)hi, s ? s : "");
		return false;
	}
	*out = (float)v;
	return true;
}

int cli_read_file(const char *cmd, const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = EXIT_OK;

	*out = NULL;
	*len = 0;
	if (!f)
		return cli_fail("%s: %s: %s", cmd, path, strerror(errno));
	for (;;) {
		size_t r;

		if (n == cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;

			if (cap > max)
				break; /* over the bound: refused below */
			nb = realloc(buf, nc + 1);
			if (!nb) {
				rc = cli_fail("%s: out of memory", cmd);
				goto out;
			}
			buf = nb;
			cap = nc;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		rc = cli_fail("%s: %s: read error", cmd, path);
		goto out;
	}
	if (n > max) {
		rc = cli_fail("%s: %s: larger than %zu bytes", cmd, path, max);
		goto out;
	}
	if (!buf && !(buf = malloc(1))) {
		rc = cli_fail("%s: out of memory", cmd);
		goto out;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* ---- .npy -------------------------------------------------------------- */

/* NumPy format 1.0: magic, version, a little-endian u16 header length, an
 * ASCII dict padded with spaces and ended by '\n' so that the data starts
 * at a multiple of 64 bytes, then the float32 data, row-major. */
int cli_npy_write(const char *path, const float *data, size_t rows, size_t cols)
{
	char head[128], dict[112], *tmp = NULL;
	size_t dl, total;
	FILE *f = NULL;
	int fd = -1, rc = -1;
	bool made = false;

	dl = (size_t)snprintf(dict, sizeof(dict),
			      "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
			      rows, cols);
	total = (10 + dl + 1 + 63) / 64 * 64; /* magic+version+len, dict, '\n' */
	if (dl >= sizeof(dict) || total > sizeof(head)) {
		errno = EOVERFLOW;
		return -1;
	}
	memcpy(head, "\x93NUMPY\x01\x00", 8);
	head[8] = (char)((total - 10) & 0xff);
	head[9] = (char)((total - 10) >> 8);
	memcpy(head + 10, dict, dl);
	memset(head + 10 + dl, ' ', total - 10 - dl - 1);
	head[total - 1] = '\n';

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		errno = ENOMEM;
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0)
		goto out;
	made = true;
	if ((f = fdopen(fd, "wb")) == NULL)
		goto out;
	fd = -1;
	if (fwrite(head, 1, total, f) != total ||
	    (rows * cols != 0 && fwrite(data, sizeof(float), rows * cols, f) != rows * cols) ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		int e = errno;

		if (f)
			fclose(f);
		if (fd >= 0)
			close(fd);
		if (made)
			unlink(tmp);
		errno = e;
	}
	free(tmp);
	return rc;
}
