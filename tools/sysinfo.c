/* sysinfo.c - facts about this machine that doctor reports and skills plan
 * with: kernel, distro, CPU, memory, disk.  Read from uname, os-release and
 * /proc; every read is bounded and a missing source leaves a field empty. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tools_int.h"

static _Thread_local char errbuf[512];

const char *tools_errmsg(void)
{
	return errbuf;
}

int tools_seterr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	tools_one_line(errbuf); /* messages quote archive entries and URLs */
	return code;
}

void tools_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

long tools_read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0 || cap == 0)
		return -1;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (long)len;
}

/* Copy a string, truncating it to fit. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Copy the value of `key=` from os-release text, unquoting it. */
static void os_release_value(const char *text, const char *key, char *out,
			     size_t cap)
{
	size_t klen = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, klen) == 0 && l[klen] == '=') {
			const char *v = l + klen + 1;
			size_t n = strcspn(v, "\n");

			if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
				v++;
				n -= 2;
			}
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
	}
}

/* The number after "key:" in /proc/meminfo, in bytes. */
static uint64_t meminfo_bytes(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	if (p == NULL)
		return 0;
	p += strlen(key);
	while (*p == ':' || *p == ' ' || *p == '\t')
		p++;
	return strtoull(p, NULL, 10) * 1024;
}

void tools_sysinfo_get(struct tools_sysinfo *out)
{
	static char buf[65536]; /* /proc/cpuinfo of a big machine fits its first CPU */
	struct utsname u;

	memset(out, 0, sizeof(*out));
	if (uname(&u) == 0) {
		copy_str(out->os, sizeof(out->os), u.sysname);
		copy_str(out->kernel, sizeof(out->kernel), u.release);
		copy_str(out->arch, sizeof(out->arch), u.machine);
	}
	if (tools_read_small("/etc/os-release", buf, sizeof(buf)) > 0 ||
	    tools_read_small("/usr/lib/os-release", buf, sizeof(buf)) > 0) {
		os_release_value(buf, "ID", out->distro_id, sizeof(out->distro_id));
		os_release_value(buf, "VERSION_ID", out->distro_version,
				 sizeof(out->distro_version));
		os_release_value(buf, "PRETTY_NAME", out->distro_name,
				 sizeof(out->distro_name));
	}
	if (tools_read_small("/proc/cpuinfo", buf, sizeof(buf)) > 0) {
		const char *p = strstr(buf, "model name");

		if (p && (p = strchr(p, ':')) != NULL) {
			p++;
			while (*p == ' ')
				p++;
			snprintf(out->cpu_model, sizeof(out->cpu_model), "%.*s",
				 (int)strcspn(p, "\n"), p);
		}
	}
	out->cpu_count = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (tools_read_small("/proc/meminfo", buf, sizeof(buf)) > 0) {
		out->mem_total = meminfo_bytes(buf, "MemTotal");
		out->mem_available = meminfo_bytes(buf, "MemAvailable");
	}
}

int tools_disk_space(const char *path, uint64_t *free_bytes, uint64_t *total_bytes)
{
	char p[4096];
	struct statvfs sv;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return tools_seterr(TOOLS_EINVAL, "path too long: %s", path);
	for (;;) {
		char *slash;

		if (statvfs(p, &sv) == 0)
			break;
		if (errno != ENOENT)
			return tools_seterr(TOOLS_EIO, "%s: %s", p, strerror(errno));
		slash = strrchr(p, '/');
		if (slash == NULL)
			return tools_seterr(TOOLS_EIO, "%s: no existing parent", path);
		if (slash == p) {
			p[1] = '\0';
			continue;
		}
		*slash = '\0';
	}
	*free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	*total_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	return 0;
}
