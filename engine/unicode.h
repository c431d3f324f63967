/* unicode.h - the small Unicode toolkit of the tokenizers (private to the engine).
 *
 * UTF-8 decoding that never fails (an invalid or truncated sequence decodes
 * as one byte with UNI_INVALID), UTF-8 encoding, general categories, full
 * lowercase mappings and BERT-style accent stripping (NFD, then drop
 * non-spacing marks).  Tables come from engine/unicode_tables.c, generated
 * by engine/unicode_tables_gen.py; regex classes (\p{L}, \s ...) are PCRE2's
 * business and do not use these tables.
 */
#ifndef HALO_UNICODE_H
#define HALO_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UNI_INVALID 0xFFFFFFFFu /* uni_decode's code point for a bad byte */
#define UNI_MAP_MAX 3           /* longest lowercase / strip expansion */

enum uni_cat {
	UNI_CN = 0, /* unassigned: the gaps between ranges */
	UNI_LU, UNI_LL, UNI_LT, UNI_LM, UNI_LO,
	UNI_MN, UNI_MC, UNI_ME,
	UNI_ND, UNI_NL, UNI_NO,
	UNI_PC, UNI_PD, UNI_PS, UNI_PE, UNI_PI, UNI_PF, UNI_PO,
	UNI_SM, UNI_SC, UNI_SK, UNI_SO,
	UNI_ZS, UNI_ZL, UNI_ZP,
	UNI_CC, UNI_CF, UNI_CS, UNI_CO,
};

struct uni_cat_range {
	uint32_t lo, hi; /* inclusive */
	uint8_t cat;     /* enum uni_cat */
};

struct uni_map {
	uint32_t cp;
	uint8_t n;
	uint32_t to[UNI_MAP_MAX];
};

extern const char uni_version[];
extern const struct uni_cat_range uni_cat_ranges[];
extern const size_t uni_cat_ranges_len;
extern const struct uni_map uni_lower_map[];
extern const size_t uni_lower_map_len;
extern const struct uni_map uni_strip_map[];
extern const size_t uni_strip_map_len;

/* Decode the sequence at s[0..n) (n >= 1).  Returns its byte length (1..4)
 * and the code point in *cp; an invalid, overlong, surrogate or truncated
 * sequence gives length 1 and *cp = UNI_INVALID. */
size_t uni_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Byte length of the valid sequence at s[0..n), or 1 for a bad byte. */
static inline size_t uni_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	if (s[0] < 0x80)
		return 1;
	return uni_decode(s, n, &cp);
}

/* Encode cp (<= 0x10FFFF) into out[4]; returns the length. */
size_t uni_encode(uint32_t cp, char *out);

/* Length of the longest prefix of s[0..n) that ends on a complete sequence
 * and holds only valid ones, except that a valid *prefix* of a sequence at
 * the very end is left out (how many bytes to hold back: n - result). */
size_t uni_valid_prefix(const unsigned char *s, size_t n, bool *bad);

/* Bytes to replace by one U+FFFD at a bad position s[0..n): the longest
 * prefix that could have started a sequence (Unicode's "maximal subpart"),
 * at least 1. */
size_t uni_bad_len(const unsigned char *s, size_t n);

enum uni_cat uni_category(uint32_t cp);

/* Unicode White_Space (Rust char::is_whitespace). */
bool uni_is_whitespace(uint32_t cp);

/* Full lowercase of cp into out[UNI_MAP_MAX]; returns the count (>= 1). */
size_t uni_tolower(uint32_t cp, uint32_t *out);

/* NFD of cp with non-spacing marks removed, into out[UNI_MAP_MAX]; returns
 * the count (0 when cp is itself a non-spacing mark). */
size_t uni_strip_accents(uint32_t cp, uint32_t *out);

#endif
