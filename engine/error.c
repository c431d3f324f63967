/* error.c - the engine's per-thread last error.
 *
 * Library functions never print; they return a negative code and leave a
 * message here for the caller (only the program decides what to show). */
#include <stdarg.h>
#include <stdio.h>

#include "engine_int.h"

static _Thread_local char errbuf[512];

const char *engine_errmsg(void)
{
	return errbuf;
}

int engine_seterr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return code;
}

void engine_clearerr(void)
{
	errbuf[0] = '\0';
}
