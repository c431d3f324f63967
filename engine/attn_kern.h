/* attn_kern.h - the CPU attention kernel: one tile of queries against one
 * tile of at most ATTN_KT keys, with online softmax (attn_kern.c).
 *
 * The same source is compiled once per instruction set (portable, AVX2,
 * AVX-512) with its own -m flags; attn_kern_for() picks one at run time, as
 * the quant kernels do. */
#ifndef HALO_ATTN_KERN_H
#define HALO_ATTN_KERN_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

/* Keys per tile: the scores of one query row against a tile are four
 * 16-float vectors. */
#define ATTN_KT 64

struct attn_tile_args {
	int nq;                   /* query rows */
	int nk;                   /* keys in the tile, <= ATTN_KT */
	int hd, hdv;              /* key and value head widths */
	const float *const *q;    /* nq row pointers, hd floats each */
	const float *kt;          /* [hd][ATTN_KT] keys transposed; columns >= nk are 0 */
	const float *v;           /* [nk][hdv] values */
	const int *lo, *hi;       /* per row: visible keys [lo, hi) of the tile */
	float scale;
	float *m, *l;             /* per row: running max and sum of exp */
	float *acc;               /* [nq][hdv] running sum of p * v */
};

/* One tile's keys and values out of the cache: nk rows of one KV head. */
struct attn_load_args {
	int nk;                   /* rows, <= ATTN_KT */
	int hd, hdv;              /* key and value head widths */
	bool f16;                 /* the cache is F16 (else F32) */
	const void *k, *v;        /* the head's slice of row 0 */
	size_t k_stride, v_stride;/* bytes from a row to the next */
	float *kt;                /* out: [hd][ATTN_KT], columns >= nk zero */
	float *vt;                /* out: [nk][hdv] */
};

struct attn_kern {
	const char *name;
	void (*tile)(const struct attn_tile_args *a);
	void (*load)(const struct attn_load_args *a);
};

/* The kernel of `isa`, or of the best lower set this build has. */
const struct attn_kern *attn_kern_for(enum engine_isa isa);

/* One kernel per set (attn_kern.c, compiled per set). */
extern const struct attn_kern attn_kern_scalar;
extern const struct attn_kern attn_kern_avx2;
extern const struct attn_kern attn_kern_avx512;

#endif
