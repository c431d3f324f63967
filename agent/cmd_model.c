/* cmd_model.c - `halo-agent model info FILE.gguf`: what a model file holds.
 *
 * A thin client of engine_model_info(): opens (and so fully validates) the
 * file, prints the summary as aligned `key: value` lines and a per-type
 * table, or as one JSON object with --json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"

/* "1.13 MiB" */
static const char *fmt_bytes(char *buf, size_t n, uint64_t v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double x = (double)v;
	int u = 0;

	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, n, "%.2f %s", x, unit[u]);
	return buf;
}

/* "292.8 K", "1.10 B" */
static const char *fmt_count(char *buf, size_t n, uint64_t v)
{
	if (v >= 1000000000ull)
		snprintf(buf, n, "%.2f B", (double)v / 1e9);
	else if (v >= 1000000ull)
		snprintf(buf, n, "%.2f M", (double)v / 1e6);
	else if (v >= 1000ull)
		snprintf(buf, n, "%.1f K", (double)v / 1e3);
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
	return buf;
}

/* A JSON string of s; bytes that are not valid UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *c;

	if (j != NULL)
		return j;
	if ((c = strdup(s)) == NULL)
		return NULL;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *jint(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static int print_json(const char *path, const struct engine_model_info *mi,
		      const struct gguf_file *f)
{
	json_t *o = json_object(), *types = json_array();
	int rc;

	json_object_set_new(o, "file", jstr(path));
	json_object_set_new(o, "gguf_version", jint(mi->gguf_version));
	json_object_set_new(o, "file_size", jint(mi->file_size));
	json_object_set_new(o, "metadata_keys", jint(gguf_kv_count(f)));
	json_object_set_new(o, "alignment", jint(gguf_alignment(f)));
	json_object_set_new(o, "architecture", jstr(mi->arch));
	json_object_set_new(o, "name", jstr(mi->name));
	if (mi->file_type >= 0)
		json_object_set_new(o, "file_type", json_integer(mi->file_type));
	else
		json_object_set_new(o, "file_type", json_null());
	json_object_set_new(o, "file_type_name", jstr(mi->file_type_name));
	json_object_set_new(o, "parameters", jint(mi->n_params));
	json_object_set_new(o, "tensors", jint(mi->n_tensors));
	json_object_set_new(o, "tensor_bytes", jint(mi->tensor_bytes));
	json_object_set_new(o, "context_length", jint(mi->context_length));
	json_object_set_new(o, "embedding_length", jint(mi->embedding_length));
	json_object_set_new(o, "block_count", jint(mi->block_count));
	json_object_set_new(o, "feed_forward_length", jint(mi->feed_forward_length));
	json_object_set_new(o, "head_count", jint(mi->head_count));
	json_object_set_new(o, "head_count_kv", jint(mi->head_count_kv));
	json_object_set_new(o, "expert_count", jint(mi->expert_count));
	json_object_set_new(o, "expert_used_count", jint(mi->expert_used_count));
	json_object_set_new(o, "tokenizer", jstr(mi->tokenizer_model));
	json_object_set_new(o, "vocab_size", jint(mi->vocab_size));
	json_object_set_new(o, "chat_template", json_boolean(mi->has_chat_template));
	json_object_set_new(o, "bytes_per_token", jint(mi->bytes_per_token));
	for (int t = 0; t < QT_COUNT; t++) {
		const struct engine_model_type_stat *s = &mi->types[t];
		json_t *e;

		if (s->n_tensors == 0)
			continue;
		e = json_object();
		json_object_set_new(e, "type", jstr(quant_type_name((enum quant_type)t)));
		json_object_set_new(e, "tensors", jint(s->n_tensors));
		json_object_set_new(e, "elements", jint(s->n_elements));
		json_object_set_new(e, "bytes", jint(s->n_bytes));
		json_array_append_new(types, e);
	}
	json_object_set_new(o, "types", types);
	rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
	return rc == 0 ? EXIT_OK : cli_fail("cannot write JSON output");
}

#define ROW(k) printf("%-17s ", k ":")

static void print_text(const char *path, const struct engine_model_info *mi,
		       const struct gguf_file *f)
{
	char a[64], b[64];

	ROW("file"); printf("%s\n", path);
	ROW("gguf version"); printf("%u\n", mi->gguf_version);
	ROW("file size"); printf("%s (%llu bytes)\n", fmt_bytes(a, sizeof(a), mi->file_size),
				 (unsigned long long)mi->file_size);
	ROW("metadata keys"); printf("%zu\n", gguf_kv_count(f));
	ROW("architecture"); printf("%s\n", mi->arch[0] ? mi->arch : "-");
	ROW("name"); printf("%s\n", mi->name[0] ? mi->name : "-");
	ROW("file type");
	if (mi->file_type < 0)
		printf("-\n");
	else
		printf("%s (%lld)\n", mi->file_type_name[0] ? mi->file_type_name : "unknown",
		       (long long)mi->file_type);
	ROW("parameters"); printf("%s (%llu)\n", fmt_count(a, sizeof(a), mi->n_params),
				  (unsigned long long)mi->n_params);
	ROW("tensors"); printf("%llu, %s\n", (unsigned long long)mi->n_tensors,
			       fmt_bytes(a, sizeof(a), mi->tensor_bytes));
	ROW("context length"); printf("%llu\n", (unsigned long long)mi->context_length);
	ROW("embedding length"); printf("%llu\n", (unsigned long long)mi->embedding_length);
	ROW("blocks"); printf("%llu\n", (unsigned long long)mi->block_count);
	ROW("feed forward"); printf("%llu\n", (unsigned long long)mi->feed_forward_length);
	ROW("heads"); printf("%llu (kv %llu)\n", (unsigned long long)mi->head_count,
			     (unsigned long long)mi->head_count_kv);
	if (mi->expert_count > 0) {
		ROW("experts");
		printf("%llu (%llu used)\n", (unsigned long long)mi->expert_count,
		       (unsigned long long)mi->expert_used_count);
	}
	ROW("tokenizer"); printf("%s\n", mi->tokenizer_model[0] ? mi->tokenizer_model : "-");
	ROW("vocab size"); printf("%llu\n", (unsigned long long)mi->vocab_size);
	ROW("chat template"); printf("%s\n", mi->has_chat_template ? "yes" : "no");
	ROW("bytes per token"); printf("%s (%llu)\n", fmt_bytes(a, sizeof(a), mi->bytes_per_token),
				       (unsigned long long)mi->bytes_per_token);
	if (mi->n_tensors == 0)
		return;
	printf("\n  %-8s %8s %14s %14s\n", "type", "tensors", "elements", "bytes");
	for (int t = 0; t < QT_COUNT; t++) {
		const struct engine_model_type_stat *s = &mi->types[t];

		if (s->n_tensors == 0)
			continue;
		printf("  %-8s %8u %14llu %14s\n", quant_type_name((enum quant_type)t), s->n_tensors,
		       (unsigned long long)s->n_elements, fmt_bytes(b, sizeof(b), s->n_bytes));
	}
}

static int model_info(struct app *app, const char *path)
{
	struct gguf_file *f = NULL;
	struct engine_model_info mi;
	int rc;

	if (gguf_open(&f, path) != 0)
		return cli_fail("%s", engine_errmsg());
	if (engine_model_info(&mi, f) != 0) {
		rc = cli_fail("%s", engine_errmsg());
		goto out;
	}
	if (app->json) {
		rc = print_json(path, &mi, f);
	} else {
		print_text(path, &mi, f);
		rc = EXIT_OK;
	}
out:
	gguf_close(f);
	return rc;
}

int cmd_model(struct app *app, int argc, char **argv)
{
	static const char *const subs[] = { "info", NULL };
	const char *sub, *hint;
	int opt;

	while ((opt = cli_getopt(argc, argv, "", NULL)) != -1)
		return cli_help_or_usage(argv[0], opt);
	if (optind >= argc)
		return cli_usage_error(argv[0], "missing subcommand (info)");
	sub = argv[optind++];
	if (strcmp(sub, "info") != 0) {
		hint = cli_suggest(sub, subs);
		if (hint != NULL)
			return cli_usage_error(argv[0], "unknown subcommand '%s' (did you mean '%s'?)",
					       sub, hint);
		return cli_usage_error(argv[0], "unknown subcommand '%s'", sub);
	}
	if (optind >= argc)
		return cli_usage_error(argv[0], "info: missing FILE.gguf");
	if (optind + 1 < argc)
		return cli_usage_error(argv[0], "info: unexpected argument '%s'", argv[optind + 1]);
	return model_info(app, argv[optind]);
}
