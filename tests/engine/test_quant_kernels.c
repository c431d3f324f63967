/* test_quant_kernels.c - every vec_dot, gemm and gemv kernel of every kernel set
 * this CPU runs, against the scalar reference; the vectorized activation
 * quantizers against the scalar ones.
 *
 * Oracle: dequantize the weight row and the quantized activation row with
 * the scalar to_float (itself checked bit for bit against ggml in
 * test_quant) and take the dot product in double.  A kernel passes when
 *     |kernel - oracle| <= TOL * sum_i |w_i * a_i|
 * TOL = 1e-5: the integer kernels are exact except for the float products of
 * the per-block scales and the float accumulation over at most a few dozen
 * blocks (a few 1e-7 relative); the float kernels differ from the double sum
 * by float rounding only.
 *
 * Quantized weights are random bytes (so every bit pattern of quants and
 * scales is exercised), re-drawn per block until the block dequantizes to
 * finite values below 1e6; float weights are uniform in [-4, 4].  (The
 * mutant test keeps every block's largest value in [0.5, 8), so that missing
 * one block is visible.)  Mutants check that the test can fail: a kernel fed
 * nibble-swapped weights, one that misses the last block, and one that
 * scales the first block by 1.5 must all be rejected.  The mat-vec kernels
 * (gemv) and the prepared-activation products (xgemm) are checked result
 * by result against the same oracle. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "testutil.h"

#define TOL 1e-5

static struct tu_rng rng = { 0x243f6a8885a308d3ull };

/* Fill a row of n elements of type t with random bytes, block by block,
 * redrawing blocks whose largest |value| is not in [lo, hi). */
static void random_row(enum quant_type t, void *row, int64_t n, float lo, float hi)
{
	const struct quant_traits *q = quant_traits_of(t);
	int64_t bs = q->block_size, nb = n / bs;
	uint8_t *p = row;
	float y[256];

	for (int64_t b = 0; b < nb; b++) {
		uint8_t *blk = p + (size_t)b * q->type_size;
		bool ok;

		do {
			for (size_t i = 0; i < q->type_size; i++)
				blk[i] = (uint8_t)tu_rnd32(&rng);
			q->to_float(blk, y, bs);
			float amax = 0.0f;

			ok = true;
			for (int64_t i = 0; i < bs; i++) {
				if (!(fabsf(y[i]) < hi))
					ok = false;
				amax = fmaxf(amax, fabsf(y[i]));
			}
			ok = ok && amax >= lo;
		} while (!ok);
	}
}

struct dot_case {
	enum quant_type t;
	int64_t n;
	uint8_t *wbuf, *w;   /* w = wbuf + 2 (F32: + 4): rows inside a GGUF tensor
				 * are only that aligned; exact-size allocation so
				 * that sanitizers see any over-read */
	void *a;             /* activation row in vec_dot_type */
	double ref, mag;     /* oracle and sum |w_i a_i| */
};

static void case_init(struct dot_case *c, enum quant_type t, int64_t n, float lo, float hi)
{
	const struct quant_traits *q = quant_traits_of(t);
	const struct quant_traits *qa = quant_traits_of(q->vec_dot_type);
	size_t ws = quant_row_size(t, n), as = quant_row_size(q->vec_dot_type, n);
	float *x = malloc((size_t)n * sizeof(float));
	float *wf = malloc((size_t)n * sizeof(float));
	float *af = malloc((size_t)n * sizeof(float));

	assert_true(ws > 0 && as > 0);
	assert_non_null(x);
	assert_non_null(wf);
	assert_non_null(af);
	c->t = t;
	c->n = n;
	c->wbuf = malloc(ws + (t == QT_F32 ? 4 : 2));
	c->a = aligned_alloc(64, (as + 63) / 64 * 64);
	assert_non_null(c->wbuf);
	assert_non_null(c->a);
	c->w = c->wbuf + (t == QT_F32 ? 4 : 2);
	if (!q->quantized) {
		/* random bits of a float format mostly give a few huge values that
		 * swamp the rest; use ordinary weights instead */
		for (int64_t i = 0; i < n; i++)
			wf[i] = tu_rndf(&rng) * 4.0f;
		q->from_float(wf, c->w, n);
	} else {
		random_row(t, c->w, n, lo, hi);
	}
	for (int64_t i = 0; i < n; i++)
		x[i] = tu_rndf(&rng) * (i % 5 == 0 ? 3.0f : 1.0f);
	qa->from_float(x, c->a, n);
	q->to_float(c->w, wf, n);
	qa->to_float(c->a, af, n);
	c->ref = c->mag = 0.0;
	for (int64_t i = 0; i < n; i++) {
		c->ref += (double)wf[i] * af[i];
		c->mag += fabs((double)wf[i] * af[i]);
	}
	free(x);
	free(wf);
	free(af);
}

static void case_free(struct dot_case *c)
{
	free(c->wbuf);
	free(c->a);
}

/* NaN fails too. */
static bool within(double got, const struct dot_case *c)
{
	return fabs(got - c->ref) <= TOL * c->mag + 1e-30;
}

static const enum quant_type weight_types[] = {
	QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q8_0, QT_IQ4_NL,
	QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K, QT_IQ4_XS,
};
#define N_WEIGHT_TYPES (sizeof(weight_types) / sizeof(weight_types[0]))

static void test_vec_dot_all(void **state)
{
	static const int64_t qblocks[] = { 1, 2, 7, 16 };
	static const int64_t fsizes[] = { 1, 7, 16, 33, 100, 256, 1000, 4096 };
	struct engine_cpu_caps caps;
	int checked = 0;

	(void)state;
	engine_cpu_caps_get(&caps);
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		enum quant_type t = weight_types[ti];
		const struct quant_traits *q = quant_traits_of(t);
		bool fl = !q->quantized;
		size_t ns = fl ? sizeof(fsizes) / sizeof(fsizes[0]) : sizeof(qblocks) / sizeof(qblocks[0]);

		for (size_t si = 0; si < ns; si++) {
			int64_t n = fl ? fsizes[si] : qblocks[si] * q->block_size;

			for (int rep = 0; rep < 3; rep++) {
				struct dot_case c;

				case_init(&c, t, n, 0.0f, 1e6f);
				for (int isa = 0; isa <= (int)caps.best; isa++) {
					double got;

					assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
					got = q->vec_dot(n, c.w, c.a);
					if (!within(got, &c))
						fail_msg("%s n=%lld %s: %.9g, reference %.9g (rel err %.3g)",
							 q->name, (long long)n, engine_isa_name((enum engine_isa)isa),
							 got, c.ref, fabs(got - c.ref) / c.mag);
					checked++;
				}
				case_free(&c);
			}
		}
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
	print_message("checked %d kernel results, ISAs scalar..%s\n", checked, engine_isa_name(caps.best));
}

/* The check must reject wrong kernels: every mutant is caught in every
 * trial, for every type and kernel set. */
static void test_vec_dot_mutants(void **state)
{
	struct engine_cpu_caps caps;

	(void)state;
	engine_cpu_caps_get(&caps);
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		enum quant_type t = weight_types[ti];
		const struct quant_traits *q = quant_traits_of(t);
		int64_t n = q->quantized ? 4 * q->block_size : 128;
		size_t ws = quant_row_size(t, n);
		int caught[3] = { 0, 0, 0 }, trials = 0;

		for (int rep = 0; rep < 8; rep++) {
			struct dot_case c;
			uint8_t *swapped = malloc(ws);

			/* blocks of similar magnitude, so that none is negligible */
			case_init(&c, t, n, 0.5f, 8.0f);
			for (size_t i = 0; i < ws; i++)
				swapped[i] = (uint8_t)(c.w[i] << 4 | c.w[i] >> 4);
			for (int isa = 0; isa <= (int)caps.best; isa++) {
				int64_t last = q->quantized ? q->block_size : 1;

				assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
				trials++;
				caught[0] += !within(q->vec_dot(n, swapped, c.a), &c);
				caught[1] += !within(q->vec_dot(n - last, c.w, c.a), &c);
				/* the first block (32 elements for float types) scaled 1.5x */
				caught[2] += !within(q->vec_dot(n, c.w, c.a) +
							     0.5 * q->vec_dot(q->quantized ? q->block_size : 32, c.w, c.a),
						     &c);
			}
			free(swapped);
			case_free(&c);
		}
		if (caught[0] != trials || caught[1] != trials || caught[2] != trials)
			fail_msg("%s: mutants caught swapped %d, short %d, block scaled %d of %d", q->name,
				 caught[0], caught[1], caught[2], trials);
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
}

/* Zero activations and zero weights give exactly 0 on every path. */
static void test_vec_dot_zero(void **state)
{
	struct engine_cpu_caps caps;
	static uint8_t w[4096], a[4096];

	(void)state;
	engine_cpu_caps_get(&caps);
	memset(w, 0, sizeof(w));
	memset(a, 0, sizeof(a));
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		const struct quant_traits *q = quant_traits_of(weight_types[ti]);

		for (int isa = 0; isa <= (int)caps.best; isa++) {
			assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
			assert_true(q->vec_dot(512, w, a) == 0.0f);
		}
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
}

/* gemm tiles: every type, every kernel set, every tile shape from 1 x 1 to
 * gemm_nr x gemm_nc (the odd edges of a matrix), on rows packed as in a
 * tensor (stride = row size, so rows are only as aligned as the format
 * makes them) and activation rows likewise.  Each result is checked against
 * the oracle of its (row, column) pair with vec_dot's tolerance. */
#define GM_ROWS 5
#define GM_COLS 5

static void test_gemm_all(void **state)
{
	static const int64_t qblocks[] = { 1, 2, 3, 8 };
	static const int64_t fsizes[] = { 1, 17, 64, 300 };
	struct engine_cpu_caps caps;
	int checked = 0;

	(void)state;
	engine_cpu_caps_get(&caps);
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		enum quant_type t = weight_types[ti];
		const struct quant_traits *q = quant_traits_of(t);
		const struct quant_traits *qa = quant_traits_of(q->vec_dot_type);

		for (size_t si = 0; si < 4; si++) {
			int64_t n = q->quantized ? qblocks[si] * q->block_size : fsizes[si];
			size_t ws = quant_row_size(t, n), as = quant_row_size(q->vec_dot_type, n);
			uint8_t *w = malloc(ws * GM_ROWS), *a = malloc(as * GM_COLS);
			float *wf = malloc((size_t)n * GM_ROWS * sizeof(float));
			float *af = malloc((size_t)n * GM_COLS * sizeof(float));
			float *x = malloc((size_t)n * sizeof(float));
			double ref[GM_COLS][GM_ROWS], mag[GM_COLS][GM_ROWS];

			assert_true(w && a && wf && af && x);
			for (int r = 0; r < GM_ROWS; r++) {
				if (q->quantized) {
					random_row(t, w + ws * r, n, 0.0f, 1e6f);
				} else {
					for (int64_t i = 0; i < n; i++)
						x[i] = tu_rndf(&rng) * 4.0f;
					q->from_float(x, w + ws * r, n);
				}
				q->to_float(w + ws * r, wf + n * r, n);
			}
			for (int c = 0; c < GM_COLS; c++) {
				for (int64_t i = 0; i < n; i++)
					x[i] = tu_rndf(&rng) * (i % 5 == 0 ? 3.0f : 1.0f);
				qa->from_float(x, a + as * c, n);
				qa->to_float(a + as * c, af + n * c, n);
			}
			for (int c = 0; c < GM_COLS; c++)
				for (int r = 0; r < GM_ROWS; r++) {
					ref[c][r] = mag[c][r] = 0.0;
					for (int64_t i = 0; i < n; i++) {
						double p = (double)wf[n * r + i] * af[n * c + i];

						ref[c][r] += p;
						mag[c][r] += fabs(p);
					}
				}
			for (int isa = 0; isa <= (int)caps.best; isa++) {
				assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
				assert_non_null(q->gemm);
				assert_true(q->gemm_nr >= 1 && q->gemm_nr <= GM_ROWS - 1);
				assert_true(q->gemm_nc >= 1 && q->gemm_nc <= GM_COLS - 1);
				for (int nr = 1; nr <= q->gemm_nr; nr++)
					for (int nc = 1; nc <= q->gemm_nc; nc++) {
						/* the tile at row 1, column 1: offsets matter */
						float out[GM_COLS][GM_ROWS + 1];

						for (int c = 0; c < GM_COLS; c++)
							for (int r = 0; r <= GM_ROWS; r++)
								out[c][r] = -12345.0f;
						q->gemm(n, nr, nc, w + ws, ws, a + as, as, &out[0][0], GM_ROWS + 1);
						for (int c = 0; c < GM_COLS; c++)
							for (int r = 0; r <= GM_ROWS; r++) {
								bool in = c < nc && r < nr;
								double e = in ? ref[c + 1][r + 1] : 0.0;

								if (!in) {
									if (out[c][r] != -12345.0f)
										fail_msg("%s %s gemm %dx%d wrote outside its tile",
											 q->name, engine_isa_name((enum engine_isa)isa), nr, nc);
									continue;
								}
								if (!(fabs(out[c][r] - e) <= TOL * mag[c + 1][r + 1] + 1e-30))
									fail_msg("%s n=%lld %s gemm %dx%d (%d,%d): %.9g, reference %.9g",
										 q->name, (long long)n,
										 engine_isa_name((enum engine_isa)isa), nr, nc, r, c,
										 out[c][r], e);
								checked++;
							}
					}
			}
			free(w);
			free(a);
			free(wf);
			free(af);
			free(x);
		}
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
	print_message("checked %d gemm results, ISAs scalar..%s\n", checked, engine_isa_name(caps.best));
}

/* Mat-vec kernels (gemv), where a kernel set has one: 1..GV_ROWS rows (odd
 * counts leave a remainder to the row loop), rows of 1 to 9 blocks (partial
 * groups of four) and rows longer than one activation chunk (8192
 * elements), packed at an odd offset in an exact-size buffer so that
 * sanitizers see any read past the last row.  Each row against the oracle
 * with vec_dot's tolerance. */
#define GV_ROWS 7

static void test_gemv_all(void **state)
{
	static const int64_t nblocks32[] = { 1, 2, 3, 4, 5, 9, 260 };
	static const int64_t nblocks256[] = { 1, 2, 3, 33 };
	struct engine_cpu_caps caps;
	int checked = 0;

	(void)state;
	engine_cpu_caps_get(&caps);
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		enum quant_type t = weight_types[ti];
		const struct quant_traits *q = quant_traits_of(t);
		const struct quant_traits *qa = quant_traits_of(q->vec_dot_type);
		bool k256 = q->block_size == 256;
		size_t nsizes = k256 ? 4 : 7;

		if (!q->quantized)
			continue;
		for (size_t si = 0; si < nsizes; si++) {
			int64_t n = (k256 ? nblocks256[si] : nblocks32[si]) * q->block_size;
			size_t ws = quant_row_size(t, n), as = quant_row_size(q->vec_dot_type, n);
			uint8_t *wbuf = malloc(ws * GV_ROWS + 2), *w = wbuf + 2;
			uint8_t *a = aligned_alloc(64, (as + 63) / 64 * 64);
			float *wf = malloc((size_t)n * sizeof(float)), *af = malloc((size_t)n * sizeof(float));
			double ref[GV_ROWS], mag[GV_ROWS];

			assert_true(wbuf && a && wf && af);
			for (int64_t i = 0; i < n; i++)
				wf[i] = tu_rndf(&rng) * (i % 5 == 0 ? 3.0f : 1.0f);
			qa->from_float(wf, a, n);
			qa->to_float(a, af, n);
			for (int r = 0; r < GV_ROWS; r++) {
				random_row(t, w + ws * r, n, 0.0f, 1e6f);
				q->to_float(w + ws * r, wf, n);
				ref[r] = mag[r] = 0.0;
				for (int64_t i = 0; i < n; i++) {
					ref[r] += (double)wf[i] * af[i];
					mag[r] += fabs((double)wf[i] * af[i]);
				}
			}
			for (int isa = 0; isa <= (int)caps.best; isa++) {
				assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
				if (q->gemv == NULL)
					continue;
				for (int nr = 1; nr <= GV_ROWS; nr++) {
					float out[GV_ROWS + 1];
					const uint8_t *w0 = w + ws * (size_t)(GV_ROWS - nr); /* the last nr rows */

					for (int r = 0; r <= GV_ROWS; r++)
						out[r] = -12345.0f;
					q->gemv(n, nr, w0, ws, a, out);
					if (out[nr] != -12345.0f)
						fail_msg("%s %s gemv of %d rows wrote past them", q->name,
							 engine_isa_name((enum engine_isa)isa), nr);
					for (int r = 0; r < nr; r++) {
						int rr = GV_ROWS - nr + r;

						if (!(fabs(out[r] - ref[rr]) <= TOL * mag[rr] + 1e-30))
							fail_msg("%s n=%lld %s gemv %d rows, row %d: %.9g, reference %.9g",
								 q->name, (long long)n,
								 engine_isa_name((enum engine_isa)isa), nr, r,
								 out[r], ref[rr]);
						checked++;
					}
				}
			}
			free(wbuf);
			free(a);
			free(wf);
			free(af);
		}
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
	print_message("checked %d gemv results\n", checked);
}

/* Prepared-activation products (xprep + xgemm), where a kernel set has
 * them: every tile edge from 1 x 1 to GX_ROWS x GX_COLS (past the kernels'
 * register tiles, 4 x 4 and 1 x 8), the row lengths of the gemv test,
 * weights packed at an odd offset in an exact-size buffer; each result
 * against the oracle, nothing written outside the product. */
#define GX_ROWS 6
#define GX_COLS 10

static void test_xgemm_all(void **state)
{
	static const int64_t nblocks32[] = { 1, 3, 4, 5, 9, 260 };
	static const int64_t nblocks256[] = { 1, 2, 33 };
	struct engine_cpu_caps caps;
	int checked = 0;

	(void)state;
	engine_cpu_caps_get(&caps);
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		enum quant_type t = weight_types[ti];
		const struct quant_traits *q = quant_traits_of(t);
		const struct quant_traits *qa = quant_traits_of(q->vec_dot_type);
		bool k256 = q->block_size == 256;
		size_t nsizes = k256 ? 3 : 6;

		if (!q->quantized)
			continue;
		for (size_t si = 0; si < nsizes; si++) {
			int64_t n = (k256 ? nblocks256[si] : nblocks32[si]) * q->block_size;
			size_t ws = quant_row_size(t, n), as = quant_row_size(q->vec_dot_type, n);
			uint8_t *wbuf = malloc(ws * GX_ROWS + 2), *w = wbuf + 2;
			uint8_t *a = malloc(as * GX_COLS);
			float *wf = malloc((size_t)n * sizeof(float) * GX_ROWS);
			float *af = malloc((size_t)n * sizeof(float));
			double ref[GX_COLS][GX_ROWS], mag[GX_COLS][GX_ROWS];

			assert_true(wbuf && a && wf && af);
			for (int r = 0; r < GX_ROWS; r++) {
				random_row(t, w + ws * r, n, 0.0f, 1e6f);
				q->to_float(w + ws * r, wf + (size_t)n * r, n);
			}
			for (int c = 0; c < GX_COLS; c++) {
				for (int64_t i = 0; i < n; i++)
					af[i] = tu_rndf(&rng) * (i % 5 == 0 ? 3.0f : 1.0f);
				qa->from_float(af, a + as * c, n);
				qa->to_float(a + as * c, af, n);
				for (int r = 0; r < GX_ROWS; r++) {
					ref[c][r] = mag[c][r] = 0.0;
					for (int64_t i = 0; i < n; i++) {
						double p = (double)wf[(size_t)n * r + i] * af[i];

						ref[c][r] += p;
						mag[c][r] += fabs(p);
					}
				}
			}
			for (int isa = 0; isa <= (int)caps.best; isa++) {
				size_t xs;
				uint8_t *x;

				assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
				if (q->xgemm == NULL)
					continue;
				assert_true(q->xsize && q->xprep);
				xs = q->xsize(n);
				assert_true(xs > 0 && xs % 64 == 0);
				x = aligned_alloc(64, xs * GX_COLS);
				assert_non_null(x);
				for (int c = 0; c < GX_COLS; c++)
					q->xprep(a + as * c, x + xs * c, n);
				for (int nr = 1; nr <= GX_ROWS; nr++)
					for (int nc = 1; nc <= GX_COLS; nc++) {
						float out[GX_COLS][GX_ROWS + 1];

						for (int c = 0; c < GX_COLS; c++)
							for (int r = 0; r <= GX_ROWS; r++)
								out[c][r] = -12345.0f;
						q->xgemm(n, nr, nc, w, ws, x, xs, &out[0][0], GX_ROWS + 1);
						for (int c = 0; c < GX_COLS; c++)
							for (int r = 0; r <= GX_ROWS; r++) {
								if (c >= nc || r >= nr) {
									if (out[c][r] != -12345.0f)
										fail_msg("%s %s xgemm %dx%d wrote outside",
											 q->name, engine_isa_name((enum engine_isa)isa), nr, nc);
									continue;
								}
								if (!(fabs(out[c][r] - ref[c][r]) <= TOL * mag[c][r] + 1e-30))
									fail_msg("%s n=%lld %s xgemm %dx%d (%d,%d): %.9g, reference %.9g",
										 q->name, (long long)n,
										 engine_isa_name((enum engine_isa)isa), nr, nc, r, c,
										 out[c][r], ref[c][r]);
								checked++;
							}
					}
				free(x);
			}
			free(wbuf);
			free(a);
			free(wf);
			free(af);
		}
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
	print_message("checked %d xgemm results\n", checked);
}

/* The vectorized activation quantizers give the scalar ones' bytes. */
static void test_from_float_isa(void **state)
{
	static const enum quant_type at[] = { QT_Q8_0, QT_Q8_K };
	struct engine_cpu_caps caps;
	const int64_t n = 1024;
	float x[1024];
	uint8_t ref[2048], got[2048];

	(void)state;
	engine_cpu_caps_get(&caps);
	for (size_t k = 0; k < 2; k++) {
		const struct quant_traits *q = quant_traits_of(at[k]);
		size_t rs = quant_row_size(at[k], n);

		for (int rep = 0; rep < 20; rep++) {
			for (int64_t i = 0; i < n; i++) /* ties and zero blocks included */
				x[i] = rep % 4 == 0 ? (float)((int)(tu_rndf(&rng) * 20.0f)) * 0.5f
					  : rep % 4 == 1 && i < 256 ? 0.0f : tu_rndf(&rng) * (1 + rep);
			assert_int_equal(engine_cpu_set_isa(ENGINE_ISA_SCALAR), 0);
			q->from_float(x, ref, n);
			for (int isa = 1; isa <= (int)caps.best; isa++) {
				assert_int_equal(engine_cpu_set_isa((enum engine_isa)isa), 0);
				memset(got, 0xa5, rs);
				q->from_float(x, got, n);
				if (memcmp(got, ref, rs) != 0)
					fail_msg("%s from_float %s differs from scalar", q->name,
						 engine_isa_name((enum engine_isa)isa));
			}
		}
	}
	assert_int_equal(engine_cpu_set_isa(caps.active), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vec_dot_all),
		cmocka_unit_test(test_gemm_all),
		cmocka_unit_test(test_from_float_isa),
		cmocka_unit_test(test_vec_dot_mutants),
		cmocka_unit_test(test_vec_dot_zero),
		/* last: the mutant test's verdicts depend on its random draws */
		cmocka_unit_test(test_gemv_all),
		cmocka_unit_test(test_xgemm_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
