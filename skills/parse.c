/* parse.c - a skill document into a typed list of steps, with md4c.
 *
 * The walk keeps a stack of headings.  Each heading's text gives the kind
 * of section beneath it (Requirements, Install, Configure, Verify,
 * Uninstall, or Other such as Usage) and, when it names platforms ("On
 * Debian/Ubuntu", "macOS", "With Homebrew"), a condition.  The first word
 * that names a kind decides it; a section under one that is not run is not
 * run; a heading with no kind inherits its parent's.  The title (the first
 * H1) names the project: it gives a platform only after "on"/"for".
 * Sibling headings that name a platform, or a way of installing ("From
 * source", "With Cargo"), form a group of alternatives; groups nest.  Each
 * fenced code block becomes a step:
 *   sh, bash, shell, zsh  a script (a block with a "$ " line is read as a
 *                         console transcript);
 *   console, *-session    only the prompted lines ("$ ", "% ", "# "), with
 *                         "\" continuations; the rest is output;
 *   fetch, download       "key: value" lines: url, sha256, to, extract;
 *   anything else         kept as text, never run.
 * Package-manager installs ("sudo apt-get install -y gcc make") are taken
 * out of scripts into a PACKAGES step: halo-agent never runs as root, it
 * checks that they are there and says how to get them.  "sudo" elsewhere is
 * removed with a warning.  An info string may carry attributes after the
 * language: ```sh {os=debian,ubuntu arch=x86_64 creates=$PREFIX/bin/x
 * unless="command -v x"}.
 *
 * md4c gives no line numbers; every text it hands over (except the
 * newlines it adds) points into the document, so lines come from those
 * pointers. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <md4c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "skills_int.h"

#define MAX_HEADING 6
#define MAX_NOTE 2048
#define MAX_SCRIPT_LINES 4096

struct heading {
	bool present;
	enum skills_section kind; /* NONE: inherits */
	bool has_cond;
	bool method;              /* one way of installing ("From source") */
	struct skills_cond cond;
	char *text;
	int id;                   /* unique per heading */
	int parent_id;            /* the enclosing heading's id, -1 at top */
};

struct pstate {
	struct skills_skill *s;
	const char *doc;
	size_t len;
	unsigned *line_start;     /* offsets of line starts */
	unsigned n_lines;
	int err;

	struct heading h[MAX_HEADING + 1];
	int next_heading_id;
	bool any_install;         /* an explicit install section exists */
	bool seen_h1;
	bool after_title;         /* summary not yet taken */

	/* the block being read */
	int in_heading;           /* level, 0 = none */
	struct sbuf heading_text;
	const char *heading_ptr;
	int quote_depth;
	int in_img;               /* inside an image's alt text */
	int li_depth;             /* inside list items */
	bool in_table;
	bool in_para;
	struct sbuf para;
	struct sbuf note;         /* prose since the last code block */

	bool in_code;
	char fence;
	struct sbuf code;
	char *info, *lang;
	const char *info_ptr;
	const char *code_first, *code_last_end;
	unsigned *code_lines;     /* per line of code: file line, 0 = unknown */
	size_t n_code_lines, cap_code_lines;
	bool code_line_open;

	size_t cursor;            /* furthest offset seen */
	size_t code_start;        /* the cursor when the code block began */
	size_t cap_steps;
};

/* ---- lines ------------------------------------------------------------- */

static unsigned line_of_off(const struct pstate *ps, size_t off)
{
	unsigned lo = 0, hi = ps->n_lines;

	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (ps->line_start[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo + 1;
}

/* Does a line end at text[i]? */
static bool is_eol(const char *text, size_t len, size_t i)
{
	return text[i] == '\n' || (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n'));
}

static bool in_doc(const struct pstate *ps, const char *p)
{
	return p >= ps->doc && p <= ps->doc + ps->len;
}

static unsigned line_of(const struct pstate *ps, const char *p)
{
	return line_of_off(ps, (size_t)(p - ps->doc));
}

/* The text of line n (1-based) without its newline. */
static const char *line_text(const struct pstate *ps, unsigned n, size_t *len)
{
	size_t b = ps->line_start[n - 1];
	size_t e = n < ps->n_lines ? ps->line_start[n] : ps->len;

	while (e > b && (ps->doc[e - 1] == '\n' || ps->doc[e - 1] == '\r'))
		e--;
	*len = e - b;
	return ps->doc + b;
}

/* Skip the container prefixes of a line (indentation, "> "). */
static const char *strip_containers(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '>'))
		p++;
	return p;
}

static bool is_fence_line(const struct pstate *ps, unsigned n, char fence)
{
	size_t len;
	const char *t = line_text(ps, n, &len), *end = t + len, *p = strip_containers(t, end);
	size_t run = 0;

	while (p + run < end && p[run] == fence)
		run++;
	return run >= 3;
}

static bool is_blank_line(const struct pstate *ps, unsigned n)
{
	size_t len;
	const char *t = line_text(ps, n, &len);

	return strip_containers(t, t + len) == t + len;
}

/* ---- words ------------------------------------------------------------- */

static void lower_words(const char *text, char *out, size_t cap)
{
	size_t o = 0;
	bool space = true;

	for (const char *p = text; *p && o + 1 < cap; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalnum(c) || c == '_' || c >= 0x80) {
			out[o++] = (char)tolower(c);
			space = false;
		} else if (!space) {
			out[o++] = ' ';
			space = true;
		}
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* Where a word of `words` starts with `key` (key may hold spaces; a key
 * ending in '$' must end where the word ends), or -1. */
static int word_pos(const char *words, const char *key)
{
	size_t kl = strlen(key), wl = strlen(words);
	bool whole = kl && key[kl - 1] == '$';
	const char *end = words + wl;

	if (whole)
		kl--;
	if (kl == 0)
		return -1;
	for (const char *p = words; (p = memmem(p, (size_t)(end - p), key, kl)) != NULL; p++)
		if ((p == words || p[-1] == ' ') && (!whole || p[kl] == '\0' || p[kl] == ' '))
			return (int)(p - words);
	return -1;
}

/* The earliest position of any key of `keys` in `words`, or -1; *len
 * (when asked) the length of the longest key found there. */
static int first_match(const char *words, const char *const *keys, size_t *len)
{
	int best = -1;
	size_t best_len = 0;

	for (; *keys; keys++) {
		int p = word_pos(words, *keys);
		size_t l = strlen(*keys);

		if (p >= 0 && (best < 0 || p < best || (p == best && l > best_len))) {
			best = p;
			best_len = l;
		}
	}
	if (len)
		*len = best_len;
	return best;
}

/* The earliest position of any key of `keys` in `words`, or -1. */
static int first_pos(const char *words, const char *const *keys)
{
	return first_match(words, keys, NULL);
}

static const char *const kw_uninstall[] = { "uninstall", "deinstall", "removal", "removing",
	"remove", "purg", NULL };
static const char *const kw_verify[] = { "verif", "test", "check$", "checking", "validat",
	"done when", "confirm", "smoke", "sanity", NULL };
static const char *const kw_configure[] = { "config", "post install", "post installation",
	"after install", "postinstall", NULL };
static const char *const kw_requirements[] = { "requirement", "prerequisite", "dependenc",
	"before you begin", "what you need", "needs", "required", "deps", NULL };
static const char *const kw_other[] = { "usage", "example", "troubleshoot", "faq",
	"contribut", "develop", "license", "changelog", "release note", "known issue",
	"documentation", "support", "credit", "acknowledg", "overview", "introduction",
	"about", "feature", "upgrad", "updat", "screenshot", "benchmark", "roadmap",
	"security", "author", "see also", "further", "notes", NULL };
static const char *const kw_install[] = { "install", "setup", "set up", "build",
	"compile$", "compiling", "compilation", "getting started", "get started",
	"quick start", "quickstart", "download", "from source", "step", "deploy",
	"setting up", "get it", "fetch", "check out", "checking out", "checkout", NULL };

/* Headings that name one way of installing among others ("From source",
 * "With Cargo", "Prebuilt binaries"): beside platform headings they are
 * the fallback when no platform fits. */
static const char *const kw_method[] = { "from source", "source$", "manual", "alternativ",
	"binary", "binaries", "prebuilt", "pre built", "release$", "releases$", "other", NULL };
static const char *const kw_method_lead[] = { "with", "using", "via", NULL };

static void cond_add(struct skills_arena *a, const char **list, size_t *n, const char *v)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i], v) == 0)
			return;
	if (*n < SKILLS_MAX_COND)
		list[(*n)++] = arena_strdup(a, v);
}

/* The kind of section a heading's words name, SKILLS_SEC_NONE for none.
 * The word that comes first decides ("Check the install" verifies,
 * "Installation (tested on Debian)" installs), except that an uninstall
 * always wins and requirements beat install ("Install dependencies"). */
static enum skills_section heading_kind(const char *words)
{
	static const struct { enum skills_section kind; const char *const *keys; } t[] = {
		{ SKILLS_SEC_VERIFY, kw_verify }, { SKILLS_SEC_CONFIGURE, kw_configure },
		{ SKILLS_SEC_REQUIREMENTS, kw_requirements }, { SKILLS_SEC_OTHER, kw_other },
		{ SKILLS_SEC_INSTALL, kw_install },
	};
	enum skills_section kind = SKILLS_SEC_NONE;
	int best = -1;
	size_t best_len = 0;

	if (first_pos(words, kw_uninstall) >= 0)
		return SKILLS_SEC_UNINSTALL;
	/* the earliest word wins, and at one place the longer key ("checking
	 * out" installs, "checking" verifies) */
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t l;
		int p = first_match(words, t[i].keys, &l);

		if (p >= 0 && (best < 0 || p < best || (p == best && l > best_len))) {
			best = p;
			best_len = l;
			kind = t[i].kind;
		}
	}
	if (kind == SKILLS_SEC_INSTALL && first_pos(words, kw_requirements) >= 0)
		kind = SKILLS_SEC_REQUIREMENTS;
	return kind;
}

/* Read a heading: its kind and its platform condition.  A heading with no
 * kind of its own (a platform, "Notes for Debian") inherits its parent's.
 * The title (the first H1) names the project, whose name may well be a
 * platform word ("pop", "arch", "port"): only platforms after "on" or
 * "for" count there ("Installing Foo on macOS"), and of the kinds only
 * install ("Install Foo"). */
static void classify_heading(struct pstate *ps, struct heading *h, bool title)
{
	char words[512], tmp[512];
	bool linux_word = false, after_on = !title;
	struct skills_cond c = { 0 };

	lower_words(h->text, words, sizeof(words));
	snprintf(tmp, sizeof(tmp), "%s", words);
	for (char *save = NULL, *w = strtok_r(tmp, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		const char *id;

		if (strcmp(w, "on") == 0 || strcmp(w, "for") == 0)
			after_on = true;
		if (!after_on)
			continue;
		if (strcmp(w, "linux") == 0)
			linux_word = true;
		if ((id = skills_os_word(w)) != NULL)
			cond_add(ps->s->arena, c.os, &c.n_os, id);
		else if ((id = skills_pm_word(w)) != NULL)
			cond_add(ps->s->arena, c.pm, &c.n_pm, id);
		else if ((id = skills_arch_word(w)) != NULL)
			cond_add(ps->s->arena, c.arch, &c.n_arch, id);
	}
	/* "Linux" alone is a platform; next to a distro it adds nothing. */
	if (linux_word && c.n_os == 0)
		cond_add(ps->s->arena, c.os, &c.n_os, "linux");
	h->has_cond = c.n_os || c.n_pm || c.n_arch;
	h->cond = c;
	h->kind = heading_kind(words);
	if (title && h->kind != SKILLS_SEC_INSTALL)
		h->kind = SKILLS_SEC_NONE;
	h->method = !h->has_cond && !title && (first_pos(words, kw_method) >= 0 ||
		    first_pos(words, kw_method_lead) == 0);
	if (h->kind == SKILLS_SEC_INSTALL)
		ps->any_install = true;
}

/* The section of the current position: the innermost heading with a kind,
 * but anything under a section that is not run (Development > Building
 * the docs) is not run either.  A platform heading with no kind above it
 * ("## macOS" beside "## Linux") is about installing; otherwise NONE,
 * decided once the whole document is read. */
static enum skills_section current_section(const struct pstate *ps, const char **by)
{
	enum skills_section kind = SKILLS_SEC_NONE;
	const char *platform = NULL;

	*by = "";
	for (int l = MAX_HEADING; l >= 1; l--) {
		if (!ps->h[l].present)
			continue;
		if (ps->h[l].kind == SKILLS_SEC_OTHER) {
			*by = ps->h[l].text;
			return SKILLS_SEC_OTHER;
		}
		if (kind == SKILLS_SEC_NONE && ps->h[l].kind != SKILLS_SEC_NONE) {
			kind = ps->h[l].kind;
			*by = ps->h[l].text;
		}
		if (ps->h[l].has_cond && platform == NULL)
			platform = ps->h[l].text;
	}
	if (kind == SKILLS_SEC_NONE && platform) {
		*by = platform;
		return SKILLS_SEC_INSTALL;
	}
	return kind;
}

/* ---- info strings -------------------------------------------------------- */

static int parse_attrs(struct pstate *ps, struct skills_step *st, const char *attrs,
		       unsigned line)
{
	struct skills_skill *s = ps->s;
	const char *p = attrs;

	while (*p) {
		const char *k, *v;
		size_t kl, vl;
		char *val;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '.') { /* pandoc's {.sh} class: the language, ignore */
			p += strcspn(p, " \t");
			continue;
		}
		k = p;
		kl = strcspn(p, "= \t");
		p += kl;
		if (*p != '=') {
			skills_warn(s, line, "info string attribute '%.*s' has no value "
				    "(write key=value); ignored", (int)kl, k);
			continue;
		}
		p++;
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			const char *e = strchr(p, q);

			if (e == NULL)
				return skills_seterr(SKILLS_EPARSE, "%s:%u: unterminated %c in the "
						     "info string's attribute '%.*s'", s->file, line,
						     q, (int)kl, k);
			v = p;
			vl = (size_t)(e - p);
			p = e + 1;
		} else {
			v = p;
			vl = strcspn(p, " \t");
			p += vl;
		}
		val = arena_strndup(s->arena, v, vl);
		/* an attribute says exactly where the block runs: it replaces
		 * what the headings said of the same dimension */
		if (kl == 2 && memcmp(k, "os", 2) == 0) {
			st->when.n_os = 0;
			for (char *save = NULL, *w = strtok_r(val, ",", &save); w;
			     w = strtok_r(NULL, ",", &save)) {
				char lw[64];
				const char *id;

				lower_words(w, lw, sizeof(lw));
				id = skills_os_word(lw);
				if (id == NULL && strcmp(lw, "linux") == 0)
					id = "linux";
				if (id == NULL)
					return skills_seterr(SKILLS_EPARSE, "%s:%u: os=%s: unknown "
							     "system (e.g. linux, debian, ubuntu, "
							     "fedora, arch, alpine, macos)",
							     s->file, line, w);
				cond_add(s->arena, st->when.os, &st->when.n_os, id);
			}
		} else if (kl == 4 && memcmp(k, "arch", 4) == 0) {
			st->when.n_arch = 0;
			for (char *save = NULL, *w = strtok_r(val, ",", &save); w;
			     w = strtok_r(NULL, ",", &save)) {
				const char *id = skills_arch_word(w);

				if (id == NULL)
					return skills_seterr(SKILLS_EPARSE, "%s:%u: arch=%s: unknown "
							     "architecture (x86_64, aarch64, ...)",
							     s->file, line, w);
				cond_add(s->arena, st->when.arch, &st->when.n_arch, id);
			}
		} else if (kl == 2 && memcmp(k, "pm", 2) == 0) {
			st->when.n_pm = 0;
			for (char *save = NULL, *w = strtok_r(val, ",", &save); w;
			     w = strtok_r(NULL, ",", &save)) {
				const char *id = skills_pm_word(w);

				if (id == NULL)
					return skills_seterr(SKILLS_EPARSE, "%s:%u: pm=%s: unknown "
							     "package manager (apt, dnf, pacman, "
							     "brew, apk, zypper)", s->file, line, w);
				cond_add(s->arena, st->when.pm, &st->when.n_pm, id);
			}
		} else if (kl == 7 && memcmp(k, "creates", 7) == 0) {
			st->creates = val;
		} else if (kl == 6 && memcmp(k, "unless", 6) == 0) {
			st->unless = val;
		} else {
			skills_warn(s, line, "unknown info string attribute '%.*s' (known: os, "
				    "arch, pm, creates, unless); ignored", (int)kl, k);
		}
	}
	return 0;
}

/* ---- scripts ------------------------------------------------------------- */

struct script {
	struct sbuf text;
	unsigned *lines;
	size_t n, cap;
};

static void script_line(struct script *sc, const char *t, size_t len, unsigned line)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 32;
		unsigned *l = realloc(sc->lines, cap * sizeof(*l));

		if (l == NULL) {
			sc->text.failed = true;
			return;
		}
		sc->lines = l;
		sc->cap = cap;
	}
	sc->lines[sc->n++] = line;
	sbuf_add(&sc->text, t, len);
	sbuf_adds(&sc->text, "\n");
}

static bool ends_with_backslash(const char *t, size_t len)
{
	while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
		len--;
	return len > 0 && t[len - 1] == '\\';
}

/* A prompt at the start of a console line: its length, or 0. */
/* A prompt at the start of a console line: its length, or 0.  "# " is
 * root's prompt, unless what follows reads as a comment in prose ("# Then
 * install it:"): a capital first letter, or a sentence's end. */
static size_t prompt_len(const char *t, size_t len, bool *root)
{
	*root = false;
	if (len >= 2 && (t[0] == '$' || t[0] == '%') && t[1] == ' ')
		return 2;
	if (len == 1 && t[0] == '$')
		return 1;
	if (len >= 3 && t[0] == '#' && t[1] == ' ') {
		size_t e = len;

		while (e > 2 && (t[e - 1] == ' ' || t[e - 1] == '\t' || t[e - 1] == '\r'))
			e--;
		if ((t[2] >= 'A' && t[2] <= 'Z') || t[e - 1] == ':' || t[e - 1] == '.')
			return 0;
		*root = true;
		return 2;
	}
	return 0;
}

/* The indentation of a transcript's prompts: the least of the lines that
 * start like a prompt.  Deeper ones are output ("  % Total" from curl). */
static size_t prompt_indent(char **lines, size_t *lens, size_t n)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		bool r;

		while (j < lens[i] && (lines[i][j] == ' ' || lines[i][j] == '\t'))
			j++;
		if (j < best && prompt_len(lines[i] + j, lens[i] - j, &r))
			best = j;
	}
	return best == SIZE_MAX ? 0 : best;
}

/* A sh block with a "$ " line is a transcript: no script line starts so. */
static bool has_dollar_prompt(char **lines, size_t *lens, size_t n, size_t indent)
{
	for (size_t i = 0; i < n; i++)
		if (lens[i] > indent && lines[i][indent] == '$' &&
		    (lens[i] == indent + 1 || lines[i][indent + 1] == ' '))
			return true;
	return false;
}

/* Is the word at p (ending at a space or end) equal to w? */
static bool word_is(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);

	return p <= end && (size_t)(end - p) >= n && memcmp(p, w, n) == 0 &&
	       (p + n == end || p[n] == ' ' || p[n] == '\t');
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* The end of the word at p: the next blank, or end. */
static const char *word_end(const char *p, const char *end)
{
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	return p;
}

/* A leading "VAR=value" (DEBIAN_FRONTEND=noninteractive apt-get ...). */
static bool is_assignment(const char *p, const char *e)
{
	const char *q = p;

	if (q == e || !(isalpha((unsigned char)*q) || *q == '_'))
		return false;
	while (q < e && (isalnum((unsigned char)*q) || *q == '_'))
		q++;
	return q < e && *q == '=';
}

/* Package manager commands: the manager and where its package arguments
 * start, or NULL.  `*update` is set for an index refresh or an upgrade of
 * what is installed, which halo-agent leaves to the system's owner. */
static const char *pm_command(const char *p, const char *end, const char **args,
			      bool *update)
{
	static const struct { const char *cmd, *sub, *pm; } t[] = {
		{ "apt-get", "install", "apt" }, { "apt", "install", "apt" },
		{ "aptitude", "install", "apt" }, { "dnf", "install", "dnf" },
		{ "yum", "install", "dnf" }, { "zypper", "install", "zypper" },
		{ "zypper", "in", "zypper" }, { "pacman", "-S", "pacman" },
		{ "pacman", "-Syu", "pacman" }, { "pacman", "-Sy", "pacman" },
		{ "brew", "install", "brew" }, { "apk", "add", "apk" },
		{ "port", "install", "port" }, { "pkg", "install", "pkg" },
	};
	static const struct { const char *cmd, *sub; } upd[] = {
		{ "apt-get", "update" }, { "apt", "update" }, { "aptitude", "update" },
		{ "apt-get", "upgrade" }, { "apt", "upgrade" }, { "apt-get", "dist-upgrade" },
		{ "apt", "full-upgrade" }, { "brew", "update" }, { "brew", "upgrade" },
		{ "dnf", "check-update" }, { "dnf", "upgrade" }, { "dnf", "update" },
		{ "dnf", "makecache" }, { "yum", "update" }, { "yum", "makecache" },
		{ "apk", "update" }, { "apk", "upgrade" }, { "zypper", "refresh" },
		{ "zypper", "ref" }, { "zypper", "update" }, { "zypper", "up" },
		{ "port", "selfupdate" }, { "pkg", "update" }, { "pkg", "upgrade" },
	};

	*update = false;
	for (size_t k = 0; k < 2; k++) {
		size_t n = k ? sizeof(t) / sizeof(t[0]) : sizeof(upd) / sizeof(upd[0]);

		for (size_t i = 0; i < n; i++) {
			const char *cmd = k ? t[i].cmd : upd[i].cmd, *sub = k ? t[i].sub : upd[i].sub;
			const char *q;

			if (!word_is(p, end, cmd))
				continue;
			q = p + strlen(cmd);
			/* options before the subcommand: apt-get -y install */
			for (;;) {
				q = skip_blanks(q, end);
				if (q < end && *q == '-' && !word_is(q, end, sub))
					q = word_end(q, end);
				else
					break;
			}
			if (!word_is(q, end, sub))
				continue;
			*args = q + strlen(sub);
			*update = !k;
			return k ? t[i].pm : "update";
		}
	}
	return NULL;
}

struct pkgs {
	const char *pm;
	const char *list[64];
	size_t n;
	unsigned line;
	size_t n_dropped;        /* commands taken out (installs, index refreshes) */
};

/* Skip "sudo" and its options at p; *had says whether there was one. */
static const char *skip_sudo(const char *p, const char *end, bool *had)
{
	static const char *const with_arg[] = { "-u", "-g", "-p", "-C", "-D", "-h", "-r", "-t",
		"-U", "-T", NULL };

	p = skip_blanks(p, end);
	*had = word_is(p, end, "sudo");
	if (!*had)
		return p;
	p = skip_blanks(p + 4, end);
	while (p < end && *p == '-') { /* sudo -E, -H, -u user */
		const char *e = word_end(p, end);
		bool arg = false;

		for (const char *const *w = with_arg; *w; w++)
			arg |= (size_t)(e - p) == strlen(*w) && memcmp(p, *w, (size_t)(e - p)) == 0;
		p = skip_blanks(e, end);
		if (arg)
			p = skip_blanks(word_end(p, end), end);
	}
	return p;
}

/* One command (no && chains), blanks trimmed: a package install goes to
 * *pk and an index refresh is dropped (both return true). */
static bool take_packages(struct pstate *ps, const char *p, const char *end, struct pkgs *pk,
			  unsigned line)
{
	const char *args, *pm, *word[64];
	size_t len[64], n = 0;
	bool sudo, update;

	p = skip_sudo(p, end, &sudo);
	while (p < end && is_assignment(p, end))
		p = skip_blanks(word_end(p, end), end);
	if (word_is(p, end, "env"))
		p = skip_blanks(p + 3, end);
	while (p < end && is_assignment(p, end))
		p = skip_blanks(word_end(p, end), end);
	pm = pm_command(p, end, &args, &update);
	if (pm == NULL)
		return false;
	if (update)
		return true;
	for (args = skip_blanks(args, end); args < end; args = skip_blanks(args, end)) {
		const char *e = word_end(args, end), *b = args;

		args = e;
		if (*b == '\\' && e - b == 1)
			continue;
		/* a comment or a redirection ends the packages */
		if (strchr("#<>|&", *b) || memchr(b, '>', (size_t)(e - b)))
			break;
		if (*b == '-')
			continue;
		if ((*b == '\'' || *b == '"') && e - b >= 2 && e[-1] == *b) {
			b++;
			e--;
		}
		if (e > b && n < 64) {
			word[n] = b;
			len[n++] = (size_t)(e - b);
		}
	}
	/* "pacman -Syu" with no packages upgrades the system: dropped */
	if (n == 0)
		return true;
	if (pk->pm && strcmp(pk->pm, pm) != 0) {
		skills_warn(ps->s, line, "one block installs with both %s and %s; only %s's "
			    "packages are checked", pk->pm, pm, pk->pm);
		return true;
	}
	pk->pm = pm;
	pk->line = pk->line ? pk->line : line;
	for (size_t i = 0; i < n; i++) {
		const char *b = word[i];
		size_t l = len[i];

		if (memchr(b, '$', l) || memchr(b, '`', l) || memchr(b, '*', l)) {
			skills_warn(ps->s, line, "package '%.*s' depends on the shell; it cannot be "
				    "checked", (int)l, b);
			continue;
		}
		if (strcmp(pm, "apt") == 0 && memchr(b, '=', l))
			l = (size_t)((const char *)memchr(b, '=', l) - b); /* pkg=1.2-3 */
		if (l && pk->n < 64)
			pk->list[pk->n++] = arena_strndup(ps->s->arena, b, l);
	}
	return true;
}

/* Could this command line hold "sudo" or a package install?  Lines that
 * cannot are kept byte for byte. */
static bool may_rewrite(const char *t, size_t len)
{
	static const char *const words[] = { "sudo", "apt", "apt-get", "aptitude", "dnf", "yum",
		"zypper", "pacman", "brew", "apk", "port", "pkg", NULL };

	for (const char *const *w = words; *w; w++) {
		size_t n = strlen(*w);

		for (const char *p = t; p + n <= t + len; p++) {
			p = memmem(p, (size_t)(t + len - p), *w, n);
			if (p == NULL)
				break;
			if ((p == t || strchr(" \t;&|(=", p[-1])) &&
			    (p + n == t + len || p[n] == ' ' || p[n] == '\t'))
				return true;
		}
	}
	return false;
}

#define MAX_SEGMENTS 64

/* Rewrite one logical command line: take package installs and index
 * refreshes out, drop "sudo" where a command starts, keep the rest as
 * written.  A command taken out counts as having succeeded, so "A && B &&
 * C" without B is "A && C", and "A; B && C" is "A; C".  Commands in a
 * pipeline lose their sudo but are never taken out. */
static void rewrite_command(struct pstate *ps, const char *t, size_t len, unsigned line,
			    struct pkgs *pk, struct sbuf *out, bool *root)
{
	struct {
		const char *ob, *b, *e;  /* as written, after sudo, end (blanks trimmed) */
		const char *sep;
		size_t seplen;
		char sepc;               /* ';', '&' (&&), '|' (||), 'p' (a pipe), 0 */
		bool keep;
	} seg[MAX_SEGMENTS];
	const char *p = t, *end = t + len;
	size_t n = 0;
	bool changed = false, joined = false;
	int last = -1;
	char quote = 0;

	if (!may_rewrite(t, len)) {
		sbuf_add(out, t, len);
		return;
	}
	/* split at ; && || | outside quotes (";;" ends a case branch) */
	while (p <= end && n < MAX_SEGMENTS) {
		const char *q = p, *sep = end;
		size_t seplen = 0;
		char sepc = 0;

		for (; q < end; q++) {
			if (quote) {
				if (*q == quote)
					quote = 0;
			} else if (*q == '"' || *q == '\'') {
				quote = *q;
			} else if (*q == ';' && q + 1 < end && q[1] == ';') {
				q++;
			} else if (*q == ';') {
				sep = q;
				seplen = 1;
				sepc = ';';
				break;
			} else if ((*q == '&' || *q == '|') && q + 1 < end && q[1] == *q) {
				sep = q;
				seplen = 2;
				sepc = *q;
				break;
			} else if (*q == '|') {
				sep = q;
				seplen = 1;
				sepc = 'p';
				break;
			}
		}
		seg[n].ob = seg[n].b = skip_blanks(p, sep);
		seg[n].e = sep;
		while (seg[n].e > seg[n].b && (seg[n].e[-1] == ' ' || seg[n].e[-1] == '\t'))
			seg[n].e--;
		seg[n].sep = sep;
		seg[n].seplen = seplen;
		seg[n].sepc = sepc;
		seg[n].keep = true;
		n++;
		if (sep == end)
			break;
		p = sep + seplen;
	}
	if (n == MAX_SEGMENTS && seg[n - 1].sep != end) {
		sbuf_add(out, t, len); /* too many to take apart: as written */
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool sudo, piped = seg[i].sepc == 'p' || (i > 0 && seg[i - 1].sepc == 'p');

		if (seg[i].b == seg[i].e)
			continue;
		if (!piped && take_packages(ps, seg[i].b, seg[i].e, pk, line)) {
			pk->n_dropped++;
			seg[i].keep = false;
			changed = true;
			continue;
		}
		seg[i].b = skip_sudo(seg[i].b, seg[i].e, &sudo);
		if (sudo) {
			*root = true;
			changed = true;
			skills_warn(ps->s, line, "'sudo' removed: halo-agent runs every step as you, "
				    "in the sandbox, never as root");
		}
	}
	if (!changed) {
		sbuf_add(out, t, len);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!seg[i].keep || seg[i].b == seg[i].e) {
			/* a ';' before or after what was taken out joins what remains */
			if (!seg[i].keep && (seg[i].sepc == ';' || (last >= 0 &&
			    seg[last].sepc == ';')))
				joined = true;
			continue;
		}
		if (last >= 0) {
			if ((size_t)last + 1 == i) { /* nothing taken out between: as written */
				sbuf_add(out, seg[last].e, (size_t)(seg[i].ob - seg[last].e));
			} else if (joined || seg[i - 1].sepc == ';') {
				sbuf_adds(out, "; ");
			} else {
				sbuf_adds(out, " ");
				sbuf_add(out, seg[i - 1].sep, seg[i - 1].seplen);
				sbuf_adds(out, " ");
			}
		}
		sbuf_add(out, seg[i].b, (size_t)(seg[i].e - seg[i].b));
		last = (int)i;
		joined = false;
	}
	/* a separator the line ended with (a trailing ';' or '&&' continued below) */
	if (last >= 0 && seg[last].seplen && (size_t)last + 2 == n &&
	    seg[n - 1].b == seg[n - 1].e)
		sbuf_add(out, seg[last].e, (size_t)(seg[n - 1].e - seg[last].e));
}

/* Does the script hold anything but blank lines and comments? */
static bool has_real_command(const struct script *sc)
{
	const char *p = sc->text.p;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		size_t i = strspn(p, " \t");

		if (i < n && p[i] != '#')
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

/* Record the file line of the next line of code (0: not known yet). */
static int push_code_line(struct pstate *ps, unsigned line)
{
	if (ps->n_code_lines == ps->cap_code_lines) {
		size_t cap = ps->cap_code_lines ? ps->cap_code_lines * 2 : 64;
		unsigned *v;

		if (ps->n_code_lines >= MAX_SCRIPT_LINES)
			return ps->err = skills_seterr(SKILLS_EPARSE, "%s:%u: a code block longer "
						       "than %d lines", ps->s->file,
						       line_of_off(ps, ps->cursor), MAX_SCRIPT_LINES);
		v = realloc(ps->code_lines, cap * sizeof(*v));
		if (v == NULL)
			return ps->err = skills_seterr(SKILLS_EIO, "out of memory");
		ps->code_lines = v;
		ps->cap_code_lines = cap;
	}
	ps->code_lines[ps->n_code_lines++] = line;
	return 0;
}

/* ---- steps ----------------------------------------------------------------- */

static struct skills_step *new_step(struct pstate *ps, unsigned line)
{
	struct skills_skill *s = ps->s;
	struct skills_step *st;
	int groups[SKILLS_MAX_ALT], options[SKILLS_MAX_ALT];
	size_t n_alt = 0;

	if (s->n_steps >= SKILLS_MAX_STEPS) {
		ps->err = skills_seterr(SKILLS_EPARSE, "%s:%u: more than %d code blocks", s->file,
					line, SKILLS_MAX_STEPS);
		return NULL;
	}
	if (s->n_steps == ps->cap_steps) {
		size_t cap = ps->cap_steps ? ps->cap_steps * 2 : 16;
		struct skills_step *v = arena_alloc(s->arena, cap * sizeof(*v));

		if (v == NULL) {
			ps->err = skills_seterr(SKILLS_EIO, "out of memory");
			return NULL;
		}
		if (s->n_steps)
			memcpy(v, s->steps, s->n_steps * sizeof(*v));
		s->steps = v;
		ps->cap_steps = cap;
	}
	st = &s->steps[s->n_steps++];
	memset(st, 0, sizeof(*st));
	st->line = line;
	st->alt_group = -1;
	st->alt_option = -1;
	st->section = current_section(ps, &st->section_heading);
	st->heading = "";
	st->note = "";
	st->lang = "";
	/* The innermost heading's text; the condition of the headings above,
	 * each of os, arch and pm from the innermost that names it ("macOS" >
	 * "Apple silicon (arm64)" is macos and aarch64); the innermost platform
	 * or method heading is the option, among its siblings, this step
	 * belongs to. */
	for (int l = MAX_HEADING; l >= 1; l--) {
		const struct heading *h = &ps->h[l];

		if (!h->present)
			continue;
		if (st->heading[0] == '\0')
			st->heading = h->text;
		if (st->when.n_os == 0 && h->cond.n_os) {
			memcpy(st->when.os, h->cond.os, sizeof(st->when.os));
			st->when.n_os = h->cond.n_os;
		}
		if (st->when.n_arch == 0 && h->cond.n_arch) {
			memcpy(st->when.arch, h->cond.arch, sizeof(st->when.arch));
			st->when.n_arch = h->cond.n_arch;
		}
		if (st->when.n_pm == 0 && h->cond.n_pm) {
			memcpy(st->when.pm, h->cond.pm, sizeof(st->when.pm));
			st->when.n_pm = h->cond.n_pm;
		}
		if ((h->has_cond || h->method) && n_alt < SKILLS_MAX_ALT) {
			groups[n_alt] = h->parent_id + 1; /* 0: top level */
			options[n_alt++] = h->id;
		}
	}
	for (size_t k = 0; k < n_alt; k++) { /* outermost first */
		st->alt_groups[k] = groups[n_alt - 1 - k];
		st->alt_options[k] = options[n_alt - 1 - k];
	}
	st->n_alt = n_alt;
	if (n_alt) {
		st->alt_group = groups[0];
		st->alt_option = options[0];
	}
	return st;
}

static bool shell_lang(const char *l)
{
	static const char *const langs[] = { "sh", "bash", "shell", "zsh", "console",
		"shell-session", "shellsession", "sh-session", "bash-session", "terminal",
		NULL };

	for (const char *const *p = langs; *p; p++)
		if (strcasecmp(l, *p) == 0)
			return true;
	return false;
}

static bool console_lang(const char *l)
{
	return strcasecmp(l, "console") == 0 || strcasecmp(l, "terminal") == 0 ||
	       strstr(l, "session") != NULL;
}

static bool hex64(const char *v)
{
	size_t n = strlen(v);

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]))
			return false;
	return true;
}

/* A relative path that stays where it is put: no "..", not absolute. */
static bool safe_rel(const char *p)
{
	if (p[0] == '\0' || p[0] == '/')
		return false;
	for (const char *c = p; *c; ) {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return false;
		c += n;
		if (*c == '/')
			c++;
	}
	return true;
}

static int make_fetch(struct pstate *ps, struct skills_step *st, char **lines, size_t *lens,
		      size_t n)
{
	struct skills_skill *s = ps->s;
	char seen[128] = "", key[16];

	st->kind = SKILLS_STEP_FETCH;
	for (size_t i = 0; i < n; i++) {
		const char *t = lines[i], *colon;
		size_t len = lens[i], kl;
		unsigned line = ps->code_lines[i] ? ps->code_lines[i] : st->line + 1 + (unsigned)i;
		char *val;

		while (len && (*t == ' ' || *t == '\t'))
			t++, len--;
		while (len && (t[len - 1] == ' ' || t[len - 1] == '\t' || t[len - 1] == '\r'))
			len--;
		if (len == 0 || t[0] == '#')
			continue;
		colon = memchr(t, ':', len);
		if (colon == NULL)
			return skills_seterr(SKILLS_EPARSE, "%s:%u: fetch block: '%.*s' is not "
					     "'key: value' (url, sha256, to, extract)", s->file,
					     line, (int)(len > 60 ? 60 : len), t);
		kl = (size_t)(colon - t);
		colon++;
		while (colon < t + len && *colon == ' ')
			colon++;
		val = arena_strndup(s->arena, colon, (size_t)(t + len - colon));
		snprintf(key, sizeof(key), "|%.*s|", (int)(kl < 12 ? kl : 12), t);
		if (strstr(seen, key))
			return skills_seterr(SKILLS_EPARSE, "%s:%u: fetch block: '%.*s' is given "
					     "twice", s->file, line, (int)kl, t);
		if (strlen(seen) + strlen(key) < sizeof(seen))
			strcat(seen, key);
		if (kl == 3 && memcmp(t, "url", 3) == 0) {
			/* a URL that starts with a variable is checked once expanded */
			if (val[0] != '$' &&
			    strncasecmp(val, "https://", 8) != 0 && strncasecmp(val, "http://", 7) != 0)
				return skills_seterr(SKILLS_EPARSE, "%s:%u: url: '%.80s' is not an "
						     "http:// or https:// address", s->file, line,
						     val);
			st->url = val;
		} else if (kl == 6 && memcmp(t, "sha256", 6) == 0) {
			if (!hex64(val))
				return skills_seterr(SKILLS_EPARSE, "%s:%u: sha256 '%.80s' is not a "
						     "sha256 (64 hex digits)", s->file, line, val);
			for (char *c = val; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			st->sha256 = val;
		} else if (kl == 2 && memcmp(t, "to", 2) == 0) {
			if (!safe_rel(val))
				return skills_seterr(SKILLS_EPARSE, "%s:%u: to: '%s' must be a "
						     "relative path inside the workspace", s->file,
						     line, val);
			st->to = val;
		} else if (kl == 7 && memcmp(t, "extract", 7) == 0) {
			if (!safe_rel(val))
				return skills_seterr(SKILLS_EPARSE, "%s:%u: extract: '%s' must be a "
						     "relative directory inside the workspace "
						     "('.' for the workspace itself)", s->file, line,
						     val);
			st->extract = val;
		} else if (kl == 3 && memcmp(t, "git", 3) == 0) {
			st->git = val;
		} else if (kl == 6 && memcmp(t, "commit", 6) == 0) {
			if (strlen(val) < 7 || strlen(val) > 64 || strspn(val, "0123456789abcdefABCDEF") !=
			    strlen(val))
				return skills_seterr(SKILLS_EPARSE, "%s:%u: commit '%.80s' is not a "
						     "commit id (7 to 64 hex digits)", s->file, line,
						     val);
			st->commit = val;
		} else {
			return skills_seterr(SKILLS_EPARSE, "%s:%u: fetch block: unknown key "
					     "'%.*s' (known: url, sha256, git, commit, to, extract)",
					     s->file, line, (int)kl, t);
		}
	}
	if (st->git) {
		const char *base, *end;

		if (st->url || st->sha256 || st->extract)
			return skills_seterr(SKILLS_EPARSE, "%s:%u: a fetch block is either a "
					     "download (url, sha256, extract) or a clone (git, "
					     "commit), not both", s->file, st->line);
		if (st->commit == NULL)
			skills_warn(s, st->line, "the clone of %s is not pinned: add 'commit: <id>' "
				    "so every install builds the same source", st->git);
		if (st->to == NULL) {
			end = st->git + strlen(st->git);
			while (end > st->git && end[-1] == '/')
				end--;
			if (end - st->git > 4 && memcmp(end - 4, ".git", 4) == 0)
				end -= 4;
			base = end;
			while (base > st->git && base[-1] != '/' && base[-1] != ':')
				base--;
			st->to = arena_strndup(s->arena, base, (size_t)(end - base));
			if (!safe_rel(st->to) || strchr(st->to, '$'))
				return skills_seterr(SKILLS_EPARSE, "%s:%u: cannot name the clone from "
						     "its URL: add 'to: DIR'", s->file, st->line);
		}
		return 0;
	}
	if (st->commit)
		return skills_seterr(SKILLS_EPARSE, "%s:%u: 'commit' goes with 'git', not with "
				     "a download", s->file, st->line);
	if (st->url == NULL || st->url[0] == '\0')
		return skills_seterr(SKILLS_EPARSE, "%s:%u: fetch block without 'url:' (or "
				     "'git:')", s->file, st->line);
	if (st->sha256 == NULL)
		return skills_seterr(SKILLS_EPARSE, "%s:%u: fetch of %s has no sha256: pin the "
				     "download with 'sha256: <64 hex digits>'", s->file, st->line,
				     st->url);
	if (st->to == NULL) {
		const char *path = st->url, *q = strpbrk(path, "?#");
		size_t end = q ? (size_t)(q - path) : strlen(path);
		size_t b = end;

		while (b > 0 && path[b - 1] != '/')
			b--;
		st->to = arena_strndup(s->arena, path + b, end - b);
		if (!safe_rel(st->to) || strchr(st->to, '$'))
			return skills_seterr(SKILLS_EPARSE, "%s:%u: cannot name the download from "
					     "its URL: add 'to: FILE'", s->file, st->line);
	}
	return 0;
}

/* The delimiter of a here-document a command line opens ("<<EOF",
 * "<<-'EOF'", "<< \"END\""), into word; "" if none. */
static void heredoc_word(const char *cmd, char *word, size_t cap)
{
	const char *p = cmd;

	word[0] = '\0';
	while ((p = strstr(p, "<<")) != NULL) {
		size_t n;
		char q = 0;

		p += 2;
		if (*p == '<') { /* <<< here-string */
			p++;
			continue;
		}
		if (*p == '-')
			p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\'' || *p == '"')
			q = *p++;
		n = q ? strcspn(p, q == '"' ? "\"" : "'") : strcspn(p, " \t;&|<>)");
		if (n == 0 || n >= cap)
			continue;
		memcpy(word, p, n);
		word[n] = '\0';
		return;
	}
}

/* Turn the code block just read into a step (or two: packages, then the
 * rest of the script). */
static int finish_code(struct pstate *ps, unsigned open_line)
{
	struct skills_skill *s = ps->s;
	struct skills_step *st;
	char *lang = ps->lang ? ps->lang : "", *attrs = NULL;
	char **lines = NULL;
	size_t *lens = NULL, n = 0;
	struct script sc = { 0 };
	struct pkgs pk = { 0 };
	bool root = false, console, in_cmd = false;
	size_t indent;
	char heredoc[64] = "";
	int rc = 0;

	/* the lines of the block */
	if (ps->code.len) {
		size_t cap = 1;

		for (size_t i = 0; i < ps->code.len; i++)
			cap += ps->code.p[i] == '\n';
		lines = calloc(cap, sizeof(*lines));
		lens = calloc(cap, sizeof(*lens));
		if (lines == NULL || lens == NULL) {
			rc = skills_seterr(SKILLS_EIO, "out of memory");
			goto out;
		}
		for (char *p = ps->code.p; *p && n < cap; ) {
			char *nl = strchr(p, '\n');

			lines[n] = p;
			lens[n] = nl ? (size_t)(nl - p) : strlen(p);
			n++;
			if (nl == NULL)
				break;
			p = nl + 1;
		}
	}
	/* lines md4c gave no pointer for (blank): count on from the last known */
	while (n > ps->n_code_lines)
		if (push_code_line(ps, 0) < 0) {
			rc = ps->err;
			goto out;
		}
	for (size_t i = 0; i < n; i++)
		if (ps->code_lines[i] == 0)
			ps->code_lines[i] = i ? ps->code_lines[i - 1] + 1
					      : open_line + (ps->fence ? 1 : 0);

	if ((st = new_step(ps, open_line)) == NULL) {
		rc = ps->err;
		goto out;
	}
	if (ps->info) {
		const char *a = strchr(ps->info, '{');

		if (a) {
			const char *e = strchr(a, '}');

			if (e == NULL) {
				rc = skills_seterr(SKILLS_EPARSE, "%s:%u: unterminated '{' in the "
						   "info string '%s'", s->file, open_line, ps->info);
				goto out;
			}
			attrs = arena_strndup(s->arena, a + 1, (size_t)(e - a - 1));
		} else if (ps->lang && strlen(ps->info) > strlen(ps->lang)) {
			attrs = arena_strdup(s->arena, ps->info + strlen(ps->lang));
		}
		if (attrs && (rc = parse_attrs(ps, st, attrs, open_line)) < 0)
			goto out;
	}
	st->lang = arena_strdup(s->arena, lang);
	st->note = ps->note.len ? arena_strdup(s->arena, ps->note.p) : "";
	sbuf_free(&ps->note);

	if (ps->fence == 0) {
		st->kind = SKILLS_STEP_TEXT;
		goto out;
	}
	if (strcasecmp(lang, "fetch") == 0 || strcasecmp(lang, "download") == 0) {
		rc = make_fetch(ps, st, lines, lens, n);
		goto out;
	}
	if (!shell_lang(lang)) {
		st->kind = SKILLS_STEP_TEXT;
		st->script = ps->code.len ? arena_strdup(s->arena, ps->code.p) : "";
		goto out;
	}

	/* a shell block: prompts, continuations, sudo and package installs */
	indent = prompt_indent(lines, lens, n);
	console = console_lang(lang) || has_dollar_prompt(lines, lens, n, indent);
	for (size_t i = 0; i < n; i++) {
		const char *t = lines[i];
		size_t len = lens[i];
		unsigned line = ps->code_lines[i];

		if (heredoc[0]) {
			/* a here-document's body is data: kept as it is (in a
			 * transcript, without its "> " prompts) */
			size_t a = 0, b;

			if (console && len > indent && t[indent] == '>') {
				size_t pl = len > indent + 1 && t[indent + 1] == ' ' ? 2 : 1;

				t += indent + pl;
				len -= indent + pl;
			}
			b = len;
			script_line(&sc, t, len, line);
			while (a < b && t[a] == '\t')
				a++;
			while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\r'))
				b--;
			if (b - a == strlen(heredoc) && memcmp(t + a, heredoc, b - a) == 0)
				heredoc[0] = '\0';
			continue;
		}
		struct sbuf cmd = { 0 }, kept = { 0 };
		bool r = false;

		if (console) {
			size_t pl = len > indent ? prompt_len(t + indent, len - indent, &r) : 0;

			if (pl == 0 && in_cmd && len > indent && t[indent] == '>' &&
			    (len == indent + 1 || t[indent + 1] == ' ')) {
				pl = len == indent + 1 ? 1 : 2; /* "> ": the command goes on */
			} else if (pl == 0) {
				in_cmd = false;
				continue; /* output */
			}
			in_cmd = true;
			t += indent + pl;
			len -= indent + pl;
		}
		sbuf_add(&cmd, t, len);
		/* a command continued with "\" (and, in a console, "> ") */
		while (ends_with_backslash(cmd.p ? cmd.p : "", cmd.len) && i + 1 < n) {
			const char *u = lines[i + 1];
			size_t ul = lens[i + 1];

			if (console && ul >= 2 && u[0] == '>' && u[1] == ' ') {
				u += 2;
				ul -= 2;
			}
			cmd.len--; /* the backslash */
			while (cmd.len && (cmd.p[cmd.len - 1] == ' ' || cmd.p[cmd.len - 1] == '\t'))
				cmd.len--;
			cmd.p[cmd.len] = '\0';
			sbuf_adds(&cmd, " ");
			while (ul && (*u == ' ' || *u == '\t'))
				u++, ul--;
			sbuf_add(&cmd, u, ul);
			i++;
		}
		if (cmd.failed) {
			sbuf_free(&cmd);
			rc = skills_seterr(SKILLS_EIO, "out of memory");
			goto out;
		}
		if (cmd.len && cmd.p[strspn(cmd.p, " \t")] != '#') {
			rewrite_command(ps, cmd.p, cmd.len, line, &pk, &kept, &root);
			if (kept.len)
				heredoc_word(kept.p, heredoc, sizeof(heredoc));
		} else if (cmd.len) {
			sbuf_add(&kept, cmd.p, cmd.len); /* a comment stays */
		}
		if (kept.len)
			script_line(&sc, kept.p, kept.len, line);
		if (r && kept.len) /* a root prompt's command stays in the script */
			root = true;
		sbuf_free(&cmd);
		sbuf_free(&kept);
	}
	if (sc.text.failed) {
		rc = skills_seterr(SKILLS_EIO, "out of memory");
		goto out;
	}
	if (pk.pm) {
		/* the packages come first, as their own step */
		struct skills_step copy = *st;

		st->kind = SKILLS_STEP_PACKAGES;
		st->pm = pk.pm;
		st->packages = arena_alloc(s->arena, (pk.n ? pk.n : 1) * sizeof(*st->packages));
		if (st->packages == NULL) {
			rc = skills_seterr(SKILLS_EIO, "out of memory");
			goto out;
		}
		memcpy(st->packages, pk.list, pk.n * sizeof(*st->packages));
		st->n_packages = pk.n;
		st->root = true;
		st->creates = st->unless = NULL;
		if (sc.n == 0 || !has_real_command(&sc))
			goto out;
		if ((st = new_step(ps, open_line)) == NULL) {
			rc = ps->err;
			goto out;
		}
		*st = copy;
	}
	st->kind = SKILLS_STEP_SHELL;
	st->root = root;
	if (!has_real_command(&sc)) {
		if (pk.n_dropped) {
			/* "sudo apt-get update" alone: nothing for us to do */
			skills_warn(s, open_line, "this block only refreshes or upgrades the "
				    "system's packages, which halo-agent leaves to you; skipped");
			s->n_steps--;
			goto out;
		}
		if (st->section == SKILLS_SEC_OTHER) {
			st->kind = SKILLS_STEP_TEXT;
			st->script = ps->code.len ? arena_strdup(s->arena, ps->code.p) : "";
			goto out;
		}
		rc = skills_seterr(SKILLS_EPARSE, "%s:%u: this %s block has no command to run%s",
				   s->file, open_line, lang,
				   console ? " (in a console block, commands start with '$ ')" : "");
		goto out;
	}
	st->script = arena_strndup(s->arena, sc.text.p, sc.text.len);
	st->script_lines = arena_alloc(s->arena, sc.n * sizeof(unsigned));
	if (st->script == NULL || st->script_lines == NULL) {
		rc = skills_seterr(SKILLS_EIO, "out of memory");
		goto out;
	}
	memcpy((unsigned *)st->script_lines, sc.lines, sc.n * sizeof(unsigned));
	st->n_script_lines = sc.n;
out:
	free(lines);
	free(lens);
	sbuf_free(&sc.text);
	free(sc.lines);
	return rc;
}

/* ---- md4c callbacks ------------------------------------------------------- */

static void see(struct pstate *ps, const char *p, size_t n)
{
	if (in_doc(ps, p) && (size_t)(p - ps->doc) + n > ps->cursor)
		ps->cursor = (size_t)(p - ps->doc) + n;
}

static char *attr_str(struct pstate *ps, const MD_ATTRIBUTE *a)
{
	return a->size ? arena_strndup(ps->s->arena, a->text, a->size) : NULL;
}

/* The line of the opening fence of the block just entered. */
/* The first line that starts at or after offset off. */
static unsigned first_line_after(const struct pstate *ps, size_t off)
{
	unsigned n = line_of_off(ps, off);

	return off == 0 || ps->doc[off - 1] == '\n' ? n : n + 1;
}

static unsigned code_open_line(struct pstate *ps)
{
	if (ps->info_ptr && in_doc(ps, ps->info_ptr))
		return line_of(ps, ps->info_ptr);
	if (ps->fence == 0) /* an indented block starts with its code */
		return ps->code_first ? line_of(ps, ps->code_first) : line_of_off(ps, ps->code_start);
	/* no info string: the first fence after what came before the block (its
	 * code may start with blank lines, which give no pointer) */
	for (unsigned n = first_line_after(ps, ps->code_start); n <= ps->n_lines; n++)
		if (is_fence_line(ps, n, ps->fence))
			return n;
	return line_of_off(ps, ps->code_start);
}

/* A fenced block must be closed by a fence: md4c lets it run to the end of
 * its container, which in a skill is always a mistake. */
static int check_closed(struct pstate *ps, unsigned open_line)
{
	unsigned n = ps->code_last_end ? line_of(ps, ps->code_last_end - 1) + 1 : open_line + 1;

	if (ps->code_last_end && ps->code_last_end > ps->doc &&
	    ps->code_last_end[-1] == '\n')
		n = line_of(ps, ps->code_last_end - 1) + 1;
	for (; n <= ps->n_lines; n++) {
		if (is_fence_line(ps, n, ps->fence)) {
			size_t len;
			const char *t = line_text(ps, n, &len);

			see(ps, t, len);
			return 0;
		}
		if (!is_blank_line(ps, n))
			break;
	}
	return skills_seterr(SKILLS_EPARSE, "%s:%u: unterminated code fence: the block opened "
			     "here is never closed with %c%c%c", ps->s->file, open_line,
			     ps->fence, ps->fence, ps->fence);
}

/* A paragraph ends: the summary (right after the title) and the note the
 * next code block carries. */
static void flush_para(struct pstate *ps)
{
	struct skills_skill *s = ps->s;
	const char *p = ps->para.p;
	size_t len = ps->para.len;

	while (len && (*p == ' ' || *p == '\t'))
		p++, len--;
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len && !ps->para.failed) {
		/* the summary is prose: not a list (a table of contents) or a table */
		if (ps->after_title && s->summary == NULL && s->description == NULL &&
		    ps->li_depth == 0 && !ps->in_table)
			s->summary = arena_strndup(s->arena, p, len);
		if (ps->note.len < MAX_NOTE) {
			if (ps->note.len)
				sbuf_adds(&ps->note, " ");
			sbuf_add(&ps->note, p, len);
		}
	}
	sbuf_free(&ps->para);
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	struct pstate *ps = ud;

	switch (type) {
	case MD_BLOCK_H:
		flush_para(ps); /* what came before belongs to the previous section */
		ps->in_heading = (int)((MD_BLOCK_H_DETAIL *)detail)->level;
		ps->heading_ptr = NULL;
		sbuf_free(&ps->heading_text);
		break;
	case MD_BLOCK_QUOTE:
		ps->quote_depth++;
		break;
	case MD_BLOCK_P:
	case MD_BLOCK_LI:
		flush_para(ps);
		ps->in_para = type == MD_BLOCK_P;
		ps->li_depth += type == MD_BLOCK_LI;
		break;
	case MD_BLOCK_TABLE:
		flush_para(ps);
		ps->in_table = true;
		break;
	case MD_BLOCK_CODE: {
		MD_BLOCK_CODE_DETAIL *d = detail;

		flush_para(ps);
		ps->in_code = true;
		ps->fence = d->fence_char;
		ps->info = attr_str(ps, &d->info);
		ps->lang = attr_str(ps, &d->lang);
		if (ps->lang && strchr(ps->lang, '{')) /* ```sh{os=linux} */
			*strchr(ps->lang, '{') = '\0';
		ps->info_ptr = d->info.size ? d->info.text : NULL;
		ps->code_first = ps->code_last_end = NULL;
		ps->code_start = ps->cursor;
		ps->n_code_lines = 0;
		ps->code_line_open = false;
		sbuf_free(&ps->code);
		break;
	}
	default:
		break;
	}
	return ps->err;
}

static void end_heading(struct pstate *ps)
{
	int level = ps->in_heading;
	struct heading *h = &ps->h[level];
	const char *text = ps->heading_text.p ? ps->heading_text.p : "";
	int parent = -1;

	for (int l = level - 1; l >= 1; l--)
		if (ps->h[l].present) {
			parent = ps->h[l].id;
			break;
		}
	for (int l = level; l <= MAX_HEADING; l++)
		ps->h[l].present = false;
	memset(h, 0, sizeof(*h));
	h->present = true;
	h->text = arena_strdup(ps->s->arena, text);
	h->id = ps->next_heading_id++;
	h->parent_id = parent;
	if (level == 1 && !ps->seen_h1) {
		classify_heading(ps, h, true);
		ps->seen_h1 = true;
		ps->s->title = h->text;
		ps->after_title = true;
	} else {
		classify_heading(ps, h, false);
		ps->after_title = false;
	}
	sbuf_free(&ps->note);
	ps->in_heading = 0;
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	struct pstate *ps = ud;

	(void)detail;
	switch (type) {
	case MD_BLOCK_H:
		end_heading(ps);
		break;
	case MD_BLOCK_TABLE: /* its cells are the note of what follows */
		flush_para(ps);
		ps->in_table = false;
		break;
	case MD_BLOCK_QUOTE:
		ps->quote_depth--;
		break;
	case MD_BLOCK_P:
	case MD_BLOCK_LI:
		ps->in_para = false;
		flush_para(ps);
		if (type == MD_BLOCK_LI && ps->li_depth > 0)
			ps->li_depth--;
		break;
	case MD_BLOCK_CODE: {
		unsigned open_line = code_open_line(ps);

		ps->in_code = false;
		if (ps->fence && (ps->err = check_closed(ps, open_line)) < 0)
			break;
		ps->err = finish_code(ps, open_line);
		ps->after_title = false;
		break;
	}
	default:
		break;
	}
	return ps->err;
}

/* An image's alt text is not prose: a line of badges ("build passing")
 * is no summary, a logo no part of a title. */
static int enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
	struct pstate *ps = ud;

	(void)detail;
	if (type == MD_SPAN_IMG)
		ps->in_img++;
	return 0;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
	struct pstate *ps = ud;

	(void)detail;
	if (type == MD_SPAN_IMG && ps->in_img > 0)
		ps->in_img--;
	return 0;
}

static void code_text(struct pstate *ps, const char *text, MD_SIZE size)
{
	if (in_doc(ps, text) && size > 0) {
		if (ps->code_first == NULL)
			ps->code_first = text;
		ps->code_last_end = text + size;
		if (!ps->code_line_open) {
			if (push_code_line(ps, line_of(ps, text)) < 0)
				return;
			ps->code_line_open = true;
		}
	}
	if (size == 1 && text[0] == '\n') {
		/* a blank line: no pointer came for it */
		if (!ps->code_line_open && push_code_line(ps, 0) < 0)
			return;
		ps->code_line_open = false;
	}
	sbuf_add(&ps->code, text, size);
}

/* The character an HTML entity of prose stands for ("&amp;" is "&"), for
 * the few that READMEs use; others stay as written. */
static const char *entity_text(const char *text, MD_SIZE *size)
{
	static const struct { const char *name, *ch; } t[] = {
		{ "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&quot;", "\"" },
		{ "&apos;", "'" }, { "&#39;", "'" }, { "&nbsp;", " " },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (*size == strlen(t[i].name) && memcmp(text, t[i].name, *size) == 0) {
			*size = (MD_SIZE)strlen(t[i].ch);
			return t[i].ch;
		}
	return text;
}

static int text_cb(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *ud)
{
	struct pstate *ps = ud;

	see(ps, text, size);
	if (ps->in_code) {
		code_text(ps, text, size);
		return ps->err;
	}
	if (ps->in_img)
		return 0;
	if (type == MD_TEXT_ENTITY)
		text = entity_text(text, &size);
	if (ps->in_heading) {
		if (type == MD_TEXT_SOFTBR || type == MD_TEXT_BR)
			sbuf_adds(&ps->heading_text, " ");
		else if (ps->heading_text.len < 400)
			sbuf_add(&ps->heading_text, text, size);
		return 0;
	}
	if (type == MD_TEXT_SOFTBR || type == MD_TEXT_BR)
		sbuf_adds(&ps->para, " ");
	else if (ps->para.len < MAX_NOTE)
		sbuf_add(&ps->para, text, size);
	return 0;
}

/* ---- the whole document -------------------------------------------------- */

/* A name for a document without front matter: its title or file name,
 * lower-cased with runs of other characters turned into one '-'.  A title
 * says more than the name: "qk — a quick file finder" is qk, "Installing
 * Widgetd" is widgetd. */
static const char *derive_name(struct skills_skill *s, const char *from)
{
	static const char *const seps[] = { " \xe2\x80\x94 ", " \xe2\x80\x93 ", " - ", ": ", " (",
		" | ", NULL };
	static const char *const leads[] = { "how to ", "installing ", "install ",
		"installation of ", "setting up ", "set up ", NULL };
	const char *end = from + strlen(from);
	char buf[65];
	size_t o = 0;
	bool dash = false;

	for (const char *const *sp = seps; *sp; sp++) {
		const char *q = strstr(from, *sp);

		if (q && q > from && q < end)
			end = q;
	}
	for (const char *const *l = leads; *l; l++) {
		size_t n = strlen(*l);

		if ((size_t)(end - from) > n && strncasecmp(from, *l, n) == 0)
			from += n;
	}
	for (const char *p = from; p < end && o < sizeof(buf) - 1; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalnum(c) && c < 0x80) {
			if (dash && o > 0) {
				if (o + 2 > sizeof(buf) - 1)
					break;
				buf[o++] = '-';
			}
			buf[o++] = (char)tolower(c);
			dash = false;
		} else {
			dash = true;
		}
	}
	buf[o] = '\0';
	return o ? arena_strdup(s->arena, buf) : NULL;
}

static void resolve_sections(struct pstate *ps)
{
	struct skills_skill *s = ps->s;

	for (size_t i = 0; i < s->n_steps; i++) {
		struct skills_step *st = &s->steps[i];

		if (st->section == SKILLS_SEC_NONE)
			st->section = ps->any_install ? SKILLS_SEC_OTHER : SKILLS_SEC_INSTALL;
	}
}

int skills_parse(struct skills_skill *out, const char *file, const char *dir_name,
		 const char *text, size_t len)
{
	static const MD_PARSER parser = {
		.abi_version = 0,
		.flags = MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_TASKLISTS |
			 MD_FLAG_NOHTML,
		.enter_block = enter_block,
		.leave_block = leave_block,
		.enter_span = enter_span,
		.leave_span = leave_span,
		.text = text_cb,
	};
	struct pstate ps = { 0 };
	struct skills_skill *s = out;
	const char *body = text, *nul;
	unsigned body_line = 1;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	s->file = file;
	if (len > SKILLS_MAX_DOC)
		return skills_seterr(SKILLS_EPARSE, "%s: %zu bytes is more than a skill may be "
				     "(%u)", file, len, SKILLS_MAX_DOC);
	if ((nul = memchr(text, '\0', len)) != NULL) {
		unsigned line = 1;

		for (size_t i = 0; text + i < nul; i++)
			line += is_eol(text, len, i);
		return skills_seterr(SKILLS_EPARSE, "%s:%u: a NUL byte: this is not a text file",
				     file, line);
	}
	if ((s->arena = arena_new()) == NULL)
		return skills_seterr(SKILLS_EIO, "out of memory");
	s->file = arena_strdup(s->arena, file);
	skills_sha256_hex(text, len, s->sha256);

	ps.s = s;
	ps.doc = text;
	ps.len = len;
	{
		/* lines end as CommonMark (and md4c) end them: "\n", "\r\n" or a
		 * lone "\r" */
		size_t n = 1;

		for (size_t i = 0; i < len; i++)
			n += is_eol(text, len, i);
		ps.line_start = malloc(n * sizeof(*ps.line_start));
		if (ps.line_start == NULL) {
			rc = skills_seterr(SKILLS_EIO, "out of memory");
			goto out;
		}
		ps.line_start[0] = 0;
		ps.n_lines = 1;
		for (size_t i = 0; i < len; i++)
			if (is_eol(text, len, i) && i + 1 < len)
				ps.line_start[ps.n_lines++] = (unsigned)(i + 1);
	}

	/* front matter: "---" on the first line (after a BOM) up to "---" or "..." */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		body += 3;
	if ((size_t)(text + len - body) >= 4 && memcmp(body, "---", 3) == 0 &&
	    (body[3] == '\n' || body[3] == '\r')) {
		unsigned n;
		const char *fm = NULL, *fm_end = NULL;

		for (n = 2; n <= ps.n_lines; n++) {
			size_t ll;
			const char *t = line_text(&ps, n, &ll);

			if ((ll == 3 && (memcmp(t, "---", 3) == 0 || memcmp(t, "...", 3) == 0))) {
				fm = ps.n_lines >= 2 ? text + ps.line_start[1] : t;
				fm_end = t;
				break;
			}
		}
		if (fm == NULL) {
			rc = skills_seterr(SKILLS_EPARSE, "%s:1: the front matter opened with '---' "
					   "is never closed with '---'", file);
			goto out;
		}
		s->format = SKILLS_FORMAT_AGENT_SKILL;
		if ((rc = skills_front_matter(s, fm, (size_t)(fm_end - fm), 2, dir_name)) < 0)
			goto out;
		body = n < ps.n_lines ? text + ps.line_start[n] : text + len;
		body_line = n + 1;
		ps.cursor = (size_t)(body - text);
	} else {
		s->format = SKILLS_FORMAT_DOCUMENT;
	}
	(void)body_line;

	if (md_parse(body, (MD_SIZE)(text + len - body), &parser, &ps) != 0) {
		rc = ps.err ? ps.err : skills_seterr(SKILLS_EPARSE, "%s: the Markdown could not "
						     "be parsed", file);
		goto out;
	}
	resolve_sections(&ps);

	if (s->name == NULL) {
		if (s->title)
			s->name = derive_name(s, s->title);
		if (s->name == NULL && dir_name)
			s->name = derive_name(s, dir_name);
		if (s->name == NULL) {
			rc = skills_seterr(SKILLS_EPARSE, "%s:1: missing name: add front matter "
					   "with 'name:' or an H1 title", file);
			goto out;
		}
	}
	if (s->description == NULL && s->summary)
		s->description = s->summary;
	if (s->n_steps == 0)
		skills_warn(s, 1, "no code blocks: nothing to run");
out:
	free(ps.line_start);
	free(ps.code_lines);
	sbuf_free(&ps.heading_text);
	sbuf_free(&ps.para);
	sbuf_free(&ps.note);
	sbuf_free(&ps.code);
	if (rc < 0) {
		arena_free(s->arena);
		memset(s, 0, sizeof(*s));
	}
	return rc;
}

void skills_skill_free(struct skills_skill *s)
{
	if (s == NULL)
		return;
	arena_free(s->arena);
	memset(s, 0, sizeof(*s));
}

/* A file or a folder holding SKILL.md. */
int skills_parse_path(struct skills_skill *out, const char *path)
{
	char file[PATH_MAX], dir[PATH_MAX];
	const char *dir_name = NULL;
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	if (stat(path, &sb) < 0)
		return skills_seterr(SKILLS_EIO, "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		if (snprintf(file, sizeof(file), "%s/SKILL.md", path) >= (int)sizeof(file))
			return skills_seterr(SKILLS_EIO, "%s: path too long", path);
		if (access(file, F_OK) < 0)
			return skills_seterr(SKILLS_ENOTFOUND, "%s: no SKILL.md in this folder",
					     path);
	} else {
		snprintf(file, sizeof(file), "%s", path);
	}
	/* the folder's name, for the name check of a SKILL.md */
	if (strcmp(file + (strlen(file) >= 8 ? strlen(file) - 8 : 0), "SKILL.md") == 0 &&
	    realpath(file, dir)) {
		char *slash = strrchr(dir, '/');

		if (slash) {
			*slash = '\0';
			slash = strrchr(dir, '/');
			dir_name = slash ? slash + 1 : dir;
		}
	}
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return skills_seterr(SKILLS_EIO, "%s: %s", file, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return skills_seterr(SKILLS_EIO, "%s: not a regular file", file);
	}
	if (sb.st_size > SKILLS_MAX_DOC) {
		close(fd);
		return skills_seterr(SKILLS_EPARSE, "%s: %lld bytes is more than a skill may be "
				     "(%u)", file, (long long)sb.st_size, SKILLS_MAX_DOC);
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return skills_seterr(SKILLS_EIO, "out of memory");
	}
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	rc = skills_parse(out, file, dir_name, buf, len);
	free(buf);
	return rc;
}

const char *skills_section_name(enum skills_section s)
{
	switch (s) {
	case SKILLS_SEC_NONE: return "none";
	case SKILLS_SEC_REQUIREMENTS: return "requirements";
	case SKILLS_SEC_INSTALL: return "install";
	case SKILLS_SEC_CONFIGURE: return "configure";
	case SKILLS_SEC_VERIFY: return "verify";
	case SKILLS_SEC_UNINSTALL: return "uninstall";
	case SKILLS_SEC_OTHER: return "other";
	}
	return "?";
}

const char *skills_step_kind_name(enum skills_step_kind k)
{
	switch (k) {
	case SKILLS_STEP_SHELL: return "shell";
	case SKILLS_STEP_PACKAGES: return "packages";
	case SKILLS_STEP_FETCH: return "fetch";
	case SKILLS_STEP_TEXT: return "text";
	}
	return "?";
}
