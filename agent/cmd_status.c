/* cmd_status.c - `halo-agent status`: the data dir and the database. */
#include <jansson.h>
#include <stdlib.h>

#include "cli.h"
#include "store.h"

int cmd_status(struct app *app, int argc, char **argv)
{
	struct store *st = NULL;
	struct store_count *counts = NULL;
	size_t n = 0;
	int opt, rc = EXIT_FAIL;

	while ((opt = cli_getopt(argc, argv, "", NULL)) != -1)
		return cli_help_or_usage(argv[0], opt);
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (store_open(&st, app->data_dir, NULL) < 0)
		return cli_fail("%s", store_errmsg());
	if (store_table_counts(st, &counts, &n) < 0) {
		cli_fail("%s", store_errmsg());
		goto out;
	}
	if (app->json) {
		json_t *o = json_object(), *t = json_object();

		json_object_set_new(o, "data_dir", json_string(app->data_dir));
		json_object_set_new(o, "database", json_string(store_path(st)));
		json_object_set_new(o, "config", json_string(app->config_path));
		json_object_set_new(o, "schema_version", json_integer(store_schema_version(st)));
		json_object_set_new(o, "schema_latest", json_integer(store_schema_latest()));
		for (size_t i = 0; i < n; i++)
			json_object_set_new(t, counts[i].table, json_integer(counts[i].rows));
		json_object_set_new(o, "tables", t);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		printf("data dir:        %s\n", app->data_dir);
		printf("database:        %s\n", store_path(st));
		printf("config:          %s\n", app->config_path);
		printf("schema version:  %d (latest %d)\n", store_schema_version(st),
		       store_schema_latest());
		printf("tables:\n");
		for (size_t i = 0; i < n; i++)
			printf("  %-14s %lld rows\n", counts[i].table, (long long)counts[i].rows);
	}
	rc = EXIT_OK;
out:
	store_counts_free(counts, n);
	store_close(st);
	return rc;
}
