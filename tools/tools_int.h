/* tools_int.h - private declarations shared by the files of libhalo_tools. */
#ifndef HALO_TOOLS_INT_H
#define HALO_TOOLS_INT_H

#include "tools.h"

int tools_seterr(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Read a small text file (at most cap-1 bytes) into buf, NUL-terminated.
 * Returns the length, or -1. */
long tools_read_small(const char *path, char *buf, size_t cap);

#endif
