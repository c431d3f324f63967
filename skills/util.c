/* util.c - errors, the arena that owns a parsed skill, growable strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "skills_int.h"
#include "tools.h"

static _Thread_local char errbuf[1024];

const char *skills_errmsg(void)
{
	return errbuf;
}

int skills_seterr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	tools_one_line(errbuf); /* messages quote the document */
	return code;
}

/* ---- arena ------------------------------------------------------------- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char mem[];
};

struct skills_arena {
	struct arena_chunk *head;
};

struct skills_arena *arena_new(void)
{
	return calloc(1, sizeof(struct skills_arena));
}

void arena_free(struct skills_arena *a)
{
	if (a == NULL)
		return;
	for (struct arena_chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void *arena_alloc(struct skills_arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > 16384 ? n : 16384;

		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = c->mem + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct skills_arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *arena_strdup(struct skills_arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct skills_arena *a, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;
	char *p;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = n < 0 ? NULL : arena_alloc(a, (size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

/* ---- growable strings -------------------------------------------------- */

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len < n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	*b = (struct sbuf){ 0 };
}

/* ---- warnings ---------------------------------------------------------- */

#define SKILLS_MAX_WARNINGS 64

void skills_warn(struct skills_skill *s, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	const char **w;

	if (s->n_warnings >= SKILLS_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tools_one_line(msg);
	if (s->warnings == NULL) {
		s->warnings = arena_alloc(s->arena, SKILLS_MAX_WARNINGS * sizeof(*w));
		if (s->warnings == NULL)
			return;
	}
	w = s->warnings;
	w[s->n_warnings] = arena_printf(s->arena, "%s:%u: %s", s->file, line, msg);
	if (w[s->n_warnings])
		s->n_warnings++;
}

void skills_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return;
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}
