/* cli.c - option parsing, messages and suggestions shared by the commands.
 *
 * Every message a command prints about bad input goes through here, so they
 * all look alike: "halo-agent: <cmd>: <what was wrong>" on one line, then
 * where useful a second line saying how to fix it. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Collect the long option names of `longopts` into a NULL-terminated list
 * (at most 63 names). */
static void long_names(const struct option *longopts, const char **names)
{
	size_t n = 0;

	for (; longopts && longopts->name && n < 63; longopts++)
		names[n++] = longopts->name;
	names[n] = NULL;
}

/* The global options are accepted after any command too, so they are
 * candidates for a suggestion. */
static void cli_add_global_names(const char **names, size_t cap)
{
	static const char *const globals[] = { "data-dir", "config", "json",
		"verbose", "quiet", "help", NULL };
	size_t n = 0;

	while (names[n])
		n++;
	for (size_t i = 0; globals[i] && n + 1 < cap; i++)
		names[n++] = globals[i];
	names[n] = NULL;
}

int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	static const struct option help_only[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char sopts[64];
	int c, idx = -1;

	/* A leading ':' makes getopt report a missing argument as ':'. */
	/* --help works for every command, whatever its option table says. */
	if (optind < argc && strcmp(argv[optind], "--help") == 0) {
		optind++;
		return 'h';
	}
	snprintf(sopts, sizeof(sopts), ":%sh", shortopts ? shortopts : "");
	opterr = 0;
	c = getopt_long(argc, argv, sopts, longopts ? longopts : help_only, &idx);
	if (c == 'h')
		return 'h';
	if (c == ':') {
		const char *opt = argv[optind - 1];

		fprintf(stderr, "halo-agent: %s: option '%s' needs a value\n",
			argv[0], opt);
		return '?';
	}
	if (c == '?') {
		const char *bad = argv[optind - 1];
		const char *names[64];
		const char *sug = NULL;

		if (optopt && !(bad[0] == '-' && bad[1] == '-')) {
			fprintf(stderr, "halo-agent: %s: unknown option '-%c'\n",
				argv[0], optopt);
			return '?';
		}
		long_names(longopts ? longopts : help_only, names);
		cli_add_global_names(names, 64);
		if (bad[0] == '-' && bad[1] == '-') {
			char word[64];
			size_t len = strcspn(bad + 2, "=");

			if (len >= sizeof(word))
				len = sizeof(word) - 1;
			memcpy(word, bad + 2, len);
			word[len] = '\0';
			sug = cli_suggest(word, names);
		}
		if (optopt)
			fprintf(stderr, "halo-agent: %s: option '%s' takes no value\n",
				argv[0], bad);
		else if (sug)
			fprintf(stderr,
				"halo-agent: %s: unknown option '%s' (did you mean '--%s'?)\n",
				argv[0], bad, sug);
		else
			fprintf(stderr, "halo-agent: %s: unknown option '%s'\n",
				argv[0], bad);
		return '?';
	}
	return c;
}

int cli_help_or_usage(const char *cmdname, int c)
{
	const struct cmd *cmd = cli_find_command(cmdname);

	if (c == 'h' && cmd) {
		fputs(cmd->usage, stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "Try 'halo-agent %s --help' for more information.\n",
		cmdname);
	return EXIT_USAGE;
}

int cli_usage_error(const char *cmdname, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "halo-agent: %s: ", cmdname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'halo-agent %s --help' for more information.\n",
		cmdname);
	return EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("halo-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

void cli_info(const struct app *app, const char *fmt, ...)
{
	va_list ap;

	if (app->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void cli_debug(const struct app *app, const char *fmt, ...)
{
	va_list ap;

	if (app->verbose < 1 || app->quiet)
		return;
	fputs("debug: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

bool cli_parse_timeout(const char *cmdname, const char *s, unsigned long long *out)
{
	if (!cli_parse_u64(cmdname, "--timeout", s, out))
		return false;
	if (*out == 0 || *out > CLI_MAX_TIMEOUT_S) {
		cli_usage_error(cmdname, "--timeout must be 1..%llu seconds", CLI_MAX_TIMEOUT_S);
		return false;
	}
	return true;
}

bool cli_parse_u64(const char *cmdname, const char *opt, const char *s,
		   unsigned long long *out)
{
	char *end;

	errno = 0;
	if (s == NULL || *s == '\0' || *s == '-')
		goto bad;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	return true;
bad:
	cli_usage_error(cmdname, "%s expects a non-negative integer, got '%s'",
			opt, s ? s : "");
	return false;
}
