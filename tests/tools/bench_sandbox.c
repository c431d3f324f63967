/* bench_sandbox.c - start-up cost of the sandbox: the median and p99 time
 * to run /bin/true through tools_sandbox_exec, beside plain fork+exec, and
 * (with -v) with single layers left out to show what each costs.
 * Usage: bench_sandbox [-n RUNS] [-v] */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%-34s median %7.3f ms   p99 %7.3f ms   (n=%d)\n", what, t[n / 2],
	       t[(int)((double)n * 0.99) < n ? (int)((double)n * 0.99) : n - 1], n);
}

static int bench_sandbox(const char *what, const char *ws, unsigned skip,
			 enum tools_net net, double *t, int n)
{
	const char *argv[] = { "/bin/true", NULL };
	char layers[256] = "";

	for (int i = 0; i < n; i++) {
		struct tools_sandbox_policy p = TOOLS_SANDBOX_POLICY_INIT;
		struct tools_exec_result r;
		double t0 = now_ms();

		p.workspace = ws;
		p.skip_layers = skip;
		p.network = net;
		if (tools_sandbox_exec(&r, &p, argv) < 0 || r.exit_code != 0) {
			fprintf(stderr, "bench: %s: %s (exit %d) %s\n", what, tools_errmsg(),
				r.exit_code, r.err ? r.err : "");
			return 1;
		}
		t[i] = now_ms() - t0;
		tools_layers_str(r.layers, layers, sizeof(layers));
		tools_exec_result_clear(&r);
	}
	report(what, t, n);
	printf("    layers: %s\n", layers);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 200, verbose = 0, rc = 0;
	char ws[] = "/tmp/halo-bench-XXXXXX";
	double *t;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
	}
	if (n < 10)
		n = 10;
	t = calloc((size_t)n, sizeof(*t));
	if (t == NULL || mkdtemp(ws) == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		char *av[] = { "/bin/true", NULL };
		double t0 = now_ms();
		pid_t pid;
		int st;

		if (posix_spawn(&pid, av[0], NULL, NULL, av, environ) != 0 ||
		    waitpid(pid, &st, 0) < 0)
			return 1;
		t[i] = now_ms() - t0;
	}
	report("fork+exec /bin/true", t, n);
	rc |= bench_sandbox("sandbox, network none", ws, 0, TOOLS_NET_NONE, t, n);
	rc |= bench_sandbox("sandbox, network host", ws, 0, TOOLS_NET_HOST, t, n);
	if (verbose) {
		rc |= bench_sandbox("  without netns", ws, TOOLS_LAYER_NETNS, TOOLS_NET_NONE, t, n);
		rc |= bench_sandbox("  without seccomp", ws, TOOLS_LAYER_SECCOMP, TOOLS_NET_NONE, t, n);
		rc |= bench_sandbox("  without landlock", ws, TOOLS_LAYER_LANDLOCK, TOOLS_NET_NONE, t, n);
		rc |= bench_sandbox("  without namespaces", ws, TOOLS_LAYER_NAMESPACES,
				    TOOLS_NET_NONE, t, n);
	}
	rmdir(ws);
	free(t);
	return rc;
}
