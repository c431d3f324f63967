/* engine_int.h - private declarations shared by the files of libhalo_engine. */
#ifndef HALO_ENGINE_INT_H
#define HALO_ENGINE_INT_H

#include "engine.h"

#if defined(__GNUC__)
#define ENGINE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ENGINE_PRINTF(a, b)
#endif

/* Record the calling thread's last error and return `code` (a negative
 * enum engine_err), so callers can write `return engine_seterr(...)`. */
int engine_seterr(int code, const char *fmt, ...) ENGINE_PRINTF(2, 3);

/* Forget the calling thread's last error. */
void engine_clearerr(void);


/* ---- quant blocks and CPU kernel sets (quant*.c) ----------------------- */

/* Block layouts of the ggml quant types (shared/docs/gguf-quants.md).  f16
 * fields are raw IEEE half bits; multi-byte fields are little-endian, and
 * so is every host we build for.  The structs have no padding (checked
 * below), so an array of them is the packed GGUF row. */
struct blk_q4_0 { uint16_t d; uint8_t qs[16]; };
struct blk_q4_1 { uint16_t d, m; uint8_t qs[16]; };
struct blk_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct blk_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct blk_q8_0 { uint16_t d; int8_t qs[32]; };
struct blk_q8_1 { uint16_t d, s; int8_t qs[32]; }; /* s = d * sum(qs) */
struct blk_iq4_nl { uint16_t d; uint8_t qs[16]; };
struct blk_q2_k { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; };
struct blk_q3_k { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; };
struct blk_q4_k { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct blk_q5_k { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct blk_q6_k { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
struct blk_q8_k { float d; int8_t qs[256]; int16_t bsums[16]; }; /* bsums[i] = sum qs[16i..16i+15] */
struct blk_iq4_xs { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; };

_Static_assert(sizeof(struct blk_q4_0) == 18, "q4_0");
_Static_assert(sizeof(struct blk_q4_1) == 20, "q4_1");
_Static_assert(sizeof(struct blk_q5_0) == 22, "q5_0");
_Static_assert(sizeof(struct blk_q5_1) == 24, "q5_1");
_Static_assert(sizeof(struct blk_q8_0) == 34, "q8_0");
_Static_assert(sizeof(struct blk_q8_1) == 36, "q8_1");
_Static_assert(sizeof(struct blk_iq4_nl) == 18, "iq4_nl");
_Static_assert(sizeof(struct blk_q2_k) == 84, "q2_k");
_Static_assert(sizeof(struct blk_q3_k) == 110, "q3_k");
_Static_assert(sizeof(struct blk_q4_k) == 144, "q4_k");
_Static_assert(sizeof(struct blk_q5_k) == 176, "q5_k");
_Static_assert(sizeof(struct blk_q6_k) == 210, "q6_k");
_Static_assert(sizeof(struct blk_q8_k) == 292, "q8_k");
_Static_assert(sizeof(struct blk_iq4_xs) == 136, "iq4_xs");

/* One instruction set's kernels, generated from quant_kern.h by
 * quant_scalar.c, quant_avx2.c and quant_avx512.c.  Entries are NULL where
 * the type has no such kernel. */
struct quant_kernels {
	const char *isa;
	quant_to_float_fn to_float[QT_COUNT];
	quant_vec_dot_fn vec_dot[QT_COUNT];
	quant_gemm_fn gemm[QT_COUNT];            /* tiles up to QUANT_GEMM_NR x NC */
	quant_from_float_fn from_float[QT_COUNT]; /* NULL: quant.c's scalar one */
};

/* The largest gemm tile of every kernel set (rows x activation columns). */
#define QUANT_GEMM_NR 4
#define QUANT_GEMM_NC 4

extern const struct quant_kernels quant_kernels_scalar;
extern const struct quant_kernels quant_kernels_avx2;   /* only in x86 builds */
extern const struct quant_kernels quant_kernels_avx512; /* only in x86 builds */
extern const struct quant_kernels quant_kernels_avx512vnni; /* the same + VNNI */

/* The kernel set for `isa`, or NULL if this build has none (quant_cpu.c). */
const struct quant_kernels *quant_kernels_for(enum engine_isa isa);

/* Fill the dispatched fields of the traits table from `k` (quant.c). */
void quant_traits_bind(const struct quant_kernels *k);

/* Detect the CPU and bind the traits once; idempotent (quant_cpu.c). */
void quant_cpu_init(void);

/* ---- row-interleaved weights (quant_r16.c, quant_r16_512.h) -------------
 * Groups of QUANT_R16_ROWS rows of some types can be repacked in place into
 * an interleaved layout of the same size, which kernels of some instruction
 * sets multiply 16 rows at a time (quant_r16.c says why and how). */
#define QUANT_R16_ROWS 16

/* Kernels of one layout family: mm[t] has quant_xgemm_fn's contract, with
 * w at a group's start, nr a multiple of 16 and ws the row size; x holds
 * rows of t's vec_dot_type, prepared by xprep[t] (xsize[t] bytes each)
 * where xprep[t] is not NULL. */
struct quant_r16_kernels {
	quant_xgemm_fn mm[QT_COUNT];
	quant_xsize_fn xsize[QT_COUNT];
	quant_xprep_fn xprep[QT_COUNT];
};

extern const struct quant_r16_kernels quant_r16_avx512vnni; /* x86 builds only */

/* The interleaved kernels of the active kernel set, or NULL if it has none
 * (quant_cpu.c); HALO_NO_REPACK=1 also gives NULL. */
const struct quant_r16_kernels *quant_r16_active(void);

/* Whether t has an interleaved layout (quant_r16.c). */
bool quant_r16_layout(enum quant_type t);

/* One group: 16 row-major rows of n elements at src into the interleaved
 * layout at dst, or back (unpack).  src and dst must not overlap. */
void quant_r16_pack(enum quant_type t, int64_t n, const void *src, void *dst);
void quant_r16_unpack(enum quant_type t, int64_t n, const void *src, void *dst);

/* Repack groups g0..g1-1 of a matrix of rows of n elements in place; tmp
 * holds one group (16 rows). */
void quant_r16_pack_groups(enum quant_type t, int64_t n, void *data, int64_t g0, int64_t g1, void *tmp);

/* The interleaved kernels this build has, active or not (sizes of their
 * prepared activations for every context: a model repacked once keeps its
 * layout whatever later contexts choose); NULL if none (quant_cpu.c). */
const struct quant_r16_kernels *quant_r16_built(void);

/* Back the tensor data of a file gguf_open() mapped with huge pages, at the
 * same addresses (for the CPU backend, which streams it every token); a
 * no-op for gguf_open_mem() files, after the first call, and on failure
 * (gguf.c). */
void gguf_data_hugepages(struct gguf_file *f);

/* Make the tensor data writable (on) or read-only again.  The mapping is
 * private: writes never reach the file.  -1 for files gguf_open() did not
 * map (gguf.c). */
int gguf_data_writable(struct gguf_file *f, bool on);

/* Whether the tensor data fits twice in the memory available now: the
 * condition for turning it into memory the kernel cannot drop (anonymous
 * huge pages, or pages rewritten in place). */
bool gguf_data_fits_twice(const struct gguf_file *f);

#endif
