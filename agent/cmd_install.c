/* cmd_install.c - `halo-agent install` and `halo-agent skills`: the
 * terminal side of libhalo_skills (progress, questions, reports).
 *
 * Step output is streamed to stderr (stdout stays for --json); -q keeps
 * only errors.  Without --yes (or sandbox.approval: auto) each step is
 * shown and asked on the terminal; with no terminal it is refused. */
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "skills.h"
#include "store.h"
#include "tools.h"

enum {
	OPT_PREFIX = 1000, OPT_SET, OPT_FORCE, OPT_TIMEOUT,
};

#define MAX_SET 32

struct ui {
	const struct app *app;
	bool at_line_start;
};

/* Each line of text on f, after a lead. */
static void print_lines(FILE *f, const char *lead, const char *text)
{
	for (const char *p = text; *p; ) {
		size_t n = strcspn(p, "\n");

		fprintf(f, "%s%.*s\n", lead, (int)n, p);
		p += n;
		if (*p)
			p++;
	}
}

static void on_event(void *ud, const struct skills_event *ev)
{
	struct ui *ui = ud;

	if (ui->app->quiet)
		return;
	switch (ev->kind) {
	case SKILLS_EV_STEP_BEGIN:
		fprintf(stderr, "[%zu/%zu] %s  %s:%u%s%s\n", ev->n, ev->m, ev->phase,
			ev->file ? ev->file : "", ev->step ? ev->step->line : 0,
			ev->step && ev->step->heading[0] ? "  " : "",
			ev->step ? ev->step->heading : "");
		if (ev->step && ev->step->kind == SKILLS_STEP_FETCH) {
			fprintf(stderr, "  %s %s\n", ev->step->git ? "git clone" : "fetch", ev->text);
		} else if (ev->text) {
			print_lines(stderr, "  $ ", ev->text);
		}
		ui->at_line_start = true;
		break;
	case SKILLS_EV_OUTPUT:
		fwrite(ev->text, 1, ev->len, stderr);
		if (ev->len)
			ui->at_line_start = ev->text[ev->len - 1] == '\n';
		break;
	case SKILLS_EV_STEP_END:
		if (!ui->at_line_start)
			fputc('\n', stderr);
		if (ev->status == 0)
			fprintf(stderr, "  ok (%.1f s)\n", (double)ev->elapsed_ms / 1000.0);
		else
			fprintf(stderr, "  FAILED (exit %d, %.1f s)\n", ev->status,
				(double)ev->elapsed_ms / 1000.0);
		ui->at_line_start = true;
		break;
	case SKILLS_EV_SKIP:
		fprintf(stderr, "[%zu/%zu] %s  %s:%u  skipped: %s\n", ev->n, ev->m, ev->phase,
			ev->file ? ev->file : "", ev->step ? ev->step->line : 0, ev->text);
		break;
	case SKILLS_EV_INFO:
		fprintf(stderr, "halo-agent: %s\n", ev->text);
		break;
	}
	fflush(stderr);
}

static skills_answer ask_tty(void *ud, const struct skills_step *st, const char *script,
			     const char *policy)
{
	char where[64];

	(void)ud;
	snprintf(where, sizeof(where), "step at line %u", st->line);
	switch (tools_ask_tty(NULL, where, script, policy)) {
	case TOOLS_ANSWER_YES:
		return SKILLS_ANSWER_YES;
	case TOOLS_ANSWER_ALWAYS:
		return SKILLS_ANSWER_ALWAYS;
	default:
		return SKILLS_ANSWER_NO;
	}
}

static int open_store(struct app *app, struct store **st)
{
	if (store_open(st, app->data_dir, NULL) < 0)
		return cli_fail("%s", store_errmsg());
	return 0;
}

static const char *verdict_word(enum skills_verdict v)
{
	switch (v) {
	case SKILLS_RUN: return "run";
	case SKILLS_SKIP: return "skip";
	case SKILLS_SATISFIED: return "ok";
	case SKILLS_MISSING: return "MISSING";
	}
	return "?";
}

static void print_plan(const struct skills_plan *p, const struct skills_facts *f,
		       const char *prefix)
{
	const struct skills_skill *s = p->skill;

	printf("plan for %s%s%s (%s) on %s %s %s (%s)\n", s->name, s->version ? " " : "",
	       s->version ? s->version : "", s->file, f->distro[0] ? f->distro : f->os,
	       f->version, f->arch, f->pms[0] ? f->pms : "no package manager");
	printf("prefix: %s\n", prefix);
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct skills_plan_step *ps = &p->steps[i];
		const struct skills_step *st = ps->step;

		printf("  %3zu  line %-4u %-12s %-8s %-7s %s\n", i + 1, st->line,
		       skills_section_name(st->section), skills_step_kind_name(st->kind),
		       verdict_word(ps->verdict), ps->reason);
		if (ps->verdict == SKILLS_RUN && st->kind == SKILLS_STEP_SHELL) {
			print_lines(stdout, "          $ ", st->script);
		} else if (ps->verdict == SKILLS_RUN && st->kind == SKILLS_STEP_FETCH && st->git) {
			printf("          git clone %s%s%s into %s\n", st->git,
			       st->commit ? " at " : "", st->commit ? st->commit : "", st->to);
		} else if (ps->verdict == SKILLS_RUN && st->kind == SKILLS_STEP_FETCH) {
			printf("          fetch %s (sha256 %.12s...) as %s%s%s\n", st->url,
			       st->sha256, st->to, st->extract ? ", unpacked into " : "",
			       st->extract ? st->extract : "");
		}
		if (st->creates)
			printf("          skipped when %s exists\n", st->creates);
		if (st->unless)
			printf("          skipped when this succeeds: %s\n", st->unless);
	}
	for (size_t i = 0; i < s->n_warnings; i++)
		printf("warning: %s\n", s->warnings[i]);
	if (p->problem[0])
		printf("cannot install here: %s\n", p->problem);
	else
		printf("%zu install step(s) would run, then %zu verify step(s); nothing was "
		       "changed (--dry-run)\n", p->n_run, p->n_verify);
}

static void print_failure(const struct app *app, const struct skills_result *res)
{
	if (app->quiet || !res->failed)
		return;
	if (res->stderr_tail[0]) {
		fprintf(stderr, "  the end of its error output:\n");
		print_lines(stderr, "    | ", res->stderr_tail);
	}
	if (res->failed_note[0])
		fprintf(stderr, "  the skill says about this step: %s\n", res->failed_note);
}

static json_t *result_json(const struct skills_skill *s, const struct skills_result *res,
			   int rc)
{
	json_t *o = json_object();

	if (s) {
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "version", s->version ? json_string(s->version) : json_null());
	}
	json_object_set_new(o, "ok", json_boolean(rc == 0));
	json_object_set_new(o, "error", rc == 0 ? json_null() : json_string(skills_errmsg()));
	json_object_set_new(o, "run_id", json_integer(res->run_id));
	json_object_set_new(o, "prefix", json_string(res->prefix));
	json_object_set_new(o, "steps_run", json_integer((json_int_t)res->n_ran));
	json_object_set_new(o, "steps_skipped", json_integer((json_int_t)res->n_skipped));
	json_object_set_new(o, "already_installed", json_boolean(res->already));
	json_object_set_new(o, "verified", json_boolean(res->verified));
	json_object_set_new(o, "files", json_integer((json_int_t)res->n_files));
	if (res->failed) {
		json_object_set_new(o, "failed_line", json_integer(res->failed_line));
		json_object_set_new(o, "failed_command", json_string(res->failed_command));
		json_object_set_new(o, "failed_status", json_integer(res->failed_status));
		json_object_set_new(o, "stderr_tail", json_string(res->stderr_tail));
	}
	return o;
}

static void print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
}

static bool approve_all(const struct app *app, bool yes)
{
	return yes || (app->cfg.sandbox_approval && strcmp(app->cfg.sandbox_approval, "auto") == 0);
}

static void run_opts_init(struct skills_run_opts *o, struct app *app, struct store *st,
			  struct ui *ui, bool yes)
{
	*o = (struct skills_run_opts)SKILLS_RUN_OPTS_INIT;
	o->data_dir = app->data_dir;
	o->store = st;
	o->auto_approve = approve_all(app, yes);
	o->ask = NULL;
	if (!(app->cfg.sandbox_approval && strcmp(app->cfg.sandbox_approval, "deny") == 0)) {
		/* no terminal to ask on: every step is refused, with the hint */
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

		if (fd >= 0) {
			close(fd);
			o->ask = ask_tty;
		}
	}
	o->on_event = on_event;
	o->ud = ui;
	o->timeout_ms = (app->cfg.sandbox_timeout ? app->cfg.sandbox_timeout : 600) * 1000;
	o->memory = app->cfg.sandbox_memory;
}

int cmd_install(struct app *app, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "set", required_argument, NULL, OPT_SET },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct skills_kv set[MAX_SET];
	size_t n_set = 0;
	bool dry = false, yes = false, force = false;
	const char *prefix = NULL;
	unsigned long long timeout_s = 0;
	struct skills_skill skill;
	struct skills_plan plan = { 0 };
	struct skills_facts facts;
	struct skills_run_opts o;
	struct skills_result res;
	struct store *st = NULL;
	struct ui ui = { .app = app, .at_line_start = true };
	char *doc = NULL, *dir = NULL, prefix_abs[PATH_MAX];
	int opt, rc, status = EXIT_FAIL;

	while ((opt = cli_getopt(argc, argv, "+ny", opts)) != -1) {
		switch (opt) {
		case 'n':
			dry = true;
			break;
		case 'y':
			yes = true;
			break;
		case OPT_PREFIX:
			prefix = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case OPT_SET: {
			char *eq = strchr(optarg, '=');

			if (eq == NULL || eq == optarg || n_set >= MAX_SET)
				return cli_usage_error(argv[0], "--set wants NAME=VALUE (at most %d)",
						       MAX_SET);
			*eq = '\0';
			set[n_set].key = optarg;
			set[n_set].value = eq + 1;
			n_set++;
			break;
		}
		case OPT_TIMEOUT:
			if (!cli_parse_timeout(argv[0], optarg, &timeout_s))
				return EXIT_USAGE;
			break;
		default:
			return cli_help_or_usage(argv[0], opt);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(argv[0], optind >= argc ? "name a skill: a file, a folder, "
				       "a git URL or the URL of a document" :
				       "one skill at a time");
	if (prefix && prefix[0] != '/') {
		if (prefix[0] == '~' || realpath(".", prefix_abs) == NULL)
			return cli_usage_error(argv[0], "--prefix must be an absolute path");
		if (strlen(prefix_abs) + strlen(prefix) + 2 > sizeof(prefix_abs))
			return cli_usage_error(argv[0], "--prefix is too long");
		strcat(prefix_abs, "/");
		strcat(prefix_abs, prefix);
		prefix = prefix_abs;
	}

	if (skills_fetch_source(argv[optind], app->data_dir, &doc, &dir) < 0)
		return cli_fail("%s", skills_errmsg());
	if (skills_parse_path(&skill, doc) < 0) {
		cli_fail("%s", skills_errmsg());
		goto out_src;
	}
	skills_facts_detect(&facts);
	if (skills_plan_make(&plan, &skill, &facts) < 0) {
		cli_fail("%s", skills_errmsg());
		goto out_skill;
	}
	if (dry) {
		/* nothing is written: not even the database */
		struct skills_result r0;
		struct skills_run_opts od = SKILLS_RUN_OPTS_INIT;

		memset(&r0, 0, sizeof(r0));
		od.data_dir = app->data_dir;
		od.prefix = prefix;
		od.dry_run = true;
		if (!plan.problem[0] && skills_install(&skill, &plan, &facts, &od, &r0) < 0) {
			cli_fail("%s", skills_errmsg());
			goto out_plan;
		}
		if (app->json) {
			char *js = skills_plan_json(&plan, &facts);
			json_t *o2 = js ? json_loads(js, 0, NULL) : NULL;

			free(js);
			if (o2 == NULL) {
				cli_fail("out of memory");
				goto out_plan;
			}
			json_object_set_new(o2, "prefix", json_string(r0.prefix));
			json_object_set_new(o2, "dry_run", json_true());
			print_json(o2);
		} else {
			print_plan(&plan, &facts, r0.prefix[0] ? r0.prefix : "(see --prefix)");
		}
		status = plan.problem[0] ? EXIT_FAIL : EXIT_OK;
		goto out_plan;
	}
	if (!app->quiet)
		for (size_t i = 0; i < skill.n_warnings; i++)
			fprintf(stderr, "halo-agent: warning: %s\n", skill.warnings[i]);
	if (plan.problem[0]) {
		cli_fail("cannot install %s here: %s", skill.name, plan.problem);
		goto out_plan;
	}
	if ((rc = open_store(app, &st)) != 0)
		goto out_plan;
	run_opts_init(&o, app, st, &ui, yes);
	o.prefix = prefix;
	o.source = argv[optind];
	o.skill_dir = dir;
	o.set = set;
	o.n_set = n_set;
	o.force = force;
	if (timeout_s)
		o.timeout_ms = timeout_s * 1000;
	if (!app->quiet)
		fprintf(stderr, "halo-agent: installing %s%s%s from %s: %zu step(s), then %zu "
			"verify step(s)\n", skill.name, skill.version ? " " : "",
			skill.version ? skill.version : "", argv[optind], plan.n_run, plan.n_verify);
	rc = skills_install(&skill, &plan, &facts, &o, &res);
	if (app->json)
		print_json(result_json(&skill, &res, rc));
	if (rc < 0) {
		cli_fail("%s", skills_errmsg());
		print_failure(app, &res);
		if (!app->quiet && res.run_id && res.failed &&
		    res.failed_section == SKILLS_SEC_VERIFY)
			fprintf(stderr, "  the install steps ran; once the cause is fixed, check "
				"again with: halo-agent skills verify %s\n  the full transcript: "
				"halo-agent runs show %lld\n", skill.name, (long long)res.run_id);
		else if (!app->quiet && res.run_id)
			fprintf(stderr, "  the prefix is as the last good step left it; the full "
				"transcript: halo-agent runs show %lld\n", (long long)res.run_id);
	} else {
		status = EXIT_OK;
		if (!app->quiet)
			fprintf(stderr, "halo-agent: %s %s: %s, %zu file(s) under %s%s (transcript: "
				"halo-agent runs show %lld)\n", skill.name,
				res.already ? "was already installed" : "installed",
				res.verified ? "verified" : "no Verify section", res.n_files,
				res.prefix, "", (long long)res.run_id);
	}
	store_close(st);
out_plan:
	skills_plan_free(&plan);
out_skill:
	skills_skill_free(&skill);
out_src:
	skills_discard_source(dir, app->data_dir);
	free(doc);
	free(dir);
	return status;
}

/* ---- skills list | show | verify | remove ------------------------------------ */

static int skills_list_cmd(struct app *app, struct store *st)
{
	struct store_skill *v = NULL;
	size_t n = 0;

	if (store_skill_list(st, &v, &n) < 0)
		return cli_fail("%s", store_errmsg());
	if (app->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "name", json_string(v[i].name));
			json_object_set_new(o, "version", json_string(v[i].version));
			json_object_set_new(o, "status", json_string(store_skill_status_name(v[i].status)));
			json_object_set_new(o, "installed_at", json_integer(v[i].installed_at));
			json_object_set_new(o, "source", json_string(v[i].source));
			json_array_append_new(a, o);
		}
		print_json(a);
	} else if (n == 0) {
		printf("no skills installed (install one: halo-agent install SKILL.md)\n");
	} else {
		printf("%-24s %-10s %-10s %-20s %s\n", "NAME", "VERSION", "STATUS", "INSTALLED",
		       "SOURCE");
		for (size_t i = 0; i < n; i++) {
			char when[32];
			time_t t = (time_t)v[i].installed_at;
			struct tm tm;

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
			printf("%-24s %-10s %-10s %-20s %s\n", v[i].name,
			       v[i].version[0] ? v[i].version : "-",
			       store_skill_status_name(v[i].status), when, v[i].source);
		}
	}
	store_skills_free(v, n);
	return EXIT_OK;
}

static int skills_show_cmd(struct app *app, struct store *st, const char *name)
{
	struct store_skill s;
	json_t *man;
	int rc = store_skill_get(st, name, &s);

	if (rc == STORE_ENOTFOUND)
		return cli_fail("no skill named '%s' is installed (see 'halo-agent skills list')",
				name);
	if (rc < 0)
		return cli_fail("%s", store_errmsg());
	man = json_loads(s.manifest, 0, NULL);
	if (app->json) {
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(s.name));
		json_object_set_new(o, "version", json_string(s.version));
		json_object_set_new(o, "status", json_string(store_skill_status_name(s.status)));
		json_object_set_new(o, "installed_at", json_integer(s.installed_at));
		json_object_set_new(o, "source", json_string(s.source));
		json_object_set_new(o, "sha256", json_string(s.content_hash));
		json_object_set_new(o, "manifest", man ? json_incref(man) : json_null());
		print_json(o);
	} else {
		json_t *files = json_object_get(man, "files"), *f;
		size_t i;

		printf("name:     %s\nversion:  %s\nstatus:   %s\nsource:   %s\nsha256:   %s\n",
		       s.name, s.version[0] ? s.version : "-", store_skill_status_name(s.status),
		       s.source, s.content_hash);
		printf("prefix:   %s\ncopy:     %s/skills/%s/skill/%s\n",
		       json_string_value(json_object_get(man, "prefix")) ?
		       json_string_value(json_object_get(man, "prefix")) : "?", app->data_dir,
		       s.name, json_string_value(json_object_get(man, "document")) ?
		       json_string_value(json_object_get(man, "document")) : "");
		printf("files created under the prefix: %zu\n", json_array_size(files));
		json_array_foreach(files, i, f)
			printf("  %s%s\n", json_string_value(json_object_get(f, "path")),
			       strcmp(json_string_value(json_object_get(f, "type")) ?
				      json_string_value(json_object_get(f, "type")) : "", "d") == 0 ?
			       "/" : "");
	}
	json_decref(man);
	store_skill_clear(&s);
	return EXIT_OK;
}

int cmd_skills(struct app *app, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const subs[] = { "list", "show", "verify", "remove", NULL };
	struct store *st = NULL;
	struct skills_facts facts;
	struct skills_run_opts o;
	struct skills_result res;
	struct ui ui = { .app = app, .at_line_start = true };
	const char *sub = "list", *name = NULL;
	bool yes = false;
	int opt, rc, status = EXIT_FAIL;

	while ((opt = cli_getopt(argc, argv, "y", opts)) != -1) {
		if (opt == 'y')
			yes = true;
		else
			return cli_help_or_usage(argv[0], opt);
	}
	if (optind < argc)
		sub = argv[optind++];
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected '%s'", argv[optind]);
	{
		bool known = false;

		for (const char *const *s = subs; *s; s++)
			known |= strcmp(*s, sub) == 0;
		if (!known) {
			const char *sug = cli_suggest(sub, subs);

			return cli_usage_error(argv[0], "unknown subcommand '%s'%s%s%s", sub,
					       sug ? " (did you mean '" : "", sug ? sug : "",
					       sug ? "'?)" : "");
		}
	}
	if (strcmp(sub, "list") != 0 && name == NULL)
		return cli_usage_error(argv[0], "'%s' needs the name of a skill", sub);
	if (strcmp(sub, "list") == 0 && name)
		return cli_usage_error(argv[0], "'list' takes no name");
	if ((rc = open_store(app, &st)) != 0)
		return rc;
	if (strcmp(sub, "list") == 0) {
		status = skills_list_cmd(app, st);
		goto out;
	}
	if (strcmp(sub, "show") == 0) {
		status = skills_show_cmd(app, st, name);
		goto out;
	}
	skills_facts_detect(&facts);
	run_opts_init(&o, app, st, &ui, yes);
	rc = strcmp(sub, "verify") == 0 ? skills_verify(name, &facts, &o, &res) :
					  skills_remove(name, &facts, &o, &res);
	if (app->json)
		print_json(result_json(NULL, &res, rc));
	if (rc < 0) {
		cli_fail("%s", skills_errmsg());
		print_failure(app, &res);
		goto out;
	}
	status = EXIT_OK;
	if (app->quiet)
		goto out;
	if (strcmp(sub, "verify") == 0)
		fprintf(stderr, "halo-agent: %s: verified\n", name);
	else if (res.n_ran)
		fprintf(stderr, "halo-agent: %s removed (its Uninstall section ran: %zu "
			"step(s))\n", name, res.n_ran);
	else
		fprintf(stderr, "halo-agent: %s removed: %zu entr%s deleted under %s\n", name,
			res.n_files, res.n_files == 1 ? "y" : "ies", res.prefix);
out:
	store_close(st);
	return status;
}
