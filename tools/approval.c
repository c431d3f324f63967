/* approval.c - who says yes to a command: the approval policy.
 *
 *   ask   show the command and the policy to a human (the ask callback);
 *         y runs it, n refuses, a (always) runs it and every later command
 *         of the same skill;
 *   auto  run anything inside the sandbox without asking;
 *   deny  run nothing.
 * The answers live only as long as the context: "always" never persists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools_int.h"

#define APPROVAL_MAX_ALWAYS 64

struct approval {
	enum tools_approval mode;
	tools_ask_fn ask;
	void *ud;
	char *always[APPROVAL_MAX_ALWAYS]; /* skills answered "always" */
	size_t n_always;
};

int approval_open(struct approval **out, enum tools_approval mode,
		  tools_ask_fn ask, void *ud)
{
	struct approval *a;

	if (mode != TOOLS_APPROVAL_ASK && mode != TOOLS_APPROVAL_AUTO &&
	    mode != TOOLS_APPROVAL_DENY)
		return tools_seterr(TOOLS_EINVAL, "approval must be ask, auto or deny");
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return tools_seterr(TOOLS_EIO, "out of memory");
	a->mode = mode;
	a->ask = ask;
	a->ud = ud;
	*out = a;
	return 0;
}

void approval_close(struct approval *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n_always; i++)
		free(a->always[i]);
	free(a);
}

int approval_check(struct approval *a, const char *skill, const char *tool,
		   const char *summary, const char *policy)
{
	const char *who = skill && *skill ? skill : "";
	enum tools_answer ans;

	if (a->mode == TOOLS_APPROVAL_AUTO)
		return 0;
	if (a->mode == TOOLS_APPROVAL_DENY)
		return tools_seterr(TOOLS_EDENIED, "%s refused: the approval policy is deny", tool);
	for (size_t i = 0; i < a->n_always; i++)
		if (strcmp(a->always[i], who) == 0)
			return 0;
	if (a->ask == NULL)
		return tools_seterr(TOOLS_EDENIED, "%s refused: approval needed and no one "
				    "to ask", tool);
	ans = a->ask(a->ud, tool, summary, policy);
	if (ans == TOOLS_ANSWER_ALWAYS && a->n_always < APPROVAL_MAX_ALWAYS) {
		char *dup = strdup(who);

		if (dup)
			a->always[a->n_always++] = dup;
	}
	if (ans == TOOLS_ANSWER_YES || ans == TOOLS_ANSWER_ALWAYS)
		return 0;
	return tools_seterr(TOOLS_EDENIED, "%s refused by the user", tool);
}

enum tools_answer tools_ask_tty(void *ud, const char *tool, const char *summary,
				const char *policy)
{
	FILE *tty = fopen("/dev/tty", "r+");
	char line[32];
	enum tools_answer ans = TOOLS_ANSWER_NO;

	(void)ud;
	if (tty == NULL)
		return TOOLS_ANSWER_NO;
	fprintf(tty, "\nhalo-agent wants to run (%s):\n  %s\nsandbox policy: %s\n"
		"Run it? [y]es / [n]o / [a]lways for this skill: ", tool, summary, policy);
	fflush(tty);
	if (fgets(line, sizeof(line), tty)) {
		if (line[0] == 'y' || line[0] == 'Y')
			ans = TOOLS_ANSWER_YES;
		else if (line[0] == 'a' || line[0] == 'A')
			ans = TOOLS_ANSWER_ALWAYS;
	}
	fclose(tty);
	return ans;
}
