/* backend_vk.c - the Vulkan backend: device selection, memory, pipelines,
 * and the recording and submission of dispatches (design notes in
 * backend_vk_int.h).  The ops themselves are in backend_vk_ops.c.
 *
 * Environment switches (for debugging and for tests of the fallbacks):
 *   HALO_VK_NO_SUBGROUP=1   shared-memory reductions instead of subgroupAdd
 *   HALO_VK_NO_ZEROCOPY=1   device buffers through a staging buffer even on
 *                           UMA devices (the discrete-GPU path)
 *   HALO_VK_MATVEC=rows|wg  the mat-vec kernel: one row per invocation (the
 *                           default on CPU devices) or a workgroup per row
 *                           pair (the default on GPUs)
 *   HALO_VK_NO_BLK=1        on CPU devices, quantized weights through the
 *                           row-per-invocation kernel too, not the
 *                           whole-block one (matvec_blk.comp)
 *   HALO_VK_ATT_GROUPS=N    split attention over long contexts into about
 *                           N workgroups (default: 128 on GPUs, one per
 *                           CPU on CPU devices); 0 never splits
 *   HALO_VK_VALIDATE=1      VK_LAYER_KHRONOS_validation; every message is
 *                           printed and counted (backend_vk_stats)
 *   HALO_VK_PROFILE=1       device time per shader from timestamp queries,
 *                           a table to stderr when the backend is freed
 *                           (vk_prof.c)
 *   HALO_VK_NO_PIPELINE_CACHE=1  no pipeline cache file (vk_pcache.c)
 * No switch for fp16: the shaders read f16 data with unpackHalf2x16 from
 * 32-bit words and compute in f32, so they need neither shaderFloat16 nor
 * 16/8-bit storage. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_vk_int.h"

static _Atomic uint64_t g_live_bytes, g_live_allocs, g_validation;
static _Atomic uint64_t g_submits, g_dispatches, g_replayed, g_recorded, g_pipelines;
_Atomic uint64_t vk_n_pcache_loaded, vk_n_pcache_rejected, vk_n_pcache_saved;

void backend_vk_stats(struct vk_stats *out)
{
	out->live_bytes = atomic_load(&g_live_bytes);
	out->live_allocs = atomic_load(&g_live_allocs);
	out->validation_msgs = atomic_load(&g_validation);
	out->submits = atomic_load(&g_submits);
	out->dispatches = atomic_load(&g_dispatches);
	out->replayed_chunks = atomic_load(&g_replayed);
	out->recorded_chunks = atomic_load(&g_recorded);
	out->pipelines = atomic_load(&g_pipelines);
	out->pcache_loaded = atomic_load(&vk_n_pcache_loaded);
	out->pcache_rejected = atomic_load(&vk_n_pcache_rejected);
	out->pcache_saved = atomic_load(&vk_n_pcache_saved);
}

bool vk_env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

int vk_fail(struct vk_backend *vk, int code, const char *what)
{
	if (vk->err == 0)
		vk->err = engine_seterr(code, "Vulkan backend: %s", what);
	return vk->err;
}

static int vk_check(struct vk_backend *vk, VkResult r, const char *what)
{
	char msg[160];

	if (r == VK_SUCCESS)
		return 0;
	snprintf(msg, sizeof(msg), "%s failed (VkResult %d)", what, (int)r);
	return vk_fail(vk, r == VK_ERROR_OUT_OF_DEVICE_MEMORY ||
		       r == VK_ERROR_OUT_OF_HOST_MEMORY ? ENGINE_ENOMEM : ENGINE_EIO, msg);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(
	VkDebugUtilsMessageSeverityFlagBitsEXT sev, VkDebugUtilsMessageTypeFlagsEXT type,
	const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
	(void)type;
	(void)user;
	if (sev >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
		atomic_fetch_add(&g_validation, 1);
		fprintf(stderr, "vulkan validation: %s\n", data->pMessage);
	}
	return VK_FALSE;
}

/* ---- memory ------------------------------------------------------------ */

static int find_type(const struct vk_backend *vk, uint32_t bits, VkMemoryPropertyFlags want)
{
	for (uint32_t i = 0; i < vk->mp.memoryTypeCount; i++)
		if ((bits & (1u << i)) &&
		    (vk->mp.memoryTypes[i].propertyFlags & want) == want)
			return (int)i;
	return -1;
}

static void buf_free(struct vk_backend *vk, struct vk_buf *b)
{
	if (b == NULL)
		return;
	if (b->buf)
		vk->f.vkDestroyBuffer(vk->dev, b->buf, NULL);
	if (b->mem) {
		vk->f.vkFreeMemory(vk->dev, b->mem, NULL);
		atomic_fetch_sub(&g_live_bytes, b->alloc);
		atomic_fetch_sub(&g_live_allocs, 1);
	}
	memset(b, 0, sizeof(*b));
}

/* host: a host-visible buffer (parameters, staging); else a device buffer,
 * host-visible too when zero copy is on. */
static int buf_alloc(struct vk_backend *vk, struct vk_buf *b, VkDeviceSize size, bool host)
{
	VkBufferCreateInfo bi = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = size ? (size + 15) & ~(VkDeviceSize)15 : 16,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
			 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkMemoryRequirements req;
	VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
	uint32_t mt = host ? vk->mt_host : vk->mt_dev;
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = vk_check(vk, vk->f.vkCreateBuffer(vk->dev, &bi, NULL, &b->buf),
			   "vkCreateBuffer")) < 0)
		return rc;
	vk->f.vkGetBufferMemoryRequirements(vk->dev, b->buf, &req);
	if (!(req.memoryTypeBits & (1u << mt))) {
		buf_free(vk, b);
		return vk_fail(vk, ENGINE_EUNSUPPORTED, "no memory type for a buffer");
	}
	ai.allocationSize = req.size;
	ai.memoryTypeIndex = mt;
	if (vk->f.vkAllocateMemory(vk->dev, &ai, NULL, &b->mem) != VK_SUCCESS) {
		char msg[128];

		b->mem = VK_NULL_HANDLE;
		buf_free(vk, b);
		snprintf(msg, sizeof(msg), "out of device memory for a %llu-byte buffer",
			 (unsigned long long)size);
		return vk_fail(vk, ENGINE_ENOMEM, msg);
	}
	b->alloc = req.size;
	b->size = bi.size;
	atomic_fetch_add(&g_live_bytes, b->alloc);
	atomic_fetch_add(&g_live_allocs, 1);
	if ((rc = vk_check(vk, vk->f.vkBindBufferMemory(vk->dev, b->buf, b->mem, 0),
			   "vkBindBufferMemory")) < 0)
		goto fail;
	/* without zero copy device buffers are never mapped, even where their
	 * memory could be: the staging path is then the one tested */
	if ((host || vk->zero_copy) &&
	    (vk->mp.memoryTypes[mt].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
		if ((rc = vk_check(vk, vk->f.vkMapMemory(vk->dev, b->mem, 0, VK_WHOLE_SIZE, 0,
							 &b->map), "vkMapMemory")) < 0)
			goto fail;
	}
	return 0;
fail:
	buf_free(vk, b);
	return rc;
}

/* ---- submission ---------------------------------------------------------- */

static int wait_idle(struct vk_backend *vk)
{
	VkResult r;

	if (!vk->in_flight)
		return 0;
	r = vk->f.vkWaitForFences(vk->dev, 1, &vk->fence, VK_TRUE, UINT64_MAX);
	vk->f.vkResetFences(vk->dev, 1, &vk->fence);
	vk->in_flight = false;
	return vk_check(vk, r, "vkWaitForFences");
}

static void global_barrier(struct vk_backend *vk, VkCommandBuffer cmd,
			   VkPipelineStageFlags dst_stage, VkAccessFlags dst_access)
{
	VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = dst_access,
	};

	vk->f.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
				   VK_PIPELINE_STAGE_TRANSFER_BIT, dst_stage, 0, 1, &mb,
				   0, NULL, 0, NULL);
}

/* Record chunk c from the pending list (note 2: unless it holds it already). */
static int record_chunk(struct vk_backend *vk, struct vk_chunk *c)
{
	VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
	VkDescriptorSet sets[VK_CHUNK];
	VkDescriptorSetLayout layouts[VK_CHUNK];
	VkDescriptorSetAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO };
	int rc;

	if (c->valid && c->n_rec == vk->n_pend &&
	    memcmp(c->rec, vk->pend, vk->n_pend * sizeof(vk->pend[0])) == 0) {
		atomic_fetch_add(&g_replayed, 1);
		return 0;
	}
	atomic_fetch_add(&g_recorded, 1);
	c->valid = false;
	vk->f.vkResetDescriptorPool(vk->dev, c->pool, 0);
	for (uint32_t i = 0; i < vk->n_pend; i++)
		layouts[i] = vk->dsl;
	ai.descriptorPool = c->pool;
	ai.descriptorSetCount = vk->n_pend;
	ai.pSetLayouts = layouts;
	if ((rc = vk_check(vk, vk->f.vkAllocateDescriptorSets(vk->dev, &ai, sets),
			   "vkAllocateDescriptorSets")) < 0)
		return rc;
	for (uint32_t i = 0; i < vk->n_pend; i++) {
		VkDescriptorBufferInfo bufs[VK_NBIND];
		VkWriteDescriptorSet wr[VK_NBIND];

		for (int k = 0; k < VK_NBIND; k++) {
			bufs[k] = (VkDescriptorBufferInfo){ vk->pend[i].b[k].buf,
				vk->pend[i].b[k].off, vk->pend[i].b[k].range };
			wr[k] = (VkWriteDescriptorSet){
				.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
				.dstSet = sets[i], .dstBinding = (uint32_t)k,
				.descriptorCount = 1,
				.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
				.pBufferInfo = &bufs[k] };
		}
		vk->f.vkUpdateDescriptorSets(vk->dev, VK_NBIND, wr, 0, NULL);
	}
	vk->f.vkResetCommandBuffer(c->cmd, 0);
	if ((rc = vk_check(vk, vk->f.vkBeginCommandBuffer(c->cmd, &bi),
			   "vkBeginCommandBuffer")) < 0)
		return rc;
	if (vk->qpool)
		vk_prof_record_begin(vk, c->cmd, (uint32_t)(c - vk->chunks), vk->n_pend);
	/* Host writes (parameters, tensor_set) before the submit are visible
	 * by the submit itself; earlier chunks' writes need the barriers the
	 * dispatches carry. */
	for (uint32_t i = 0; i < vk->n_pend; i++) {
		const struct vk_dispatch *d = &vk->pend[i];

		if (d->barrier)
			global_barrier(vk, c->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
				       VK_PIPELINE_STAGE_TRANSFER_BIT,
				       VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
				       VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
		vk->f.vkCmdBindPipeline(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipe);
		vk->f.vkCmdBindDescriptorSets(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
					      vk->layout, 0, 1, &sets[i], 0, NULL);
		vk->f.vkCmdDispatch(c->cmd, d->gx, d->gy, d->gz);
		if (vk->qpool)
			vk_prof_record_after(vk, c->cmd, (uint32_t)(c - vk->chunks), i);
	}
	/* results become visible to the host reads after the fence */
	global_barrier(vk, c->cmd, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
		       VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT);
	if ((rc = vk_check(vk, vk->f.vkEndCommandBuffer(c->cmd), "vkEndCommandBuffer")) < 0)
		return rc;
	memcpy(c->rec, vk->pend, vk->n_pend * sizeof(vk->pend[0]));
	c->n_rec = vk->n_pend;
	c->valid = true;
	return 0;
}

/* Submit the pending chunk; `wait`: signal the fence and wait for it. */
static int flush(struct vk_backend *vk, bool wait)
{
	struct vk_chunk *c = &vk->chunks[vk->cur];
	VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1 };
	int rc;

	if (vk->n_pend) {
		if ((rc = record_chunk(vk, c)) < 0)
			return rc;
		si.pCommandBuffers = &c->cmd;
		if ((rc = vk_check(vk, vk->f.vkQueueSubmit(vk->queue, 1, &si,
				   wait ? vk->fence : VK_NULL_HANDLE), "vkQueueSubmit")) < 0)
			return rc;
		atomic_fetch_add(&g_submits, 1);
		vk->in_flight = true;
		vk->n_pend = 0;
		vk->cur++;
	} else if (wait && vk->in_flight) {
		/* nothing new: an empty submit carries the fence */
		if ((rc = vk_check(vk, vk->f.vkQueueSubmit(vk->queue, 0, NULL, vk->fence),
				   "vkQueueSubmit")) < 0)
			return rc;
	}
	if (wait || vk->cur == VK_MAX_CHUNKS) {
		if (!wait && (rc = vk_check(vk, vk->f.vkQueueSubmit(vk->queue, 0, NULL,
					    vk->fence), "vkQueueSubmit")) < 0)
			return rc;
		if ((rc = wait_idle(vk)) < 0)
			return rc;
		if (vk->qpool)
			vk_prof_collect(vk, vk->cur);
		/* the tracked writes stay: the next pass's first readers take a
		 * barrier, as a fence orders nothing on the device */
		vk->cur = 0;
	}
	return 0;
}

static int vk_sync(struct engine_backend *be)
{
	struct vk_backend *vk = vkb(be);
	int rc;

	if (vk->err)
		goto out;
	if ((rc = flush(vk, true)) < 0)
		return rc;
out:
	rc = vk->err;
	vk->err = 0;
	if (rc < 0) {
		/* drop what was issued after the failure and start clean */
		vk->n_pend = 0;
		wait_idle(vk);
		vk->cur = 0;
	}
	return rc;
}

/* ---- pipelines and dispatches --------------------------------------------- */

static VkPipeline get_pipe(struct vk_backend *vk, const char *name, const uint32_t spec[3])
{
	const struct vk_shader *sh = NULL;
	struct vk_pipe *p;
	VkShaderModule mod;
	VkShaderModuleCreateInfo mi = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO };
	VkSpecializationMapEntry me[3];
	uint32_t n_spec = 0, vals[3];
	VkSpecializationInfo si;
	VkComputePipelineCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO };
	VkResult r;

	for (uint32_t i = 0; i < vk->n_pipes; i++)
		if (strcmp(vk->pipes[i].sh->name, name) == 0 &&
		    memcmp(vk->pipes[i].spec, spec, sizeof(vk->pipes[i].spec)) == 0)
			return vk->pipes[i].pipe;
	for (size_t i = 0; i < vk_n_shaders; i++)
		if (strcmp(vk_shaders[i].name, name) == 0)
			sh = &vk_shaders[i];
	if (sh == NULL) {
		vk_fail(vk, ENGINE_EUNSUPPORTED, "a shader variant is missing");
		return VK_NULL_HANDLE;
	}
	if (vk->n_pipes == VK_MAX_PIPES) {
		vk_fail(vk, ENGINE_ENOMEM, "too many pipelines");
		return VK_NULL_HANDLE;
	}
	mi.codeSize = sh->size;
	mi.pCode = sh->code;
	if (vk_check(vk, vk->f.vkCreateShaderModule(vk->dev, &mi, NULL, &mod),
		     "vkCreateShaderModule") < 0)
		return VK_NULL_HANDLE;
	for (uint32_t i = 0; i < 3; i++)
		if (spec[i]) {
			me[n_spec] = (VkSpecializationMapEntry){ i, n_spec * 4, 4 };
			vals[n_spec++] = spec[i];
		}
	si = (VkSpecializationInfo){ n_spec, me, n_spec * 4, vals };
	ci.stage = (VkPipelineShaderStageCreateInfo){
		.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
		.stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = mod, .pName = "main",
		.pSpecializationInfo = n_spec ? &si : NULL };
	ci.layout = vk->layout;
	p = &vk->pipes[vk->n_pipes];
	r = vk->f.vkCreateComputePipelines(vk->dev, vk->pcache, 1, &ci, NULL, &p->pipe);
	atomic_fetch_add(&g_pipelines, 1);
	vk->f.vkDestroyShaderModule(vk->dev, mod, NULL);
	if (vk_check(vk, r, "vkCreateComputePipelines") < 0)
		return VK_NULL_HANDLE;
	p->sh = sh;
	memcpy(p->spec, spec, sizeof(p->spec));
	p->prof_calls = p->prof_ticks = 0;
	vk->n_pipes++;
	return p->pipe;
}

void vk_groups(struct vk_dispatch *d, uint64_t n)
{
	if (n <= 65535) {
		d->gx = n ? (uint32_t)n : 1;
		d->gy = 1;
	} else {
		d->gx = 65535;
		d->gy = (uint32_t)((n + 65534) / 65535);
	}
	if (d->gz == 0)
		d->gz = 1;
}

uint32_t vk_bind(struct vk_backend *vk, struct vk_dispatch *d, int i,
		 const struct vk_buf *b, VkDeviceSize off, VkDeviceSize bytes)
{
	VkDeviceSize base = off & ~(vk->align - 1), range;

	if (b == NULL)
		return 0;
	range = b->size - base < vk->max_range ? b->size - base : vk->max_range;
	if (off - base + bytes > range)
		vk_fail(vk, ENGINE_EUNSUPPORTED, "a tensor does not fit in one storage "
			"buffer binding (maxStorageBufferRange)");
	d->b[i] = (struct vk_bind){ b->buf, base, range };
	return (uint32_t)(off - base);
}

static bool track_has(const VkBuffer *set, uint32_t n, VkBuffer b)
{
	for (uint32_t i = 0; i < n; i++)
		if (set[i] == b)
			return true;
	return false;
}

void vk_issue(struct vk_backend *vk, const char *name, const uint32_t spec[3],
	      struct vk_dispatch *d, uint32_t writes, const uint32_t *params,
	      uint32_t n_params)
{
	uint32_t slot;
	bool barrier = false;

	if (vk->err)
		return;
	d->pipe = get_pipe(vk, name, spec);
	if (d->pipe == VK_NULL_HANDLE)
		return;
	if (vk->n_pend == VK_CHUNK && flush(vk, false) < 0)
		return;
	slot = vk->cur * VK_CHUNK + vk->n_pend;
	memcpy((char *)vk->params.map + (size_t)slot * vk->pstride, params,
	       n_params * sizeof(uint32_t));
	d->b[0] = (struct vk_bind){ vk->params.buf, (VkDeviceSize)slot * vk->pstride,
				    VK_NPARAM * 4 };
	for (int i = 1; i < VK_NBIND; i++) {
		if (d->b[i].buf == VK_NULL_HANDLE) {
			d->b[i] = (struct vk_bind){ vk->dummy.buf, 0, vk->dummy.size };
			continue;
		}
		if (track_has(vk->wr, vk->n_wr, d->b[i].buf) ||
		    ((writes >> i) & 1 && track_has(vk->rd, vk->n_rd, d->b[i].buf)))
			barrier = true;
	}
	/* a full tracking set is emptied by a barrier before it overflows */
	if (vk->n_wr + VK_NBIND > VK_TRACK || vk->n_rd + VK_NBIND > VK_TRACK)
		barrier = true;
	if (barrier)
		vk->n_wr = vk->n_rd = 0;
	for (int i = 1; i < VK_NBIND; i++) {
		VkBuffer b = d->b[i].buf;

		if (b == vk->dummy.buf)
			continue;
		if ((writes >> i) & 1) {
			if (!track_has(vk->wr, vk->n_wr, b))
				vk->wr[vk->n_wr++] = b;
		} else if (!track_has(vk->rd, vk->n_rd, b)) {
			vk->rd[vk->n_rd++] = b;
		}
	}
	d->barrier = barrier;
	vk->pend[vk->n_pend++] = *d;
	atomic_fetch_add(&g_dispatches, 1);
}

/* ---- tensors ------------------------------------------------------------- */

struct vk_buf *vk_locate(struct vk_backend *vk, const struct etensor *t, VkDeviceSize *off)
{
	size_t lo = 0, hi = vk->n_w;
	const char *p = t->data;

	if (t->bk) {
		*off = t->bk_off;
		return t->bk;
	}
	while (lo < hi) {  /* last weight starting at or before p */
		size_t mid = (lo + hi) / 2;

		if (vk->w[mid].host <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && p < vk->w[lo - 1].host + vk->w[lo - 1].size) {
		*off = vk->w[lo - 1].off + (VkDeviceSize)(p - vk->w[lo - 1].host);
		return vk->w[lo - 1].blk;
	}
	vk_fail(vk, ENGINE_EINVAL, "a tensor was not uploaded to the device");
	return NULL;
}

/* Copy between host memory and a device buffer through the staging buffer,
 * waiting for it (note 4). */
static int staged_copy(struct vk_backend *vk, struct vk_buf *b, VkDeviceSize off,
		       void *host, size_t n, bool to_device)
{
	VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
	VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
			    .commandBufferCount = 1, .pCommandBuffers = &vk->xfer };
	int rc;

	for (size_t done = 0; done < n;) {
		size_t part = n - done < VK_STAGING ? n - done : VK_STAGING;
		VkBufferCopy cp = { to_device ? 0 : off + done, to_device ? off + done : 0,
				    (part + 3) & ~(size_t)3 };

		if (cp.size > b->size - (to_device ? cp.dstOffset : cp.srcOffset))
			cp.size = part;
		if (to_device)
			memcpy(vk->staging.map, (char *)host + done, part);
		vk->f.vkResetCommandBuffer(vk->xfer, 0);
		vk->f.vkBeginCommandBuffer(vk->xfer, &bi);
		if (to_device)
			vk->f.vkCmdCopyBuffer(vk->xfer, vk->staging.buf, b->buf, 1, &cp);
		else
			vk->f.vkCmdCopyBuffer(vk->xfer, b->buf, vk->staging.buf, 1, &cp);
		global_barrier(vk, vk->xfer, VK_PIPELINE_STAGE_HOST_BIT |
			       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
			       VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT |
			       VK_ACCESS_SHADER_WRITE_BIT);
		vk->f.vkEndCommandBuffer(vk->xfer);
		if ((rc = vk_check(vk, vk->f.vkQueueSubmit(vk->queue, 1, &si, vk->fence),
				   "vkQueueSubmit")) < 0)
			return rc;
		vk->in_flight = true;
		if ((rc = wait_idle(vk)) < 0)
			return rc;
		if (!to_device)
			memcpy((char *)host + done, vk->staging.map, part);
		done += part;
	}
	return 0;
}

static int vk_tensor_alloc(struct engine_backend *be, struct etensor *t)
{
	struct vk_backend *vk = vkb(be);
	struct vk_buf *b = calloc(1, sizeof(*b));
	size_t n = t->nb1 * (size_t)etensor_rows(t);
	int rc;

	if (b == NULL)
		return engine_seterr(ENGINE_ENOMEM, "out of memory");
	vk->err = 0;
	if ((rc = buf_alloc(vk, b, n, false)) < 0) {
		vk->err = 0;
		free(b);
		return rc;
	}
	if (b->map) {
		memset(b->map, 0, b->size);
	} else {
		VkCommandBufferBeginInfo bi = {
			.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
		VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
				    .commandBufferCount = 1, .pCommandBuffers = &vk->xfer };

		wait_idle(vk);
		vk->f.vkResetCommandBuffer(vk->xfer, 0);
		vk->f.vkBeginCommandBuffer(vk->xfer, &bi);
		vk->f.vkCmdFillBuffer(vk->xfer, b->buf, 0, VK_WHOLE_SIZE, 0);
		global_barrier(vk, vk->xfer, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
			       VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
		vk->f.vkEndCommandBuffer(vk->xfer);
		if (vk->f.vkQueueSubmit(vk->queue, 1, &si, vk->fence) == VK_SUCCESS) {
			vk->in_flight = true;
			wait_idle(vk);
		}
	}
	t->bk = b;
	t->bk_off = 0;
	t->data = NULL;
	return 0;
}

static void vk_tensor_free(struct engine_backend *be, struct etensor *t)
{
	struct vk_backend *vk = vkb(be);

	if (t->bk == NULL)
		return;
	wait_idle(vk);
	/* recorded chunks may name this buffer; a new one could get its handle */
	for (uint32_t i = 0; i < VK_MAX_CHUNKS; i++)
		vk->chunks[i].valid = false;
	buf_free(vk, t->bk);
	free(t->bk);
	t->bk = NULL;
}

/* Host access waits for everything issued: the device may read or write
 * the same buffer. */
static int vk_tensor_set(struct engine_backend *be, struct etensor *t,
			 const void *src, size_t off, size_t n)
{
	struct vk_backend *vk = vkb(be);
	struct vk_buf *b = t->bk;
	int rc;

	if (b == NULL || t->bk_off + off + n > b->size)
		return engine_seterr(ENGINE_EINVAL, "tensor_set outside the tensor");
	if ((vk->n_pend || vk->in_flight) && (rc = vk_sync(be)) < 0)
		return rc;
	if (b->map) {
		memcpy((char *)b->map + t->bk_off + off, src, n);
		return 0;
	}
	rc = staged_copy(vk, b, t->bk_off + off, (void *)src, n, true);
	vk->err = 0;
	return rc;
}

static int vk_tensor_get(struct engine_backend *be, const struct etensor *t,
			 void *dst, size_t off, size_t n)
{
	struct vk_backend *vk = vkb(be);
	struct vk_buf *b = t->bk;
	int rc;

	if (b == NULL || t->bk_off + off + n > b->size)
		return engine_seterr(ENGINE_EINVAL, "tensor_get outside the tensor");
	if ((vk->n_pend || vk->in_flight) && (rc = vk_sync(be)) < 0)
		return rc;
	if (b->map) {
		memcpy(dst, (const char *)b->map + t->bk_off + off, n);
		return 0;
	}
	rc = staged_copy(vk, b, t->bk_off + off, dst, n, false);
	vk->err = 0;
	return rc;
}

static int cmp_weight(const void *a, const void *b)
{
	const struct vk_weight *x = a, *y = b;

	return x->host < y->host ? -1 : x->host > y->host;
}

static int weights_upload(struct vk_backend *vk, struct engine_model *m);

/* A tensor the CPU backend repacked (quant_r16.c), uploaded as the file's
 * rows through the staging path: unpacked a few MB of groups at a time. */
static int staged_unpack(struct vk_backend *vk, struct vk_buf *b, VkDeviceSize off,
			 const struct etensor *t)
{
	const size_t gs = QUANT_R16_ROWS * t->nb1, n = (size_t)etensor_rows(t) * t->nb1;
	const size_t step = ((size_t)4 << 20) / gs > 0 ? ((size_t)4 << 20) / gs * gs : gs;
	uint8_t *tmp = malloc(step < n ? step : n);
	int rc = 0;

	if (tmp == NULL)
		return engine_seterr(ENGINE_ENOMEM, "out of memory");
	for (size_t o = 0; o < n && rc == 0; o += step) {
		size_t len = n - o < step ? n - o : step;

		for (size_t g = 0; g < len; g += gs)
			quant_r16_unpack(t->type, t->ne[0], (const uint8_t *)t->data + o + g, tmp + g);
		rc = staged_copy(vk, b, off + o, tmp, len, true);
	}
	free(tmp);
	return rc;
}

/* Copy every tensor of the model's file into blocks (note 4). */
static int vk_weights_prepare(struct engine_backend *be, struct engine_model *m)
{
	struct vk_backend *vk = vkb(be);
	int rc;

	if (vk->w)
		return 0;
	pthread_mutex_lock(&m->prep_lock); /* not while a CPU context repacks */
	rc = weights_upload(vk, m);
	pthread_mutex_unlock(&m->prep_lock);
	return rc;
}

static int weights_upload(struct vk_backend *vk, struct engine_model *m)
{
	const struct gguf_file *g = m->gguf;
	size_t n = gguf_tensor_count(g);
	VkDeviceSize used = 0, blk_size = 0;
	size_t first = 0;
	int rc = 0;

	vk->w = calloc(n ? n : 1, sizeof(*vk->w));
	vk->blocks = calloc(n ? n : 1, sizeof(*vk->blocks));
	if (vk->w == NULL || vk->blocks == NULL)
		return engine_seterr(ENGINE_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct gguf_tensor *t = gguf_tensor_at(g, i);

		vk->w[i] = (struct vk_weight){ t->data, t->nbytes, NULL, 0 };
	}
	vk->n_w = n;
	qsort(vk->w, n, sizeof(*vk->w), cmp_weight);
	/* blocks: consecutive tensors, each at a 256-byte offset */
	for (size_t i = 0; i <= n; i++) {
		VkDeviceSize sz = i < n ? (vk->w[i].size + 255) & ~(VkDeviceSize)255 : 0;

		if (i == n || (used && used + sz > VK_BLOCK)) {
			struct vk_buf *b = calloc(1, sizeof(*b));

			if (b == NULL)
				return engine_seterr(ENGINE_ENOMEM, "out of memory");
			vk->blocks[vk->n_blocks++] = b;
			if ((rc = buf_alloc(vk, b, blk_size, false)) < 0)
				goto out;
			for (size_t k = first; k < i; k++) {
				const void *src = vk->w[k].host;
				const struct etensor *rt;

				vk->w[k].blk = b;
				if (b->map) {
					/* the rows as the file has them, if the CPU
					 * backend repacked them */
					model_weight_copy(m, src, vk->w[k].size,
							  (char *)b->map + vk->w[k].off);
					continue;
				}
				if ((rt = model_weight_repacked(m, src)) != NULL) {
					rc = staged_unpack(vk, b, vk->w[k].off, rt);
				} else {
					rc = staged_copy(vk, b, vk->w[k].off, (void *)src, vk->w[k].size,
							 true);
				}
				if (rc < 0)
					goto out;
			}
			first = i;
			used = 0;
			if (i == n)
				break;
		}
		vk->w[i].off = used;
		used += sz;
		blk_size = used;
	}
out:
	vk->err = 0;
	return rc;
}

/* Make scratch buffer b at least `need` bytes (recorded chunks may name
 * the one it replaces). */
static int scratch_grow(struct vk_backend *vk, struct vk_buf *b, VkDeviceSize need)
{
	int rc;

	if (need <= b->size)
		return 0;
	wait_idle(vk);
	for (uint32_t i = 0; i < VK_MAX_CHUNKS; i++)
		vk->chunks[i].valid = false;
	buf_free(vk, b);
	rc = buf_alloc(vk, b, need, false);
	vk->err = 0;
	return rc;
}

/* On CPU devices the mat-mul of quantized weights reads its activations
 * as f16 (half the loads, which cost per lane there): room for n_rows of
 * width of them.  Attention over long contexts splits the keys into
 * chunks whose partial results go to att_part (vk_attention_scratch). */
static int vk_reserve(struct engine_backend *be, uint32_t n_rows, uint32_t width,
		      const struct attn_params *attn)
{
	struct vk_backend *vk = vkb(be);
	int rc;

	if (vk->blk_kernel &&
	    (rc = scratch_grow(vk, &vk->xh, (VkDeviceSize)n_rows * width * 2)) < 0)
		return rc;
	if (attn && (rc = scratch_grow(vk, &vk->att_part, vk_attention_scratch(vk, attn))) < 0)
		return rc;
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void vk_free(struct engine_backend *be)
{
	struct vk_backend *vk = vkb(be);

	if (vk == NULL)
		return;
	if (vk->dev) {
		vk->f.vkDeviceWaitIdle(vk->dev);
		vk_prof_report(vk);
		if (vk->qpool)
			vk->f.vkDestroyQueryPool(vk->dev, vk->qpool, NULL);
		vk_pcache_close(vk);
		for (uint32_t i = 0; i < vk->n_pipes; i++)
			vk->f.vkDestroyPipeline(vk->dev, vk->pipes[i].pipe, NULL);
		for (uint32_t i = 0; i < VK_MAX_CHUNKS; i++)
			if (vk->chunks[i].pool)
				vk->f.vkDestroyDescriptorPool(vk->dev, vk->chunks[i].pool, NULL);
		if (vk->cpool)
			vk->f.vkDestroyCommandPool(vk->dev, vk->cpool, NULL);
		if (vk->fence)
			vk->f.vkDestroyFence(vk->dev, vk->fence, NULL);
		for (size_t i = 0; i < vk->n_blocks; i++) {
			buf_free(vk, vk->blocks[i]);
			free(vk->blocks[i]);
		}
		buf_free(vk, &vk->params);
		buf_free(vk, &vk->staging);
		buf_free(vk, &vk->dummy);
		buf_free(vk, &vk->xh);
		buf_free(vk, &vk->att_part);
		if (vk->layout)
			vk->f.vkDestroyPipelineLayout(vk->dev, vk->layout, NULL);
		if (vk->dsl)
			vk->f.vkDestroyDescriptorSetLayout(vk->dev, vk->dsl, NULL);
		vk->f.vkDestroyDevice(vk->dev, NULL);
	}
	if (vk->dbg)
		vk->f.vkDestroyDebugUtilsMessengerEXT(vk->inst, vk->dbg, NULL);
	if (vk->inst)
		vk->f.vkDestroyInstance(vk->inst, NULL);
	vk_loader_close(&vk->f);
	free(vk->w);
	free(vk->blocks);
	free(vk);
}

static bool is_gpu(const struct engine_vk_device *d)
{
	return strcmp(d->type, "discrete") == 0 || strcmp(d->type, "integrated") == 0;
}

/* Pick the physical device (see backend_vk_new). */
static int pick_device(struct vk_backend *vk, int device, bool explicit_request)
{
	VkPhysicalDevice pds[16];
	struct engine_vk_device info[16];
	uint32_t n = 16;
	int pick = -1;

	if (vk->f.vkEnumeratePhysicalDevices(vk->inst, &n, pds) < 0 || n == 0)
		return engine_seterr(ENGINE_EUNSUPPORTED, "no Vulkan device");
	for (uint32_t i = 0; i < n; i++)
		vk_probe_device(&vk->f, pds[i], &info[i]);
	if (explicit_request) {
		if (device < 0 || (uint32_t)device >= n)
			return engine_seterr(ENGINE_EUNSUPPORTED, "no Vulkan device %d "
					     "(there are %u; see halo-agent doctor)", device, n);
		pick = device;
	} else if (device > 0 && (uint32_t)device < n && is_gpu(&info[device])) {
		pick = device;
	} else {
		for (uint32_t i = 0; i < n && pick < 0; i++)
			if (strcmp(info[i].type, "discrete") == 0)
				pick = (int)i;
		for (uint32_t i = 0; i < n && pick < 0; i++)
			if (is_gpu(&info[i]))
				pick = (int)i;
		if (pick < 0)
			return engine_seterr(ENGINE_EUNSUPPORTED, "no Vulkan GPU");
	}
	vk->pd = pds[pick];
	vk->info = info[pick];
	if (vk->info.api_version < VK_API_VERSION_1_2)
		return engine_seterr(ENGINE_EUNSUPPORTED, "Vulkan device %d (%s) supports "
				     "only Vulkan %u.%u; the backend needs 1.2", pick,
				     vk->info.name, VK_API_VERSION_MAJOR(vk->info.api_version),
				     VK_API_VERSION_MINOR(vk->info.api_version));
	snprintf(vk->name, sizeof(vk->name), "Vulkan (%s)", vk->info.name);
	return 0;
}

static int create_device(struct vk_backend *vk)
{
	VkQueueFamilyProperties qf[16];
	uint32_t nq = 16;
	float prio = 1.0f;
	VkDeviceQueueCreateInfo qi = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
				       .queueCount = 1, .pQueuePriorities = &prio };
	VkDeviceCreateInfo di = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
				  .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi };
	VkPhysicalDeviceProperties *props = &vk->props;
	bool found = false;
	int dl, hv;

	vk->f.vkGetPhysicalDeviceQueueFamilyProperties(vk->pd, &nq, qf);
	/* a compute queue without graphics first (dedicated), else any */
	for (uint32_t i = 0; i < nq && !found; i++)
		if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
		    !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
			vk->qfam = i, found = true;
	for (uint32_t i = 0; i < nq && !found; i++)
		if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
			vk->qfam = i, found = true;
	if (!found)
		return engine_seterr(ENGINE_EUNSUPPORTED, "%s has no compute queue", vk->info.name);
	qi.queueFamilyIndex = vk->qfam;
	if (vk->f.vkCreateDevice(vk->pd, &di, NULL, &vk->dev) != VK_SUCCESS) {
		vk->dev = VK_NULL_HANDLE;
		return engine_seterr(ENGINE_EUNSUPPORTED, "vkCreateDevice failed on %s",
				     vk->info.name);
	}
	vk_load_device(&vk->f, vk->dev);
	vk->f.vkGetDeviceQueue(vk->dev, vk->qfam, 0, &vk->queue);
	vk->f.vkGetPhysicalDeviceProperties(vk->pd, props);
	vk->f.vkGetPhysicalDeviceMemoryProperties(vk->pd, &vk->mp);
	vk->align = props->limits.minStorageBufferOffsetAlignment;
	if (vk->align < 16)
		vk->align = 16;
	/* bindings stay below 2 GiB so byte offsets fit 31 bits in shaders */
	vk->max_range = props->limits.maxStorageBufferRange & ~(VkDeviceSize)255;
	if (vk->max_range > ((VkDeviceSize)1 << 31))
		vk->max_range = (VkDeviceSize)1 << 31;

	hv = find_type(vk, ~0u, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
		       VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
	dl = find_type(vk, ~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
		       VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
	if (hv < 0)
		return engine_seterr(ENGINE_EUNSUPPORTED, "%s has no host-visible memory",
				     vk->info.name);
	vk->mt_host = (uint32_t)(dl >= 0 ? dl : hv);
	vk->zero_copy = dl >= 0 && (strcmp(vk->info.type, "discrete") != 0) &&
			!vk_env_on("HALO_VK_NO_ZEROCOPY");
	if (vk->zero_copy) {
		vk->mt_dev = (uint32_t)dl;
	} else {
		int d = find_type(vk, ~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);

		vk->mt_dev = (uint32_t)(d >= 0 ? d : hv);
		/* prefer device memory the host cannot see */
		if (vk->mp.memoryTypes[vk->mt_dev].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
			for (uint32_t i = 0; i < vk->mp.memoryTypeCount; i++)
				if (!(vk->mp.memoryTypes[i].propertyFlags &
				      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
					vk->mt_dev = i;
		}
	}
	vk->subgroup = vk->info.subgroup_arithmetic && !vk_env_on("HALO_VK_NO_SUBGROUP");
	vk->rows_kernel = strcmp(vk->info.type, "cpu") == 0;
	if (getenv("HALO_VK_MATVEC"))
		vk->rows_kernel = strcmp(getenv("HALO_VK_MATVEC"), "rows") == 0;
	/* matvec_blk.comp: a workgroup of one subgroup that reduces */
	vk->blk_kernel = vk->rows_kernel && vk->subgroup &&
			 vk->info.subgroup_size >= 1 && vk->info.subgroup_size <= 128 &&
			 !vk_env_on("HALO_VK_NO_BLK");
	/* split attention (backend_vk_ops.c): on GPUs, a guess of 128
	 * workgroups keeps most units busy; lavapipe runs one thread per CPU,
	 * and a split costs it 5-15% more time where no thread was idle, so
	 * there it splits only to occupy idle threads */
	vk->att_groups = 128;
	if (strcmp(vk->info.type, "cpu") == 0) {
		long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);

		vk->att_groups = n_cpu > 0 && n_cpu < 1024 ? (uint32_t)n_cpu : 1;
	}
	if (getenv("HALO_VK_ATT_GROUPS")) {
		unsigned long g = strtoul(getenv("HALO_VK_ATT_GROUPS"), NULL, 10);

		vk->att_groups = g < 65536 ? (uint32_t)g : 65536;
	}
	vk->wg_matvec = 64;
	if (vk->subgroup) {
		uint32_t sg = vk->info.subgroup_size;

		vk->wg_matvec = sg < 8 ? 8 : sg > 64 ? 64 : sg;
	}
	return vk_prof_init(vk, qf[vk->qfam].timestampValidBits);
}

static int create_objects(struct vk_backend *vk)
{
	VkDescriptorSetLayoutBinding lb[VK_NBIND];
	VkDescriptorSetLayoutCreateInfo li = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = VK_NBIND, .pBindings = lb };
	VkPipelineLayoutCreateInfo pli = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1 };
	VkCommandPoolCreateInfo cpi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
		.queueFamilyIndex = vk->qfam };
	VkCommandBuffer cmds[VK_MAX_CHUNKS + 1];
	VkCommandBufferAllocateInfo cai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = VK_MAX_CHUNKS + 1 };
	VkDescriptorPoolSize ps = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_CHUNK * VK_NBIND };
	VkDescriptorPoolCreateInfo dpi = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.maxSets = VK_CHUNK, .poolSizeCount = 1, .pPoolSizes = &ps };
	VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	int rc;

	for (int i = 0; i < VK_NBIND; i++)
		lb[i] = (VkDescriptorSetLayoutBinding){ (uint32_t)i,
			VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL };
	if ((rc = vk_check(vk, vk->f.vkCreateDescriptorSetLayout(vk->dev, &li, NULL, &vk->dsl),
			   "vkCreateDescriptorSetLayout")) < 0)
		return rc;
	pli.pSetLayouts = &vk->dsl;
	if ((rc = vk_check(vk, vk->f.vkCreatePipelineLayout(vk->dev, &pli, NULL, &vk->layout),
			   "vkCreatePipelineLayout")) < 0 ||
	    (rc = vk_check(vk, vk->f.vkCreateCommandPool(vk->dev, &cpi, NULL, &vk->cpool),
			   "vkCreateCommandPool")) < 0)
		return rc;
	cai.commandPool = vk->cpool;
	if ((rc = vk_check(vk, vk->f.vkAllocateCommandBuffers(vk->dev, &cai, cmds),
			   "vkAllocateCommandBuffers")) < 0)
		return rc;
	for (int i = 0; i < VK_MAX_CHUNKS; i++) {
		vk->chunks[i].cmd = cmds[i];
		if ((rc = vk_check(vk, vk->f.vkCreateDescriptorPool(vk->dev, &dpi, NULL,
				   &vk->chunks[i].pool), "vkCreateDescriptorPool")) < 0)
			return rc;
	}
	vk->xfer = cmds[VK_MAX_CHUNKS];
	if ((rc = vk_check(vk, vk->f.vkCreateFence(vk->dev, &fi, NULL, &vk->fence),
			   "vkCreateFence")) < 0)
		return rc;
	vk->pstride = VK_NPARAM * 4;
	while (vk->pstride % vk->align)
		vk->pstride += VK_NPARAM * 4;
	if ((rc = buf_alloc(vk, &vk->params, (VkDeviceSize)VK_MAX_CHUNKS * VK_CHUNK *
			    vk->pstride, true)) < 0 ||
	    (rc = buf_alloc(vk, &vk->dummy, 256, false)) < 0)
		return rc;
	if (!vk->zero_copy && (rc = buf_alloc(vk, &vk->staging, VK_STAGING, true)) < 0)
		return rc;
	return 0;
}

int backend_vk_new(struct engine_backend **out, int device, bool explicit_request,
		   const struct backend_vk_opts *opts)
{
	struct vk_backend *vk;
	char err[256];
	uint32_t api;
	bool validate = vk_env_on("HALO_VK_VALIDATE");
	int rc;

	*out = NULL;
	vk = calloc(1, sizeof(*vk));
	if (vk == NULL)
		return engine_seterr(ENGINE_ENOMEM, "out of memory");
	if (vk_loader_open(&vk->f, err, sizeof(err)) < 0) {
		rc = engine_seterr(ENGINE_EUNSUPPORTED, "%s", err);
		goto fail;
	}
	if (vk_instance_create(&vk->f, validate, &vk->inst, &api, err, sizeof(err)) < 0) {
		rc = engine_seterr(ENGINE_EUNSUPPORTED, "%s", err);
		goto fail;
	}
	if (validate && vk->f.vkCreateDebugUtilsMessengerEXT) {
		VkDebugUtilsMessengerCreateInfoEXT mi = {
			.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
			.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
					   VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
			.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
				       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
				       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
			.pfnUserCallback = debug_cb };

		vk->f.vkCreateDebugUtilsMessengerEXT(vk->inst, &mi, NULL, &vk->dbg);
	}
	vk->prof = (opts && opts->profile) || vk_env_on("HALO_VK_PROFILE");
	if ((rc = pick_device(vk, device, explicit_request)) < 0 ||
	    (rc = create_device(vk)) < 0 || (rc = create_objects(vk)) < 0)
		goto fail;
	vk_pcache_open(vk, opts ? opts->cache_dir : NULL);
	vk->err = 0;
	vk->base.ops = &vk_ops;
	vk->base.n_threads = 1;
	*out = &vk->base;
	return 0;
fail:
	vk_free(&vk->base);
	return rc;
}

bool backend_vk_uses_subgroups(const struct engine_backend *be)
{
	return be && be->ops == &vk_ops && ((const struct vk_backend *)be)->subgroup;
}

const struct engine_backend_ops vk_ops = {
	.name = "Vulkan",
	.free = vk_free,
	.weights_prepare = vk_weights_prepare,
	.reserve = vk_reserve,
	.tensor_alloc = vk_tensor_alloc,
	.tensor_free = vk_tensor_free,
	.tensor_set = vk_tensor_set,
	.tensor_get = vk_tensor_get,
	.get_rows = vk_op_get_rows,
	.rms_norm = vk_op_rms_norm,
	.matmul = vk_op_matmul,
	.add = vk_op_add,
	.glu = vk_op_glu,
	.rope = vk_op_rope,
	.kv_store = vk_op_kv_store,
	.rope_qkv = vk_op_rope_qkv,
	.top_k = vk_op_top_k,
	.attention = vk_op_attention,
	.moe_route = vk_op_moe_route,
	.moe_matmul = vk_op_moe_matmul,
	.moe_combine = vk_op_moe_combine,
	.sync = vk_sync,
};
