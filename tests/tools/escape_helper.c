/* escape_helper.c - the attacks the escape battery runs inside the sandbox,
 * one per mode.  Each prints what happened and exits 0 when it was stopped,
 * 99 when it got through.  Built without sanitizers: it runs under small
 * address-space limits. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif

static int verdict(const char *what, int rc)
{
	if (rc == 0) {
		printf("%s: SUCCEEDED\n", what);
		return 99;
	}
	printf("%s: %s\n", what, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(m, "io_uring") == 0) {
		unsigned char params[256] = { 0 };
		long fd = syscall(SYS_io_uring_setup, 4, params);

		return verdict("io_uring_setup", fd >= 0 ? 0 : -1);
	}
	if (strcmp(m, "ptrace") == 0 && argc > 2) {
		int r1 = verdict("ptrace(parent)", (int)ptrace(PTRACE_ATTACH, getppid(), 0, 0));
		int r2 = verdict("ptrace(host pid)", (int)ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0));

		return r1 | r2;
	}
	if (strcmp(m, "kill") == 0 && argc > 2) {
		int r1 = verdict("kill(host pid)", kill(atoi(argv[2]), SIGURG));
		int r2 = getppid() > 1 ? verdict("kill(parent)", kill(getppid(), SIGURG)) : 0;

		return r1 | r2;
	}
	if (strcmp(m, "tcp") == 0 && argc > 2) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0)
			return verdict("socket(AF_INET)", -1);
		a.sin_port = htons((unsigned short)atoi(argv[2]));
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return verdict("connect(127.0.0.1)", connect(s, (struct sockaddr *)&a, sizeof(a)));
	}
	if (strcmp(m, "abstract") == 0 && argc > 2) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		size_t n = strlen(argv[2]);

		if (s < 0)
			return verdict("socket(AF_UNIX)", -1);
		memcpy(a.sun_path + 1, argv[2], n);
		return verdict("connect(abstract)", connect(s, (struct sockaddr *)&a,
			       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)));
	}
	if (strcmp(m, "forkbomb") == 0) {
		int n = 0;

		for (; n < 5000; n++) {
			pid_t p = fork();

			if (p == 0) {
				pause();
				_exit(0);
			}
			if (p < 0)
				break;
		}
		printf("forked %d children before: %s\n", n, strerror(errno));
		return n >= 5000 ? 99 : 0;
	}
	if (strcmp(m, "membomb") == 0) {
		size_t mib = 0;

		for (; mib < 8192; mib += 64) {
			char *p = malloc(64u << 20);

			if (p == NULL)
				break;
			memset(p, 1, 64u << 20);
		}
		printf("allocated %zu MiB before: %s\n", mib, strerror(errno));
		return mib >= 8192 ? 99 : 0;
	}
	if (strcmp(m, "diskfill") == 0) {
		static char buf[1 << 20];
		int fd = open("fill", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		size_t mib = 0;

		signal(SIGXFSZ, SIG_IGN); /* see the EFBIG instead of dying */
		for (; fd >= 0 && mib < 4096; mib++)
			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				break;
		printf("wrote %zu MiB before: %s\n", mib, strerror(errno));
		return mib >= 4096 ? 99 : 0;
	}
	if (strcmp(m, "whoami") == 0) {
		char line[256];
		FILE *f = fopen("/proc/self/status", "r");

		printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "CapEff:", 7) == 0)
				printf("%s", line);
		if (f)
			fclose(f);
		return 0;
	}
	if (strcmp(m, "mount") == 0) {
		int r1 = verdict("mount(tmpfs)", mount("x", "/tmp", "tmpfs", 0, NULL));
		int r2 = verdict("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));

		return r1 | r2;
	}
	fprintf(stderr, "escape_helper: unknown mode '%s'\n", m);
	return 2;
}
