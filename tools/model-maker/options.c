#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct model_shape presets[] = {
    /* for tests: loads and runs in well under a second on one core */
    { "tiny",     256,  4,  4, 2,   768,  2048, false },
    { "small",    1024, 8,  16, 4,  2816, 4096, false },
    /* the shapes of Llama-3.2-1B and Llama-3.1-8B (context kept modest so
     * that the default KV cache of a llama.cpp tool fits in memory) */
    { "llama-1b", 2048, 16, 32, 8,  8192, 8192, true },
    { "llama-8b", 4096, 32, 32, 8, 14336, 8192, false },
};

/* Weight types that ggml can produce from F32 without an importance matrix. */
static const enum ggml_type weight_types[] = {
    GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
    GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1,
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

void maker_print_usage(const char *prog)
{
    printf("usage: %s -o OUT.gguf [options]\n"
           "Writes a llama-architecture GGUF model with random weights, deterministic for a seed.\n\n"
           "  -o, --out PATH       output file (required)\n"
           "  --preset NAME        tiny (default), small, llama-1b, llama-8b\n"
           "  --type T             weight type: f32, f16 (default), bf16, q8_0, q4_0, q4_1, q5_0, q5_1\n"
           "  --seed N             random seed (default 1)\n"
           "  --vocab PATH         GGUF file whose tokenizer.* keys are copied\n"
           "                       (default: %s)\n"
           "  --n-embd N, --n-layer N, --n-head N, --n-head-kv N, --n-ff N, --n-ctx N\n"
           "                       override one dimension of the preset\n"
           "  --tied, --untied     share token_embd as the output matrix, or not\n"
           "  --progress           a line on stderr at every tenth of the weights written\n"
           "  -h, --help           this text\n",
           prog, MAKER_DEFAULT_VOCAB);
}

static bool usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gguf-model-maker: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return false;
}

static bool parse_u32(const char *flag, const char *text, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v == 0 || v > 1000000) {
        return usage_error("%s needs a whole number from 1 to 1000000, got '%s'", flag, text);
    }
    *out = (uint32_t)v;
    return true;
}

static bool parse_u64(const char *flag, const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0) {
        return usage_error("%s needs a non-negative whole number, got '%s'", flag, text);
    }
    *out = (uint64_t)v;
    return true;
}

static bool parse_type(const char *text, enum ggml_type *out)
{
    for (size_t i = 0; i < COUNT_OF(weight_types); i++) {
        if (strcmp(ggml_type_name(weight_types[i]), text) == 0) {
            *out = weight_types[i];
            return true;
        }
    }
    return usage_error("--type '%s' is not one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1", text);
}

static bool apply_preset(const char *name, struct model_shape *shape)
{
    for (size_t i = 0; i < COUNT_OF(presets); i++) {
        if (strcmp(presets[i].preset, name) == 0) {
            *shape = presets[i];
            return true;
        }
    }
    return usage_error("unknown preset '%s'; known: tiny, small, llama-1b, llama-8b", name);
}

/* Flags that take a value, and where a numeric one goes in the shape. */
static uint32_t *shape_field(struct model_shape *s, const char *flag)
{
    if (strcmp(flag, "--n-embd") == 0)    return &s->n_embd;
    if (strcmp(flag, "--n-layer") == 0)   return &s->n_layer;
    if (strcmp(flag, "--n-head") == 0)    return &s->n_head;
    if (strcmp(flag, "--n-head-kv") == 0) return &s->n_head_kv;
    if (strcmp(flag, "--n-ff") == 0)      return &s->n_ff;
    if (strcmp(flag, "--n-ctx") == 0)     return &s->n_ctx;
    return NULL;
}

static bool takes_value(const char *flag)
{
    static const char *const with_value[] = {
        "-o", "--out", "--preset", "--type", "--seed", "--vocab",
        "--n-embd", "--n-layer", "--n-head", "--n-head-kv", "--n-ff", "--n-ctx",
    };
    for (size_t i = 0; i < COUNT_OF(with_value); i++) {
        if (strcmp(flag, with_value[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool apply_flag(const char *flag, const char *value, struct maker_options *o)
{
    uint32_t *dim = shape_field(&o->shape, flag);
    if (dim != NULL) {
        return parse_u32(flag, value, dim);
    }
    if (strcmp(flag, "-o") == 0 || strcmp(flag, "--out") == 0) {
        o->out_path = value;
    } else if (strcmp(flag, "--vocab") == 0) {
        o->vocab_path = value;
    } else if (strcmp(flag, "--type") == 0) {
        return parse_type(value, &o->type);
    } else if (strcmp(flag, "--seed") == 0) {
        return parse_u64(flag, value, &o->seed);
    } else if (strcmp(flag, "--tied") == 0) {
        o->shape.tied_embeddings = true;
    } else if (strcmp(flag, "--untied") == 0) {
        o->shape.tied_embeddings = false;
    } else if (strcmp(flag, "--progress") == 0) {
        o->progress = true;
    } else if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) {
        o->help = true;
    } else if (strcmp(flag, "--preset") != 0) { /* the preset was applied first */
        return usage_error("unknown option '%s'", flag);
    }
    return true;
}

static bool check_shape(const struct maker_options *o)
{
    const struct model_shape *s = &o->shape;
    if (s->n_embd % s->n_head != 0 || (s->n_embd / s->n_head) % 2 != 0) {
        return usage_error("--n-embd %u must be --n-head %u times an even head size", s->n_embd, s->n_head);
    }
    if (s->n_head % s->n_head_kv != 0) {
        return usage_error("--n-head-kv %u must divide --n-head %u", s->n_head_kv, s->n_head);
    }
    const long long block = (long long)ggml_blck_size(o->type);
    if (s->n_embd % block != 0 || s->n_ff % block != 0) {
        return usage_error("--n-embd and --n-ff must be multiples of %lld for --type %s",
                           block, ggml_type_name(o->type));
    }
    return true;
}

/* The preset is applied before any other flag, wherever it stands, so that
 * dimension flags always override it. */
static bool apply_preset_flag(int argc, char **argv, struct maker_options *o)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--preset") == 0) {
            return apply_preset(argv[i + 1], &o->shape);
        }
    }
    return true;
}

bool maker_parse_args(int argc, char **argv, struct maker_options *o)
{
    memset(o, 0, sizeof *o);
    o->shape = presets[0];
    o->type = GGML_TYPE_F16;
    o->seed = 1;
    o->vocab_path = MAKER_DEFAULT_VOCAB;
    if (!apply_preset_flag(argc, argv, o)) {
        return false;
    }
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *value = NULL;
        if (takes_value(flag)) {
            if (i + 1 >= argc) {
                return usage_error("option '%s' needs a value", flag);
            }
            value = argv[++i];
        }
        if (!apply_flag(flag, value, o)) {
            return false;
        }
    }
    if (o->help) {
        return true;
    }
    if (o->out_path == NULL) {
        return usage_error("no output file: give -o OUT.gguf");
    }
    return check_shape(o);
}
