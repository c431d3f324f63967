/* run.c - a plan carried out: every command in the sandbox, every step in
 * the transcript, the result in the registry.
 *
 * Order: requirement checks, then (unless --force) the Verify section as a
 * probe: if it passes for a skill that is not installed or is installed
 * from the same document, nothing needs doing; else install and configure
 * steps in document order, then Verify.  Before each install step the
 * prefix is snapshotted; what the step adds is the step's, and a failing
 * step's additions are removed again, so the prefix is as the last good
 * step left it.  Shell steps run as `bash -c` with errexit, pipefail and an
 * ERR trap that names the failing command and its line. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "skills_int.h"
#include "store.h"
#include "tools.h"

/* The first line of every script: the ERR trap that names the failing
 * command.  The script's lines follow at their own line numbers in the
 * document (blank lines fill the gaps), so $LINENO and bash's own messages
 * ("SKILL.md: line 31: ...") point into the document. */
static const char script_header[] =
	"trap 'halo_rc=$?; printf '\\''halo-agent: command failed (exit %s) at line %s: %s\\n'\\'' "
	"\"$halo_rc\" \"$LINENO\" \"$BASH_COMMAND\" >&2' ERR";

#define MAX_ENV TOOLS_SANDBOX_MAX_ENV

struct runner {
	const struct skills_skill *s;
	const struct skills_run_opts *o;
	struct skills_result *res;
	char root[PATH_MAX];      /* <data>/skills/<name> */
	char skill_copy[PATH_MAX];/* <root>/skill */
	char work[PATH_MAX];      /* <root>/work */
	char prefix[PATH_MAX];
	char env_buf[MAX_ENV][1024];
	const char *env[MAX_ENV];
	size_t n_env;
	bool always;              /* the human said "always" */
	int64_t run_id;
	const char *phase;
	const struct skills_step *cur;
	size_t n, m;
};

static const char *doc_base(const char *file)
{
	const char *slash = strrchr(file, '/');

	return slash ? slash + 1 : file;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(struct runner *r, enum skills_event_kind kind, const struct skills_step *st,
		 const char *text, int status, int64_t elapsed)
{
	struct skills_event ev = {
		.kind = kind, .step = st, .file = r->s ? doc_base(r->s->file) : NULL,
		.n = r->n, .m = r->m,
		.phase = r->phase,
		.text = text, .len = text ? strlen(text) : 0, .status = status,
		.elapsed_ms = elapsed,
	};

	if (r->o->on_event)
		r->o->on_event(r->o->ud, &ev);
}

static void infof(struct runner *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void infof(struct runner *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(r, SKILLS_EV_INFO, NULL, msg, 0, 0);
}

/* snprintf that may cut (messages, bounded paths checked elsewhere). */
static void cutf(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cutf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static void note_cb(void *ud, const char *msg)
{
	infof(ud, "%s", msg);
}

/* ---- variables ------------------------------------------------------------- */

static const char *var_get(const struct runner *r, const char *name, size_t n)
{
	for (size_t i = 0; i < r->n_env; i++)
		if (strncmp(r->env[i], name, n) == 0 && r->env[i][n] == '=')
			return r->env[i] + n + 1;
	return NULL;
}

static int env_set(struct runner *r, const char *name, const char *value)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < r->n_env; i++)
		if (strncmp(r->env[i], name, n) == 0 && r->env[i][n] == '=') {
			snprintf(r->env_buf[i], sizeof(r->env_buf[i]), "%s=%s", name, value);
			return 0;
		}
	if (r->n_env >= MAX_ENV)
		return skills_seterr(SKILLS_EPLAN, "more than %d variables", MAX_ENV);
	if (snprintf(r->env_buf[r->n_env], sizeof(r->env_buf[0]), "%s=%s", name, value) >=
	    (int)sizeof(r->env_buf[0]))
		return skills_seterr(SKILLS_EPLAN, "variable %s is too long", name);
	r->env[r->n_env] = r->env_buf[r->n_env];
	r->n_env++;
	return 0;
}

/* $NAME and ${NAME} of known variables; an unknown one is an error naming
 * the line. */
static int expand(const struct runner *r, const char *in, unsigned line, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = in; *p; ) {
		const char *name, *val;
		size_t n;
		bool brace;

		if (*p != '$') {
			if (o + 1 >= cap)
				return skills_seterr(SKILLS_EPLAN, "%s:%u: value too long", r->s->file, line);
			out[o++] = *p++;
			continue;
		}
		brace = p[1] == '{';
		name = p + 1 + brace;
		n = 0;
		while (name[n] == '_' || (name[n] >= 'A' && name[n] <= 'Z') ||
		       (name[n] >= 'a' && name[n] <= 'z') || (n && name[n] >= '0' && name[n] <= '9'))
			n++;
		if (n == 0 || (brace && name[n] != '}')) {
			if (o + 1 >= cap)
				return skills_seterr(SKILLS_EPLAN, "%s:%u: value too long", r->s->file, line);
			out[o++] = *p++;
			continue;
		}
		if ((val = var_get(r, name, n)) == NULL)
			return skills_seterr(SKILLS_EPLAN, "%s:%u: $%.*s is not set (set it with "
					     "--set %.*s=VALUE or metadata.halo-vars)", r->s->file,
					     line, (int)n, name, (int)n, name);
		if (o + strlen(val) >= cap)
			return skills_seterr(SKILLS_EPLAN, "%s:%u: value too long", r->s->file, line);
		memcpy(out + o, val, strlen(val));
		o += strlen(val);
		p = name + n + brace;
	}
	out[o] = '\0';
	return 0;
}

/* ---- the transcript ------------------------------------------------------- */

static void log_call(struct runner *r, const char *tool, json_t *args, const char *policy,
		     int status, const struct tools_exec_result *x, int64_t ms, const char *error)
{
	struct store_tool_call c = { 0 };

	if (r->run_id == 0)
		return;
	c.run_id = r->run_id;
	c.tool = (char *)tool;
	c.args = json_dumps(args, JSON_COMPACT);
	c.policy = (char *)(policy ? policy : "{}");
	c.exit_status = status;
	c.duration_ms = ms;
	if (x) {
		c.out_bytes = (int64_t)(x->out_total + x->err_total);
		c.truncated = x->out_truncated || x->err_truncated;
		c.out = x->out;
		c.out_len = x->out_len;
		c.err = x->err;
		c.err_len = x->err_len;
	}
	c.error = (char *)error;
	if (store_tool_call_add(r->o->store, &c, NULL) < 0)
		infof(r, "warning: the transcript could not be written: %s", store_errmsg());
	free(c.args);
}

static json_t *step_args(const struct runner *r, const struct skills_step *st)
{
	json_t *a = json_object();

	json_object_set_new(a, "phase", json_string(r->phase));
	json_object_set_new(a, "file", json_string(r->s->file));
	json_object_set_new(a, "line", json_integer(st->line));
	json_object_set_new(a, "heading", json_string(st->heading));
	if (st->kind == SKILLS_STEP_SHELL && st->script)
		json_object_set_new(a, "command", json_string(st->script));
	else if (st->kind == SKILLS_STEP_FETCH)
		json_object_set_new(a, "command", json_string(st->git ? st->git : st->url));
	return a;
}

/* ---- one shell step ---------------------------------------------------------- */

static void on_output(void *ud, int stream, const char *buf, size_t len)
{
	struct runner *r = ud;
	struct skills_event ev = {
		.kind = SKILLS_EV_OUTPUT, .step = r->cur, .file = doc_base(r->s->file),
		.n = r->n, .m = r->m,
		.phase = r->phase, .text = buf, .len = len, .stream = stream,
	};

	if (r->o->on_event)
		r->o->on_event(r->o->ud, &ev);
}

/* The sandbox of one command.  Only steps that install or uninstall may
 * write the prefix; checks (requirements, unless=, Verify) see it
 * read-only, so a check never changes what is installed. */
static void policy_init(struct runner *r, struct tools_sandbox_policy *p, bool stream,
			bool writes_prefix)
{
	*p = (struct tools_sandbox_policy)TOOLS_SANDBOX_POLICY_INIT;
	p->workspace = r->work;
	p->ro[p->n_ro++] = r->skill_copy;
	if (writes_prefix)
		p->rw[p->n_rw++] = r->prefix;
	else
		p->ro[p->n_ro++] = r->prefix;
	p->network = TOOLS_NET_NONE;
	for (size_t i = 0; i < r->n_env; i++)
		p->env[p->n_env++] = r->env[i];
	p->timeout_ms = r->o->timeout_ms ? r->o->timeout_ms : 600000;
	p->memory = r->o->memory;
	if (stream) {
		p->on_output = on_output;
		p->on_output_ud = r;
	}
}

/* The failing step, copied into the result (which outlives the skill). */
static void mark_failed(struct skills_result *res, const struct skills_step *st)
{
	res->failed = true;
	res->failed_section = st->section;
	res->failed_line = st->line;
	cutf(res->failed_note, sizeof(res->failed_note), "%s", st->note);
}

/* The last "halo-agent: command failed" line of stderr. */
static void failed_command(struct runner *r, const struct skills_step *st,
			   const struct tools_exec_result *x)
{
	struct skills_result *res = r->res;
	const char *p = NULL, *q = x->err;
	unsigned sl = 0;
	int ex = 0, off = 0;

	while (q && (q = strstr(q, "halo-agent: command failed (exit ")) != NULL) {
		p = q;
		q++;
	}
	mark_failed(res, st);
	res->failed_command[0] = '\0';
	if (p && sscanf(p, "halo-agent: command failed (exit %d) at line %u: %n", &ex, &sl,
			&off) == 2 && off > 0) {
		size_t n = strcspn(p + off, "\n");

		snprintf(res->failed_command, sizeof(res->failed_command), "%.*s",
			 (int)(n < 500 ? n : 500), p + off);
		if (sl > st->line)
			res->failed_line = sl;
	}
	/* the tail of stderr, without our own marker line */
	{
		size_t end = p ? (size_t)(p - x->err) : x->err_len;
		size_t start = end > sizeof(res->stderr_tail) - 1 ? end - (sizeof(res->stderr_tail) - 1) : 0;

		/* whole lines, at most 12 */
		int lines = 0;
		size_t s2 = end;

		while (s2 > start && lines < 13) {
			s2--;
			if (x->err[s2] == '\n' && s2 + 1 < end)
				lines++;
		}
		if (lines >= 13)
			s2++;
		snprintf(res->stderr_tail, sizeof(res->stderr_tail), "%.*s", (int)(end - s2),
			 x->err + s2);
	}
}


/* The header, then each line of the step's script at its document line.
 * A script that is not the step's own (an 'unless' check) follows the
 * header directly. */
static char *build_script(const struct skills_step *st, const char *script, size_t *len)
{
	struct sbuf b = { 0 };
	unsigned cur = 1;

	sbuf_adds(&b, script_header);
	if (script != st->script || st->n_script_lines == 0) {
		sbuf_adds(&b, "\n");
		sbuf_adds(&b, script);
	} else {
		const char *p = script;

		for (size_t i = 0; i < st->n_script_lines && *p; i++) {
			size_t n = strcspn(p, "\n");

			sbuf_adds(&b, "\n"); /* ends the line before */
			cur++;
			while (cur < st->script_lines[i]) {
				sbuf_adds(&b, "\n");
				cur++;
			}
			sbuf_add(&b, p, n);
			p += n;
			if (*p)
				p++;
		}
		sbuf_adds(&b, "\n");
	}
	if (b.failed) {
		sbuf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* Run a shell script; *status gets its exit status.  `changes`: a step
 * that installs or uninstalls (asked for, prefix writable) rather than a
 * check.  Returns <0 only when it could not be run at all (or was
 * refused). */
static int run_script(struct runner *r, const struct skills_step *st, const char *script,
		      bool stream, bool changes, int *status, struct tools_exec_result *x)
{
	struct tools_sandbox_policy p;
	char *full, *pol;
	const char *argv[7];
	json_t *args;
	int rc;
	size_t n;

	policy_init(r, &p, stream, changes);
	pol = tools_sandbox_policy_json(&p, NULL);
	if (changes && !r->o->auto_approve && !r->always) {
		skills_answer a = r->o->ask ? r->o->ask(r->o->ask_ud, st, script, pol ? pol : "{}")
					    : SKILLS_ANSWER_NO;

		if (a == SKILLS_ANSWER_NO) {
			args = step_args(r, st);
			log_call(r, "shell", args, pol, -1, NULL, 0, "refused");
			json_decref(args);
			free(pol);
			return skills_seterr(SKILLS_EDENIED, "%s:%u: step refused%s", r->s->file,
					     st->line, r->o->ask ? "" : " (no terminal to ask on: "
					     "run with --yes to approve every step)");
		}
		if (a == SKILLS_ANSWER_ALWAYS)
			r->always = true;
	}
	if ((full = build_script(st, script, &n)) == NULL) {
		free(pol);
		return skills_seterr(SKILLS_EIO, "out of memory");
	}
	if (n > 120000) {
		free(full);
		free(pol);
		return skills_seterr(SKILLS_EPLAN, "%s:%u: the block is too long to run (%zu bytes)",
				     r->s->file, st->line, n);
	}
	argv[0] = "bash";
	argv[1] = "-eEo";
	argv[2] = "pipefail";
	argv[3] = "-c";
	argv[4] = full;
	argv[5] = doc_base(r->s->file);
	argv[6] = NULL;
	r->cur = st;
	rc = tools_sandbox_exec(x, &p, argv);
	free(full);
	args = step_args(r, st);
	if (rc < 0) {
		log_call(r, "shell", args, pol, -1, NULL, 0, tools_errmsg());
		json_decref(args);
		free(pol);
		return skills_seterr(SKILLS_EIO, "%s:%u: the sandbox could not run the step: %s",
				     r->s->file, st->line, tools_errmsg());
	}
	*status = x->timed_out ? 124 : x->signal ? 128 + x->signal : x->exit_code;
	free(pol);
	pol = tools_sandbox_policy_json(&p, x);
	log_call(r, "shell", args, pol, *status, x, x->duration_us / 1000, NULL);
	json_decref(args);
	free(pol);
	return 0;
}

/* ---- a fetch step ----------------------------------------------------------------- */

static int run_fetch(struct runner *r, const struct skills_step *st, int *status)
{
	struct tools_ctx_opts co = TOOLS_CTX_OPTS_INIT;
	struct tools_ctx *ctx = NULL;
	struct tools_result tr = { 0 };
	char url[2048], to[1024], dest[PATH_MAX], archive[PATH_MAX];
	json_t *a;
	char *args;
	int rc;
	int64_t t0 = now_ms();

	*status = 1;
	if ((rc = expand(r, st->git ? st->git : st->url, st->line, url, sizeof(url))) < 0 ||
	    (rc = expand(r, st->to, st->line, to, sizeof(to))) < 0)
		return rc;
	co.policy.workspace = r->work;
	for (size_t i = 0; i < r->s->n_hosts && i < TOOLS_MAX_HOSTS; i++)
		co.hosts[co.n_hosts++] = r->s->hosts[i];
	co.approval = TOOLS_APPROVAL_AUTO;
	co.store = r->o->store;
	co.run_id = r->run_id;
	co.skill = r->s->name;
	if (tools_ctx_open(&ctx, &co) < 0)
		return skills_seterr(SKILLS_EIO, "%s:%u: %s", r->s->file, st->line, tools_errmsg());
	a = json_object();
	json_object_set_new(a, "url", json_string(url));
	json_object_set_new(a, "path", json_string(to));
	if (st->git) {
		if (st->commit)
			json_object_set_new(a, "commit", json_string(st->commit));
	} else {
		json_object_set_new(a, "sha256", json_string(st->sha256));
	}
	args = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	infof(r, "%s %s", st->git ? "cloning" : "downloading", url);
	rc = tools_call(ctx, st->git ? "git_clone" : "download", args, &tr);
	free(args);
	if (rc < 0) {
		rc = skills_seterr(SKILLS_EFAIL, "%s:%u: %s failed: %s%s", r->s->file, st->line,
				   st->git ? "clone" : "download", tools_errmsg(),
				   rc == TOOLS_EDENIED ? " (declare the host in metadata.halo-network)" : "");
		tools_result_clear(&tr);
		tools_ctx_close(ctx);
		mark_failed(r->res, st);
		cutf(r->res->failed_command, sizeof(r->res->failed_command), "%s %s",
		     st->git ? "git clone" : "fetch", url);
		return rc;
	}
	tools_result_clear(&tr);
	tools_ctx_close(ctx);
	if (st->extract) {
		size_t nf = 0;
		char ex[1024];

		if ((rc = expand(r, st->extract, st->line, ex, sizeof(ex))) < 0)
			return rc;
		cutf(archive, sizeof(archive), "%s/%s", r->work, to);
		cutf(dest, sizeof(dest), "%s/%s", r->work, ex);
		if ((rc = files_mkdirs(dest, 0755)) < 0)
			return rc;
		rc = tools_extract(archive, dest, &nf);
		a = step_args(r, st);
		json_object_set_new(a, "extract", json_string(ex));
		log_call(r, "extract", a, NULL, rc < 0 ? 1 : 0, NULL, now_ms() - t0,
			 rc < 0 ? tools_errmsg() : NULL);
		json_decref(a);
		if (rc < 0) {
			mark_failed(r->res, st);
			cutf(r->res->failed_command, sizeof(r->res->failed_command),
			     "extract %s", to);
			return skills_seterr(SKILLS_EFAIL, "%s:%u: cannot unpack %s: %s", r->s->file,
					     st->line, to, tools_errmsg());
		}
		infof(r, "unpacked %zu entries into %s", nf, ex);
	}
	*status = 0;
	return 0;
}

/* ---- set-up ----------------------------------------------------------------------- */

static int resolve_prefix(const struct skills_skill *s, const struct skills_run_opts *o,
			  char *out, size_t cap)
{
	const char *p = o->prefix ? o->prefix : s->prefix;
	const char *home = getenv("HOME");

	if (p == NULL) {
		if (home == NULL || home[0] != '/')
			return skills_seterr(SKILLS_EPLAN, "HOME is not set: name a prefix with "
					     "--prefix DIR");
		snprintf(out, cap, "%s/.local", home);
	} else if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
		if (home == NULL)
			return skills_seterr(SKILLS_EPLAN, "HOME is not set: '%s' cannot be "
					     "expanded", p);
		snprintf(out, cap, "%s%s", home, p + 1);
	} else if (p[0] == '/') {
		snprintf(out, cap, "%s", p);
	} else {
		return skills_seterr(SKILLS_EPLAN, "the prefix '%s' must be an absolute path", p);
	}
	/* no trailing slash */
	for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
		out[n - 1] = '\0';
	return 0;
}

static bool reserved_var(const char *name)
{
	return strcmp(name, "PREFIX") == 0 || strcmp(name, "SKILL_DIR") == 0 ||
	       strcmp(name, "WORKSPACE") == 0;
}

static int runner_init(struct runner *r, const struct skills_skill *s,
		       const struct skills_run_opts *o, struct skills_result *res)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->s = s;
	r->o = o;
	r->res = res;
	if (snprintf(r->root, sizeof(r->root), "%s/skills/%s", o->data_dir, s->name) >=
	    (int)sizeof(r->root))
		return skills_seterr(SKILLS_EIO, "data dir path too long");
	cutf(r->skill_copy, sizeof(r->skill_copy), "%s/skill", r->root);
	cutf(r->work, sizeof(r->work), "%s/work", r->root);
	if ((rc = resolve_prefix(s, o, r->prefix, sizeof(r->prefix))) < 0)
		return rc;
	snprintf(res->prefix, sizeof(res->prefix), "%s", r->prefix);
	if ((rc = env_set(r, "PREFIX", r->prefix)) < 0 ||
	    (rc = env_set(r, "SKILL_DIR", r->skill_copy)) < 0 ||
	    (rc = env_set(r, "WORKSPACE", r->work)) < 0)
		return rc;
	for (size_t i = 0; i < s->n_vars; i++) {
		if (reserved_var(s->vars[i].key))
			return skills_seterr(SKILLS_EPLAN, "%s: metadata.halo-vars cannot set %s: "
					     "halo-agent sets PREFIX, SKILL_DIR and WORKSPACE itself "
					     "(the prefix: metadata.halo-prefix or --prefix)", s->file,
					     s->vars[i].key);
		if ((rc = env_set(r, s->vars[i].key, s->vars[i].value)) < 0)
			return rc;
	}
	for (size_t i = 0; i < o->n_set; i++) {
		if (reserved_var(o->set[i].key))
			return skills_seterr(SKILLS_EPLAN, "--set cannot change %s: halo-agent sets "
					     "PREFIX, SKILL_DIR and WORKSPACE itself (use --prefix DIR)",
					     o->set[i].key);
		if ((rc = env_set(r, o->set[i].key, o->set[i].value)) < 0)
			return rc;
	}
	return 0;
}

/* ---- phases -------------------------------------------------------------------------- */

static bool in_phase(const struct skills_plan_step *ps, enum skills_section sec)
{
	if (ps->verdict != SKILLS_RUN)
		return false;
	if (sec == SKILLS_SEC_INSTALL)
		return ps->step->section == SKILLS_SEC_INSTALL ||
		       ps->step->section == SKILLS_SEC_CONFIGURE;
	return ps->step->section == sec;
}

static size_t count_phase(const struct skills_plan *p, enum skills_section sec)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_steps; i++)
		n += in_phase(&p->steps[i], sec) && p->steps[i].step->kind != SKILLS_STEP_PACKAGES;
	return n;
}

/* Run the shell steps of Verify (or of Requirements).  Returns 0 when all
 * passed, 1 when one failed (res says which), <0 on errors. */
static int run_checks(struct runner *r, const struct skills_plan *p, enum skills_section sec,
		      const char *phase, bool stream)
{
	size_t k = 0;

	r->phase = phase;
	r->m = count_phase(p, sec);
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct skills_step *st = p->steps[i].step;
		struct tools_exec_result x = { 0 };
		int status = 0, rc;
		int64_t t0;

		if (!in_phase(&p->steps[i], sec) || st->kind != SKILLS_STEP_SHELL)
			continue;
		r->n = ++k;
		if (stream)
			emit(r, SKILLS_EV_STEP_BEGIN, st, st->script, 0, 0);
		t0 = now_ms();
		rc = run_script(r, st, st->script, stream, false, &status, &x);
		if (rc < 0) {
			tools_exec_result_clear(&x);
			return rc;
		}
		if (stream)
			emit(r, SKILLS_EV_STEP_END, st, NULL, status, now_ms() - t0);
		if (status != 0) {
			failed_command(r, st, &x);
			r->res->failed_status = status;
			tools_exec_result_clear(&x);
			return 1;
		}
		tools_exec_result_clear(&x);
	}
	return 0;
}

/* The manifest of a registry entry: {"document", "prefix", "files": [...]}. */
static char *manifest_json(const char *doc, const char *prefix, const struct snap *files)
{
	json_t *m = json_object(), *a = json_array();
	char *out;

	json_object_set_new(m, "document", json_string(doc));
	json_object_set_new(m, "prefix", json_string(prefix));
	for (size_t i = 0; i < files->n; i++) {
		const struct snap_ent *e = &files->v[i];
		json_t *o = json_object();
		char t[2] = { e->type, 0 };

		json_object_set_new(o, "path", json_string(e->path));
		json_object_set_new(o, "type", json_string(t));
		json_object_set_new(o, "size", json_integer(e->size));
		json_object_set_new(o, "mtime_ns", json_integer(e->mtime_ns));
		json_array_append_new(a, o);
	}
	json_object_set_new(m, "files", a);
	out = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(m);
	return out;
}

/* Read a manifest back into a snapshot (sorted). */
static int manifest_read(const char *json, struct snap *out, char *doc, size_t doccap,
			 char *prefix, size_t pcap)
{
	json_error_t e;
	json_t *m = json_loads(json ? json : "{}", 0, &e), *files;
	size_t i;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (m == NULL)
		return skills_seterr(SKILLS_ESTORE, "the registry's file list is damaged: %s", e.text);
	if (doc)
		snprintf(doc, doccap, "%s", json_string_value(json_object_get(m, "document")) ?
			 json_string_value(json_object_get(m, "document")) : "");
	if (prefix)
		snprintf(prefix, pcap, "%s", json_string_value(json_object_get(m, "prefix")) ?
			 json_string_value(json_object_get(m, "prefix")) : "");
	files = json_object_get(m, "files");
	json_array_foreach(files, i, v) {
		const char *path = json_string_value(json_object_get(v, "path"));
		const char *type = json_string_value(json_object_get(v, "type"));
		struct stat sb = { 0 };
		int64_t mt = json_integer_value(json_object_get(v, "mtime_ns"));

		if (path == NULL || type == NULL)
			continue;
		sb.st_mode = type[0] == 'd' ? S_IFDIR : type[0] == 'l' ? S_IFLNK : S_IFREG;
		sb.st_size = (off_t)json_integer_value(json_object_get(v, "size"));
		sb.st_mtim.tv_sec = mt / 1000000000;
		sb.st_mtim.tv_nsec = mt % 1000000000;
		if (snap_push_ent(out, path, &sb) < 0) {
			json_decref(m);
			snap_free(out);
			return SKILLS_EIO;
		}
	}
	json_decref(m);
	snap_sort(out);
	return 0;
}

/* Entries of `after` that are not in `before`. */
static int snap_added(const struct snap *before, const struct snap *after, struct snap *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < after->n; i++) {
		const struct snap_ent *e = &after->v[i];
		struct stat sb = { 0 };

		if (snap_find(before, e->path))
			continue;
		sb.st_mode = e->type == 'd' ? S_IFDIR : e->type == 'l' ? S_IFLNK : S_IFREG;
		sb.st_size = (off_t)e->size;
		sb.st_mtim.tv_sec = e->mtime_ns / 1000000000;
		sb.st_mtim.tv_nsec = e->mtime_ns % 1000000000;
		if (snap_push_ent(out, e->path, &sb) < 0) {
			snap_free(out);
			return SKILLS_EIO;
		}
	}
	return 0;
}

/* Merge b into a (both sorted); for a path in both, b's state wins. */
static int snap_merge(struct snap *a, const struct snap *b)
{
	size_t n_a = a->n;

	for (size_t i = 0; i < b->n; i++) {
		const struct snap_ent *e = &b->v[i];
		struct snap_ent *old = (struct snap_ent *)snap_find_n(a, n_a, e->path);
		struct stat sb = { 0 };

		if (old) {
			old->type = e->type;
			old->size = e->size;
			old->mtime_ns = e->mtime_ns;
			continue;
		}
		sb.st_mode = e->type == 'd' ? S_IFDIR : e->type == 'l' ? S_IFLNK : S_IFREG;
		sb.st_size = (off_t)e->size;
		sb.st_mtim.tv_sec = e->mtime_ns / 1000000000;
		sb.st_mtim.tv_nsec = e->mtime_ns % 1000000000;
		if (snap_push_ent(a, e->path, &sb) < 0)
			return SKILLS_EIO;
	}
	snap_sort(a);
	return 0;
}

/* Are all of a manifest's entries still there as recorded?  An empty
 * manifest proves nothing: false. */
static bool files_unchanged(const struct snap *m, const char *root)
{
	struct snap now;
	bool same = m->n > 0;

	if (!same || snap_take(root, &now) < 0)
		return false;
	for (size_t i = 0; i < m->n && same; i++) {
		const struct snap_ent *e = snap_find(&now, m->v[i].path);

		same = e && e->type == m->v[i].type &&
		       (e->type == 'd' || (e->size == m->v[i].size &&
					   e->mtime_ns == m->v[i].mtime_ns));
	}
	snap_free(&now);
	return same;
}

/* The manifest's entries as they are now: a file a later step rewrote
 * keeps its new size and time, one that is gone leaves the list. */
static void snap_refresh(struct snap *m, const char *root)
{
	struct snap now;
	size_t o = 0;

	if (snap_take(root, &now) < 0)
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct snap_ent *e = snap_find(&now, m->v[i].path);

		if (e == NULL) {
			free(m->v[i].path);
			continue;
		}
		m->v[i].type = e->type;
		m->v[i].size = e->size;
		m->v[i].mtime_ns = e->mtime_ns;
		m->v[o++] = m->v[i];
	}
	m->n = o;
	snap_free(&now);
}

/* Copy the skill (its folder, or just the document) to <root>/skill. */
static int copy_skill(struct runner *r)
{
	char tmp[PATH_MAX];
	int rc;

	if ((rc = files_mkdirs(r->root, 0755)) < 0)
		return rc;
	cutf(tmp, sizeof(tmp), "%s/skill.new", r->root);
	files_rm_tree(tmp);
	if (r->o->skill_dir) {
		if ((rc = files_copy_tree(r->o->skill_dir, tmp)) < 0)
			goto fail;
	} else {
		if (mkdir(tmp, 0755) < 0) {
			rc = skills_seterr(SKILLS_EIO, "cannot create %s: %s", tmp, strerror(errno));
			goto fail;
		}
	}
	/* the document itself, in any case (it may live outside the folder) */
	{
		char docpath[PATH_MAX];
		struct stat sb;

		cutf(docpath, sizeof(docpath), "%s/%s", tmp, doc_base(r->s->file));
		if (stat(docpath, &sb) < 0 && (rc = files_copy_one(r->s->file, tmp)) < 0)
			goto fail;
	}
	if ((rc = files_rm_tree(r->skill_copy)) < 0)
		goto fail;
	if (rename(tmp, r->skill_copy) < 0) {
		rc = skills_seterr(SKILLS_EIO, "cannot move %s into place: %s", tmp, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	files_rm_tree(tmp);
	return rc;
}

static int register_skill(struct runner *r, enum store_skill_status status,
			  const struct snap *files)
{
	struct store_skill sk = { 0 };
	char *man = manifest_json(doc_base(r->s->file), r->prefix, files);
	int rc;

	sk.name = (char *)r->s->name;
	sk.version = (char *)(r->s->version ? r->s->version : "");
	sk.source = (char *)(r->o->source ? r->o->source : r->s->file);
	sk.content_hash = (char *)r->s->sha256;
	sk.status = status;
	sk.installed_at = now_ms() / 1000;
	sk.manifest = man;
	rc = store_skill_put(r->o->store, &sk);
	free(man);
	if (rc < 0)
		return skills_seterr(SKILLS_ESTORE, "the registry: %s", store_errmsg());
	return 0;
}

static int begin_run(struct runner *r, const char *kind)
{
	if (store_run_begin(r->o->store, kind, r->s->name, &r->run_id) < 0)
		return skills_seterr(SKILLS_ESTORE, "the transcript: %s", store_errmsg());
	r->res->run_id = r->run_id;
	return 0;
}

static void end_run(struct runner *r, int status)
{
	if (r->run_id && store_run_end(r->o->store, r->run_id, status) < 0)
		infof(r, "warning: the transcript could not be closed: %s", store_errmsg());
}

/* ---- install ------------------------------------------------------------------------ */

static int install_steps(struct runner *r, const struct skills_plan *p, struct snap *created)
{
	size_t k = 0;
	int rc = 0;

	r->phase = "install";
	r->m = count_phase(p, SKILLS_SEC_INSTALL);
	for (size_t i = 0; i < p->n_steps && rc == 0; i++) {
		const struct skills_step *st = p->steps[i].step;
		struct snap before, after, added;
		struct tools_exec_result x = { 0 };
		int status = 0;
		int64_t t0;

		if (!in_phase(&p->steps[i], SKILLS_SEC_INSTALL) || st->kind == SKILLS_STEP_PACKAGES)
			continue;
		r->n = ++k;
		if (st->creates) {
			char path[PATH_MAX];
			struct stat sb;

			if ((rc = expand(r, st->creates, st->line, path, sizeof(path))) < 0)
				break;
			if (stat(path, &sb) == 0) {
				char msg[PATH_MAX + 64];

				snprintf(msg, sizeof(msg), "already done: %s exists", path);
				emit(r, SKILLS_EV_SKIP, st, msg, 0, 0);
				r->res->n_skipped++;
				continue;
			}
		}
		if (st->unless) {
			rc = run_script(r, st, st->unless, false, false, &status, &x);
			tools_exec_result_clear(&x);
			if (rc < 0)
				break;
			if (status == 0) {
				emit(r, SKILLS_EV_SKIP, st, "already done: its 'unless' check passes",
				     0, 0);
				r->res->n_skipped++;
				continue;
			}
		}
		if ((rc = snap_take(r->prefix, &before)) < 0)
			break;
		emit(r, SKILLS_EV_STEP_BEGIN, st, st->kind != SKILLS_STEP_FETCH ? st->script :
		     st->git ? st->git : st->url, 0, 0);
		t0 = now_ms();
		if (st->kind == SKILLS_STEP_FETCH) {
			rc = run_fetch(r, st, &status);
		} else {
			rc = run_script(r, st, st->script, true, true, &status, &x);
			if (rc == 0 && status != 0) {
				failed_command(r, st, &x);
				r->res->failed_status = status;
			}
		}
		emit(r, SKILLS_EV_STEP_END, st, NULL, rc < 0 ? -1 : status, now_ms() - t0);
		tools_exec_result_clear(&x);
		/* what the step added is its own; a failed step's is removed */
		if (snap_take(r->prefix, &after) == 0 && snap_added(&before, &after, &added) == 0) {
			if (rc < 0 || status != 0) {
				size_t removed, kept;

				files_remove(r->prefix, added.v, added.n, false, &removed, &kept,
					     NULL, NULL);
				if (removed)
					infof(r, "removed the %zu entries the failed step had created "
					      "under %s", removed, r->prefix);
			} else {
				snap_merge(created, &added);
			}
			snap_free(&added);
		}
		snap_free(&after);
		snap_free(&before);
		if (rc == 0 && status == 124 && r->res->failed_command[0] == '\0')
			rc = skills_seterr(SKILLS_EFAIL, "%s:%u: step %zu of %zu timed out after %llu s "
					   "(--timeout)", r->s->file, st->line, k, r->m,
					   (unsigned long long)((r->o->timeout_ms ? r->o->timeout_ms :
								 600000) / 1000));
		else if (rc == 0 && status != 0)
			rc = skills_seterr(SKILLS_EFAIL, "%s:%u: step %zu of %zu failed (exit %d)%s%s",
					   r->s->file, r->res->failed_line, k, r->m, status,
					   r->res->failed_command[0] ? ": " : "",
					   r->res->failed_command);
		if (rc == 0)
			r->res->n_ran++;
	}
	return rc;
}

int skills_install(const struct skills_skill *s, const struct skills_plan *p,
		   const struct skills_facts *f, const struct skills_run_opts *o,
		   struct skills_result *res)
{
	struct runner r;
	struct store_skill prev = { 0 };
	struct snap created = { 0 };
	bool have_prev = false;
	int rc, chk;

	(void)f;
	memset(res, 0, sizeof(*res));
	if (p->problem[0])
		return skills_seterr(SKILLS_EPLAN, "%s", p->problem);
	if ((rc = runner_init(&r, s, o, res)) < 0)
		return rc;
	if (o->dry_run)
		return 0;
	if (store_skill_get(o->store, s->name, &prev) == 0) {
		char prev_prefix[PATH_MAX] = "";

		have_prev = true;
		if (prev.status == STORE_SKILL_INSTALLED || prev.status == STORE_SKILL_FAILED)
			manifest_read(prev.manifest, &created, NULL, 0, prev_prefix,
				      sizeof(prev_prefix));
		/* one skill, one prefix: the registry could not undo two */
		if (prev_prefix[0] && strcmp(prev_prefix, r.prefix) != 0) {
			rc = skills_seterr(SKILLS_EPLAN, "%s is installed under %s; remove it first "
					   "(halo-agent skills remove %s) or install into that "
					   "prefix again", s->name, prev_prefix, s->name);
			snap_free(&created);
			store_skill_clear(&prev);
			return rc;
		}
	}
	if ((rc = begin_run(&r, "install")) < 0)
		goto out;
	if ((rc = files_mkdirs(r.prefix, 0755)) < 0 || (rc = copy_skill(&r)) < 0)
		goto out;
	files_rm_tree(r.work);
	if ((rc = files_mkdirs(r.work, 0755)) < 0)
		goto out;

	/* requirements */
	if ((chk = run_checks(&r, p, SKILLS_SEC_REQUIREMENTS, "check", true)) != 0) {
		rc = chk < 0 ? chk : skills_seterr(SKILLS_EPLAN, "%s:%u: a requirement is not met "
						   "(exit %d)%s%s", s->file, res->failed_line,
						   res->failed_status,
						   res->failed_command[0] ? ": " : "",
						   res->failed_command);
		goto out;
	}
	/* already installed?  Only for a skill not installed from another document */
	if (!o->force && p->n_verify &&
	    (!have_prev || strcmp(prev.content_hash, s->sha256) == 0)) {
		struct skills_result probe = *res;

		r.res = &probe;
		chk = run_checks(&r, p, SKILLS_SEC_VERIFY, "verify", false);
		r.res = res;
		if (chk < 0) {
			rc = chk;
			goto out;
		}
		if (chk == 0) {
			res->already = true;
			res->verified = true;
			infof(&r, "already installed: the Verify section passes (--force runs the "
			      "install steps anyway)");
			res->n_files = created.n;
			rc = register_skill(&r, STORE_SKILL_INSTALLED, &created);
			goto out;
		}
	}
	/* no Verify section: the same document, installed, with its files as
	 * it left them, is installed */
	if (!o->force && p->n_verify == 0 && have_prev && prev.status == STORE_SKILL_INSTALLED &&
	    strcmp(prev.content_hash, s->sha256) == 0 && files_unchanged(&created, r.prefix)) {
		res->already = true;
		infof(&r, "already installed: same document, and the %zu files it created are "
		      "unchanged (--force runs the install steps anyway)", created.n);
		res->n_files = created.n;
		rc = register_skill(&r, STORE_SKILL_INSTALLED, &created);
		goto out;
	}
	rc = install_steps(&r, p, &created);
	snap_refresh(&created, r.prefix);
	res->n_files = created.n;
	if (rc < 0) {
		/* a refusal before anything ran leaves the registry as it was */
		if (!(rc == SKILLS_EDENIED && res->n_ran == 0))
			register_skill(&r, STORE_SKILL_FAILED, &created);
		goto out;
	}
	/* verify */
	chk = run_checks(&r, p, SKILLS_SEC_VERIFY, "verify", true);
	if (chk < 0) {
		rc = chk;
	} else if (chk == 1) {
		rc = skills_seterr(SKILLS_EFAIL, "%s:%u: verify failed (exit %d)%s%s", s->file,
				   res->failed_line, res->failed_status,
				   res->failed_command[0] ? ": " : "", res->failed_command);
	} else {
		res->verified = p->n_verify > 0;
	}
	{
		int rr = register_skill(&r, rc < 0 ? STORE_SKILL_FAILED : STORE_SKILL_INSTALLED,
					&created);

		if (rc == 0)
			rc = rr;
	}
out:
	end_run(&r, rc < 0 ? 1 : 0);
	snap_free(&created);
	if (have_prev)
		store_skill_clear(&prev);
	return rc;
}

/* ---- verify and remove an installed skill ------------------------------------------ */

struct installed {
	struct store_skill reg;
	struct skills_skill skill;
	struct skills_plan plan;
	struct snap files;
	char doc[PATH_MAX];
	char prefix[PATH_MAX];
	bool parsed;
};

static int load_installed(const char *name, const struct skills_facts *f,
			  const struct skills_run_opts *o, struct installed *in)
{
	char path[PATH_MAX];
	int rc;

	memset(in, 0, sizeof(*in));
	rc = store_skill_get(o->store, name, &in->reg);
	if (rc == STORE_ENOTFOUND)
		return skills_seterr(SKILLS_ENOTFOUND, "no skill named '%s' is installed (see "
				     "'halo-agent skills list')", name);
	if (rc < 0)
		return skills_seterr(SKILLS_ESTORE, "the registry: %s", store_errmsg());
	if ((rc = manifest_read(in->reg.manifest, &in->files, in->doc, sizeof(in->doc),
				in->prefix, sizeof(in->prefix))) < 0)
		return rc;
	if (snprintf(path, sizeof(path), "%s/skills/%s/skill/%s", o->data_dir, name, in->doc) >=
	    (int)sizeof(path))
		return skills_seterr(SKILLS_EIO, "path too long");
	if (in->doc[0] && access(path, R_OK) == 0) {
		if ((rc = skills_parse_path(&in->skill, path)) < 0)
			return rc;
		in->parsed = true;
		if ((rc = skills_plan_make(&in->plan, &in->skill, f)) < 0)
			return rc;
	}
	return 0;
}

static void installed_free(struct installed *in)
{
	skills_plan_free(&in->plan);
	if (in->parsed)
		skills_skill_free(&in->skill);
	snap_free(&in->files);
	store_skill_clear(&in->reg);
}

int skills_verify(const char *name, const struct skills_facts *f,
		  const struct skills_run_opts *o, struct skills_result *res)
{
	struct installed in;
	struct skills_run_opts o2 = *o;
	struct runner r;
	int rc, chk;

	memset(res, 0, sizeof(*res));
	if ((rc = load_installed(name, f, o, &in)) < 0)
		goto out;
	if (!in.parsed) {
		rc = skills_seterr(SKILLS_ENOTFOUND, "the copy of '%s' is missing from %s/skills/%s "
				   "(reinstall it)", name, o->data_dir, name);
		goto out;
	}
	if (in.plan.n_verify == 0) {
		rc = skills_seterr(SKILLS_EPLAN, "%s has no Verify section to run", in.skill.file);
		goto out;
	}
	o2.prefix = in.prefix[0] ? in.prefix : o->prefix;
	if ((rc = runner_init(&r, &in.skill, &o2, res)) < 0 || (rc = begin_run(&r, "verify")) < 0)
		goto out;
	if ((rc = files_mkdirs(r.work, 0755)) < 0) {
		end_run(&r, 1);
		goto out;
	}
	chk = run_checks(&r, &in.plan, SKILLS_SEC_VERIFY, "verify", true);
	if (chk < 0)
		rc = chk;
	else if (chk == 1)
		rc = skills_seterr(SKILLS_EFAIL, "%s:%u: verify failed (exit %d)%s%s", in.skill.file,
				   res->failed_line, res->failed_status,
				   res->failed_command[0] ? ": " : "", res->failed_command);
	res->verified = rc == 0;
	end_run(&r, rc < 0 ? 1 : 0);
	/* the registry follows the truth */
	if (rc == 0 || rc == SKILLS_EFAIL) {
		in.reg.status = rc == 0 ? STORE_SKILL_INSTALLED : STORE_SKILL_FAILED;
		if (store_skill_put(o->store, &in.reg) < 0 && rc == 0)
			rc = skills_seterr(SKILLS_ESTORE, "the registry: %s", store_errmsg());
	}
out:
	installed_free(&in);
	return rc;
}

int skills_remove(const char *name, const struct skills_facts *f,
		  const struct skills_run_opts *o, struct skills_result *res)
{
	struct installed in;
	struct skills_run_opts o2 = *o;
	struct runner r;
	char root[PATH_MAX];
	int rc = 0;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	if ((rc = load_installed(name, f, o, &in)) < 0)
		goto out;
	o2.prefix = in.prefix[0] ? in.prefix : o->prefix;
	if (in.parsed && in.plan.n_uninstall > 0) {
		size_t k = 0;

		if ((rc = runner_init(&r, &in.skill, &o2, res)) < 0 ||
		    (rc = begin_run(&r, "remove")) < 0)
			goto out;
		files_mkdirs(r.work, 0755);
		r.phase = "uninstall";
		r.m = in.plan.n_uninstall;
		for (size_t i = 0; i < in.plan.n_steps && rc == 0; i++) {
			const struct skills_step *st = in.plan.steps[i].step;
			struct tools_exec_result x = { 0 };
			int status = 0;
			int64_t t0 = now_ms();

			if (!in.plan.steps[i].deferred || st->kind != SKILLS_STEP_SHELL)
				continue;
			r.n = ++k;
			emit(&r, SKILLS_EV_STEP_BEGIN, st, st->script, 0, 0);
			rc = run_script(&r, st, st->script, true, true, &status, &x);
			emit(&r, SKILLS_EV_STEP_END, st, NULL, rc < 0 ? -1 : status, now_ms() - t0);
			if (rc == 0 && status != 0) {
				failed_command(&r, st, &x);
				res->failed_status = status;
				rc = skills_seterr(SKILLS_EFAIL, "%s:%u: uninstall step %zu failed "
						   "(exit %d)%s%s", in.skill.file, res->failed_line, k,
						   status, res->failed_command[0] ? ": " : "",
						   res->failed_command);
			}
			tools_exec_result_clear(&x);
			res->n_ran += rc == 0;
		}
		end_run(&r, rc < 0 ? 1 : 0);
		if (rc < 0)
			goto out;
	} else {
		size_t removed = 0, kept = 0;

		if (in.prefix[0] == '\0') {
			rc = skills_seterr(SKILLS_ESTORE, "the registry has no prefix for '%s'", name);
			goto out;
		}
		r.o = o;
		r.res = res;
		if ((rc = files_remove(in.prefix, in.files.v, in.files.n, true, &removed, &kept,
				       note_cb, &r)) < 0)
			goto out;
		res->n_files = removed;
		snprintf(res->prefix, sizeof(res->prefix), "%s", in.prefix);
		if (kept)
			infof(&r, "%zu changed file(s) kept", kept);
	}
	if (store_skill_delete(o->store, name) < 0) {
		rc = skills_seterr(SKILLS_ESTORE, "the registry: %s", store_errmsg());
		goto out;
	}
	snprintf(root, sizeof(root), "%s/skills/%s", o->data_dir, name);
	files_rm_tree(root);
out:
	installed_free(&in);
	return rc;
}
