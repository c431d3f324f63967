/* vk_int.h - the Vulkan loader shared by the device probe (vk_probe.c), the
 * Vulkan backend (backend_vk*.c) and the bandwidth check (vk_bench.c).
 *
 * libvulkan is opened with dlopen, so the program starts and falls back to
 * the CPU backend on machines without it; every entry point is fetched into
 * struct vk_fns by name.  Fields are named like the functions, so calls read
 * f->vkCreateBuffer(...). */
#ifndef HALO_VK_INT_H
#define HALO_VK_INT_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "engine_int.h"

#define VK_GLOBAL_FNS(X) \
	X(vkCreateInstance) X(vkEnumerateInstanceVersion) \
	X(vkEnumerateInstanceLayerProperties) X(vkEnumerateInstanceExtensionProperties)

#define VK_INSTANCE_FNS(X) \
	X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) \
	X(vkGetPhysicalDeviceProperties) X(vkGetPhysicalDeviceProperties2) \
	X(vkGetPhysicalDeviceFeatures2) X(vkGetPhysicalDeviceMemoryProperties) \
	X(vkGetPhysicalDeviceMemoryProperties2) \
	X(vkEnumerateDeviceExtensionProperties) X(vkGetPhysicalDeviceQueueFamilyProperties) \
	X(vkCreateDevice) X(vkGetDeviceProcAddr) \
	X(vkCreateDebugUtilsMessengerEXT) X(vkDestroyDebugUtilsMessengerEXT)

#define VK_DEVICE_FNS(X) \
	X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkDeviceWaitIdle) \
	X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) \
	X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory) \
	X(vkMapMemory) X(vkUnmapMemory) \
	X(vkCreateShaderModule) X(vkDestroyShaderModule) \
	X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) \
	X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout) \
	X(vkCreateComputePipelines) X(vkDestroyPipeline) \
	X(vkCreatePipelineCache) X(vkDestroyPipelineCache) X(vkGetPipelineCacheData) \
	X(vkCreateDescriptorPool) X(vkDestroyDescriptorPool) X(vkResetDescriptorPool) \
	X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets) \
	X(vkCreateCommandPool) X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) \
	X(vkResetCommandBuffer) X(vkBeginCommandBuffer) X(vkEndCommandBuffer) \
	X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) X(vkCmdDispatch) \
	X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkCmdFillBuffer) \
	X(vkCmdWriteTimestamp) X(vkCmdResetQueryPool) \
	X(vkCreateQueryPool) X(vkDestroyQueryPool) X(vkGetQueryPoolResults) \
	X(vkCreateFence) X(vkDestroyFence) X(vkResetFences) X(vkWaitForFences) \
	X(vkQueueSubmit)

#define VK_FN_FIELD(name) PFN_##name name;

struct vk_fns {
	void *dl;                              /* dlopen handle */
	PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
	VK_GLOBAL_FNS(VK_FN_FIELD)
	VK_INSTANCE_FNS(VK_FN_FIELD)
	VK_DEVICE_FNS(VK_FN_FIELD)
};

/* Open libvulkan (HALO_VK_LOADER names another library) and fetch the global
 * functions.  On failure returns -1 with the reason in err; f->dl is NULL. */
int vk_loader_open(struct vk_fns *f, char *err, size_t errlen);
/* Close what vk_loader_open opened; accepts a never-opened (zeroed) table. */
void vk_loader_close(struct vk_fns *f);
/* Fetch instance-level (then device-level) functions; absent ones are NULL. */
void vk_load_instance(struct vk_fns *f, VkInstance inst);
void vk_load_device(struct vk_fns *f, VkDevice dev);
/* Create an instance for compute.  `validate`: enable
 * VK_LAYER_KHRONOS_validation and VK_EXT_debug_utils (both must exist, else
 * -1 with the reason). */
int vk_instance_create(struct vk_fns *f, bool validate, VkInstance *out,
		       uint32_t *api_version, char *err, size_t errlen);

/* What the backend needs of one device, probed (vk_probe.c). */
void vk_probe_device(const struct vk_fns *f, VkPhysicalDevice pd,
		     struct engine_vk_device *d);

#endif
