/* vk_loader.c - open libvulkan at run time and fetch its entry points; make
 * an instance (optionally with the Khronos validation layer).  Shared by the
 * probe, the backend and the bandwidth check so the loading is written once. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_int.h"

int vk_loader_open(struct vk_fns *f, char *err, size_t errlen)
{
	const char *lib = getenv("HALO_VK_LOADER");

	memset(f, 0, sizeof(*f));
	f->dl = dlopen(lib && *lib ? lib : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
	if (f->dl == NULL) {
		snprintf(err, errlen, "Vulkan loader not found (%s)", dlerror());
		return -1;
	}
	f->vkGetInstanceProcAddr =
		(PFN_vkGetInstanceProcAddr)dlsym(f->dl, "vkGetInstanceProcAddr");
	if (f->vkGetInstanceProcAddr == NULL) {
		snprintf(err, errlen, "the Vulkan loader has no vkGetInstanceProcAddr");
		dlclose(f->dl);
		f->dl = NULL;
		return -1;
	}
#define X(name) f->name = (PFN_##name)(void *)f->vkGetInstanceProcAddr(NULL, #name);
	VK_GLOBAL_FNS(X)
#undef X
	return 0;
}

void vk_loader_close(struct vk_fns *f)
{
	if (f->dl)
		dlclose(f->dl);
	memset(f, 0, sizeof(*f));
}

void vk_load_instance(struct vk_fns *f, VkInstance inst)
{
#define X(name) f->name = (PFN_##name)(void *)f->vkGetInstanceProcAddr(inst, #name);
	VK_INSTANCE_FNS(X)
#undef X
}

void vk_load_device(struct vk_fns *f, VkDevice dev)
{
#define X(name) f->name = (PFN_##name)(void *)f->vkGetDeviceProcAddr(dev, #name);
	VK_DEVICE_FNS(X)
#undef X
}

static bool has_layer(const struct vk_fns *f, const char *name)
{
	VkLayerProperties *lp;
	uint32_t n = 0;
	bool found = false;

	if (f->vkEnumerateInstanceLayerProperties == NULL ||
	    f->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
		return false;
	lp = calloc(n, sizeof(*lp));
	if (lp && f->vkEnumerateInstanceLayerProperties(&n, lp) == VK_SUCCESS)
		for (uint32_t i = 0; i < n && !found; i++)
			found = strcmp(lp[i].layerName, name) == 0;
	free(lp);
	return found;
}

int vk_instance_create(struct vk_fns *f, bool validate, VkInstance *out,
		       uint32_t *api_version, char *err, size_t errlen)
{
	static const char *layers[] = { "VK_LAYER_KHRONOS_validation" };
	static const char *exts[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
	uint32_t ver = VK_API_VERSION_1_0;
	VkResult vr;

	*out = VK_NULL_HANDLE;
	if (f->vkEnumerateInstanceVersion)
		f->vkEnumerateInstanceVersion(&ver);
	*api_version = ver;
	if (validate && !has_layer(f, layers[0])) {
		snprintf(err, errlen, "HALO_VK_VALIDATE is set but %s is not installed "
			 "(package vulkan-validationlayers)", layers[0]);
		return -1;
	}
	{
		VkApplicationInfo app = {
			.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
			.pApplicationName = "halo-agent",
			.pEngineName = "halo-engine",
			.apiVersion = ver >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : ver,
		};
		VkInstanceCreateInfo ci = {
			.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
			.pApplicationInfo = &app,
			.enabledLayerCount = validate ? 1 : 0,
			.ppEnabledLayerNames = validate ? layers : NULL,
			.enabledExtensionCount = validate ? 1 : 0,
			.ppEnabledExtensionNames = validate ? exts : NULL,
		};

		vr = f->vkCreateInstance ? f->vkCreateInstance(&ci, NULL, out)
					 : VK_ERROR_INITIALIZATION_FAILED;
	}
	if (vr != VK_SUCCESS) {
		*out = VK_NULL_HANDLE;
		snprintf(err, errlen, vr == VK_ERROR_INCOMPATIBLE_DRIVER ?
			 "no Vulkan driver (ICD) is installed or none accepted the instance" :
			 "vkCreateInstance failed (VkResult %d)", (int)vr);
		return -1;
	}
	vk_load_instance(f, *out);
	if (!f->vkDestroyInstance || !f->vkEnumeratePhysicalDevices ||
	    !f->vkGetPhysicalDeviceProperties || !f->vkGetPhysicalDeviceMemoryProperties ||
	    !f->vkEnumerateDeviceExtensionProperties) {
		if (f->vkDestroyInstance)
			f->vkDestroyInstance(*out, NULL);
		*out = VK_NULL_HANDLE;
		snprintf(err, errlen, "the Vulkan loader lacks core 1.0 functions");
		return -1;
	}
	return 0;
}
