/* gguf.c - the GGUF reader: map a model file, validate all of it, index it.
 *
 * A GGUF file is a header, metadata key/value pairs, tensor infos, padding
 * to the alignment, then tensor data (../shared/docs/gguf-quants.md, 2.1).
 * Everything in it is untrusted.  gguf_open() maps the file read-only and
 * parses it in one pass with a bounds-checked cursor; after a successful
 * open every accessor is a lookup in tables built here and can no longer
 * fail because of the file.
 *
 * Invariants after gguf_open() returns 0:
 *  1. Every key and tensor name is a NUL-free, non-empty string, copied
 *     NUL-terminated into one arena owned by the handle; keys are unique,
 *     tensor names are unique.
 *  2. Every value lies inside the mapping: scalars at kv->val, arrays at
 *     kv->val with arr_len elements of arr_type (string arrays also have a
 *     table of their elements; nested arrays are checked, never indexed).
 *  3. Every tensor has 1..4 positive dims whose product and byte size fit in
 *     int64_t, a type known to quant_traits_of(), ne[0] a multiple of the
 *     type's block size, an offset that is a multiple of the alignment, its
 *     bytes inside the file, and no byte shared with another tensor.
 *  4. Allocation is bounded by the file: a count is checked against the
 *     bytes left before anything is sized by it.
 *
 * Versions: v1 stores counts, string lengths, array lengths and dims as
 * uint32; v2 and v3 as uint64.  Only little-endian files are read: a
 * big-endian one is recognised by its byte-swapped version and refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_int.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_KEY_LEN 65535u      /* the spec's bound on keys */
#define GGUF_MAX_NAME_LEN 255u       /* tensor names; ggml itself takes < 64 */
#define GGUF_MAX_ARRAY_DEPTH 8       /* an array may hold arrays this deep */
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_ALIGNMENT (1u << 30)

/* ==== the handle ======================================================== */

struct gguf_kv {
	const char *key;          /* arena, NUL-terminated */
	enum gguf_vtype type;
	enum gguf_vtype arr_type; /* GGUF_VT_COUNT unless type == ARRAY */
	uint64_t arr_len;         /* elements; 0 unless type == ARRAY */
	const uint8_t *val;       /* scalar value, or first array element */
	struct gguf_str str;      /* type == STRING: the value */
	struct gguf_str *strs;    /* array of STRING: arr_len entries, owned */
};

struct gguf_file {
	const char *name;         /* for messages; arena */
	const uint8_t *base;
	uint64_t size;
	bool mapped;              /* base was mmap()ed by us */
	_Atomic bool data_moved;  /* gguf_data_hugepages() has run */
	uint32_t version;
	uint32_t alignment;
	uint64_t data_off;        /* may exceed size when there are no tensors */

	size_t n_kv;
	struct gguf_kv *kv;
	struct gguf_kv **kv_by_key;        /* sorted by key */

	size_t n_tensors;
	struct gguf_tensor *tensors;
	struct gguf_tensor **t_by_name;    /* sorted by name */

	char *arena;
};

/* ==== the cursor ======================================================== */

/* A bounds-checked reader over [p, p + size).  `ctx` names what is being
 * parsed ("header", "key 'x'", "tensor 'y'") for error messages. */
struct rd {
	const uint8_t *p;
	uint64_t size;
	uint64_t pos;
	const char *name;
	uint32_t version;
	char ctx[160];
};

/* A name from the file made fit for a one-line message: control bytes
 * become '?', long names are cut with "...". */
struct cleanname {
	char s[104];
};

static const char *clean_name(struct cleanname *b, const char *s, uint64_t len)
{
	size_t n = len > 96 ? 96 : (size_t)len, i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		b->s[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(b->s + i, "...", 3);
		i += 3;
	}
	b->s[i] = '\0';
	return b->s;
}

#define CLEAN(buf, str) clean_name(&(buf), (str), strlen(str))

static void rd_ctx(struct rd *r, const char *what, const char *s, uint64_t len)
{
	struct cleanname b;

	snprintf(r->ctx, sizeof(r->ctx), "%s '%s'", what, clean_name(&b, s, len));
}

/* Set the last error to "<file>: <what> (<ctx>, at offset N)". */
static int rd_fail(struct rd *r, int code, const char *fmt, ...)
	ENGINE_PRINTF(3, 4);
static int rd_fail(struct rd *r, int code, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return engine_seterr(code, "%s: %s (%s, at offset %llu)", r->name, what,
			     r->ctx, (unsigned long long)r->pos);
}

static uint64_t rd_left(const struct rd *r)
{
	return r->size - r->pos;
}

static int rd_bytes(struct rd *r, uint64_t n, const uint8_t **out, const char *what)
{
	if (n > rd_left(r))
		return rd_fail(r, ENGINE_EFORMAT,
			       "truncated: %s needs %llu bytes, %llu left", what,
			       (unsigned long long)n, (unsigned long long)rd_left(r));
	*out = r->p + r->pos;
	r->pos += n;
	return 0;
}

static int rd_u32(struct rd *r, uint32_t *out, const char *what)
{
	const uint8_t *b = NULL;
	int rc = rd_bytes(r, 4, &b, what);

	if (rc == 0)
		*out = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		       (uint32_t)b[3] << 24;
	return rc;
}

static uint64_t le64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static int rd_u64(struct rd *r, uint64_t *out, const char *what)
{
	const uint8_t *b = NULL;
	int rc = rd_bytes(r, 8, &b, what);

	if (rc == 0)
		*out = le64(b);
	return rc;
}

/* A count or length: uint32 in v1, uint64 after. */
static int rd_len(struct rd *r, uint64_t *out, const char *what)
{
	uint32_t v = 0;
	int rc;

	if (r->version >= 2)
		return rd_u64(r, out, what);
	rc = rd_u32(r, &v, what);
	*out = v;
	return rc;
}

static unsigned rd_len_size(const struct rd *r)
{
	return r->version >= 2 ? 8 : 4;
}

static int rd_str(struct rd *r, struct gguf_str *out, const char *what)
{
	const uint8_t *b = NULL;
	uint64_t len;
	int rc;

	if ((rc = rd_len(r, &len, what)) != 0)
		return rc;
	if (len > rd_left(r))
		return rd_fail(r, ENGINE_EFORMAT,
			       "%s length %llu exceeds the %llu bytes left", what,
			       (unsigned long long)len, (unsigned long long)rd_left(r));
	if ((rc = rd_bytes(r, len, &b, what)) != 0)
		return rc;
	out->ptr = (const char *)b;
	out->len = len;
	return 0;
}

/* ==== values ============================================================ */

/* Bytes of a scalar of each type; 0 for STRING and ARRAY. */
static const uint8_t vtype_size[GGUF_VT_COUNT] = {
	[GGUF_VT_UINT8] = 1, [GGUF_VT_INT8] = 1, [GGUF_VT_UINT16] = 2,
	[GGUF_VT_INT16] = 2, [GGUF_VT_UINT32] = 4, [GGUF_VT_INT32] = 4,
	[GGUF_VT_FLOAT32] = 4, [GGUF_VT_BOOL] = 1, [GGUF_VT_UINT64] = 8,
	[GGUF_VT_INT64] = 8, [GGUF_VT_FLOAT64] = 8,
};

static const char *const vtype_names[GGUF_VT_COUNT] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
};

const char *gguf_vtype_name(enum gguf_vtype t)
{
	return (unsigned)t < GGUF_VT_COUNT ? vtype_names[t] : "?";
}

static bool vtype_is_int(enum gguf_vtype t)
{
	switch (t) {
	case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_UINT16:
	case GGUF_VT_INT16: case GGUF_VT_UINT32: case GGUF_VT_INT32:
	case GGUF_VT_UINT64: case GGUF_VT_INT64:
		return true;
	default:
		return false;
	}
}

/* Validate a value of type `type` at the cursor and step over it.  `kv` is
 * the top-level pair being filled, NULL inside nested arrays.  `depth`
 * counts the arrays around this value. */
static int parse_value(struct rd *r, uint32_t type, int depth, struct gguf_kv *kv)
{
	const uint8_t *b = NULL;
	uint32_t et;
	uint64_t n, i, min;
	int rc;

	if (type >= GGUF_VT_COUNT)
		return rd_fail(r, ENGINE_EFORMAT, "unknown value type %u", type);

	if (type == GGUF_VT_STRING) {
		struct gguf_str s;

		if ((rc = rd_str(r, &s, "string value")) != 0)
			return rc;
		if (kv != NULL)
			kv->str = s;
		return 0;
	}

	if (type != GGUF_VT_ARRAY) {
		if ((rc = rd_bytes(r, vtype_size[type], &b, "value")) != 0)
			return rc;
		if (type == GGUF_VT_BOOL && b[0] > 1)
			return rd_fail(r, ENGINE_EFORMAT, "bool value %u is not 0 or 1", b[0]);
		if (kv != NULL)
			kv->val = b;
		return 0;
	}

	if (depth >= GGUF_MAX_ARRAY_DEPTH)
		return rd_fail(r, ENGINE_EFORMAT, "arrays nested deeper than %d",
			       GGUF_MAX_ARRAY_DEPTH);
	if ((rc = rd_u32(r, &et, "array element type")) != 0)
		return rc;
	if (et >= GGUF_VT_COUNT)
		return rd_fail(r, ENGINE_EFORMAT, "unknown array element type %u", et);
	if ((rc = rd_len(r, &n, "array length")) != 0)
		return rc;

	/* the smallest encoding of one element bounds the count */
	if (et == GGUF_VT_STRING)
		min = rd_len_size(r);
	else if (et == GGUF_VT_ARRAY)
		min = 4 + rd_len_size(r);
	else
		min = vtype_size[et];
	if (n > rd_left(r) / min)
		return rd_fail(r, ENGINE_EFORMAT,
			       "array of %llu %s elements does not fit in the %llu bytes left",
			       (unsigned long long)n, vtype_names[et],
			       (unsigned long long)rd_left(r));
	if (kv != NULL) {
		kv->arr_type = (enum gguf_vtype)et;
		kv->arr_len = n;
		kv->val = r->p + r->pos;
	}

	if (et == GGUF_VT_STRING) {
		struct gguf_str *strs = NULL;

		if (kv != NULL && n > 0) {
			/* n <= file size / 4, so this is bounded by the file */
			if (n > SIZE_MAX / sizeof(*strs) ||
			    (strs = malloc((size_t)n * sizeof(*strs))) == NULL)
				return rd_fail(r, ENGINE_ENOMEM, "out of memory for %llu strings",
					       (unsigned long long)n);
			kv->strs = strs;
		}
		for (i = 0; i < n; i++) {
			struct gguf_str s;

			if ((rc = rd_str(r, &s, "array string")) != 0)
				return rc;
			if (strs != NULL)
				strs[i] = s;
		}
		return 0;
	}
	if (et == GGUF_VT_ARRAY) {
		for (i = 0; i < n; i++)
			if ((rc = parse_value(r, GGUF_VT_ARRAY, depth + 1, NULL)) != 0)
				return rc;
		return 0;
	}
	if ((rc = rd_bytes(r, n * min, &b, "array elements")) != 0)
		return rc;
	if (et == GGUF_VT_BOOL)
		for (i = 0; i < n; i++)
			if (b[i] > 1) {
				r->pos -= n * min - i;
				return rd_fail(r, ENGINE_EFORMAT,
					       "bool array element %llu is %u, not 0 or 1",
					       (unsigned long long)i, b[i]);
			}
	return 0;
}

/* A key or tensor name: non-empty, bounded, no NUL (we hand it out as a C
 * string). */
static int check_name(struct rd *r, const struct gguf_str *s, uint64_t max, const char *what)
{
	if (s->len == 0)
		return rd_fail(r, ENGINE_EFORMAT, "empty %s", what);
	if (s->len > max)
		return rd_fail(r, ENGINE_EFORMAT, "%s is %llu bytes long (max %llu)", what,
			       (unsigned long long)s->len, (unsigned long long)max);
	if (memchr(s->ptr, '\0', (size_t)s->len) != NULL)
		return rd_fail(r, ENGINE_EFORMAT, "%s contains a NUL byte", what);
	return 0;
}

/* ==== tensors =========================================================== */

/* ggml ids that exist but that quant_traits_of() does not know: refused as
 * unsupported rather than malformed. */
static const char *ggml_other_type_name(uint32_t t)
{
	switch (t) {
	case 16: return "IQ2_XXS";
	case 17: return "IQ2_XS";
	case 18: return "IQ3_XXS";
	case 19: return "IQ1_S";
	case 21: return "IQ3_S";
	case 22: return "IQ2_S";
	case 24: return "I8";
	case 25: return "I16";
	case 26: return "I32";
	case 27: return "I64";
	case 28: return "F64";
	case 29: return "IQ1_M";
	case 34: return "TQ1_0";
	case 35: return "TQ2_0";
	case 39: return "MXFP4";
	default: return NULL;
	}
}

/* Parse one tensor info into *t (offset relative to the data section; data
 * pointer filled in later). */
static int parse_tensor_info(struct rd *r, struct gguf_tensor *t, struct gguf_str *name)
{
	const struct quant_traits *q;
	uint32_t n_dims, type;
	uint64_t ne, nel = 1, rows, rowbytes;
	int rc;

	snprintf(r->ctx, sizeof(r->ctx), "tensor info");
	if ((rc = rd_str(r, name, "tensor name")) != 0)
		return rc;
	rd_ctx(r, "tensor", name->ptr, name->len);
	if ((rc = check_name(r, name, GGUF_MAX_NAME_LEN, "tensor name")) != 0)
		return rc;
	if ((rc = rd_u32(r, &n_dims, "n_dims")) != 0)
		return rc;
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
		return rd_fail(r, ENGINE_EFORMAT, "n_dims %u is not in 1..%d", n_dims,
			       GGUF_MAX_DIMS);
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
		ne = 1;
		if (d < n_dims && (rc = rd_len(r, &ne, "dimension")) != 0)
			return rc;
		if (ne == 0 || ne > (uint64_t)INT64_MAX)
			return rd_fail(r, ENGINE_EFORMAT, "dimension %u is %lld, not positive", d,
				       (long long)ne);
		if (nel > (uint64_t)INT64_MAX / ne)
			return rd_fail(r, ENGINE_EFORMAT,
				       "element count overflows (dimension %u is %llu)", d,
				       (unsigned long long)ne);
		nel *= ne;
		t->ne[d] = (int64_t)ne;
	}
	if ((rc = rd_u32(r, &type, "tensor type")) != 0)
		return rc;
	q = quant_traits_of((enum quant_type)type);
	if (q == NULL) {
		const char *other = ggml_other_type_name(type);

		if (other != NULL)
			return rd_fail(r, ENGINE_EUNSUPPORTED, "tensor type %s (%u) is not supported",
				       other, type);
		return rd_fail(r, ENGINE_EFORMAT, "unknown tensor type %u", type);
	}
	t->type = (enum quant_type)type;
	if (t->ne[0] % q->block_size != 0)
		return rd_fail(r, ENGINE_EFORMAT,
			       "ne[0] %lld is not a multiple of the %s block size %lld",
			       (long long)t->ne[0], q->name, (long long)q->block_size);
	/* rowbytes <= ne[0] * 4 bytes: no type is larger than 4 bytes/element */
	rowbytes = (uint64_t)(t->ne[0] / q->block_size) * q->type_size;
	rows = nel / (uint64_t)t->ne[0];
	if (rowbytes > (uint64_t)INT64_MAX / rows)
		return rd_fail(r, ENGINE_EFORMAT, "byte size overflows");
	t->nbytes = rowbytes * rows;
	if ((rc = rd_u64(r, &t->offset, "tensor offset")) != 0)
		return rc;
	return 0;
}

/* ==== sorting and lookup ================================================ */

static int cmp_kv_key(const void *a, const void *b)
{
	return strcmp((*(struct gguf_kv *const *)a)->key, (*(struct gguf_kv *const *)b)->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
	return strcmp((*(struct gguf_tensor *const *)a)->name,
		      (*(struct gguf_tensor *const *)b)->name);
}

static int cmp_tensor_off(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(struct gguf_tensor *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static struct gguf_kv *kv_lookup(const struct gguf_file *f, const char *key)
{
	size_t lo = 0, hi = f->n_kv;

	if (key == NULL)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, f->kv_by_key[mid]->key);

		if (c == 0)
			return f->kv_by_key[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ==== open ============================================================== */

/* The header: magic, version, counts.  Recognises big-endian files. */
static int parse_header(struct rd *r, uint64_t *n_tensors, uint64_t *n_kv)
{
	const uint8_t *magic = NULL;
	uint32_t v;
	int rc;

	snprintf(r->ctx, sizeof(r->ctx), "header");
	if (r->size < 8)
		return rd_fail(r, ENGINE_EFORMAT, "file of %llu bytes is too small for a GGUF header",
			       (unsigned long long)r->size);
	if ((rc = rd_bytes(r, 4, &magic, "magic")) != 0)
		return rc;
	if (memcmp(magic, GGUF_MAGIC, 4) != 0) {
		r->pos = 0;
		return rd_fail(r, ENGINE_EFORMAT, "bad magic %02x %02x %02x %02x: not a GGUF file",
			       magic[0], magic[1], magic[2], magic[3]);
	}
	if ((rc = rd_u32(r, &v, "version")) != 0)
		return rc;
	r->pos -= 4;
	if (v >= 0x10000 && __builtin_bswap32(v) >= 1 && __builtin_bswap32(v) <= 3)
		return rd_fail(r, ENGINE_EUNSUPPORTED,
			       "file is big-endian (version field reads 0x%08x), which is unsupported",
			       v);
	if (v == 0)
		return rd_fail(r, ENGINE_EFORMAT, "bad version 0");
	if (v > 3)
		return rd_fail(r, v < 0x10000 ? ENGINE_EUNSUPPORTED : ENGINE_EFORMAT,
			       "GGUF version %u is not supported (1..3)", v);
	r->pos += 4;
	r->version = v;
	if ((rc = rd_len(r, n_tensors, "tensor count")) != 0)
		return rc;
	if ((rc = rd_len(r, n_kv, "metadata kv count")) != 0)
		return rc;
	return 0;
}

static int parse_kvs(struct rd *r, struct gguf_file *f, uint64_t n_kv,
		     struct gguf_str *keys)
{
	uint32_t type;
	int rc;

	for (uint64_t i = 0; i < n_kv; i++) {
		struct gguf_kv *kv = &f->kv[i];

		snprintf(r->ctx, sizeof(r->ctx), "kv %llu", (unsigned long long)i);
		if ((rc = rd_str(r, &keys[i], "key")) != 0)
			return rc;
		rd_ctx(r, "key", keys[i].ptr, keys[i].len);
		if ((rc = check_name(r, &keys[i], GGUF_MAX_KEY_LEN, "key")) != 0)
			return rc;
		if ((rc = rd_u32(r, &type, "value type")) != 0)
			return rc;
		if (type >= GGUF_VT_COUNT) {
			r->pos -= 4;
			return rd_fail(r, ENGINE_EFORMAT, "unknown value type %u", type);
		}
		kv->type = (enum gguf_vtype)type;
		kv->arr_type = GGUF_VT_COUNT;
		f->n_kv = i + 1; /* from here kv->strs is ours to free */
		if ((rc = parse_value(r, type, 0, kv)) != 0)
			return rc;
	}
	return 0;
}

/* Copy keys, tensor names and the file name into one arena. */
static int build_arena(struct rd *r, struct gguf_file *f, const struct gguf_str *keys,
		       const struct gguf_str *tnames)
{
	uint64_t total = strlen(r->name) + 1;
	char *p;

	for (size_t i = 0; i < f->n_kv; i++)
		total += keys[i].len + 1;
	for (size_t i = 0; i < f->n_tensors; i++)
		total += tnames[i].len + 1;
	/* total <= file size + counts + name: bounded by the file */
	if (total > SIZE_MAX || (f->arena = malloc((size_t)total)) == NULL) {
		snprintf(r->ctx, sizeof(r->ctx), "names");
		return rd_fail(r, ENGINE_ENOMEM, "out of memory for %llu bytes of names",
			       (unsigned long long)total);
	}
	p = f->arena;
	for (size_t i = 0; i < f->n_kv; i++) {
		memcpy(p, keys[i].ptr, (size_t)keys[i].len);
		p[keys[i].len] = '\0';
		f->kv[i].key = p;
		p += keys[i].len + 1;
	}
	for (size_t i = 0; i < f->n_tensors; i++) {
		memcpy(p, tnames[i].ptr, (size_t)tnames[i].len);
		p[tnames[i].len] = '\0';
		f->tensors[i].name = p;
		p += tnames[i].len + 1;
	}
	strcpy(p, r->name);
	f->name = p;
	return 0;
}

/* Sort the kv index and refuse duplicate keys. */
static int index_kvs(struct rd *r, struct gguf_file *f)
{
	f->kv_by_key = malloc((f->n_kv ? f->n_kv : 1) * sizeof(*f->kv_by_key));
	if (f->kv_by_key == NULL)
		return engine_seterr(ENGINE_ENOMEM, "%s: out of memory", r->name);
	for (size_t i = 0; i < f->n_kv; i++)
		f->kv_by_key[i] = &f->kv[i];
	qsort(f->kv_by_key, f->n_kv, sizeof(*f->kv_by_key), cmp_kv_key);
	for (size_t i = 1; i < f->n_kv; i++)
		if (strcmp(f->kv_by_key[i - 1]->key, f->kv_by_key[i]->key) == 0) {
			struct cleanname b;

			return engine_seterr(ENGINE_EFORMAT, "%s: duplicate key '%s'", r->name,
					     CLEAN(b, f->kv_by_key[i]->key));
		}
	return 0;
}

/* general.alignment: absent means 32; else a power of two that fits. */
static int read_alignment(struct rd *r, struct gguf_file *f)
{
	int err = 0;
	uint64_t a = gguf_get_u64(f, "general.alignment", GGUF_DEFAULT_ALIGNMENT, &err);

	if (err != 0)
		return err;
	if (a == 0 || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGNMENT)
		return engine_seterr(ENGINE_EFORMAT,
				     "%s: alignment %llu is not a power of two in 1..2^30 (key 'general.alignment')",
				     r->name, (unsigned long long)a);
	f->alignment = (uint32_t)a;
	return 0;
}

/* Place the tensors: data section start, offsets, bounds, overlap, names. */
static int place_tensors(struct rd *r, struct gguf_file *f)
{
	struct gguf_tensor **by_off = NULL;
	uint64_t a = f->alignment;
	int rc = 0;

	/* r->pos <= size < 2^63, so this cannot wrap */
	f->data_off = (r->pos + a - 1) / a * a;

	for (size_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor *t = &f->tensors[i];
		struct cleanname b;

		if (t->offset % a != 0)
			return engine_seterr(ENGINE_EFORMAT,
					     "%s: offset %llu is not a multiple of the alignment %llu (tensor '%s')",
					     r->name, (unsigned long long)t->offset,
					     (unsigned long long)a, CLEAN(b, t->name));
		if (f->data_off > f->size || t->offset > f->size - f->data_off ||
		    t->nbytes > f->size - f->data_off - t->offset)
			return engine_seterr(ENGINE_EFORMAT,
					     "%s: data [%llu, +%llu) runs past the end of the file (%llu bytes) (tensor '%s')",
					     r->name,
					     (unsigned long long)(f->data_off + t->offset),
					     (unsigned long long)t->nbytes,
					     (unsigned long long)f->size, CLEAN(b, t->name));
		t->data = f->base + f->data_off + t->offset;
	}

	f->t_by_name = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof(*f->t_by_name));
	by_off = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof(*by_off));
	if (f->t_by_name == NULL || by_off == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "%s: out of memory", r->name);
		goto out;
	}
	for (size_t i = 0; i < f->n_tensors; i++)
		f->t_by_name[i] = by_off[i] = &f->tensors[i];
	qsort(f->t_by_name, f->n_tensors, sizeof(*f->t_by_name), cmp_tensor_name);
	for (size_t i = 1; i < f->n_tensors; i++)
		if (strcmp(f->t_by_name[i - 1]->name, f->t_by_name[i]->name) == 0) {
			struct cleanname b;

			rc = engine_seterr(ENGINE_EFORMAT, "%s: duplicate tensor name (tensor '%s')",
					   r->name, CLEAN(b, f->t_by_name[i]->name));
			goto out;
		}
	qsort(by_off, f->n_tensors, sizeof(*by_off), cmp_tensor_off);
	for (size_t i = 1; i < f->n_tensors; i++) {
		const struct gguf_tensor *p = by_off[i - 1], *t = by_off[i];
		struct cleanname b1, b2;

		if (p->offset + p->nbytes > t->offset) {
			rc = engine_seterr(ENGINE_EFORMAT,
					   "%s: data at offset %llu overlaps tensor '%s' (tensor '%s')",
					   r->name, (unsigned long long)t->offset,
					   CLEAN(b1, p->name), CLEAN(b2, t->name));
			goto out;
		}
	}
out:
	free(by_off);
	return rc;
}

static int parse(struct gguf_file *f, const char *name)
{
	struct rd r = { .p = f->base, .size = f->size, .name = name };
	struct gguf_str *keys = NULL, *tnames = NULL;
	uint64_t n_tensors, n_kv;
	int rc;

	if ((rc = parse_header(&r, &n_tensors, &n_kv)) != 0)
		goto out;

	/* smallest kv: key length + 1 byte key + type + 1-byte value;
	 * smallest tensor info: name length + 1 byte + n_dims + one dim + type +
	 * offset.  Both counts must fit in what is left. */
	{
		uint64_t ls = rd_len_size(&r), min_kv = ls + 1 + 4 + 1,
			 min_ti = ls + 1 + 4 + ls + 4 + 8, left = rd_left(&r);

		if (n_kv > left / min_kv) {
			r.pos -= ls;
			rc = rd_fail(&r, ENGINE_EFORMAT,
				     "metadata kv count %llu does not fit in the %llu bytes left",
				     (unsigned long long)n_kv, (unsigned long long)left);
			goto out;
		}
		if (n_tensors > left / min_ti ||
		    n_kv * min_kv > left - n_tensors * min_ti) {
			r.pos -= 2 * ls;
			rc = rd_fail(&r, ENGINE_EFORMAT,
				     "tensor count %llu does not fit in the %llu bytes left",
				     (unsigned long long)n_tensors, (unsigned long long)left);
			goto out;
		}
	}
	f->version = r.version;
	f->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof(*f->kv));
	keys = calloc(n_kv ? (size_t)n_kv : 1, sizeof(*keys));
	f->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof(*f->tensors));
	tnames = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof(*tnames));
	if (f->kv == NULL || keys == NULL || f->tensors == NULL || tnames == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "%s: out of memory for %llu keys and %llu tensors",
				   name, (unsigned long long)n_kv,
				   (unsigned long long)n_tensors);
		goto out;
	}

	if ((rc = parse_kvs(&r, f, n_kv, keys)) != 0)
		goto out;
	for (uint64_t i = 0; i < n_tensors; i++) {
		if ((rc = parse_tensor_info(&r, &f->tensors[i], &tnames[i])) != 0)
			goto out;
		f->n_tensors = (size_t)i + 1;
	}

	if ((rc = build_arena(&r, f, keys, tnames)) != 0)
		goto out;
	if ((rc = index_kvs(&r, f)) != 0)
		goto out;
	if ((rc = read_alignment(&r, f)) != 0)
		goto out;
	rc = place_tensors(&r, f);
out:
	free(keys);
	free(tnames);
	return rc;
}

int gguf_open_mem(struct gguf_file **out, const void *data, size_t size, const char *name)
{
	struct gguf_file *f;
	int rc;

	if (out == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf_open_mem: out is NULL");
	*out = NULL;
	if (name == NULL)
		name = "<memory>";
	if (data == NULL && size > 0)
		return engine_seterr(ENGINE_EINVAL, "%s: data is NULL", name);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return engine_seterr(ENGINE_ENOMEM, "%s: out of memory", name);
	f->base = data;
	f->size = size;
	if ((rc = parse(f, name)) != 0) {
		gguf_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

int gguf_open(struct gguf_file **out, const char *path)
{
	struct gguf_file *f = NULL;
	struct stat st;
	void *map = MAP_FAILED;
	int fd = -1, rc;

	if (out == NULL || path == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf_open: NULL argument");
	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = engine_seterr(ENGINE_EIO, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = engine_seterr(ENGINE_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = engine_seterr(ENGINE_EIO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		rc = engine_seterr(ENGINE_EIO, "%s: file too large to map", path);
		goto out;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			rc = engine_seterr(ENGINE_EIO, "%s: cannot mmap: %s", path, strerror(errno));
			goto out;
		}
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "%s: out of memory", path);
		goto out_unmap;
	}
	f->base = map == MAP_FAILED ? NULL : map;
	f->size = (uint64_t)st.st_size;
	f->mapped = map != MAP_FAILED;
	map = MAP_FAILED; /* f owns it now */
	if ((rc = parse(f, path)) != 0) {
		gguf_close(f);
		goto out;
	}
	*out = f;
	rc = 0;
	goto out;

out_unmap:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Streaming the weights through 4 KiB pages costs a TLB miss per page and
 * stops the hardware prefetcher at every page boundary; a file mapping only
 * gets huge pages when the page cache happens to hold the file in 2 MiB
 * folios.  So the 2 MiB-aligned interior of the data section is copied into
 * anonymous memory with MADV_HUGEPAGE and moved (mremap) over the file
 * mapping at the same addresses: every pointer into the file stays valid,
 * gguf_close() unmaps it with the rest.  Each chunk's file pages are
 * dropped from the mapping once copied, so the resident size grows by one
 * chunk at most.  Any failure leaves the file mapping in place (pages that
 * were dropped fault back in from the page cache).  Readers of the data
 * meanwhile (another context of the same model) see the same bytes: a
 * page replaced under them faults and waits for the move. */
#define HUGE_PAGE ((uintptr_t)2 << 20)
#define HUGE_COPY_CHUNK ((size_t)32 << 20)

void gguf_data_hugepages(struct gguf_file *f)
{
	uintptr_t lo, hi;
	uint8_t *raw, *dst;
	size_t n;

	if (f == NULL || !f->mapped || f->data_off >= f->size || atomic_exchange(&f->data_moved, true))
		return;
	lo = ((uintptr_t)f->base + (uintptr_t)f->data_off + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	hi = ((uintptr_t)f->base + (uintptr_t)f->size) & ~(HUGE_PAGE - 1);
	if (hi <= lo)
		return;
	n = hi - lo;
	/* Anonymous memory is not page cache: the kernel cannot drop it under
	 * pressure.  Only a model that fits twice in the memory available now
	 * is moved, and HALO_NO_HUGEPAGES=1 keeps the plain file mapping. */
	{
		const char *off = getenv("HALO_NO_HUGEPAGES");

		if ((off && off[0] == '1') || !gguf_data_fits_twice(f))
			return;
	}
	raw = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return;
	/* a 2 MiB-aligned n bytes of it; the rest goes back */
	dst = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
	if (dst > raw)
		munmap(raw, (size_t)(dst - raw));
	munmap(dst + n, (size_t)(raw + n + HUGE_PAGE - (dst + n)));
	if (madvise(dst, n, MADV_HUGEPAGE) != 0)
		goto fail;
	for (size_t o = 0; o < n; o += HUGE_COPY_CHUNK) {
		size_t c = n - o < HUGE_COPY_CHUNK ? n - o : HUGE_COPY_CHUNK;

		memcpy(dst + o, (const void *)(lo + o), c);
		madvise((void *)(lo + o), c, MADV_DONTNEED);
	}
	if (mprotect(dst, n, PROT_READ) != 0 ||
	    mremap(dst, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)lo) == MAP_FAILED)
		goto fail;
	return;
fail:
	munmap(dst, n);
}

bool gguf_data_fits_twice(const struct gguf_file *f)
{
	long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	return f && f->data_off <= f->size && pages > 0 && psz > 0 &&
	       f->size - f->data_off <= (uint64_t)pages * (uint64_t)psz / 2;
}

/* The whole page range of the data section at once: a partial range would
 * split the huge pages at its ends (gguf_data_hugepages). */
int gguf_data_writable(struct gguf_file *f, bool on)
{
	uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE), lo, hi;

	if (f == NULL || !f->mapped || f->data_off >= f->size)
		return -1;
	lo = ((uintptr_t)f->base + (uintptr_t)f->data_off) & ~(ps - 1);
	hi = ((uintptr_t)f->base + (uintptr_t)f->size + ps - 1) & ~(ps - 1);
	return mprotect((void *)lo, hi - lo, on ? PROT_READ | PROT_WRITE : PROT_READ) == 0 ? 0 : -1;
}

void gguf_close(struct gguf_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n_kv; i++)
		free(f->kv[i].strs);
	free(f->kv);
	free(f->kv_by_key);
	free(f->tensors);
	free(f->t_by_name);
	free(f->arena);
	if (f->mapped)
		munmap((void *)f->base, (size_t)f->size);
	free(f);
}

/* ==== file properties =================================================== */

uint32_t gguf_version(const struct gguf_file *f)
{
	return f->version;
}

uint64_t gguf_file_size(const struct gguf_file *f)
{
	return f->size;
}

uint32_t gguf_alignment(const struct gguf_file *f)
{
	return f->alignment;
}

uint64_t gguf_data_offset(const struct gguf_file *f)
{
	return f->data_off;
}

const char *gguf_name(const struct gguf_file *f)
{
	return f->name;
}

/* ==== metadata ========================================================== */

size_t gguf_kv_count(const struct gguf_file *f)
{
	return f->n_kv;
}

const char *gguf_kv_key(const struct gguf_file *f, size_t i)
{
	return i < f->n_kv ? f->kv[i].key : NULL;
}

enum gguf_vtype gguf_kv_type(const struct gguf_file *f, size_t i)
{
	return i < f->n_kv ? f->kv[i].type : GGUF_VT_COUNT;
}

enum gguf_vtype gguf_kv_arr_type(const struct gguf_file *f, size_t i)
{
	return i < f->n_kv ? f->kv[i].arr_type : GGUF_VT_COUNT;
}

uint64_t gguf_kv_arr_len(const struct gguf_file *f, size_t i)
{
	return i < f->n_kv ? f->kv[i].arr_len : 0;
}

int64_t gguf_find_key(const struct gguf_file *f, const char *key)
{
	const struct gguf_kv *kv = kv_lookup(f, key);

	return kv ? (int64_t)(kv - f->kv) : -1;
}

/* An integer of type t at p: its magnitude and sign. */
struct ival {
	bool neg;    /* then the value is s */
	uint64_t u;  /* else the value is u */
	int64_t s;
};

static struct ival read_int(enum gguf_vtype t, const uint8_t *p)
{
	struct ival v = { false, 0, 0 };
	uint64_t raw = 0;
	unsigned n = vtype_size[t];

	for (unsigned i = 0; i < n; i++)
		raw |= (uint64_t)p[i] << (8 * i);
	switch (t) {
	case GGUF_VT_INT8: v.s = (int8_t)raw; break;
	case GGUF_VT_INT16: v.s = (int16_t)raw; break;
	case GGUF_VT_INT32: v.s = (int32_t)raw; break;
	case GGUF_VT_INT64: v.s = (int64_t)raw; break;
	default: v.u = raw; return v;
	}
	if (v.s < 0)
		v.neg = true;
	else
		v.u = (uint64_t)v.s;
	return v;
}

static double read_float(enum gguf_vtype t, const uint8_t *p)
{
	if (t == GGUF_VT_FLOAT32) {
		uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;
		float x;

		memcpy(&x, &b, 4);
		return x;
	}
	if (t == GGUF_VT_FLOAT64) {
		uint64_t b = le64(p);
		double x;

		memcpy(&x, &b, 8);
		return x;
	}
	{
		struct ival v = read_int(t, p);

		return v.neg ? (double)v.s : (double)v.u;
	}
}

static void set_err(int *err, int code)
{
	if (err != NULL)
		*err = code;
}

/* The integer value of `key`; false when absent (nothing set) or not an
 * integer (error set). */
static bool get_int(const struct gguf_file *f, const char *key, struct ival *v, int *err)
{
	struct cleanname b;
	const struct gguf_kv *kv = kv_lookup(f, key);

	if (kv == NULL)
		return false;
	if (!vtype_is_int(kv->type)) {
		set_err(err, engine_seterr(ENGINE_EFORMAT,
					   "%s: key '%s' is a %s, expected an integer", f->name,
					   CLEAN(b, kv->key), vtype_names[kv->type]));
		return false;
	}
	*v = read_int(kv->type, kv->val);
	return true;
}

static int range_err(const struct gguf_file *f, const char *key, const struct ival *v,
		     const char *want)
{
	struct cleanname b;

	if (v->neg)
		return engine_seterr(ENGINE_EFORMAT, "%s: key '%s' is %lld, does not fit %s",
				     f->name, CLEAN(b, key), (long long)v->s, want);
	return engine_seterr(ENGINE_EFORMAT, "%s: key '%s' is %llu, does not fit %s", f->name,
			     CLEAN(b, key), (unsigned long long)v->u, want);
}

uint64_t gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t def, int *err)
{
	struct ival v;

	if (!get_int(f, key, &v, err))
		return def;
	if (v.neg) {
		set_err(err, range_err(f, key, &v, "uint64"));
		return def;
	}
	return v.u;
}

int64_t gguf_get_i64(const struct gguf_file *f, const char *key, int64_t def, int *err)
{
	struct ival v;

	if (!get_int(f, key, &v, err))
		return def;
	if (v.neg)
		return v.s;
	if (v.u > (uint64_t)INT64_MAX) {
		set_err(err, range_err(f, key, &v, "int64"));
		return def;
	}
	return (int64_t)v.u;
}

uint32_t gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t def, int *err)
{
	struct ival v;

	if (!get_int(f, key, &v, err))
		return def;
	if (v.neg || v.u > UINT32_MAX) {
		set_err(err, range_err(f, key, &v, "uint32"));
		return def;
	}
	return (uint32_t)v.u;
}

double gguf_get_f64(const struct gguf_file *f, const char *key, double def, int *err)
{
	struct cleanname b;
	const struct gguf_kv *kv = kv_lookup(f, key);

	if (kv == NULL)
		return def;
	if (kv->type != GGUF_VT_FLOAT32 && kv->type != GGUF_VT_FLOAT64 && !vtype_is_int(kv->type)) {
		set_err(err, engine_seterr(ENGINE_EFORMAT, "%s: key '%s' is a %s, expected a number",
					   f->name, CLEAN(b, kv->key), vtype_names[kv->type]));
		return def;
	}
	return read_float(kv->type, kv->val);
}

float gguf_get_f32(const struct gguf_file *f, const char *key, float def, int *err)
{
	return (float)gguf_get_f64(f, key, def, err);
}

bool gguf_get_bool(const struct gguf_file *f, const char *key, bool def, int *err)
{
	struct cleanname b;
	const struct gguf_kv *kv = kv_lookup(f, key);

	if (kv == NULL)
		return def;
	if (kv->type != GGUF_VT_BOOL) {
		set_err(err, engine_seterr(ENGINE_EFORMAT, "%s: key '%s' is a %s, expected a bool",
					   f->name, CLEAN(b, kv->key), vtype_names[kv->type]));
		return def;
	}
	return kv->val[0] != 0;
}

struct gguf_str gguf_get_str(const struct gguf_file *f, const char *key, int *err)
{
	struct cleanname b;
	const struct gguf_kv *kv = kv_lookup(f, key);
	struct gguf_str none = { NULL, 0 };

	if (kv == NULL)
		return none;
	if (kv->type != GGUF_VT_STRING) {
		set_err(err, engine_seterr(ENGINE_EFORMAT, "%s: key '%s' is a %s, expected a string",
					   f->name, CLEAN(b, kv->key), vtype_names[kv->type]));
		return none;
	}
	return kv->str;
}

/* The array kv `i` if element `j` exists, else NULL. */
static const struct gguf_kv *arr_at(const struct gguf_file *f, size_t i, uint64_t j)
{
	if (i >= f->n_kv || f->kv[i].type != GGUF_VT_ARRAY || j >= f->kv[i].arr_len)
		return NULL;
	return &f->kv[i];
}

struct gguf_str gguf_arr_str(const struct gguf_file *f, size_t kv, uint64_t i)
{
	const struct gguf_kv *a = arr_at(f, kv, i);
	struct gguf_str none = { NULL, 0 };

	return a && a->arr_type == GGUF_VT_STRING ? a->strs[i] : none;
}

int64_t gguf_arr_int(const struct gguf_file *f, size_t kv, uint64_t i)
{
	const struct gguf_kv *a = arr_at(f, kv, i);
	struct ival v;

	if (a == NULL || !(vtype_is_int(a->arr_type) || a->arr_type == GGUF_VT_BOOL))
		return 0;
	if (a->arr_type == GGUF_VT_BOOL)
		return a->val[i];
	v = read_int(a->arr_type, a->val + i * vtype_size[a->arr_type]);
	if (v.neg)
		return v.s;
	return v.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v.u;
}

double gguf_arr_float(const struct gguf_file *f, size_t kv, uint64_t i)
{
	const struct gguf_kv *a = arr_at(f, kv, i);

	if (a == NULL || !(vtype_is_int(a->arr_type) || a->arr_type == GGUF_VT_FLOAT32 ||
			   a->arr_type == GGUF_VT_FLOAT64))
		return 0;
	return read_float(a->arr_type, a->val + i * vtype_size[a->arr_type]);
}

const void *gguf_arr_data(const struct gguf_file *f, size_t kv)
{
	if (kv >= f->n_kv || f->kv[kv].type != GGUF_VT_ARRAY ||
	    f->kv[kv].arr_type == GGUF_VT_STRING || f->kv[kv].arr_type == GGUF_VT_ARRAY)
		return NULL;
	return f->kv[kv].val;
}

/* ==== tensors =========================================================== */

size_t gguf_tensor_count(const struct gguf_file *f)
{
	return f->n_tensors;
}

const struct gguf_tensor *gguf_tensor_at(const struct gguf_file *f, size_t i)
{
	return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const struct gguf_tensor *gguf_tensor_find(const struct gguf_file *f, const char *name)
{
	size_t lo = 0, hi = f->n_tensors;

	if (name == NULL)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, f->t_by_name[mid]->name);

		if (c == 0)
			return f->t_by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
