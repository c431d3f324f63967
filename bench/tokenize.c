/* bench/tokenize.c - tokenizer throughput.
 *
 *   bench_tokenize [-s MB] [-t SECONDS] VOCAB.gguf... [-- FILE...]
 *
 * The corpus is FILEs, or by default the texts under
 * /usr/share/common-licenses and /usr/share/doc/{*}/copyright, concatenated
 * up to -s MB (default 4).  Each file is one document, encoded with
 * tok_encode (add_special and parse_special on, as a chat prompt would be);
 * passes repeat for at least -t seconds (default 1).  Prints MB/s and
 * tokens/s per vocab, and the vocab load time.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

struct doc {
	size_t off, len;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *corpus;
static size_t corpus_len, corpus_cap;
static struct doc *docs;
static size_t n_docs, docs_cap;

static int add_file(const char *path, size_t limit)
{
	FILE *f = fopen(path, "rb");
	size_t start = corpus_len;

	if (!f)
		return -1;
	while (corpus_len < limit) {
		size_t r;
		if (corpus_len == corpus_cap) {
			corpus_cap = corpus_cap ? corpus_cap * 2 : (1 << 20);
			corpus = realloc(corpus, corpus_cap);
			if (!corpus)
				exit(1);
		}
		r = fread(corpus + corpus_len, 1, corpus_cap - corpus_len, f);
		if (!r)
			break;
		corpus_len += r;
	}
	if (corpus_len > limit)
		corpus_len = limit;
	fclose(f);
	if (corpus_len > start) {
		if (n_docs == docs_cap) {
			docs_cap = docs_cap ? docs_cap * 2 : 256;
			docs = realloc(docs, docs_cap * sizeof(*docs));
			if (!docs)
				exit(1);
		}
		docs[n_docs].off = start;
		docs[n_docs].len = corpus_len - start;
		n_docs++;
	}
	return 0;
}

static void add_dir(const char *dir, const char *leaf, size_t limit)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	/* a stable order so figures compare across runs */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		if (corpus_len < limit) {
			if (leaf)
				snprintf(path, sizeof(path), "%s/%s/%s", dir, names[i], leaf);
			else
				snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			add_file(path, limit);
		}
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	double mb = 4, secs = 1;
	const char *vocabs[32];
	int n_vocabs = 0, i = 1;

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			mb = atof(argv[++i]);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (n_vocabs < 32)
			vocabs[n_vocabs++] = argv[i];
	}
	if (!n_vocabs) {
		fprintf(stderr, "usage: bench_tokenize [-s MB] [-t SECONDS] VOCAB.gguf... [-- FILE...]\n");
		return 2;
	}
	{
		size_t limit = (size_t)(mb * 1048576);
		if (i < argc)
			for (; i < argc; i++)
				add_file(argv[i], limit);
		else {
			add_dir("/usr/share/common-licenses", NULL, limit);
			add_dir("/usr/share/doc", "copyright", limit);
		}
	}
	if (!corpus_len) {
		fprintf(stderr, "bench_tokenize: empty corpus\n");
		return 1;
	}
	printf("corpus: %.2f MB in %zu documents\n", (double)corpus_len / 1048576, n_docs);
	printf("%-28s %8s %10s %12s %10s %9s\n", "vocab", "load ms", "MB/s", "tokens/s", "bytes/tok", "passes");
	for (int v = 0; v < n_vocabs; v++) {
		struct gguf_file *f = NULL;
		struct tok_vocab *tv = NULL;
		double t0 = now(), tl, t1;
		size_t tokens = 0, bytes = 0;
		int passes = 0;
		const char *name = strrchr(vocabs[v], '/');

		if (gguf_open(&f, vocabs[v]) || tok_vocab_load(&tv, f)) {
			fprintf(stderr, "bench_tokenize: %s: %s\n", vocabs[v], engine_errmsg());
			gguf_close(f);
			return 1;
		}
		gguf_close(f);
		tl = now() - t0;
		t0 = now();
		do {
			for (size_t d = 0; d < n_docs; d++) {
				int32_t *ids;
				size_t n;
				if (tok_encode_alloc(&ids, &n, tv, corpus + docs[d].off, docs[d].len,
						     true, true)) {
					fprintf(stderr, "bench_tokenize: %s\n", engine_errmsg());
					return 1;
				}
				tokens += n;
				free(ids);
			}
			bytes += corpus_len;
			passes++;
			t1 = now();
		} while (t1 - t0 < secs);
		printf("%-28s %8.1f %10.2f %12.0f %10.2f %9d\n", name ? name + 1 : vocabs[v],
		       tl * 1e3, (double)bytes / 1048576 / (t1 - t0), (double)tokens / (t1 - t0),
		       (double)bytes / (double)tokens, passes);
		tok_vocab_free(tv);
	}
	free(corpus);
	free(docs);
	return 0;
}
