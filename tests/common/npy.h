/* npy.h - a small reader of NumPy .npy files (format 1.0/2.0/3.0) for tests.
 *
 * Supports what reference data uses: little-endian '<f4', '<f8', '<i4',
 * '<i8', '|u1', '|i1', C order, up to NPY_MAX_DIMS dimensions.  Files are
 * read whole (bounded by NPY_MAX_BYTES). */
#ifndef HALO_TESTS_NPY_H
#define HALO_TESTS_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8
#define NPY_MAX_BYTES ((size_t)1 << 31)

struct npy {
	char descr[8];            /* "<f4" */
	size_t elem_size;         /* bytes per element */
	int ndim;
	int64_t shape[NPY_MAX_DIMS];
	size_t count;             /* product of shape (1 for a 0-d array) */
	void *data;               /* count * elem_size bytes, 64-byte aligned */
};

/* Read `path`.  On failure returns -1, *out is NULL and `err` (if non-NULL,
 * `errlen` bytes) says why. */
int npy_load(struct npy **out, const char *path, char *err, size_t errlen);

void npy_free(struct npy *a); /* accepts NULL */

#endif
