/* sandbox.c - the parent side of the sandbox: turn a policy into a plan
 * (tools_int.h), start the children (sandbox_ns.c) in new namespaces or,
 * where the kernel refuses those, under Landlock and seccomp alone, then
 * capture the output, enforce the wall-clock timeout and report how it
 * ended and which layers were active.
 *
 * Design notes.
 *  1. Fail closed: the plan names every layer to apply; a child that cannot
 *     apply one reports SBX_MSG_FATAL and the run is refused.  Layers are
 *     only left out when the kernel lacks them (or the caller's skip_layers
 *     asks), and then the result's notice says which and why.
 *  2. Without any filesystem confinement (no mount namespace and no
 *     Landlock) nothing runs unless allow_unsandboxed, a human's flag; with
 *     it the run has only rlimits, the timeout and the output caps, and the
 *     notice says so.
 *  3. When namespaces fail at run time (clone refused, or mounts refused as
 *     under Ubuntu's AppArmor userns restriction) the failure is remembered
 *     for the life of the process and the run is retried without them.
 *  4. Output beyond out_cap is read and counted but not kept, so a chatty
 *     command never blocks on a full pipe and never grows memory.  Every
 *     chunk read, kept or not, goes to the policy's on_output first, so a
 *     caller can stream it (an install's progress) and see all of it.
 *  5. On timeout the whole tree dies: SIGKILL to init tears down the pid
 *     namespace; without one, init is asked to kill its descendants and
 *     gets SIGKILL itself if it has not finished within a second. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools_int.h"

#define SBX_DEFAULT_TIMEOUT_MS 600000ull
#define SBX_DEFAULT_MEMORY (4ull << 30)
#define SBX_DEFAULT_NPROC 256ull
#define SBX_DEFAULT_FSIZE (1ull << 30)
#define SBX_DEFAULT_NOFILE 256ull
#define SBX_DEFAULT_OUT_CAP (1u << 20)
#define SBX_MAX_OUT_CAP (256u << 20)

static atomic_int ns_broken;
static char ns_broken_why[200];

static const char *const layer_names[] = {
	"userns", "mountns", "pidns", "ipcns", "netns", "nnp+caps",
	"landlock-fs", "landlock-net", "landlock-scope", "seccomp", "rlimits",
};

const char *tools_layer_name(unsigned bit)
{
	for (unsigned i = 0; i < sizeof(layer_names) / sizeof(layer_names[0]); i++)
		if (bit == 1u << i)
			return layer_names[i];
	return "?";
}

char *tools_layers_str(unsigned layers, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(layer_names) / sizeof(layer_names[0]); i++) {
		int n;

		if (!(layers & (1u << i)))
			continue;
		n = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", layer_names[i]);
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		snprintf(buf, cap, "none");
	return buf;
}

static void append(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

unsigned tools_sandbox_layers_available(enum tools_net net, char *notice,
					size_t cap)
{
	unsigned l = TOOLS_LAYER_NNP | TOOLS_LAYER_RLIMITS;
	int abi = sbx_landlock_abi();

	if (notice && cap)
		notice[0] = '\0';
	if (!atomic_load(&ns_broken)) {
		l |= TOOLS_LAYER_USERNS | TOOLS_LAYER_MOUNTNS | TOOLS_LAYER_PIDNS |
		     TOOLS_LAYER_IPCNS;
		if (net == TOOLS_NET_NONE)
			l |= TOOLS_LAYER_NETNS;
	} else if (notice) {
		append(notice, cap, "no namespaces (%s); ", ns_broken_why);
	}
	if (abi >= 1)
		l |= TOOLS_LAYER_LANDLOCK_FS;
	else if (notice)
		append(notice, cap, "no Landlock in this kernel; ");
	if (abi >= 4 && net == TOOLS_NET_NONE)
		l |= TOOLS_LAYER_LANDLOCK_NET;
	if (abi >= 6)
		l |= TOOLS_LAYER_LANDLOCK_SCOPE;
	else if (abi >= 1 && notice)
		append(notice, cap, "Landlock ABI %d has no signal/socket scopes; ", abi);
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0)
		l |= TOOLS_LAYER_SECCOMP;
	else if (notice)
		append(notice, cap, "no seccomp; ");
	return l;
}

/* ---- the plan ------------------------------------------------------------ */

static const char *const system_dirs[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
};

/* The /etc a command needs: users, name service, the loader, certificates,
 * time zone, alternatives; no shadow, no ssh, no sudoers. */
static const char *const etc_files[] = {
	"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf",
	"/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/localtime", "/etc/timezone", "/etc/ssl", "/etc/ca-certificates",
	"/etc/alternatives", "/etc/os-release", "/etc/debian_version",
	"/etc/protocols", "/etc/services", "/etc/mime.types", "/etc/shells",
	"/etc/bash.bashrc", "/etc/inputrc", "/etc/profile", "/etc/gitconfig",
	"/etc/magic", "/etc/papersize", "/etc/perl", "/etc/python3",
};

static const char *const dev_nodes[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
};

static struct sbx_mount *plan_add(struct sbx_plan *pl, enum sbx_mount_kind k,
				  const char *src, const char *dst, bool is_dir)
{
	struct sbx_mount *m;

	if (pl->n_mounts >= SBX_MAX_MOUNTS || strlen(src) >= SBX_PATH ||
	    strlen(dst) >= SBX_PATH)
		return NULL;
	m = &pl->mounts[pl->n_mounts++];
	m->kind = k;
	m->is_dir = is_dir;
	strcpy(m->src, src);
	strcpy(m->dst, dst);
	return m;
}

static bool path_under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* realpath of a caller's path, checked: absolute, existing, not the root
 * and not inside /proc, /sys or /dev. */
static int user_path(const char *what, const char *p, char *out, bool *is_dir)
{
	struct stat st;

	if (p == NULL || p[0] != '/')
		return tools_seterr(TOOLS_EINVAL, "%s '%s' must be an absolute path",
				    what, p ? p : "(null)");
	if (realpath(p, out) == NULL)
		return tools_seterr(TOOLS_EINVAL, "%s '%s': %s", what, p, strerror(errno));
	if (strlen(out) >= SBX_PATH)
		return tools_seterr(TOOLS_EINVAL, "%s '%s' is too long", what, p);
	if (strcmp(out, "/") == 0 || path_under(out, "/proc") ||
	    path_under(out, "/sys") || path_under(out, "/dev"))
		return tools_seterr(TOOLS_EINVAL, "%s '%s' may not be /, or in /proc, "
				    "/sys or /dev", what, p);
	if (stat(out, &st) < 0)
		return tools_seterr(TOOLS_EINVAL, "%s '%s': %s", what, p, strerror(errno));
	*is_dir = S_ISDIR(st.st_mode);
	return 0;
}

static bool env_name_ok(const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (eq == NULL || eq == kv)
		return false;
	for (const char *c = kv; c < eq; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
		      (c > kv && *c >= '0' && *c <= '9')))
			return false;
	return true;
}

static int plan_env(struct sbx_plan *pl, const struct tools_sandbox_policy *p)
{
	static const char *const pass[] = { "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ" };
	const char *vars[TOOLS_SANDBOX_MAX_ENV + 16];
	char fixed[3][SBX_PATH + 16];
	size_t n = 0, used = 0, ne = 0;

	snprintf(fixed[0], sizeof(fixed[0]), "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
	snprintf(fixed[1], sizeof(fixed[1]), "HOME=%s", pl->workspace);
	snprintf(fixed[2], sizeof(fixed[2]), "TMPDIR=%s", pl->use_ns ? "/tmp" : pl->workspace);
	for (int i = 0; i < 3; i++)
		vars[n++] = fixed[i];
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *v = getenv(pass[i]);
		static _Thread_local char kv[5][256];

		if (v && strlen(v) < 200) {
			snprintf(kv[i], sizeof(kv[i]), "%s=%s", pass[i], v);
			vars[n++] = kv[i];
		}
	}
	if (p->n_env > TOOLS_SANDBOX_MAX_ENV)
		return tools_seterr(TOOLS_EINVAL, "at most %d environment variables",
				    TOOLS_SANDBOX_MAX_ENV);
	for (size_t i = 0; i < p->n_env; i++) {
		if (p->env[i] == NULL || !env_name_ok(p->env[i]))
			return tools_seterr(TOOLS_EINVAL, "environment entry '%s' is not "
					    "NAME=value", p->env[i] ? p->env[i] : "(null)");
		vars[n++] = p->env[i];
	}
	/* later entries win: keep the last of each name */
	for (size_t i = 0; i < n; i++) {
		size_t nl = (size_t)(strchr(vars[i], '=') - vars[i]);
		bool later = false;
		size_t len = strlen(vars[i]) + 1;

		for (size_t j = i + 1; j < n && !later; j++)
			later = strncmp(vars[j], vars[i], nl + 1) == 0;
		if (later)
			continue;
		if (used + len > sizeof(pl->envbuf))
			return tools_seterr(TOOLS_EINVAL, "the environment exceeds %d bytes",
					    SBX_ENV_BYTES);
		memcpy(pl->envbuf + used, vars[i], len);
		pl->envp[ne++] = pl->envbuf + used;
		used += len;
	}
	pl->envp[ne] = NULL;
	return 0;
}

static int cmp_user_mount(const void *a, const void *b)
{
	const struct sbx_mount *x = a, *y = b;
	size_t lx = strlen(x->dst), ly = strlen(y->dst);

	return lx < ly ? -1 : lx > ly;
}

static int plan_mounts(struct sbx_plan *pl, const struct tools_sandbox_policy *p)
{
	char real[PATH_MAX], link[SBX_PATH];
	struct stat st;
	bool is_dir;
	size_t user_start;
	int rc;

	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
		if (lstat(system_dirs[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(system_dirs[i], link, sizeof(link) - 1);

			if (n <= 0)
				continue;
			link[n] = '\0';
			plan_add(pl, SBX_M_SYMLINK, link, system_dirs[i], false);
		} else if (S_ISDIR(st.st_mode)) {
			plan_add(pl, SBX_M_RO, system_dirs[i], system_dirs[i], true);
		}
	}
	for (size_t i = 0; i < sizeof(etc_files) / sizeof(etc_files[0]); i++)
		if (stat(etc_files[i], &st) == 0)
			plan_add(pl, SBX_M_RO, etc_files[i], etc_files[i], S_ISDIR(st.st_mode));
	plan_add(pl, SBX_M_DEVFS, "tmpfs", "/dev", true);
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++)
		if (stat(dev_nodes[i], &st) == 0 && S_ISCHR(st.st_mode))
			plan_add(pl, SBX_M_DEV, dev_nodes[i], dev_nodes[i], false);
	plan_add(pl, SBX_M_SYMLINK, "/proc/self/fd", "/dev/fd", false);
	plan_add(pl, SBX_M_SYMLINK, "/proc/self/fd/0", "/dev/stdin", false);
	plan_add(pl, SBX_M_SYMLINK, "/proc/self/fd/1", "/dev/stdout", false);
	plan_add(pl, SBX_M_SYMLINK, "/proc/self/fd/2", "/dev/stderr", false);
	plan_add(pl, SBX_M_TMPFS, "tmpfs", "/dev/shm", true);
	plan_add(pl, SBX_M_PROC, "proc", "/proc", true);
	plan_add(pl, SBX_M_TMPFS, "tmpfs", "/tmp", true);

	/* the caller's paths, parents before children so nesting works */
	user_start = pl->n_mounts;
	rc = user_path("workspace", p->workspace, real, &is_dir);
	if (rc < 0)
		return rc;
	if (!is_dir)
		return tools_seterr(TOOLS_EINVAL, "workspace '%s' is not a directory",
				    p->workspace);
	strcpy(pl->workspace, real);
	plan_add(pl, SBX_M_RW, real, real, true);
	if (p->n_ro > TOOLS_SANDBOX_MAX_PATHS || p->n_rw > TOOLS_SANDBOX_MAX_PATHS)
		return tools_seterr(TOOLS_EINVAL, "at most %d extra paths of each kind",
				    TOOLS_SANDBOX_MAX_PATHS);
	for (size_t i = 0; i < p->n_ro; i++) {
		if ((rc = user_path("read-only path", p->ro[i], real, &is_dir)) < 0)
			return rc;
		if (!plan_add(pl, SBX_M_RO, real, real, is_dir))
			return tools_seterr(TOOLS_EINVAL, "too many paths");
	}
	for (size_t i = 0; i < p->n_rw; i++) {
		if ((rc = user_path("read-write path", p->rw[i], real, &is_dir)) < 0)
			return rc;
		if (!plan_add(pl, SBX_M_RW, real, real, is_dir))
			return tools_seterr(TOOLS_EINVAL, "too many paths");
	}
	qsort(pl->mounts + user_start, pl->n_mounts - user_start,
	      sizeof(pl->mounts[0]), cmp_user_mount);
	return 0;
}

static int plan_build(struct sbx_plan *pl, const struct tools_sandbox_policy *p,
		      const char *const *argv, unsigned layers)
{
	int rc;

	pl->layers = layers;
	pl->use_ns = (layers & TOOLS_LAYER_MOUNTNS) != 0;
	pl->landlock_abi = (layers & TOOLS_LAYER_LANDLOCK_FS) ? sbx_landlock_abi() : 0;
	pl->uid = getuid();
	pl->gid = getgid();
	pl->as_root = geteuid() == 0;
	pl->announce = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
	pl->net = p->network;
	pl->memory = p->memory ? p->memory : SBX_DEFAULT_MEMORY;
	pl->nproc = p->nproc ? p->nproc : SBX_DEFAULT_NPROC;
	pl->fsize = p->fsize ? p->fsize : SBX_DEFAULT_FSIZE;
	pl->nofile = p->nofile ? p->nofile : SBX_DEFAULT_NOFILE;
	pl->cpu_s = p->cpu_s ? p->cpu_s :
		((p->timeout_ms ? p->timeout_ms : SBX_DEFAULT_TIMEOUT_MS) + 999) / 1000;
	pl->tmp_size = pl->memory < (1ull << 30) ? pl->memory : (1ull << 30);
	pl->argv = (char *const *)argv;
	if ((rc = plan_mounts(pl, p)) < 0)
		return rc;
	if ((rc = plan_env(pl, p)) < 0)
		return rc;
	if ((layers & TOOLS_LAYER_SECCOMP) && (rc = sbx_seccomp_build(pl)) < 0)
		return rc;
	return 0;
}

/* ---- running -------------------------------------------------------------- */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int write_maps(pid_t pid, uid_t uid, gid_t gid)
{
	char path[64], map[64];
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	if ((rc = write_file(path, "deny")) < 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
	if ((rc = write_file(path, map)) < 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
	return write_file(path, map);
}

struct sbx_capture {
	char *buf;
	size_t len, cap;
	uint64_t total;
	bool eof;
	int stream;     /* 1 stdout, 2 stderr: for on_output */
};

/* Design note 4. */
static void capture_read(int fd, struct sbx_capture *c,
			 const struct tools_sandbox_policy *p)
{
	char tmp[65536];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		c->eof = true;
		return;
	}
	if (p->on_output)
		p->on_output(p->on_output_ud, c->stream, tmp, (size_t)n);
	c->total += (uint64_t)n;
	if (c->len < c->cap) {
		size_t k = (size_t)n < c->cap - c->len ? (size_t)n : c->cap - c->len;

		memcpy(c->buf + c->len, tmp, k);
		c->len += k;
	}
}

enum run_outcome { RUN_OK, RUN_NSFAIL, RUN_FATAL };

struct sbx_run {
	int ctl[2], msg[2], out[2], err[2];
};

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

static void close_child_ends(struct sbx_run *io)
{
	int *ends[] = { &io->ctl[0], &io->msg[1], &io->out[1], &io->err[1] };

	for (size_t i = 0; i < 4; i++)
		if (*ends[i] >= 0) {
			close(*ends[i]);
			*ends[i] = -1;
		}
}

/* One attempt.  Fills r (output, status) and returns an outcome; on
 * RUN_FATAL/RUN_NSFAIL the reason is in why. */
static enum run_outcome run_plan(struct sbx_plan *pl, const struct tools_sandbox_policy *p,
				 struct tools_exec_result *r, char *why, size_t whycap)
{
	struct sbx_run io = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
	struct sbx_capture out = { .stream = 1 }, err = { .stream = 2 };
	uint64_t timeout_ms = p->timeout_ms ? p->timeout_ms : SBX_DEFAULT_TIMEOUT_MS;
	int64_t start = now_us(), deadline, grace = 0, kill_at = 0;
	enum run_outcome oc = RUN_OK;
	bool reaped = false, msg_eof = false, got_status = false;
	int wst = 0, cmd_status = 0, pidfd = -1;
	pid_t pid = -1;

	why[0] = '\0';
	out.cap = err.cap = p->out_cap ? p->out_cap : SBX_DEFAULT_OUT_CAP;
	if (out.cap > SBX_MAX_OUT_CAP)
		out.cap = err.cap = SBX_MAX_OUT_CAP;
	out.buf = malloc(out.cap + 1);
	err.buf = malloc(err.cap + 256);
	if (out.buf == NULL || err.buf == NULL) {
		snprintf(why, whycap, "out of memory");
		oc = RUN_FATAL;
		goto out;
	}
	if (pipe2(io.ctl, O_CLOEXEC) < 0 || pipe2(io.msg, O_CLOEXEC) < 0 ||
	    pipe2(io.out, O_CLOEXEC) < 0 || pipe2(io.err, O_CLOEXEC) < 0) {
		snprintf(why, whycap, "pipe: %s", strerror(errno));
		oc = RUN_FATAL;
		goto out;
	}
	pl->ctl_rd = io.ctl[0];
	pl->msg_wr = io.msg[1];
	pl->out_wr = io.out[1];
	pl->err_wr = io.err[1];
	pl->parent_fds[0] = io.ctl[1];
	pl->parent_fds[1] = io.msg[0];
	pl->parent_fds[2] = io.out[0];
	pl->parent_fds[3] = io.err[0];

	if (pl->use_ns) {
		unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID |
				      CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;

		if (pl->layers & TOOLS_LAYER_NETNS)
			flags |= CLONE_NEWNET;
		/* a fork-like clone: the child runs on a copy of this stack */
		pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
		if (pid == 0)
			sbx_child_main(pl);
		if (pid < 0) {
			snprintf(why, whycap, "clone with new namespaces: %s", strerror(errno));
			oc = RUN_NSFAIL;
			goto out;
		}
		int mrc = 0;

		close_child_ends(&io); /* so a dead init reads as EOF */
		if (pl->announce) {
			struct sbx_msg m;

			if (read(io.msg[0], &m, sizeof(m)) != (ssize_t)sizeof(m) ||
			    m.kind != SBX_MSG_READY)
				mrc = -EPROTO;
		}
		if (mrc == 0)
			mrc = write_maps(pid, pl->uid, pl->gid);

		if (mrc < 0) {
			snprintf(why, whycap, "writing the uid/gid maps: %s", strerror(-mrc));
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			pid = -1;
			oc = RUN_NSFAIL;
			goto out;
		}
	} else {
		pid = fork();
		if (pid == 0)
			sbx_child_main(pl);
		if (pid < 0) {
			snprintf(why, whycap, "fork: %s", strerror(errno));
			oc = RUN_FATAL;
			goto out;
		}
	}
	close_child_ends(&io);
	if (write(io.ctl[1], "g", 1) != 1) {
		/* init died already; its status tells */
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	deadline = start + (int64_t)timeout_ms * 1000;

	while (!(reaped && out.eof && err.eof && msg_eof)) {
		struct pollfd pf[4];
		int nf = 0, ms;
		int64_t now = now_us(), until = deadline;

		if (reaped && grace)
			until = grace;
		if (kill_at && !reaped)
			until = kill_at;
		if (now >= until) {
			if (reaped)
				break; /* something outside the tree holds a pipe */
			if (!r->timed_out) {
				r->timed_out = true;
				if (pl->use_ns) {
					kill(pid, SIGKILL);
				} else {
					/* invariant 5 of sandbox_ns.c: init kills the tree */
					close(io.ctl[1]);
					io.ctl[1] = -1;
					kill_at = now + 1000000;
				}
				deadline = now + 10000000; /* for the kill to take */
			} else if (kill_at) {
				kill(pid, SIGKILL);
				kill_at = 0;
			} else {
				break; /* reaped below, blocking */
			}
			continue;
		}
		ms = (int)((until - now + 999) / 1000);
		if (!out.eof)
			pf[nf++] = (struct pollfd){ .fd = io.out[0], .events = POLLIN };
		if (!err.eof)
			pf[nf++] = (struct pollfd){ .fd = io.err[0], .events = POLLIN };
		if (!msg_eof)
			pf[nf++] = (struct pollfd){ .fd = io.msg[0], .events = POLLIN };
		if (!reaped)
			pf[nf++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (poll(pf, (nfds_t)nf, ms) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < nf; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == io.out[0]) {
				capture_read(io.out[0], &out, p);
			} else if (pf[i].fd == io.err[0]) {
				capture_read(io.err[0], &err, p);
			} else if (pf[i].fd == io.msg[0]) {
				struct sbx_msg m;
				ssize_t n = read(io.msg[0], &m, sizeof(m));

				if (n <= 0) {
					msg_eof = n == 0 || errno != EINTR;
					continue;
				}
				if (n != (ssize_t)sizeof(m))
					continue;
				m.text[sizeof(m.text) - 1] = '\0';
				if (m.kind == SBX_MSG_STATUS) {
					got_status = true;
					cmd_status = m.value;
				} else if (m.kind == SBX_MSG_NSFAIL) {
					oc = RUN_NSFAIL;
					snprintf(why, whycap, "%s", m.text);
				} else if (m.kind == SBX_MSG_FATAL) {
					oc = RUN_FATAL;
					snprintf(why, whycap, "%s", m.text);
				} else if (m.kind == SBX_MSG_EXEC) {
					int k = snprintf(err.buf + err.len, 250,
							 "halo-agent: sandbox: %s\n", m.text);

					if (k > 0 && p->on_output)
						p->on_output(p->on_output_ud, 2, err.buf + err.len,
							     (size_t)(k < 250 ? k : 249));
					if (k > 0)
						err.len += (size_t)(k < 250 ? k : 249);
				}
			} else if (pf[i].fd == pidfd) {
				if (waitpid(pid, &wst, WNOHANG) == pid) {
					reaped = true;
					grace = now_us() + 500000;
				}
			}
		}
	}
	if (!reaped && pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &wst, 0);
	}
	r->duration_us = now_us() - start;
	if (got_status && cmd_status >= 0) {
		if (WIFEXITED(cmd_status)) {
			r->exit_code = WEXITSTATUS(cmd_status);
		} else if (WIFSIGNALED(cmd_status)) {
			r->exit_code = -1;
			r->signal = WTERMSIG(cmd_status);
		}
	} else {
		r->exit_code = -1;
		r->signal = r->timed_out ? SIGKILL :
			(WIFSIGNALED(wst) ? WTERMSIG(wst) : 0);
		if (!r->timed_out && WIFEXITED(wst) && oc == RUN_OK)
			r->exit_code = WEXITSTATUS(wst);
	}
out:
	if (pidfd >= 0)
		close(pidfd);
	close_pair(io.ctl);
	close_pair(io.msg);
	close_pair(io.out);
	close_pair(io.err);
	if (oc == RUN_OK && out.buf && err.buf) {
		out.buf[out.len] = '\0';
		err.buf[err.len] = '\0';
		r->out = out.buf;
		r->err = err.buf;
		r->out_len = out.len;
		r->err_len = err.len;
		r->out_total = out.total;
		r->err_total = err.total;
		r->out_truncated = out.total > out.len;
		r->err_truncated = err.total > out.cap;
	} else {
		free(out.buf);
		free(err.buf);
	}
	return oc;
}

int tools_sandbox_exec(struct tools_exec_result *out,
		       const struct tools_sandbox_policy *p,
		       const char *const *argv)
{
	struct sbx_plan *pl = NULL;
	unsigned layers;
	char why[240];
	int rc;

	memset(out, 0, sizeof(*out));
	if (p == NULL || p->version != TOOLS_SANDBOX_POLICY_VERSION)
		return tools_seterr(TOOLS_EINVAL, "sandbox policy of an unknown version");
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return tools_seterr(TOOLS_EINVAL, "no command to run");
	if (p->network != TOOLS_NET_NONE && p->network != TOOLS_NET_HOST)
		return tools_seterr(TOOLS_EINVAL, "network must be none or host");
again:
	layers = tools_sandbox_layers_available(p->network, out->notice,
						sizeof(out->notice));
	if (p->skip_layers & layers) {
		char names[200];

		append(out->notice, sizeof(out->notice), "layers skipped by request: %s; ",
		       tools_layers_str(p->skip_layers & layers, names, sizeof(names)));
		layers &= ~p->skip_layers;
	}
	/* without a user namespace none of the other namespaces can be made */
	if (!(layers & TOOLS_LAYER_USERNS) || !(layers & TOOLS_LAYER_MOUNTNS))
		layers &= ~TOOLS_LAYER_NAMESPACES;
	if (p->allow_unsandboxed) {
		/* design note 2 */
		layers &= TOOLS_LAYER_RLIMITS;
		snprintf(out->notice, sizeof(out->notice),
			 "UNSANDBOXED: the sandbox was lifted by --allow-unsandboxed");
	} else if (!(layers & (TOOLS_LAYER_MOUNTNS | TOOLS_LAYER_LANDLOCK_FS))) {
		rc = tools_seterr(TOOLS_ENOSANDBOX, "refusing to run unsandboxed: %s"
				  "no filesystem confinement is available (a human may "
				  "pass --allow-unsandboxed)", out->notice);
		goto out;
	}
	free(pl);
	pl = calloc(1, sizeof(*pl));
	if (pl == NULL) {
		rc = tools_seterr(TOOLS_EIO, "out of memory");
		goto out;
	}
	if ((rc = plan_build(pl, p, argv, layers)) < 0)
		goto out;
	switch (run_plan(pl, p, out, why, sizeof(why))) {
	case RUN_OK:
		out->layers = layers;
		out->landlock_abi = pl->landlock_abi;
		if (out->notice[0]) {
			size_t n = strlen(out->notice);

			while (n && (out->notice[n - 1] == ' ' || out->notice[n - 1] == ';'))
				out->notice[--n] = '\0';
		}
		rc = 0;
		break;
	case RUN_NSFAIL:
		/* design note 3 */
		snprintf(ns_broken_why, sizeof(ns_broken_why), "%s", why);
		atomic_store(&ns_broken, 1);
		tools_exec_result_clear(out);
		goto again;
	case RUN_FATAL:
	default:
		tools_exec_result_clear(out);
		rc = tools_seterr(TOOLS_EIO, "sandbox: %s", why);
		break;
	}
out:
	free(pl);
	return rc;
}

void tools_exec_result_clear(struct tools_exec_result *r)
{
	if (r == NULL)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

char *tools_sandbox_policy_json(const struct tools_sandbox_policy *p,
				const struct tools_exec_result *r)
{
	json_t *o = json_object(), *a;
	char names[256], *s;

	json_object_set_new(o, "workspace", json_string(p->workspace ? p->workspace : ""));
	json_object_set_new(o, "network", json_string(p->network == TOOLS_NET_HOST ?
						      "host" : "none"));
	a = json_array();
	for (size_t i = 0; i < p->n_ro && i < TOOLS_SANDBOX_MAX_PATHS; i++)
		json_array_append_new(a, json_string(p->ro[i]));
	json_object_set_new(o, "ro", a);
	a = json_array();
	for (size_t i = 0; i < p->n_rw && i < TOOLS_SANDBOX_MAX_PATHS; i++)
		json_array_append_new(a, json_string(p->rw[i]));
	json_object_set_new(o, "rw", a);
	json_object_set_new(o, "timeout_ms", json_integer((json_int_t)(p->timeout_ms ?
		p->timeout_ms : SBX_DEFAULT_TIMEOUT_MS)));
	json_object_set_new(o, "memory", json_integer((json_int_t)(p->memory ?
		p->memory : SBX_DEFAULT_MEMORY)));
	json_object_set_new(o, "nproc", json_integer((json_int_t)(p->nproc ?
		p->nproc : SBX_DEFAULT_NPROC)));
	json_object_set_new(o, "allow_unsandboxed", json_boolean(p->allow_unsandboxed));
	if (r) {
		json_object_set_new(o, "layers", json_string(tools_layers_str(r->layers,
			names, sizeof(names))));
		json_object_set_new(o, "landlock_abi", json_integer(r->landlock_abi));
		if (r->notice[0])
			json_object_set_new(o, "notice", json_string(r->notice));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}
