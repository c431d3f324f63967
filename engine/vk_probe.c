/* vk_probe.c - list Vulkan physical devices and what they offer.
 *
 * libvulkan is opened with dlopen, so halo-agent starts (and falls back to
 * the CPU backend) on machines without a Vulkan loader.  Everything the
 * backend will depend on is queried here, never assumed: subgroup sizes,
 * shared memory, storage buffer range, 8/16-bit storage, fp16, int dot,
 * memory heaps and whether a device-local memory type is host-visible. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_int.h"

static const char *device_type_name(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
	default: return "other";
	}
}

static bool has_extension(const VkExtensionProperties *exts, uint32_t n,
			  const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(exts[i].extensionName, name) == 0)
			return true;
	return false;
}

void vk_probe_device(const struct vk_fns *f, VkPhysicalDevice pd,
		     struct engine_vk_device *d)
{
	VkPhysicalDeviceProperties p;
	VkPhysicalDeviceMemoryProperties mp;
	VkExtensionProperties *exts = NULL;
	uint32_t n_exts = 0;

	memset(d, 0, sizeof(*d));
	f->vkGetPhysicalDeviceProperties(pd, &p);
	snprintf(d->name, sizeof(d->name), "%s", p.deviceName);
	d->type = device_type_name(p.deviceType);
	d->vendor_id = p.vendorID;
	d->device_id = p.deviceID;
	d->api_version = p.apiVersion;
	d->driver_version = p.driverVersion;
	d->max_shared_memory = p.limits.maxComputeSharedMemorySize;
	d->max_storage_buffer_range = p.limits.maxStorageBufferRange;
	d->max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;

	if (f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n_exts, NULL) == VK_SUCCESS && n_exts) {
		exts = calloc(n_exts, sizeof(*exts));
		if (exts && f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n_exts, exts) != VK_SUCCESS)
			n_exts = 0;
	}

	if (f->vkGetPhysicalDeviceProperties2 && p.apiVersion >= VK_API_VERSION_1_1) {
		VkPhysicalDeviceSubgroupProperties sg = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
		VkPhysicalDeviceDriverProperties drv = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
		VkPhysicalDeviceSubgroupSizeControlProperties sgc = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES };
		VkPhysicalDeviceProperties2 p2 = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg };
		bool have_drv = p.apiVersion >= VK_API_VERSION_1_2 ||
			has_extension(exts, n_exts, "VK_KHR_driver_properties");
		bool have_sgc = p.apiVersion >= VK_API_VERSION_1_3 ||
			has_extension(exts, n_exts, "VK_EXT_subgroup_size_control");

		/* Chain only the structs the device knows. */
		if (have_drv) {
			drv.pNext = p2.pNext;
			p2.pNext = &drv;
		}
		if (have_sgc) {
			sgc.pNext = p2.pNext;
			p2.pNext = &sgc;
		}
		f->vkGetPhysicalDeviceProperties2(pd, &p2);
		d->subgroup_size = sg.subgroupSize;
		d->subgroup_arithmetic =
			(sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
			(sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
		if (have_drv) {
			snprintf(d->driver_name, sizeof(d->driver_name), "%s", drv.driverName);
			snprintf(d->driver_info, sizeof(d->driver_info), "%s", drv.driverInfo);
		}
		if (have_sgc) {
			d->subgroup_min = sgc.minSubgroupSize;
			d->subgroup_max = sgc.maxSubgroupSize;
		}
	}

	if (f->vkGetPhysicalDeviceFeatures2 && p.apiVersion >= VK_API_VERSION_1_1) {
		VkPhysicalDevice16BitStorageFeatures s16 = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES };
		VkPhysicalDevice8BitStorageFeatures s8 = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES };
		VkPhysicalDeviceShaderFloat16Int8Features f16 = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES };
		VkPhysicalDeviceFeatures2 f2 = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s16 };

		if (p.apiVersion >= VK_API_VERSION_1_2 ||
		    has_extension(exts, n_exts, "VK_KHR_8bit_storage"))
			s16.pNext = &s8;
		if (p.apiVersion >= VK_API_VERSION_1_2 ||
		    has_extension(exts, n_exts, "VK_KHR_shader_float16_int8")) {
			f16.pNext = s16.pNext;
			s16.pNext = &f16;
		}
		f->vkGetPhysicalDeviceFeatures2(pd, &f2);
		d->storage_16bit = s16.storageBuffer16BitAccess;
		d->storage_8bit = s8.storageBuffer8BitAccess;
		d->float16 = f16.shaderFloat16;
		d->int8 = f16.shaderInt8;
	}
	d->integer_dot = p.apiVersion >= VK_API_VERSION_1_3 ||
		has_extension(exts, n_exts, "VK_KHR_shader_integer_dot_product");
	free(exts);

	f->vkGetPhysicalDeviceMemoryProperties(pd, &mp);
	d->n_heaps = mp.memoryHeapCount < ENGINE_VK_MAX_HEAPS ?
		mp.memoryHeapCount : ENGINE_VK_MAX_HEAPS;
	for (uint32_t i = 0; i < d->n_heaps; i++) {
		d->heaps[i].size = mp.memoryHeaps[i].size;
		d->heaps[i].device_local =
			mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
	}
	for (uint32_t i = 0; i < mp.memoryTypeCount; i++) {
		VkMemoryPropertyFlags fl = mp.memoryTypes[i].propertyFlags;

		if ((fl & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) &&
		    (fl & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
			d->device_local_host_visible = true;
	}
}

int engine_vk_probe(struct engine_vk_info *out)
{
	struct vk_fns f;
	VkInstance inst = VK_NULL_HANDLE;
	VkPhysicalDevice *pds = NULL;
	uint32_t n = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (vk_loader_open(&f, out->loader_error, sizeof(out->loader_error)) < 0)
		return 0;
	out->loader_found = true;
	if (vk_instance_create(&f, false, &inst, &out->instance_version,
			       out->loader_error, sizeof(out->loader_error)) < 0)
		goto out;
	if (f.vkEnumeratePhysicalDevices(inst, &n, NULL) != VK_SUCCESS || n == 0)
		goto out_inst;
	pds = calloc(n, sizeof(*pds));
	out->devices = calloc(n, sizeof(*out->devices));
	if (pds == NULL || out->devices == NULL) {
		rc = engine_seterr(ENGINE_ENOMEM, "out of memory listing Vulkan devices");
		goto out_inst;
	}
	if (f.vkEnumeratePhysicalDevices(inst, &n, pds) < 0)
		n = 0;
	for (uint32_t i = 0; i < n; i++)
		vk_probe_device(&f, pds[i], &out->devices[i]);
	out->n_devices = n;
out_inst:
	f.vkDestroyInstance(inst, NULL);
out:
	free(pds);
	if (rc < 0)
		engine_vk_info_free(out);
	vk_loader_close(&f);
	return rc;
}

void engine_vk_info_free(struct engine_vk_info *info)
{
	if (info == NULL)
		return;
	free(info->devices);
	info->devices = NULL;
	info->n_devices = 0;
}
