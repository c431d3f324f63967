/* test_escape.c - the sandbox escape battery: each test is one attempt to
 * get out, names the layer that stops it, and where a second layer also
 * holds, runs the attempt again with the first one skipped to show it.
 * After every attempt no process of it may be left (checked by a nonce in
 * the environment of everything the sandbox starts).
 *
 * The whole battery runs as the calling user and, when that is root, again
 * in a child that dropped to uid/gid 65534: root in a user namespace keeps
 * privileges a normal user does not have (RLIMIT_NPROC does not bind it,
 * it owns root's files), so both must hold. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tools.h"

static char helper_dir[PATH_MAX], helper[PATH_MAX + 32];
static char suid_dir[PATH_MAX], suid_helper[PATH_MAX + 32];
static char nonce_env[96];
static char *ws, *outside, *secret_path, *home_key;
static volatile sig_atomic_t sigurg_count;
static const char *who = "caller";

#define SECRET "halo-secret-7f3a9c"

static void on_sigurg(int sig)
{
	(void)sig;
	sigurg_count++;
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state)
{
	char home[PATH_MAX];

	(void)state;
	ws = tu_mkdtemp("ws");
	outside = tu_mkdtemp("out");
	chmod(outside, 0755);
	if (asprintf(&secret_path, "%s/secret", outside) < 0)
		return -1;
	tu_write_file(secret_path, SECRET "\n", strlen(SECRET) + 1);
	snprintf(home, sizeof(home), "%s/home", outside);
	mkdir(home, 0755);
	strncat(home, "/.ssh", sizeof(home) - strlen(home) - 1);
	mkdir(home, 0700);
	if (asprintf(&home_key, "%s/id_ed25519", home) < 0)
		return -1;
	tu_write_file(home_key, SECRET "-key\n", strlen(SECRET) + 5);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(ws);
	tu_rmtree(outside);
	free(ws);
	free(outside);
	free(secret_path);
	free(home_key);
	return 0;
}

static void policy(struct tools_sandbox_policy *p)
{
	*p = (struct tools_sandbox_policy)TOOLS_SANDBOX_POLICY_INIT;
	p->workspace = ws;
	p->ro[p->n_ro++] = helper_dir;
	p->env[p->n_env++] = nonce_env;
	p->timeout_ms = 20000;
}

/* Nothing started by a run may be alive after it (invariant 4/5 of
 * sandbox_ns.c): no process has our nonce in its environment. */
static void assert_no_strays(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char path[300], buf[8192];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		ssize_t n;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/environ", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = '\n';
		buf[n] = '\0';
		if (strstr(buf, nonce_env)) {
			closedir(d);
			fail_msg("process %s of a finished run is still alive", e->d_name);
		}
	}
	closedir(d);
}

static void run(struct tools_exec_result *r, struct tools_sandbox_policy *p,
		const char *const *argv)
{
	int rc = tools_sandbox_exec(r, p, argv);

	if (rc < 0)
		fail_msg("sandbox refused: %s", tools_errmsg());
	if (r->exit_code == 99)
		fail_msg("ESCAPED (%s): %s %s", argv[1], r->out, r->err);
	assert_no_strays();
}

static void stopped(const char *attempt, const char *layer, const char *seen)
{
	char s[160];

	snprintf(s, sizeof(s), "%s", seen ? seen : "");
	s[strcspn(s, "\n")] = '\0';
	print_message("    [%s] %-34s stopped by %-22s (%s)\n", who, attempt, layer, s);
}

#define SH(...) ((const char *const[]){ "/bin/sh", "-c", __VA_ARGS__, NULL })
#define HELPER(...) ((const char *const[]){ helper, __VA_ARGS__, NULL })

/* ---- the file system ----------------------------------------------------- */

static void test_write_outside_workspace(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char cmd[PATH_MAX * 2], pwned[PATH_MAX + 16];
	(void)state;

	snprintf(pwned, sizeof(pwned), "%s/pwned", outside);
	snprintf(cmd, sizeof(cmd), "echo x > %s", pwned);
	policy(&p);
	run(&r, &p, SH(cmd));
	assert_int_not_equal(r.exit_code, 0);
	assert_int_equal(access(pwned, F_OK), -1);
	assert_true(r.layers & TOOLS_LAYER_MOUNTNS);
	stopped("write outside the workspace", "mountns (not there)", r.err);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH(cmd));
	assert_int_not_equal(r.exit_code, 0);
	assert_int_equal(access(pwned, F_OK), -1);
	stopped("  same, without namespaces", "landlock-fs", r.err);
	tools_exec_result_clear(&r);
}

static void test_write_system_dir(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	run(&r, &p, SH("echo x > /usr/halo-pwned; echo y > /etc/halo-pwned"));
	assert_int_not_equal(r.exit_code, 0);
	assert_int_equal(access("/usr/halo-pwned", F_OK), -1);
	assert_int_equal(access("/etc/halo-pwned", F_OK), -1);
	assert_non_null(strstr(r.err, "Read-only file system"));
	stopped("write /usr and /etc", "mountns (read-only)", r.err);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH("echo x > /usr/halo-pwned"));
	assert_int_not_equal(r.exit_code, 0);
	assert_int_equal(access("/usr/halo-pwned", F_OK), -1);
	stopped("  same, without namespaces", "landlock-fs", r.err);
	tools_exec_result_clear(&r);
}

static void test_read_home_key(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char cmd[PATH_MAX * 2];
	(void)state;

	snprintf(cmd, sizeof(cmd), "cat %s; ls -a %s/home; cat ~/.ssh/id_ed25519", home_key,
		 outside);
	policy(&p);
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	assert_non_null(strstr(r.err, "No such file"));
	stopped("read a key in the home dir", "mountns (not there)", r.err);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	assert_non_null(strstr(r.err, "Permission denied"));
	stopped("  same, without namespaces", "landlock-fs", r.err);
	tools_exec_result_clear(&r);
}

static void test_read_etc_shadow(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	run(&r, &p, SH("cat /etc/shadow; ls /etc/ssh /root"));
	assert_int_not_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	stopped("read /etc/shadow, /etc/ssh, /root", "mountns (minimal /etc)", r.err);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH("cat /etc/shadow"));
	assert_int_not_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	stopped("  same, without namespaces", "landlock-fs", r.err);
	tools_exec_result_clear(&r);
}

static void test_proc_1_root(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char cmd[PATH_MAX * 2];
	(void)state;

	snprintf(cmd, sizeof(cmd), "cat /proc/1/root%s; cat /proc/self/root%s", secret_path,
		 secret_path);
	policy(&p);
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	stopped("/proc/1/root and /proc/self/root", "pidns + fresh /proc", r.err);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	stopped("  same, without namespaces", "landlock-fs", r.err);
	tools_exec_result_clear(&r);
}

static void test_proc_self_cwd(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char cmd[PATH_MAX * 2], *o = strdup(outside);
	(void)state;

	snprintf(cmd, sizeof(cmd), "cat /proc/self/cwd/../%s/secret; "
		 "cd /proc/self/cwd/../../.. && cat .%s", basename(o), secret_path);
	free(o);
	policy(&p);
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	stopped("/proc/self/cwd/.. walk", "mountns (not there)", r.err);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	stopped("  same, without namespaces", "landlock-fs", r.err);
	tools_exec_result_clear(&r);
}

static void test_shell_symlink(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char cmd[PATH_MAX * 3];
	(void)state;

	snprintf(cmd, sizeof(cmd), "ln -s %s link && cat link; ln -s %s dlink && "
		 "echo x > dlink/pwned", secret_path, outside);
	policy(&p);
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	assert_int_not_equal(r.exit_code, 0);
	stopped("symlink out, from the shell", "mountns (target absent)", r.err);
	tools_exec_result_clear(&r);
	unlink("link");

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	tu_rmtree(ws);
	mkdir(ws, 0700);
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	stopped("  same, without namespaces", "landlock-fs", r.err);
	tools_exec_result_clear(&r);
}

static void test_shell_hardlink(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char cmd[PATH_MAX * 2];
	(void)state;

	snprintf(cmd, sizeof(cmd), "ln %s hl && cat hl", secret_path);
	policy(&p);
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	assert_int_not_equal(r.exit_code, 0);
	stopped("hard link out, from the shell", "mountns (source absent)", r.err);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH(cmd));
	assert_null(strstr(r.out, SECRET));
	assert_int_not_equal(r.exit_code, 0);
	stopped("  same, without namespaces", "landlock-fs (refer)", r.err);
	tools_exec_result_clear(&r);
}

/* ---- the file tools ---------------------------------------------------------- */

static struct tools_ctx *file_ctx(void)
{
	struct tools_ctx_opts o = TOOLS_CTX_OPTS_INIT;
	struct tools_ctx *c = NULL;

	o.policy.workspace = ws;
	o.approval = TOOLS_APPROVAL_AUTO;
	assert_int_equal(tools_ctx_open(&c, &o), 0);
	return c;
}

/* Call a tool that must be refused with `want`; the secret must not show. */
static void tool_refused(struct tools_ctx *c, const char *tool, const char *args,
			 int want, const char *attempt)
{
	struct tools_result r;
	int rc = tools_call(c, tool, args, &r);

	if (rc != want)
		fail_msg("%s %s: got %d (%s), want %d", tool, args, rc, r.text, want);
	assert_null(strstr(r.text, SECRET));
	stopped(attempt, "fsguard (openat2)", r.text);
	tools_result_clear(&r);
}

static void secret_intact(void)
{
	size_t len;
	char *s = tu_read_file(secret_path, &len);

	assert_non_null(s);
	assert_string_equal(s, SECRET "\n");
	free(s);
}

static void test_tool_dotdot(void **state)
{
	struct tools_ctx *c = file_ctx();
	char args[PATH_MAX * 2], *o = strdup(outside);
	(void)state;

	snprintf(args, sizeof(args), "{\"path\": \"../%s/secret\"}", basename(o));
	tool_refused(c, "read_file", args, TOOLS_EDENIED, "read_file ../ out");
	snprintf(args, sizeof(args), "%s/a", ws);
	mkdir(args, 0755);
	snprintf(args, sizeof(args), "{\"path\": \"a/../../%s/x\", \"content\": \"x\"}",
		 basename(o));
	tool_refused(c, "write_file", args, TOOLS_EDENIED, "write_file a/../../ out");
	free(o);
	snprintf(args, sizeof(args), "{\"path\": \"%s\"}", secret_path);
	tool_refused(c, "read_file", args, TOOLS_EDENIED, "read_file absolute path");
	tool_refused(c, "list_dir", "{\"path\": \"..\"}", TOOLS_EDENIED, "list_dir ..");
	tools_ctx_close(c);
}

static void test_tool_symlink(void **state)
{
	struct tools_ctx *c = file_ctx();
	char link[PATH_MAX + 16];
	struct tools_result r;
	(void)state;

	snprintf(link, sizeof(link), "%s/evil", ws);
	assert_int_equal(symlink(secret_path, link), 0);
	snprintf(link, sizeof(link), "%s/d", ws);
	assert_int_equal(symlink(outside, link), 0);
	snprintf(link, sizeof(link), "%s/rel", ws);
	assert_int_equal(symlink("../../../../../../../../../etc/passwd", link), 0);
	tool_refused(c, "read_file", "{\"path\": \"evil\"}", TOOLS_EDENIED,
		     "read_file via symlink to a file");
	tool_refused(c, "read_file", "{\"path\": \"d/secret\"}", TOOLS_EDENIED,
		     "read_file via symlinked dir");
	tool_refused(c, "write_file", "{\"path\": \"d/new\", \"content\": \"x\"}",
		     TOOLS_EDENIED, "write_file via symlinked dir");
	tool_refused(c, "read_file", "{\"path\": \"rel\"}", TOOLS_EDENIED,
		     "read_file via relative ../ link");
	/* writing "evil" replaces the link; the file outside stays as it was */
	assert_int_equal(tools_call(c, "write_file", "{\"path\": \"evil\", \"content\": \"mine\"}",
				    &r), 0);
	tools_result_clear(&r);
	secret_intact();
	snprintf(link, sizeof(link), "%s/d/new", outside);
	assert_int_equal(access(link, F_OK), -1);
	tools_ctx_close(c);
}

static void test_tool_hardlink(void **state)
{
	struct tools_ctx *c = file_ctx();
	char hl[PATH_MAX + 16];
	(void)state;

	snprintf(hl, sizeof(hl), "%s/hl", ws);
	if (link(secret_path, hl) < 0)
		skip(); /* protected_hardlinks for a file we do not own */
	tool_refused(c, "read_file", "{\"path\": \"hl\"}", TOOLS_EDENIED,
		     "read_file of a hard link");
	tool_refused(c, "write_file", "{\"path\": \"hl\", \"content\": \"x\"}", TOOLS_EDENIED,
		     "write_file of a hard link");
	tool_refused(c, "edit_file", "{\"path\": \"hl\", \"old_string\": \"halo\", "
		     "\"new_string\": \"x\"}", TOOLS_EDENIED, "edit_file of a hard link");
	secret_intact();
	tools_ctx_close(c);
}

static void test_tool_proc_magiclink(void **state)
{
	struct tools_ctx *c = file_ctx();
	char link[PATH_MAX + 16];
	(void)state;

	snprintf(link, sizeof(link), "%s/p", ws);
	assert_int_equal(symlink("/proc/self/root", link), 0);
	tool_refused(c, "read_file", "{\"path\": \"p/etc/passwd\"}", TOOLS_EDENIED,
		     "read_file via /proc/self/root");
	tool_refused(c, "read_file", "{\"path\": \"/proc/self/environ\"}", TOOLS_EDENIED,
		     "read_file /proc/self/environ");
	tools_ctx_close(c);
}

/* ---- network and IPC ------------------------------------------------------------ */

static void test_tcp_loopback(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char port[16];
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	(void)state;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));

	policy(&p);
	run(&r, &p, HELPER("tcp", port));
	assert_non_null(strstr(r.out, "Operation not permitted"));
	stopped("connect 127.0.0.1 listener", "seccomp (socket)", r.out);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_SECCOMP | TOOLS_LAYER_LANDLOCK;
	run(&r, &p, HELPER("tcp", port));
	assert_null(strstr(r.out, "SUCCEEDED"));
	stopped("  same, without seccomp, landlock", "netns (own loopback)", r.out);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_SECCOMP | TOOLS_LAYER_NAMESPACES;
	run(&r, &p, HELPER("tcp", port));
	assert_non_null(strstr(r.out, "Permission denied"));
	stopped("  same, without seccomp, namespaces", "landlock-net", r.out);
	tools_exec_result_clear(&r);
	assert_int_equal(accept(s, NULL, NULL), -1); /* nobody got through */
	close(s);
}

static void test_abstract_unix(void **state)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char name[64];
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	(void)state;

	snprintf(name, sizeof(name), "halo-escape-%d", (int)getpid());
	memcpy(a.sun_path + 1, name, strlen(name));
	assert_int_equal(bind(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un,
			 sun_path) + 1 + strlen(name))), 0);
	assert_int_equal(listen(s, 8), 0);

	policy(&p);
	run(&r, &p, HELPER("abstract", name));
	assert_non_null(strstr(r.out, "Connection refused"));
	stopped("connect host abstract socket", "netns (own namespace)", r.out);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, HELPER("abstract", name));
	assert_non_null(strstr(r.out, "Operation not permitted"));
	stopped("  same, without namespaces", "landlock-scope", r.out);
	tools_exec_result_clear(&r);
	assert_int_equal(accept(s, NULL, NULL), -1);
	close(s);
}

/* ---- processes --------------------------------------------------------------------- */

static void test_ptrace_parent(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char pid[16];
	(void)state;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	policy(&p);
	run(&r, &p, HELPER("ptrace", pid));
	assert_non_null(strstr(r.out, "ptrace(host pid): Operation not permitted"));
	stopped("ptrace the parent", "seccomp", r.out);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_SECCOMP;
	run(&r, &p, HELPER("ptrace", pid));
	stopped("  same, without seccomp", "pidns + landlock", r.out);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_SECCOMP | TOOLS_LAYER_NAMESPACES;
	run(&r, &p, HELPER("ptrace", pid));
	stopped("  same, also without namespaces", "landlock (domain)", r.out);
	tools_exec_result_clear(&r);
}

static void test_signal_parent(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	char pid[16];
	(void)state;

	sigurg_count = 0;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	policy(&p);
	run(&r, &p, HELPER("kill", pid));
	assert_non_null(strstr(r.out, "No such process"));
	stopped("signal the parent", "pidns (not visible)", r.out);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, HELPER("kill", pid));
	assert_non_null(strstr(r.out, "kill(host pid): Operation not permitted"));
	stopped("  same, without namespaces", "landlock-scope", r.out);
	tools_exec_result_clear(&r);
	assert_int_equal(sigurg_count, 0);
}

static void test_fork_bomb(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	p.nproc = 64;
	run(&r, &p, HELPER("forkbomb"));
	assert_non_null(strstr(r.out, "Resource temporarily unavailable"));
	stopped("fork bomb", geteuid() == 0 ? "pid_max of the pidns" : "rlimit NPROC", r.out);
	tools_exec_result_clear(&r);

	run(&r, &p, SH("b() { b | b & }; b; sleep 1"));
	stopped("  shell fork bomb", "limits + pidns teardown", "contained");
	tools_exec_result_clear(&r);
}

static void test_memory_bomb(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	p.memory = 256u << 20;
	run(&r, &p, HELPER("membomb"));
	assert_non_null(strstr(r.out, "Cannot allocate memory"));
	stopped("memory bomb", "rlimit AS", r.out);
	tools_exec_result_clear(&r);
}

static void test_disk_fill(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	struct stat st;
	char fill[PATH_MAX + 16];
	(void)state;

	policy(&p);
	p.fsize = 8u << 20;
	run(&r, &p, HELPER("diskfill"));
	assert_non_null(strstr(r.out, "File too large"));
	snprintf(fill, sizeof(fill), "%s/fill", ws);
	assert_int_equal(stat(fill, &st), 0);
	assert_true(st.st_size <= (off_t)(8u << 20));
	stopped("disk fill", "rlimit FSIZE", r.out);
	tools_exec_result_clear(&r);

	run(&r, &p, SH("head -c 20000000 /dev/zero > big"));
	assert_true(r.signal == SIGXFSZ || r.exit_code == 128 + SIGXFSZ);
	stopped("  same, from the shell", "rlimit FSIZE (SIGXFSZ)", "killed");
	tools_exec_result_clear(&r);
}

static void test_timeout_kills_tree(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	p.timeout_ms = 1000;
	run(&r, &p, SH("sleep 1000 & setsid sleep 1001 & (sleep 1002 &); "
		       "setsid sh -c 'sleep 1003 &'; sleep 1004"));
	assert_true(r.timed_out);
	assert_true(r.duration_us < 5000000);
	stopped("sleep 1000 + setsid grandchildren", "timeout + pidns", "all killed");
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, SH("sleep 1000 & setsid sleep 1001 & (sleep 1002 &); "
		       "setsid sh -c 'sleep 1003 &'; sleep 1004"));
	assert_true(r.timed_out);
	assert_true(r.duration_us < 5000000);
	stopped("  same, without namespaces", "timeout + subreaper", "all killed");
	tools_exec_result_clear(&r);

	/* the command returns at once but leaves a daemon behind */
	p.skip_layers = 0;
	run(&r, &p, SH("setsid sleep 1005 & exit 0"));
	assert_int_equal(r.exit_code, 0);
	stopped("  daemon left behind", "init kills the pidns", "killed");
	tools_exec_result_clear(&r);
}

static void test_setuid_gains_nothing(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	const char *argv[] = { suid_helper, "whoami", NULL };
	char want[64];
	(void)state;

	if (suid_dir[0] == '\0')
		skip();
	policy(&p);
	p.ro[p.n_ro++] = suid_dir;
	run(&r, &p, argv);
	snprintf(want, sizeof(want), "uid=%d euid=%d\n", (int)getuid(), (int)getuid());
	assert_non_null(strstr(r.out, want));
	assert_non_null(strstr(r.out, "CapEff:\t0000000000000000"));
	stopped("setuid-root binary", "nosuid mount + nnp", r.out);
	tools_exec_result_clear(&r);

	p.skip_layers = TOOLS_LAYER_NAMESPACES;
	run(&r, &p, argv);
	assert_non_null(strstr(r.out, want));
	assert_non_null(strstr(r.out, "CapEff:\t0000000000000000"));
	stopped("  same, without namespaces", "no_new_privs", r.out);
	tools_exec_result_clear(&r);
}

static void test_io_uring(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	run(&r, &p, HELPER("io_uring"));
	assert_non_null(strstr(r.out, "Operation not permitted"));
	stopped("io_uring_setup", "seccomp", r.out);
	tools_exec_result_clear(&r);
}

static void test_mount_and_userns(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	run(&r, &p, HELPER("mount"));
	assert_non_null(strstr(r.out, "mount(tmpfs): Operation not permitted"));
	assert_non_null(strstr(r.out, "unshare(CLONE_NEWUSER): Operation not permitted"));
	stopped("mount, nested user namespace", "seccomp", r.out);
	tools_exec_result_clear(&r);
}

static void test_output_truncated(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	policy(&p);
	p.out_cap = 65536;
	run(&r, &p, SH("head -c 3000000 /dev/zero; head -c 100000 /dev/zero >&2"));
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.out_len, 65536);
	assert_int_equal(r.out_total, 3000000);
	assert_true(r.out_truncated);
	assert_int_equal(r.err_len, 65536);
	assert_int_equal(r.err_total, 100000);
	assert_true(r.err_truncated);
	stopped("oversized output", "output cap", "65536 of 3000000 kept");
	tools_exec_result_clear(&r);
}

static void test_environment_cleared(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	(void)state;

	setenv("HALO_TEST_API_TOKEN", SECRET, 1);
	policy(&p);
	run(&r, &p, SH("env"));
	unsetenv("HALO_TEST_API_TOKEN");
	assert_null(strstr(r.out, SECRET));
	assert_non_null(strstr(r.out, nonce_env)); /* the caller's own does pass */
	stopped("read the caller's environment", "cleared environment", "absent");
	tools_exec_result_clear(&r);
}

static void test_refuses_unsandboxed(void **state)
{
	struct tools_sandbox_policy p;
	struct tools_exec_result r;
	const char *argv[] = { "/bin/true", NULL };
	(void)state;

	policy(&p);
	p.skip_layers = TOOLS_LAYER_NAMESPACES | TOOLS_LAYER_LANDLOCK;
	assert_int_equal(tools_sandbox_exec(&r, &p, argv), TOOLS_ENOSANDBOX);
	assert_non_null(strstr(tools_errmsg(), "refusing to run unsandboxed"));
	stopped("run with no confinement", "refused (fail closed)", tools_errmsg());
	p.allow_unsandboxed = true;
	assert_int_equal(tools_sandbox_exec(&r, &p, argv), 0);
	assert_int_equal(r.layers & ~TOOLS_LAYER_RLIMITS, 0);
	assert_non_null(strstr(r.notice, "UNSANDBOXED"));
	tools_exec_result_clear(&r);
	assert_no_strays();
}

/* ---- main ------------------------------------------------------------------------- */

static const struct CMUnitTest battery[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	T(test_write_outside_workspace),
	T(test_write_system_dir),
	T(test_read_home_key),
	T(test_read_etc_shadow),
	T(test_proc_1_root),
	T(test_proc_self_cwd),
	T(test_shell_symlink),
	T(test_shell_hardlink),
	T(test_tool_dotdot),
	T(test_tool_symlink),
	T(test_tool_hardlink),
	T(test_tool_proc_magiclink),
	T(test_tcp_loopback),
	T(test_abstract_unix),
	T(test_ptrace_parent),
	T(test_signal_parent),
	T(test_fork_bomb),
	T(test_memory_bomb),
	T(test_disk_fill),
	T(test_timeout_kills_tree),
	T(test_setuid_gains_nothing),
	T(test_io_uring),
	T(test_mount_and_userns),
	T(test_output_truncated),
	T(test_environment_cleared),
	T(test_refuses_unsandboxed),
#undef T
};

/* A setuid-root copy of the helper in a directory of its own (root only):
 * run directly by uid 65534 it would be euid 0; in the sandbox it must not. */
static void make_suid_helper(void)
{
	char cmd[PATH_MAX * 5];

	snprintf(suid_dir, sizeof(suid_dir), "/tmp/halo-suid-XXXXXX");
	if (mkdtemp(suid_dir) == NULL) {
		suid_dir[0] = '\0';
		return;
	}
	chmod(suid_dir, 0755);
	snprintf(suid_helper, sizeof(suid_helper), "%s/escape_helper", suid_dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 4755 '%s'", helper, suid_helper,
		 suid_helper);
	if (system(cmd) != 0)
		suid_dir[0] = '\0';
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_sigurg };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int rc, st;
	pid_t pid;

	if (n <= 0)
		return 1;
	self[n] = '\0';
	snprintf(helper_dir, sizeof(helper_dir), "%s", dirname(self));
	snprintf(helper, sizeof(helper), "%s/escape_helper", helper_dir);
	snprintf(nonce_env, sizeof(nonce_env), "HALO_ESCAPE_NONCE=%d-%ld", (int)getpid(),
		 (long)time(NULL));
	sigaction(SIGURG, &sa, NULL);
	if (geteuid() == 0)
		make_suid_helper();

	rc = cmocka_run_group_tests_name("escape battery (caller's uid)", battery, NULL, NULL);
	if (geteuid() != 0)
		return rc;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(1);
		who = "65534";
		/* control: outside the sandbox the setuid copy does gain root */
		if (suid_dir[0]) {
			char cmd[PATH_MAX * 2];

			snprintf(cmd, sizeof(cmd), "'%s' whoami | grep -q 'euid=0'", suid_helper);
			if (system(cmd) != 0)
				fprintf(stderr, "note: the setuid control did not gain root\n");
		}
		_exit(cmocka_run_group_tests_name("escape battery (uid 65534)", battery, NULL,
						  NULL));
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		rc |= 1;
	else
		rc |= WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	if (suid_dir[0]) {
		unlink(suid_helper);
		rmdir(suid_dir);
	}
	return rc;
}
