#!/usr/bin/env bash
# The model maker's output is deterministic (with --progress too), loads in llama.cpp, gives finite
# logits for every weight type, and llama-completion generates the same 16
# tokens from it twice with greedy sampling on the CPU.
# usage: model_maker_loads.sh MAKER MODEL_LOGITS   (LLAMA_BIN_DIR in the environment)
source "$(dirname "$0")/lib.sh"
MAKER=$1
MODEL_LOGITS=$2
M="$TEST_TMP/tiny"

"$MAKER" -o "$M-a.gguf" --seed 7 >/dev/null
"$MAKER" -o "$M-b.gguf" --seed 7 >/dev/null
"$MAKER" -o "$M-c.gguf" --seed 8 >/dev/null
check "same seed gives the same bytes" cmp -s "$M-a.gguf" "$M-b.gguf"
check "another seed gives other bytes" test -n "$(cmp "$M-a.gguf" "$M-c.gguf" 2>&1)"
"$MAKER" -o "$M-p.gguf" --seed 7 --progress >/dev/null 2>"$TEST_TMP/progress"
check "--progress writes the same bytes" cmp -s "$M-a.gguf" "$M-p.gguf"
check_contains "--progress says when all is written" "$TEST_TMP/progress" "100% of "

for type in f32 f16 q8_0 q4_0; do
    "$MAKER" -o "$M-$type.gguf" --type "$type" >/dev/null
    check "$type model loads and has finite, spread logits" \
        "$MODEL_LOGITS" "$M-$type.gguf" "$LLAMA_BIN_DIR"
done

check "llama-completion runs (1)" complete run1 tiny-a -ngl 0
check "llama-completion runs (2)" complete run2 tiny-a -ngl 0
check_contains "16 tokens generated (15 evals after the prompt)" "$TEST_TMP/run1.log" "/    15 runs"
check "generation is not empty" test -s "$TEST_TMP/run1.out"
check "both runs generate the same text" cmp -s "$TEST_TMP/run1.out" "$TEST_TMP/run2.out"
printf 'generated: %s\n' "$(cat "$TEST_TMP/run1.out")"
finish
