/* cmd_tokenize.c - `halo-agent tokenize`: text to token ids with a model's
 * own vocabulary.
 *
 * A thin client of the engine's tokenizer.  `--raw --ids` prints exactly
 * the line format of llama.cpp's vocab test vectors (" 15043 3186"), which
 * tests/tokenize_vectors.sh diffs against the published .out files. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"

#define TOKENIZE_MAX_INPUT ((size_t)64 << 20) /* -f: larger input is refused */

/* Read all of `path` ("-" = stdin), byte for byte, at most `max` bytes. */
static int read_input(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = EXIT_OK;

	*out = NULL;
	*len = 0;
	if (!f)
		return cli_fail("tokenize: %s: %s", path, strerror(errno));
	for (;;) {
		size_t r;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;
			if (cap > max) {
				rc = cli_fail("tokenize: %s: input larger than %zu MiB",
					      path, max >> 20);
				goto out;
			}
			nb = realloc(buf, nc + 1);
			if (!nb) {
				rc = cli_fail("tokenize: out of memory");
				goto out;
			}
			buf = nb;
			cap = nc;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		rc = cli_fail("tokenize: %s: read error", path);
		goto out;
	}
	if (n > max) {
		rc = cli_fail("tokenize: %s: input larger than %zu MiB", path, max >> 20);
		goto out;
	}
	buf = buf ? buf : malloc(1);
	if (!buf) {
		rc = cli_fail("tokenize: out of memory");
		goto out;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t l;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		l = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		l = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		l = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (l > n)
		return 0;
	for (size_t i = 1; i < l; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return l;
}

/* A piece made printable: control characters as \n \t \r \\ or \xNN,
 * bytes that are not UTF-8 as \xNN.  `out` holds 4 * n + 1. */
static void escape_piece(const char *p, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(s + i, n - i);
		if (l > 1) {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		if (s[i] == '\n') {
			memcpy(out + o, "\\n", 2), o += 2;
		} else if (s[i] == '\t') {
			memcpy(out + o, "\\t", 2), o += 2;
		} else if (s[i] == '\r') {
			memcpy(out + o, "\\r", 2), o += 2;
		} else if (s[i] == '\\') {
			memcpy(out + o, "\\\\", 2), o += 2;
		} else if (l == 0 || s[i] < 0x20 || s[i] == 0x7F) {
			o += (size_t)sprintf(out + o, "\\x%02X", s[i]);
		} else {
			out[o++] = (char)s[i];
		}
		i++;
	}
	out[o] = 0;
}

static int print_tokens(struct app *app, const struct tok_vocab *v, const int32_t *ids,
			size_t n, bool ids_only)
{
	size_t cap = tok_max_piece(v) + 8;
	char *piece = malloc(cap), *esc = malloc(4 * cap + 1);
	json_t *root = NULL, *arr = NULL;
	int rc = EXIT_OK;

	if (!piece || !esc) {
		rc = cli_fail("tokenize: out of memory");
		goto out;
	}
	if (ids_only && !app->json) {
		for (size_t i = 0; i < n; i++)
			printf(" %d", (int)ids[i]);
		putchar('\n');
		goto out;
	}
	if (app->json) {
		root = json_object();
		arr = json_array();
		if (!root || !arr) {
			rc = cli_fail("tokenize: out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		long pl = tok_token_to_piece(v, ids[i], true, piece, cap);
		if (pl < 0 || (size_t)pl > cap)
			pl = 0;
		if (!app->json) {
			escape_piece(piece, (size_t)pl, esc);
			printf("%d\t%s\n", (int)ids[i], esc);
		} else if (ids_only) {
			json_array_append_new(arr, json_integer(ids[i]));
		} else {
			json_t *t = json_object();
			json_t *s = json_stringn(piece, (size_t)pl); /* NULL if not UTF-8 */
			if (!s) {
				escape_piece(piece, (size_t)pl, esc);
				s = json_string(esc);
			}
			json_object_set_new(t, "id", json_integer(ids[i]));
			json_object_set_new(t, "piece", s);
			json_array_append_new(arr, t);
		}
	}
	if (app->json) {
		json_object_set_new(root, ids_only ? "ids" : "tokens", arr);
		arr = NULL;
		json_object_set_new(root, "n_tokens", json_integer((json_int_t)n));
		if (json_dumpf(root, stdout, JSON_COMPACT) != 0)
			rc = cli_fail("tokenize: cannot write output");
		putchar('\n');
	}
out:
	json_decref(arr);
	json_decref(root);
	free(piece);
	free(esc);
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = cli_fail("tokenize: cannot write output");
	return rc;
}

int cmd_tokenize(struct app *app, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "file", required_argument, NULL, 'f' },
		{ "ids", no_argument, NULL, 'i' },
		{ "raw", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model = NULL, *file = NULL;
	bool ids_only = false, raw = false;
	struct gguf_file *gf = NULL;
	struct tok_vocab *v = NULL;
	char *text = NULL;
	size_t len = 0, n = 0;
	int32_t *ids = NULL;
	int opt, rc;

	while ((opt = cli_getopt(argc, argv, "m:f:", longopts)) != -1) {
		switch (opt) {
		case 'm': model = optarg; break;
		case 'f': file = optarg; break;
		case 'i': ids_only = true; break;
		case 'r': raw = true; break;
		default: return cli_help_or_usage(argv[0], opt);
		}
	}
	if (!model)
		return cli_usage_error(argv[0], "missing -m FILE.gguf");
	if (file && optind < argc)
		return cli_usage_error(argv[0], "give TEXT or -f FILE, not both");
	if (!file && optind >= argc)
		return cli_usage_error(argv[0], "missing TEXT (or -f FILE)");
	if (optind + 1 < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s' (quote the text)",
				       argv[optind + 1]);
	if (file) {
		rc = read_input(file, TOKENIZE_MAX_INPUT, &text, &len);
		if (rc)
			return rc;
	} else {
		len = strlen(argv[optind]);
		if (len > TOKENIZE_MAX_INPUT)
			return cli_fail("tokenize: text larger than %zu MiB", TOKENIZE_MAX_INPUT >> 20);
	}
	if (gguf_open(&gf, model) != 0) {
		rc = cli_fail("tokenize: %s", engine_errmsg());
		goto out;
	}
	if (tok_vocab_load(&v, gf) != 0) {
		rc = cli_fail("tokenize: %s: %s", model, engine_errmsg());
		goto out;
	}
	gguf_close(gf);
	gf = NULL;
	if (tok_encode_alloc(&ids, &n, v, file ? text : argv[optind], len, !raw, !raw) != 0) {
		rc = cli_fail("tokenize: %s", engine_errmsg());
		goto out;
	}
	rc = print_tokens(app, v, ids, n, ids_only);
out:
	free(ids);
	free(text);
	tok_vocab_free(v);
	gguf_close(gf);
	return rc;
}
