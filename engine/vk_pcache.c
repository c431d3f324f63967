/* vk_pcache.c - the Vulkan backend's persistent pipeline cache (note 7 of
 * backend_vk_int.h): building a compute pipeline means compiling its
 * shader for the device, which dominates a cold start; the driver's
 * VkPipelineCache data, saved between runs, lets it skip that.
 *
 * One file per device and driver, named
 *     <dir>/<vendorID>-<deviceID>-<driverVersion>-<pipelineCacheUUID>.pcache
 * (hex) in <dir> = the caller's directory, else
 * $XDG_CACHE_HOME/halo-agent/vulkan, else $HOME/.cache/halo-agent/vulkan.
 * HALO_VK_NO_PIPELINE_CACHE=1 turns it off.
 *
 * File format, little-endian: a 32-byte header
 *     "HALOVKPC", u32 format (1), u32 driverVersion, u64 data bytes,
 *     u64 FNV-1a 64 of the data
 * then the data vkGetPipelineCacheData returned.
 *
 * Invariants:
 * 1. Data reaches vkCreatePipelineCache only when the file's header,
 *    size and checksum agree and the data's own Vulkan header
 *    (VkPipelineCacheHeaderVersionOne: length, version, vendorID,
 *    deviceID, pipelineCacheUUID) names this device.  Drivers validate
 *    too, but a corrupt or foreign file must never depend on it.
 * 2. Nothing here is an error for the backend: an unreadable, corrupt or
 *    unwritable cache means running (or saving) without one.
 * 3. The file is replaced atomically (a 0600 temporary in the same
 *    directory, fsync, rename; directories created 0700), and only when
 *    the driver's data differs from what the file held, so concurrent
 *    processes see the old file or the new one, never a mix. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_vk_int.h"

#define PCACHE_MAGIC "HALOVKPC"
#define PCACHE_FORMAT 1u
#define PCACHE_HDR 32u
#define PCACHE_MAX ((size_t)64 << 20)   /* bound on what is read or saved */

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The cache file's path (malloc'd), or NULL when there is no directory. */
static char *cache_path(const struct vk_backend *vk, const char *dir)
{
	const VkPhysicalDeviceProperties *p = &vk->props;
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	const char *base, *sub;
	char uuid[2 * VK_UUID_SIZE + 1], *path;

	if (dir) {
		base = dir;
		sub = "";
	} else if (x && x[0] == '/') {
		base = x;
		sub = "/halo-agent/vulkan";
	} else if (home && home[0] == '/') {
		base = home;
		sub = "/.cache/halo-agent/vulkan";
	} else {
		return NULL;
	}
	if (*base == '\0')
		return NULL;
	for (unsigned i = 0; i < VK_UUID_SIZE; i++)
		snprintf(uuid + 2 * i, 3, "%02x", p->pipelineCacheUUID[i]);
	if (asprintf(&path, "%s%s/%08x-%08x-%08x-%s.pcache", base, sub, p->vendorID,
		     p->deviceID, p->driverVersion, uuid) < 0)
		return NULL;
	return path;
}

/* Invariant 1, on the data part of a file. */
static bool vk_header_ok(const struct vk_backend *vk, const unsigned char *d, size_t n)
{
	uint32_t len;

	if (n < 16 + VK_UUID_SIZE)
		return false;
	len = get_le32(d);
	return len >= 16 + VK_UUID_SIZE && len <= n &&
	       get_le32(d + 4) == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
	       get_le32(d + 8) == vk->props.vendorID &&
	       get_le32(d + 12) == vk->props.deviceID &&
	       memcmp(d + 16, vk->props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

/* The data of the file at `path` if it passes invariant 1 (malloc'd into
 * *out), else NULL; *rejected: a file was there but refused. */
static unsigned char *load_file(const struct vk_backend *vk, const char *path,
				size_t *out_len, bool *rejected)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t size, got = 0;
	int fd;

	*out_len = 0;
	*rejected = false;
	/* not through a link, and never blocking on a FIFO in its place */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	*rejected = true;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < PCACHE_HDR ||
	    (uint64_t)st.st_size > PCACHE_HDR + PCACHE_MAX)
		goto bad;
	size = (size_t)st.st_size;
	if ((buf = malloc(size)) == NULL)
		goto bad;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto bad;
		got += (size_t)r;
	}
	if (memcmp(buf, PCACHE_MAGIC, 8) != 0 || get_le32(buf + 8) != PCACHE_FORMAT ||
	    get_le32(buf + 12) != vk->props.driverVersion ||
	    get_le64(buf + 16) != size - PCACHE_HDR ||
	    get_le64(buf + 24) != fnv1a64(buf + PCACHE_HDR, size - PCACHE_HDR) ||
	    !vk_header_ok(vk, buf + PCACHE_HDR, size - PCACHE_HDR))
		goto bad;
	close(fd);
	memmove(buf, buf + PCACHE_HDR, size - PCACHE_HDR);
	*out_len = size - PCACHE_HDR;
	*rejected = false;
	return buf;
bad:
	free(buf);
	close(fd);
	return NULL;
}

void vk_pcache_open(struct vk_backend *vk, const char *dir)
{
	VkPipelineCacheCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
	unsigned char *data = NULL;
	size_t len = 0;
	bool rejected = false;

	if (vk_env_on("HALO_VK_NO_PIPELINE_CACHE"))
		return;
	/* without a file a cache would only serve this backend, which never
	 * builds a pipeline twice */
	if ((vk->pcache_path = cache_path(vk, dir)) == NULL)
		return;
	data = load_file(vk, vk->pcache_path, &len, &rejected);
	if (rejected)
		atomic_fetch_add(&vk_n_pcache_rejected, 1);
	ci.initialDataSize = len;
	ci.pInitialData = data;
	if (data && vk->f.vkCreatePipelineCache(vk->dev, &ci, NULL, &vk->pcache) == VK_SUCCESS) {
		atomic_fetch_add(&vk_n_pcache_loaded, 1);
		vk->pcache_seed = data;
		vk->pcache_seed_len = len;
		return;
	}
	/* no file, or the driver refused its data: an empty cache, saved at
	 * the end in place of the file */
	free(data);
	vk->pcache = VK_NULL_HANDLE;
	ci.initialDataSize = 0;
	ci.pInitialData = NULL;
	if (vk->f.vkCreatePipelineCache(vk->dev, &ci, NULL, &vk->pcache) != VK_SUCCESS)
		vk->pcache = VK_NULL_HANDLE;
}

/* mkdir -p with mode 0700 for what is created; 0 when `dir` is a directory. */
static int make_dirs(char *dir)
{
	struct stat st;

	for (char *s = dir + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Invariant 3. */
static void save_file(const struct vk_backend *vk, const unsigned char *data, size_t len)
{
	unsigned char hdr[PCACHE_HDR];
	char *dir = strdup(vk->pcache_path), *tmp = NULL, *slash;
	int fd = -1;

	if (dir == NULL || (slash = strrchr(dir, '/')) == NULL || slash == dir)
		goto out;
	*slash = '\0';
	if (make_dirs(dir) != 0 || asprintf(&tmp, "%s.XXXXXX", vk->pcache_path) < 0) {
		tmp = NULL;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)  /* mode 0600 */
		goto out;
	memcpy(hdr, PCACHE_MAGIC, 8);
	put_le32(hdr + 8, PCACHE_FORMAT);
	put_le32(hdr + 12, vk->props.driverVersion);
	put_le64(hdr + 16, len);
	put_le64(hdr + 24, fnv1a64(data, len));
	if (write_all(fd, hdr, sizeof(hdr)) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, vk->pcache_path) != 0) {
		unlink(tmp);
		goto out;
	}
	atomic_fetch_add(&vk_n_pcache_saved, 1);
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(dir);
}

void vk_pcache_close(struct vk_backend *vk)
{
	unsigned char *data = NULL;
	size_t len = 0;

	if (vk->pcache == VK_NULL_HANDLE)
		goto out;
	/* without a new pipeline the driver's data cannot have changed */
	if (vk->n_pipes == 0)
		goto destroy;
	if (vk->f.vkGetPipelineCacheData(vk->dev, vk->pcache, &len, NULL) != VK_SUCCESS ||
	    len == 0 || len > PCACHE_MAX || (data = malloc(len)) == NULL ||
	    vk->f.vkGetPipelineCacheData(vk->dev, vk->pcache, &len, data) != VK_SUCCESS)
		goto destroy;
	/* what the driver writes must pass our own check when read back */
	if (vk_header_ok(vk, data, len) &&
	    (len != vk->pcache_seed_len || memcmp(data, vk->pcache_seed, len) != 0))
		save_file(vk, data, len);
destroy:
	vk->f.vkDestroyPipelineCache(vk->dev, vk->pcache, NULL);
	vk->pcache = VK_NULL_HANDLE;
out:
	free(data);
	free(vk->pcache_seed);
	free(vk->pcache_path);
	vk->pcache_seed = NULL;
	vk->pcache_path = NULL;
}
