#!/usr/bin/env bash
# The model maker's output is deterministic (with --progress too), loads in llama.cpp, gives finite
# logits for every weight type, llama-completion generates the same 16
# tokens from it twice with greedy sampling on the CPU, and llama.cpp reads
# back the shape asked for (tensors, their types and shapes, hyperparameters).
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
check "both runs generate the same text" cmp -s "$TEST_TMP/run1.out" "$TEST_TMP/run2.out"
printf 'generated: %s\n' "$(cat "$TEST_TMP/run1.out")"

# The model asked for, as llama.cpp reads it: every tensor's name, type and
# shape (LLAMA_TRACE lists them), the tensor count and the hyperparameters.
# expected_tensors EMBD LAYERS HEADS HEADS_KV FF VOCAB TYPE OUTPUT: a llama
# model's tensors, `name type ne0 ne1` (norms in f32; output.weight only
# when OUTPUT is yes, else token_embd serves as the output too), sorted
expected_tensors() {
    local embd=$1 layers=$2 heads=$3 heads_kv=$4 ff=$5 vocab=$6 type=$7 output=$8
    local embd_kv=$((embd / heads * heads_kv))
    {
        echo "token_embd.weight $type $embd $vocab"
        echo "output_norm.weight f32 $embd 1"
        [[ $output == yes ]] && echo "output.weight $type $embd $vocab"
        for ((l = 0; l < layers; l++)); do
            printf "blk.$l.%s\n" "attn_norm.weight f32 $embd 1" "attn_q.weight $type $embd $embd" \
                "attn_k.weight $type $embd $embd_kv" "attn_v.weight $type $embd $embd_kv" \
                "attn_output.weight $type $embd $embd" "ffn_norm.weight f32 $embd 1" \
                "ffn_gate.weight $type $embd $ff" "ffn_up.weight $type $embd $ff" "ffn_down.weight $type $ff $embd"
        done
    } | sort
}
# loaded_tensors LOG: the tensors llama.cpp loaded, in the same form (once:
# it reads the file twice, to fit the model to memory first)
loaded_tensors() {
    awk '/llama_model_loader: - tensor split/ { sub(/.*split +[0-9]+: +/, ""); gsub(/[][,]/, " "); print $1, $2, $3, $4 }' \
        "$1" | sort -u
}
# check_shape NAME TYPE OUTPUT MAKER-FLAGS...: a model made with these
# flags, of type TYPE and the dimensions below
EMBD=96 LAYERS=3 HEADS=6 HEADS_KV=2 FF=160
check_shape() {
    local name=$1 type=$2 output=$3; shift 3
    "$MAKER" -o "$M-$name.gguf" --type "$type" --n-embd $EMBD --n-layer $LAYERS --n-head $HEADS \
        --n-head-kv $HEADS_KV --n-ff $FF "$@" >/dev/null
    LLAMA_TRACE=1 complete "$name" "tiny-$name" -ngl 0 -n 1 -v
    local log=$TEST_TMP/$name.log vocab count
    vocab=$(sed -n 's/.*tokenizer\.ggml\.tokens *arr\[str,\([0-9]*\)\].*/\1/p' "$log" | head -1)
    check "$name: llama.cpp loads the model (a vocabulary of ${vocab:-no} tokens)" test -n "$vocab"
    expected_tensors $EMBD $LAYERS $HEADS $HEADS_KV $FF "$vocab" "$type" "$output" >"$TEST_TMP/$name.expected"
    check "$name: its tensors have the names, types and shapes asked for" \
        diff "$TEST_TMP/$name.expected" <(loaded_tensors "$log")
    count=$(wc -l <"$TEST_TMP/$name.expected")
    check_contains "$name: $count tensors in all" "$log" " and $count tensors from"
    local line
    for line in "n_embd                = $EMBD" "n_layer               = $LAYERS" "n_head                = $HEADS" \
                "n_head_kv             = $HEADS_KV" "n_ff                  = $FF" "file type   = ${type^^}"; do
        check_contains "$name: ${line%%  *} as asked" "$log" "print_info: $line"
    done
}
check_shape untied q8_0 yes --untied
check_shape tied f16 no --tied
finish
