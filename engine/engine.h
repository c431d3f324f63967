/* engine.h - the public interface of libhalo_engine.
 *
 * The engine loads GGUF model files, knows the ggml quantization formats,
 * tokenizes text from a model's own vocabulary and (later) runs model graphs
 * on the CPU and Vulkan backends.  Nothing here knows about agents, skills
 * or the store.
 *
 * Errors: functions return 0 on success or a negative enum engine_err; the
 * text of the last error on the calling thread is engine_errmsg().  It names
 * what was wrong and where (file, key, tensor, offset).
 *
 * Sections: errors | quant types | GGUF | tokenizer | inference | sampling |
 * generation | Vulkan devices.
 */
#ifndef HALO_ENGINE_H
#define HALO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== errors ============================================================ */

enum engine_err {
	ENGINE_OK = 0,
	ENGINE_EIO = -1,          /* open/read/mmap failed */
	ENGINE_EFORMAT = -2,      /* the file or input is malformed */
	ENGINE_ENOMEM = -3,
	ENGINE_EINVAL = -4,       /* bad argument from the caller */
	ENGINE_ENOTFOUND = -5,    /* key or tensor absent */
	ENGINE_EUNSUPPORTED = -6, /* valid but not supported (type, byte order, ...) */
};

/* The last error message of the calling thread ("" if none).  Borrowed. */
const char *engine_errmsg(void);

/* ==== quant types ======================================================= */

/* ggml type ids, as stored in GGUF tensor infos.  Values are part of the file
 * format and must not change. */
enum quant_type {
	QT_F32 = 0,
	QT_F16 = 1,
	QT_Q4_0 = 2,
	QT_Q4_1 = 3,
	QT_Q5_0 = 6,
	QT_Q5_1 = 7,
	QT_Q8_0 = 8,
	QT_Q8_1 = 9,
	QT_Q2_K = 10,
	QT_Q3_K = 11,
	QT_Q4_K = 12,
	QT_Q5_K = 13,
	QT_Q6_K = 14,
	QT_Q8_K = 15,
	QT_IQ4_NL = 20,
	QT_IQ4_XS = 23,
	QT_BF16 = 30,
	QT_COUNT = 40 /* one past the largest id the table is sized for */
};

/* ==== GGUF ============================================================== */

/* GGUF metadata value types (file format ids). */
enum gguf_vtype {
	GGUF_VT_UINT8 = 0,
	GGUF_VT_INT8 = 1,
	GGUF_VT_UINT16 = 2,
	GGUF_VT_INT16 = 3,
	GGUF_VT_UINT32 = 4,
	GGUF_VT_INT32 = 5,
	GGUF_VT_FLOAT32 = 6,
	GGUF_VT_BOOL = 7,
	GGUF_VT_STRING = 8,
	GGUF_VT_ARRAY = 9,
	GGUF_VT_UINT64 = 10,
	GGUF_VT_INT64 = 11,
	GGUF_VT_FLOAT64 = 12,
	GGUF_VT_COUNT
};

#define GGUF_MAX_DIMS 4

/* A tensor of an open file.  All pointers are borrowed from the file and
 * valid until gguf_close(). */
struct gguf_tensor {
	const char *name;            /* NUL-terminated */
	uint32_t n_dims;
	int64_t ne[GGUF_MAX_DIMS];   /* ne[0] = elements per row; unused dims are 1 */
	enum quant_type type;
	uint64_t offset;             /* from the start of the data section */
	uint64_t nbytes;
	const void *data;            /* inside the mapping */
};

/* A string inside the file: not NUL-terminated. */
struct gguf_str {
	const char *ptr;
	uint64_t len;
};

struct gguf_file; /* opaque */

/* -- GGUF functions (engine/gguf.c) -- */

/* Open and fully validate a GGUF file (v1, v2, v3; little-endian only) by
 * mmap.  Every count, length, type id, dimension, offset and alignment is
 * checked before use; every tensor's bytes lie inside the file and no two
 * tensors overlap.  On error *out is NULL and engine_errmsg() names the
 * file and the key or tensor at fault. */
int gguf_open(struct gguf_file **out, const char *path);

/* The same over a caller-owned buffer (fuzzing, tests); `data` must outlive
 * the handle.  `name` is used in error messages. */
int gguf_open_mem(struct gguf_file **out, const void *data, size_t size,
		  const char *name);

void gguf_close(struct gguf_file *f); /* accepts NULL */

uint32_t gguf_version(const struct gguf_file *f);
uint64_t gguf_file_size(const struct gguf_file *f);
uint32_t gguf_alignment(const struct gguf_file *f);
uint64_t gguf_data_offset(const struct gguf_file *f); /* start of tensor data */

/* Metadata: keys are indexed 0..gguf_kv_count()-1. */
size_t gguf_kv_count(const struct gguf_file *f);
const char *gguf_kv_key(const struct gguf_file *f, size_t i); /* NUL-terminated */
enum gguf_vtype gguf_kv_type(const struct gguf_file *f, size_t i);
/* For arrays: the element type and count (0 / GGUF_VT_COUNT otherwise). */
enum gguf_vtype gguf_kv_arr_type(const struct gguf_file *f, size_t i);
uint64_t gguf_kv_arr_len(const struct gguf_file *f, size_t i);

/* Index of `key`, or -1. */
int64_t gguf_find_key(const struct gguf_file *f, const char *key);

/* Typed getters by key.  A missing key gives `def`.  An integer key of any
 * integer type is converted when the value fits; a key of another type is a
 * format error: these return `def` and, if `err` is non-NULL, set *err to
 * ENGINE_EFORMAT with engine_errmsg() naming the key.  (*err is untouched on
 * success, so one err can collect a sequence of reads.) */
uint64_t gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t def, int *err);
int64_t gguf_get_i64(const struct gguf_file *f, const char *key, int64_t def, int *err);
uint32_t gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t def, int *err);
double gguf_get_f64(const struct gguf_file *f, const char *key, double def, int *err); /* f32/f64/ints */
float gguf_get_f32(const struct gguf_file *f, const char *key, float def, int *err);
bool gguf_get_bool(const struct gguf_file *f, const char *key, bool def, int *err);
/* A string value (borrowed, not NUL-terminated); {NULL, 0} when missing. */
struct gguf_str gguf_get_str(const struct gguf_file *f, const char *key, int *err);

/* Array element access by key index (bounds-checked: an index out of range
 * or a wrong element type returns 0 / {NULL,0}).  Strings are borrowed. */
struct gguf_str gguf_arr_str(const struct gguf_file *f, size_t kv, uint64_t i);
int64_t gguf_arr_int(const struct gguf_file *f, size_t kv, uint64_t i);
double gguf_arr_float(const struct gguf_file *f, size_t kv, uint64_t i);
/* Raw pointer to a numeric array's elements (little-endian, packed), for bulk
 * reads such as token scores; NULL for string arrays. */
const void *gguf_arr_data(const struct gguf_file *f, size_t kv);

/* Tensors. */
size_t gguf_tensor_count(const struct gguf_file *f);
const struct gguf_tensor *gguf_tensor_at(const struct gguf_file *f, size_t i);
const struct gguf_tensor *gguf_tensor_find(const struct gguf_file *f, const char *name); /* NULL if absent */

/* The name the file was opened under (path or gguf_open_mem's name). */
const char *gguf_name(const struct gguf_file *f);

/* "uint32", "string", ... for a value type; "?" for an unknown id. */
const char *gguf_vtype_name(enum gguf_vtype t);

/* -- GGUF writer (engine/gguf_write.c) --
 *
 * Builds a GGUF v3 file: metadata in the order added, then tensor infos and
 * tensor data in the order added, each tensor padded to the alignment.
 * Tensor data is borrowed from the caller and streamed to the file at write
 * time, so a large model is never copied in memory.  The writer checks what
 * it needs to lay out the file (types, dims, block sizes) but not key or
 * name uniqueness: tests use it to build files that gguf_open() must refuse. */
struct gguf_writer; /* opaque */

int gguf_writer_new(struct gguf_writer **out);
void gguf_writer_free(struct gguf_writer *w); /* accepts NULL */

/* Lay tensors out at multiples of `alignment` (a power of two; default 32)
 * and add the key general.alignment (uint32) with it. */
int gguf_writer_set_alignment(struct gguf_writer *w, uint32_t alignment);

/* A scalar of any non-string, non-array type; `val` points to a value of
 * the matching C type (uint8_t, int16_t, float, bool, ...). */
int gguf_writer_add_val(struct gguf_writer *w, const char *key, enum gguf_vtype type,
			const void *val);
int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v);
int gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v);
int gguf_writer_add_bool(struct gguf_writer *w, const char *key, bool v);
int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *s);
/* A string of `len` bytes (may hold any bytes). */
int gguf_writer_add_strn(struct gguf_writer *w, const char *key, const char *s, size_t len);
/* An array of n numeric (or bool) elements of `elem` packed as C values. */
int gguf_writer_add_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem,
			const void *elems, uint64_t n);
/* An array of n NUL-terminated strings. */
int gguf_writer_add_arr_str(struct gguf_writer *w, const char *key,
			    const char *const *strs, uint64_t n);

/* A tensor of `type` with dims ne[0..n_dims-1] (ne[0] innermost, a multiple
 * of the block size).  `data` must hold quant_row_size(type, ne[0]) * rows
 * bytes and stay valid until the write; NULL writes zero bytes. */
int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, enum quant_type type,
			   uint32_t n_dims, const int64_t *ne, const void *data);

/* Write the file atomically: a temporary file in the same directory, fsync,
 * rename over `path`.  On error nothing is left at `path` or beside it. */
int gguf_writer_write(struct gguf_writer *w, const char *path);
/* The same bytes into a malloc()ed buffer the caller frees. */
int gguf_writer_write_mem(struct gguf_writer *w, void **out, size_t *out_size);

/* -- model info (engine/gguf_info.c) -- */

/* Per tensor type totals. */
struct engine_model_type_stat {
	uint32_t n_tensors;
	uint64_t n_elements;
	uint64_t n_bytes;
};

/* What a GGUF model file declares, summed up for `halo-agent model info`.
 * Strings are copied (truncated to fit, control bytes replaced by '?');
 * numbers absent from the file are 0. */
struct engine_model_info {
	char arch[64];               /* general.architecture */
	char name[128];              /* general.name */
	uint32_t gguf_version;
	uint64_t file_size;
	uint64_t n_tensors;
	uint64_t n_params;           /* sum of all tensors' elements */
	uint64_t tensor_bytes;       /* sum of all tensors' bytes */
	int64_t file_type;           /* general.file_type; -1 when absent */
	const char *file_type_name;  /* static: "MOSTLY_Q4_K_M", "" when unknown */
	struct engine_model_type_stat types[QT_COUNT]; /* by enum quant_type */
	/* <arch>.* hyperparameters; a per-layer array gives its largest value */
	uint64_t context_length;
	uint64_t embedding_length;
	uint64_t block_count;
	uint64_t feed_forward_length;
	uint64_t head_count;
	uint64_t head_count_kv;
	uint64_t expert_count;
	uint64_t expert_used_count;
	char tokenizer_model[32];    /* tokenizer.ggml.model: "llama", "gpt2", ... */
	uint64_t vocab_size;         /* length of tokenizer.ggml.tokens */
	bool has_chat_template;      /* tokenizer.chat_template present */
	/* Weight bytes read to produce one token: every tensor, except that
	 * token_embd contributes one row (or all of it when the output
	 * projection is tied to it, i.e. there is no output.weight) and MoE
	 * expert tensors (*_exps) contribute expert_used_count/expert_count. */
	uint64_t bytes_per_token;
};

/* Fill *out from an open file.  ENGINE_EFORMAT when a key has the wrong
 * type (engine_errmsg() names it). */
int engine_model_info(struct engine_model_info *out, const struct gguf_file *f);

/* The llama.cpp name of a general.file_type value ("MOSTLY_Q4_K_M"), or
 * NULL when unknown. */
const char *engine_file_type_name(int64_t file_type);

/* -- end GGUF -- */

/* ==== quant functions (engine/quant.c, quant_cpu.c, quant_<isa>.c) ===== */

/* Row conversion: n must be a multiple of the type's block size. */
typedef void (*quant_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*quant_from_float_fn)(const float *src, void *dst, int64_t n);

/* Dot product of one weight row `w` (the type's own format) with one
 * activation row `a` in the type's vec_dot_type format, both n elements
 * (n a multiple of the weight type's block size).  Activations made by
 * from_float of Q8_0 / Q8_K hold quants in [-127, 127]; the SIMD kernels rely
 * on that (-128 would overflow a 16-bit pair sum). */
typedef float (*quant_vec_dot_fn)(int64_t n, const void *w, const void *a);

/* A tile of a matrix product: nr weight rows (w, w + ws, ...) against nc
 * activation rows (a, a + as, ...), same formats and n as vec_dot:
 *     out[c * os + r] = vec_dot(n, w + r * ws, a + c * as)
 * for r < nr <= gemm_nr and c < nc <= gemm_nc (os counts floats).  The
 * kernels keep the tile in registers, so each weight block is decoded once
 * for nc columns and each activation block loaded once for nr rows.  Results
 * equal vec_dot's up to float summation order. */
typedef void (*quant_gemm_fn)(int64_t n, int nr, int nc, const void *w, size_t ws,
			      const void *a, size_t as, float *out, size_t os);

/* A matrix-vector product (token generation): nr >= 1 weight rows (w,
 * w + ws, ...) against one activation row a, any nr:
 *     out[r] = vec_dot(n, w + r * ws, a)
 * Work that depends on the activation only (its scales, sums, layout) is
 * done once per call, not per row, so callers pass as many rows as they
 * can.  Results equal vec_dot's up to float summation order. */
typedef void (*quant_gemv_fn)(int64_t n, int64_t nr, const void *w, size_t ws,
			      const void *a, float *out);

/* Batched products on prepared activations (prompt processing).  xprep
 * turns one activation row (vec_dot_type, n elements) into the kernel's own
 * layout (its quants in the weight decoder's order, the per-block scales
 * and sums it needs), xsize(n) bytes, a multiple of 64; xgemm multiplies
 * nr weight rows by nc prepared rows (x, x + xs, ...; xs a multiple of
 * xsize(n), 64-byte aligned), any nr, nc >= 1:
 *     out[c * os + r] = vec_dot(n, w + r * ws, a_c)
 * up to float summation order.  The activation-only work is done once per
 * row by xprep instead of once per weight tile. */
typedef size_t (*quant_xsize_fn)(int64_t n);
typedef void (*quant_xprep_fn)(const void *a, void *x, int64_t n);
typedef void (*quant_xgemm_fn)(int64_t n, int64_t nr, int64_t nc, const void *w, size_t ws,
			       const void *x, size_t xs, float *out, size_t os);

/* One entry per supported type.  The scalar to_float is the reference: it
 * reproduces ggml's dequantization bit for bit and is the test oracle for
 * every faster kernel. */
struct quant_traits {
	const char *name;        /* "Q4_K" */
	int64_t block_size;      /* elements per block */
	size_t type_size;        /* bytes per block */
	bool quantized;          /* false for F32/F16/BF16 */
	quant_to_float_fn to_float;      /* scalar reference; never NULL */
	quant_from_float_fn from_float;  /* NULL where no kernel needs it */
	/* CPU kernels of the active instruction set (see engine_cpu_caps). */
	quant_to_float_fn to_float_fast; /* same bits as to_float, faster */
	enum quant_type vec_dot_type;    /* activation format vec_dot reads */
	quant_vec_dot_fn vec_dot;        /* NULL for activation-only types */
	quant_gemm_fn gemm;              /* NULL where vec_dot is NULL */
	int gemm_nr, gemm_nc;            /* largest tile gemm takes */
	quant_gemv_fn gemv;              /* NULL: use gemm with nc = 1 */
	quant_xsize_fn xsize;            /* all three NULL: use gemm */
	quant_xprep_fn xprep;
	quant_xgemm_fn xgemm;
};

/* The traits of `t`, or NULL for an id that is not a supported type.
 * Thread-safe; the first call detects the CPU (see engine_cpu_caps_get). */
const struct quant_traits *quant_traits_of(enum quant_type t);

/* Bytes of a row of n elements; 0 if n is not a multiple of the block size
 * or the type is unknown. */
size_t quant_row_size(enum quant_type t, int64_t n);

/* The type's name, or "?" for an unknown id. */
const char *quant_type_name(enum quant_type t);

/* Exact IEEE half / bfloat16 conversions.  f32 -> f16 and f32 -> bf16 round
 * to nearest even; overflow gives inf; NaN stays NaN (quiet); f16 subnormals
 * are produced and read exactly. */
float quant_f16_to_f32(uint16_t h);
uint16_t quant_f32_to_f16(float f);
float quant_bf16_to_f32(uint16_t h);
uint16_t quant_f32_to_bf16(float f);

/* -- CPU kernel sets (engine/quant_cpu.c) -- */

/* Kernel sets, in increasing order of capability. */
enum engine_isa {
	ENGINE_ISA_SCALAR = 0, /* portable C, always present */
	ENGINE_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
	ENGINE_ISA_AVX512 = 2, /* AVX-512 F + BW + VL (plus the AVX2 set);
				* its VNNI variant where the CPU has AVX512_VNNI */
	ENGINE_ISA_COUNT
};

/* What the CPU offers and which kernel set runs. */
struct engine_cpu_caps {
	bool avx2, fma, f16c;
	bool avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16;
	enum engine_isa best;   /* highest set this CPU and this build support */
	enum engine_isa active; /* the set in use (<= best) */
	bool forced;            /* active was lowered by HALO_CPU_ISA or engine_cpu_set_isa */
};

/* Fill *out.  The first call (from here or quant_traits_of) detects the CPU
 * once and reads HALO_CPU_ISA=scalar|avx2|avx512, which lowers the active
 * set (a request above `best` is clamped to best). */
void engine_cpu_caps_get(struct engine_cpu_caps *out);

/* Switch every quant_traits vec_dot / to_float_fast to `isa`.  For tests,
 * benchmarks and debugging: call it while no other thread uses the kernels.
 * Returns ENGINE_EUNSUPPORTED if the CPU or the build lacks `isa`. */
int engine_cpu_set_isa(enum engine_isa isa);

/* "scalar", "avx2", "avx512"; "?" for an unknown value. */
const char *engine_isa_name(enum engine_isa isa);

/* -- end quant -- */

/* ==== tokenizer (engine/tok_*.c, engine/tokenizer.c) ==================== */

/* A vocabulary read from a GGUF file's tokenizer.* keys, and the tokenizer
 * it implies: SentencePiece (`llama`), byte-level BPE (`gpt2`, with the
 * pre-tokenizer named by tokenizer.ggml.pre) or WordPiece (`bert`).
 * Encoding reproduces the Hugging Face tokenizers the GGUF was made from
 * (checked against llama.cpp's published vectors).  A loaded vocab is
 * immutable: any number of threads may encode and decode with it at once. */
struct tok_vocab; /* opaque */

enum tok_kind {
	TOK_KIND_SPM = 1, /* tokenizer.ggml.model = "llama" */
	TOK_KIND_BPE = 2, /* "gpt2" */
	TOK_KIND_WPM = 3, /* "bert" */
};

/* Token types as stored in tokenizer.ggml.token_type. */
enum tok_type {
	TOK_TYPE_UNDEFINED = 0,
	TOK_TYPE_NORMAL = 1,
	TOK_TYPE_UNKNOWN = 2,
	TOK_TYPE_CONTROL = 3,
	TOK_TYPE_USER_DEFINED = 4,
	TOK_TYPE_UNUSED = 5,
	TOK_TYPE_BYTE = 6,
};

#define TOK_NULL ((int32_t)-1) /* "no such token" */
#define TOK_MAX_TEXT ((size_t)1 << 30) /* longest text tok_encode accepts */

/* Read the vocabulary of `f`.  Everything needed is copied: `f` may be
 * closed right after.  Unknown model or pre-tokenizer names are
 * ENGINE_EUNSUPPORTED; inconsistent arrays are ENGINE_EFORMAT. */
int tok_vocab_load(struct tok_vocab **out, const struct gguf_file *f);
void tok_vocab_free(struct tok_vocab *v); /* accepts NULL */

enum tok_kind tok_vocab_kind(const struct tok_vocab *v);
const char *tok_vocab_pre(const struct tok_vocab *v); /* "llama-bpe", "default", ... */
int32_t tok_n_vocab(const struct tok_vocab *v);

/* Special ids, TOK_NULL when the vocab has none. */
int32_t tok_bos(const struct tok_vocab *v);
int32_t tok_eos(const struct tok_vocab *v);
int32_t tok_eot(const struct tok_vocab *v);
int32_t tok_unk(const struct tok_vocab *v);
int32_t tok_pad(const struct tok_vocab *v);
int32_t tok_sep(const struct tok_vocab *v);
bool tok_add_bos(const struct tok_vocab *v); /* what add_special adds */
bool tok_add_eos(const struct tok_vocab *v);
/* End of generation: EOS, EOT and the other end markers the vocab names. */
bool tok_is_eog(const struct tok_vocab *v, int32_t id);

/* TOK_TYPE_UNDEFINED for an id out of range. */
enum tok_type tok_token_type(const struct tok_vocab *v, int32_t id);
/* The token's vocabulary text (borrowed, NUL-terminated; "" when out of
 * range), e.g. "\u2581Hello" for SPM or "\u0120world" for BPE. */
const char *tok_token_text(const struct tok_vocab *v, int32_t id, size_t *len);
/* Exact-text lookup of a vocabulary entry; TOK_NULL if absent. */
int32_t tok_find(const struct tok_vocab *v, const char *text, size_t len);

/* Encode text[0..len) (any bytes; invalid UTF-8 is kept byte for byte where
 * the tokenizer can: byte fallback, byte-level BPE).
 *   add_special:   add BOS / EOS (and BERT's CLS/SEP) as the vocab asks.
 *   parse_special: text of control tokens ("<|eot_id|>") becomes that
 *                  token; otherwise it is plain text.  User-defined tokens
 *                  are always matched, as Hugging Face does.
 * Writes at most `cap` ids to out and the number of ids of the full
 * encoding to *n_out.  Returns 0, or ENGINE_EINVAL when cap was too small
 * (then *n_out says how many are needed) or len > TOK_MAX_TEXT,
 * ENGINE_ENOMEM. */
int tok_encode(const struct tok_vocab *v, const char *text, size_t len,
	       bool add_special, bool parse_special,
	       int32_t *out, size_t cap, size_t *n_out);
/* The same into a malloc'ed array the caller frees (*out NULL on error). */
int tok_encode_alloc(int32_t **out, size_t *n_out, const struct tok_vocab *v,
		     const char *text, size_t len, bool add_special, bool parse_special);

/* The bytes a token stands for: SPM "\u2581" becomes ' ', <0xAB> the byte
 * 0xAB, BPE's byte-to-unicode characters their bytes, WPM word starts get
 * their space.  Control tokens give "" unless `special`.  Returns the
 * length (may be > cap: then nothing is written); -1 for a bad id. */
long tok_token_to_piece(const struct tok_vocab *v, int32_t id, bool special,
			char *buf, size_t cap);
/* Longest piece any token gives (a buffer this size always suffices). */
size_t tok_max_piece(const struct tok_vocab *v);

/* Decode flags. */
#define TOK_DECODE_SPECIAL 1u     /* render control tokens' text */
#define TOK_DECODE_KEEP_SPACE 2u  /* keep the space SPM puts before the first word */

/* Decode ids into buf (raw bytes: invalid UTF-8 stays as it is).  Returns
 * the full length; writes only when it fits in cap (NUL-terminated when
 * length < cap).  -1 for a bad id. */
long tok_decode(const struct tok_vocab *v, const int32_t *ids, size_t n,
		unsigned flags, char *buf, size_t cap);

/* Streaming detokenizer: push ids one at a time and get only complete
 * UTF-8 back; a character split across tokens (byte-fallback or byte-level
 * pieces) is held until its last byte arrives.  Bytes that can never form
 * a character come out as U+FFFD.  Plain state: no allocation, no free. */
struct tok_decoder {
	const struct tok_vocab *vocab;
	unsigned flags;            /* TOK_DECODE_* */
	bool started;              /* a non-empty piece was seen */
	unsigned char n_held;
	unsigned char held[4];     /* an incomplete UTF-8 sequence */
};
void tok_decoder_init(struct tok_decoder *d, const struct tok_vocab *v, unsigned flags);
/* Bytes of `out` that one push or flush may need at most. */
size_t tok_decoder_max_out(const struct tok_vocab *v);
/* Append token `id`; writes the text that is now complete to out and its
 * length to *n_out.  ENGINE_EINVAL for a bad id or cap < tok_decoder_max_out. */
int tok_decoder_push(struct tok_decoder *d, int32_t id, char *out, size_t cap, size_t *n_out);
/* End of stream: whatever is held comes out (as U+FFFD); the state resets. */
int tok_decoder_flush(struct tok_decoder *d, char *out, size_t cap, size_t *n_out);

/* -- end tokenizer -- */

/* ==== inference (engine/model.c, ctx.c, forward.c) ====================== */

struct engine_model; /* opaque: weights (mmap), hyperparameters, vocabulary */
struct engine_ctx;   /* opaque: a backend, the KV cache and buffers */

struct engine_model_opts {
	unsigned version;       /* ENGINE_MODEL_OPTS_VERSION */
};
#define ENGINE_MODEL_OPTS_VERSION 1
#define ENGINE_MODEL_OPTS_INIT { ENGINE_MODEL_OPTS_VERSION }

/* Open a GGUF model of a supported architecture (llama, qwen2, qwen3,
 * qwen3moe, gemma3).  Hyperparameters come only from metadata; a missing
 * required key, a missing tensor, a tensor of the wrong shape or a type
 * without a kernel is an error naming it.  opts may be NULL. */
int engine_model_open(struct engine_model **out, const char *path,
		      const struct engine_model_opts *opts);
void engine_model_close(struct engine_model *m); /* accepts NULL */

const struct tok_vocab *engine_model_vocab(const struct engine_model *m);
const struct gguf_file *engine_model_gguf(const struct engine_model *m);
const char *engine_model_arch(const struct engine_model *m);
uint32_t engine_model_n_vocab(const struct engine_model *m);
uint32_t engine_model_n_ctx_train(const struct engine_model *m);
uint64_t engine_model_n_params(const struct engine_model *m);
uint64_t engine_model_size(const struct engine_model *m); /* weight bytes */

enum engine_backend_kind {
	ENGINE_BACKEND_AUTO = 0, /* a Vulkan GPU if there is one, else the CPU */
	ENGINE_BACKEND_CPU = 1,
	ENGINE_BACKEND_VULKAN = 2,
};

enum engine_kv_type {
	ENGINE_KV_F16 = 0,
	ENGINE_KV_F32 = 1,
};

struct engine_ctx_params {
	unsigned version;        /* ENGINE_CTX_PARAMS_VERSION */
	uint32_t n_ctx;          /* KV cache positions; 0 = min(training context, 4096) */
	uint32_t n_batch;        /* tokens per forward pass; longer inputs are split */
	int n_threads;           /* CPU threads; <= 0 = one per core */
	enum engine_kv_type kv_type;
	enum engine_backend_kind backend;
	int device;              /* Vulkan device index */
	bool logits_all;         /* keep logits of every token, not only the last */
	/* since version 2: */
	const char *cache_dir;   /* Vulkan pipeline cache directory; NULL =
				  * $XDG_CACHE_HOME/halo-agent/vulkan (or
				  * ~/.cache/...), "" = none */
	bool profile;            /* Vulkan: device time per shader, a table
				  * to stderr when the context is freed */
};
#define ENGINE_CTX_PARAMS_VERSION 2
#define ENGINE_CTX_PARAMS_INIT \
	{ ENGINE_CTX_PARAMS_VERSION, 0, 512, 0, ENGINE_KV_F16, ENGINE_BACKEND_AUTO, 0, false, \
	  NULL, false }

/* Create a context: the backend, the KV cache sized for n_ctx and every
 * buffer a forward pass needs, all allocated here and never per token.
 * params may be NULL for defaults. */
int engine_ctx_new(struct engine_ctx **out, struct engine_model *m,
		   const struct engine_ctx_params *params);
void engine_ctx_free(struct engine_ctx *c); /* accepts NULL */

/* Run tokens [0, n) at the next positions of the sequence (appending to the
 * KV cache).  Afterwards engine_ctx_logits gives the logits of the last
 * token, or of all n with logits_all.  Exceeding n_ctx is ENGINE_EINVAL
 * with the cache unchanged; an id outside the vocabulary likewise. */
int engine_decode(struct engine_ctx *c, const int32_t *tokens, size_t n);

/* Logits of the last decode: *n_rows rows of n_vocab floats.  Borrowed,
 * valid until the next decode. */
const float *engine_ctx_logits(const struct engine_ctx *c, size_t *n_rows);

uint32_t engine_ctx_pos(const struct engine_ctx *c);   /* tokens in the cache */
uint32_t engine_ctx_n_ctx(const struct engine_ctx *c);
const char *engine_ctx_backend(const struct engine_ctx *c);
int engine_ctx_threads(const struct engine_ctx *c);
/* Forget the sequence: the next decode starts at position 0. */
void engine_ctx_reset(struct engine_ctx *c);
/* Drop the positions from `pos` on (pos <= current). */
int engine_ctx_truncate(struct engine_ctx *c, uint32_t pos);

/* Device-side candidate selection: with k > 0 (<= ENGINE_TOPK_MAX) each
 * decode leaves, instead of the logits row, the k largest finite logits
 * and their ids (larger first, lower id on ties), picked by the backend,
 * so a GPU sends back 2k words, not n_vocab floats; engine_ctx_logits()
 * then has no rows.  0 turns it off.  ENGINE_EUNSUPPORTED where the
 * backend cannot (the CPU backend: its logits are host memory anyway) or
 * the context keeps every row's logits. */
#define ENGINE_TOPK_MAX 64
int engine_ctx_set_device_topk(struct engine_ctx *c, uint32_t k);

/* The candidates of the last decode with device top-k on: their count
 * (up to k; fewer where fewer logits are finite), ids and values. */
size_t engine_ctx_topk(const struct engine_ctx *c, const int32_t **ids, const float **vals);

/* ==== sampling (engine/sample.c) ====================================== */

/* A sampler turns one row of logits into a token id.  The chain, in order
 * (llama.cpp's default order and semantics):
 *   1. penalties over the last penalty_last_n accepted ids: a token seen c
 *      times gets  l = l > 0 ? l / repeat : l * repeat,  then
 *      l -= c * frequency + presence  (each once per distinct token);
 *   2. temp <= 0: greedy - the largest penalized logit (lowest id on ties);
 *      the steps below are skipped;
 *   3. top-k: keep the k largest logits (k <= 0 or k >= n_vocab: off);
 *   4. top-p: with p = softmax(kept logits), keep the shortest prefix of
 *      the descending order whose sum reaches top_p (>= 1: off);
 *   5. min-p: keep tokens with p >= min_p * p_max (<= 0: off);
 *   6. temperature: draw from softmax(l / temp) over what is kept.
 * Every step keeps at least one token.  Ties in the ordering are broken by
 * the lower id, so a seed always gives the same tokens.  The random
 * generator is the sampler's own (xoshiro256**, seeded by splitmix64).
 * Every buffer is allocated by engine_sampler_new; sampling allocates
 * nothing.  A sampler is used by one thread at a time. */
struct engine_sampler; /* opaque */

struct engine_sampler_params {
	unsigned version;          /* ENGINE_SAMPLER_PARAMS_VERSION */
	float temp;                /* <= 0: greedy */
	int32_t top_k;             /* <= 0: off */
	float top_p;               /* >= 1: off */
	float min_p;               /* <= 0: off */
	float repeat_penalty;      /* 1: off; must be > 0 */
	float frequency_penalty;   /* 0: off */
	float presence_penalty;    /* 0: off */
	uint32_t penalty_last_n;   /* ids the penalties look back on; 0: off */
	uint64_t seed;
};
#define ENGINE_SAMPLER_PARAMS_VERSION 1
#define ENGINE_SAMPLER_PARAMS_INIT \
	{ ENGINE_SAMPLER_PARAMS_VERSION, 0.8f, 40, 0.95f, 0.05f, 1.0f, 0.0f, 0.0f, 64, 0 }

/* Largest penalty_last_n accepted (the history ring is allocated whole). */
#define ENGINE_SAMPLER_MAX_LAST_N 65536u

/* A candidate after the chain's filters (engine_sampler_candidates). */
struct engine_token_prob {
	int32_t id;
	float logit;               /* after penalties (before temperature) */
	float p;                   /* softmax over the kept set at temperature 1 */
};

/* A sampler for rows of n_vocab logits.  params may be NULL for defaults.
 * ENGINE_EINVAL for a NaN or infinite value, top_p < 0, min_p outside
 * [0, 1], repeat_penalty <= 0 or penalty_last_n > ENGINE_SAMPLER_MAX_LAST_N. */
int engine_sampler_new(struct engine_sampler **out, uint32_t n_vocab,
		       const struct engine_sampler_params *params);
void engine_sampler_free(struct engine_sampler *s); /* accepts NULL */

uint32_t engine_sampler_n_vocab(const struct engine_sampler *s);

/* Forget the history and restart the random sequence from the seed. */
void engine_sampler_reset(struct engine_sampler *s);

/* Record `id` in the penalty history (prompt ids and every sampled id;
 * engine_generate does both).  Ids outside the vocabulary are ignored. */
void engine_sampler_accept(struct engine_sampler *s, int32_t id);

/* Sample one id from logits[0..n_vocab) (not modified); does not accept
 * it.  ENGINE_EINVAL when no logit is finite. */
int engine_sampler_sample(struct engine_sampler *s, const float *logits, int32_t *out);

/* How many of a row's best logits this sampler's chain can ever keep when
 * it needs no other logit: 1 for greedy, top_k for a top-k chain of at
 * most ENGINE_TOPK_MAX; 0 where it needs the whole row (penalties change
 * logits before the selection, or no top-k).  For engine_ctx_set_device_topk. */
uint32_t engine_sampler_device_k(const struct engine_sampler *s);

/* engine_sampler_sample from the n best candidates of a row (as
 * engine_ctx_topk gives them, n <= the sampler's device_k): the same id,
 * and the same random draw, as from the whole row. */
int engine_sampler_sample_top(struct engine_sampler *s, const int32_t *ids, const float *vals,
			      size_t n, int32_t *out);

/* Steps 1-5 of the chain without the draw: the kept candidates in
 * descending order of logit, *n_out of them (one for greedy).  Borrowed,
 * valid until the next call on s.  For tests and for showing
 * alternatives. */
int engine_sampler_candidates(struct engine_sampler *s, const float *logits,
			      const struct engine_token_prob **out, size_t *n_out);

/* ==== generation (engine/generate.c) =================================== */

/* Why engine_generate stopped. */
enum engine_stop {
	ENGINE_STOP_LIMIT = 0,     /* n_predict tokens were generated */
	ENGINE_STOP_EOG = 1,       /* the model produced an end-of-generation id */
	ENGINE_STOP_STRING = 2,    /* a stop string appeared in the text */
	ENGINE_STOP_CONTEXT = 3,   /* n_predict 0 and the context is full */
	ENGINE_STOP_CALLER = 4,    /* the callback asked to stop */
};

#define ENGINE_GEN_MAX_STOP 16       /* stop strings */
#define ENGINE_GEN_MAX_STOP_LEN 256  /* bytes per stop string */

struct engine_gen_params {
	unsigned version;          /* ENGINE_GEN_PARAMS_VERSION */
	uint32_t n_predict;        /* tokens to generate at most; 0: until the context is full */
	const char *const *stop;   /* stop strings, NULL-terminated; NULL for none */
	bool ignore_eog;           /* keep going past end-of-generation ids */
	unsigned decode_flags;     /* TOK_DECODE_*; KEEP_SPACE suits a continuation */
};
#define ENGINE_GEN_PARAMS_VERSION 1
#define ENGINE_GEN_PARAMS_INIT \
	{ ENGINE_GEN_PARAMS_VERSION, 128, NULL, false, TOK_DECODE_KEEP_SPACE }

/* Called once per generated id, in order.  `text` (len bytes, not
 * NUL-terminated, complete UTF-8 as far as the model's bytes are) is the
 * output that became final with this id: text that could still be the
 * start of a stop string is held back and comes with a later id, and text
 * from a stop string on is never passed.  A final call with id TOK_NULL
 * delivers what was held at the end (not made after a stop string or a
 * stop by the callback).  Return non-zero to stop (ENGINE_STOP_CALLER). */
typedef int (*engine_gen_fn)(void *ud, int32_t id, const char *text, size_t len);

struct engine_gen_result {
	size_t n_prompt;           /* prompt ids decoded */
	size_t n_gen;              /* ids generated (an end-of-generation id excluded) */
	double t_prompt_s;         /* seconds decoding the prompt */
	double t_gen_s;            /* seconds from the first sample to the end */
	enum engine_stop stop;
};

/* Decode `prompt` (n_prompt >= 1 ids) after what c already holds, then
 * sample, accept and decode ids one at a time until a stop condition.
 * Prompt ids go into the sampler's penalty history.  Every generated id but
 * the last is fed back: the cache ends holding the prompt and the output
 * without its last id (decode that id to continue the sequence).  With
 * n_predict > 0, n_prompt + n_predict must fit the free positions of c,
 * else ENGINE_EINVAL before anything runs.  params may be NULL.  The
 * sampler must have the model's n_vocab.  Where the sampler's chain needs
 * only a row's best k <= 8 logits (engine_sampler_device_k: greedy, small
 * top-k) and the backend can pick them (a GPU), only those come back per
 * token (the same ids as from
 * whole rows); the last step's logits are then not kept, and
 * HALO_HOST_SAMPLING=1 turns this off.  On error *out still holds the
 * counts reached. */
int engine_generate(struct engine_gen_result *out, struct engine_ctx *c,
		    struct engine_sampler *s, const int32_t *prompt, size_t n_prompt,
		    const struct engine_gen_params *params, engine_gen_fn fn, void *ud);

/* ==== Vulkan devices (engine/vk_probe.c) ================================ */

#define ENGINE_VK_MAX_HEAPS 16

/* What a Vulkan physical device offers the engine.  Filled by probing, never
 * assumed. */
struct engine_vk_device {
	char name[256];
	const char *type;            /* "integrated", "discrete", "virtual", "cpu", "other" */
	uint32_t vendor_id, device_id;
	uint32_t api_version;        /* VK_MAKE_API_VERSION packed */
	uint32_t driver_version;
	char driver_name[256];       /* "" when the device predates Vulkan 1.2 */
	char driver_info[256];
	uint32_t subgroup_size;      /* default */
	uint32_t subgroup_min, subgroup_max; /* 0 when size control is absent */
	bool subgroup_arithmetic;    /* subgroupAdd etc. in compute */
	uint32_t max_shared_memory;  /* maxComputeSharedMemorySize, bytes */
	uint64_t max_storage_buffer_range; /* bytes */
	uint32_t max_workgroup_invocations;
	bool storage_16bit, storage_8bit, float16, int8, integer_dot;
	uint32_t n_heaps;
	struct {
		uint64_t size;
		bool device_local;
	} heaps[ENGINE_VK_MAX_HEAPS];
	bool device_local_host_visible; /* a memory type both: zero-copy uploads */
};

struct engine_vk_info {
	bool loader_found;
	char loader_error[256];      /* why the loader or the instance failed */
	uint32_t instance_version;
	size_t n_devices;
	struct engine_vk_device *devices;
};

/* Load libvulkan at run time (env HALO_VK_LOADER names another library) and
 * list every physical device.  No loader or no device is not an error: the
 * info says so.  Returns ENGINE_ENOMEM only. */
int engine_vk_probe(struct engine_vk_info *out);
void engine_vk_info_free(struct engine_vk_info *info); /* the device array */

/* The read bandwidth Vulkan device `device` (an index of engine_vk_probe's
 * list) reaches: a shader reads a buffer of about `bytes` (at most one
 * binding's range), best of three runs, in GB/s.  ENGINE_EUNSUPPORTED when
 * the build or the machine has no such device. */
int engine_vk_bandwidth(int device, size_t bytes, double *gbps);

#ifdef __cplusplus
}
#endif

#endif /* HALO_ENGINE_H */
