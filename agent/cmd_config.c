/* cmd_config.c - `halo-agent config`: what is configured, and from where. */
#include <jansson.h>
#include <string.h>

#include "cli.h"

static const char *const type_names[] = { "string", "path", "integer", "choice" };

static int config_show(const struct app *app)
{
	char buf[32];

	if (app->json) {
		json_t *o = json_object(), *v = json_object();

		json_object_set_new(o, "config", json_string(app->config_path));
		json_object_set_new(o, "data_dir", json_string(app->data_dir));
		for (const struct config_key *k = config_keys; k->name; k++) {
			const char *t = config_value_text(&app->cfg, k, buf, sizeof(buf));

			json_object_set_new(v, k->name, k->type == CFG_UINT ?
				json_integer(strtoll(t, NULL, 10)) : json_string(t));
		}
		json_object_set_new(o, "values", v);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
		return EXIT_OK;
	}
	printf("# config file: %s\n# data dir in effect: %s\n", app->config_path,
	       app->data_dir);
	for (const struct config_key *k = config_keys; k->name; k++)
		printf("%-18s %s\n", k->name, config_value_text(&app->cfg, k, buf, sizeof(buf)));
	return EXIT_OK;
}

static int config_keys_list(const struct app *app)
{
	if (app->json) {
		json_t *a = json_array();

		for (const struct config_key *k = config_keys; k->name; k++) {
			json_t *o = json_object();

			json_object_set_new(o, "key", json_string(k->name));
			json_object_set_new(o, "type", json_string(type_names[k->type]));
			if (k->choices)
				json_object_set_new(o, "choices", json_string(k->choices));
			json_object_set_new(o, "default", json_string(k->def));
			json_object_set_new(o, "doc", json_string(k->doc));
			json_array_append_new(a, o);
		}
		json_dumpf(a, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(a);
		return EXIT_OK;
	}
	for (const struct config_key *k = config_keys; k->name; k++)
		printf("%-18s %-8s default %-12s %s\n", k->name,
		       k->choices ? k->choices : type_names[k->type],
		       *k->def ? k->def : "(none)", k->doc);
	return EXIT_OK;
}

int cmd_config(struct app *app, int argc, char **argv)
{
	const char *sub = "show";
	int opt;

	while ((opt = cli_getopt(argc, argv, "", NULL)) != -1)
		return cli_help_or_usage(argv[0], opt);
	if (optind < argc)
		sub = argv[optind++];
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if (strcmp(sub, "show") == 0)
		return config_show(app);
	if (strcmp(sub, "keys") == 0)
		return config_keys_list(app);
	if (strcmp(sub, "path") == 0) {
		if (app->json) {
			json_t *o = json_pack("{s:s}", "config", app->config_path);

			json_dumpf(o, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(o);
		} else
			printf("%s\n", app->config_path);
		return EXIT_OK;
	}
	return cli_usage_error(argv[0], "unknown subcommand '%s' (expected show, path or keys)", sub);
}
