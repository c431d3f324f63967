/* vk_suite.c - see vk_suite.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "testutil.h"
#include "vk_suite.h"

struct engine_ctx *vks_ctx_new(struct engine_model *m, struct engine_ctx_params p, bool must)
{
	const char *dev = getenv("HALO_VK_DEVICE");
	struct engine_ctx *c = NULL;

	p.device = dev ? atoi(dev) : 0;
	if (engine_ctx_new(&c, m, &p) != 0 && must)
		fail_msg("engine_ctx_new: %s", engine_errmsg());
	return c;
}

int vks_setup(struct engine_model **m, bool *have_vk, struct engine_ctx_params probe)
{
	char path[1024];
	struct engine_ctx *c;

	snprintf(path, sizeof(path), "%s/models/stories260K.gguf", tu_testdata());
	if (engine_model_open(m, path, NULL) != 0) {
		print_message("%s\n", engine_errmsg());
		return -1;
	}
	c = vks_ctx_new(*m, probe, false);
	*have_vk = c != NULL;
	if (!*have_vk)
		print_message("no Vulkan device (%s): skipping\n", engine_errmsg());
	engine_ctx_free(c);
	return 0;
}
