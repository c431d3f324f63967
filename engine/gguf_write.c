/* gguf_write.c - a small GGUF v3 writer.
 *
 * Metadata is serialized as it is added into one growing buffer; tensors
 * are remembered as (name, type, dims, borrowed data pointer) and their
 * bytes are streamed straight from the caller's memory at write time, so
 * writing a 1 GB model costs no second 1 GB buffer.  Layout: header, kvs,
 * tensor infos, zero padding to the alignment, then each tensor's data
 * padded to the alignment (../shared/docs/gguf-quants.md, 2.1-2.3).
 *
 * The writer validates only what it needs to produce a well-laid-out file;
 * it does not refuse duplicate keys or names, so tests can build files the
 * reader must reject.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_int.h"

#define GW_DEFAULT_ALIGNMENT 32u
#define GW_MAX_META (1ull << 32) /* bound on serialized metadata */

struct gw_tensor {
	char *name;
	enum quant_type type;
	uint32_t n_dims;
	int64_t ne[GGUF_MAX_DIMS];
	uint64_t nbytes;
	const void *data; /* borrowed; NULL: zeros */
};

struct gguf_writer {
	uint32_t alignment;
	uint64_t n_kv;
	uint8_t *meta; /* serialized kvs */
	size_t meta_len, meta_cap;
	struct gw_tensor *tensors;
	size_t n_tensors, cap_tensors;
};

int gguf_writer_new(struct gguf_writer **out)
{
	struct gguf_writer *w;

	if (out == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf_writer_new: out is NULL");
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		*out = NULL;
		return engine_seterr(ENGINE_ENOMEM, "gguf writer: out of memory");
	}
	w->alignment = GW_DEFAULT_ALIGNMENT;
	*out = w;
	return 0;
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n_tensors; i++)
		free(w->tensors[i].name);
	free(w->tensors);
	free(w->meta);
	free(w);
}

/* ==== metadata serialization ============================================ */

static int meta_put(struct gguf_writer *w, const void *p, size_t n)
{
	if (n > GW_MAX_META - w->meta_len)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: metadata larger than %llu bytes",
				     (unsigned long long)GW_MAX_META);
	if (w->meta_len + n > w->meta_cap) {
		size_t cap = w->meta_cap ? w->meta_cap : 256;
		uint8_t *m;

		while (cap < w->meta_len + n)
			cap *= 2;
		if ((m = realloc(w->meta, cap)) == NULL)
			return engine_seterr(ENGINE_ENOMEM, "gguf writer: out of memory");
		w->meta = m;
		w->meta_cap = cap;
	}
	if (n > 0)
		memcpy(w->meta + w->meta_len, p, n);
	w->meta_len += n;
	return 0;
}

/* Little-endian integer of n bytes. */
static int meta_le(struct gguf_writer *w, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return meta_put(w, b, n);
}

static int meta_str(struct gguf_writer *w, const char *s, size_t len)
{
	int rc = meta_le(w, len, 8);

	return rc ? rc : meta_put(w, s, len);
}

static unsigned scalar_size(enum gguf_vtype t)
{
	switch (t) {
	case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
	case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
	case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
	case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
	default: return 0;
	}
}

/* One scalar from a C value of the matching type. */
static int meta_scalar(struct gguf_writer *w, enum gguf_vtype t, const void *val)
{
	unsigned n = scalar_size(t);
	uint64_t v = 0;

	switch (n) {
	case 1: { uint8_t x; memcpy(&x, val, 1); v = x; break; }
	case 2: { uint16_t x; memcpy(&x, val, 2); v = x; break; }
	case 4: { uint32_t x; memcpy(&x, val, 4); v = x; break; }
	case 8: memcpy(&v, val, 8); break;
	}
	if (t == GGUF_VT_BOOL)
		v = *(const bool *)val ? 1 : 0;
	return meta_le(w, v, n);
}

/* Start a kv: key and value type.  On failure the metadata is restored. */
static int kv_begin(struct gguf_writer *w, const char *key, enum gguf_vtype t, size_t *mark)
{
	int rc;

	if (key == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: key is NULL");
	*mark = w->meta_len;
	if ((rc = meta_str(w, key, strlen(key))) != 0 || (rc = meta_le(w, t, 4)) != 0)
		w->meta_len = *mark;
	return rc;
}

static int kv_end(struct gguf_writer *w, size_t mark, int rc)
{
	if (rc != 0)
		w->meta_len = mark;
	else
		w->n_kv++;
	return rc;
}

int gguf_writer_add_val(struct gguf_writer *w, const char *key, enum gguf_vtype type,
			const void *val)
{
	size_t mark;
	int rc;

	if (scalar_size(type) == 0 || val == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: key '%s': bad scalar type %d",
				     key ? key : "(null)", (int)type);
	if ((rc = kv_begin(w, key, type, &mark)) != 0)
		return rc;
	return kv_end(w, mark, meta_scalar(w, type, val));
}

int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
	return gguf_writer_add_val(w, key, GGUF_VT_UINT32, &v);
}

int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v)
{
	return gguf_writer_add_val(w, key, GGUF_VT_INT32, &v);
}

int gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v)
{
	return gguf_writer_add_val(w, key, GGUF_VT_UINT64, &v);
}

int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v)
{
	return gguf_writer_add_val(w, key, GGUF_VT_FLOAT32, &v);
}

int gguf_writer_add_bool(struct gguf_writer *w, const char *key, bool v)
{
	return gguf_writer_add_val(w, key, GGUF_VT_BOOL, &v);
}

int gguf_writer_add_strn(struct gguf_writer *w, const char *key, const char *s, size_t len)
{
	size_t mark;
	int rc;

	if (s == NULL && len > 0)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: key '%s': string is NULL",
				     key ? key : "(null)");
	if ((rc = kv_begin(w, key, GGUF_VT_STRING, &mark)) != 0)
		return rc;
	return kv_end(w, mark, meta_str(w, s, len));
}

int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *s)
{
	return gguf_writer_add_strn(w, key, s, s ? strlen(s) : 0);
}

int gguf_writer_add_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem,
			const void *elems, uint64_t n)
{
	unsigned es = scalar_size(elem);
	size_t mark;
	int rc;

	if (es == 0 || (elems == NULL && n > 0))
		return engine_seterr(ENGINE_EINVAL, "gguf writer: key '%s': bad array", key ? key : "(null)");
	if ((rc = kv_begin(w, key, GGUF_VT_ARRAY, &mark)) != 0)
		return rc;
	if ((rc = meta_le(w, elem, 4)) != 0 || (rc = meta_le(w, n, 8)) != 0)
		return kv_end(w, mark, rc);
	for (uint64_t i = 0; i < n && rc == 0; i++)
		rc = meta_scalar(w, elem, (const uint8_t *)elems + i * (elem == GGUF_VT_BOOL ? sizeof(bool) : es));
	return kv_end(w, mark, rc);
}

int gguf_writer_add_arr_str(struct gguf_writer *w, const char *key,
			    const char *const *strs, uint64_t n)
{
	size_t mark;
	int rc;

	if (strs == NULL && n > 0)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: key '%s': bad array", key ? key : "(null)");
	if ((rc = kv_begin(w, key, GGUF_VT_ARRAY, &mark)) != 0)
		return rc;
	if ((rc = meta_le(w, GGUF_VT_STRING, 4)) != 0 || (rc = meta_le(w, n, 8)) != 0)
		return kv_end(w, mark, rc);
	for (uint64_t i = 0; i < n && rc == 0; i++)
		rc = strs[i] ? meta_str(w, strs[i], strlen(strs[i]))
			     : engine_seterr(ENGINE_EINVAL, "gguf writer: key '%s': string %llu is NULL",
					     key, (unsigned long long)i);
	return kv_end(w, mark, rc);
}

int gguf_writer_set_alignment(struct gguf_writer *w, uint32_t alignment)
{
	int rc;

	if (alignment == 0 || (alignment & (alignment - 1)) != 0)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: alignment %u is not a power of two",
				     alignment);
	if ((rc = gguf_writer_add_u32(w, "general.alignment", alignment)) != 0)
		return rc;
	w->alignment = alignment;
	return 0;
}

/* ==== tensors =========================================================== */

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, enum quant_type type,
			   uint32_t n_dims, const int64_t *ne, const void *data)
{
	const struct quant_traits *q = quant_traits_of(type);
	struct gw_tensor t = { .type = type, .n_dims = n_dims, .data = data };
	uint64_t rows = 1;

	if (name == NULL || ne == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: tensor name or dims NULL");
	if (q == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: tensor '%s': unknown type %d", name,
				     (int)type);
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: tensor '%s': n_dims %u", name, n_dims);
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
		t.ne[d] = d < n_dims ? ne[d] : 1;
		if (t.ne[d] <= 0 || (d > 0 && rows > (uint64_t)INT64_MAX / (uint64_t)t.ne[d]))
			return engine_seterr(ENGINE_EINVAL, "gguf writer: tensor '%s': bad dim %u",
					     name, d);
		if (d > 0)
			rows *= (uint64_t)t.ne[d];
	}
	if (t.ne[0] % q->block_size != 0)
		return engine_seterr(ENGINE_EINVAL,
				     "gguf writer: tensor '%s': ne[0] %lld not a multiple of %lld",
				     name, (long long)t.ne[0], (long long)q->block_size);
	t.nbytes = quant_row_size(type, t.ne[0]);
	if (t.nbytes == 0 || rows > (uint64_t)INT64_MAX / t.nbytes)
		return engine_seterr(ENGINE_EINVAL, "gguf writer: tensor '%s': too large", name);
	t.nbytes *= rows;

	if (w->n_tensors == w->cap_tensors) {
		size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 16;
		struct gw_tensor *p = realloc(w->tensors, cap * sizeof(*p));

		if (p == NULL)
			return engine_seterr(ENGINE_ENOMEM, "gguf writer: out of memory");
		w->tensors = p;
		w->cap_tensors = cap;
	}
	if ((t.name = strdup(name)) == NULL)
		return engine_seterr(ENGINE_ENOMEM, "gguf writer: out of memory");
	w->tensors[w->n_tensors++] = t;
	return 0;
}

/* ==== output ============================================================ */

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static int put_le(FILE *fp, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fwrite(b, 1, n, fp) == n ? 0 : -1;
}

static int put_zeros(FILE *fp, uint64_t n)
{
	static const uint8_t zero[4096];

	while (n > 0) {
		size_t k = n < sizeof(zero) ? (size_t)n : sizeof(zero);

		if (fwrite(zero, 1, k, fp) != k)
			return -1;
		n -= k;
	}
	return 0;
}

/* Emit the whole file to fp; -1 on a write error (errno set). */
static int emit(const struct gguf_writer *w, FILE *fp)
{
	uint64_t pos, off = 0;

	if (fwrite("GGUF", 1, 4, fp) != 4 || put_le(fp, 3, 4) || put_le(fp, w->n_tensors, 8) ||
	    put_le(fp, w->n_kv, 8))
		return -1;
	if (w->meta_len > 0 && fwrite(w->meta, 1, w->meta_len, fp) != w->meta_len)
		return -1;
	pos = 24 + w->meta_len;
	for (size_t i = 0; i < w->n_tensors; i++) {
		const struct gw_tensor *t = &w->tensors[i];
		size_t len = strlen(t->name);

		if (put_le(fp, len, 8) || fwrite(t->name, 1, len, fp) != len ||
		    put_le(fp, t->n_dims, 4))
			return -1;
		for (uint32_t d = 0; d < t->n_dims; d++)
			if (put_le(fp, (uint64_t)t->ne[d], 8))
				return -1;
		if (put_le(fp, t->type, 4) || put_le(fp, off, 8))
			return -1;
		pos += 8 + len + 4 + 8ull * t->n_dims + 4 + 8;
		off = align_up(off + t->nbytes, w->alignment);
	}
	if (w->n_tensors == 0)
		return 0; /* vocab-only files end after the metadata */
	if (put_zeros(fp, align_up(pos, w->alignment) - pos))
		return -1;
	for (size_t i = 0; i < w->n_tensors; i++) {
		const struct gw_tensor *t = &w->tensors[i];

		if (t->data != NULL) {
			const uint8_t *p = t->data;
			uint64_t left = t->nbytes;

			while (left > 0) {
				size_t k = left > (1u << 30) ? (1u << 30) : (size_t)left;

				if (fwrite(p, 1, k, fp) != k)
					return -1;
				p += k;
				left -= k;
			}
		} else if (put_zeros(fp, t->nbytes)) {
			return -1;
		}
		if (i + 1 < w->n_tensors &&
		    put_zeros(fp, align_up(t->nbytes, w->alignment) - t->nbytes))
			return -1;
	}
	return 0;
}

int gguf_writer_write(struct gguf_writer *w, const char *path)
{
	char *tmp = NULL;
	FILE *fp = NULL;
	int fd = -1, rc;

	if (w == NULL || path == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf_writer_write: NULL argument");
	if ((tmp = malloc(strlen(path) + 16)) == NULL)
		return engine_seterr(ENGINE_ENOMEM, "%s: out of memory", path);
	sprintf(tmp, "%s.tmp.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		rc = engine_seterr(ENGINE_EIO, "%s: cannot create temporary file: %s", path,
				   strerror(errno));
		goto out_free;
	}
	/* mkstemp makes 0600; a model file is as readable as any other */
	if (fchmod(fd, 0644) != 0) {
		rc = engine_seterr(ENGINE_EIO, "%s: fchmod: %s", path, strerror(errno));
		close(fd);
		goto out_unlink;
	}
	if ((fp = fdopen(fd, "wb")) == NULL) {
		rc = engine_seterr(ENGINE_EIO, "%s: fdopen: %s", path, strerror(errno));
		close(fd);
		goto out_unlink;
	}
	if (emit(w, fp) != 0 || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		rc = engine_seterr(ENGINE_EIO, "%s: write failed: %s", path, strerror(errno));
		fclose(fp);
		goto out_unlink;
	}
	if (fclose(fp) != 0) {
		rc = engine_seterr(ENGINE_EIO, "%s: close failed: %s", path, strerror(errno));
		goto out_unlink;
	}
	if (rename(tmp, path) != 0) {
		rc = engine_seterr(ENGINE_EIO, "%s: rename failed: %s", path, strerror(errno));
		goto out_unlink;
	}
	rc = 0;
	goto out_free;

out_unlink:
	unlink(tmp);
out_free:
	free(tmp);
	return rc;
}

int gguf_writer_write_mem(struct gguf_writer *w, void **out, size_t *out_size)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (w == NULL || out == NULL || out_size == NULL)
		return engine_seterr(ENGINE_EINVAL, "gguf_writer_write_mem: NULL argument");
	*out = NULL;
	*out_size = 0;
	if ((fp = open_memstream(&buf, &len)) == NULL)
		return engine_seterr(ENGINE_ENOMEM, "gguf writer: open_memstream: %s", strerror(errno));
	if (emit(w, fp) != 0) {
		fclose(fp);
		free(buf);
		return engine_seterr(ENGINE_ENOMEM, "gguf writer: out of memory");
	}
	if (fclose(fp) != 0) {
		free(buf);
		return engine_seterr(ENGINE_ENOMEM, "gguf writer: out of memory");
	}
	*out = buf;
	*out_size = len;
	return 0;
}
