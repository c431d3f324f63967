#!/bin/sh
# tokenize_vectors.sh - llama.cpp's vocab test vectors through the CLI.
#
# For every vocab in $HALO_TESTDATA/vocab with .inp/.out files, each text
# (the .inp split on "\n__ggml_vocab_test__\n") is written byte for byte to
# a file and run through `halo-agent tokenize -m VOCAB --raw --ids -f FILE`;
# the output must equal that text's .out line.  Every mismatch is shown.
#
# Usage: tests/tokenize_vectors.sh [HALO_AGENT_BINARY]
#        (default $HALO_BIN, else build/halo-agent; data from $HALO_TESTDATA,
#        else ../shared/testdata next to the source tree)
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${HALO_BIN:-$here/build/halo-agent}}
data=${HALO_TESTDATA:-$here/../shared/testdata}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokvec.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

[ -x "$bin" ] || { echo "tokenize_vectors: no binary at $bin" >&2; exit 1; }
command -v python3 >/dev/null || { echo "tokenize_vectors: needs python3 to split .inp" >&2; exit 77; }

fail=0
total_vocabs=0
for inp in "$data"/vocab/*.gguf.inp; do
	[ -e "$inp" ] || continue
	gguf=${inp%.inp}
	out=$gguf.out
	name=$(basename "$gguf" .gguf)
	name=${name#ggml-vocab-}
	[ -e "$out" ] || continue
	total_vocabs=$((total_vocabs + 1))
	rm -rf "$tmp/c"; mkdir "$tmp/c"
	# case files c/0000.txt ... (bytes exact) and c/0000.out (expected line)
	python3 - "$inp" "$out" "$tmp/c" <<'PY' || { echo "split failed: $inp"; fail=1; continue; }
import sys
inp, out, d = sys.argv[1:4]
texts = open(inp, "rb").read().split(b"\n__ggml_vocab_test__\n")
assert texts[-1] == b"", "no separator after the last text"
texts = texts[:-1]
lines = open(out, "rb").read().split(b"\n")
for i, t in enumerate(texts):
    open("%s/%04d.txt" % (d, i), "wb").write(t)
    open("%s/%04d.out" % (d, i), "wb").write(lines[i] + b"\n")
PY
	pass=0; n=0
	for txt in "$tmp"/c/*.txt; do
		exp=${txt%.txt}.out
		n=$((n + 1))
		if "$bin" tokenize -m "$gguf" --raw --ids -f "$txt" >"$tmp/got" 2>"$tmp/err" &&
		   cmp -s "$tmp/got" "$exp"; then
			pass=$((pass + 1))
		else
			fail=1
			echo "MISMATCH $name case $(basename "$txt" .txt):"
			printf '  text:     '; head -c 200 "$txt" | od -An -c | head -3
			printf '  expected:'; cat "$exp"
			printf '  got:     '; cat "$tmp/got" "$tmp/err"
		fi
	done
	echo "vocab $name: $pass/$n"
done
[ "$total_vocabs" -gt 0 ] || { echo "tokenize_vectors: no vectors under $data/vocab" >&2; exit 77; }
exit $fail
