/* quant_int.h - declarations shared by the quant*.c files only: the
 * matrix-vector kernels, which only some kernel sets have (quant_gemv512.h
 * for AVX-512), and their lookup. */
#ifndef HALO_QUANT_INT_H
#define HALO_QUANT_INT_H

#include "engine_int.h"

/* Per type; NULL where a set has no mat-vec kernel for the type (the
 * backend then uses the gemm tiles with one column). */
extern const quant_gemv_fn quant_gemv_avx512[QT_COUNT];     /* x86 builds only */
extern const quant_gemv_fn quant_gemv_avx512vnni[QT_COUNT]; /* x86 builds only */

/* The mat-vec kernel of kernel set k for type t, or NULL (quant_cpu.c). */
quant_gemv_fn quant_gemv_of(const struct quant_kernels *k, enum quant_type t);

#endif
