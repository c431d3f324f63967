/* fuzz_skill.c - libFuzzer target for the skill parser and planner.
 *
 * Parses the input as a skill document, makes a plan with fixed facts and
 * prints it as JSON, and checks the contract: an error is one line that
 * names the file and leaves nothing to free; a parse gives every step a
 * line inside the document, a script with one file line per script line,
 * warnings that name the file, and a plan that prints.  Aborts when the
 * contract is broken (ASan and UBSan catch the rest). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skills.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_skill: contract broken: %s\n", what);
		abort();
	}
}

/* The machine: Debian with apt, a few commands and packages. */
static bool has_command(void *ud, const char *name)
{
	(void)ud;
	return strcmp(name, "sh") == 0 || strcmp(name, "make") == 0;
}

static bool has_package(void *ud, const char *pm, const char *package)
{
	(void)ud;
	return strcmp(pm, "apt") == 0 && strcmp(package, "gcc") == 0;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct skills_facts f = {
		.os = "linux", .distro = "ubuntu", .distro_like = "debian", .version = "24.04",
		.arch = "x86_64", .pms = "apt brew",
		.has_command = has_command, .has_package = has_package,
	};
	struct skills_skill s;
	struct skills_plan p;
	char *copy, *json;
	size_t doc_lines = 1;

	/* an exact-size copy, so a read past the end is caught */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	for (size_t i = 0; i < size; i++) /* "\n", "\r\n" and a lone "\r" end lines */
		doc_lines += data[i] == '\n' ||
			     (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n'));

	if (skills_parse(&s, "fuzz.md", "fuzz", copy, size) < 0) {
		const char *e = skills_errmsg();

		check(strncmp(e, "fuzz.md", 7) == 0, "an error names the file");
		check(strchr(e, '\n') == NULL, "an error is one line");
		check(s.arena == NULL && s.n_steps == 0, "a failed parse leaves nothing");
		free(copy);
		return 0;
	}
	check(s.name && s.name[0], "a parsed skill has a name");
	check(s.n_steps <= SKILLS_MAX_STEPS, "steps are bounded");
	for (size_t i = 0; i < s.n_warnings; i++) {
		check(strncmp(s.warnings[i], "fuzz.md:", 8) == 0, "a warning names the file");
		check(strchr(s.warnings[i], '\n') == NULL, "a warning is one line");
	}
	for (size_t i = 0; i < s.n_steps; i++) {
		const struct skills_step *st = &s.steps[i];

		check(st->line >= 1 && st->line <= doc_lines, "a step's line is in the document");
		check(st->heading && st->note && st->lang, "step strings are never NULL");
		if (st->kind == SKILLS_STEP_SHELL) {
			check(st->script != NULL, "a shell step has a script");
			check(count_lines(st->script) == st->n_script_lines,
			      "one file line per script line");
			for (size_t k = 0; k < st->n_script_lines; k++)
				check(st->script_lines[k] > st->line &&
				      st->script_lines[k] <= doc_lines,
				      "a script line is inside the document, after its fence");
		}
		if (st->kind == SKILLS_STEP_PACKAGES)
			check(st->pm != NULL, "a packages step names its manager");
		if (st->kind == SKILLS_STEP_FETCH)
			check(st->to != NULL && st->to[0] && st->to[0] != '/',
			      "a fetch lands inside the workspace");
	}
	check(skills_plan_make(&p, &s, &f) == 0, "a plan is always made");
	check(p.n_steps == s.n_steps, "one plan step per step");
	json = skills_plan_json(&p, &f);
	check(json != NULL, "the plan prints");
	free(json);
	skills_plan_free(&p);
	skills_skill_free(&s);
	free(copy);
	return 0;
}
