/* fuzz_config.c - libFuzzer target for the config file reader.
 *
 * Feeds the input to config_load_buffer() over defaults and checks its
 * contract: an error is one line that starts with the file name and leaves
 * the config exactly at the defaults; a success leaves every choice key at
 * one of its documented values.  Aborts when the contract is broken. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_config: contract broken: %s\n", what);
		abort();
	}
}

static int n_warnings;

static void count_warning(void *ud, const char *msg)
{
	(void)ud;
	check(strncmp(msg, "fuzz.yaml:", 10) == 0, "warning names the file");
	check(strchr(msg, '\n') == NULL, "warning is one line");
	n_warnings++;
}

static int is_choice(const char *choices, const char *v)
{
	size_t len = strlen(v);

	while (*choices) {
		size_t n = strcspn(choices, "|");

		if (n == len && strncmp(choices, v, n) == 0)
			return 1;
		choices += n + (choices[n] == '|');
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg, def;
	char err[1024], buf[32], dbuf[32];

	config_init(&cfg);
	config_init(&def);
	err[0] = '\0';
	if (config_load_buffer(&cfg, "fuzz.yaml", (const char *)data, size,
			       count_warning, NULL, err, sizeof(err)) < 0) {
		check(strncmp(err, "fuzz.yaml:", 10) == 0, "error names the file");
		check(strchr(err, '\n') == NULL, "error is one line");
		for (const struct config_key *k = config_keys; k->name; k++)
			check(strcmp(config_value_text(&cfg, k, buf, sizeof(buf)),
				     config_value_text(&def, k, dbuf, sizeof(dbuf))) == 0,
			      "a failed load leaves the config untouched");
	} else {
		for (const struct config_key *k = config_keys; k->name; k++)
			if (k->type == CFG_ENUM)
				check(is_choice(k->choices,
						config_value_text(&cfg, k, buf, sizeof(buf))),
				      "choice keys hold a documented value");
	}
	config_free(&cfg);
	config_free(&def);
	return 0;
}
