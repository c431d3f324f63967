/* quant_int.h - declarations shared by the quant*.c files only: the
 * mat-vec and prepared-activation kernels, which only some kernel sets have
 * (quant_gemv512.h for AVX-512), and their lookup. */
#ifndef HALO_QUANT_INT_H
#define HALO_QUANT_INT_H

#include "engine_int.h"

/* Per type; NULL where a set has no such kernel for the type (the backend
 * then uses the gemm tiles). */
struct quant_xkernels {
	quant_gemv_fn gemv[QT_COUNT];
	quant_xsize_fn xsize[QT_COUNT];
	quant_xprep_fn xprep[QT_COUNT];
	quant_xgemm_fn xgemm[QT_COUNT];
};

extern const struct quant_xkernels quant_xkernels_avx512;     /* x86 builds only */
extern const struct quant_xkernels quant_xkernels_avx512vnni; /* x86 builds only */

/* The extra kernels of kernel set k, or NULL if it has none (quant_cpu.c). */
const struct quant_xkernels *quant_xkernels_of(const struct quant_kernels *k);

#endif
