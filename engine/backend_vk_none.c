/* backend_vk_none.c - the Vulkan backend of builds without Vulkan headers or
 * glslc: it refuses, so --backend auto falls back to the CPU. */
#include "backend_vk.h"

int backend_vk_new(struct engine_backend **out, int device, bool explicit_request,
		   const struct backend_vk_opts *opts)
{
	(void)device;
	(void)explicit_request;
	(void)opts;
	*out = NULL;
	return engine_seterr(ENGINE_EUNSUPPORTED, "this halo-agent was built without the "
			     "Vulkan backend (needs the Vulkan headers and glslc)");
}

void backend_vk_stats(struct vk_stats *out)
{
	*out = (struct vk_stats){ 0 };
}

size_t backend_vk_profile(const struct engine_backend *be, struct vk_prof_row *out,
			  size_t max)
{
	(void)be;
	(void)out;
	(void)max;
	return 0;
}

bool backend_vk_uses_subgroups(const struct engine_backend *be)
{
	(void)be;
	return false;
}

int engine_vk_bandwidth(int device, size_t bytes, double *gbps)
{
	(void)device;
	(void)bytes;
	*gbps = 0;
	return engine_seterr(ENGINE_EUNSUPPORTED, "built without the Vulkan backend");
}
