/* testutil.c - see testutil.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define TU_MAX_OUTPUT (8u << 20)

static void die(const char *what)
{
	fprintf(stderr, "testutil: %s: %s\n", what, strerror(errno));
	abort();
}

char *tu_mkdtemp(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/halo-test-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag) < 0)
		die("asprintf");
	if (mkdtemp(p) == NULL)
		die("mkdtemp");
	return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		chmod(path, 0700), rmdir(path);
	else
		unlink(path);
	return 0;
}

void tu_rmtree(const char *path)
{
	/* Make every directory writable first, so chmod'ed test dirs go too. */
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t got;

		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (buf == NULL)
				die("realloc");
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

void tu_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die(path);
}

const char *tu_testdata(void)
{
	const char *t = getenv("HALO_TESTDATA");

	return t && *t ? t : "../shared/testdata";
}

/* Append what fd has to *buf (bounded); false at EOF. */
static bool drain(int fd, char **buf, size_t *len)
{
	char tmp[65536];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0)
		return false;
	if (*len + (size_t)n > TU_MAX_OUTPUT)
		n = (ssize_t)(TU_MAX_OUTPUT - *len);
	*buf = realloc(*buf, *len + (size_t)n + 1);
	if (*buf == NULL)
		die("realloc");
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return true;
}

void tu_run(struct tu_run *r, const char *home, const char *const *env,
	    bool as_nobody, const char *const *argv)
{
	const char *bin = getenv("HALO_BIN");
	int po[2], pe[2], status;
	size_t lo = 0, le = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	if (bin == NULL || pipe(po) < 0 || pipe(pe) < 0)
		die("HALO_BIN unset or pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		const char *args[64];
		size_t n = 0;
		char *e;

		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		/* Keep only the sanitizers' settings from the test's environment. */
		{
			static const char *const keep[] = { "ASAN_OPTIONS",
				"LSAN_OPTIONS", "UBSAN_OPTIONS", NULL };
			char *saved[3] = { NULL, NULL, NULL };

			for (int i = 0; keep[i]; i++)
				if (getenv(keep[i]))
					saved[i] = strdup(getenv(keep[i]));
			clearenv();
			for (int i = 0; keep[i]; i++)
				if (saved[i])
					setenv(keep[i], saved[i], 1);
		}
		setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
		setenv("HOME", home, 1);
		if (asprintf(&e, "%s/.config", home) >= 0)
			setenv("XDG_CONFIG_HOME", e, 1);
		if (asprintf(&e, "%s/.local/share", home) >= 0)
			setenv("XDG_DATA_HOME", e, 1);
		for (; env && *env; env++)
			putenv((char *)*env);
		if (as_nobody && geteuid() == 0) {
			if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
				_exit(125);
		}
		args[n++] = bin;
		for (; *argv && n < 63; argv++)
			args[n++] = *argv;
		args[n] = NULL;
		execv(bin, (char *const *)args);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	for (bool o = true, e = true; o || e;) {
		struct pollfd p[2] = { { o ? po[0] : -1, POLLIN, 0 },
				       { e ? pe[0] : -1, POLLIN, 0 } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll");
		if (o && (p[0].revents & (POLLIN | POLLHUP)))
			o = drain(po[0], &r->out, &lo);
		if (e && (p[1].revents & (POLLIN | POLLHUP)))
			e = drain(pe[0], &r->err, &le);
	}
	close(po[0]);
	close(pe[0]);
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void tu_run_free(struct tu_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int32_t tu_argmax(const float *v, size_t n)
{
	size_t best = 0;

	for (size_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return (int32_t)best;
}

uint32_t tu_rnd32(struct tu_rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 16);
}

float tu_rndf(struct tu_rng *r)
{
	return (float)(tu_rnd32(r) >> 8) / 16777216.0f * 2.0f - 1.0f;
}
