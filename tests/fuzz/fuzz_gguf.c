/* fuzz_gguf.c - libFuzzer target for the GGUF reader and engine_model_info.
 *
 * Opens the input with gguf_open_mem() and, when that succeeds, touches
 * everything the API hands out (every key, value, array element, string
 * byte, tensor name and the first and last byte of every tensor) so that
 * ASan sees any pointer that escapes the input.  It also checks the
 * reader's invariants and aborts when one is broken:
 *   - a failed open leaves a one-line message naming the input;
 *   - every key and tensor name is found again by lookup;
 *   - every tensor lies inside the input and its size matches its shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static volatile uint64_t sink;

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_gguf: invariant broken: %s\n", what);
		abort();
	}
}

/* Fold a double into the sink by its bits (a cast of a negative or huge
 * value to an integer would be undefined). */
static void sinkd(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	sink += b;
}

static void touch(const void *p, uint64_t n)
{
	const uint8_t *b = p;

	if (n > 0)
		sink += b[0] + b[n - 1];
}

static void walk_kv(const struct gguf_file *f, size_t i)
{
	const char *key = gguf_kv_key(f, i);
	enum gguf_vtype t = gguf_kv_type(f, i), et = gguf_kv_arr_type(f, i);
	uint64_t n = gguf_kv_arr_len(f, i);
	struct gguf_str s;
	int err = 0;

	check(key != NULL && key[0] != '\0', "key");
	check(gguf_find_key(f, key) == (int64_t)i, "key lookup");
	check(t < GGUF_VT_COUNT, "value type");
	/* every getter on every key: wrong types must only set err */
	sink += gguf_get_u64(f, key, 0, &err);
	sink += (uint64_t)gguf_get_i64(f, key, 0, &err);
	sink += gguf_get_u32(f, key, 0, &err);
	sinkd(gguf_get_f64(f, key, 0, &err));
	sinkd(gguf_get_f32(f, key, 0, &err));
	sink += gguf_get_bool(f, key, false, &err);
	s = gguf_get_str(f, key, &err);
	touch(s.ptr, s.len);
	if (err != 0)
		check(strchr(engine_errmsg(), '\n') == NULL, "one-line getter message");
	if (t != GGUF_VT_ARRAY) {
		check(et == GGUF_VT_COUNT && n == 0, "scalar has no elements");
		return;
	}
	check(et < GGUF_VT_COUNT, "element type");
	for (uint64_t j = 0; j < n; j++) {
		s = gguf_arr_str(f, i, j);
		touch(s.ptr, s.len);
		sink += (uint64_t)gguf_arr_int(f, i, j);
		sinkd(gguf_arr_float(f, i, j));
	}
	s = gguf_arr_str(f, i, n);
	check(s.ptr == NULL, "element past the end");
	if (gguf_arr_data(f, i) != NULL && n > 0) {
		const uint8_t *d = gguf_arr_data(f, i);

		sink += d[0];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf_file *f = NULL;
	struct engine_model_info mi;
	int rc;

	rc = gguf_open_mem(&f, data, size, "fuzz.gguf");
	if (rc != 0) {
		check(f == NULL, "no handle on failure");
		check(strncmp(engine_errmsg(), "fuzz.gguf: ", 11) == 0, "message names the file");
		check(strchr(engine_errmsg(), '\n') == NULL, "one-line message");
		return 0;
	}
	check(gguf_version(f) >= 1 && gguf_version(f) <= 3, "version");
	check(gguf_alignment(f) > 0 && (gguf_alignment(f) & (gguf_alignment(f) - 1)) == 0,
	      "alignment");
	for (size_t i = 0; i < gguf_kv_count(f); i++)
		walk_kv(f, i);
	check(gguf_kv_key(f, gguf_kv_count(f)) == NULL, "key past the end");
	for (size_t i = 0; i < gguf_tensor_count(f); i++) {
		const struct gguf_tensor *t = gguf_tensor_at(f, i);
		const uint8_t *p = t->data;
		uint64_t rows = 1;

		check(gguf_tensor_find(f, t->name) == t, "tensor lookup");
		check(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS, "n_dims");
		for (int d = 1; d < GGUF_MAX_DIMS; d++)
			rows *= (uint64_t)t->ne[d];
		check(t->nbytes == quant_row_size(t->type, t->ne[0]) * rows, "tensor size");
		check(p >= data && t->nbytes <= size && (size_t)(p - data) <= size - t->nbytes,
		      "tensor inside the input");
		check(t->offset % gguf_alignment(f) == 0, "tensor offset aligned");
		touch(p, t->nbytes);
	}
	check(gguf_tensor_at(f, gguf_tensor_count(f)) == NULL, "tensor past the end");
	if (engine_model_info(&mi, f) == 0) {
		check(mi.tensor_bytes <= size, "tensor bytes");
		check(mi.bytes_per_token <= mi.tensor_bytes, "bytes per token");
		check(strlen(mi.arch) < sizeof(mi.arch), "arch");
	}
	gguf_close(f);
	return 0;
}
