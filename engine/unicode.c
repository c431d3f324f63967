/* unicode.c - UTF-8 coding and table lookups for the tokenizers.
 *
 * Decoding follows the Unicode "maximal subpart" rule loosely: every byte
 * that cannot start or continue a well-formed sequence is reported on its
 * own, so callers can treat invalid input byte by byte (the byte-level and
 * byte-fallback tokenizers stay lossless on it).
 */
#include "unicode.h"

size_t uni_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2; v = c & 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3; v = c & 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4; v = c & 0x07; min = 0x10000;
	} else {
		goto bad;
	}
	if (n < len)
		goto bad;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto bad;
	*cp = v;
	return len;
bad:
	*cp = UNI_INVALID;
	return 1;
}

size_t uni_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Whether s[0..n) (n < full length) could still become a valid sequence. */
static bool is_valid_start(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;

	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 4;
	else
		return false;
	if (n >= need)
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char lo = 0x80, hi = 0xBF;
		if (i == 1) {
			if (c == 0xE0) lo = 0xA0;
			if (c == 0xED) hi = 0x9F;
			if (c == 0xF0) lo = 0x90;
			if (c == 0xF4) hi = 0x8F;
		}
		if (s[i] < lo || s[i] > hi)
			return false;
	}
	return true;
}

size_t uni_valid_prefix(const unsigned char *s, size_t n, bool *bad)
{
	size_t i = 0;
	uint32_t cp;

	*bad = false;
	while (i < n) {
		size_t l = uni_decode(s + i, n - i, &cp);
		if (cp == UNI_INVALID) {
			if (is_valid_start(s + i, n - i))
				return i; /* an incomplete tail: hold it back */
			*bad = true;
			return i;
		}
		i += l;
	}
	return i;
}

size_t uni_bad_len(const unsigned char *s, size_t n)
{
	for (size_t k = n < 3 ? n : 3; k > 1; k--)
		if (is_valid_start(s, k))
			return k;
	return 1;
}

enum uni_cat uni_category(uint32_t cp)
{
	size_t lo = 0, hi = uni_cat_ranges_len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < uni_cat_ranges[mid].lo)
			hi = mid;
		else if (cp > uni_cat_ranges[mid].hi)
			lo = mid + 1;
		else
			return (enum uni_cat)uni_cat_ranges[mid].cat;
	}
	return UNI_CN;
}

bool uni_is_whitespace(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 ||
	       cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
	       cp == 0x3000;
}

static const struct uni_map *map_find(const struct uni_map *m, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < m[mid].cp)
			hi = mid;
		else if (cp > m[mid].cp)
			lo = mid + 1;
		else
			return &m[mid];
	}
	return NULL;
}

size_t uni_tolower(uint32_t cp, uint32_t *out)
{
	const struct uni_map *m;

	if (cp < 0x80) {
		out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
		return 1;
	}
	m = map_find(uni_lower_map, uni_lower_map_len, cp);
	if (!m) {
		out[0] = cp;
		return 1;
	}
	for (size_t i = 0; i < m->n; i++)
		out[i] = m->to[i];
	return m->n;
}

size_t uni_strip_accents(uint32_t cp, uint32_t *out)
{
	const struct uni_map *m;

	if (cp < 0xC0) {
		out[0] = cp;
		return 1;
	}
	if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllable: L V (T) */
		uint32_t s = cp - 0xAC00, t = s % 28;
		out[0] = 0x1100 + s / 588;
		out[1] = 0x1161 + (s % 588) / 28;
		if (!t)
			return 2;
		out[2] = 0x11A7 + t;
		return 3;
	}
	m = map_find(uni_strip_map, uni_strip_map_len, cp);
	if (m) {
		for (size_t i = 0; i < m->n; i++)
			out[i] = m->to[i];
		return m->n;
	}
	if (uni_category(cp) == UNI_MN)
		return 0;
	out[0] = cp;
	return 1;
}
