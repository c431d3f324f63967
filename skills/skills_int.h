/* skills_int.h - private declarations shared by the files of libhalo_skills. */
#ifndef HALO_SKILLS_INT_H
#define HALO_SKILLS_INT_H

#include <stdarg.h>

#include "skills.h"

int skills_seterr(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A bump allocator that owns every string of a parsed skill: one free. */
struct skills_arena;

struct skills_arena *arena_new(void);
void arena_free(struct skills_arena *a);
/* Zeroed memory; NULL only when malloc fails. */
void *arena_alloc(struct skills_arena *a, size_t n);
char *arena_strndup(struct skills_arena *a, const char *s, size_t n);
char *arena_strdup(struct skills_arena *a, const char *s);
char *arena_printf(struct skills_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A growable string for building text; on allocation failure it stays
 * marked failed and every later append is a no-op. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *b);

/* The front matter (parse_yaml.c): fills name, description, ... and the
 * warnings of s.  `text` is the YAML between the fences, whose first line
 * is line `first_line` of the file. */
int skills_front_matter(struct skills_skill *s, const char *text, size_t len,
			unsigned first_line, const char *dir_name);

/* sha256 of a buffer as 64 lower-case hex digits and a NUL. */
void skills_sha256_hex(const void *data, size_t len, char out[65]);

/* Append a warning "file:line: text". */
void skills_warn(struct skills_skill *s, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Platform words (plan.c): the canonical id of an OS, package manager or
 * architecture word, or NULL. */
const char *skills_os_word(const char *w);
const char *skills_pm_word(const char *w);
const char *skills_arch_word(const char *w);

#endif
