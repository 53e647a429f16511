/* The host's proof against graphs a hostile guest builds, class by class:
 * each is refused, or runs without touching a byte outside the guest's own
 * tensors, and the context works after it. Run over libapir in this
 * process (graph_calls.h), on the CPU backend with APIR_MAX_GRAPH_SECONDS=1.
 * With TEST_UNSTOPPABLE set, the GGML library is one whose backend takes no
 * abort callback (two_devices_backend): a graph past the budget ends the
 * context instead. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calls.h"
#include "check.h"
#include "connection.h"
#include "graph_calls.h"

static const struct wire_msg_none NONE = { 0 };

static double now_s(void)
{
    return (double)ggml_time_us() / 1e6;
}

/* a + b of 64 floats each (0 to 63) at those offsets of the buffer:
 * whether it runs and the sums come back right */
static bool add_runs(uint64_t buf, uint64_t a_at, uint64_t b_at, uint64_t sum_at)
{
    const uint32_t ne[4] = { 64, 1, 1, 1 };
    const struct wire_tensor a = test_tensor(1, buf, a_at, GGML_OP_NONE, GGML_TYPE_F32, ne);
    const struct wire_tensor b = test_tensor(2, buf, b_at, GGML_OP_NONE, GGML_TYPE_F32, ne);
    struct wire_tensor c = test_tensor(3, buf, sum_at, GGML_OP_ADD, GGML_TYPE_F32, ne);
    c.src[0] = a.id;
    c.src[1] = b.id;
    float x[64], sum[64];
    for (int i = 0; i < 64; i++) {
        x[i] = (float)i;
    }
    const struct wire_tensor graph[3] = { a, b, c };
    int32_t status = -1;
    return set_bytes(buf, &a, x, sizeof x) && set_bytes(buf, &b, x, sizeof x) && compute(graph, 3, 1, &status) &&
           status == GGML_STATUS_SUCCESS && get_bytes(buf, &c, sum, sizeof sum) && sum[10] == 20.0f &&
           sum[63] == 126.0f;
}

/* the context answers, and computes a + b right */
static bool context_works(uint64_t buf)
{
    return add_runs(buf, 0, 256, 512);
}

/* ---- extents from the kernel's view ---------------------------------------- */

/* a graph of the tensors whose last one is its one node: the call's code */
static uint32_t node_rc(const struct wire_tensor *tensors, uint32_t n)
{
    int32_t status;
    return compute_rc(tensors, n, 1, &status);
}

static struct wire_tensor node_of(uint64_t id, uint64_t buf, uint64_t offset, uint32_t op, enum ggml_type type,
                                  const uint32_t ne[4], const struct wire_tensor *src0, const struct wire_tensor *src1)
{
    struct wire_tensor t = test_tensor(id, buf, offset, op, type, ne);
    t.src[0] = src0 != NULL ? src0->id : 0;
    t.src[1] = src1 != NULL ? src1->id : 0;
    return t;
}

/* A source whose size works out to 0 is never placed, while the kernel
 * indexes it by the other operands' shapes (ADD_ID read rows anywhere
 * past its buffer). */
static void test_empty_sources(uint64_t buf)
{
    const uint32_t a_ne[4] = { 16, 2, 3, 1 }, b_ne[4] = { 16, 4, 0, 1 }, ids_ne[4] = { 2, 3, 1, 1 };
    const struct wire_tensor a = test_tensor(41, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, a_ne);
    struct wire_tensor b = test_tensor(42, buf, 0x2000, GGML_OP_NONE, GGML_TYPE_F32, b_ne);
    b.data = 3 << 18; /* the buffer's very end: nothing of it is placed */
    const struct wire_tensor ids = test_tensor(43, buf, 0x3000, GGML_OP_NONE, GGML_TYPE_I32, ids_ne);
    struct wire_tensor out = node_of(44, buf, 0x4000, GGML_OP_ADD_ID, GGML_TYPE_F32, a_ne, &a, &b);
    out.src[2] = ids.id;
    const int32_t picked[6] = { 0, 1, 2, 3, 0, 1 };
    CHECK(set_bytes(buf, &ids, picked, sizeof picked), "ids set");
    const struct wire_tensor add_id[4] = { a, b, ids, out };
    CHECK(node_rc(add_id, 4) == APIR_CALL_NOT_ALLOWED, "ADD_ID with src[1] of ne2 = 0 (rows read past it) is refused");
    const uint32_t empty_ne[4] = { 16, 0, 1, 1 };
    const struct wire_tensor e = test_tensor(45, buf, 3 << 18, GGML_OP_NONE, GGML_TYPE_F32, empty_ne);
    const struct wire_tensor add = node_of(46, buf, 0x4000, GGML_OP_ADD, GGML_TYPE_F32, a_ne, &a, &e);
    const struct wire_tensor add_empty[3] = { a, e, add };
    CHECK(node_rc(add_empty, 3) == APIR_CALL_NOT_ALLOWED, "an ADD of an empty src[1] to a non-empty src[0] is refused");
}

/* ROPE of 128-wide rows rotating 32 dimensions, with 16 frequency factors
 * at `offset`: ggml-cpu reads 64 of them */
static uint32_t rope_rc(uint64_t buf, uint64_t factors_at, int32_t last_section)
{
    const uint32_t x_ne[4] = { 128, 2, 4, 1 }, pos_ne[4] = { 4, 1, 1, 1 }, f_ne[4] = { 16, 1, 1, 1 };
    const struct wire_tensor x = test_tensor(51, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, x_ne);
    const struct wire_tensor pos = test_tensor(52, buf, 0x2000, GGML_OP_NONE, GGML_TYPE_I32, pos_ne);
    const struct wire_tensor f = test_tensor(53, buf, factors_at, GGML_OP_NONE, GGML_TYPE_F32, f_ne);
    struct wire_tensor out = node_of(54, buf, 0x4000, GGML_OP_ROPE, GGML_TYPE_F32, x_ne, &x, &pos);
    out.src[2] = f.id;
    out.op_params[1] = 32; /* n_dims */
    float ones[16];
    for (int i = 0; i < 16; i++) {
        ones[i] = 1.0f;
    }
    CHECK(set_bytes(buf, &f, ones, sizeof ones), "factors set");
    if (last_section != 0) { /* multi-rope with sections {0, 0, 0, last} */
        out.op_params[2] = GGML_ROPE_TYPE_MROPE;
        out.op_params[14] = last_section;
        struct wire_tensor pos4 = pos;
        pos4.ne[0] = 16;
        const struct wire_tensor graph[4] = { x, pos4, f, out };
        return node_rc(graph, 4);
    }
    const struct wire_tensor graph[4] = { x, pos, f, out };
    return node_rc(graph, 4);
}

static void test_rope_factors(uint64_t buf)
{
    const uint64_t end = 3 << 18;
    CHECK(rope_rc(buf, end - 64, 0) == APIR_CALL_NOT_ALLOWED,
          "ROPE whose 16 factors end the buffer (the CPU reads 64) is refused");
    CHECK(rope_rc(buf, end - 256, 0) == APIR_CALL_OK, "the same with the 64 inside the buffer runs");
    CHECK(rope_rc(buf, end - 256, 32) == APIR_CALL_NOT_ALLOWED,
          "multi-rope with sections {0, 0, 0, 32} (ggml-cpu asserts) is refused");
}

/* kernels that walk rows by a stride the tensor's own extent does not hold */
static void test_row_layouts(uint64_t buf)
{
    const uint32_t ne[4] = { 4, 1, 3, 1 };
    struct wire_tensor a = test_tensor(61, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, ne);
    a.nb[1] = 4096; /* ne[1] is 1: ggml_is_contiguous ignores it; SCALE's rows go by it */
    struct wire_tensor scaled = node_of(62, buf, 0x8000, GGML_OP_SCALE, GGML_TYPE_F32, ne, &a, NULL);
    scaled.nb[1] = 4096;
    const struct wire_tensor scale[2] = { a, scaled };
    CHECK(node_rc(scale, 2) == APIR_CALL_NOT_ALLOWED, "SCALE of rows 4096 bytes apart over 48 bytes is refused");

    const uint32_t q_ne[4] = { 64, 1, 1, 1 }, kv_ne[4] = { 64, 32, 1, 1 };
    const struct wire_tensor q = test_tensor(63, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, q_ne);
    const struct wire_tensor k = test_tensor(64, buf, 0x2000, GGML_OP_NONE, GGML_TYPE_F16, kv_ne);
    const struct wire_tensor v = test_tensor(65, buf, 0x4000, GGML_OP_NONE, GGML_TYPE_F16, kv_ne);
    struct wire_tensor attn = node_of(66, buf, 0x8000, GGML_OP_FLASH_ATTN_EXT, GGML_TYPE_F32, q_ne, &q, &k);
    attn.src[2] = v.id;
    attn.nb[1] = attn.nb[2] = attn.nb[3] = 1 << 20; /* 256 bytes of extent, a row of 1 MiB written */
    const struct wire_tensor fa[4] = { q, k, v, attn };
    CHECK(node_rc(fa, 4) == APIR_CALL_NOT_ALLOWED, "FLASH_ATTN_EXT whose result rows are not packed is refused");
    attn.nb[1] = 256;
    attn.nb[2] = attn.nb[3] = 256;
    const struct wire_tensor fa_packed[4] = { q, k, v, attn };
    CHECK(node_rc(fa_packed, 4) == APIR_CALL_OK, "with packed rows it runs");
}

/* conversions whose kernel needs a layout or memory the plan does not give */
static void test_conversions(uint64_t buf)
{
    const uint32_t ne[4] = { 64, 2, 1, 1 };
    const struct wire_tensor h = test_tensor(71, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F16, ne);
    const struct wire_tensor i = test_tensor(72, buf, 0x2000, GGML_OP_NONE, GGML_TYPE_I32, ne);
    const struct wire_tensor to_i32 = node_of(73, buf, 0x2000, GGML_OP_CPY, GGML_TYPE_I32, ne, &h, &i);
    const struct wire_tensor f16_i32[3] = { h, i, to_i32 };
    CHECK(node_rc(f16_i32, 3) == APIR_CALL_NOT_ALLOWED, "an F16 to I32 copy (no work memory planned) is refused");
    struct wire_tensor moved = node_of(74, buf, 0x2000, GGML_OP_CPY, GGML_TYPE_I32, ne, &h, &i);
    moved.nb[1] = 1024; /* not src[1]'s strides */
    const struct wire_tensor f = test_tensor(75, buf, 0x3000, GGML_OP_NONE, GGML_TYPE_F32, ne);
    moved.src[0] = f.id;
    const struct wire_tensor cpy[3] = { f, i, moved };
    CHECK(node_rc(cpy, 3) == APIR_CALL_NOT_ALLOWED, "a CPY whose result is not laid out as src[1] is refused");

    const uint32_t row_ne[4] = { 4096, 1, 1, 1 }, blocks_ne[4] = { 32, 128, 1, 1 };
    const struct wire_tensor row = test_tensor(76, buf, 0x4000, GGML_OP_NONE, GGML_TYPE_F32, row_ne);
    const struct wire_tensor q8 = test_tensor(77, buf, 0x10000, GGML_OP_NONE, GGML_TYPE_Q8_0, blocks_ne);
    const struct wire_tensor quantized = node_of(78, buf, 0x10000, GGML_OP_CPY, GGML_TYPE_Q8_0, blocks_ne, &row, &q8);
    const struct wire_tensor quantize[3] = { row, q8, quantized };
    CHECK(node_rc(quantize, 3) == APIR_CALL_NOT_ALLOWED,
          "quantizing a row of 4096 into rows of 32 (work memory sized by the result's) is refused");

    const uint32_t src_ne[4] = { 64, 2, 1, 1 }, idx_ne[4] = { 2, 1, 1, 1 }, table_ne[4] = { 64, 4, 1, 1 };
    const struct wire_tensor rows = test_tensor(79, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F16, src_ne);
    const struct wire_tensor idx = test_tensor(80, buf, 0x3000, GGML_OP_NONE, GGML_TYPE_I64, idx_ne);
    const struct wire_tensor table = test_tensor(81, buf, 0x4000, GGML_OP_NONE, GGML_TYPE_F32, table_ne);
    struct wire_tensor set = node_of(82, buf, 0x4000, GGML_OP_SET_ROWS, GGML_TYPE_F32, table_ne, &rows, &idx);
    set.src[2] = table.id;
    set.view_src = table.id;
    const int64_t where[2] = { 0, 1 };
    CHECK(set_bytes(buf, &idx, where, sizeof where), "indices set");
    const struct wire_tensor set_rows[4] = { rows, idx, table, set };
    CHECK(node_rc(set_rows, 4) == APIR_CALL_NOT_ALLOWED,
          "SET_ROWS of F16 rows into F32 (work memory for one thread, run by all) is refused");
}

static void test_op_params(uint64_t buf)
{
    const uint32_t ne[4] = { 64, 2, 1, 1 };
    const struct wire_tensor a = test_tensor(91, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, ne);
    const struct wire_tensor b = test_tensor(92, buf, 0x2000, GGML_OP_NONE, GGML_TYPE_F32, ne);
    struct wire_tensor glu = node_of(93, buf, 0x4000, GGML_OP_GLU, GGML_TYPE_F32, ne, &a, &b);
    glu.op_params[0] = GGML_GLU_OP_SWIGLU_OAI;
    const float limit = -1.0f, alpha = 1.702f;
    memcpy(&glu.op_params[2], &alpha, sizeof alpha);
    memcpy(&glu.op_params[3], &limit, sizeof limit);
    const struct wire_tensor oai[3] = { a, b, glu };
    CHECK(node_rc(oai, 3) == APIR_CALL_NOT_ALLOWED, "swiglu_oai with a negative limit (std::clamp's bounds) is refused");
}

static void test_extents(uint64_t buf)
{
    test_empty_sources(buf);
    test_rope_factors(buf);
    test_row_layouts(buf);
    test_conversions(buf);
    test_op_params(buf);
    CHECK(context_works(buf), "the context works after the extents' graphs");
}

/* ---- aliasing ------------------------------------------------------------ */

/* A node may write over what it reads only in place (same first byte and
 * layout) and only where its kernel is written for it. */
static void test_aliasing(uint64_t buf)
{
    const uint32_t four[4] = { 4, 1, 1, 1 };
    const struct wire_tensor keys = test_tensor(11, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, four);
    struct wire_tensor sorted = test_tensor(12, buf, 0x1000, GGML_OP_ARGSORT, GGML_TYPE_I32, four);
    sorted.src[0] = keys.id;
    const struct wire_tensor argsort[2] = { keys, sorted };
    int32_t status;
    CHECK(compute_rc(argsort, 2, 1, &status) == APIR_CALL_NOT_ALLOWED,
          "an ARGSORT whose result is its own source (std::sort would compare what it permutes) is refused");
    CHECK(add_runs(buf, 0x2000, 0x3000, 0x2000), "an ADD in place (ggml's allocator builds it) runs");
    const uint32_t ne[4] = { 64, 1, 1, 1 };
    const struct wire_tensor a = test_tensor(13, buf, 0x2000, GGML_OP_NONE, GGML_TYPE_F32, ne);
    const struct wire_tensor b = test_tensor(14, buf, 0x3000, GGML_OP_NONE, GGML_TYPE_F32, ne);
    /* one float past its source's first byte */
    const struct wire_tensor shifted = node_of(15, buf, 0x2004, GGML_OP_ADD, GGML_TYPE_F32, ne, &a, &b);
    const struct wire_tensor partly[3] = { a, b, shifted };
    CHECK(compute_rc(partly, 3, 1, &status) == APIR_CALL_NOT_ALLOWED, "an ADD partly over its source is refused");
    struct wire_tensor norm = test_tensor(16, buf, 0x2000, GGML_OP_SUM_ROWS, GGML_TYPE_F32, four);
    norm.ne[0] = 1;
    norm.nb[1] = norm.nb[2] = norm.nb[3] = 4;
    norm.src[0] = a.id;
    const struct wire_tensor sum_rows[2] = { a, norm };
    CHECK(compute_rc(sum_rows, 2, 1, &status) == APIR_CALL_NOT_ALLOWED,
          "a SUM_ROWS over its own source (not an op computed in place) is refused");
    CHECK(context_works(buf), "the context works after the aliasing graphs");
}

/* ---- what the proof relies on is not the guest's to change ---------------- */

/* indices an ARGSORT computes into memory the guest shares (a buffer over
 * its blob): it could rewrite them between the sort and their reader */
static void test_indices_in_guest_memory(struct vgpu_transport *t, uint64_t buf)
{
    struct vgpu_blob blob;
    CHECK(vgpu_transport_create_blob(t, 1 << 16, &blob), "a blob for a buffer over guest memory");
    const struct wire_msg_from_ptr req = { .res_id = blob.res_id, .size = blob.size, .max_tensor_size = blob.size };
    struct wire_msg_buffer_and_type reply = { .buffer = 0 };
    CHECK(vgpu_device_buffer_from_ptr(R, &req, &reply) && reply.buffer != 0, "device_buffer_from_ptr");
    const uint32_t four[4] = { 4, 1, 1, 1 }, rows_ne[4] = { 16, 4, 1, 1 }, out_ne[4] = { 16, 4, 1, 1 };
    const struct wire_tensor keys = test_tensor(21, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, four);
    const struct wire_tensor rows = test_tensor(22, buf, 0x2000, GGML_OP_NONE, GGML_TYPE_F32, rows_ne);
    struct wire_tensor sorted = test_tensor(23, reply.buffer, 0, GGML_OP_ARGSORT, GGML_TYPE_I32, four);
    sorted.src[0] = keys.id;
    struct wire_tensor picked = test_tensor(24, buf, 0x3000, GGML_OP_GET_ROWS, GGML_TYPE_F32, out_ne);
    picked.src[0] = rows.id;
    picked.src[1] = sorted.id;
    const struct wire_tensor graph[4] = { keys, rows, sorted, picked };
    int32_t status;
    CHECK(compute_rc(graph, 4, 2, &status) == APIR_CALL_NOT_ALLOWED,
          "GET_ROWS by indices an ARGSORT computes into guest-shared memory is refused");
    struct wire_tensor private_sorted = sorted;
    private_sorted.buffer = buf;
    private_sorted.data = 0x4000;
    const struct wire_tensor private_graph[4] = { keys, rows, private_sorted, picked };
    CHECK(compute(private_graph, 4, 2, &status) && status == GGML_STATUS_SUCCESS,
          "the same graph with the indices in the host's memory runs");
    const struct wire_msg_u64 free_req = { .value = reply.buffer };
    CHECK(vgpu_buffer_free_buffer(R, &free_req, &none_reply), "free the buffer over guest memory");
    vgpu_transport_destroy_blob(t, &blob);
}

/* ---- work and time --------------------------------------------------------- */

/* zero strides: tensors of 2^36 elements over 16 KiB each, 2^24 rows of
 * 4096 (the CPU takes about 21 s for an ADD of 2^38 on two cores): the
 * call's return code, within a second */
static uint32_t zero_stride_rc(uint64_t buf, uint32_t op)
{
    const uint32_t huge[4] = { 1u << 12, 1u << 12, 1u << 12, 1 };
    struct wire_tensor graph[3];
    for (int i = 0; i < 3; i++) {
        graph[i] = test_tensor(31 + (uint64_t)i, buf, i == 0 ? 0 : 0x10000, i < 2 ? GGML_OP_NONE : op,
                               GGML_TYPE_F32, huge);
        graph[i].nb[1] = graph[i].nb[2] = graph[i].nb[3] = 0;
    }
    graph[2].src[0] = graph[0].id;
    graph[2].src[1] = graph[1].id; /* a CPY's result is src[1] itself */
    int32_t status;
    const double start = now_s();
    const uint32_t rc = compute_rc(graph, 3, 1, &status);
    CHECK(now_s() - start < 1.0, "answered within a second");
    return rc;
}

static void test_work_bound(uint64_t buf)
{
    CHECK(zero_stride_rc(buf, GGML_OP_ADD) == APIR_CALL_NOT_ALLOWED,
          "an ADD of 2^36 elements over zero strides is refused (its result must be contiguous)");
    CHECK(zero_stride_rc(buf, GGML_OP_CPY) == APIR_CALL_OVER_LIMIT,
          "a CPY of 2^36 elements over zero strides is refused as over the work a node may do");
    CHECK(context_works(buf), "the context works after the runaways");
}

/* n MUL_MATs of 256 x 256 by 256 x 256 floats (2^24 multiply-adds each), all
 * from the same inputs into the same result: the call's return code, the
 * seconds it took in *took */
static uint32_t long_graph(uint64_t buf, uint32_t n, double *took)
{
    const uint32_t ne[4] = { 256, 256, 1, 1 };
    struct wire_tensor *graph = calloc(n + 2, sizeof *graph);
    graph[0] = test_tensor(1, buf, 0, GGML_OP_NONE, GGML_TYPE_F32, ne);
    graph[1] = test_tensor(2, buf, 1 << 18, GGML_OP_NONE, GGML_TYPE_F32, ne);
    for (uint32_t i = 0; i < n; i++) {
        graph[2 + i] = test_tensor(3 + i, buf, 2 << 18, GGML_OP_MUL_MAT, GGML_TYPE_F32, ne);
        graph[2 + i].src[0] = graph[0].id;
        graph[2 + i].src[1] = graph[1].id;
    }
    int32_t status;
    const double start = now_s();
    const uint32_t rc = compute_rc(graph, n + 2, n, &status);
    *took = now_s() - start;
    free(graph);
    return rc;
}

/* the number of those MUL_MATs that takes about `seconds` here */
static uint32_t nodes_for(uint64_t buf, double seconds)
{
    double took = 0;
    const uint32_t probe = 5;
    /* the second run: the first one's time includes the graph's decoding */
    CHECK(long_graph(buf, probe, &took) == APIR_CALL_OK && long_graph(buf, probe, &took) == APIR_CALL_OK,
          "%u MUL_MATs of 2^24 multiply-adds run in %.2f s", probe, took);
    const double n = seconds / (took > 1e-4 ? took : 1e-4) * probe;
    return n > 20000 ? 20000 : (uint32_t)n;
}

/* A graph of those MUL_MATs that does not end within the 1 s budget: the
 * call's code, its seconds in *took. The estimate from a probe may be off
 * on a busy machine: a graph that ended sooner is sent again twice as long. */
static uint32_t graph_past_budget(uint64_t buf, double *took)
{
    uint32_t n = nodes_for(buf, 3.0), rc = APIR_CALL_OK;
    for (int tries = 0; tries < 4; tries++, n = n * 2 > 20000 ? 20000 : n * 2) {
        rc = long_graph(buf, n, took);
        if (rc != APIR_CALL_OK || *took >= 1.2) {
            break;
        }
    }
    return rc;
}

/* APIR_MAX_GRAPH_SECONDS=1: a graph of about 3 s of work stops at the
 * deadline (between two nodes), over a limit, and the context goes on */
static void test_time_budget(uint64_t buf)
{
    double took = 0;
    const uint32_t rc = graph_past_budget(buf, &took);
    CHECK(rc == APIR_CALL_OVER_LIMIT && took >= 1.0 && took < 2.5,
          "a graph of MUL_MATs (about 3 s) stops at the 1 s budget: code %u after %.2f s", rc, took);
    CHECK(context_works(buf), "the context works after the stopped graph");
}

/* A backend without an abort callback runs the graph to its end: past the
 * budget, the context ends and refuses every later call. */
static void test_unstoppable(uint64_t buf)
{
    double took = 0;
    const uint32_t rc = graph_past_budget(buf, &took);
    CHECK(rc == APIR_CALL_OK && took >= 1.2, "a backend that cannot stop a graph runs it to its end: %.2f s", took);
    struct wire_msg_i32 count = { .value = -1 };
    CHECK(!vgpu_device_get_count(R, &NONE, &count), "then its context has ended: a call is refused");
}

/* ---- memory -------------------------------------------------------------------- */

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    const size_t len = strlen(field);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, len) == 0) {
            kib = atol(line + len + 1);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kib;
}

/* peak RSS from now on (Linux: 5 to clear_refs resets VmHWM) */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    const bool ok = f != NULL && fputs("5", f) >= 0;
    return f != NULL && fclose(f) == 0 && ok;
}

/* a Q4_0 row of 4096 times an F32 src1 of 65536 rows that all lie at its
 * first byte (row stride 0): ggml-cpu would convert each row to Q8_0 in its
 * work memory, 285 MB */
static uint32_t work_memory_graph(uint64_t buf)
{
    const uint32_t w_ne[4] = { 4096, 1, 1, 1 }, x_ne[4] = { 4096, 65536, 1, 1 }, out_ne[4] = { 1, 65536, 1, 1 };
    struct wire_tensor graph[3];
    graph[0] = test_tensor(41, buf, 0, GGML_OP_NONE, GGML_TYPE_Q4_0, w_ne);
    graph[1] = test_tensor(42, buf, 0x1000, GGML_OP_NONE, GGML_TYPE_F32, x_ne);
    graph[1].nb[1] = graph[1].nb[2] = graph[1].nb[3] = 0;
    graph[2] = test_tensor(43, buf, 0x8000, GGML_OP_MUL_MAT, GGML_TYPE_F32, out_ne);
    graph[2].src[0] = graph[0].id;
    graph[2].src[1] = graph[1].id;
    int32_t status;
    return compute_rc(graph, 3, 1, &status);
}

/* 8192 leafs and a node (in graph, room for them): its copy and its
 * decoded tensors would take 5 MiB */
#define WIDE_GRAPH_LEAFS 8192
static uint32_t wide_graph(uint64_t buf, struct wire_tensor *graph)
{
    const uint32_t n = WIDE_GRAPH_LEAFS, ne[4] = { 4, 1, 1, 1 };
    for (uint32_t i = 0; i < n; i++) {
        graph[i] = test_tensor(100 + i, buf, 0, GGML_OP_NONE, GGML_TYPE_F32, ne);
    }
    graph[n] = test_tensor(99, buf, 64, GGML_OP_ADD, GGML_TYPE_F32, ne);
    graph[n].src[0] = graph[0].id;
    graph[n].src[1] = graph[1].id;
    int32_t status;
    return compute_rc(graph, n + 1, 1, &status);
}

/* APIR_MAX_CONTEXT_MEMORY=1M: what the host would spend for a graph counts */
static void test_memory_quota(uint64_t buft)
{
    const uint64_t buf = alloc_buffer(buft, 512 << 10);
    CHECK(buf != 0, "a buffer of 512 KiB within the 1 MiB quota");
    CHECK(context_works(buf), "the context computes (and keeps a graph)");
    /* the guest's pages (this process's too), touched before the measure */
    struct wire_tensor *wide = calloc(WIDE_GRAPH_LEAFS + 1, sizeof *wide);
    memset(wide, 1, (WIDE_GRAPH_LEAFS + 1) * sizeof *wide);
    memset(R->data.ptr, 0, R->data.size);
    const long idle = status_kib("VmRSS:");
    CHECK(reset_peak_rss(), "peak RSS reset");
    CHECK(work_memory_graph(buf) == APIR_CALL_OVER_LIMIT,
          "a MUL_MAT needing 285 MB of the CPU's work memory is refused as over the quota");
    CHECK(wide_graph(buf, wide) == APIR_CALL_OVER_LIMIT, "a graph whose decoding takes 5 MiB is refused as over the quota");
    const long peak = status_kib("VmHWM:");
    CHECK(idle > 0 && peak - idle <= 1024, "peak RSS within 1 MiB of idle: %ld KiB over", peak - idle);
    CHECK(context_works(buf), "the context works after the refusals");
    CHECK(free_buffer(buf), "buffer freed");
    free(wide);
}

/* ---- the run ------------------------------------------------------------------ */

/* a guest (R) on a new context, as the environment says now */
static struct vgpu_transport *connect_guest(struct apir_context **ctx)
{
    struct vgpu_transport *t = open_test_transport(ctx);
    R = t != NULL ? vgpu_remote_open(t) : NULL;
    CHECK(R != NULL && R->error_codes, "a guest connected, with error codes");
    return R != NULL ? t : NULL;
}

static void disconnect_guest(struct apir_context *ctx)
{
    vgpu_remote_close(R);
    R = NULL;
    apir_context_destroy(ctx);
}

static uint64_t default_buffer_type(void)
{
    struct wire_msg_u64 buft = { .value = 0 };
    CHECK(vgpu_device_get_buffer_type(R, &NONE, &buft), "buffer type");
    return buft.value;
}

int main(void)
{
    struct apir_context *ctx;
    struct vgpu_transport *t = connect_guest(&ctx);
    if (t == NULL) {
        return FINISH();
    }
    const uint64_t buf = alloc_buffer(default_buffer_type(), 3 << 18);
    CHECK(buf != 0, "a buffer of 768 KiB");
    if (getenv("TEST_UNSTOPPABLE") != NULL) {
        test_unstoppable(buf);
        disconnect_guest(ctx);
        return FINISH();
    }
    test_extents(buf);
    test_aliasing(buf);
    test_indices_in_guest_memory(t, buf);
    test_work_bound(buf);
    test_time_budget(buf);
    disconnect_guest(ctx);

    setenv("APIR_MAX_CONTEXT_MEMORY", "1M", 1);
    if (connect_guest(&ctx) != NULL) {
        test_memory_quota(default_buffer_type());
        disconnect_guest(ctx);
    }
    return FINISH();
}
