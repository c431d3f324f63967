/* config.c - load config.yaml with libyaml into struct config.
 *
 * The file is read whole (bounded at CONFIG_MAX_BYTES), parsed into a libyaml
 * document, and walked: mappings nest into dotted key names, scalars are
 * checked against config_keys[].  Values go into a scratch copy first, so an
 * error half-way leaves the caller's config untouched. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli.h"
#include "config.h"
#include "tools.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define CONFIG_MAX_DEPTH 8

#define KEY(n, t, f, ch, d, doc) { n, t, offsetof(struct config, f), ch, d, doc }
const struct config_key config_keys[] = {
	KEY("data_dir", CFG_PATH, data_dir, NULL, "",
	    "where the database, models and skill workspaces live (default $XDG_DATA_HOME/halo-agent)"),
	KEY("engine.backend", CFG_ENUM, engine_backend, "auto|cpu|vulkan", "auto",
	    "inference backend: auto picks a Vulkan GPU when there is one, else the CPU"),
	KEY("engine.device", CFG_UINT, engine_device, NULL, "0",
	    "Vulkan device index (see `halo-agent doctor`)"),
	KEY("engine.threads", CFG_UINT, engine_threads, NULL, "0",
	    "CPU backend threads; 0 = one per core"),
	KEY("engine.ctx_size", CFG_UINT, engine_ctx_size, NULL, "4096",
	    "context length in tokens (the KV cache is sized from it)"),
	KEY("engine.model", CFG_PATH, engine_model, NULL, "",
	    "default GGUF model file"),
	KEY("sandbox.network", CFG_ENUM, sandbox_network, "none|host", "none",
	    "network inside the sandbox by default"),
	KEY("sandbox.approval", CFG_ENUM, sandbox_approval, "ask|auto|deny", "ask",
	    "approval policy for commands: ask, auto (run in the sandbox), deny"),
	KEY("sandbox.timeout", CFG_UINT, sandbox_timeout, NULL, "600",
	    "wall-clock limit per command, seconds"),
	KEY("sandbox.memory", CFG_UINT, sandbox_memory, NULL, "4294967296",
	    "address-space limit per command, bytes"),
	{ NULL, 0, 0, NULL, NULL, NULL },
};
#undef KEY

static char **str_field(struct config *cfg, const struct config_key *k)
{
	return (char **)((char *)cfg + k->offset);
}

static unsigned long long *uint_field(struct config *cfg,
				      const struct config_key *k)
{
	return (unsigned long long *)((char *)cfg + k->offset);
}

static bool is_str(const struct config_key *k)
{
	return k->type != CFG_UINT;
}

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (const struct config_key *k = config_keys; k->name; k++) {
		if (is_str(k))
			*str_field(cfg, k) = strdup(k->def);
		else
			*uint_field(cfg, k) = strtoull(k->def, NULL, 10);
	}
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (const struct config_key *k = config_keys; k->name; k++) {
		if (is_str(k)) {
			free(*str_field(cfg, k));
			*str_field(cfg, k) = NULL;
		}
	}
}

static void config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	for (const struct config_key *k = config_keys; k->name; k++) {
		if (is_str(k)) {
			const char *s = *str_field((struct config *)src, k);

			*str_field(dst, k) = s ? strdup(s) : NULL;
		}
	}
}

const char *config_value_text(const struct config *cfg,
			      const struct config_key *k, char *buf,
			      size_t buflen)
{
	struct config *c = (struct config *)cfg;

	if (is_str(k))
		return *str_field(c, k) ? *str_field(c, k) : "";
	snprintf(buf, buflen, "%llu", *uint_field(c, k));
	return buf;
}

/* ---- the walk ---------------------------------------------------------- */

struct walk {
	const char *path;
	struct config *cfg;
	yaml_document_t *doc;
	void (*warn)(void *ud, const char *msg);
	void *ud;
	char *err;
	size_t errlen;
};

static int walk_err(struct walk *w, const yaml_node_t *node, const char *fmt,
		    const char *a, const char *b)
{
	char msg[768];

	snprintf(msg, sizeof(msg), fmt, a, b ? b : "");
	snprintf(w->err, w->errlen, "%s:%zu:%zu: %s", w->path,
		 node->start_mark.line + 1, node->start_mark.column + 1, msg);
	return -1;
}

static const struct config_key *find_key(const char *name)
{
	for (const struct config_key *k = config_keys; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* True if some documented key lives under "prefix." */
static bool is_section(const char *prefix)
{
	size_t n = strlen(prefix);

	for (const struct config_key *k = config_keys; k->name; k++)
		if (strncmp(k->name, prefix, n) == 0 && k->name[n] == '.')
			return true;
	return false;
}

static void warn_unknown(struct walk *w, const yaml_node_t *node,
			 const char *name)
{
	const char *names[64];
	size_t n = 0;
	const char *sug;
	char msg[512];

	for (const struct config_key *k = config_keys; k->name && n < 63; k++)
		names[n++] = k->name;
	names[n] = NULL;
	sug = cli_suggest(name, names);
	snprintf(msg, sizeof(msg), "%s:%zu:%zu: warning: unknown key '%s'%s%s%s",
		 w->path, node->start_mark.line + 1,
		 node->start_mark.column + 1, name,
		 sug ? " (did you mean '" : " (ignored)", sug ? sug : "",
		 sug ? "'?)" : "");
	tools_one_line(msg); /* messages quote the user's keys and values */
	if (w->warn)
		w->warn(w->ud, msg);
}

static int set_scalar(struct walk *w, const struct config_key *k,
		      const yaml_node_t *val)
{
	const char *s = (const char *)val->data.scalar.value;
	size_t len = val->data.scalar.length;

	if (val->type != YAML_SCALAR_NODE)
		return walk_err(w, val, "key '%s': expected a single value, not a %s",
				k->name, val->type == YAML_MAPPING_NODE ? "mapping" : "list");
	if (strlen(s) != len)
		return walk_err(w, val, "key '%s': value contains a NUL byte%s",
				k->name, NULL);
	if (k->type == CFG_UINT) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(s, &end, 10);
		if (len == 0 || s[0] == '-' || *end != '\0' || errno != 0)
			return walk_err(w, val,
					"key '%s': expected a non-negative integer, got '%s'",
					k->name, s);
		*uint_field(w->cfg, k) = v;
		return 0;
	}
	if (k->type == CFG_ENUM) {
		const char *p = k->choices;
		bool ok = false;

		while (*p) {
			size_t n = strcspn(p, "|");

			if (n == len && strncmp(p, s, n) == 0)
				ok = true;
			p += n + (p[n] == '|');
		}
		if (!ok) {
			char msg[160];

			snprintf(msg, sizeof(msg), "'%.60s' (expected one of %s)", s,
				 k->choices);
			return walk_err(w, val, "key '%s': invalid value %s", k->name, msg);
		}
	}
	if (k->type == CFG_PATH && len == 0)
		return walk_err(w, val, "key '%s': empty path%s", k->name, NULL);
	free(*str_field(w->cfg, k));
	*str_field(w->cfg, k) = strdup(s);
	return 0;
}

static int walk_mapping(struct walk *w, const yaml_node_t *map,
			const char *prefix, int depth)
{
	if (depth > CONFIG_MAX_DEPTH)
		return walk_err(w, map, "nesting deeper than %s levels%s", "8", NULL);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
		char name[256];
		const struct config_key *k;

		if (kn == NULL || vn == NULL)
			continue;
		if (kn->type != YAML_SCALAR_NODE)
			return walk_err(w, kn, "keys must be plain names%s%s", "", NULL);
		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "",
			 (const char *)kn->data.scalar.value);
		k = find_key(name);
		if (k) {
			if (set_scalar(w, k, vn) < 0)
				return -1;
		} else if (vn->type == YAML_MAPPING_NODE && is_section(name)) {
			if (walk_mapping(w, vn, name, depth + 1) < 0)
				return -1;
		} else if (is_section(name)) {
			return walk_err(w, vn, "key '%s': expected a mapping of settings%s",
					name, NULL);
		} else {
			warn_unknown(w, kn, name);
		}
	}
	return 0;
}

static int read_whole(const char *path, bool must_exist, char **out,
		      size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	*out = NULL;
	*len = 0;
	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: cannot read config: %s", path,
			 strerror(errno));
		return -1;
	}
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f) || n > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, ferror(f) ? "%s: read error" :
			 "%s: config file larger than 1 MiB", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* libyaml's scanner looks at every open flow level for each token, so
 * "[[[[..." costs the square of its depth (100 KB of '[' took over a
 * minute).  The shape is checked with the event parser first, which stops
 * at the first level too deep or the first value too many.  A YAML error
 * is left for the loader to report, with its place. */
#define CONFIG_MAX_EVENTS 16384

static int check_shape(const char *name, const char *text, size_t len, char *err,
		       size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = 0;
	size_t events = 0;

	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "%s: cannot initialise the YAML parser", name);
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (rc == 0 && yaml_parser_parse(&p, &ev)) {
		yaml_event_type_t type = ev.type;
		size_t line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;

		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT)
			break;
		if ((type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) &&
		    ++depth > CONFIG_MAX_DEPTH + 1) {
			snprintf(err, errlen, "%s:%zu:%zu: nested more than %d levels deep", name,
				 line, col, CONFIG_MAX_DEPTH);
			rc = -1;
		} else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (++events > CONFIG_MAX_EVENTS) {
			snprintf(err, errlen, "%s:%zu:%zu: more than %d values", name, line, col,
				 CONFIG_MAX_EVENTS);
			rc = -1;
		}
	}
	yaml_parser_delete(&p);
	return rc;
}

int config_load_buffer(struct config *cfg, const char *name, const char *text,
		       size_t len, void (*warn)(void *ud, const char *msg),
		       void *ud, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct config scratch;
	struct walk w;
	yaml_node_t *root;
	int rc = -1;

	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: config file larger than 1 MiB", name);
		return -1;
	}
	if (check_shape(name, text, len, err, errlen) < 0)
		return -1;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: cannot initialise the YAML parser", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", name,
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "malformed YAML",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		goto out_parser;
	}
	config_copy(&scratch, cfg);
	w = (struct walk){ name, &scratch, &doc, warn, ud, err, errlen };
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || (root->type == YAML_SCALAR_NODE &&
			     root->data.scalar.length == 0)) {
		rc = 0; /* an empty file */
	} else if (root->type != YAML_MAPPING_NODE) {
		walk_err(&w, root, "the top level must be a mapping of settings%s%s",
			 "", NULL);
	} else {
		rc = walk_mapping(&w, root, "", 0);
	}
	if (rc == 0) {
		config_free(cfg);
		*cfg = scratch;
	} else {
		config_free(&scratch);
	}
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	if (rc < 0)
		tools_one_line(err);
	return rc;
}

int config_load(struct config *cfg, const char *path, bool must_exist,
		void (*warn)(void *ud, const char *msg), void *ud,
		char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	if (read_whole(path, must_exist, &buf, &len, err, errlen) < 0)
		return -1;
	if (buf == NULL)
		return 0;
	rc = config_load_buffer(cfg, path, buf, len, warn, ud, err, errlen);
	free(buf);
	return rc;
}
