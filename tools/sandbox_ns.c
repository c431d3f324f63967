/* sandbox_ns.c - the child side of the sandbox: the init process that builds
 * the minimal root inside new namespaces (or, without them, supervises as a
 * subreaper), and the command's process that drops everything and execs.
 *
 * Design notes.  Processes of one run:
 *
 *   parent (halo-agent) --clone(NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS[|NEWNET])--> init
 *   init (pid 1 of the new pid namespace) --fork--> command --exec--> argv[0]
 *
 * Invariants:
 *  1. The children never allocate; everything is in the plan (tools_int.h).
 *  2. init blocks on the control pipe until the parent has written its uid
 *     and gid maps; EOF there means the parent died, and init exits.
 *  3. The command's process applies, in this order, rlimits, the dropped
 *     capability sets, no_new_privs, Landlock, seccomp, and then execs.  A
 *     planned layer that fails to apply is fatal (SBX_MSG_FATAL): the run is
 *     refused, never silently weaker.
 *  4. With namespaces, init is pid 1: when the command exits, init kills
 *     every process left in the namespace (kill(-1)), reaps, reports the
 *     command's wait status and exits; init's death (parent died: the
 *     PDEATHSIG; timeout: the parent's SIGKILL) makes the kernel kill the
 *     whole namespace.  Nothing of a run outlives it.
 *  5. Without namespaces, init is a child subreaper in its own session:
 *     orphans of the command are reparented to it, and it kills its
 *     children until none is left when the command exits, when the parent
 *     asks (a byte on the control pipe) or when the parent dies (EOF).
 *  6. The message pipe carries fixed-size records; init's copy of the
 *     output pipes is closed once the command runs, so the parent's EOF on
 *     them means every writer is gone. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "tools_int.h"

#ifndef SECBIT_NOROOT
#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_NO_SETUID_FIXUP_LOCKED (1 << 3)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

static void send_msg(const struct sbx_plan *plan, char kind, int value,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void send_msg(const struct sbx_plan *plan, char kind, int value,
		     const char *fmt, ...)
{
	struct sbx_msg m;
	va_list ap;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.value = value;
	va_start(ap, fmt);
	vsnprintf(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	if (write(plan->msg_wr, &m, sizeof(m)) < 0) {
		/* the parent is gone; nothing to tell */
	}
}

/* ---- building the root (namespace mode) -------------------------------- */

/* mkdir -p of a relative path (no leading '/'), or create the final
 * component as an empty file when !last_dir. */
static int make_path(const char *rel, bool last_dir)
{
	char buf[SBX_PATH];
	size_t n = strlen(rel);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, rel, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (last_dir) {
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
	} else {
		int fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

/* Clone the tree at m->src as a detached mount with m's attributes. */
static int clone_one(const struct sbx_mount *m)
{
	struct mount_attr attr = { 0 };
	int fd, e;

	fd = open_tree(AT_FDCWD, m->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
		       (m->is_dir ? AT_RECURSIVE : 0));
	if (fd < 0)
		return -errno;
	attr.attr_set = MOUNT_ATTR_NOSUID;
	if (m->kind == SBX_M_RO)
		attr.attr_set |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV;
	else if (m->kind == SBX_M_RW)
		attr.attr_set |= MOUNT_ATTR_NODEV;
	else
		attr.attr_set |= MOUNT_ATTR_NOEXEC;
	if (mount_setattr(fd, "", AT_EMPTY_PATH | (m->is_dir ? AT_RECURSIVE : 0),
			  &attr, sizeof(attr)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int attach_one(const struct sbx_mount *m, int fd, const char *rel)
{
	int rc = make_path(rel, m->is_dir);

	if (rc == 0 && move_mount(fd, "", AT_FDCWD, rel, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Build the new root on a tmpfs over /tmp (the sources are opened before
 * anything is covered: open_tree clones them), pivot into it and make it
 * read-only.  Returns 0 or -errno with the failing step in why. */
static int build_root(const struct sbx_plan *plan, char *why, size_t cap)
{
	int fds[SBX_MAX_MOUNTS];
	char opts[64];
	int rc;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		snprintf(why, cap, "making / private");
		return -errno;
	}
	for (size_t i = 0; i < plan->n_mounts; i++) {
		const struct sbx_mount *m = &plan->mounts[i];

		fds[i] = -1;
		if (m->kind != SBX_M_RO && m->kind != SBX_M_RW && m->kind != SBX_M_DEV)
			continue;
		fds[i] = clone_one(m);
		if (fds[i] < 0) {
			rc = fds[i];
			snprintf(why, cap, "cloning the mount of %.200s", m->src);
			return rc;
		}
	}
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		  "size=1m,mode=0755") < 0 || chdir("/tmp") < 0) {
		snprintf(why, cap, "mounting the new root");
		return -errno;
	}
	for (size_t i = 0; i < plan->n_mounts; i++) {
		const struct sbx_mount *m = &plan->mounts[i];
		const char *rel = m->dst + 1;

		switch (m->kind) {
		case SBX_M_RO:
		case SBX_M_RW:
		case SBX_M_DEV:
			rc = attach_one(m, fds[i], rel);
			fds[i] = -1;
			break;
		case SBX_M_SYMLINK:
			rc = make_path(rel, true); /* parents, then swap for the link */
			if (rc == 0 && (rmdir(rel) < 0 || symlink(m->src, rel) < 0))
				rc = -errno;
			break;
		case SBX_M_TMPFS:
		case SBX_M_DEVFS:
			snprintf(opts, sizeof(opts), "size=%llu,mode=%s",
				 m->kind == SBX_M_DEVFS ? 1048576ull :
				 (unsigned long long)plan->tmp_size,
				 m->kind == SBX_M_DEVFS ? "0755" : "1777");
			rc = make_path(rel, true);
			if (rc == 0 && mount("tmpfs", rel, "tmpfs", MS_NOSUID |
					     (m->kind == SBX_M_DEVFS ? MS_NOEXEC : MS_NODEV),
					     opts) < 0)
				rc = -errno;
			break;
		case SBX_M_PROC:
			rc = make_path(rel, true);
			if (rc == 0 && mount("proc", rel, "proc",
					     MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				rc = -errno;
			break;
		default:
			rc = -EINVAL;
		}
		if (rc < 0) {
			snprintf(why, cap, "mounting %.200s", m->dst);
			return rc;
		}
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
	    chdir("/") < 0) {
		snprintf(why, cap, "pivot_root");
		return -errno;
	}
	{
		struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };

		if (mount_setattr(AT_FDCWD, "/", 0, &ro, sizeof(ro)) < 0) {
			snprintf(why, cap, "making the new root read-only");
			return -errno;
		}
	}
	return 0;
}

/* ---- the command's process ---------------------------------------------- */

static int drop_caps(const struct sbx_plan *plan)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	/* Without a user namespace and not root there is nothing to drop. */
	if (!plan->use_ns && !plan->as_root)
		return 0;
	for (int c = 0; c < 64; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		  SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
		  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0) < 0)
		return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

static int set_limit(int res, uint64_t v)
{
	struct rlimit r = { (rlim_t)v, (rlim_t)v };

	return setrlimit(res, &r);
}

__attribute__((noreturn)) static void command_main(struct sbx_plan *plan)
{
	char why[200] = "";
	int nul, rc;

	signal(SIGPIPE, SIG_DFL);
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(plan->out_wr, 1) < 0 ||
	    dup2(plan->err_wr, 2) < 0 || dup2(plan->msg_wr, 3) < 0) {
		send_msg(plan, SBX_MSG_FATAL, errno, "setting up stdio: %s", strerror(errno));
		_exit(127);
	}
	plan->msg_wr = 3;
	fcntl(3, F_SETFD, FD_CLOEXEC);
	syscall(SYS_close_range, 4, ~0u, 0);
	if (chdir(plan->workspace) < 0) {
		send_msg(plan, SBX_MSG_FATAL, errno, "entering the workspace %.150s: %s",
			 plan->workspace, strerror(errno));
		_exit(127);
	}
	if (plan->layers & TOOLS_LAYER_RLIMITS) {
		struct rlimit core0 = { 0, 0 };

		if (set_limit(RLIMIT_AS, plan->memory) < 0 ||
		    set_limit(RLIMIT_NPROC, plan->nproc) < 0 ||
		    set_limit(RLIMIT_FSIZE, plan->fsize) < 0 ||
		    set_limit(RLIMIT_NOFILE, plan->nofile) < 0 ||
		    set_limit(RLIMIT_CPU, plan->cpu_s) < 0 ||
		    setrlimit(RLIMIT_CORE, &core0) < 0) {
			send_msg(plan, SBX_MSG_FATAL, errno, "setrlimit: %s", strerror(errno));
			_exit(127);
		}
	}
	if (plan->layers & TOOLS_LAYER_NNP) {
		rc = drop_caps(plan);
		if (rc < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
			send_msg(plan, SBX_MSG_FATAL, errno,
				 "dropping privileges: %s", strerror(rc < 0 ? -rc : errno));
			_exit(127);
		}
	}
	if (plan->layers & TOOLS_LAYER_LANDLOCK_FS) {
		rc = sbx_landlock_apply(plan, why, sizeof(why));
		if (rc < 0) {
			send_msg(plan, SBX_MSG_FATAL, -rc, "%s", why);
			_exit(127);
		}
	}
	if (plan->layers & TOOLS_LAYER_SECCOMP) {
		struct sock_fprog prog = { plan->bpf_len, plan->bpf };

		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
			send_msg(plan, SBX_MSG_FATAL, errno, "seccomp: %s", strerror(errno));
			_exit(127);
		}
	}
	execvpe(plan->argv[0], plan->argv, plan->envp);
	send_msg(plan, SBX_MSG_EXEC, errno, "%.150s: %s", plan->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* ---- init ---------------------------------------------------------------- */

static pid_t start_command(struct sbx_plan *plan)
{
	pid_t pid = fork();

	if (pid == 0)
		command_main(plan);
	if (pid < 0)
		send_msg(plan, SBX_MSG_FATAL, errno, "fork: %s", strerror(errno));
	/* invariant 6: only the command holds the output pipes now */
	close(plan->out_wr);
	close(plan->err_wr);
	return pid;
}

__attribute__((noreturn)) static void init_ns(struct sbx_plan *plan)
{
	char why[240] = "", go;
	pid_t cmd, p;
	int st, cmd_status = -1, rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (plan->announce) {
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		send_msg(plan, SBX_MSG_READY, 0, "ready");
	}
	/* invariant 2 */
	if (read(plan->ctl_rd, &go, 1) != 1)
		_exit(127);
	/* only now: a non-dumpable process's /proc files belong to root, and
	 * an unprivileged parent could not have written the maps */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	rc = build_root(plan, why, sizeof(why));
	if (rc < 0) {
		send_msg(plan, SBX_MSG_NSFAIL, -rc, "%s: %s", why, strerror(-rc));
		_exit(127);
	}
	if (plan->nproc < 32768) {
		/* pid numbers of this namespace bound its processes even for a
		 * caller (root) that RLIMIT_NPROC does not hold; kernels before
		 * 6.14 have one global pid_max and refuse, which is fine */
		int fd = open("/proc/sys/kernel/pid_max", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			char n[32];
			int len = snprintf(n, sizeof(n), "%llu",
					   (unsigned long long)(plan->nproc + 2 < 301 ? 301 :
								plan->nproc + 2));

			if (write(fd, n, (size_t)len) < 0) {
				/* not namespaced here */
			}
			close(fd);
		}
	}
	sethostname("halo-sandbox", 12);
	cmd = start_command(plan);
	if (cmd < 0)
		_exit(127);
	/* invariant 4 */
	for (;;) {
		p = waitpid(-1, &st, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			break;
		if (p == cmd) {
			cmd_status = st;
			kill(-1, SIGKILL);
		}
	}
	send_msg(plan, SBX_MSG_STATUS, cmd_status, "exit");
	_exit(0);
}

/* Kill every child of this process (and, as they die, the orphans that are
 * reparented here) until none is left.  Returns the command's wait status
 * if it was reaped here. */
static void kill_children(pid_t cmd, int *cmd_status)
{
	char path[300], buf[512];
	int st;
	pid_t p;

	for (;;) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		while (d && (e = readdir(d)) != NULL) {
			long n;
			char *rp;

			if (e->d_name[0] < '1' || e->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
			if (tools_read_small(path, buf, sizeof(buf)) <= 0)
				continue;
			rp = strrchr(buf, ')');
			if (rp == NULL || sscanf(rp + 1, " %*c %ld", &n) != 1)
				continue;
			if (n == (long)getpid())
				kill((pid_t)atol(e->d_name), SIGKILL);
		}
		if (d)
			closedir(d);
		p = waitpid(-1, &st, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return;
		if (p == cmd)
			*cmd_status = st;
	}
}

__attribute__((noreturn)) static void init_plain(struct sbx_plan *plan)
{
	struct pollfd pf[2];
	sigset_t chld;
	pid_t cmd, p;
	int st, cmd_status = -1, sfd;
	char go;

	if (read(plan->ctl_rd, &go, 1) != 1)
		_exit(127);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC);
	cmd = start_command(plan);
	if (cmd < 0 || sfd < 0)
		_exit(127);
	/* invariant 5 */
	pf[0] = (struct pollfd){ .fd = plan->ctl_rd, .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		bool done = false;

		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break; /* killed by the parent, or the parent is gone */
		if (pf[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) < 0) {
				/* drained below */
			}
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == cmd) {
				cmd_status = st;
				done = true;
			}
		if (done)
			break;
	}
	kill_children(cmd, &cmd_status);
	send_msg(plan, SBX_MSG_STATUS, cmd_status, "exit");
	_exit(0);
}

void sbx_child_main(struct sbx_plan *plan)
{
	for (int i = 0; i < 4; i++)
		close(plan->parent_fds[i]);
	setsid(); /* no controlling terminal for anything the command starts */
	if (plan->use_ns)
		init_ns(plan);
	init_plain(plan);
}
