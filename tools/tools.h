/* tools.h - the public interface of libhalo_tools: facts about this machine,
 * the sandbox and (later) the tool registry the agent and skills use.
 *
 * Errors: 0 or a negative enum tools_err; tools_errmsg() holds the text of
 * the calling thread's last error. */
#ifndef HALO_TOOLS_H
#define HALO_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tools_err {
	TOOLS_OK = 0,
	TOOLS_EIO = -1,
	TOOLS_EINVAL = -2,
};

const char *tools_errmsg(void);

/* ==== facts about this machine (sysinfo.c) ============================== */

struct tools_sysinfo {
	char os[64];          /* uname sysname: "Linux" */
	char kernel[128];     /* uname release */
	char arch[32];        /* uname machine: "x86_64" */
	char distro_id[64];   /* os-release ID: "debian" ("" if unknown) */
	char distro_version[64]; /* os-release VERSION_ID: "12" */
	char distro_name[128];   /* os-release PRETTY_NAME */
	char cpu_model[128];  /* /proc/cpuinfo "model name" */
	int cpu_count;        /* online logical CPUs */
	uint64_t mem_total;   /* bytes */
	uint64_t mem_available; /* bytes */
};

/* Fill *out; fields that cannot be read are left empty/zero. */
void tools_sysinfo_get(struct tools_sysinfo *out);

/* Free and total bytes of the file system holding `path` (or its nearest
 * existing parent directory). */
int tools_disk_space(const char *path, uint64_t *free_bytes, uint64_t *total_bytes);

/* ==== what the sandbox can use here (probe.c) =========================== */

struct tools_sandbox_caps {
	bool userns;            /* an unprivileged process can unshare(CLONE_NEWUSER) */
	char userns_detail[160]; /* why not, or a restriction worth knowing */
	int landlock_abi;       /* 0 = not available */
	char landlock_detail[160];
	bool seccomp;           /* seccomp filters (mode 2) available */
	char seccomp_detail[160];
	bool no_new_privs;      /* PR_SET_NO_NEW_PRIVS works */
};

void tools_sandbox_probe(struct tools_sandbox_caps *out);

#ifdef __cplusplus
}
#endif

#endif
