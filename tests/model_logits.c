/* Loads a model with libllama on the CPU, decodes a short prompt and checks
 * that the logits of the last position are finite and spread out: a random
 * model whose activations blow up (NaN/inf) or collapse (all logits equal)
 * is no use for comparing outputs across backends.
 * usage: model_logits MODEL.gguf BACKEND_DIR */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ggml-backend.h"
#include "llama.h"

static void quiet_log(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) {
        fputs(text, stderr);
    }
}

static int check_logits(const float *logits, int n_vocab)
{
    double sum = 0.0, sum_sq = 0.0;
    int non_finite = 0;
    for (int i = 0; i < n_vocab; i++) {
        if (!isfinite(logits[i])) {
            non_finite++;
            continue;
        }
        sum += logits[i];
        sum_sq += (double)logits[i] * logits[i];
    }
    const double mean = sum / n_vocab;
    const double std_dev = sqrt(sum_sq / n_vocab - mean * mean);
    printf("logits: %d values, %d not finite, mean %.4f, std %.4f\n", n_vocab, non_finite, mean, std_dev);
    if (non_finite > 0) {
        fprintf(stderr, "FAIL: %d logits are NaN or infinite\n", non_finite);
        return 1;
    }
    if (!(std_dev > 1e-3)) {
        fprintf(stderr, "FAIL: logits are all (nearly) equal: std %g\n", std_dev);
        return 1;
    }
    return 0;
}

static int decode_prompt(struct llama_model *model)
{
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 256;
    cp.n_batch = 256;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (ctx == NULL) {
        fprintf(stderr, "FAIL: cannot create a llama context\n");
        return 1;
    }
    const char *prompt = "The quick brown fox jumps over the lazy dog because";
    llama_token tokens[64];
    const int n = llama_tokenize(vocab, prompt, (int32_t)strlen(prompt), tokens, 64, true, false);
    int rc = 1;
    if (n <= 1) {
        fprintf(stderr, "FAIL: tokenizing the prompt gave %d tokens\n", n);
    } else if (llama_decode(ctx, llama_batch_get_one(tokens, n)) != 0) {
        fprintf(stderr, "FAIL: llama_decode failed\n");
    } else {
        rc = check_logits(llama_get_logits_ith(ctx, -1), llama_vocab_n_tokens(vocab));
    }
    llama_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.gguf BACKEND_DIR\n", argv[0]);
        return 2;
    }
    llama_log_set(quiet_log, NULL);
    ggml_backend_load_all_from_path(argv[2]);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (model == NULL) {
        fprintf(stderr, "FAIL: llama.cpp cannot load %s\n", argv[1]);
        return 1;
    }
    const int rc = decode_prompt(model);
    llama_model_free(model);
    llama_backend_free();
    return rc;
}
