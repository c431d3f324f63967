/* npy.c - see npy.h.  The header is a Python dict literal; we parse only the
 * three keys NumPy writes ('descr', 'fortran_order', 'shape') and refuse
 * anything else we do not understand rather than guess. */
#include "npy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const struct {
	const char *descr;
	size_t size;
} known[] = {
	{ "<f4", 4 }, { "<f8", 8 }, { "<i4", 4 }, { "<i8", 8 }, { "|u1", 1 }, { "|i1", 1 },
};

/* Find `'key':` in the header and return the text after the colon. */
static const char *find_key(const char *h, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "'%s':", key);
	p = strstr(h, pat);
	if (p == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	return p;
}

static int parse_header(struct npy *a, const char *h, char *err, size_t errlen)
{
	const char *p = find_key(h, "descr");
	size_t i;

	if (p == NULL || *p != '\'')
		return fail(err, errlen, "no descr");
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t n = strlen(known[i].descr);

		if (strncmp(p + 1, known[i].descr, n) == 0 && p[1 + n] == '\'') {
			memcpy(a->descr, known[i].descr, n + 1);
			a->elem_size = known[i].size;
			break;
		}
	}
	if (a->elem_size == 0)
		return fail(err, errlen, "unsupported descr %.8s", p);
	p = find_key(h, "fortran_order");
	if (p == NULL || strncmp(p, "False", 5) != 0)
		return fail(err, errlen, "fortran_order must be False");
	p = find_key(h, "shape");
	if (p == NULL || *p != '(')
		return fail(err, errlen, "no shape");
	p++;
	a->count = 1;
	for (;;) {
		char *end;
		long long v;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == ')')
			break;
		v = strtoll(p, &end, 10);
		if (end == p || v < 0 || a->ndim == NPY_MAX_DIMS)
			return fail(err, errlen, "bad shape");
		a->shape[a->ndim++] = v;
		if (v != 0 && a->count > NPY_MAX_BYTES / (size_t)v)
			return fail(err, errlen, "shape too large");
		a->count *= (size_t)v;
		p = end;
	}
	if (a->count > NPY_MAX_BYTES / a->elem_size)
		return fail(err, errlen, "array too large");
	return 0;
}

int npy_load(struct npy **out, const char *path, char *err, size_t errlen)
{
	unsigned char pre[12];
	struct npy *a = NULL;
	char *hdr = NULL;
	size_t hlen, pre_len;
	FILE *f;
	int rc = -1;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return fail(err, errlen, "%s: cannot open", path);
	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
		fail(err, errlen, "%s: not a .npy file", path);
		goto out_close;
	}
	if (pre[6] == 1) {
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
		pre_len = 10;
	} else if (pre[6] == 2 || pre[6] == 3) {
		if (fread(pre + 10, 1, 2, f) != 2) {
			fail(err, errlen, "%s: truncated", path);
			goto out_close;
		}
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
		pre_len = 12;
	} else {
		fail(err, errlen, "%s: npy version %u", path, pre[6]);
		goto out_close;
	}
	if (hlen > 65536) {
		fail(err, errlen, "%s: header too long", path);
		goto out_close;
	}
	(void)pre_len;
	hdr = calloc(1, hlen + 1);
	a = calloc(1, sizeof(*a));
	if (hdr == NULL || a == NULL || fread(hdr, 1, hlen, f) != hlen) {
		fail(err, errlen, "%s: truncated header", path);
		goto out_free;
	}
	if (parse_header(a, hdr, err, errlen) != 0)
		goto out_free;
	a->data = aligned_alloc(64, (a->count * a->elem_size + 63) / 64 * 64 + 64);
	if (a->data == NULL || fread(a->data, a->elem_size, a->count, f) != a->count) {
		fail(err, errlen, "%s: truncated data", path);
		goto out_free;
	}
	if (fgetc(f) != EOF) {
		fail(err, errlen, "%s: trailing bytes", path);
		goto out_free;
	}
	*out = a;
	a = NULL;
	rc = 0;
out_free:
	npy_free(a);
	free(hdr);
out_close:
	fclose(f);
	return rc;
}

void npy_free(struct npy *a)
{
	if (a == NULL)
		return;
	free(a->data);
	free(a);
}
