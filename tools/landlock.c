/* landlock.c - the sandbox's second layer: a Landlock ruleset at the best
 * ABI this kernel offers, applied by the command's process just before
 * execve.
 *
 * The rules mirror the mount plan: system paths read-only, the workspace,
 * /tmp and the rw paths read-write, a few device files read-write, and
 * nothing else (Landlock denies what it handles and no rule allows, so the
 * home directory is unreachable even when there is no mount namespace).
 * Where the ABI has them: TCP bind/connect handled with no port allowed
 * when the network is none (v4), and the signal and abstract-unix-socket
 * scopes (v6), so the command can neither signal nor connect to anything
 * outside its domain.  The structs are declared here because the C library
 * headers this builds against may predate the newer ABIs; the kernel takes
 * the larger struct and checks that the fields it does not know are 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tools_int.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1

#define LL_FS_EXECUTE (1ull << 0)
#define LL_FS_WRITE_FILE (1ull << 1)
#define LL_FS_READ_FILE (1ull << 2)
#define LL_FS_READ_DIR (1ull << 3)
#define LL_FS_REFER (1ull << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15)  /* ABI 5 */
#define LL_FS_V1_ALL ((1ull << 13) - 1)
#define LL_FS_FILE_ONLY (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | \
			 LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

#define LL_NET_BIND_TCP (1ull << 0)    /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

int sbx_landlock_abi(void)
{
	static int abi = -1;

	if (abi < 0) {
		long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
				 LL_CREATE_RULESET_VERSION);

		abi = v > 0 ? (int)v : 0;
	}
	return abi;
}

static uint64_t fs_handled(int abi)
{
	uint64_t a = LL_FS_V1_ALL;

	if (abi >= 2)
		a |= LL_FS_REFER;
	if (abi >= 3)
		a |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a |= LL_FS_IOCTL_DEV;
	return a;
}

static uint64_t rights_for(enum sbx_access acc, uint64_t handled)
{
	switch (acc) {
	case SBX_A_RO:
		return (LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR) & handled;
	case SBX_A_DEV:
		return (LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_TRUNCATE |
			LL_FS_IOCTL_DEV) & handled;
	case SBX_A_RW:
	default:
		return handled;
	}
}

static int add_path(int rfd, const char *path, enum sbx_access acc,
		    uint64_t handled, char *why, size_t cap)
{
	struct ll_path_beneath pb;
	struct stat stb;
	int fd = open(path, O_PATH | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return 0; /* absent here: nothing to allow */
	pb.allowed_access = rights_for(acc, handled);
	if (fstat(fd, &stb) == 0 && !S_ISDIR(stb.st_mode))
		pb.allowed_access &= LL_FS_FILE_ONLY;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
		err = -errno;
		snprintf(why, cap, "landlock rule for %s: %s", path, strerror(errno));
	}
	close(fd);
	return err;
}

int sbx_landlock_apply(const struct sbx_plan *plan, char *why, size_t cap)
{
	struct ll_ruleset_attr attr = { 0 };
	int abi = plan->landlock_abi;
	uint64_t handled = fs_handled(abi);
	int rfd, err = 0;

	attr.handled_access_fs = handled;
	if (abi >= 4 && (plan->layers & TOOLS_LAYER_LANDLOCK_NET))
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	if (abi >= 6 && (plan->layers & TOOLS_LAYER_LANDLOCK_SCOPE))
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rfd < 0) {
		snprintf(why, cap, "landlock_create_ruleset (ABI %d): %s", abi,
			 strerror(errno));
		return -errno;
	}
	/* In a mount namespace everything visible was put there on purpose:
	 * reading the minimal root (ls /) is harmless.  Without one, "/" is
	 * the host's and gets no rule. */
	if (plan->use_ns)
		err = add_path(rfd, "/", SBX_A_RO, handled, why, cap);
	for (size_t i = 0; i < plan->n_mounts && err == 0; i++) {
		const struct sbx_mount *m = &plan->mounts[i];

		switch (m->kind) {
		case SBX_M_RO:
		case SBX_M_PROC:
		case SBX_M_DEVFS:
			err = add_path(rfd, m->dst, SBX_A_RO, handled, why, cap);
			break;
		case SBX_M_RW:
			err = add_path(rfd, m->dst, SBX_A_RW, handled, why, cap);
			break;
		case SBX_M_TMPFS:
			/* without a mount namespace this would be the host's /tmp */
			if (plan->use_ns)
				err = add_path(rfd, m->dst, SBX_A_RW, handled, why, cap);
			break;
		case SBX_M_DEV:
			err = add_path(rfd, m->dst, SBX_A_DEV, handled, why, cap);
			break;
		case SBX_M_SYMLINK:
			break;
		}
	}
	if (err == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) < 0) {
		err = -errno;
		snprintf(why, cap, "landlock_restrict_self: %s", strerror(errno));
	}
	close(rfd);
	return err;
}
