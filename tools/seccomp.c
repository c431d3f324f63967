/* seccomp.c - the sandbox's syscall filter, built with libseccomp in the
 * parent and handed to the command's process as plain BPF.
 *
 * Default allow; the denied calls fail with EPERM (ENOSYS for clone3, so
 * the C library falls back to clone, whose flags a filter can inspect):
 *   always   ptrace, process_vm_readv/writev, io_uring_*, the mount API
 *            (mount, umount2, pivot_root, open_tree, move_mount, fs*,
 *            mount_setattr), bpf, keyctl/add_key/request_key, kexec_*,
 *            perf_event_open, userfaultfd, open_by_handle_at,
 *            name_to_handle_at, *_module, unshare, setns, clone with any
 *            CLONE_NEW* flag, ioctl TIOCSTI/TIOCLINUX, AF_VSOCK sockets;
 *   network none  socket() of any family but AF_UNIX.
 * Foreign architectures (32-bit int 0x80 on x86_64) are killed, which is
 * libseccomp's default for a non-native arch. */
#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools_int.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *const deny_always[] = {
	"ptrace", "process_vm_readv", "process_vm_writev",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr",
	"bpf", "keyctl", "add_key", "request_key", "kexec_load",
	"kexec_file_load", "perf_event_open", "userfaultfd",
	"open_by_handle_at", "name_to_handle_at", "init_module",
	"finit_module", "delete_module", "unshare", "setns", "swapon",
	"swapoff", "reboot", "acct", "quotactl", "syslog", "chroot",
	"lookup_dcookie", "vhangup", "iopl", "ioperm",
};

static int deny(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0; /* unknown on this arch */
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

int sbx_seccomp_build(struct sbx_plan *plan)
{
	static const unsigned long ns_flags[] = {
		CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
		CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME,
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	long len;
	int rc = TOOLS_EIO, fd = -1;

	if (ctx == NULL)
		return tools_seterr(TOOLS_EIO, "seccomp_init failed");
	for (size_t i = 0; i < sizeof(deny_always) / sizeof(deny_always[0]); i++)
		if (deny(ctx, deny_always[i]) < 0) {
			tools_seterr(TOOLS_EIO, "seccomp rule for %s", deny_always[i]);
			goto out;
		}
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
		goto rule_fail;
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i])) < 0)
			goto rule_fail;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX)) < 0)
		goto rule_fail;
	if (plan->net == TOOLS_NET_NONE) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_NE, AF_UNIX)) < 0)
			goto rule_fail;
	} else if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
				    SCMP_A0(SCMP_CMP_EQ, AF_VSOCK)) < 0) {
		goto rule_fail;
	}
	/* libseccomp 2.5 exports only to a file descriptor. */
	fd = memfd_create("halo-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0) {
		tools_seterr(TOOLS_EIO, "exporting the seccomp filter failed");
		goto out;
	}
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || (size_t)len > sizeof(plan->bpf) ||
	    len % (long)sizeof(struct sock_filter) != 0 ||
	    pread(fd, plan->bpf, (size_t)len, 0) != len) {
		tools_seterr(TOOLS_EIO, "seccomp filter of %ld bytes does not fit", len);
		goto out;
	}
	plan->bpf_len = (unsigned short)(len / (long)sizeof(struct sock_filter));
	rc = 0;
	goto out;
rule_fail:
	tools_seterr(TOOLS_EIO, "adding a seccomp rule failed");
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return rc;
}
