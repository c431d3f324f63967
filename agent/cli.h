/* cli.h - what the commands of the halo-agent program share.
 *
 * main.c parses the global options, loads the config and dispatches to one
 * `cmd_*` function from the command table.  A command gets argv with its own
 * name at argv[0], parses its options with cli_getopt(), prints its result
 * (JSON when app->json) and returns an exit code: 0 ok, 1 failure, 2 usage.
 */
#ifndef HALO_CLI_H
#define HALO_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

struct app {
	const char *data_dir;    /* resolved: flag > env > config > XDG default */
	const char *config_path; /* resolved: flag > env > XDG default */
	int verbose;             /* -v count */
	bool quiet;              /* -q: only errors on stderr */
	bool json;               /* --json: machine-readable stdout */
	struct config cfg;
};

struct cmd {
	const char *name;
	const char *summary; /* one line for `halo-agent help` */
	const char *usage;   /* the full --help text, options included */
	int (*run)(struct app *app, int argc, char **argv);
};

/* The command table (main.c). */
extern const struct cmd cli_commands[];
const struct cmd *cli_find_command(const char *name);

/* getopt_long with our error handling: -h/--help prints the command's usage
 * and returns 'h'; an unknown or malformed option prints a one-line error
 * with a "did you mean" suggestion and returns '?'.  Callers return
 * cli_help_or_usage(cmd, c) for both.  Returns -1 at the end of options. */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
int cli_help_or_usage(const char *cmdname, int c);

/* Print "halo-agent: <cmd>: <message>" (+ a hint to run --help) to stderr
 * and return EXIT_USAGE. */
int cli_usage_error(const char *cmdname, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "halo-agent: <message>" to stderr and return EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Informational output on stderr, silenced by -q; cli_debug needs -v. */
void cli_info(const struct app *app, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cli_debug(const struct app *app, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The candidate closest to `word` by edit distance, or NULL if none is
 * close enough to suggest.  `cands` is NULL-terminated. */
const char *cli_suggest(const char *word, const char *const *cands);

/* Parse a non-negative integer option value; on error print a usage error
 * naming the option and return false. */
bool cli_parse_u64(const char *cmdname, const char *opt, const char *s,
		   unsigned long long *out);
/* --timeout SECONDS: 1 to a week. */
#define CLI_MAX_TIMEOUT_S (7ull * 86400)
bool cli_parse_timeout(const char *cmdname, const char *s, unsigned long long *out);

/* Commands (agent/cmd_*.c). */
int cmd_help(struct app *app, int argc, char **argv);
int cmd_version(struct app *app, int argc, char **argv);
int cmd_doctor(struct app *app, int argc, char **argv);
int cmd_status(struct app *app, int argc, char **argv);
int cmd_config(struct app *app, int argc, char **argv);
int cmd_model(struct app *app, int argc, char **argv);
int cmd_tokenize(struct app *app, int argc, char **argv);
int cmd_run(struct app *app, int argc, char **argv);
int cmd_eval(struct app *app, int argc, char **argv);
int cmd_bench(struct app *app, int argc, char **argv);
int cmd_exec(struct app *app, int argc, char **argv);
int cmd_runs(struct app *app, int argc, char **argv);
int cmd_install(struct app *app, int argc, char **argv);
int cmd_skills(struct app *app, int argc, char **argv);

#endif
