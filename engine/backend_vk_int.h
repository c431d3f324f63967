/* backend_vk_int.h - the Vulkan backend's state, shared by backend_vk.c
 * (device, memory, pipelines, recording) and backend_vk_ops.c (the ops).
 *
 * Design notes.
 * 1. Ops are not recorded into a command buffer as they are issued: each
 *    becomes a struct vk_dispatch (pipeline, bindings, group counts, whether
 *    a barrier precedes it) plus its parameters, written straight into a
 *    host-visible parameter buffer at the dispatch's slot.  Dispatches are
 *    collected in chunks of VK_CHUNK; a full chunk is recorded and
 *    submitted at once (so the device starts while the host issues the
 *    rest), the last one at sync(), which waits for the fence.
 * 2. A chunk whose dispatch list equals what its command buffer already
 *    holds is submitted again without recording.  Everything that changes
 *    from token to token (positions, KV length) lives in the parameters,
 *    never in the recorded commands, so decode steps replay.
 * 3. Barriers: one global memory barrier before a dispatch that reads or
 *    writes a buffer written since the last barrier, or writes one read
 *    since then; independent ops (q/k/v, gate/up) run back to back.
 * 4. Memory: weights are copied once per backend into blocks of at most
 *    VK_BLOCK bytes, found again from their host address (the model is
 *    never modified, so two contexts may share it).  On UMA devices (and
 *    lavapipe) buffers are DEVICE_LOCAL|HOST_VISIBLE and written in place;
 *    elsewhere through a staging buffer.  Every allocation is counted.
 * 5. A binding never exceeds maxStorageBufferRange: tensors are bound at
 *    an aligned offset below their start, the remainder passed as a
 *    parameter, and ops over larger tensors are split into windows.
 * 6. Ops cannot return errors; the first one is kept and returned by
 *    sync(), and later ops are skipped.
 * 7. Pipelines are built through one VkPipelineCache per backend, seeded
 *    from a file keyed by the device (vk_pcache.c) and written back at
 *    free when its contents changed.  A file is handed to the driver only
 *    after its checksum and its Vulkan header (vendor, device, UUID) are
 *    checked; any problem means running without a cache, never an error.
 * 8. Profiling (vk_prof.c) is decided at creation.  With it, each chunk's
 *    command buffer writes a timestamp before its first dispatch and one
 *    after every dispatch, into the chunk's own range of one query pool;
 *    a dispatch's time is the difference to the previous timestamp, so
 *    overlapping work is never counted twice and the barriers before a
 *    dispatch count as its time.  Results are read after each fence
 *    wait.  Without profiling no query is recorded or read. */
#ifndef HALO_BACKEND_VK_INT_H
#define HALO_BACKEND_VK_INT_H

#include <stdatomic.h>

#include "backend_vk.h"
#include "vk_int.h"

#define VK_NBIND 8                 /* binding 0: parameters */
#define VK_NPARAM 32               /* words of parameters per dispatch */
#define VK_CHUNK 96                /* dispatches per command buffer */
#define VK_MAX_CHUNKS 64           /* before a pass waits mid-way */
#define VK_MAX_PIPES 256
#define VK_TRACK 32                /* buffers tracked between barriers */
#define VK_BLOCK ((VkDeviceSize)1 << 30)
#define VK_STAGING ((VkDeviceSize)16 << 20)

struct vk_buf {
	VkBuffer buf;
	VkDeviceMemory mem;
	void *map;                 /* host pointer when host-visible */
	VkDeviceSize size;         /* of the buffer */
	VkDeviceSize alloc;        /* of its memory (counted) */
};

struct vk_bind {
	VkBuffer buf;
	VkDeviceSize off, range;
};

/* What a command buffer holds for one dispatch: compared for replay. */
struct vk_dispatch {
	VkPipeline pipe;
	struct vk_bind b[VK_NBIND];
	uint32_t gx, gy, gz;
	uint32_t barrier;
};

struct vk_chunk {
	VkCommandBuffer cmd;
	VkDescriptorPool pool;
	struct vk_dispatch rec[VK_CHUNK];  /* what cmd holds */
	uint32_t n_rec;
	bool valid;
};

struct vk_pipe {
	const struct vk_shader *sh;
	uint32_t spec[3];
	VkPipeline pipe;
	uint64_t prof_calls, prof_ticks;   /* note 8 */
};

struct vk_weight {
	const char *host;          /* start in the model's mapping */
	size_t size;
	struct vk_buf *blk;
	VkDeviceSize off;
};

struct vk_backend {
	struct engine_backend base;
	struct vk_fns f;
	VkInstance inst;
	VkDebugUtilsMessengerEXT dbg;
	VkPhysicalDevice pd;
	VkDevice dev;
	VkQueue queue;
	uint32_t qfam;
	struct engine_vk_device info;
	VkPhysicalDeviceProperties props;
	char name[300];
	VkPhysicalDeviceMemoryProperties mp;
	uint32_t mt_dev, mt_host;  /* memory types: device buffers, host buffers */
	bool zero_copy;            /* device buffers are host-visible */
	bool subgroup;             /* reductions by subgroupAdd */
	bool rows_kernel;          /* mat-vec with one row per invocation (CPU devices) */
	bool blk_kernel;           /* whole-block form for quantized weights */
	uint32_t wg_matvec;        /* workgroup size of the mat-vec */
	uint32_t att_groups;       /* workgroups split attention aims for; 0: no split */
	VkDeviceSize align, max_range;
	VkDescriptorSetLayout dsl;
	VkPipelineLayout layout;
	struct vk_pipe pipes[VK_MAX_PIPES];
	uint32_t n_pipes;
	VkCommandPool cpool;
	VkCommandBuffer xfer;      /* one-shot copies */
	VkFence fence;
	struct vk_chunk chunks[VK_MAX_CHUNKS];
	uint32_t cur;              /* chunk being filled */
	struct vk_dispatch pend[VK_CHUNK];
	uint32_t n_pend;
	bool in_flight;            /* submitted, not waited for */
	struct vk_buf params;      /* VK_MAX_CHUNKS * VK_CHUNK slots */
	uint32_t pstride;
	VkBuffer wr[VK_TRACK], rd[VK_TRACK];
	uint32_t n_wr, n_rd;
	struct vk_buf staging;     /* without zero copy */
	struct vk_buf dummy;       /* bound where a shader's binding is unused */
	struct vk_buf xh;          /* activations as f16 for matvec_blk (reserve) */
	struct vk_buf att_part;    /* partials of split attention (reserve) */
	struct vk_weight *w;
	size_t n_w;
	struct vk_buf **blocks;
	size_t n_blocks;
	int err;                   /* first error of an op (note 6) */
	VkPipelineCache pcache;    /* note 7; VK_NULL_HANDLE = none */
	char *pcache_path;         /* its file; NULL = not saved */
	void *pcache_seed;         /* the driver data it was created from */
	size_t pcache_seed_len;
	bool prof;                 /* note 8: profiling asked for */
	VkQueryPool qpool;         /* VK_MAX_CHUNKS ranges of VK_CHUNK + 1 */
	uint64_t ts_mask;          /* valid bits of a timestamp */
};

static inline struct vk_backend *vkb(struct engine_backend *be)
{
	return (struct vk_backend *)be;
}

/* Record the first error (note 6); returns it. */
int vk_fail(struct vk_backend *vk, int code, const char *what);

/* Where a tensor lives: its buffer and byte offset (activations by their
 * bk handle, weights by host address).  NULL after vk_fail when unknown. */
struct vk_buf *vk_locate(struct vk_backend *vk, const struct etensor *t,
			 VkDeviceSize *off);

/* Bind bytes [off, off + bytes) of b at slot i of d; returns the offset of
 * `off` inside the binding in bytes (note 5). */
uint32_t vk_bind(struct vk_backend *vk, struct vk_dispatch *d, int i,
		 const struct vk_buf *b, VkDeviceSize off, VkDeviceSize bytes);

/* Issue a dispatch of shader `name` with specialization constants spec
 * (workgroup size, two more; 0 = shader default).  `writes` has bit i set
 * for every binding i the shader writes.  Unset bindings get a dummy. */
void vk_issue(struct vk_backend *vk, const char *name, const uint32_t spec[3],
	      struct vk_dispatch *d, uint32_t writes, const uint32_t *params,
	      uint32_t n_params);

/* Groups for n workgroups: x up to 65535, the rest in y. */
void vk_groups(struct vk_dispatch *d, uint64_t n);

/* Bytes of att_part that attention up to shape a needs (0: it never
 * splits). */
VkDeviceSize vk_attention_scratch(const struct vk_backend *vk, const struct attn_params *a);

extern const struct engine_backend_ops vk_ops;

/* Process counters of the pipeline cache (backend_vk_stats). */
extern _Atomic uint64_t vk_n_pcache_loaded, vk_n_pcache_rejected, vk_n_pcache_saved;

/* Whether environment switch `name` is set to something other than "0". */
bool vk_env_on(const char *name);

/* The pipeline cache (note 7, vk_pcache.c).  open: after the device is
 * created; dir as backend_vk_opts.cache_dir.  Leaves vk->pcache
 * VK_NULL_HANDLE when there is none; never fails.  close: saves it if it
 * changed and destroys it (before the device). */
void vk_pcache_open(struct vk_backend *vk, const char *dir);
void vk_pcache_close(struct vk_backend *vk);

/* Profiling (note 8, vk_prof.c).  init: the query pool, when vk->prof and
 * the queue writes timestamps (else a message and vk->prof off); returns
 * an error only for a failed Vulkan call.  record_begin / record_after:
 * the timestamps of chunk `chunk` in cmd.  collect: add the results of
 * chunks [0, n_chunks), all completed.  report: the table to stderr. */
int vk_prof_init(struct vk_backend *vk, uint32_t ts_valid_bits);
void vk_prof_record_begin(struct vk_backend *vk, VkCommandBuffer cmd, uint32_t chunk,
			  uint32_t n);
void vk_prof_record_after(struct vk_backend *vk, VkCommandBuffer cmd, uint32_t chunk,
			  uint32_t i);
void vk_prof_collect(struct vk_backend *vk, uint32_t n_chunks);
void vk_prof_report(struct vk_backend *vk);

/* The ops (backend_vk_ops.c). */
void vk_op_get_rows(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *table, const struct etensor *ids,
		    uint32_t n, float scale);
void vk_op_rms_norm(struct engine_backend *be, struct etensor *dst,
		    const struct etensor *x, const struct etensor *w,
		    uint32_t n_rows, float eps);
void vk_op_matmul(struct engine_backend *be, struct etensor *dst,
		  const struct etensor *w, const struct etensor *x,
		  uint32_t n_tokens, const struct etensor *bias,
		  const struct etensor *res);
void vk_op_add(struct engine_backend *be, struct etensor *dst,
	       const struct etensor *a, const struct etensor *b, uint32_t n_tokens);
void vk_op_glu(struct engine_backend *be, struct etensor *dst,
	       const struct etensor *gate, const struct etensor *up,
	       uint32_t n_tokens, enum act_kind act);
void vk_op_rope(struct engine_backend *be, struct etensor *x,
		const struct etensor *pos, uint32_t n_tokens, uint32_t n_heads,
		uint32_t head_dim, uint32_t n_dims, enum rope_mode mode,
		float base, float pos_scale, const struct etensor *freq_factors);
void vk_op_top_k(struct engine_backend *be, struct etensor *out, const struct etensor *logits,
		 uint32_t k);
void vk_op_rope_qkv(struct engine_backend *be, struct etensor *q, const struct etensor *k,
		    const struct etensor *v, struct etensor *kcache, struct etensor *vcache,
		    const struct etensor *pos, const struct rope_params *rp,
		    const struct etensor *q_norm, const struct etensor *k_norm, float eps,
		    uint32_t pos0, uint32_t n_tokens);
void vk_op_kv_store(struct engine_backend *be, struct etensor *kcache,
		    struct etensor *vcache, const struct etensor *k,
		    const struct etensor *v, uint32_t pos0, uint32_t n_tokens);
void vk_op_attention(struct engine_backend *be, struct etensor *out,
		     const struct etensor *q, const struct etensor *kcache,
		     const struct etensor *vcache, const struct attn_params *p);
void vk_op_moe_route(struct engine_backend *be, struct etensor *ids,
		     struct etensor *weights, const struct etensor *logits,
		     uint32_t n_tokens, uint32_t n_expert, uint32_t k, bool norm);
void vk_op_moe_matmul(struct engine_backend *be, struct etensor *dst,
		      const struct etensor *w_exps, const struct etensor *x,
		      const struct etensor *ids, uint32_t n_tokens, uint32_t k,
		      bool x_per_slot);
void vk_op_moe_combine(struct engine_backend *be, struct etensor *dst,
		       const struct etensor *y, const struct etensor *weights,
		       uint32_t n_tokens, uint32_t k, const struct etensor *res);

#endif
