/* test_spec.c - the skill parser and planner against spec files.
 *
 * Every CASE.md in the spec folder (argv[1], else $HALO_SRCDIR/tests/skills/
 * spec) is one cmocka test named after it.  CASE.json says what must come
 * out:
 *
 *   {"facts": {...},          the machine (optional; defaults below)
 *    "dir_name": "folder",    the folder a SKILL.md sits in (optional)
 *    "plan": {...}}           skills_plan_json's output, or
 *    "error": "CASE.md:LINE: message"   skills_parse's message, exactly.
 *
 * In "plan", "steps", "problem" and "warnings" must equal the output
 * exactly; "skill" and "facts" are subsets (each key given must match).
 * The document is parsed under its own relative name so messages do not
 * depend on where the tree is checked out.
 *
 * facts keys: os, distro, distro_like, version, arch, package_managers
 * (space separated, as the plan prints them), commands (a list: what
 * has_command answers yes to), packages (a list of names installed for
 * every manager, or {"apt": [...], "brew": [...]}).
 *
 * Two tests beside the cases: skills_parse_path on real files, and
 * skills_facts_detect against uname and os-release read here.
 *
 * HALO_SPEC_UPDATE=1 rewrites each CASE.json with what the code produces
 * (keeping its facts and dir_name).  Every rewritten file is then read by
 * hand: the expected output is what a user of the plan needs, not what the
 * code happens to do. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "skills.h"
#include "testutil.h"

static const char *spec_dir;
static bool update;

/* ---- injected facts ------------------------------------------------------ */

struct fake {
	json_t *commands;  /* array of names */
	json_t *packages;  /* array of names, or object pm -> array */
};

static bool in_array(const json_t *a, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

static bool fake_has_command(void *ud, const char *name)
{
	const struct fake *fk = ud;

	return in_array(fk->commands, name);
}

static bool fake_has_package(void *ud, const char *pm, const char *package)
{
	const struct fake *fk = ud;

	if (json_is_object(fk->packages))
		return in_array(json_object_get(fk->packages, pm), package);
	return in_array(fk->packages, package);
}

static void set_str(char *dst, size_t cap, const json_t *facts, const char *key,
		    const char *def)
{
	const json_t *v = json_object_get(facts, key);

	if (v != NULL && !json_is_string(v))
		fail_msg("facts.%s must be a string", key);
	snprintf(dst, cap, "%s", v ? json_string_value(v) : def);
}

static void facts_from_json(struct skills_facts *f, struct fake *fk, const json_t *facts)
{
	const char *known[] = { "os", "distro", "distro_like", "version", "arch",
		"package_managers", "commands", "packages", NULL };
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)facts, key, v) {
		bool ok = false;

		for (const char **k = known; *k; k++)
			ok |= strcmp(*k, key) == 0;
		if (!ok)
			fail_msg("unknown facts key '%s'", key);
	}
	memset(f, 0, sizeof(*f));
	set_str(f->os, sizeof(f->os), facts, "os", "linux");
	set_str(f->distro, sizeof(f->distro), facts, "distro", "debian");
	set_str(f->distro_like, sizeof(f->distro_like), facts, "distro_like", "");
	set_str(f->version, sizeof(f->version), facts, "version", "12");
	set_str(f->arch, sizeof(f->arch), facts, "arch", "x86_64");
	set_str(f->pms, sizeof(f->pms), facts, "package_managers", "apt");
	fk->commands = json_object_get(facts, "commands");
	fk->commands = fk->commands ? json_incref(fk->commands)
				    : json_pack("[ssss]", "sh", "cc", "make", "tar");
	fk->packages = json_object_get(facts, "packages");
	fk->packages = fk->packages ? json_incref(fk->packages) : json_pack("[ss]", "gcc", "make");
	f->has_command = fake_has_command;
	f->has_package = fake_has_package;
	f->ud = fk;
}

/* ---- comparing ----------------------------------------------------------- */

static char *dump(const json_t *j)
{
	return j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
		 : strdup("(absent)");
}

/* Print what differs, the first differing step in full. */
static bool same(const char *name, const char *what, const json_t *want, const json_t *got)
{
	char *a, *b;

	if (json_equal((json_t *)want, (json_t *)got))
		return true;
	if (json_is_array(want) && json_is_array(got)) {
		size_t n = json_array_size(want) > json_array_size(got) ? json_array_size(want)
									 : json_array_size(got);

		for (size_t i = 0; i < n; i++) {
			json_t *x = json_array_get(want, i), *y = json_array_get(got, i);

			if (x && y && json_equal(x, y))
				continue;
			a = dump(x);
			b = dump(y);
			print_message("%s: %s[%zu] differs (of %zu expected, %zu produced)\n"
				      "expected:\n%s\nproduced:\n%s\n", name, what, i,
				      json_array_size(want), json_array_size(got), a, b);
			free(a);
			free(b);
			return false;
		}
	}
	a = dump(want);
	b = dump(got);
	print_message("%s: %s differs\nexpected:\n%s\nproduced:\n%s\n", name, what, a, b);
	free(a);
	free(b);
	return false;
}

static bool subset(const char *name, const char *what, const json_t *want, const json_t *got)
{
	const char *key;
	json_t *v;
	bool ok = true;

	if (want == NULL)
		return true;
	if (!json_is_object(want) || !json_is_object(got))
		return same(name, what, want, got);
	json_object_foreach((json_t *)want, key, v) {
		char path[128];

		snprintf(path, sizeof(path), "%s.%s", what, key);
		ok &= same(name, path, v, json_object_get(got, key));
	}
	return ok;
}

/* ---- one case ------------------------------------------------------------ */

static char *path_of(const char *name, const char *ext)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s%s", spec_dir, name, ext) > 0);
	return p;
}

/* What HALO_SPEC_UPDATE writes: the case's own inputs, then the output
 * (the skill without its sha256, which changes with every edit). */
static void write_expected(const char *name, const json_t *want, const json_t *plan,
			   const char *error)
{
	json_t *o = json_object();
	char *path = path_of(name, ".json");
	FILE *f;

	if (json_object_get(want, "facts"))
		json_object_set(o, "facts", json_object_get(want, "facts"));
	if (json_object_get(want, "dir_name"))
		json_object_set(o, "dir_name", json_object_get(want, "dir_name"));
	if (error) {
		json_object_set_new(o, "error", json_string(error));
	} else {
		json_t *p = json_object(), *sk = json_deep_copy(json_object_get(plan, "skill"));
		json_t *old = json_object_get(json_object_get(want, "plan"), "skill");

		/* a case that pins the document's sha256 keeps pinning it */
		if (json_object_get(old, "sha256") == NULL)
			json_object_del(sk, "sha256");
		json_object_set_new(p, "skill", sk);
		if (json_object_get(json_object_get(want, "plan"), "facts"))
			json_object_set(p, "facts", json_object_get(plan, "facts"));
		json_object_set(p, "steps", json_object_get(plan, "steps"));
		json_object_set(p, "problem", json_object_get(plan, "problem"));
		json_object_set(p, "warnings", json_object_get(plan, "warnings"));
		json_object_set_new(o, "plan", p);
	}
	f = fopen(path, "w");
	assert_non_null(f);
	json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	fclose(f);
	print_message("%s: expected output rewritten; read it before committing\n", name);
	json_decref(o);
	free(path);
}

static void run_case(void **state)
{
	const char *name = *state;  /* "CASE" */
	char *md_path = path_of(name, ".md"), *json_path = path_of(name, ".json");
	char *file, *doc, *out = NULL;
	size_t len;
	json_t *want, *got = NULL, *facts_in, *plan_want;
	json_error_t jerr;
	struct skills_skill s;
	struct skills_plan p;
	struct skills_facts f;
	struct fake fk;
	const json_t *dir = NULL;
	int rc;
	bool ok = true;

	assert_true(asprintf(&file, "%s.md", name) > 0);
	doc = tu_read_file(md_path, &len);
	if (doc == NULL)
		fail_msg("%s: cannot read", md_path);
	want = json_load_file(json_path, 0, &jerr);
	if (want == NULL && !update)
		fail_msg("%s:%d: %s", json_path, jerr.line, jerr.text);
	if (want == NULL)
		want = json_object();
	facts_in = json_object_get(want, "facts");
	facts_in = facts_in ? json_incref(facts_in) : json_object();
	facts_from_json(&f, &fk, facts_in);
	json_decref(facts_in);
	dir = json_object_get(want, "dir_name");

	rc = skills_parse(&s, file, dir ? json_string_value(dir) : NULL, doc, len);
	if (rc < 0) {
		const json_t *e = json_object_get(want, "error");

		if (update) {
			write_expected(name, want, NULL, skills_errmsg());
		} else if (e == NULL) {
			print_message("%s: parse failed: %s\n", name, skills_errmsg());
			ok = false;
		} else if (strcmp(json_string_value(e), skills_errmsg()) != 0) {
			print_message("%s: wrong error\nexpected: %s\nproduced: %s\n", name,
				      json_string_value(e), skills_errmsg());
			ok = false;
		}
		/* a failed parse leaves nothing behind */
		assert_null(s.arena);
		assert_int_equal(s.n_steps, 0);
		goto out;
	}
	assert_int_equal(skills_plan_make(&p, &s, &f), 0);
	out = skills_plan_json(&p, &f);
	assert_non_null(out);
	got = json_loads(out, 0, &jerr);
	assert_non_null(got);
	if (update) {
		write_expected(name, want, got, NULL);
	} else if (json_object_get(want, "error")) {
		print_message("%s: expected the error '%s'; it parsed\n", name,
			      json_string_value(json_object_get(want, "error")));
		ok = false;
	} else if ((plan_want = json_object_get(want, "plan")) == NULL) {
		print_message("%s: the .json has neither \"plan\" nor \"error\"\n", name);
		ok = false;
	} else {
		const char *key;
		json_t *v;

		json_object_foreach(plan_want, key, v)
			if (strcmp(key, "skill") && strcmp(key, "facts") && strcmp(key, "steps") &&
			    strcmp(key, "problem") && strcmp(key, "warnings"))
				fail_msg("%s: unknown key plan.%s", name, key);
		ok &= subset(name, "skill", json_object_get(plan_want, "skill"),
			     json_object_get(got, "skill"));
		ok &= subset(name, "facts", json_object_get(plan_want, "facts"),
			     json_object_get(got, "facts"));
		ok &= same(name, "steps", json_object_get(plan_want, "steps"),
			   json_object_get(got, "steps"));
		ok &= same(name, "problem", json_object_get(plan_want, "problem"),
			   json_object_get(got, "problem"));
		ok &= same(name, "warnings", json_object_get(plan_want, "warnings"),
			   json_object_get(got, "warnings"));
	}
	skills_plan_free(&p);
	skills_skill_free(&s);
out:
	json_decref(got);
	json_decref(want);
	json_decref(fk.commands);
	json_decref(fk.packages);
	free(out);
	free(doc);
	free(file);
	free(md_path);
	free(json_path);
	if (!ok)
		fail_msg("%s: the output differs from %s.json", name, name);
}

/* ---- beside the spec files --------------------------------------------- */

/* skills_parse_path: a folder's SKILL.md is checked against the folder's
 * name, a file is read as it is, and what cannot be read says why. */
static void test_parse_path(void **state)
{
	char *dir = tu_mkdtemp("skills"), *sub, *file, *big;
	const char *doc = "---\nname: other-name\ndescription: d\n---\n# T\n\n```sh\nmake\n```\n";
	struct skills_skill s;
	(void)state;

	assert_true(asprintf(&sub, "%s/my-skill", dir) > 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(skills_parse_path(&s, sub), SKILLS_ENOTFOUND);
	assert_non_null(strstr(skills_errmsg(), "no SKILL.md"));
	assert_true(asprintf(&file, "%s/SKILL.md", sub) > 0);
	tu_write_file(file, doc, strlen(doc));
	/* the folder and the file itself give the same folder name */
	for (int k = 0; k < 2; k++) {
		assert_int_equal(skills_parse_path(&s, k ? file : sub), 0);
		assert_string_equal(s.name, "other-name");
		assert_int_equal(s.n_warnings, 1);
		assert_non_null(strstr(s.warnings[0], ":2: name 'other-name' differs from its "
				       "folder 'my-skill'"));
		assert_int_equal(s.n_steps, 1);
		skills_skill_free(&s);
	}
	skills_skill_free(&s); /* twice is harmless */
	free(file);

	/* an install document beside it: no folder check */
	assert_true(asprintf(&file, "%s/INSTALL.md", sub) > 0);
	tu_write_file(file, "# Tool\n\n```sh\nmake\n```\n", 23);
	assert_int_equal(skills_parse_path(&s, file), 0);
	assert_string_equal(s.name, "tool");
	assert_int_equal(s.n_warnings, 0);
	skills_skill_free(&s);
	free(file);

	assert_true(asprintf(&file, "%s/missing.md", dir) > 0);
	assert_int_equal(skills_parse_path(&s, file), SKILLS_EIO);
	assert_non_null(strstr(skills_errmsg(), "missing.md: No such file"));
	free(file);

	/* one byte over the limit is refused before it is read */
	assert_true(asprintf(&file, "%s/big.md", dir) > 0);
	big = malloc(SKILLS_MAX_DOC + 1);
	assert_non_null(big);
	memset(big, 'a', SKILLS_MAX_DOC + 1);
	tu_write_file(file, big, SKILLS_MAX_DOC + 1);
	assert_int_equal(skills_parse_path(&s, file), SKILLS_EPARSE);
	assert_non_null(strstr(skills_errmsg(), "is more than a skill may be"));
	assert_null(s.arena);
	free(big);
	free(file);
	free(sub);
	tu_rmtree(dir);
	free(dir);
}

/* skills_facts_detect against independent readings of uname and
 * os-release, and lookups of what is surely there and surely not. */
static void test_facts_detect(void **state)
{
	struct skills_facts f;
	struct utsname u;
	char want[64] = "", line[256];
	FILE *osr;
	(void)state;

	skills_facts_detect(&f);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(f.arch, u.machine);
	if (strcmp(u.sysname, "Linux") == 0)
		assert_string_equal(f.os, "linux");
	osr = fopen("/etc/os-release", "r");
	if (osr == NULL)
		osr = fopen("/usr/lib/os-release", "r");
	if (osr) {
		while (fgets(line, sizeof(line), osr))
			if (strncmp(line, "ID=", 3) == 0 &&
			    sscanf(line + 3, "\"%63[^\"\n]", want) != 1)
				sscanf(line + 3, "%63[^\n]", want);
		fclose(osr);
		assert_string_equal(f.distro, want);
	}
	assert_non_null(f.has_command);
	assert_true(f.has_command(f.ud, "sh"));
	assert_false(f.has_command(f.ud, "halo-no-such-command-4f1c"));
	assert_true(f.has_command(f.ud, "/bin/sh"));
	assert_false(f.has_command(f.ud, ""));
	if (access("/var/lib/dpkg/status", R_OK) == 0) {
		assert_non_null(strstr(f.pms, "apt"));
		assert_true(f.has_package(f.ud, "apt", "dpkg"));
		assert_true(f.has_package(f.ud, "apt", "dpkg:amd64") ||
			    strcmp(u.machine, "x86_64") != 0);
		assert_false(f.has_package(f.ud, "apt", "halo-no-such-package"));
		assert_false(f.has_package(f.ud, "brew", "dpkg"));
	}
}

/* ---- the cases ----------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	char *def = NULL, **names = NULL;
	size_t n = 0, cap = 0;
	struct CMUnitTest *tests;
	const char *only = argc > 2 ? argv[2] : NULL;
	DIR *d;
	struct dirent *e;
	int rc;

	if (argc > 1) {
		spec_dir = argv[1];
	} else {
		const char *src = getenv("HALO_SRCDIR");

		if (asprintf(&def, "%s/tests/skills/spec", src ? src : ".") < 0)
			return 1;
		spec_dir = def;
	}
	update = getenv("HALO_SPEC_UPDATE") && strcmp(getenv("HALO_SPEC_UPDATE"), "1") == 0;
	if ((d = opendir(spec_dir)) == NULL) {
		fprintf(stderr, "test_spec: %s: cannot open\n", spec_dir);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l < 4 || strcmp(e->d_name + l - 3, ".md") != 0 || e->d_name[0] == '.')
			continue;
		if (only && strncmp(e->d_name, only, strlen(only)) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				return 1;
		}
		names[n++] = strndup(e->d_name, l - 3);
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "test_spec: no cases in %s\n", spec_dir);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	tests = calloc(n + 2, sizeof(*tests));
	if (tests == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		tests[i].name = names[i];
		tests[i].test_func = run_case;
		tests[i].initial_state = names[i];
	}
	if (only == NULL) {
		tests[n].name = "parse_path";
		tests[n++].test_func = test_parse_path;
		tests[n].name = "facts_detect";
		tests[n++].test_func = test_facts_detect;
	}
	rc = _cmocka_run_group_tests("skills_spec", tests, n, NULL, NULL);
	for (size_t i = 0; i < n && tests[i].test_func == run_case; i++)
		free(names[i]);
	free(names);
	free(tests);
	free(def);
	return rc;
}
