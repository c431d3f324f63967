/* tools_int.h - private declarations shared by the files of libhalo_tools. */
#ifndef HALO_TOOLS_INT_H
#define HALO_TOOLS_INT_H

#include <linux/filter.h>

#include "tools.h"

int tools_seterr(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Read a small text file (at most cap-1 bytes) into buf, NUL-terminated.
 * Returns the length, or -1. */
long tools_read_small(const char *path, char *buf, size_t cap);

/* ==== the sandbox's plan: built by the parent, carried out by children ===
 *
 * Everything the children need is computed before the first fork and lives
 * in one struct, so the children (which may come from a raw clone of a
 * multi-threaded process) never allocate: they only make system calls and
 * format fixed-size messages. */

#define SBX_PATH 1024
#define SBX_MAX_MOUNTS 112
#define SBX_ENV_BYTES 16384
#define SBX_MAX_BPF 1024

enum sbx_mount_kind {
	SBX_M_RO,       /* bind, read-only, nosuid, nodev */
	SBX_M_RW,       /* bind, read-write, nosuid, nodev */
	SBX_M_DEV,      /* bind of a device node, nosuid, noexec */
	SBX_M_SYMLINK,  /* a symlink dst -> src */
	SBX_M_TMPFS,    /* a fresh tmpfs at dst, mode 1777 */
	SBX_M_DEVFS,    /* a fresh tmpfs at dst, mode 0755, for /dev */
	SBX_M_PROC,     /* a fresh proc for the new pid namespace */
};

struct sbx_mount {
	enum sbx_mount_kind kind;
	bool is_dir;          /* a directory (else a file) for binds */
	char src[SBX_PATH];   /* host path, or the link text for SBX_M_SYMLINK */
	char dst[SBX_PATH];   /* path inside the sandbox (equal to src for binds) */
};

/* Landlock access classes for a path. */
enum sbx_access {
	SBX_A_RO,   /* read, execute, list */
	SBX_A_RW,   /* everything */
	SBX_A_DEV,  /* read, write, ioctl on device files */
};

struct sbx_plan {
	unsigned layers;           /* planned; every one is applied or the run fails */
	int landlock_abi;
	bool use_ns;
	bool as_root;              /* the caller's uid is 0 */
	uid_t uid;
	gid_t gid;
	enum tools_net net;
	uint64_t memory, nproc, fsize, nofile, cpu_s, tmp_size;

	struct sbx_mount mounts[SBX_MAX_MOUNTS];
	size_t n_mounts;
	char workspace[SBX_PATH];

	char *const *argv;
	char *envp[TOOLS_SANDBOX_MAX_ENV + 16];
	char envbuf[SBX_ENV_BYTES];

	struct sock_filter bpf[SBX_MAX_BPF];
	unsigned short bpf_len;

	/* pipes: the children's ends */
	int ctl_rd;   /* "go" from the parent; EOF = parent gone or kill */
	int msg_wr;   /* fixed-size records to the parent (struct sbx_msg) */
	int out_wr, err_wr;
	int parent_fds[4]; /* the parent's ends, closed first thing in the child */
};

/* Records the children send up the message pipe (atomic: < PIPE_BUF). */
enum sbx_msg_kind {
	SBX_MSG_NSFAIL = 'N',  /* namespace setup failed: retry without */
	SBX_MSG_FATAL = 'E',   /* a planned layer could not be applied */
	SBX_MSG_EXEC = 'X',    /* execve failed */
	SBX_MSG_STATUS = 'W',  /* init's report: the command's wait status */
};

struct sbx_msg {
	char kind;
	int value;
	char text[240];
};

/* sandbox_ns.c: the child side.  sbx_child_main never returns. */
__attribute__((noreturn)) void sbx_child_main(struct sbx_plan *plan);

/* landlock.c */
int sbx_landlock_abi(void);     /* 0 if unavailable; cached */
/* Restrict the calling thread by plan's mounts; 0 or -errno, with the step
 * that failed in why. */
int sbx_landlock_apply(const struct sbx_plan *plan, char *why, size_t cap);

/* seccomp.c: compile the filter for this network mode into plan->bpf. */
int sbx_seccomp_build(struct sbx_plan *plan);

#endif
