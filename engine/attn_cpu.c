/* attn_cpu.c - pick the attention kernel of an instruction set. */
#include "attn_kern.h"

const struct attn_kern *attn_kern_for(enum engine_isa isa)
{
#ifdef HALO_ATTN_X86
	if (isa >= ENGINE_ISA_AVX512)
		return &attn_kern_avx512;
	if (isa >= ENGINE_ISA_AVX2)
		return &attn_kern_avx2;
#else
	(void)isa;
#endif
	return &attn_kern_scalar;
}
