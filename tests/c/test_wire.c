/* Unit tests of the guest's wire format: a ggml graph serialized for the
 * host lists its nodes, then every tensor once, after its sources, with the
 * fields ggml gave it; limits of the format are refused, not truncated. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wire-graph.h"
/* ggml_graph_view, as the scheduler cuts splits */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ggml-impl.h"
#pragma GCC diagnostic pop
#include "frontend.h"
#include "wire.h"
#include "virtgpu-uapi.h"

#define MAX_TENSORS 64

struct parsed_graph {
    uint32_t n_nodes;
    uint64_t nodes[MAX_TENSORS];
    uint32_t n_tensors;
    struct wire_tensor tensors[MAX_TENSORS];
};

/* through the codec's graph reader, which the host uses too */
static bool parse(const void *buf, size_t size, struct parsed_graph *g)
{
    struct wire_graph_reader r;
    if (!wire_graph_read(&r, buf, size, MAX_TENSORS)) {
        return false;
    }
    g->n_nodes = r.n_nodes;
    g->n_tensors = r.n_tensors;
    for (uint32_t i = 0; i < r.n_nodes; i++) {
        g->nodes[i] = wire_graph_node_id(&r, i);
    }
    for (uint32_t i = 0; i < r.n_tensors; i++) {
        wire_graph_tensor(&r, i, &g->tensors[i]);
    }
    /* nothing after the last tensor */
    return size == 4 + 8 * (size_t)r.n_nodes + 4 + sizeof(struct wire_tensor) * r.n_tensors;
}

static int index_of(const struct parsed_graph *g, uint64_t id)
{
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        if (g->tensors[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

static void test_graph(struct ggml_context *ctx)
{
    struct ggml_tensor *w = ggml_new_tensor_2d(ctx, GGML_TYPE_Q8_0, 64, 16);
    struct ggml_tensor *x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 64, 4);
    ggml_set_name(w, "weight");
    ggml_set_input(x);
    struct ggml_tensor *y = ggml_mul_mat(ctx, w, x);
    struct ggml_tensor *z = ggml_add(ctx, y, ggml_view_2d(ctx, y, 16, 4, y->nb[1], 0));
    struct ggml_tensor *out = ggml_soft_max(ctx, ggml_scale(ctx, z, 0.5f));
    ggml_set_output(out);
    struct ggml_cgraph *graph = ggml_new_graph(ctx);
    ggml_build_forward_expand(graph, out);

    static uint8_t buf[1 << 16];
    struct vgpu_tensor_set set = { 0 };
    for (int round = 0; round < 2; round++) { /* the set is reused */
        const size_t size = vgpu_serialize_graph(&set, graph, buf, sizeof buf);
        struct parsed_graph g;
        CHECK(size > 0 && parse(buf, size, &g), "round %d: the graph serializes and parses", round);
        CHECK(g.n_nodes == (uint32_t)ggml_graph_n_nodes(graph), "all %u nodes listed", g.n_nodes);
        bool nodes_in_order = true, sources_first = true;
        for (uint32_t i = 0; i < g.n_nodes; i++) {
            nodes_in_order = nodes_in_order && g.nodes[i] == (uint64_t)(uintptr_t)ggml_graph_node(graph, (int)i);
        }
        for (uint32_t i = 0; i < g.n_tensors; i++) {
            for (int s = 0; s < APIR_MAX_SRC; s++) {
                const uint64_t src = g.tensors[i].src[s];
                sources_first = sources_first && (src == 0 || (index_of(&g, src) >= 0 && index_of(&g, src) < (int)i));
            }
            const uint64_t view = g.tensors[i].view_src;
            sources_first = sources_first && (view == 0 || (index_of(&g, view) >= 0 && index_of(&g, view) < (int)i));
            sources_first = sources_first && index_of(&g, g.tensors[i].id) == (int)i; /* listed once */
        }
        CHECK(nodes_in_order, "node ids in graph order");
        CHECK(sources_first, "every tensor once, after its sources");
        CHECK(g.n_tensors == 7, "7 tensors (w, x, y, its view, z, scale, soft_max): %u", g.n_tensors);
        const int wi = index_of(&g, (uint64_t)(uintptr_t)w);
        CHECK(wi >= 0 && g.tensors[wi].type == GGML_TYPE_Q8_0 && g.tensors[wi].ne[0] == 64 && g.tensors[wi].ne[1] == 16 &&
                  g.tensors[wi].nb[1] == w->nb[1] && strcmp(g.tensors[wi].name, "weight") == 0,
              "the weight's type, shape, strides and name");
        const int xi = index_of(&g, (uint64_t)(uintptr_t)x);
        CHECK(xi >= 0 && (g.tensors[xi].flags & GGML_TENSOR_FLAG_INPUT), "flags travel");
        const int yi = index_of(&g, (uint64_t)(uintptr_t)y);
        CHECK(yi >= 0 && g.tensors[yi].op == GGML_OP_MUL_MAT && g.tensors[yi].src[0] == (uint64_t)(uintptr_t)w,
              "op and sources travel");
        const int outi = index_of(&g, (uint64_t)(uintptr_t)out);
        CHECK(yi >= 0 && g.tensors[yi].use_count == 2 && outi >= 0 && g.tensors[outi].use_count == 0,
              "ggml's use counts travel (y is read by the ADD and the view: %u)", yi >= 0 ? g.tensors[yi].use_count : 0);
    }
    /* a split's nodes count the readers in the whole graph */
    struct ggml_cgraph split = ggml_graph_view(graph, ggml_graph_n_nodes(graph) - 2, ggml_graph_n_nodes(graph));
    const size_t size = vgpu_serialize_graph(&set, &split, buf, sizeof buf);
    struct parsed_graph g;
    const int zi = size > 0 && parse(buf, size, &g) ? index_of(&g, (uint64_t)(uintptr_t)z) : -1;
    CHECK(zi >= 0 && g.tensors[zi].use_count == 1, "a split of the last two nodes carries z's use count (1)");
    CHECK(vgpu_serialize_graph(&set, graph, buf, 100) == 0, "a graph that does not fit is refused");
    free(set.slots);
}

static void test_limits(struct ggml_context *ctx)
{
    struct wire_tensor w;
    struct ggml_tensor *huge = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, (int64_t)1 << 33);
    CHECK(!vgpu_wire_tensor(huge, &w), "a tensor with more than 2^32 elements in a row is refused");
    struct ggml_tensor *t = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 8);
    CHECK(vgpu_wire_tensor(t, &w) && w.buffer == 0 && w.data == 0, "a tensor without buffer has neither");
}

static void test_inline(struct ggml_context *ctx)
{
    struct ggml_tensor *a = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 8);
    struct ggml_tensor *b = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, 8);
    struct ggml_tensor *c = ggml_add(ctx, a, b);
    static uint8_t buf[8192];
    static struct wire_msg_op sent, received;
    vgpu_inline_op(c, &sent.op);
    struct wire_encoder enc;
    wire_encoder_init(&enc, buf, sizeof buf);
    wire_encode_msg_op(&enc, &sent);
    CHECK(wire_encoder_used(&enc) == 3 * sizeof(struct wire_inline_tensor), "the tensor and its two sources");
    struct wire_inline_tensor top;
    memcpy(&top, buf, sizeof top);
    CHECK(top.op == GGML_OP_ADD && top.src[0] == 1 && top.src[1] == 1 && top.src[2] == 0 && top.buffer == 0 &&
              top.data == 0 && top.ne[0] == 8,
          "references are presence marks; no guest pointers travel");
    struct wire_decoder dec;
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc));
    wire_decode_msg_op(&dec, &received);
    CHECK(!dec.fatal && wire_decoder_remaining(&dec) == 0 && wire_inline_op_n_src(&received.op) == 2 &&
              memcmp(&sent, &received, sizeof sent) == 0,
          "the host decodes what the guest encoded");
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc) - 4);
    wire_decode_msg_op(&dec, &received);
    CHECK(dec.fatal, "a truncated op is refused");
}

/* the kernel's ioctl numbers (the drm transport declares them itself) */
static void test_drm_uapi(void)
{
    CHECK(VGPU_DRM_IOCTL_VERSION == 0xc0406400ul, "DRM_IOCTL_VERSION");
    CHECK(VGPU_DRM_IOCTL_GEM_CLOSE == 0x40086409ul, "DRM_IOCTL_GEM_CLOSE");
    CHECK(VGPU_DRM_IOCTL_MAP == 0xc0106441ul, "DRM_IOCTL_VIRTGPU_MAP");
    CHECK(VGPU_DRM_IOCTL_EXECBUFFER == 0xc0406442ul, "DRM_IOCTL_VIRTGPU_EXECBUFFER");
    CHECK(VGPU_DRM_IOCTL_GETPARAM == 0xc0106443ul, "DRM_IOCTL_VIRTGPU_GETPARAM");
    CHECK(VGPU_DRM_IOCTL_GET_CAPS == 0xc0186449ul, "DRM_IOCTL_VIRTGPU_GET_CAPS");
    CHECK(VGPU_DRM_IOCTL_RESOURCE_CREATE_BLOB == 0xc030644aul, "DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB");
    CHECK(VGPU_DRM_IOCTL_CONTEXT_INIT == 0xc010644bul, "DRM_IOCTL_VIRTGPU_CONTEXT_INIT");
}

int main(void)
{
    test_drm_uapi();
    struct ggml_init_params p = { 1 << 20, NULL, true };
    struct ggml_context *ctx = ggml_init(p);
    test_graph(ctx);
    test_limits(ctx);
    test_inline(ctx);
    ggml_free(ctx);
    return FINISH();
}
