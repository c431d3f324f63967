/* vk_suite.h - what the Vulkan model suites (vk_model, vk_profile,
 * vk_pcache) share: stories260K opened once, a probe for a device, and
 * contexts on the device $HALO_VK_DEVICE names (default 0). */
#ifndef HALO_TEST_VK_SUITE_H
#define HALO_TEST_VK_SUITE_H

#include <stdbool.h>

#include "engine.h"

/* A context with p (its device from $HALO_VK_DEVICE); `must`: fail the
 * test when it does not open, else NULL. */
struct engine_ctx *vks_ctx_new(struct engine_model *m, struct engine_ctx_params p, bool must);

/* Open stories260K into *m and try a context with probe: *have_vk says
 * whether one opened (if not, the reason is printed and the suite's tests
 * skip).  -1 when the model does not open. */
int vks_setup(struct engine_model **m, bool *have_vk, struct engine_ctx_params probe);

#endif
