#!/usr/bin/env bash
# gguf-model-maker refuses a bad command line with exit code 2 and a message
# that names the problem, and writes no file.
# usage: model_maker_bad_flags.sh MAKER
source "$(dirname "$0")/lib.sh"
MAKER=$1
OUT="$TEST_TMP/m.gguf"

# expect_usage_error DESCRIPTION EXPECTED-MESSAGE ARGS...
expect_usage_error() {
    local what=$1 message=$2; shift 2
    local err="$TEST_TMP/stderr"
    "$MAKER" "$@" >/dev/null 2>"$err"
    local rc=$?
    if [[ $rc -eq 2 ]]; then pass "$what: exit code 2"; else fail "$what: exit code $rc, want 2"; fi
    check_contains "$what: message" "$err" "$message"
    check "$what: no output file" test ! -e "$OUT"
}

expect_usage_error "unknown flag" "unknown option '--frobnicate'" -o "$OUT" --frobnicate
expect_usage_error "missing output" "no output file: give -o OUT.gguf"
expect_usage_error "flag without value" "option '--n-layer' needs a value" -o "$OUT" --n-layer
expect_usage_error "non-numeric dimension" "--n-embd needs a whole number from 1 to 1000000, got 'abc'" -o "$OUT" --n-embd abc
expect_usage_error "zero dimension" "--n-layer needs a whole number from 1 to 1000000, got '0'" -o "$OUT" --n-layer 0
expect_usage_error "negative seed" "--seed needs a non-negative whole number, got '-3'" -o "$OUT" --seed -3
expect_usage_error "unknown type" "--type 'q3_x' is not one of" -o "$OUT" --type q3_x
expect_usage_error "unknown preset" "unknown preset 'huge'" -o "$OUT" --preset huge
expect_usage_error "head size" "--n-embd 250 must be --n-head 4 times an even head size" -o "$OUT" --n-embd 250
expect_usage_error "kv heads" "--n-head-kv 3 must divide --n-head 4" -o "$OUT" --n-head-kv 3
expect_usage_error "block size" "must be multiples of 32 for --type q8_0" -o "$OUT" --type q8_0 --n-ff 100

# a missing vocabulary file is a runtime failure (1), not a usage error
"$MAKER" -o "$OUT" --vocab "$TEST_TMP/none.gguf" >/dev/null 2>"$TEST_TMP/err"
rc=$?
check "missing vocabulary: exit code 1" test $rc -eq 1
check_contains "missing vocabulary: message" "$TEST_TMP/err" "cannot read the vocabulary GGUF"
check "--help succeeds" "$MAKER" --help
finish
