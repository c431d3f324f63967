/* probe.c - what the sandbox layers can use on this kernel.
 *
 * Each layer is tried for real where that is cheap (a forked child that
 * unshares a user namespace) rather than inferred from sysctl files, which
 * differ across distros; the sysctls only explain a failure. */
#include <errno.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools_int.h"

static void probe_userns(struct tools_sandbox_caps *c)
{
	char buf[64];
	int status = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		snprintf(c->userns_detail, sizeof(c->userns_detail),
			 "could not fork to test: %s", strerror(errno));
		return;
	}
	c->userns = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (c->userns) {
		if (geteuid() == 0)
			snprintf(c->userns_detail, sizeof(c->userns_detail),
				 "available (tested as root; unprivileged users may differ)");
		else
			snprintf(c->userns_detail, sizeof(c->userns_detail), "available");
		return;
	}
	if (tools_read_small("/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
			     buf, sizeof(buf)) > 0 && buf[0] == '1')
		snprintf(c->userns_detail, sizeof(c->userns_detail),
			 "blocked by AppArmor (kernel.apparmor_restrict_unprivileged_userns=1)");
	else if (tools_read_small("/proc/sys/kernel/unprivileged_userns_clone", buf,
				  sizeof(buf)) > 0 && buf[0] == '0')
		snprintf(c->userns_detail, sizeof(c->userns_detail),
			 "disabled (kernel.unprivileged_userns_clone=0)");
	else if (tools_read_small("/proc/sys/user/max_user_namespaces", buf,
				  sizeof(buf)) > 0 && buf[0] == '0')
		snprintf(c->userns_detail, sizeof(c->userns_detail),
			 "disabled (user.max_user_namespaces=0)");
	else
		snprintf(c->userns_detail, sizeof(c->userns_detail),
			 "unshare(CLONE_NEWUSER) was refused");
}

static void probe_landlock(struct tools_sandbox_caps *c)
{
#ifdef SYS_landlock_create_ruleset
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);

	if (abi > 0) {
		c->landlock_abi = (int)abi;
		snprintf(c->landlock_detail, sizeof(c->landlock_detail), "ABI %ld", abi);
	} else if (errno == EOPNOTSUPP) {
		snprintf(c->landlock_detail, sizeof(c->landlock_detail),
			 "built into the kernel but disabled at boot (add landlock to lsm=)");
	} else {
		snprintf(c->landlock_detail, sizeof(c->landlock_detail),
			 "not supported by this kernel (%s)", strerror(errno));
	}
#else
	snprintf(c->landlock_detail, sizeof(c->landlock_detail),
		 "unknown to the C library this was built with");
#endif
}

static void probe_seccomp(struct tools_sandbox_caps *c)
{
	char actions[256];

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
		snprintf(c->seccomp_detail, sizeof(c->seccomp_detail),
			 "not supported by this kernel");
		return;
	}
	c->seccomp = true;
	if (tools_read_small("/proc/sys/kernel/seccomp/actions_avail", actions,
			     sizeof(actions)) > 0) {
		actions[strcspn(actions, "\n")] = '\0';
		snprintf(c->seccomp_detail, sizeof(c->seccomp_detail),
			 "filters available (actions: %.100s)", actions);
	} else {
		snprintf(c->seccomp_detail, sizeof(c->seccomp_detail), "filters available");
	}
}

static bool probe_no_new_privs(void)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void tools_sandbox_probe(struct tools_sandbox_caps *out)
{
	memset(out, 0, sizeof(*out));
	probe_userns(out);
	probe_landlock(out);
	probe_seccomp(out);
	out->no_new_privs = probe_no_new_privs();
}
