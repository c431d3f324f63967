/* plan.c - which steps of a skill run on this machine, and why.
 *
 * Rules, in order, for each step:
 *   1. a step in a section that is not about installing (Usage, FAQ...) or
 *      a block that is not a command is skipped;
 *   2. a platform condition (heading or attribute) that this machine does
 *      not meet skips it;
 *   3. of sibling platform sections that all match, the best fit is kept
 *      (the distro itself > a distro it is like > the package manager >
 *      "Linux" > a way of installing such as "From source"), ties going to
 *      the first; at each level of nesting, an option fits as well as its
 *      best step;
 *   4. package installs are checked, never run: all present is satisfied,
 *      any absent is missing and stops the plan with the command to run;
 *   5. uninstall steps wait for `skills remove`.
 * Run-time facts (creates=, unless=, a Verify that already passes) are
 * weighed when the plan is carried out. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skills_int.h"

static bool word_in(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)) != NULL; p++)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

/* How well one OS id fits: 0 not at all. */
static int os_score(const char *id, const struct skills_facts *f)
{
	size_t n = strlen(id);

	if (strcmp(id, "linux") == 0)
		return strcmp(f->os, "linux") == 0 ? 1 : 0;
	if (strcmp(id, f->os) == 0)
		return 4; /* macos, windows, freebsd */
	if (strcmp(id, f->distro) == 0 ||
	    (strncmp(f->distro, id, n) == 0 && f->distro[n] == '-'))
		return 4;
	if (word_in(f->distro_like, id))
		return 3;
	return 0;
}

/* The fit of a condition: -1 it does not hold, else a score (0 = any). */
static int cond_score(const struct skills_cond *c, const struct skills_facts *f)
{
	int best_os = 0, score = 0;
	bool ok = c->n_arch == 0;

	for (size_t i = 0; i < c->n_arch; i++)
		if (strcmp(c->arch[i], f->arch) == 0)
			ok = true;
	if (!ok)
		return -1;
	for (size_t i = 0; i < c->n_os; i++) {
		int s = os_score(c->os[i], f);

		if (s > best_os)
			best_os = s;
	}
	if (c->n_os && best_os == 0)
		return -1;
	score += best_os;
	if (c->n_pm) {
		bool pm = false;

		for (size_t i = 0; i < c->n_pm; i++)
			if (word_in(f->pms, c->pm[i]))
				pm = true;
		if (!pm)
			return -1;
		score += 2;
	}
	return score;
}

static void cond_str(const struct skills_cond *c, char *buf, size_t cap)
{
	size_t o = 0;

	const char *const *lists[3] = { c->os, c->pm, c->arch };
	size_t counts[3] = { c->n_os, c->n_pm, c->n_arch };

	buf[0] = '\0';
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < counts[k] && o < cap; i++) {
			int n = snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", lists[k][i]);

			o = n < 0 || (size_t)n >= cap - o ? cap : o + (size_t)n;
		}
}

static void machine_str(const struct skills_facts *f, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.60s%s%.40s %.30s%s%.100s%s", f->distro[0] ? f->distro : f->os,
		 f->version[0] ? " " : "", f->version, f->arch,
		 f->pms[0] ? " (" : "", f->pms, f->pms[0] ? ")" : "");
}

/* How a person installs packages with a manager (brew refuses root). */
static const char *install_command(const char *pm)
{
	static const struct { const char *pm, *cmd; } t[] = {
		{ "apt", "sudo apt-get install -y" }, { "dnf", "sudo dnf install -y" },
		{ "pacman", "sudo pacman -S --needed" }, { "brew", "brew install" },
		{ "apk", "sudo apk add" }, { "zypper", "sudo zypper install -y" },
		{ "port", "sudo port install" }, { "pkg", "sudo pkg install -y" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].pm, pm) == 0)
			return t[i].cmd;
	return pm;
}

static bool is_install(enum skills_section s)
{
	return s == SKILLS_SEC_INSTALL || s == SKILLS_SEC_CONFIGURE;
}

int skills_plan_make(struct skills_plan *out, const struct skills_skill *s,
		     const struct skills_facts *f)
{
	struct skills_plan *p = out;
	char machine[256], platforms[256] = "";
	int *score;
	bool *run0;
	size_t n_platform_skipped = 0, n_install = 0;

	memset(p, 0, sizeof(*p));
	p->skill = s;
	p->n_steps = s->n_steps;
	p->steps = calloc(s->n_steps ? s->n_steps : 1, sizeof(*p->steps));
	score = calloc(s->n_steps ? s->n_steps : 1, sizeof(*score));
	run0 = calloc(s->n_steps ? s->n_steps : 1, sizeof(*run0));
	if (p->steps == NULL || score == NULL || run0 == NULL) {
		free(p->steps);
		free(score);
		free(run0);
		p->steps = NULL;
		return skills_seterr(SKILLS_EIO, "out of memory");
	}
	machine_str(f, machine, sizeof(machine));

	/* rules 1 and 2 */
	for (size_t i = 0; i < s->n_steps; i++) {
		const struct skills_step *st = &s->steps[i];
		struct skills_plan_step *ps = &p->steps[i];
		char c[160];

		ps->step = st;
		ps->verdict = SKILLS_RUN;
		score[i] = cond_score(&st->when, f);
		if (st->section == SKILLS_SEC_OTHER) {
			ps->verdict = SKILLS_SKIP;
			snprintf(ps->reason, sizeof(ps->reason), "section '%s' is not part of "
				 "installing", st->section_heading && st->section_heading[0] ?
				 st->section_heading : st->heading[0] ? st->heading : "(untitled)");
		} else if (st->kind == SKILLS_STEP_TEXT) {
			ps->verdict = SKILLS_SKIP;
			if (st->lang[0] == '\0')
				snprintf(ps->reason, sizeof(ps->reason), "a block without a language "
					 "is not run (mark commands ```sh)");
			else
				snprintf(ps->reason, sizeof(ps->reason), "a '%s' block is not a "
					 "command", st->lang);
		} else if (score[i] < 0) {
			ps->verdict = SKILLS_SKIP;
			cond_str(&st->when, c, sizeof(c));
			snprintf(ps->reason, sizeof(ps->reason), "for %.100s; this machine is %.120s", c,
				 machine);
			if (is_install(st->section) && strlen(platforms) + strlen(c) + 3 <
			    sizeof(platforms) && !strstr(platforms, c)) {
				if (platforms[0])
					strcat(platforms, "; ");
				strcat(platforms, c);
			}
			if (is_install(st->section))
				n_platform_skipped++;
		}
	}
	/* rule 3: one option per group of sibling platform sections, at every
	 * level of nesting; an option's fit is that of its best step */
	for (size_t i = 0; i < s->n_steps; i++)
		run0[i] = p->steps[i].verdict == SKILLS_RUN;
	for (size_t i = 0; i < s->n_steps; i++) {
		const struct skills_step *st = &s->steps[i];

		for (size_t k = 0; k < st->n_alt && run0[i]; k++) {
			int best = -1, best_opt = -1;
			const char *best_heading = "";

			for (size_t j = 0; j < s->n_steps; j++) {
				const struct skills_step *o = &s->steps[j];

				if (!run0[j])
					continue;
				for (size_t kk = 0; kk < o->n_alt; kk++) {
					if (o->alt_groups[kk] != st->alt_groups[k])
						continue;
					if (score[j] > best || (score[j] == best &&
					    o->alt_options[kk] < best_opt)) {
						best = score[j];
						best_opt = o->alt_options[kk];
						best_heading = o->heading;
					}
				}
			}
			if (st->alt_options[k] != best_opt) {
				p->steps[i].verdict = SKILLS_SKIP;
				snprintf(p->steps[i].reason, sizeof(p->steps[i].reason), "'%s' fits "
					 "this machine better", best_heading);
				break;
			}
		}
	}
	/* rules 4 and 5, and the reasons of the steps that run */
	for (size_t i = 0; i < s->n_steps; i++) {
		const struct skills_step *st = &s->steps[i];
		struct skills_plan_step *ps = &p->steps[i];

		if (ps->verdict != SKILLS_RUN)
			continue;
		if (st->kind == SKILLS_STEP_PACKAGES) {
			char missing[200] = "";
			size_t nm = 0;

			if (!word_in(f->pms, st->pm)) {
				ps->verdict = SKILLS_SKIP;
				snprintf(ps->reason, sizeof(ps->reason), "installs with %s, which this "
					 "machine does not have", st->pm);
				continue;
			}
			for (size_t k = 0; k < st->n_packages; k++) {
				if (f->has_package && f->has_package(f->ud, st->pm, st->packages[k]))
					continue;
				if (strlen(missing) + strlen(st->packages[k]) + 2 < sizeof(missing)) {
					strcat(missing, " ");
					strcat(missing, st->packages[k]);
				}
				nm++;
			}
			/* a package install is an install step; a required
			 * package alone installs nothing */
			if (is_install(st->section))
				n_install++;
			if (st->n_packages == 0) {
				ps->verdict = SKILLS_SKIP;
				snprintf(ps->reason, sizeof(ps->reason), "the packages are named by "
					 "the shell ($VAR, `cmd`, globs) and cannot be checked");
			} else if (nm == 0) {
				ps->verdict = SKILLS_SATISFIED;
				snprintf(ps->reason, sizeof(ps->reason), "packages already installed "
					 "(%s)", st->pm);
			} else {
				ps->verdict = SKILLS_MISSING;
				p->n_missing++;
				snprintf(ps->reason, sizeof(ps->reason), "missing packages:%s; install "
					 "them with: %s%s", missing, install_command(st->pm), missing);
			}
			continue;
		}
		switch (st->section) {
		case SKILLS_SEC_REQUIREMENTS:
			snprintf(ps->reason, sizeof(ps->reason), "requirement check");
			break;
		case SKILLS_SEC_INSTALL:
		case SKILLS_SEC_CONFIGURE:
			n_install++;
			p->n_run++;
			snprintf(ps->reason, sizeof(ps->reason), "%s step%s",
				 skills_section_name(st->section),
				 st->kind != SKILLS_STEP_FETCH ? "" : st->git ?
				 (st->commit ? ": git clone, commit pinned" : ": git clone") :
				 ": download, sha256 pinned");
			break;
		case SKILLS_SEC_VERIFY:
			p->n_verify++;
			snprintf(ps->reason, sizeof(ps->reason), "verify step");
			break;
		case SKILLS_SEC_UNINSTALL:
			p->n_uninstall++;
			ps->verdict = SKILLS_SKIP;
			ps->deferred = true;
			snprintf(ps->reason, sizeof(ps->reason), "uninstall step: runs on "
				 "'halo-agent skills remove'");
			break;
		default:
			break;
		}
	}
	free(score);
	free(run0);

	for (size_t i = 0; i < s->n_requires; i++)
		if (!(f->has_command && f->has_command(f->ud, s->requires[i])) &&
		    p->n_missing_cmds < SKILLS_MAX_LIST)
			p->missing_cmds[p->n_missing_cmds++] = s->requires[i];

	if (p->n_missing_cmds) {
		size_t o = (size_t)snprintf(p->problem, sizeof(p->problem), "missing commands "
					    "(metadata.halo-requires):");

		for (size_t i = 0; i < p->n_missing_cmds && o < sizeof(p->problem); i++)
			o += (size_t)snprintf(p->problem + o, sizeof(p->problem) - o, " %s",
					      p->missing_cmds[i]);
	} else if (p->n_missing) {
		for (size_t i = 0; i < p->n_steps; i++)
			if (p->steps[i].verdict == SKILLS_MISSING) {
				snprintf(p->problem, sizeof(p->problem), "%s:%u: %s", s->file,
					 p->steps[i].step->line, p->steps[i].reason);
				break;
			}
	} else if (n_install == 0 && n_platform_skipped) {
		snprintf(p->problem, sizeof(p->problem), "no install steps apply to %s (the skill "
			 "has steps for: %s)", machine, platforms);
	} else if (n_install == 0) {
		snprintf(p->problem, sizeof(p->problem), "no install steps: the document has no "
			 "```sh or ```fetch block in an install section");
	}
	return 0;
}

void skills_plan_free(struct skills_plan *p)
{
	if (p == NULL)
		return;
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

static const char *verdict_name(enum skills_verdict v)
{
	switch (v) {
	case SKILLS_RUN: return "run";
	case SKILLS_SKIP: return "skip";
	case SKILLS_SATISFIED: return "satisfied";
	case SKILLS_MISSING: return "missing";
	}
	return "?";
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *list_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *cond_json(const struct skills_cond *c)
{
	json_t *o = json_object();

	if (c->n_os)
		json_object_set_new(o, "os", list_json(c->os, c->n_os));
	if (c->n_pm)
		json_object_set_new(o, "pm", list_json(c->pm, c->n_pm));
	if (c->n_arch)
		json_object_set_new(o, "arch", list_json(c->arch, c->n_arch));
	return o;
}

char *skills_plan_json(const struct skills_plan *p, const struct skills_facts *f)
{
	const struct skills_skill *s = p->skill;
	json_t *root = json_object(), *sk = json_object(), *fa = json_object();
	json_t *steps = json_array(), *vars = json_object(), *meta = json_object();
	char *out;

	json_object_set_new(sk, "name", json_string(s->name));
	json_object_set_new(sk, "format", json_string(s->format == SKILLS_FORMAT_AGENT_SKILL ?
						      "agent-skill" : "document"));
	json_object_set_new(sk, "title", str_or_null(s->title));
	json_object_set_new(sk, "description", str_or_null(s->description));
	json_object_set_new(sk, "version", str_or_null(s->version));
	json_object_set_new(sk, "license", str_or_null(s->license));
	json_object_set_new(sk, "compatibility", str_or_null(s->compatibility));
	json_object_set_new(sk, "prefix", str_or_null(s->prefix));
	json_object_set_new(sk, "hosts", list_json(s->hosts, s->n_hosts));
	json_object_set_new(sk, "requires", list_json(s->requires, s->n_requires));
	json_object_set_new(sk, "allowed_tools", list_json(s->allowed_tools, s->n_allowed_tools));
	for (size_t i = 0; i < s->n_vars; i++)
		json_object_set_new(vars, s->vars[i].key, json_string(s->vars[i].value));
	json_object_set_new(sk, "vars", vars);
	for (size_t i = 0; i < s->n_meta; i++)
		json_object_set_new(meta, s->meta[i].key, json_string(s->meta[i].value));
	json_object_set_new(sk, "metadata", meta);
	json_object_set_new(sk, "sha256", json_string(s->sha256));
	json_object_set_new(root, "skill", sk);

	json_object_set_new(fa, "os", json_string(f->os));
	json_object_set_new(fa, "distro", json_string(f->distro));
	json_object_set_new(fa, "version", json_string(f->version));
	json_object_set_new(fa, "arch", json_string(f->arch));
	json_object_set_new(fa, "package_managers", json_string(f->pms));
	json_object_set_new(root, "facts", fa);

	for (size_t i = 0; i < p->n_steps; i++) {
		const struct skills_plan_step *ps = &p->steps[i];
		const struct skills_step *st = ps->step;
		json_t *o = json_object();

		json_object_set_new(o, "line", json_integer(st->line));
		json_object_set_new(o, "section", json_string(skills_section_name(st->section)));
		json_object_set_new(o, "heading", json_string(st->heading));
		json_object_set_new(o, "kind", json_string(skills_step_kind_name(st->kind)));
		json_object_set_new(o, "lang", json_string(st->lang));
		json_object_set_new(o, "verdict", json_string(verdict_name(ps->verdict)));
		json_object_set_new(o, "reason", json_string(ps->reason));
		if (st->when.n_os || st->when.n_pm || st->when.n_arch)
			json_object_set_new(o, "when", cond_json(&st->when));
		if (st->kind == SKILLS_STEP_SHELL) {
			json_t *lines = json_array();

			json_object_set_new(o, "script", json_string(st->script));
			for (size_t k = 0; k < st->n_script_lines; k++)
				json_array_append_new(lines, json_integer(st->script_lines[k]));
			json_object_set_new(o, "script_lines", lines);
			if (st->root)
				json_object_set_new(o, "sudo_removed", json_true());
		}
		if (st->creates)
			json_object_set_new(o, "creates", json_string(st->creates));
		if (st->unless)
			json_object_set_new(o, "unless", json_string(st->unless));
		if (st->kind == SKILLS_STEP_PACKAGES) {
			json_object_set_new(o, "pm", json_string(st->pm));
			json_object_set_new(o, "packages", list_json(st->packages, st->n_packages));
		}
		if (st->kind == SKILLS_STEP_FETCH && st->git) {
			json_object_set_new(o, "git", json_string(st->git));
			json_object_set_new(o, "commit", str_or_null(st->commit));
			json_object_set_new(o, "to", json_string(st->to));
		} else if (st->kind == SKILLS_STEP_FETCH) {
			json_object_set_new(o, "url", json_string(st->url));
			json_object_set_new(o, "sha256", json_string(st->sha256));
			json_object_set_new(o, "to", json_string(st->to));
			json_object_set_new(o, "extract", str_or_null(st->extract));
		}
		if (st->note[0])
			json_object_set_new(o, "note", json_string(st->note));
		json_array_append_new(steps, o);
	}
	json_object_set_new(root, "steps", steps);
	json_object_set_new(root, "problem", p->problem[0] ? json_string(p->problem) : json_null());
	json_object_set_new(root, "warnings", list_json(s->warnings, s->n_warnings));
	out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}
