/* vk_bench.c - the memory bandwidth a Vulkan device reaches, for doctor's
 * tok/s ceilings: a shader (bandwidth.comp) reads a buffer once per run,
 * timed on the host around submit and wait; the best of a few runs. */
#include <time.h>

#include "backend_vk_int.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int engine_vk_bandwidth(int device, size_t bytes, double *gbps)
{
	struct engine_backend *be;
	struct vk_backend *vk;
	struct etensor src = { 0 }, dst = { 0 };
	double best = 0;
	int rc;

	*gbps = 0;
	if ((rc = backend_vk_new(&be, device, true, NULL)) < 0)
		return rc;
	vk = vkb(be);
	if (bytes > vk->max_range - vk->align)
		bytes = (size_t)(vk->max_range - vk->align);
	bytes &= ~(size_t)15;
	src = (struct etensor){ .type = QT_F32, .ne = { (int64_t)bytes / 4, 1, 1, 1 },
				.nb1 = bytes, .name = "bandwidth" };
	dst = (struct etensor){ .type = QT_F32, .ne = { 4096, 1, 1, 1 }, .nb1 = 4096 * 4,
				.name = "bandwidth sums" };
	if ((rc = be->ops->tensor_alloc(be, &src)) < 0 ||
	    (rc = be->ops->tensor_alloc(be, &dst)) < 0)
		goto out;
	for (int run = 0; run < 4; run++) {
		struct vk_dispatch d = { 0 };
		uint32_t P[1] = { (uint32_t)(bytes / 16) }, spec[3] = { 0 };
		double t0, dt;

		vk_bind(vk, &d, 1, src.bk, 0, bytes);
		vk_bind(vk, &d, 2, dst.bk, 0, 4096 * 4);
		d.gx = 4096;
		d.gy = d.gz = 1;
		t0 = now_s();
		vk_issue(vk, "bandwidth", spec, &d, 1u << 2, P, 1);
		if ((rc = be->ops->sync(be)) < 0)
			goto out;
		dt = now_s() - t0;
		/* the first run builds the pipeline */
		if (run > 0 && dt > 0 && (double)bytes / dt / 1e9 > best)
			best = (double)bytes / dt / 1e9;
	}
	*gbps = best;
out:
	be->ops->tensor_free(be, &src);
	be->ops->tensor_free(be, &dst);
	be->ops->free(be);
	return rc;
}
