/* suggest.c - "did you mean": the closest known name to a mistyped one,
 * for commands, options and config keys. */
#include <string.h>

#include "cli.h"

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), bounded to short words. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *cli_suggest(const char *word, const char *const *cands)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	size_t len = strlen(word);
	/* Allow about one typo per three characters, at least one. */
	size_t limit = len / 3 > 0 ? len / 3 : 1;

	for (; cands && *cands; cands++) {
		size_t d = edit_distance(word, *cands);

		/* A prefix of a longer name ("stat" for "status") is a good guess. */
		if (len >= 3 && strncmp(*cands, word, len) == 0)
			d = 1;
		if (d < best_d) {
			best_d = d;
			best = *cands;
		}
	}
	return best_d <= limit ? best : NULL;
}
