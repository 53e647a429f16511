/* gguf-model-maker: writes a llama-architecture GGUF model with random
 * weights, for tests and benchmarks where no real model can be downloaded.
 *
 * The tokenizer comes from a vocabulary GGUF of the llama.cpp tree; the
 * weights are uniform noise scaled so that activations stay finite through
 * every layer. Output is a pure function of the options: same flags and seed,
 * same bytes. Tensors are streamed in row chunks, so an 8B model needs only a
 * few megabytes of memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml.h"
#include "gguf.h"
#include "options.h"

#define MAX_TENSOR_NAME 64
/* Floats generated per write. Dimensions are limited to 1e6 by the option
 * parser, so a chunk always holds at least one whole row. */
#define CHUNK_ELEMENTS (1 << 22)

struct weight_spec {
    char name[MAX_TENSOR_NAME];
    int64_t ne0, ne1;        /* ne1 == 1 for a vector */
    enum ggml_type type;
    float std_dev;           /* 0: a norm weight, all ones */
};

/* ---- deterministic noise ------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *name; name++) {
        h = (h ^ (unsigned char)*name) * 1099511628211ull;
    }
    return h;
}

/* Uniform in [-a, a] with a = sqrt(3) * std_dev, so the variance is std_dev^2. */
static void fill_uniform(float *dst, size_t n, float std_dev, uint64_t *state)
{
    const float a = sqrtf(3.0f) * std_dev;
    for (size_t i = 0; i < n; i++) {
        const float u = (float)(splitmix64(state) >> 40) / (float)(1ull << 24);
        dst[i] = (2.0f * u - 1.0f) * a;
    }
}

/* ---- model layout ------------------------------------------------------- */

static void add_spec(struct weight_spec *specs, int *n, const char *name,
                     int64_t ne0, int64_t ne1, enum ggml_type type, float std_dev)
{
    struct weight_spec *s = &specs[(*n)++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ne0 = ne0;
    s->ne1 = ne1;
    s->type = ne1 == 1 ? GGML_TYPE_F32 : type;
    s->std_dev = std_dev;
}

static void add_layer_specs(struct weight_spec *specs, int *n, int layer,
                            const struct model_shape *m, enum ggml_type t)
{
    const int64_t head_dim = m->n_embd / m->n_head;
    const int64_t n_embd_kv = head_dim * m->n_head_kv;
    const float in_std = 1.0f / sqrtf((float)m->n_embd);
    /* projections back into the residual stream are scaled down by the
     * depth so that the stream's magnitude grows slowly with the layers */
    const float depth = sqrtf(2.0f * (float)m->n_layer);
    char name[MAX_TENSOR_NAME];

#define LAYER_SPEC(suffix, ne0, ne1, std) \
    snprintf(name, sizeof name, "blk.%d." suffix ".weight", layer); \
    add_spec(specs, n, name, ne0, ne1, t, std)

    LAYER_SPEC("attn_norm", m->n_embd, 1, 0.0f);
    LAYER_SPEC("attn_q", m->n_embd, m->n_embd, in_std);
    LAYER_SPEC("attn_k", m->n_embd, n_embd_kv, in_std);
    LAYER_SPEC("attn_v", m->n_embd, n_embd_kv, in_std);
    LAYER_SPEC("attn_output", m->n_embd, m->n_embd, in_std / depth);
    LAYER_SPEC("ffn_norm", m->n_embd, 1, 0.0f);
    LAYER_SPEC("ffn_gate", m->n_embd, m->n_ff, in_std);
    LAYER_SPEC("ffn_up", m->n_embd, m->n_ff, in_std);
    LAYER_SPEC("ffn_down", m->n_ff, m->n_embd, 1.0f / sqrtf((float)m->n_ff) / depth);
#undef LAYER_SPEC
}

/* Returns the number of specs written to specs (sized by max_specs()). */
static int model_specs(struct weight_spec *specs, const struct model_shape *m,
                       enum ggml_type t, int64_t n_vocab)
{
    const float embd_std = 1.0f / sqrtf((float)m->n_embd);
    int n = 0;
    add_spec(specs, &n, "token_embd.weight", m->n_embd, n_vocab, t, embd_std);
    for (uint32_t l = 0; l < m->n_layer; l++) {
        add_layer_specs(specs, &n, (int)l, m, t);
    }
    add_spec(specs, &n, "output_norm.weight", m->n_embd, 1, t, 0.0f);
    if (!m->tied_embeddings) {
        add_spec(specs, &n, "output.weight", m->n_embd, n_vocab, t, embd_std);
    }
    return n;
}

static int max_specs(const struct model_shape *m)
{
    return 3 + 9 * (int)m->n_layer;
}

/* ---- metadata ----------------------------------------------------------- */

/* llama_ftype values (llama.h) for the weight types the maker writes. */
static uint32_t file_type_of(enum ggml_type t)
{
    switch (t) {
    case GGML_TYPE_F32:  return 0;
    case GGML_TYPE_F16:  return 1;
    case GGML_TYPE_Q4_0: return 2;
    case GGML_TYPE_Q4_1: return 3;
    case GGML_TYPE_Q8_0: return 7;
    case GGML_TYPE_Q5_0: return 8;
    case GGML_TYPE_Q5_1: return 9;
    case GGML_TYPE_BF16: return 32;
    default:             return 0;
    }
}

static int64_t vocab_size(const struct gguf_context *vocab)
{
    const int64_t tokens = gguf_find_key(vocab, "tokenizer.ggml.tokens");
    return tokens < 0 ? -1 : (int64_t)gguf_get_arr_n(vocab, tokens);
}

static void copy_tokenizer(struct gguf_context *out, const struct gguf_context *vocab)
{
    gguf_set_kv(out, vocab);
    for (int64_t i = 0; i < gguf_get_n_kv(vocab); i++) {
        const char *key = gguf_get_key(vocab, i);
        if (strncmp(key, "tokenizer.", 10) != 0) {
            gguf_remove_key(out, key);
        }
    }
}

static void set_hparams(struct gguf_context *g, const struct maker_options *o, int64_t n_vocab)
{
    const struct model_shape *m = &o->shape;
    char name[96];
    snprintf(name, sizeof name, "virtgpu random %s %s seed %llu", m->preset,
             ggml_type_name(o->type), (unsigned long long)o->seed);
    gguf_set_val_str(g, "general.architecture", "llama");
    gguf_set_val_str(g, "general.name", name);
    gguf_set_val_u32(g, "general.file_type", file_type_of(o->type));
    gguf_set_val_u32(g, "llama.vocab_size", (uint32_t)n_vocab);
    gguf_set_val_u32(g, "llama.context_length", m->n_ctx);
    gguf_set_val_u32(g, "llama.embedding_length", m->n_embd);
    gguf_set_val_u32(g, "llama.block_count", m->n_layer);
    gguf_set_val_u32(g, "llama.feed_forward_length", m->n_ff);
    gguf_set_val_u32(g, "llama.attention.head_count", m->n_head);
    gguf_set_val_u32(g, "llama.attention.head_count_kv", m->n_head_kv);
    gguf_set_val_u32(g, "llama.rope.dimension_count", m->n_embd / m->n_head);
    gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_set_val_f32(g, "llama.rope.freq_base", 500000.0f);
}

/* ---- tensor data -------------------------------------------------------- */

static bool write_padding(FILE *f, size_t written, size_t alignment)
{
    static const char zeros[64];
    size_t pad = (alignment - written % alignment) % alignment;
    while (pad > 0) {
        const size_t n = pad < sizeof zeros ? pad : sizeof zeros;
        if (fwrite(zeros, 1, n, f) != n) {
            return false;
        }
        pad -= n;
    }
    return true;
}

static bool write_tensor_data(FILE *f, const struct weight_spec *s, uint64_t seed,
                              float *rows, void *converted)
{
    uint64_t state = seed ^ name_hash(s->name);
    const int64_t rows_per_chunk = CHUNK_ELEMENTS / s->ne0;
    size_t written = 0;
    for (int64_t r = 0; r < s->ne1; r += rows_per_chunk) {
        const int64_t nrows = s->ne1 - r < rows_per_chunk ? s->ne1 - r : rows_per_chunk;
        const size_t n = (size_t)(nrows * s->ne0);
        if (s->std_dev == 0.0f) {
            for (size_t i = 0; i < n; i++) {
                rows[i] = 1.0f;
            }
        } else {
            fill_uniform(rows, n, s->std_dev, &state);
        }
        const size_t bytes = ggml_quantize_chunk(s->type, rows, converted, 0, nrows, s->ne0, NULL);
        if (fwrite(converted, 1, bytes, f) != bytes) {
            return false;
        }
        written += bytes;
    }
    return write_padding(f, written, GGUF_DEFAULT_ALIGNMENT);
}

/* ---- progress (--progress) ---------------------------------------------- */

/* A large preset takes minutes: a line on stderr at every tenth of the
 * tensor data written, with the time taken so far. */
struct progress {
    bool on;
    uint64_t total, written; /* bytes of tensor data */
    int tenths_said;
    time_t start;
};

static uint64_t tensor_bytes(const struct weight_spec *s)
{
    return (uint64_t)ggml_row_size(s->type, s->ne0) * (uint64_t)s->ne1;
}

static struct progress progress_start(bool on, const struct weight_spec *specs, int n_specs)
{
    struct progress p = { .on = on, .start = time(NULL) };
    for (int i = 0; i < n_specs; i++) {
        p.total += tensor_bytes(&specs[i]);
    }
    return p;
}

static void progress_add(struct progress *p, uint64_t bytes)
{
    p->written += bytes;
    const int tenths = p->total > 0 ? (int)(p->written * 10 / p->total) : 10;
    if (p->on && tenths > p->tenths_said) {
        p->tenths_said = tenths;
        fprintf(stderr, "gguf-model-maker: %3d%% of %.2f GiB written (%.0f s)\n", tenths * 10,
                (double)p->total / (1 << 30), difftime(time(NULL), p->start));
    }
}

/* ---- assembling the file ------------------------------------------------ */

static struct gguf_context *describe_model(const struct maker_options *o,
                                           const struct weight_spec *specs, int n_specs,
                                           const struct gguf_context *vocab, int64_t n_vocab)
{
    struct gguf_context *g = gguf_init_empty();
    copy_tokenizer(g, vocab);
    set_hparams(g, o, n_vocab);
    struct ggml_init_params p = { ggml_tensor_overhead() * (size_t)n_specs, NULL, true };
    struct ggml_context *meta = ggml_init(p);
    for (int i = 0; i < n_specs; i++) {
        const int64_t ne[2] = { specs[i].ne0, specs[i].ne1 };
        struct ggml_tensor *t = ggml_new_tensor(meta, specs[i].type, ne[1] == 1 ? 1 : 2, ne);
        ggml_set_name(t, specs[i].name);
        gguf_add_tensor(g, t); /* copies the tensor's description */
    }
    ggml_free(meta);
    return g;
}

static bool write_model(const struct maker_options *o, const struct weight_spec *specs,
                        int n_specs, const struct gguf_context *g)
{
    FILE *f = fopen(o->out_path, "wb");
    if (f == NULL) {
        perror(o->out_path);
        return false;
    }
    float *rows = malloc(sizeof(float) * CHUNK_ELEMENTS);
    void *converted = malloc(sizeof(float) * CHUNK_ELEMENTS);
    /* the metadata ends padded to the alignment, where the first tensor starts */
    bool ok = rows != NULL && converted != NULL && gguf_write_to_file_ptr(g, f, true);
    struct progress progress = progress_start(o->progress, specs, n_specs);
    for (int i = 0; ok && i < n_specs; i++) {
        ok = write_tensor_data(f, &specs[i], o->seed, rows, converted);
        progress_add(&progress, tensor_bytes(&specs[i]));
    }
    free(rows);
    free(converted);
    if (fclose(f) != 0) {
        ok = false;
    }
    if (!ok) {
        fprintf(stderr, "gguf-model-maker: writing %s failed (disk full or not writable?)\n", o->out_path);
        remove(o->out_path);
    }
    return ok;
}

static int make_model(const struct maker_options *o)
{
    struct gguf_init_params vp = { true, NULL };
    struct gguf_context *vocab = gguf_init_from_file(o->vocab_path, vp);
    if (vocab == NULL) {
        fprintf(stderr, "gguf-model-maker: cannot read the vocabulary GGUF '%s'; pass --vocab PATH "
                        "(e.g. models/ggml-vocab-llama-bpe.gguf of a llama.cpp tree)\n", o->vocab_path);
        return 1;
    }
    const int64_t n_vocab = vocab_size(vocab);
    if (n_vocab <= 0) {
        fprintf(stderr, "gguf-model-maker: '%s' has no tokenizer.ggml.tokens list\n", o->vocab_path);
        gguf_free(vocab);
        return 1;
    }
    struct weight_spec *specs = calloc((size_t)max_specs(&o->shape), sizeof *specs);
    const int n_specs = model_specs(specs, &o->shape, o->type, n_vocab);
    struct gguf_context *g = describe_model(o, specs, n_specs, vocab, n_vocab);
    const int rc = write_model(o, specs, n_specs, g) ? 0 : 1;
    gguf_free(g);
    free(specs);
    gguf_free(vocab);
    return rc;
}

int main(int argc, char **argv)
{
    struct maker_options opts;
    if (!maker_parse_args(argc, argv, &opts)) {
        return MAKER_EXIT_USAGE;
    }
    if (opts.help) {
        maker_print_usage(argv[0]);
        return 0;
    }
    const int rc = make_model(&opts);
    if (rc == 0) {
        printf("wrote %s (%s, %s)\n", opts.out_path, opts.shape.preset, ggml_type_name(opts.type));
    }
    return rc;
}
