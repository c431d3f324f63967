/* registry.c - the tool table: names, JSON schemas, argument validation,
 * approval, the handlers, and the audit-log entry of every call.
 *
 * A handler gets validated arguments and fills a tools_result; the
 * registry owns everything around it: the schema check (so a handler can
 * take a required string for granted), approval for tools that run
 * commands, timing, and one store_tool_call per call, failures included. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "tools_int.h"

#define REG_MAX_ARGS_BYTES (8u << 20)
#define REG_MAX_STRING (4u << 20)
#define REG_DEFAULT_LIST 1000
#define REG_MAX_LIST 10000
#define REG_TEXT_CAP (256u << 10)

struct tools_ctx {
	struct tools_ctx_opts o;
	struct fsg fs;
	struct approval *appr;
	char *hosts[TOOLS_MAX_HOSTS];
	char *ro[TOOLS_SANDBOX_MAX_PATHS], *rw[TOOLS_SANDBOX_MAX_PATHS];
	char *env[TOOLS_SANDBOX_MAX_ENV];
	char *workspace, *skill;
	/* the shell tool's captured output, kept for the audit log until the
	 * end of the call that made it (owned; NULL between calls) */
	char *log_out, *log_err;
	size_t log_out_len, log_err_len;
};

struct tool_def {
	const char *name;
	const char *description;
	const char *schema;
	bool needs_approval;
	int (*run)(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
		   json_t *fields);
};

/* ---- small helpers ---------------------------------------------------------- */

static const char *sarg(json_t *args, const char *k)
{
	return json_string_value(json_object_get(args, k));
}

static json_int_t iarg(json_t *args, const char *k, json_int_t dflt)
{
	json_t *v = json_object_get(args, k);

	return v ? json_integer_value(v) : dflt;
}

static bool barg(json_t *args, const char *k)
{
	return json_is_true(json_object_get(args, k));
}

static void set_text(struct tools_result *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_text(struct tools_result *out, const char *fmt, ...)
{
	va_list ap;

	free(out->text);
	va_start(ap, fmt);
	if (vasprintf(&out->text, fmt, ap) < 0)
		out->text = NULL;
	va_end(ap);
}

/* ---- handlers ---------------------------------------------------------------- */

static int run_shell(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
		     json_t *fields)
{
	struct tools_sandbox_policy p = ctx->o.policy;
	struct tools_exec_result r;
	const char *argv[] = { "/bin/sh", "-c", sarg(args, "command"), NULL };
	json_int_t t = iarg(args, "timeout", 0);
	char layers[256];
	int rc;

	if (t > 0 && (uint64_t)t * 1000 < (p.timeout_ms ? p.timeout_ms : 600000))
		p.timeout_ms = (uint64_t)t * 1000; /* the model may only shorten it */
	p.allow_unsandboxed = false; /* never from a tool call */
	rc = tools_sandbox_exec(&r, &p, argv);
	if (rc < 0)
		return rc;
	out->exit_status = r.timed_out ? 124 : r.signal ? 128 + r.signal : r.exit_code;
	out->out_bytes = r.out_total + r.err_total;
	out->truncated = r.out_truncated || r.err_truncated;
	{
		const char *last = r.err_len ? r.err + r.err_len - 1 :
				   r.out_len ? r.out + r.out_len - 1 : NULL;

		set_text(out, "%s%s%s%s[exit %d%s%s]", r.out,
			 r.err_len ? (r.out_len && r.out[r.out_len - 1] != '\n' ?
				      "\n[stderr]\n" : "[stderr]\n") : "",
			 r.err, last && *last != '\n' ? "\n" : "", out->exit_status,
		 r.timed_out ? ", killed at the timeout" : "",
		 out->truncated ? ", output truncated" : "");
	}
	json_object_set_new(fields, "exit_code", json_integer(r.exit_code));
	json_object_set_new(fields, "signal", json_integer(r.signal));
	json_object_set_new(fields, "timed_out", json_boolean(r.timed_out));
	json_object_set_new(fields, "duration_ms", json_integer(r.duration_us / 1000));
	json_object_set_new(fields, "stdout_bytes", json_integer((json_int_t)r.out_total));
	json_object_set_new(fields, "stderr_bytes", json_integer((json_int_t)r.err_total));
	json_object_set_new(fields, "truncated", json_boolean(out->truncated));
	json_object_set_new(fields, "layers", json_string(tools_layers_str(r.layers, layers,
									 sizeof(layers))));
	if (r.notice[0])
		json_object_set_new(fields, "notice", json_string(r.notice));
	/* the transcript: tools_call logs it and frees it */
	ctx->log_out = r.out;
	ctx->log_out_len = r.out_len;
	ctx->log_err = r.err;
	ctx->log_err_len = r.err_len;
	r.out = r.err = NULL;
	tools_exec_result_clear(&r);
	return 0;
}

static int run_read_file(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
			 json_t *fields)
{
	json_int_t off = iarg(args, "offset", 0), max = iarg(args, "max_bytes", 0);
	char *data = NULL;
	size_t len;
	uint64_t size;
	int rc;

	rc = fsg_read(&ctx->fs, sarg(args, "path"), (uint64_t)off, (size_t)max, &data,
		      &len, &size);
	if (rc < 0)
		return rc;
	out->out_bytes = len;
	out->truncated = (uint64_t)off + len < size;
	out->text = data;
	json_object_set_new(fields, "size", json_integer((json_int_t)size));
	json_object_set_new(fields, "offset", json_integer(off));
	json_object_set_new(fields, "bytes", json_integer((json_int_t)len));
	json_object_set_new(fields, "truncated", json_boolean(out->truncated));
	return 0;
}

static int run_write_file(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
			  json_t *fields)
{
	json_t *c = json_object_get(args, "content");
	int rc = fsg_write(&ctx->fs, sarg(args, "path"), json_string_value(c),
			   json_string_length(c), barg(args, "create_dirs"));

	if (rc < 0)
		return rc;
	set_text(out, "wrote %zu bytes to %s", json_string_length(c), sarg(args, "path"));
	json_object_set_new(fields, "bytes", json_integer((json_int_t)json_string_length(c)));
	return 0;
}

static int run_edit_file(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
			 json_t *fields)
{
	size_t n = 0;
	int rc = fsg_edit(&ctx->fs, sarg(args, "path"), sarg(args, "old_string"),
			  sarg(args, "new_string"), barg(args, "replace_all"), &n);

	if (rc < 0)
		return rc;
	set_text(out, "replaced %zu occurrence%s in %s", n, n == 1 ? "" : "s",
		 sarg(args, "path"));
	json_object_set_new(fields, "replacements", json_integer((json_int_t)n));
	return 0;
}

static int run_list_dir(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
			json_t *fields)
{
	json_int_t max = iarg(args, "max_entries", REG_DEFAULT_LIST);
	const char *path = sarg(args, "path") ? sarg(args, "path") : ".";
	json_t *entries = NULL;
	bool trunc;
	size_t len = 0, cap = 4096;
	char *text;
	int rc;

	rc = fsg_list(&ctx->fs, path, (size_t)max, &entries, &trunc);
	if (rc < 0)
		return rc;
	text = malloc(cap);
	for (size_t i = 0; text && i < json_array_size(entries); i++) {
		json_t *e = json_array_get(entries, i);
		char line[400];
		int n = snprintf(line, sizeof(line), "%s%s\t%lld\n",
				 json_string_value(json_object_get(e, "name")),
				 strcmp(json_string_value(json_object_get(e, "type")), "dir") ?
				 "" : "/", (long long)json_integer_value(json_object_get(e, "size")));

		if (n < 0)
			continue;
		if (len + (size_t)n + 1 > cap) {
			char *nt = realloc(text, cap * 2 + (size_t)n);

			if (nt == NULL)
				break;
			text = nt;
			cap = cap * 2 + (size_t)n;
		}
		memcpy(text + len, line, (size_t)n);
		len += (size_t)n;
	}
	if (text)
		text[len] = '\0';
	out->text = text;
	out->truncated = trunc;
	out->out_bytes = len;
	json_object_set_new(fields, "entries", entries);
	json_object_set_new(fields, "truncated", json_boolean(trunc));
	return 0;
}

static int run_http_get(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
			json_t *fields)
{
	struct http_req rq = { 0 };
	json_int_t max = iarg(args, "max_bytes", 0);
	int rc;

	rq.url = sarg(args, "url");
	rq.hosts = (const char *const *)ctx->hosts;
	rq.n_hosts = ctx->o.n_hosts;
	rq.max_bytes = max > 0 && (uint64_t)max < REG_TEXT_CAP * 16 ? (uint64_t)max :
		REG_TEXT_CAP * 4;
	rq.timeout_ms = ctx->o.net_timeout_ms ? ctx->o.net_timeout_ms : 60000;
	rq.fd = -1;
	if ((rc = http_fetch(&rq)) < 0)
		return rc;
	out->text = rq.body;
	out->out_bytes = rq.bytes;
	json_object_set_new(fields, "status", json_integer(rq.status));
	json_object_set_new(fields, "bytes", json_integer((json_int_t)rq.bytes));
	json_object_set_new(fields, "sha256", json_string(rq.sha256));
	json_object_set_new(fields, "url", json_string(rq.final_url));
	json_object_set_new(fields, "redirects", json_integer(rq.redirects));
	return 0;
}

static bool is_sha256(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

static int run_download(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
			json_t *fields)
{
	struct http_req rq = { 0 };
	const char *path = sarg(args, "path"), *want = sarg(args, "sha256");
	char tmp[400];
	int dfd = -1, fd, rc;

	if (want && !is_sha256(want))
		return tools_seterr(TOOLS_EINVAL, "argument 'sha256' must be 64 hex digits");
	fd = fsg_tmp_create(&ctx->fs, path, true, &dfd, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	rq.url = sarg(args, "url");
	rq.hosts = (const char *const *)ctx->hosts;
	rq.n_hosts = ctx->o.n_hosts;
	rq.max_bytes = ctx->o.max_download ? ctx->o.max_download : (256ull << 20);
	rq.timeout_ms = ctx->o.net_timeout_ms ? ctx->o.net_timeout_ms : 60000;
	rq.fd = fd;
	rc = http_fetch(&rq);
	if (close(fd) < 0 && rc == 0)
		rc = tools_seterr(TOOLS_EIO, "writing '%s': %s", path, strerror(errno));
	if (rc == 0 && want && strcasecmp(want, rq.sha256) != 0)
		rc = tools_seterr(TOOLS_ECHECKSUM, "sha256 mismatch for %s: expected %s, got "
				  "%s; the partial file was removed", rq.url, want, rq.sha256);
	if (rc == 0)
		rc = fsg_tmp_commit(&ctx->fs, dfd, tmp, path);
	if (rc < 0)
		fsg_tmp_abort(dfd, tmp);
	close(dfd);
	if (rc < 0)
		return rc;
	out->out_bytes = rq.bytes;
	set_text(out, "downloaded %llu bytes to %s (sha256 %s%s)",
		 (unsigned long long)rq.bytes, path, rq.sha256, want ? ", verified" : "");
	json_object_set_new(fields, "path", json_string(path));
	json_object_set_new(fields, "bytes", json_integer((json_int_t)rq.bytes));
	json_object_set_new(fields, "sha256", json_string(rq.sha256));
	json_object_set_new(fields, "verified", json_boolean(want != NULL));
	json_object_set_new(fields, "url", json_string(rq.final_url));
	return 0;
}

static int run_git_clone(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
			 json_t *fields)
{
	const char *path = sarg(args, "path");
	char dest[SBX_PATH + 8], head[64] = "";
	int rc;

	if ((rc = fsg_new_abs(&ctx->fs, path, dest, sizeof(dest))) < 0)
		return rc;
	rc = git_clone_to(sarg(args, "url"), dest, sarg(args, "commit"),
			  (const char *const *)ctx->hosts, ctx->o.n_hosts, head, sizeof(head));
	if (rc < 0) {
		char keep[512];

		snprintf(keep, sizeof(keep), "%s", tools_errmsg());
		fsg_remove_tree(&ctx->fs, path);
		return tools_seterr(rc, "%s", keep);
	}
	set_text(out, "cloned %s into %s at %s", sarg(args, "url"), path, head);
	json_object_set_new(fields, "path", json_string(path));
	json_object_set_new(fields, "head", json_string(head));
	return 0;
}

static int run_extract(struct tools_ctx *ctx, json_t *args, struct tools_result *out,
		       json_t *fields)
{
	const char *path = sarg(args, "path"), *to = sarg(args, "to");
	char dest[SBX_PATH + 8];
	size_t n = 0;
	int fd, rc;

	/* both beneath the workspace: the archive opened there, the
	 * destination resolved (or made) there, then given by its real path */
	if ((fd = fsg_open_read(&ctx->fs, path)) < 0)
		return fd;
	rc = fsg_dir_abs(&ctx->fs, to, true, dest, sizeof(dest));
	if (rc == 0)
		rc = extract_fd(fd, path, dest, TOOLS_EXTRACT_MAX_ENTRIES,
				TOOLS_EXTRACT_MAX_BYTES, &n);
	close(fd);
	if (rc < 0)
		return rc;
	set_text(out, "extracted %zu entr%s of %s into %s", n, n == 1 ? "y" : "ies",
		 path, to);
	json_object_set_new(fields, "path", json_string(path));
	json_object_set_new(fields, "to", json_string(to));
	json_object_set_new(fields, "entries", json_integer((json_int_t)n));
	return 0;
}

/* ---- the table ----------------------------------------------------------------- */

#define PATH_PROP "\"path\": {\"type\": \"string\", \"maxLength\": 1000, " \
	"\"description\": \"relative to the workspace\"}"

static const struct tool_def tool_defs[] = {
	{ "shell", "Run a shell command line in the sandbox (workspace read-write, "
	  "no home, network per policy)",
	  "{\"type\": \"object\", \"properties\": {"
	  "\"command\": {\"type\": \"string\", \"maxLength\": 65536},"
	  "\"timeout\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 86400}},"
	  "\"required\": [\"command\"], \"additionalProperties\": false}",
	  true, run_shell },
	{ "read_file", "Read a file of the workspace",
	  "{\"type\": \"object\", \"properties\": {" PATH_PROP ","
	  "\"offset\": {\"type\": \"integer\", \"minimum\": 0},"
	  "\"max_bytes\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 67108864}},"
	  "\"required\": [\"path\"], \"additionalProperties\": false}",
	  false, run_read_file },
	{ "write_file", "Create or replace a file of the workspace",
	  "{\"type\": \"object\", \"properties\": {" PATH_PROP ","
	  "\"content\": {\"type\": \"string\", \"maxLength\": 4194304},"
	  "\"create_dirs\": {\"type\": \"boolean\"}},"
	  "\"required\": [\"path\", \"content\"], \"additionalProperties\": false}",
	  false, run_write_file },
	{ "edit_file", "Replace an exact string in a file of the workspace",
	  "{\"type\": \"object\", \"properties\": {" PATH_PROP ","
	  "\"old_string\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1048576},"
	  "\"new_string\": {\"type\": \"string\", \"maxLength\": 1048576},"
	  "\"replace_all\": {\"type\": \"boolean\"}},"
	  "\"required\": [\"path\", \"old_string\", \"new_string\"],"
	  "\"additionalProperties\": false}",
	  false, run_edit_file },
	{ "list_dir", "List a directory of the workspace",
	  "{\"type\": \"object\", \"properties\": {" PATH_PROP ","
	  "\"max_entries\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10000}},"
	  "\"additionalProperties\": false}",
	  false, run_list_dir },
	{ "http_get", "Fetch a URL from an allowed host (text)",
	  "{\"type\": \"object\", \"properties\": {"
	  "\"url\": {\"type\": \"string\", \"maxLength\": 1000},"
	  "\"max_bytes\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 4194304}},"
	  "\"required\": [\"url\"], \"additionalProperties\": false}",
	  false, run_http_get },
	{ "download", "Download a URL from an allowed host into the workspace, "
	  "optionally checking its sha256",
	  "{\"type\": \"object\", \"properties\": {"
	  "\"url\": {\"type\": \"string\", \"maxLength\": 1000}," PATH_PROP ","
	  "\"sha256\": {\"type\": \"string\", \"minLength\": 64, \"maxLength\": 64}},"
	  "\"required\": [\"url\", \"path\"], \"additionalProperties\": false}",
	  false, run_download },
	{ "git_clone", "Clone a git repository (allowed host or local path) into the "
	  "workspace, optionally at a pinned commit",
	  "{\"type\": \"object\", \"properties\": {"
	  "\"url\": {\"type\": \"string\", \"maxLength\": 1000}," PATH_PROP ","
	  "\"commit\": {\"type\": \"string\", \"minLength\": 4, \"maxLength\": 64}},"
	  "\"required\": [\"url\", \"path\"], \"additionalProperties\": false}",
	  false, run_git_clone },
	{ "extract", "Unpack a tar, tar.gz, tar.xz, tar.bz2 or zip archive of the "
	  "workspace into a directory of the workspace (created when missing)",
	  "{\"type\": \"object\", \"properties\": {" PATH_PROP ","
	  "\"to\": {\"type\": \"string\", \"maxLength\": 1000, "
	  "\"description\": \"directory, relative to the workspace\"}},"
	  "\"required\": [\"path\", \"to\"], \"additionalProperties\": false}",
	  false, run_extract },
};

#define N_TOOLS (sizeof(tool_defs) / sizeof(tool_defs[0]))

const char *tools_name(size_t i)
{
	return i < N_TOOLS ? tool_defs[i].name : NULL;
}

const char *tools_description(size_t i)
{
	return i < N_TOOLS ? tool_defs[i].description : NULL;
}

const char *tools_schema(size_t i)
{
	return i < N_TOOLS ? tool_defs[i].schema : NULL;
}

/* ---- validation against the schema subset the table uses ---------------------- */

static const char *type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int validate(const char *tool, json_t *schema, json_t *args)
{
	json_t *props = json_object_get(schema, "properties"), *req, *v, *ps;
	const char *k;
	size_t i;

	if (!json_is_object(args))
		return tools_seterr(TOOLS_EINVAL, "%s: the arguments must be a JSON object, "
				    "not %s", tool, type_name(args));
	json_object_foreach(args, k, v) {
		const char *type;
		json_t *lim;

		ps = json_object_get(props, k);
		if (ps == NULL) {
			char names[300] = "";
			const char *pk;
			json_t *pv;

			json_object_foreach(props, pk, pv)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s%s", names[0] ? ", " : "", pk);
			return tools_seterr(TOOLS_EINVAL, "%s: unknown argument '%s' (expected: %s)",
					    tool, k, names);
		}
		type = json_string_value(json_object_get(ps, "type"));
		if ((strcmp(type, "string") == 0 && !json_is_string(v)) ||
		    (strcmp(type, "integer") == 0 && !json_is_integer(v)) ||
		    (strcmp(type, "boolean") == 0 && !json_is_boolean(v)))
			return tools_seterr(TOOLS_EINVAL, "%s: argument '%s' must be %s %s, not %s",
					    tool, k, strcmp(type, "integer") == 0 ? "an" : "a",
					    type, type_name(v));
		if (json_is_string(v)) {
			size_t len = json_string_length(v);

			if (strlen(json_string_value(v)) != len)
				return tools_seterr(TOOLS_EINVAL, "%s: argument '%s' contains a NUL "
						    "character", tool, k);
			if ((lim = json_object_get(ps, "maxLength")) &&
			    len > (size_t)json_integer_value(lim))
				return tools_seterr(TOOLS_EINVAL, "%s: argument '%s' is longer than "
						    "%lld characters", tool, k,
						    (long long)json_integer_value(lim));
			if ((lim = json_object_get(ps, "minLength")) &&
			    len < (size_t)json_integer_value(lim))
				return tools_seterr(TOOLS_EINVAL, "%s: argument '%s' is shorter than "
						    "%lld characters", tool, k,
						    (long long)json_integer_value(lim));
		}
		if (json_is_integer(v)) {
			json_int_t n = json_integer_value(v);

			if ((lim = json_object_get(ps, "minimum")) && n < json_integer_value(lim))
				return tools_seterr(TOOLS_EINVAL, "%s: argument '%s' must be at least "
						    "%lld", tool, k, (long long)json_integer_value(lim));
			if ((lim = json_object_get(ps, "maximum")) && n > json_integer_value(lim))
				return tools_seterr(TOOLS_EINVAL, "%s: argument '%s' must be at most "
						    "%lld", tool, k, (long long)json_integer_value(lim));
		}
	}
	req = json_object_get(schema, "required");
	json_array_foreach(req, i, v)
		if (json_object_get(args, json_string_value(v)) == NULL)
			return tools_seterr(TOOLS_EINVAL, "%s: missing required argument '%s'",
					    tool, json_string_value(v));
	return 0;
}

/* ---- context --------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

int tools_ctx_open(struct tools_ctx **out, const struct tools_ctx_opts *o)
{
	struct tools_ctx *c;
	bool oom = false;
	int rc;

	*out = NULL;
	if (o == NULL || o->version != TOOLS_CTX_OPTS_VERSION)
		return tools_seterr(TOOLS_EINVAL, "tools options of an unknown version");
	if (o->n_hosts > TOOLS_MAX_HOSTS || o->policy.n_ro > TOOLS_SANDBOX_MAX_PATHS ||
	    o->policy.n_rw > TOOLS_SANDBOX_MAX_PATHS || o->policy.n_env > TOOLS_SANDBOX_MAX_ENV)
		return tools_seterr(TOOLS_EINVAL, "too many hosts, paths or variables");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return tools_seterr(TOOLS_EIO, "out of memory");
	c->fs.wsfd = -1;
	c->o = *o;
	/* own every string the options point to */
	c->workspace = dup_or_null(o->policy.workspace, &oom);
	c->skill = dup_or_null(o->skill, &oom);
	c->o.policy.workspace = c->workspace;
	c->o.skill = c->skill;
	for (size_t i = 0; i < o->n_hosts; i++)
		c->o.hosts[i] = c->hosts[i] = dup_or_null(o->hosts[i], &oom);
	for (size_t i = 0; i < o->policy.n_ro; i++)
		c->o.policy.ro[i] = c->ro[i] = dup_or_null(o->policy.ro[i], &oom);
	for (size_t i = 0; i < o->policy.n_rw; i++)
		c->o.policy.rw[i] = c->rw[i] = dup_or_null(o->policy.rw[i], &oom);
	for (size_t i = 0; i < o->policy.n_env; i++)
		c->o.policy.env[i] = c->env[i] = dup_or_null(o->policy.env[i], &oom);
	if (oom) {
		rc = tools_seterr(TOOLS_EIO, "out of memory");
		goto fail;
	}
	if ((rc = fsg_open(&c->fs, c->workspace, o->max_file)) < 0)
		goto fail;
	if ((rc = approval_open(&c->appr, o->approval, o->ask, o->ask_ud)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	tools_ctx_close(c);
	return rc;
}

void tools_ctx_close(struct tools_ctx *c)
{
	if (c == NULL)
		return;
	fsg_close(&c->fs);
	approval_close(c->appr);
	for (size_t i = 0; i < TOOLS_MAX_HOSTS; i++)
		free(c->hosts[i]);
	for (size_t i = 0; i < TOOLS_SANDBOX_MAX_PATHS; i++) {
		free(c->ro[i]);
		free(c->rw[i]);
	}
	for (size_t i = 0; i < TOOLS_SANDBOX_MAX_ENV; i++)
		free(c->env[i]);
	free(c->workspace);
	free(c->skill);
	free(c->log_out);
	free(c->log_err);
	free(c);
}

void tools_result_clear(struct tools_result *r)
{
	if (r == NULL)
		return;
	free(r->text);
	free(r->fields);
	memset(r, 0, sizeof(*r));
}

/* ---- calling ----------------------------------------------------------------------- */

static int64_t now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *policy_json(const struct tools_ctx *ctx, const struct tool_def *t,
			 const char *layers)
{
	json_t *o;
	char *pol = tools_sandbox_policy_json(&ctx->o.policy, NULL), *s;

	o = pol ? json_loads(pol, 0, NULL) : NULL;
	free(pol);
	if (o == NULL)
		o = json_object();
	if (strcmp(t->name, "http_get") == 0 || strcmp(t->name, "download") == 0 ||
	    strcmp(t->name, "git_clone") == 0) {
		json_t *h = json_array();

		for (size_t i = 0; i < ctx->o.n_hosts; i++)
			json_array_append_new(h, json_string(ctx->hosts[i]));
		json_object_set_new(o, "hosts", h);
	}
	json_object_set_new(o, "approval", json_string(
		ctx->o.approval == TOOLS_APPROVAL_AUTO ? "auto" :
		ctx->o.approval == TOOLS_APPROVAL_DENY ? "deny" : "ask"));
	if (layers)
		json_object_set_new(o, "layers", json_string(layers));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

int tools_call(struct tools_ctx *ctx, const char *name, const char *args_json,
	       struct tools_result *out)
{
	const struct tool_def *t = NULL;
	json_t *args = NULL, *schema = NULL, *fields = json_object();
	json_error_t je;
	char *pol = NULL;
	int64_t t0 = now_ms(CLOCK_MONOTONIC), started = now_ms(CLOCK_REALTIME);
	int rc;

	memset(out, 0, sizeof(*out));
	free(ctx->log_out);
	free(ctx->log_err);
	ctx->log_out = ctx->log_err = NULL;
	ctx->log_out_len = ctx->log_err_len = 0;
	for (size_t i = 0; i < N_TOOLS && t == NULL; i++)
		if (name && strcmp(tool_defs[i].name, name) == 0)
			t = &tool_defs[i];
	if (t == NULL) {
		rc = tools_seterr(TOOLS_ENOTFOUND, "no tool named '%s'", name ? name : "");
		goto done;
	}
	if (args_json == NULL || strlen(args_json) > REG_MAX_ARGS_BYTES) {
		rc = tools_seterr(TOOLS_EINVAL, "%s: the arguments are missing or too large",
				  t->name);
		goto done;
	}
	args = json_loads(args_json, JSON_REJECT_DUPLICATES, &je);
	if (args == NULL) {
		rc = tools_seterr(TOOLS_EINVAL, "%s: the arguments are not JSON (%s at "
				  "column %d)", t->name, je.text, je.column);
		goto done;
	}
	schema = json_loads(t->schema, 0, NULL);
	if ((rc = validate(t->name, schema, args)) < 0)
		goto done;
	if (t->needs_approval) {
		char *p = policy_json(ctx, t, NULL);

		rc = approval_check(ctx->appr, ctx->skill, t->name, sarg(args, "command"),
				    p ? p : "{}");
		free(p);
		if (rc < 0)
			goto done;
	}
	rc = t->run(ctx, args, out, fields);
done:
	if (rc < 0) {
		out->exit_status = -1;
		set_text(out, "error: %s", tools_errmsg());
	}
	json_object_set_new(fields, "ok", json_boolean(rc == 0));
	if (rc < 0)
		json_object_set_new(fields, "error", json_string(tools_errmsg()));
	free(out->fields);
	out->fields = json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (ctx->o.store && t) {
		struct store_tool_call c = { 0 };
		json_t *lay = json_object_get(fields, "layers");
		char keep[512];

		snprintf(keep, sizeof(keep), "%s", tools_errmsg());
		pol = policy_json(ctx, t, json_string_value(lay));
		c.run_id = ctx->o.run_id;
		c.tool = (char *)t->name;
		c.args = (char *)args_json;
		c.policy = pol;
		c.exit_status = out->exit_status;
		c.duration_ms = now_ms(CLOCK_MONOTONIC) - t0;
		c.started_at = started;
		c.out_bytes = (int64_t)out->out_bytes;
		c.truncated = out->truncated;
		/* lengths 0 would mean strlen: "" says empty either way */
		c.out = ctx->log_out && ctx->log_out_len ? ctx->log_out : "";
		c.out_len = ctx->log_out_len;
		c.err = ctx->log_err && ctx->log_err_len ? ctx->log_err : "";
		c.err_len = ctx->log_err_len;
		c.error = rc < 0 ? keep : NULL;
		if (store_tool_call_add(ctx->o.store, &c, NULL) < 0 && rc == 0)
			rc = tools_seterr(TOOLS_EIO, "audit log: %s", store_errmsg());
		else
			tools_seterr(rc, "%s", keep);
	}
	free(pol);
	free(ctx->log_out);
	free(ctx->log_err);
	ctx->log_out = ctx->log_err = NULL;
	ctx->log_out_len = ctx->log_err_len = 0;
	json_decref(fields);
	json_decref(schema);
	json_decref(args);
	return rc;
}
