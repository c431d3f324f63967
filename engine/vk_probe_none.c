/* vk_probe_none.c - engine_vk_probe for builds without Vulkan headers
 * (meson -Dvulkan=disabled): the engine runs on the CPU backend only. */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

int engine_vk_probe(struct engine_vk_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->loader_error, sizeof(out->loader_error),
		 "this halo-agent was built without Vulkan support");
	return 0;
}

void engine_vk_info_free(struct engine_vk_info *info)
{
	(void)info;
}
