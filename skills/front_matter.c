/* front_matter.c - a SKILL.md's YAML front matter, read with libyaml.
 *
 * The Agent Skills rules, applied leniently: a missing or empty name is an
 * error (nothing can be registered without one); a name that breaks the
 * spec's character rules, a missing description, an unknown key, an
 * over-long field are warnings.  A value with an unquoted ": " in it (the
 * commonest hand-written mistake, e.g. "description: Use when: ...") is
 * read by quoting it, with a warning.  Our own keys live under metadata:. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "skills_int.h"

struct fm {
	struct skills_skill *s;
	yaml_document_t doc;
	unsigned first_line;
};

static unsigned node_line(const struct fm *f, const yaml_node_t *n)
{
	return f->first_line + (unsigned)n->start_mark.line;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A string field: a scalar, or a warning and NULL. */
static const char *string_field(struct fm *f, const char *key, yaml_node_t *v)
{
	const char *str = scalar(v);

	if (str == NULL) {
		skills_warn(f->s, node_line(f, v), "'%s' should be a string; ignored", key);
		return NULL;
	}
	return arena_strdup(f->s->arena, str);
}

/* The spec's name rule: 1-64 of [a-z0-9-], no leading, trailing or double
 * hyphen.  Returns NULL when it holds, else what is wrong. */
static const char *name_problem(const char *n)
{
	size_t len = strlen(n);

	if (len > 64)
		return "is longer than 64 characters";
	for (const char *p = n; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
			return "has characters other than a-z, 0-9 and '-'";
	if (n[0] == '-' || n[len - 1] == '-')
		return "starts or ends with '-'";
	if (strstr(n, "--"))
		return "has '--'";
	return NULL;
}

/* Split "a b, c" into list entries (space and comma separated); a space
 * inside parentheses belongs to its entry ("Bash(npm run:*)"). */
static void split_list(struct fm *f, const char *text, const char **list, size_t *n,
		       unsigned line, const char *key)
{
	const char *p = text;

	while (*p) {
		size_t len = 0;
		int depth = 0;

		while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
			p++;
		for (; p[len]; len++) {
			if (p[len] == '(')
				depth++;
			else if (p[len] == ')' && depth > 0)
				depth--;
			else if (depth == 0 && strchr(" ,\t\n", p[len]))
				break;
		}
		if (len == 0)
			break;
		if (*n >= SKILLS_MAX_LIST) {
			skills_warn(f->s, line, "'%s' has more than %d entries; the rest are ignored",
				    key, SKILLS_MAX_LIST);
			return;
		}
		list[(*n)++] = arena_strndup(f->s->arena, p, len);
		p += len;
	}
}

static bool var_name_ok(const char *n, size_t len)
{
	if (len == 0 || !(isupper((unsigned char)n[0]) || n[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isupper((unsigned char)n[i]) || isdigit((unsigned char)n[i]) || n[i] == '_'))
			return false;
	return true;
}

/* halo-vars: "NAME=value NAME2=value2". */
static int parse_vars(struct fm *f, const char *text, unsigned line)
{
	struct skills_skill *s = f->s;
	const char *p = text;

	while (*p) {
		const char *eq;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		len = strcspn(p, " \t\n");
		if (len == 0)
			break;
		eq = memchr(p, '=', len);
		if (eq == NULL || !var_name_ok(p, (size_t)(eq - p)))
			return skills_seterr(SKILLS_EPARSE, "%s:%u: metadata.halo-vars: '%.*s' is "
					     "not NAME=VALUE (NAME in A-Z, 0-9, _)", s->file, line,
					     (int)(len > 60 ? 60 : len), p);
		if (s->n_vars >= SKILLS_MAX_LIST)
			return skills_seterr(SKILLS_EPARSE, "%s:%u: metadata.halo-vars: more than %d "
					     "variables", s->file, line, SKILLS_MAX_LIST);
		s->vars[s->n_vars].key = arena_strndup(s->arena, p, (size_t)(eq - p));
		s->vars[s->n_vars].value = arena_strndup(s->arena, eq + 1,
							 len - (size_t)(eq - p) - 1);
		s->n_vars++;
		p += len;
	}
	return 0;
}

/* A YAML list of strings as one space-separated string, or NULL. */
static const char *join_list(struct fm *f, yaml_node_t *seq, const char *key)
{
	struct sbuf b = { 0 };
	const char *out = NULL;

	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		const char *t = scalar(yaml_document_get_node(&f->doc, *it));

		if (t == NULL) {
			sbuf_free(&b);
			return NULL;
		}
		if (b.len)
			sbuf_adds(&b, " ");
		sbuf_adds(&b, t);
	}
	if (!b.failed) {
		out = arena_strdup(f->s->arena, b.p ? b.p : "");
		skills_warn(f->s, node_line(f, seq), "metadata values are strings in the Agent "
			    "Skills spec: write %s: \"%s\" (read as that)", key, out);
	}
	sbuf_free(&b);
	return out;
}

static int read_metadata(struct fm *f, yaml_node_t *map)
{
	struct skills_skill *s = f->s;

	if (map->type != YAML_MAPPING_NODE) {
		skills_warn(s, node_line(f, map), "'metadata' should be a map of strings; ignored");
		return 0;
	}
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&f->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&f->doc, pr->value);
		const char *key = scalar(k), *val = scalar(v);
		unsigned line = node_line(f, v);

		/* our own list keys written as a YAML list: read, with a warning
		 * (elsewhere metadata must be strings) */
		if (key && val == NULL && v->type == YAML_SEQUENCE_NODE &&
		    (strcmp(key, "halo-requires") == 0 || strcmp(key, "halo-network") == 0))
			val = join_list(f, v, key);
		if (key == NULL || val == NULL) {
			skills_warn(s, node_line(f, k), "metadata entries should be strings; "
				    "'%s' ignored", key ? key : "(not a string)");
			continue;
		}
		if (s->n_meta < SKILLS_MAX_META) {
			s->meta[s->n_meta].key = arena_strdup(s->arena, key);
			s->meta[s->n_meta].value = arena_strdup(s->arena, val);
			s->n_meta++;
		}
		if (strcmp(key, "halo-version") == 0 ||
		    (strcmp(key, "version") == 0 && s->version == NULL))
			s->version = arena_strdup(s->arena, val);
		else if (strcmp(key, "halo-requires") == 0)
			split_list(f, val, s->requires, &s->n_requires, line, "halo-requires");
		else if (strcmp(key, "halo-network") == 0)
			split_list(f, val, s->hosts, &s->n_hosts, line, "halo-network");
		else if (strcmp(key, "halo-prefix") == 0)
			s->prefix = arena_strdup(s->arena, val);
		else if (strcmp(key, "halo-vars") == 0) {
			if (parse_vars(f, val, line) < 0)
				return SKILLS_EPARSE;
		} else if (strncmp(key, "halo-", 5) == 0)
			skills_warn(s, node_line(f, k), "unknown key 'metadata.%s' (halo keys: "
				    "halo-version, halo-requires, halo-network, halo-prefix, "
				    "halo-vars)", key);
	}
	return 0;
}

static void read_allowed_tools(struct fm *f, yaml_node_t *v)
{
	struct skills_skill *s = f->s;

	if (v->type == YAML_SCALAR_NODE) {
		split_list(f, scalar(v), s->allowed_tools, &s->n_allowed_tools,
			   node_line(f, v), "allowed-tools");
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		skills_warn(s, node_line(f, v), "'allowed-tools' should be a list; ignored");
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top; it++) {
		const char *t = scalar(yaml_document_get_node(&f->doc, *it));

		if (t && s->n_allowed_tools < SKILLS_MAX_LIST)
			s->allowed_tools[s->n_allowed_tools++] = arena_strdup(s->arena, t);
	}
}

static int read_root(struct fm *f, const char *dir_name)
{
	struct skills_skill *s = f->s;
	yaml_node_t *root = yaml_document_get_root_node(&f->doc);
	unsigned fence_line = f->first_line - 1; /* the opening '---' */
	unsigned name_line = fence_line, desc_line = fence_line;
	bool desc_seen = false;
	const char *why;

	if (root == NULL || (root->type == YAML_SCALAR_NODE && scalar(root)[0] == '\0'))
		return skills_seterr(SKILLS_EPARSE, "%s:%u: the front matter is empty: it needs "
				     "at least 'name:' and 'description:'", s->file, fence_line);
	if (root->type != YAML_MAPPING_NODE)
		return skills_seterr(SKILLS_EPARSE, "%s:%u: the front matter must be a map of "
				     "keys (name: ..., description: ...)", s->file,
				     node_line(f, root));
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&f->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&f->doc, pr->value);
		const char *key = scalar(k);

		if (key == NULL) {
			skills_warn(s, node_line(f, k), "a front matter key is not a string; ignored");
			continue;
		}
		if (strcmp(key, "name") == 0) {
			s->name = string_field(f, key, v);
			name_line = node_line(f, v);
		} else if (strcmp(key, "description") == 0) {
			s->description = string_field(f, key, v);
			desc_seen = true;
			desc_line = node_line(f, v);
		} else if (strcmp(key, "license") == 0) {
			s->license = string_field(f, key, v);
		} else if (strcmp(key, "compatibility") == 0) {
			s->compatibility = string_field(f, key, v);
			if (s->compatibility && strlen(s->compatibility) > 500)
				skills_warn(s, node_line(f, v), "'compatibility' is longer than "
					    "500 characters");
		} else if (strcmp(key, "metadata") == 0) {
			if (read_metadata(f, v) < 0)
				return SKILLS_EPARSE;
		} else if (strcmp(key, "allowed-tools") == 0) {
			read_allowed_tools(f, v);
		} else if (strncmp(key, "halo-", 5) == 0) {
			skills_warn(s, node_line(f, k), "'%s' belongs under 'metadata:' (the Agent "
				    "Skills spec allows only its own top-level keys); ignored", key);
		} else {
			skills_warn(s, node_line(f, k), "unknown front matter key '%s' (known: "
				    "name, description, license, compatibility, metadata, "
				    "allowed-tools)", key);
		}
	}
	if (s->name == NULL || s->name[0] == '\0')
		return skills_seterr(SKILLS_EPARSE, "%s:%u: missing name: the front matter needs "
				     "'name: my-skill' (lower case letters, digits, '-')",
				     s->file, name_line);
	if ((why = name_problem(s->name)) != NULL)
		skills_warn(s, name_line, "name '%s' %s (the Agent Skills spec wants 1-64 of "
			    "a-z, 0-9 and single '-')", s->name, why);
	if (strchr(s->name, '/') || s->name[0] == '.' ||
	    strlen(s->name) > 64)
		return skills_seterr(SKILLS_EPARSE, "%s:%u: name '%.64s' cannot name a folder",
				     s->file, name_line, s->name);
	if (dir_name && strcmp(dir_name, s->name) != 0)
		skills_warn(s, name_line, "name '%s' differs from its folder '%s'", s->name,
			    dir_name);
	if ((s->description == NULL && !desc_seen) ||
	    (s->description && s->description[0] == '\0'))
		skills_warn(s, fence_line, "no 'description:' (the spec requires one: what "
			    "the skill does and when to use it)");
	else if (s->description && strlen(s->description) > 1024)
		skills_warn(s, desc_line, "'description' is longer than 1024 characters");
	return 0;
}

/* Bounds on the front matter.  libyaml's scanner looks at every open flow
 * level for each token, so "[[[[..." costs the square of its depth: the
 * shape is checked with the event parser, which stops at the first level
 * too deep, before the document is loaded. */
#define FM_MAX_BYTES (64u << 10)
#define FM_MAX_DEPTH 16
#define FM_MAX_EVENTS 8192

/* 0, or an error for a front matter too big or too deep; a YAML error is
 * left for load() to report. */
static int check_shape(struct fm *f, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = 0;
	size_t events = 0;

	if (len > FM_MAX_BYTES)
		return skills_seterr(SKILLS_EPARSE, "%s:%u: the front matter is longer than %u "
				     "KiB", f->s->file, f->first_line - 1, FM_MAX_BYTES >> 10);
	if (!yaml_parser_initialize(&p))
		return skills_seterr(SKILLS_EIO, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (rc == 0 && yaml_parser_parse(&p, &ev)) {
		yaml_event_type_t type = ev.type;
		unsigned line = f->first_line + (unsigned)ev.start_mark.line;

		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			break;
		if ((type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) &&
		    ++depth > FM_MAX_DEPTH)
			rc = skills_seterr(SKILLS_EPARSE, "%s:%u: the front matter nests more than "
					   "%d levels deep", f->s->file, line, FM_MAX_DEPTH);
		else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT)
			depth--;
		else if (++events > FM_MAX_EVENTS)
			rc = skills_seterr(SKILLS_EPARSE, "%s:%u: the front matter has more than %d "
					   "values", f->s->file, line, FM_MAX_EVENTS);
	}
	yaml_parser_delete(&p);
	return rc;
}

static int load(struct fm *f, const char *text, size_t len, char *err, size_t errcap,
		unsigned *errline)
{
	yaml_parser_t p;
	int ok;

	if (!yaml_parser_initialize(&p))
		return -1;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	ok = yaml_parser_load(&p, &f->doc);
	if (!ok) {
		snprintf(err, errcap, "%s%s%s", p.problem ? p.problem : "invalid YAML",
			 p.context ? " " : "", p.context ? p.context : "");
		/* a quote or bracket never closed is found at the end: name
		 * the line where it opened */
		*errline = f->first_line + (unsigned)(p.context && p.problem &&
			strstr(p.problem, "end of stream") ? p.context_mark.line
							   : p.problem_mark.line);
	}
	yaml_parser_delete(&p);
	return ok ? 0 : -1;
}

/* The colon fallback: quote the value of every "key: value" line whose
 * value holds ": " and is not already quoted, a flow collection or a
 * block scalar (whose own lines are left alone).  The index of each line
 * quoted goes to lines[] (up to cap). */
static char *quote_colons(const char *text, size_t len, size_t *out_len, unsigned *lines,
			  size_t *n_lines, size_t cap)
{
	struct sbuf b = { 0 };
	const char *p = text, *end = text + len;
	size_t block_indent = SIZE_MAX; /* inside a block scalar deeper than this */
	unsigned line = 0;

	*n_lines = 0;
	for (; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t indent = 0;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		const char *v = colon ? colon + 1 : NULL;
		bool blank;

		while (p + indent < eol && p[indent] == ' ')
			indent++;
		blank = p + indent >= eol || p[indent] == '\r';

		if (block_indent != SIZE_MAX && (blank || indent > block_indent)) {
			v = NULL; /* a line of a block scalar */
		} else {
			block_indent = SIZE_MAX;
			if (p + indent < eol && p[indent] == '#')
				v = NULL;
		}
		while (v && v < eol && *v == ' ')
			v++;
		if (v && v < eol && (*v == '|' || *v == '>'))
			block_indent = indent;
		if (v && v < eol && !strchr("\"'|>[{&*!", *v) &&
		    memmem(v, (size_t)(eol - v), ": ", 2)) {
			const char *ve = eol;

			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			sbuf_add(&b, p, (size_t)(v - p));
			sbuf_adds(&b, "\"");
			for (const char *c = v; c < ve; c++) {
				if (*c == '"' || *c == '\\')
					sbuf_adds(&b, "\\");
				sbuf_add(&b, c, 1);
			}
			sbuf_adds(&b, "\"");
			sbuf_add(&b, ve, (size_t)(eol - ve));
			if (*n_lines < cap)
				lines[(*n_lines)++] = line;
		} else {
			sbuf_add(&b, p, (size_t)(eol - p));
		}
		if (nl)
			sbuf_adds(&b, "\n");
		p = nl ? nl + 1 : end;
	}
	if (b.failed) {
		sbuf_free(&b);
		return NULL;
	}
	*out_len = b.len;
	return b.p ? b.p : calloc(1, 1);
}

int skills_front_matter(struct skills_skill *s, const char *text, size_t len,
			unsigned first_line, const char *dir_name)
{
	struct fm f = { .s = s, .first_line = first_line };
	char err[256];
	unsigned errline = first_line;
	int rc;

	if ((rc = check_shape(&f, text, len)) < 0)
		return rc;
	if (load(&f, text, len, err, sizeof(err), &errline) < 0) {
		char err2[256];
		unsigned line2;
		size_t qlen;
		unsigned quoted[16];
		size_t n_quoted = 0;
		char *q = strstr(err, "mapping values are not allowed") ?
			quote_colons(text, len, &qlen, quoted, &n_quoted, 16) : NULL;

		if (q == NULL || n_quoted == 0 ||
		    load(&f, q, qlen, err2, sizeof(err2), &line2) < 0) {
			free(q);
			return skills_seterr(SKILLS_EPARSE, "%s:%u: front matter is not valid "
					     "YAML: %s", s->file, errline, err);
		}
		free(q);
		for (size_t i = 0; i < n_quoted; i++)
			skills_warn(s, first_line + quoted[i], "a value has an unquoted ': ' in "
				    "it; read as if quoted (put the value in quotes)");
	}
	rc = read_root(&f, dir_name);
	yaml_document_delete(&f.doc);
	return rc;
}
