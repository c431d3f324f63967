/* testutil.h - small helpers the cmocka suites share: temporary
 * directories, whole-file reads, running the halo-agent binary. */
#ifndef HALO_TESTUTIL_H
#define HALO_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string
 * and removes the tree with tu_rmtree. Aborts the test run on failure. */
char *tu_mkdtemp(const char *tag);
void tu_rmtree(const char *path);

/* Read a whole file; NULL if it cannot be read.  *len gets its size. */
char *tu_read_file(const char *path, size_t *len);
void tu_write_file(const char *path, const char *data, size_t len);

/* $HALO_TESTDATA, or ../shared/testdata relative to the source root. */
const char *tu_testdata(void);

/* The index of the largest of v[0..n), the lowest on ties (greedy). */
int32_t tu_argmax(const float *v, size_t n);

/* A reproducible pseudo-random stream (xorshift64), seeded by its state:
 * tu_rnd32 gives the next 32 bits, tu_rndf a float in [-1, 1) with 24
 * random bits. */
struct tu_rng {
	uint64_t s;
};
uint32_t tu_rnd32(struct tu_rng *r);
float tu_rndf(struct tu_rng *r);

/* The result of running the halo-agent binary ($HALO_BIN). */
struct tu_run {
	int status;     /* exit code, or 128+signal */
	char *out;      /* stdout, NUL-terminated */
	char *err;      /* stderr, NUL-terminated */
};

/* Run $HALO_BIN with argv (NULL-terminated, without the program name) in an
 * environment where HOME=home and XDG_* point under it, plus the extra
 * "NAME=value" strings in env (NULL-terminated, may be NULL).  When
 * as_nobody and we are root, the child drops to uid/gid 65534 first (to test
 * permissions that root would bypass).  Output is captured (bounded). */
void tu_run(struct tu_run *r, const char *home, const char *const *env,
	    bool as_nobody, const char *const *argv);
void tu_run_free(struct tu_run *r);

#endif
