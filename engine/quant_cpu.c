/* quant_cpu.c - CPU feature detection and the choice of quant kernel set.
 *
 * Invariants:
 *  1. Detection runs once (pthread_once) on the first quant_traits_of() or
 *     engine_cpu_caps_get(); after it the traits table is fully bound.
 *  2. A kernel set is active only if the CPU has every feature its file was
 *     compiled for and this build contains it (HALO_QUANT_X86 from meson).
 *  3. HALO_CPU_ISA and engine_cpu_set_isa() can only lower the set, never
 *     raise it past `best`; an unknown HALO_CPU_ISA value is ignored. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quant_int.h"

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static struct engine_cpu_caps caps;

static const char *const isa_names[ENGINE_ISA_COUNT] = { "scalar", "avx2", "avx512" };

const char *engine_isa_name(enum engine_isa isa)
{
	return (unsigned)isa < ENGINE_ISA_COUNT ? isa_names[isa] : "?";
}

const struct quant_kernels *quant_kernels_for(enum engine_isa isa)
{
	static const struct quant_kernels *const sets[ENGINE_ISA_COUNT] = {
		[ENGINE_ISA_SCALAR] = &quant_kernels_scalar,
#ifdef HALO_QUANT_X86
		[ENGINE_ISA_AVX2] = &quant_kernels_avx2,
		[ENGINE_ISA_AVX512] = &quant_kernels_avx512,
#endif
	};

	if ((unsigned)isa >= ENGINE_ISA_COUNT)
		return NULL;
#ifdef HALO_QUANT_X86
	/* The AVX-512 set in its VNNI build where the CPU has VNNI. */
	if (isa == ENGINE_ISA_AVX512 && caps.avx512vnni)
		return &quant_kernels_avx512vnni;
#endif
	return sets[isa];
}

const struct quant_xkernels *quant_xkernels_of(const struct quant_kernels *k)
{
#ifdef HALO_QUANT_X86
	if (k == &quant_kernels_avx512vnni)
		return &quant_xkernels_avx512vnni;
	if (k == &quant_kernels_avx512)
		return &quant_xkernels_avx512;
#endif
	(void)k;
	return NULL;
}

/* Here, not in quant_r16.c: only this file is compiled with HALO_QUANT_X86. */
const struct quant_r16_kernels *quant_r16_built(void)
{
#ifdef HALO_QUANT_X86
	return &quant_r16_avx512vnni;
#else
	return NULL;
#endif
}

const struct quant_r16_kernels *quant_r16_active(void)
{
	const char *off = getenv("HALO_NO_REPACK");

	quant_cpu_init();
	if (off && off[0] == '1')
		return NULL;
#ifdef HALO_QUANT_X86
	if (quant_kernels_for(caps.active) == &quant_kernels_avx512vnni)
		return &quant_r16_avx512vnni;
#endif
	return NULL;
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* F16C is CPUID.1:ECX bit 29 (clang's __builtin_cpu_supports has no name
 * for it).  The AVX state check below covers its registers too. */
static bool cpuid_f16c(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

/* libgcc's __builtin_cpu_supports also checks that the OS saves the
 * AVX / AVX-512 register state (XCR0). */
static void detect_features(struct engine_cpu_caps *c)
{
	__builtin_cpu_init();
	c->avx2 = __builtin_cpu_supports("avx2");
	c->fma = __builtin_cpu_supports("fma");
	c->f16c = cpuid_f16c();
	c->avx512f = __builtin_cpu_supports("avx512f");
	c->avx512bw = __builtin_cpu_supports("avx512bw");
	c->avx512vl = __builtin_cpu_supports("avx512vl");
	c->avx512vnni = __builtin_cpu_supports("avx512vnni");
	c->avx512bf16 = __builtin_cpu_supports("avx512bf16");
}
#else
static void detect_features(struct engine_cpu_caps *c)
{
	(void)c;
}
#endif

static enum engine_isa best_isa(const struct engine_cpu_caps *c)
{
	bool avx2 = c->avx2 && c->fma && c->f16c;

	if (avx2 && c->avx512f && c->avx512bw && c->avx512vl && quant_kernels_for(ENGINE_ISA_AVX512))
		return ENGINE_ISA_AVX512;
	if (avx2 && quant_kernels_for(ENGINE_ISA_AVX2))
		return ENGINE_ISA_AVX2;
	return ENGINE_ISA_SCALAR;
}

static void cpu_init_once(void)
{
	const char *env = getenv("HALO_CPU_ISA");

	memset(&caps, 0, sizeof(caps));
	detect_features(&caps);
	caps.best = caps.active = best_isa(&caps);
	if (env != NULL) {
		for (int i = 0; i < ENGINE_ISA_COUNT; i++) {
			if (strcmp(env, isa_names[i]) == 0 && (enum engine_isa)i < caps.best) {
				caps.active = (enum engine_isa)i;
				caps.forced = true;
			}
		}
	}
	quant_traits_bind(quant_kernels_for(caps.active));
}

void quant_cpu_init(void)
{
	pthread_once(&cpu_once, cpu_init_once);
}

void engine_cpu_caps_get(struct engine_cpu_caps *out)
{
	quant_cpu_init();
	*out = caps;
}

int engine_cpu_set_isa(enum engine_isa isa)
{
	quant_cpu_init();
	if ((unsigned)isa >= ENGINE_ISA_COUNT || isa > caps.best)
		return engine_seterr(ENGINE_EUNSUPPORTED, "cpu: kernel set %s not available (best: %s)",
				     engine_isa_name(isa), engine_isa_name(caps.best));
	caps.active = isa;
	caps.forced = isa != caps.best;
	quant_traits_bind(quant_kernels_for(isa));
	return ENGINE_OK;
}
