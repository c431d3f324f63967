/* backend_vk.h - the Vulkan backend's private interface, shared by its files
 * (backend_vk.c: device, memory, pipelines, recording and submission;
 * backend_vk_ops.c: the ops of struct engine_backend_ops; vk_bench.c) and
 * by the tests. */
#ifndef HALO_BACKEND_VK_H
#define HALO_BACKEND_VK_H

#include <stddef.h>
#include <stdint.h>

#include "model_int.h"

/* One embedded SPIR-V shader variant (vk_shaders.c, generated). */
struct vk_shader {
	const char *name;
	const uint32_t *code;
	size_t size;          /* bytes */
};
extern const struct vk_shader vk_shaders[];
extern const size_t vk_n_shaders;

/* Options of backend_vk_new; NULL = all defaults. */
struct backend_vk_opts {
	const char *cache_dir;     /* pipeline cache directory; NULL = the XDG
				    * default ($XDG_CACHE_HOME/halo-agent/vulkan,
				    * else $HOME/.cache/...), "" = none */
	bool profile;              /* time each dispatch (also HALO_VK_PROFILE=1) */
};

/* Create the Vulkan backend on device `device` (an index of
 * engine_vk_probe's list).  explicit_request: the user asked for Vulkan, so
 * any device type is accepted (lavapipe included) and `device` is used as
 * given; otherwise (auto) only a discrete or integrated GPU is taken, the
 * first discrete one unless `device` > 0 names a GPU.  Errors:
 * ENGINE_EUNSUPPORTED (no loader, no such device, a device too old),
 * ENGINE_ENOMEM.  A pipeline cache that cannot be read or written is never
 * an error: the backend then runs without one. */
int backend_vk_new(struct engine_backend **out, int device, bool explicit_request,
		   const struct backend_vk_opts *opts);

/* Counters of this process, for tests and diagnostics. */
struct vk_stats {
	uint64_t live_bytes;       /* device memory allocated now, all backends */
	uint64_t live_allocs;      /* vkAllocateMemory calls not yet freed */
	uint64_t validation_msgs;  /* warnings and errors from the validation layer */
	uint64_t submits, dispatches, replayed_chunks, recorded_chunks;
	uint64_t pipelines;        /* vkCreateComputePipelines calls */
	uint64_t pcache_loaded;    /* pipeline cache files accepted */
	uint64_t pcache_rejected;  /* cache files present but refused (corrupt, foreign) */
	uint64_t pcache_saved;     /* cache files written */
};
void backend_vk_stats(struct vk_stats *out);

/* Device time per shader of a backend created with profiling, summed over
 * every specialization of the shader: at most `max` rows, longest first;
 * returns how many there are (0 when profiling is off or unsupported). */
struct vk_prof_row {
	const char *shader;        /* borrowed: the embedded shader's name */
	uint64_t calls;
	double ms;
};
size_t backend_vk_profile(const struct engine_backend *be, struct vk_prof_row *out,
			  size_t max);

/* Whether `be` is a Vulkan backend that took the subgroup path (tests). */
bool backend_vk_uses_subgroups(const struct engine_backend *be);

#endif
