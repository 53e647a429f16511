/* Command-line options of gguf-model-maker: presets, flags, validation. */
#ifndef MODEL_MAKER_OPTIONS_H
#define MODEL_MAKER_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "ggml.h"

struct model_shape {
    const char *preset;      /* name of the preset the shape started from */
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t n_ff;
    uint32_t n_ctx;
    bool tied_embeddings;    /* no output.weight: llama.cpp reuses token_embd */
};

struct maker_options {
    struct model_shape shape;
    enum ggml_type type;     /* type of the 2-D weight matrices */
    uint64_t seed;
    const char *out_path;
    const char *vocab_path;
    bool progress;           /* --progress: say how much is written */
    bool help;
};

/* Exit code for a command line that cannot be used (bad flag or value). */
#define MAKER_EXIT_USAGE 2

/* Parses argv into opts. On a bad command line, prints one line saying what
 * is wrong to stderr and returns false. */
bool maker_parse_args(int argc, char **argv, struct maker_options *opts);

void maker_print_usage(const char *prog);

#endif
