/* vk_prof.c - device time per shader from timestamp queries (note 8 of
 * backend_vk_int.h), for HALO_VK_PROFILE=1 or backend_vk_opts.profile.
 *
 * Chunk k owns queries [k * (VK_CHUNK + 1), (k + 1) * (VK_CHUNK + 1)) of
 * one pool: a timestamp before its first dispatch, then one after each.
 * Every timestamp is written at BOTTOM_OF_PIPE, i.e. once all earlier work
 * on the queue (earlier chunks included) has finished, so consecutive
 * differences split the device's busy time between the dispatches without
 * overlap, and the idle time between submits falls in no dispatch.  The
 * reset is recorded in the command buffer itself, so a chunk replayed
 * without recording (note 2) times itself again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_vk_int.h"

#define PROF_STRIDE (VK_CHUNK + 1u)

int vk_prof_init(struct vk_backend *vk, uint32_t ts_valid_bits)
{
	VkQueryPoolCreateInfo qi = {
		.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
		.queryType = VK_QUERY_TYPE_TIMESTAMP,
		.queryCount = VK_MAX_CHUNKS * PROF_STRIDE };
	VkResult r;

	if (!vk->prof)
		return 0;
	/* timestampComputeAndGraphics only promises what the queue family's
	 * valid bits tell for the queue we use */
	if (ts_valid_bits == 0 || !(vk->props.limits.timestampPeriod > 0.0f)) {
		fprintf(stderr, "halo-agent: Vulkan profiling: %s writes no timestamps on "
			"its compute queue; profiling is off\n", vk->info.name);
		vk->prof = false;
		return 0;
	}
	vk->ts_mask = ts_valid_bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << ts_valid_bits) - 1;
	r = vk->f.vkCreateQueryPool(vk->dev, &qi, NULL, &vk->qpool);
	if (r != VK_SUCCESS) {
		vk->qpool = VK_NULL_HANDLE;
		vk->prof = false;
		return engine_seterr(r == VK_ERROR_OUT_OF_HOST_MEMORY ||
				     r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? ENGINE_ENOMEM : ENGINE_EIO,
				     "Vulkan backend: vkCreateQueryPool failed (VkResult %d)",
				     (int)r);
	}
	return 0;
}

void vk_prof_record_begin(struct vk_backend *vk, VkCommandBuffer cmd, uint32_t chunk,
			  uint32_t n)
{
	vk->f.vkCmdResetQueryPool(cmd, vk->qpool, chunk * PROF_STRIDE, n + 1);
	vk->f.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, vk->qpool,
				  chunk * PROF_STRIDE);
}

void vk_prof_record_after(struct vk_backend *vk, VkCommandBuffer cmd, uint32_t chunk,
			  uint32_t i)
{
	vk->f.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, vk->qpool,
				  chunk * PROF_STRIDE + 1 + i);
}

void vk_prof_collect(struct vk_backend *vk, uint32_t n_chunks)
{
	uint64_t ts[PROF_STRIDE];
	uint32_t k = 0;

	for (uint32_t c = 0; c < n_chunks; c++) {
		const struct vk_chunk *ch = &vk->chunks[c];
		uint32_t n = ch->n_rec;

		if (!ch->valid || n == 0)
			continue;
		/* no WAIT: everything was waited for; a query not written
		 * (VK_NOT_READY) drops the chunk rather than hang */
		if (vk->f.vkGetQueryPoolResults(vk->dev, vk->qpool, c * PROF_STRIDE, n + 1,
						sizeof(ts), ts, sizeof(ts[0]),
						VK_QUERY_RESULT_64_BIT) != VK_SUCCESS)
			continue;
		for (uint32_t i = 0; i < n; i++) {
			VkPipeline p = ch->rec[i].pipe;

			if (k >= vk->n_pipes || vk->pipes[k].pipe != p)
				for (k = 0; k < vk->n_pipes && vk->pipes[k].pipe != p; k++)
					;
			if (k == vk->n_pipes)
				continue;
			vk->pipes[k].prof_calls++;
			vk->pipes[k].prof_ticks += (ts[i + 1] - ts[i]) & vk->ts_mask;
		}
	}
}

static int cmp_row(const void *a, const void *b)
{
	const struct vk_prof_row *x = a, *y = b;

	return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : strcmp(x->shader, y->shader);
}

size_t backend_vk_profile(const struct engine_backend *be, struct vk_prof_row *out,
			  size_t max)
{
	const struct vk_backend *vk = (const struct vk_backend *)be;
	struct vk_prof_row rows[VK_MAX_PIPES];
	size_t n = 0;

	if (be == NULL || be->ops != &vk_ops || !vk->prof)
		return 0;
	/* one row per shader over its specializations; same shader, same name
	 * pointer (vk_shaders[]) */
	for (uint32_t i = 0; i < vk->n_pipes; i++) {
		const struct vk_pipe *p = &vk->pipes[i];
		size_t r;

		if (p->prof_calls == 0)
			continue;
		for (r = 0; r < n && rows[r].shader != p->sh->name; r++)
			;
		if (r == n)
			rows[n++] = (struct vk_prof_row){ p->sh->name, 0, 0.0 };
		rows[r].calls += p->prof_calls;
		rows[r].ms += (double)p->prof_ticks * vk->props.limits.timestampPeriod * 1e-6;
	}
	qsort(rows, n, sizeof(rows[0]), cmp_row);
	memcpy(out, rows, (n < max ? n : max) * sizeof(rows[0]));
	return n;
}

void vk_prof_report(struct vk_backend *vk)
{
	struct vk_prof_row rows[VK_MAX_PIPES];
	size_t n = backend_vk_profile(&vk->base, rows, VK_MAX_PIPES);
	double total = 0;
	uint64_t calls = 0;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		total += rows[i].ms;
		calls += rows[i].calls;
	}
	fprintf(stderr, "halo-agent: Vulkan device time per shader (%s)\n", vk->info.name);
	fprintf(stderr, "  %-28s %9s %12s %7s\n", "shader", "calls", "total ms", "%");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %-28s %9llu %12.3f %7.1f\n", rows[i].shader,
			(unsigned long long)rows[i].calls, rows[i].ms,
			total > 0 ? 100.0 * rows[i].ms / total : 0.0);
	fprintf(stderr, "  %-28s %9llu %12.3f %7.1f\n", "total", (unsigned long long)calls,
		total, 100.0);
}
