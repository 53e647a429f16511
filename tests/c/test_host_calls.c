/* The guest protocol code, libapir and a host library (ours, or any other
 * named by VIRGL_APIR_BACKEND_LIBRARY) in one process over the loopback
 * transport: handshake, library loading, the forwarded calls, and the
 * host's answers to bad input (refused, and the context keeps working).
 * Environment: VIRGL_APIR_BACKEND_LIBRARY, APIR_LLAMA_CPP_GGML_LIBRARY_PATH,
 * HOST_IS_REFERENCE (set: the host library is llama.cpp's own),
 * VTEST_SOCKET_NAME (set: talk to apir-server there instead),
 * TEST_LIMITS (set: test the limits, which the host was given as
 * APIR_MAX_BUFFERS=3, APIR_MAX_CONTEXT_MEMORY=2M, APIR_MAX_GRAPH_NODES=8,
 * APIR_MAX_COMMAND_BYTES=2K, through the environment or apir-server's
 * options), TEST_DEVICE (an index: run on that device of the GGML library,
 * e.g. two_devices_backend's TestB, whose memory is not host memory). */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "graph_calls.h"
#include "ggml.h"
#include "virgl_loopback.h"
#include "wire-graph.h"
#include "calls.h"
#include "connection.h"
#include "graph-run.h"
#include "lock.h"
#include "remote.h"

#define N 256

/* false for llama.cpp's reference host library, which trusts the guest:
 * the bad-input checks would crash it */
static bool validating_host = true;

/* ---- call helpers ------------------------------------------------------- */

static const struct wire_msg_none NONE = { 0 };

static uint64_t call_u64_arg_u64(bool (*call)(struct vgpu_remote *, const struct wire_msg_u64 *, struct wire_msg_u64 *),
                                 uint64_t arg, bool *ok)
{
    const struct wire_msg_u64 req = { .value = arg };
    struct wire_msg_u64 reply = { .value = 0 };
    *ok = call(R, &req, &reply);
    return reply.value;
}

static struct wire_tensor f32_vector(uint64_t id, uint64_t buffer, uint64_t offset, uint32_t op)
{
    const uint32_t ne[4] = { N, 1, 1, 1 };
    return test_tensor(id, buffer, offset, op, GGML_TYPE_F32, ne);
}

static bool set_floats(uint64_t buffer, const struct wire_tensor *t, const float *v)
{
    return set_bytes(buffer, t, v, sizeof(float) * N);
}

static bool get_floats(uint64_t buffer, const struct wire_tensor *t, float *v)
{
    return get_bytes(buffer, t, v, sizeof(float) * N);
}

/* two inputs at 0x10000 and 0x20000 of the buffer and a node of `op` on
 * them at 0x30000, with ids first, first + 1, first + 2 */
static void binary_graph(struct wire_tensor graph[3], uint64_t buf, uint64_t first, uint32_t op,
                         const enum ggml_type types[3], const uint32_t a_ne[4], const uint32_t b_ne[4],
                         const uint32_t out_ne[4])
{
    graph[0] = test_tensor(first, buf, 0x10000, GGML_OP_NONE, types[0], a_ne);
    graph[1] = test_tensor(first + 1, buf, 0x20000, GGML_OP_NONE, types[1], b_ne);
    graph[2] = test_tensor(first + 2, buf, 0x30000, op, types[2], out_ne);
    graph[2].src[0] = graph[0].id;
    graph[2].src[1] = graph[1].id;
}

/* a call of a number the host does not know, with no arguments */
static uint32_t call_unknown(uint32_t call)
{
    struct wire_decoder dec;
    vgpu_lock(R);
    vgpu_request(R, call);
    const uint32_t rc = vgpu_exchange(R, &dec);
    vgpu_unlock(R);
    return rc;
}

/* ---- error codes --------------------------------------------------------- */

static uint32_t alloc_rc(uint64_t buft, uint64_t size, uint64_t *handle)
{
    const struct wire_msg_alloc req = { .buft = buft, .size = size };
    struct wire_msg_u64 reply = { .value = 0 };
    vgpu_lock(R);
    const uint32_t rc = vgpu_buffer_type_alloc_buffer_locked(R, &req, &reply);
    vgpu_unlock(R);
    *handle = reply.value;
    return rc;
}

static uint32_t free_rc(uint64_t buffer)
{
    const struct wire_msg_u64 req = { .value = buffer };
    vgpu_lock(R);
    const uint32_t rc = vgpu_buffer_free_buffer_locked(R, &req, &none_reply);
    vgpu_unlock(R);
    return rc;
}

static uint32_t set_tensor_rc(uint64_t buffer, const struct wire_tensor *t)
{
    const struct wire_msg_tensor_io req = {
        .buffer = buffer, .tensor = *t, .res_id = R->data.res_id, .offset = 0, .size = sizeof(float) * N
    };
    vgpu_lock(R);
    const uint32_t rc = vgpu_buffer_set_tensor_locked(R, &req, &none_reply);
    vgpu_unlock(R);
    return rc;
}

/* each kind of refusal answers its own code */
static void test_error_codes(uint64_t buf, const struct wire_tensor *ta, const struct wire_tensor *tb,
                             const struct wire_tensor *tc)
{
    CHECK(R->error_codes, "the host answers with error codes");
    CHECK(free_rc(buf + 5) == APIR_CALL_UNKNOWN_HANDLE, "an unknown buffer handle: APIR_CALL_UNKNOWN_HANDLE");
    struct wire_tensor bad = *ta;
    bad.data = (1 << 20) - 16;
    CHECK(set_tensor_rc(buf, &bad) == APIR_CALL_OUT_OF_RANGE, "a tensor past its buffer: APIR_CALL_OUT_OF_RANGE");
    bad = *ta;
    bad.type = 1000;
    CHECK(set_tensor_rc(buf, &bad) == APIR_CALL_MALFORMED, "an invalid type: APIR_CALL_MALFORMED");
    struct wire_tensor custom = *tc;
    custom.op = GGML_OP_CUSTOM;
    const struct wire_tensor graph[3] = { *ta, *tb, custom };
    int32_t status;
    CHECK(compute_rc(graph, 3, 1, &status) == APIR_CALL_NOT_ALLOWED, "a CUSTOM op: APIR_CALL_NOT_ALLOWED");
}

/* ---- tests -------------------------------------------------------------- */

static void test_device(void)
{
    struct wire_msg_i32 count = { .value = 0 };
    struct wire_msg_string name, description;
    struct wire_msg_memory memory = { 0 };
    struct wire_msg_props props;
    CHECK(vgpu_device_get_count(R, &NONE, &count) && count.value == 1, "one device");
    CHECK(vgpu_device_get_name(R, &NONE, &name) && strlen(name.value) > 0, "device name");
    printf("device: %s\n", name.value);
    CHECK(vgpu_device_get_description(R, &NONE, &description), "device description");
    CHECK(vgpu_device_get_memory(R, &NONE, &memory), "device memory call");
    CHECK(memory.total_bytes > 0 && memory.free_bytes <= memory.total_bytes, "memory %llu of %llu",
          (unsigned long long)memory.free_bytes, (unsigned long long)memory.total_bytes);
    CHECK(vgpu_device_get_props(R, &NONE, &props), "props has five booleans");
}

static uint64_t test_buffer_type(void)
{
    struct wire_msg_u64 buft = { .value = 0 };
    CHECK(vgpu_device_get_buffer_type(R, &NONE, &buft), "buffer type call");
    bool ok;
    const uint64_t align = call_u64_arg_u64(vgpu_buffer_type_get_alignment, buft.value, &ok);
    CHECK(ok && align > 0 && (align & (align - 1)) == 0, "alignment %llu", (unsigned long long)align);
    CHECK(call_u64_arg_u64(vgpu_buffer_type_get_max_size, buft.value, &ok) > 0 && ok, "max size");
    if (validating_host) {
        call_u64_arg_u64(vgpu_buffer_type_get_alignment, buft.value + 7, &ok);
        CHECK(!ok, "an unknown buffer type handle is refused");
    }
    return buft.value;
}

/* bad input: refused, and the context carries on */
static void test_bad_input(uint64_t buf, const struct wire_tensor *ta, const struct wire_tensor *tb,
                           const struct wire_tensor *tc, const float *a)
{
    float c[N];
    int32_t status;
    struct wire_tensor bad = *ta;
    bad.data = (1 << 20) - 16;
    CHECK(!set_floats(buf, &bad, a), "a tensor reaching past its buffer is refused");
    CHECK(!set_floats(buf + 1, ta, a), "an unknown buffer handle is refused");
    bad = *ta;
    bad.type = 1000;
    CHECK(!set_floats(buf, &bad, a), "an invalid type is refused");
    CHECK(!tensor_io(APIR_CALL_BUFFER_SET_TENSOR, buf, ta, 8, sizeof(float) * N), "bytes past the tensor are refused");
    struct wire_tensor orphan = *tc;
    orphan.src[1] = 999;
    const struct wire_tensor bad_graph[3] = { *ta, *tb, orphan };
    CHECK(!compute(bad_graph, 3, 1, &status), "a graph with an unknown source id is refused");
    struct wire_tensor bad_op = *tc;
    bad_op.op = GGML_OP_COUNT + 5;
    const struct wire_tensor bad_op_graph[3] = { *ta, *tb, bad_op };
    CHECK(!compute(bad_op_graph, 3, 1, &status), "a graph with an invalid op is refused");
    CHECK(call_unknown(APIR_CALL_COUNT + 3) == APIR_CALL_INVALID_INDEX, "an unknown call index is refused");
    /* llama.cpp's deprecated buffer_type_is_host, which no frontend sends */
    CHECK(call_unknown(13) == APIR_CALL_INVALID_INDEX, "call 13 (buffer_type_is_host) is not answered");
    CHECK(get_floats(buf, tc, c) && c[N - 1] == a[N - 1] + 0.5f * (float)(N - 1),
          "the context still works after bad input");
}

/* ---- hostile graphs and ops: the op table refuses them ------------------- */

/* a graph of the given tensors whose last one is its one node, refused */
static bool graph_refused(const struct wire_tensor *tensors, uint32_t n)
{
    int32_t status;
    return !compute(tensors, n, 1, &status);
}

/* a matrix product src0 x src1 into a result of shape `out`, refused */
static bool mul_mat_refused(uint64_t buf, const uint32_t a_ne[4], const uint32_t b_ne[4], const uint32_t out[4])
{
    const enum ggml_type types[3] = { GGML_TYPE_F32, GGML_TYPE_F32, GGML_TYPE_F32 };
    struct wire_tensor graph[3];
    binary_graph(graph, buf, 31, GGML_OP_MUL_MAT, types, a_ne, b_ne, out);
    return graph_refused(graph, 3);
}

static const enum ggml_type GET_ROWS_TYPES[3] = { GGML_TYPE_F32, GGML_TYPE_I32, GGML_TYPE_F32 };

/* GET_ROWS of rows ids[0] and ids[1] of four rows of 256 floats into a
 * result of ne0 floats per row: refused, or computed (then checked) */
static bool get_rows_refused(uint64_t buf, uint32_t ne0, const int32_t ids_picked[2])
{
    const uint32_t rows_ne[4] = { 256, 4, 1, 1 }, ids_ne[4] = { 2, 1, 1, 1 }, out_ne[4] = { ne0, 2, 1, 1 };
    struct wire_tensor graph[3];
    binary_graph(graph, buf, 41, GGML_OP_GET_ROWS, GET_ROWS_TYPES, rows_ne, ids_ne, out_ne);
    const struct wire_tensor rows = graph[0], ids = graph[1], out = graph[2];
    static float values[4 * 256], picked[2 * 256];
    for (int i = 0; i < 4 * 256; i++) {
        values[i] = (float)i;
    }
    CHECK(set_bytes(buf, &rows, values, sizeof values) && set_bytes(buf, &ids, ids_picked, 2 * sizeof(int32_t)),
          "GET_ROWS inputs set");
    if (graph_refused(graph, 3)) {
        return true;
    }
    CHECK(get_bytes(buf, &out, picked, sizeof picked) && picked[0] == values[ids_picked[0] * 256] &&
              picked[256 + 255] == values[ids_picked[1] * 256 + 255],
          "GET_ROWS picked rows %d and %d: %g, %g", ids_picked[0], ids_picked[1], picked[0], picked[256 + 255]);
    return false;
}

/* SET_ROWS of two rows of 4 floats into rows ids[0] and ids[1] of a 3-row
 * table: refused, or computed */
static bool set_rows_refused(uint64_t buf, const int64_t ids_picked[2])
{
    const uint32_t src_ne[4] = { 4, 2, 1, 1 }, ids_ne[4] = { 2, 1, 1, 1 }, table_ne[4] = { 4, 3, 1, 1 };
    const struct wire_tensor src = test_tensor(51, buf, 0x10000, GGML_OP_NONE, GGML_TYPE_F32, src_ne);
    const struct wire_tensor ids = test_tensor(52, buf, 0x20000, GGML_OP_NONE, GGML_TYPE_I64, ids_ne);
    const struct wire_tensor table = test_tensor(53, buf, 0x30000, GGML_OP_NONE, GGML_TYPE_F32, table_ne);
    struct wire_tensor out = test_tensor(54, buf, 0x30000, GGML_OP_SET_ROWS, GGML_TYPE_F32, table_ne);
    out.src[0] = src.id;
    out.src[1] = ids.id;
    out.src[2] = table.id;
    out.view_src = table.id;
    CHECK(set_bytes(buf, &ids, ids_picked, 2 * sizeof(int64_t)), "SET_ROWS indices set");
    const struct wire_tensor graph[4] = { src, ids, table, out };
    return graph_refused(graph, 4);
}

/* GET_ROWS of four rows whose indices the graph computes first, by
 * `producer` (a node of id 61, I32 of shape {2}, whose sources are set) */
static bool computed_indices_refused(uint64_t buf, uint32_t n_rows, const struct wire_tensor *inputs,
                                     uint32_t n_inputs, const struct wire_tensor *producer)
{
    const uint32_t rows_ne[4] = { 256, n_rows, 1, 1 }, out_ne[4] = { 256, (uint32_t)producer->ne[0], 1, 1 };
    struct wire_tensor graph[8];
    memcpy(graph, inputs, sizeof *inputs * n_inputs);
    graph[n_inputs] = test_tensor(62, buf, 0x10000, GGML_OP_NONE, GGML_TYPE_F32, rows_ne);
    graph[n_inputs + 1] = *producer;
    struct wire_tensor *out = &graph[n_inputs + 2];
    *out = test_tensor(63, buf, 0x30000, GGML_OP_GET_ROWS, GGML_TYPE_F32, out_ne);
    out->src[0] = graph[n_inputs].id;
    out->src[1] = producer->id;
    int32_t status;
    return !compute(graph, n_inputs + 3, 2, &status);
}

/* indices the guest wrote are checked before every run; indices a graph
 * computes must be bounded by how they are computed */
static void test_index_checks(uint64_t buf, const struct wire_tensor *ta, const struct wire_tensor *tb)
{
    const int32_t in_range[2] = { 3, 1 }, past_end[2] = { 3, 4 }, negative[2] = { -1, 0 };
    CHECK(!get_rows_refused(buf, 256, in_range), "GET_ROWS of rows 3 and 1 of 4 runs");
    CHECK(get_rows_refused(buf, 256, past_end), "then, the same graph with row index 4 of 4 is refused");
    CHECK(get_rows_refused(buf, 256, negative), "and with row index -1");
    CHECK(!get_rows_refused(buf, 256, in_range), "and with rows 3 and 1 again it runs");
    const int64_t rows_ok[2] = { 2, 0 }, rows_past[2] = { 0, 3 };
    CHECK(!set_rows_refused(buf, rows_ok), "SET_ROWS into rows 2 and 0 of 3 runs");
    CHECK(set_rows_refused(buf, rows_past), "SET_ROWS into row 3 of 3 is refused");

    const uint32_t four[4] = { 4, 1, 1, 1 }, table_ne[4] = { 2, 4, 1, 1 }, one[4] = { 1, 1, 1, 1 },
                   two[4] = { 2, 1, 1, 1 };
    const struct wire_tensor keys = test_tensor(64, buf, 0x40000, GGML_OP_NONE, GGML_TYPE_F32, four);
    struct wire_tensor sorted = test_tensor(61, buf, 0x50000, GGML_OP_ARGSORT, GGML_TYPE_I32, four);
    sorted.src[0] = keys.id;
    CHECK(!computed_indices_refused(buf, 4, &keys, 1, &sorted), "GET_ROWS of 4 rows by an ARGSORT of 4 runs");
    CHECK(computed_indices_refused(buf, 3, &keys, 1, &sorted), "GET_ROWS of 3 rows by an ARGSORT of 4 is refused");
    /* I32 rows picked from a table the guest wrote: any values at all */
    const struct wire_tensor table = test_tensor(65, buf, 0x40000, GGML_OP_NONE, GGML_TYPE_I32, table_ne);
    const struct wire_tensor pick = test_tensor(66, buf, 0x60000, GGML_OP_NONE, GGML_TYPE_I32, one);
    struct wire_tensor picked = test_tensor(61, buf, 0x50000, GGML_OP_GET_ROWS, GGML_TYPE_I32, two);
    picked.src[0] = table.id;
    picked.src[1] = pick.id;
    const struct wire_tensor sources[2] = { table, pick };
    CHECK(computed_indices_refused(buf, 4, sources, 2, &picked),
          "indices computed by GET_ROWS of I32 rows (unbounded values) are refused");
    /* an earlier node writes over the indices after they were checked */
    struct wire_tensor overwrite = test_tensor(61, buf, 0x20000, GGML_OP_ADD, GGML_TYPE_F32, two);
    overwrite.src[0] = ta->id;
    overwrite.src[1] = tb->id;
    const uint32_t rows_ne[4] = { 256, 4, 1, 1 };
    const struct wire_tensor rows = test_tensor(62, buf, 0x10000, GGML_OP_NONE, GGML_TYPE_F32, rows_ne);
    const struct wire_tensor ids = test_tensor(42, buf, 0x20000, GGML_OP_NONE, GGML_TYPE_I32, two);
    struct wire_tensor out = test_tensor(63, buf, 0x30000, GGML_OP_GET_ROWS, GGML_TYPE_F32, rows_ne);
    out.ne[1] = 2;
    out.nb[2] = out.nb[3] = out.nb[1] * 2;
    out.src[0] = rows.id;
    out.src[1] = ids.id;
    const struct wire_tensor ta2 = test_tensor(ta->id, buf, ta->data, GGML_OP_NONE, GGML_TYPE_F32, two),
                                  tb2 = test_tensor(tb->id, buf, tb->data, GGML_OP_NONE, GGML_TYPE_F32, two);
    const struct wire_tensor overwritten[6] = { ta2, tb2, rows, ids, overwrite, out };
    int32_t status;
    CHECK(!compute(overwritten, 6, 2, &status), "indices an earlier node of the graph overwrites are refused");
}

static void test_hostile_graphs(uint64_t buf, const struct wire_tensor *ta, const struct wire_tensor *tb,
                                const struct wire_tensor *tc)
{
    struct wire_tensor node = *tc;
    node.op = GGML_OP_CUSTOM;
    const struct wire_tensor custom[3] = { *ta, *tb, node };
    CHECK(graph_refused(custom, 3), "a CUSTOM op (a function pointer in its op_params) is refused");
    node = *tc;
    node.src[1] = 0;
    const struct wire_tensor one_source[2] = { *ta, node };
    CHECK(graph_refused(one_source, 2), "an ADD without src[1] is refused");
    const uint32_t short_ne[4] = { 3, 1, 1, 1 };
    const struct wire_tensor short_b = test_tensor(12, buf, 4096, GGML_OP_NONE, GGML_TYPE_F32, short_ne);
    const struct wire_tensor no_broadcast[3] = { *ta, short_b, *tc };
    CHECK(graph_refused(no_broadcast, 3), "an ADD of 3 floats to 256 (no broadcast) is refused");
    node = *tc;
    node.op = GGML_OP_UNARY;
    node.src[1] = 0;
    node.op_params[0] = GGML_UNARY_OP_COUNT + 3;
    const struct wire_tensor unknown_unary[2] = { *ta, node };
    CHECK(graph_refused(unknown_unary, 2), "an unknown UNARY sub-op is refused");

    const uint32_t m44[4] = { 4, 4, 1, 1 }, m82[4] = { 8, 2, 1, 1 }, m33[4] = { 3, 3, 1, 1 };
    CHECK(mul_mat_refused(buf, m44, m82, m33), "MUL_MAT (4,4) x (8,2) into (3,3) is refused");
    const uint32_t no_batch[4] = { 4, 4, 1, 0 }, m42[4] = { 4, 2, 1, 1 };
    CHECK(mul_mat_refused(buf, no_batch, m42, m42), "MUL_MAT whose src0 has ne3 = 0 (a divisor) is refused");
    CHECK(!mul_mat_refused(buf, m44, m42, m42), "but MUL_MAT (4,4) x (4,2) into (4,2) runs");
    /* zero strides: 2^42 elements over 4 bytes each, which would run for hours */
    const uint32_t huge[4] = { 1, 1u << 16, 1u << 16, 1u << 10 };
    struct wire_tensor runaway[3];
    for (int i = 0; i < 3; i++) {
        runaway[i] = test_tensor(41 + (uint64_t)i, buf, 0x1000 * (uint64_t)i, i < 2 ? GGML_OP_NONE : GGML_OP_ADD,
                                 GGML_TYPE_F32, huge);
        runaway[i].nb[1] = runaway[i].nb[2] = runaway[i].nb[3] = 0;
    }
    runaway[2].src[0] = runaway[0].id;
    runaway[2].src[1] = runaway[1].id;
    CHECK(graph_refused(runaway, 3), "an ADD of 2^42 elements over zero strides is refused (work bound)");
    const int32_t ids[2] = { 3, 1 };
    CHECK(get_rows_refused(buf, 16, ids), "GET_ROWS into rows of 16 floats, not 256, is refused");
    CHECK(!get_rows_refused(buf, 256, ids), "but GET_ROWS into rows of 256 floats runs");
    test_index_checks(buf, ta, tb);
}

/* a contiguous F32 inline tensor of shape ne */
static struct wire_inline_tensor inline_f32(uint32_t op, const int64_t ne[4])
{
    struct wire_inline_tensor t;
    memset(&t, 0, sizeof t);
    t.type = GGML_TYPE_F32;
    t.op = op;
    for (int i = 0; i < 4; i++) {
        t.ne[i] = ne[i];
        t.nb[i] = i == 0 ? sizeof(float) : t.nb[i - 1] * (uint64_t)ne[i - 1];
    }
    return t;
}

/* `op` on a vector with n_src vector sources, as supports_op and
 * get_alloc_size carry it */
static struct wire_inline_op vector_op(uint32_t op, int n_src)
{
    static const int64_t ne[4] = { N, 1, 1, 1 };
    struct wire_inline_op o;
    memset(&o, 0, sizeof o);
    o.tensor = inline_f32(op, ne);
    for (int i = 0; i < n_src; i++) {
        o.tensor.src[i] = 1; /* present */
        o.src[i] = inline_f32(GGML_OP_NONE, ne);
    }
    return o;
}

/* the host's supports_op answer, or false when the call failed */
static bool supports_op(uint32_t op, int n_src)
{
    const struct wire_msg_op req = { .op = vector_op(op, n_src) };
    struct wire_msg_boolean reply = { .value = false };
    return vgpu_device_supports_op(R, &req, &reply) && reply.value;
}

static bool alloc_size_answered(uint64_t buft, uint32_t op, int n_src)
{
    const struct wire_msg_buft_op req = { .buft = buft, .op = vector_op(op, n_src) };
    struct wire_msg_u64 reply = { .value = 0 };
    return vgpu_buffer_type_get_alloc_size(R, &req, &reply) && reply.value >= sizeof(float) * N;
}

static void test_hostile_ops(uint64_t buft)
{
    CHECK(supports_op(GGML_OP_ADD, 2), "supports_op: ADD of two vectors, yes");
    CHECK(!supports_op(GGML_OP_CUSTOM, 2), "supports_op: a CUSTOM op, no");
    CHECK(!supports_op(GGML_OP_ADD, 1), "supports_op: ADD without src[1], no");
    CHECK(alloc_size_answered(buft, GGML_OP_ADD, 2), "get_alloc_size of ADD");
    CHECK(!alloc_size_answered(buft, GGML_OP_CUSTOM, 2), "get_alloc_size of a CUSTOM op is refused");
}

/* The host keeps a graph it has decoded: sent again it runs on the current
 * data, and a graph that differs in one byte runs as itself. */
static void test_graph_sent_again(uint64_t buf, const struct wire_tensor *ta, const struct wire_tensor *tb,
                                  const struct wire_tensor *tc, const float *a, const float *b)
{
    float a2[N], c[N];
    for (int i = 0; i < N; i++) {
        a2[i] = 3.0f * (float)i;
    }
    int32_t status;
    const struct wire_tensor graph[3] = { *ta, *tb, *tc };
    CHECK(set_floats(buf, ta, a2) && compute(graph, 3, 1, &status) && status == GGML_STATUS_SUCCESS &&
              get_floats(buf, tc, c) && c[N - 1] == a2[N - 1] + b[N - 1],
          "the same graph again computes on the new inputs: c[255] = %g", c[N - 1]);
    struct wire_tensor product = *tc;
    product.op = GGML_OP_MUL;
    const struct wire_tensor changed[3] = { *ta, *tb, product };
    CHECK(compute(changed, 3, 1, &status) && status == GGML_STATUS_SUCCESS && get_floats(buf, tc, c) &&
              c[N - 1] == a2[N - 1] * b[N - 1],
          "a graph that differs in its op runs as itself, not as the kept one: c[255] = %g", c[N - 1]);
    CHECK(compute(graph, 3, 1, &status) && get_floats(buf, tc, c) && c[N - 1] == a2[N - 1] + b[N - 1],
          "and the first graph still runs as itself");
    /* back to a + b for the checks that follow */
    CHECK(set_floats(buf, ta, a) && compute(graph, 3, 1, &status), "a restored");
}

/* the writes of one float vector: its bytes at data_offset of the data blob */
static void one_write(struct wire_tensor_writes *w, uint64_t buf, const struct wire_tensor *t, const float *v,
                      uint64_t data_offset)
{
    memcpy((uint8_t *)R->data.ptr + data_offset, v, sizeof(float) * N);
    w->res_id = R->data.res_id;
    w->count = 1;
    w->items[0] = (struct wire_tensor_write){ .buffer = buf, .tensor = *t, .data_offset = data_offset, .offset = 0,
                                              .size = sizeof(float) * N };
}

/* Extensions: queued writes, and a graph run with its inputs, named by a
 * key once the host keeps it. */
static void test_writes_and_graph_run(uint64_t buf, const struct wire_tensor *ta,
                                      const struct wire_tensor *tb, const struct wire_tensor *tc)
{
    static struct wire_msg_writes writes;
    static struct wire_msg_graph_run run;
    float v[N], c[N];
    for (int i = 0; i < N; i++) {
        v[i] = 7.0f;
    }
    one_write(&writes.writes, buf, ta, v, 1 << 20);
    CHECK(vgpu_ext_set_tensors(R, &writes, &none_reply) && get_floats(buf, ta, c) && c[5] == 7.0f,
          "ext_set_tensors writes from its offset in the blob");
    writes.writes.items[0].data_offset = R->data.size;
    CHECK(!vgpu_ext_set_tensors(R, &writes, &none_reply), "a write from past the blob is refused");

    /* a graph a + b, sent whole under key 42 with a = 1 */
    float b1[N];
    get_floats(buf, tb, b1); /* before the graph: the read goes through the blob's start */
    const struct wire_tensor graph[3] = { *ta, *tb, *tc };
    const uint64_t graph_size = serialize_graph(graph, 3, 1);
    for (int i = 0; i < N; i++) {
        v[i] = 1.0f;
    }
    one_write(&run.writes, buf, ta, v, 2 << 20);
    run.key = 42;
    run.res_id = R->data.res_id;
    run.size = graph_size;
    struct wire_msg_graph_result result = { .kept = false };
    CHECK(vgpu_ext_graph_run(R, &run, &result) && result.kept && result.status == GGML_STATUS_SUCCESS &&
              get_floats(buf, tc, c) && c[9] == 1.0f + b1[9],
          "ext_graph_run: the writes, then the graph: c[9] = %g", c[9]);
    for (int i = 0; i < N; i++) {
        v[i] = 2.0f;
    }
    one_write(&run.writes, buf, ta, v, 2 << 20);
    run.size = 0;
    CHECK(vgpu_ext_graph_run(R, &run, &result) && result.kept && get_floats(buf, tc, c) && c[9] == 2.0f + b1[9],
          "the kept graph named by its key runs on the new writes: c[9] = %g", c[9]);
    /* its result flagged as an output comes back with the reply */
    struct wire_tensor out = *tc;
    out.flags |= GGML_TENSOR_FLAG_OUTPUT;
    const struct wire_tensor flagged[3] = { *ta, *tb, out };
    run.size = serialize_graph(flagged, 3, 1);
    run.key = 45;
    run.outputs_max = 1 << 20;
    const float *blob = R->data.ptr; /* the graph's bytes, then the output over them */
    CHECK(vgpu_ext_graph_run(R, &run, &result) && result.kept && result.outputs == 1 && blob[9] == 2.0f + b1[9],
          "an output node comes back in the blob with the run: %u outputs, blob[9] = %g", result.outputs, blob[9]);
    run.outputs_max = 4 * N - 1;
    run.size = 0; /* the kept graph: the blob holds the output now */
    CHECK(vgpu_ext_graph_run(R, &run, &result) && result.kept && result.outputs == 0,
          "but not when it does not fit outputs_max");
    run.outputs_max = 0;
    run.size = 0;
    for (int i = 0; i < N; i++) {
        v[i] = 5.0f;
    }
    one_write(&run.writes, buf, ta, v, 2 << 20);
    run.key = 43;
    CHECK(vgpu_ext_graph_run(R, &run, &result) && !result.kept && get_floats(buf, ta, c) && c[9] == 2.0f,
          "an unknown key: not kept, and its writes are not done");
}

/* ext_graph_run_async: the host says when it has taken a run (the guest's
 * graph_compute returns then); its end, reply and outputs are there once
 * the connection's lock is next taken. A run it refuses is answered. */
static void test_graph_run_async(uint64_t buf, const struct wire_tensor *ta, const struct wire_tensor *tb,
                                 const struct wire_tensor *tc)
{
    static struct wire_msg_graph_run run;
    float v[N], b1[N];
    for (int i = 0; i < N; i++) {
        v[i] = 3.0f;
    }
    get_floats(buf, tb, b1);
    struct wire_tensor out = *tc;
    out.flags |= GGML_TENSOR_FLAG_OUTPUT;
    const struct wire_tensor graph[3] = { *ta, *tb, out };
    run.size = serialize_graph(graph, 3, 1);
    one_write(&run.writes, buf, ta, v, 2 << 20);
    run.key = 46;
    run.res_id = R->data.res_id;
    run.outputs_max = 1 << 20;
    const struct vgpu_run_outputs outputs = {
        .count = 1, .items = { { .buffer = buf, .start = 0x1000, .size = sizeof(float) * N, .at = 0 } }
    };
    const _Atomic uint32_t *accepted =
        (const _Atomic uint32_t *)(const void *)((const uint8_t *)R->reply.ptr + APIR_REPLY_PAYLOAD_OFFSET + R->accept_at);
    struct wire_msg_graph_result result = { .kept = false };
    vgpu_lock(R);
    const uint32_t rc = vgpu_graph_run_async_locked(R, &run, &outputs, &result);
    vgpu_unlock(R);
    CHECK(R->accept_at != 0 && rc == VGPU_ACCEPTED && *accepted == 1, "ext_graph_run_async: the host took the run");
    float c[N];
    vgpu_lock(R); /* waits for the run's end */
    const bool pending = R->pending.active;
    const bool read = vgpu_read_run_output(R, buf, 0x1000, sizeof c, c);
    vgpu_unlock(R);
    CHECK(!pending && read && c[9] == 3.0f + b1[9], "its end and outputs once the lock is taken: c[9] = %g", c[9]);
    run.key = 47;
    run.size = 0; /* a key the host never kept: answered, not taken */
    vgpu_lock(R);
    const uint32_t rc_unknown = vgpu_graph_run_async_locked(R, &run, &outputs, &result);
    vgpu_unlock(R);
    CHECK(rc_unknown == APIR_CALL_OK && !result.kept && *accepted == 0 && !R->pending.active,
          "an unknown key is answered at once (not kept), never taken");
}

/* writes[i] of ids[i] into the indices of a GET_ROWS graph of 4 rows, in
 * one ext_graph_run; whether the host ran it */
static bool graph_run_with_indices(uint64_t buf, const int32_t (*ids)[2], uint32_t n_writes, const uint64_t *offsets,
                                   const uint64_t *sizes)
{
    static struct wire_msg_graph_run run;
    const uint32_t rows_ne[4] = { 256, 4, 1, 1 }, ids_ne[4] = { 2, 1, 1, 1 }, out_ne[4] = { 256, 2, 1, 1 };
    struct wire_tensor graph[3];
    binary_graph(graph, buf, 71, GGML_OP_GET_ROWS, GET_ROWS_TYPES, rows_ne, ids_ne, out_ne);
    const struct wire_tensor idx = graph[1];
    run.writes.res_id = R->data.res_id;
    run.writes.count = n_writes;
    for (uint32_t i = 0; i < n_writes; i++) {
        const uint64_t at = (2 << 20) + 64 * i;
        memcpy((uint8_t *)R->data.ptr + at, (const uint8_t *)ids[i] + offsets[i], sizes[i]);
        run.writes.items[i] = (struct wire_tensor_write){ .buffer = buf, .tensor = idx, .data_offset = at,
                                                          .offset = offsets[i], .size = sizes[i] };
    }
    run.key = 44;
    run.res_id = R->data.res_id;
    run.size = serialize_graph(graph, 3, 1);
    struct wire_msg_graph_result result = { .kept = false };
    return vgpu_ext_graph_run(R, &run, &result) && result.kept && result.status == GGML_STATUS_SUCCESS;
}

/* Indices written with the graph run are checked as the device got them:
 * from the host's copy of a write that covered them whole, else read back. */
static void test_index_writes(uint64_t buf)
{
    const int32_t good[2] = { 3, 1 }, bad[2] = { 1, 4 };
    const int32_t good_then_bad[2][2] = { { 3, 1 }, { 0, 9 } }, bad_then_good[2][2] = { { 7, 7 }, { 2, 2 } };
    const uint64_t whole[2] = { 0, 0 }, sizes[2] = { 8, 8 }, second_half[2] = { 0, 4 }, halves[2] = { 8, 4 };
    CHECK(graph_run_with_indices(buf, &good, 1, whole, sizes), "indices 3, 1 written with the run: it runs");
    CHECK(!graph_run_with_indices(buf, &bad, 1, whole, sizes), "indices 1, 4 written with the run: refused");
    CHECK(!graph_run_with_indices(buf, good_then_bad, 2, second_half, halves),
          "indices 3, 1 then a second write of 9 over the second: refused");
    CHECK(graph_run_with_indices(buf, bad_then_good, 2, whole, sizes), "indices 7, 7 then 2, 2 over them: it runs");
}

/* ---- limits ----------------------------------------------------------------- */

#define LIMIT_BUFFERS 3
#define LIMIT_MEMORY (2u << 20)
#define LIMIT_GRAPH_TENSORS 8
#define LIMIT_COMMAND_BYTES 2048

/* The quota and the buffer count: over them the host refuses with
 * APIR_CALL_OVER_LIMIT, and frees make room again. */
static void test_buffer_limits(uint64_t buft)
{
    uint64_t big = 0, more = 0;
    CHECK(alloc_rc(buft, LIMIT_MEMORY / 2, &big) == APIR_CALL_OK && big != 0, "half the memory quota allocated");
    CHECK(alloc_rc(buft, LIMIT_MEMORY * 3 / 4, &more) == APIR_CALL_OVER_LIMIT && more == 0,
          "past the memory quota: APIR_CALL_OVER_LIMIT");
    CHECK(free_buffer(big) && alloc_rc(buft, LIMIT_MEMORY * 3 / 4, &big) == APIR_CALL_OK && big != 0,
          "after a free the same allocation fits");
    uint64_t small[LIMIT_BUFFERS + 1] = { 0 };
    int held = 1; /* big */
    while (held < LIMIT_BUFFERS + 1 && alloc_rc(buft, 4096, &small[held - 1]) == APIR_CALL_OK) {
        held++;
    }
    CHECK(held == LIMIT_BUFFERS, "%d buffers held at once, the limit", held);
    CHECK(alloc_rc(buft, 4096, &more) == APIR_CALL_OVER_LIMIT, "one more buffer: APIR_CALL_OVER_LIMIT");
    CHECK(free_buffer(small[0]) && alloc_rc(buft, 4096, &small[0]) == APIR_CALL_OK, "after a free one more fits");
    for (int i = 0; i < held - 1; i++) {
        free_buffer(small[i]);
    }
    CHECK(free_buffer(big), "the buffers freed");
}

/* a chain of n - 2 ADDs over two vectors: n tensors, the last one the node */
static uint32_t add_chain(uint64_t buf, uint32_t n, float *result)
{
    struct wire_tensor t[LIMIT_GRAPH_TENSORS + 1];
    float ones[N];
    for (int i = 0; i < N; i++) {
        ones[i] = 1.0f;
    }
    t[0] = f32_vector(100, buf, 0, GGML_OP_NONE);
    CHECK(set_floats(buf, &t[0], ones), "chain input set");
    t[1] = t[0];
    t[1].id = 101;
    for (uint32_t i = 2; i < n; i++) {
        t[i] = f32_vector(100 + i, buf, 4096 * i, GGML_OP_ADD);
        t[i].src[0] = t[i - 1].id;
        t[i].src[1] = t[0].id;
    }
    int32_t status;
    const uint32_t rc = compute_rc(t, n, n - 2, &status);
    if (rc == APIR_CALL_OK) {
        get_floats(buf, &t[n - 1], result);
    }
    return rc;
}

static void test_graph_limit(uint64_t buft)
{
    const uint64_t buf = alloc_buffer(buft, 1 << 16);
    float c[N] = { 0 };
    CHECK(add_chain(buf, LIMIT_GRAPH_TENSORS, c) == APIR_CALL_OK && c[7] == (float)(LIMIT_GRAPH_TENSORS - 1),
          "a graph of %d tensors, the limit, runs: c[7] = %g", LIMIT_GRAPH_TENSORS, c[7]);
    CHECK(add_chain(buf, LIMIT_GRAPH_TENSORS + 1, c) == APIR_CALL_OVER_LIMIT,
          "a graph of one tensor more: APIR_CALL_OVER_LIMIT");
    CHECK(add_chain(buf, 3, c) == APIR_CALL_OK && c[7] == 2.0f, "a small graph still runs after it: %g", c[7]);
    free_buffer(buf);
}

/* ext_set_tensors of `count` writes: each carries a wire tensor, so a few
 * make a command of more than LIMIT_COMMAND_BYTES */
static uint32_t set_tensors_rc(uint64_t buf, uint32_t count, const float *v)
{
    static struct wire_msg_writes writes;
    const struct wire_tensor t = f32_vector(200, buf, 0, GGML_OP_NONE);
    one_write(&writes.writes, buf, &t, v, 1 << 20);
    for (uint32_t i = 1; i < count; i++) {
        writes.writes.items[i] = writes.writes.items[0];
    }
    writes.writes.count = count;
    vgpu_lock(R);
    const uint32_t rc = vgpu_ext_set_tensors_locked(R, &writes, &none_reply);
    vgpu_unlock(R);
    return rc;
}

static void test_command_limit(uint64_t buft)
{
    const uint64_t buf = alloc_buffer(buft, 1 << 16);
    float v[N], c[N];
    for (int i = 0; i < N; i++) {
        v[i] = 3.0f;
    }
    CHECK(set_tensors_rc(buf, APIR_MAX_WRITES, v) == APIR_CALL_OVER_LIMIT,
          "a command of %d writes, over the command size limit: APIR_CALL_OVER_LIMIT", APIR_MAX_WRITES);
    const struct wire_tensor t = f32_vector(200, buf, 0, GGML_OP_NONE);
    CHECK(set_tensors_rc(buf, 1, v) == APIR_CALL_OK && get_floats(buf, &t, c) && c[3] == 3.0f,
          "one write still goes through: %g", c[3]);
    free_buffer(buf);
}

static void test_limits(uint64_t buft)
{
    CHECK(R->error_codes, "the host answers with error codes");
    test_buffer_limits(buft);
    test_graph_limit(buft);
    test_command_limit(buft);
}

static void test_tensors_and_graph(uint64_t buft)
{
    const uint64_t buf = alloc_buffer(buft, 1 << 20);
    CHECK(buf != 0, "buffer allocated");
    bool ok;
    CHECK(call_u64_arg_u64(vgpu_buffer_get_base, buf, &ok) != 0 && ok, "buffer base");

    float a[N], b[N], c[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)i;
        b[i] = 0.5f * (float)i;
    }
    const struct wire_tensor ta = f32_vector(11, buf, 0, GGML_OP_NONE);
    const struct wire_tensor tb = f32_vector(12, buf, 4096, GGML_OP_NONE);
    struct wire_tensor tc = f32_vector(13, buf, 8192, GGML_OP_ADD);
    tc.src[0] = ta.id;
    tc.src[1] = tb.id;
    CHECK(set_floats(buf, &ta, a) && set_floats(buf, &tb, b), "set_tensor");
    CHECK(get_floats(buf, &ta, c) && memcmp(a, c, sizeof a) == 0, "get_tensor returns what was set");

    const struct wire_tensor graph[3] = { ta, tb, tc };
    int32_t status;
    CHECK(compute(graph, 3, 1, &status) && status == GGML_STATUS_SUCCESS, "graph_compute a + b");
    get_floats(buf, &tc, c);
    bool sums = true;
    for (int i = 0; i < N; i++) {
        sums = sums && c[i] == a[i] + b[i];
    }
    CHECK(sums, "the host computed a + b: c[1] = %g, c[255] = %g", c[1], c[N - 1]);
    test_graph_sent_again(buf, &ta, &tb, &tc, a, b);
    if (validating_host) {
        test_writes_and_graph_run(buf, &ta, &tb, &tc);
        test_graph_run_async(buf, &ta, &tb, &tc);
        test_index_writes(buf);
        CHECK(set_floats(buf, &ta, a) && compute(graph, 3, 1, &status), "a restored after the extensions");
    }

    if (validating_host) {
        test_bad_input(buf, &ta, &tb, &tc, a);
        test_error_codes(buf, &ta, &tb, &tc);
        test_hostile_graphs(buf, &ta, &tb, &tc);
        test_hostile_ops(buft);
        CHECK(get_floats(buf, &tc, c) && c[N - 1] == a[N - 1] + b[N - 1], "the context still works after them");
    }
    CHECK(free_buffer(buf), "free_buffer");
    if (validating_host) {
        call_u64_arg_u64(vgpu_buffer_get_base, buf, &ok);
        CHECK(!ok, "a freed buffer's handle is refused");
    }
}

/* ---- extra buffer types: ggml-cpu's repacking type ------------------------ */

#define W_COLS 256
#define W_ROWS 16
#define X_ROWS 4

/* a Q4_0 weight of `rows` rows of W_COLS at `offset` of the buffer */
static struct wire_tensor q4_0_weight(uint64_t id, uint64_t buf, uint64_t offset, uint32_t rows)
{
    const uint32_t ne[4] = { W_COLS, rows, 1, 1 };
    struct wire_tensor w = test_tensor(id, buf, offset, GGML_OP_NONE, GGML_TYPE_Q4_0, ne);
    w.nb[1] = (uint32_t)ggml_row_size(GGML_TYPE_Q4_0, W_COLS);
    w.nb[2] = w.nb[3] = w.nb[1] * rows;
    return w;
}

/* the weight times X_ROWS inputs (F32, 4th dimension x_ne3) of `plain` at
 * 0x10000 into a result there at out_offset, with ids first, first + 1 */
static void weight_mul_mat(struct wire_tensor g[3], const struct wire_tensor *w, uint64_t plain,
                           uint64_t first, uint64_t out_offset, uint32_t x_ne3)
{
    const uint32_t x_ne[4] = { W_COLS, X_ROWS, 1, x_ne3 }, out_ne[4] = { (uint32_t)w->ne[1], X_ROWS, 1, x_ne3 };
    g[0] = *w;
    g[1] = test_tensor(first, plain, 0x10000, GGML_OP_NONE, GGML_TYPE_F32, x_ne);
    g[2] = test_tensor(first + 1, plain, out_offset, GGML_OP_MUL_MAT, GGML_TYPE_F32, out_ne);
    g[2].src[0] = w->id;
    g[2].src[1] = g[1].id;
}

/* ext_buft_supports_op: MUL_MAT of a Q4_0 weight of `rows` rows in a
 * buffer of type buft */
static bool weight_supported_in(uint64_t buft, int64_t rows)
{
    const int64_t x_ne[4] = { W_COLS, X_ROWS, 1, 1 }, out_ne[4] = { rows, X_ROWS, 1, 1 };
    struct wire_msg_buft_op req = { .buft = buft };
    req.op.tensor = inline_f32(GGML_OP_MUL_MAT, out_ne);
    req.op.tensor.src[0] = req.op.tensor.src[1] = 1;
    req.op.src[0] = inline_f32(GGML_OP_NONE, x_ne);
    req.op.src[0].type = GGML_TYPE_Q4_0;
    req.op.src[0].ne[1] = rows;
    req.op.src[0].nb[0] = ggml_type_size(GGML_TYPE_Q4_0);
    req.op.src[0].nb[1] = ggml_row_size(GGML_TYPE_Q4_0, W_COLS);
    req.op.src[0].nb[2] = req.op.src[0].nb[3] = req.op.src[0].nb[1] * (uint64_t)rows;
    req.op.src[1] = inline_f32(GGML_OP_NONE, x_ne);
    struct wire_msg_boolean reply = { .value = false };
    return vgpu_ext_buft_supports_op(R, &req, &reply) && reply.value;
}

/* X_ROWS x W_COLS inputs and a W_ROWS x W_COLS Q4_0 weight (quantized into q) */
static size_t mul_mat_inputs(float *x, uint8_t *q)
{
    static float w[W_ROWS * W_COLS];
    for (int i = 0; i < W_ROWS * W_COLS; i++) {
        w[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    }
    for (int i = 0; i < X_ROWS * W_COLS; i++) {
        x[i] = (float)((i * 13) % 29) / 14.0f - 1.0f;
    }
    return ggml_quantize_chunk(GGML_TYPE_Q4_0, w, q, 0, W_ROWS, W_COLS, NULL);
}

/* the product of the weight written whole into the repacking buffer
 * equals the plain CPU's product of the same weight */
static void test_repacked_mul_mat(uint64_t wbuf, uint64_t plain, const struct wire_tensor *w)
{
    static float x[X_ROWS * W_COLS], out[X_ROWS * W_ROWS], ref[X_ROWS * W_ROWS];
    static uint8_t q[W_ROWS * W_COLS];
    const size_t qsize = mul_mat_inputs(x, q);
    const struct wire_tensor w_plain = q4_0_weight(62, plain, 0x30000, W_ROWS);
    struct wire_tensor g[3], g_ref[3];
    weight_mul_mat(g, w, plain, 63, 0x20000, 1);
    weight_mul_mat(g_ref, &w_plain, plain, 66, 0x28000, 1);
    CHECK(set_bytes(wbuf, w, q, qsize), "a whole Q4_0 weight is written into the repacking buffer");
    CHECK(set_bytes(plain, &w_plain, q, qsize) && set_bytes(plain, &g[1], x, sizeof x), "the plain weight and inputs");
    int32_t status;
    CHECK(compute(g, 3, 1, &status) && status == GGML_STATUS_SUCCESS && get_bytes(plain, &g[2], out, sizeof out),
          "MUL_MAT of the repacked weight runs");
    CHECK(compute(g_ref, 3, 1, &status) && get_bytes(plain, &g_ref[2], ref, sizeof ref), "MUL_MAT of the plain weight");
    bool same = true;
    for (int i = 0; i < X_ROWS * W_ROWS; i++) {
        same = same && out[i] > ref[i] - 1e-3f * (1.0f + fabsf(ref[i])) && out[i] < ref[i] + 1e-3f * (1.0f + fabsf(ref[i]));
    }
    CHECK(same, "the repacked product is the plain one: %g %g, %g %g", out[0], ref[0], out[X_ROWS * W_ROWS - 1],
          ref[X_ROWS * W_ROWS - 1]);
}

/* writes and reads ggml-cpu's repacking buffer would abort on */
static void test_repacked_io_refusals(uint64_t wbuf, uint64_t plain, const struct wire_tensor *w)
{
    static uint8_t bytes[W_ROWS * W_COLS];
    const size_t nbytes = ggml_row_size(GGML_TYPE_Q4_0, W_COLS) * W_ROWS;
    memset(R->data.ptr, 0, nbytes);
    CHECK(!tensor_io(APIR_CALL_BUFFER_SET_TENSOR, wbuf, w, 18, nbytes - 18), "a write past its start is refused");
    CHECK(!tensor_io(APIR_CALL_BUFFER_SET_TENSOR, wbuf, w, 0, nbytes - 18), "a write of part of it is refused");
    const struct wire_tensor rows12 = q4_0_weight(71, wbuf, 0, 12);
    CHECK(!set_bytes(wbuf, &rows12, bytes, nbytes * 12 / W_ROWS), "a weight of 12 rows (it interleaves 8) is refused");
    const struct wire_tensor f32 = f32_vector(72, wbuf, 0, GGML_OP_NONE);
    CHECK(!set_bytes(wbuf, &f32, bytes, sizeof(float) * N), "an F32 tensor is refused");
    struct wire_tensor padded = q4_0_weight(73, wbuf, 0, 8);
    padded.nb[1] += 64;
    CHECK(!set_bytes(wbuf, &padded, bytes, (size_t)padded.nb[1] * 7 + nbytes / W_ROWS), "a padded weight is refused");
    CHECK(!get_bytes(wbuf, w, bytes, nbytes), "reading a repacked weight back is refused");
    struct wire_msg_copy copy = { .buffer = plain, .src = *w, .dst = q4_0_weight(74, plain, 0x30000, W_ROWS) };
    struct wire_msg_boolean copied = { .value = false };
    CHECK(!vgpu_buffer_cpy_tensor(R, &copy, &copied) && !copied.value, "copying a repacked weight is refused");
}

/* graphs that use a repacked weight otherwise than as a MUL_MAT's */
static void test_repacked_graph_refusals(uint64_t wbuf, uint64_t plain, const struct wire_tensor *w)
{
    struct wire_tensor g[4];
    weight_mul_mat(g, w, plain, 81, 0x20000, 2);
    CHECK(graph_refused(g, 3), "a repacked weight times a 4-dimensional src[1] is refused (its kernel asserts)");
    weight_mul_mat(g, w, plain, 83, 0x20000, 1);
    g[2].buffer = wbuf;
    g[2].data = 0x8000;
    CHECK(graph_refused(g, 3), "a result in the repacking buffer is refused");
    weight_mul_mat(g, w, plain, 85, 0x20000, 1);
    g[3] = g[2];
    g[2] = *w;
    g[2].id = 87;
    g[2].op = GGML_OP_VIEW;
    g[2].view_src = w->id;
    g[3].src[0] = g[2].id;
    CHECK(graph_refused(g, 4), "a view of a repacked weight as src[0] is refused");
    const uint32_t ids_ne[4] = { 2, 1, 1, 1 }, out_ne[4] = { W_COLS, 2, 1, 1 };
    g[0] = *w;
    g[1] = test_tensor(88, plain, 0x10000, GGML_OP_NONE, GGML_TYPE_I32, ids_ne);
    g[2] = test_tensor(89, plain, 0x20000, GGML_OP_GET_ROWS, GGML_TYPE_F32, out_ne);
    g[2].src[0] = w->id;
    g[2].src[1] = g[1].id;
    const int32_t ids[2] = { 0, 1 };
    CHECK(set_bytes(plain, &g[1], ids, sizeof ids) && graph_refused(g, 3), "GET_ROWS of a repacked weight is refused");
}

/* ext_extra_bufts: a CPU host offers its repacking type, whose tensors it
 * checks before ggml-cpu sees them */
static void test_extra_bufts(uint64_t buft)
{
    struct wire_msg_handles extra = { .value = { .count = 0 } };
    vgpu_lock(R);
    const uint32_t rc = vgpu_ext_extra_bufts_locked(R, &NONE, &extra);
    vgpu_unlock(R);
    if (!validating_host) {
        CHECK(rc == APIR_CALL_INVALID_INDEX, "llama.cpp's host does not know ext_extra_bufts");
        return;
    }
    struct wire_msg_string device;
    CHECK(rc == APIR_CALL_OK && vgpu_device_get_name(R, &NONE, &device), "ext_extra_bufts answered");
    if (strcmp(device.value, "CPU") != 0) {
        return; /* another device's extra types are not offered */
    }
    const struct wire_msg_u64 named = { .value = extra.value.items[0] };
    struct wire_msg_string name = { .value = "" };
    CHECK(extra.value.count == 1 && vgpu_buffer_type_get_name(R, &named, &name) && strcmp(name.value, "CPU_REPACK") == 0,
          "the CPU host offers one extra buffer type, CPU_REPACK: %u, '%s'", extra.value.count, name.value);
    const uint64_t repack = named.value;
    uint64_t handle;
    CHECK(alloc_rc(repack + 8, 4096, &handle) == APIR_CALL_UNKNOWN_HANDLE, "an unknown buffer type handle is refused");
    CHECK(weight_supported_in(repack, W_ROWS) && !weight_supported_in(repack, 12) && weight_supported_in(buft, 12),
          "ext_buft_supports_op: a Q4_0 weight of 16 rows repacked, of 12 rows only in the plain type");
    const uint64_t wbuf = alloc_buffer(repack, 1 << 16), plain = alloc_buffer(buft, 1 << 20);
    CHECK(wbuf != 0 && plain != 0, "buffers of the repacking and the plain type");
    const struct wire_tensor w = q4_0_weight(61, wbuf, 0, W_ROWS);
    test_repacked_mul_mat(wbuf, plain, &w);
    test_repacked_io_refusals(wbuf, plain, &w);
    test_repacked_graph_refusals(wbuf, plain, &w);
    struct wire_tensor g[3];
    weight_mul_mat(g, &w, plain, 63, 0x20000, 1);
    int32_t status;
    CHECK(compute(g, 3, 1, &status) && status == GGML_STATUS_SUCCESS, "the repacked weight still computes after them");
    CHECK(free_buffer(wbuf) && free_buffer(plain), "free the buffers");
}

/* Over vtest when VTEST_SOCKET_NAME names an apir-server socket, else over
 * the loopback transport into libapir in this process. */
/* device_buffer_from_ptr: a host buffer over a guest blob, zero copy: the
 * guest writes the inputs into the blob and reads the sum from it */
static void test_buffer_from_ptr(struct vgpu_transport *t)
{
    struct vgpu_blob blob;
    const bool created = vgpu_transport_create_blob(t, 1 << 18, &blob);
    CHECK(created, "a blob for the buffer");
    if (!created) {
        return;
    }
    const struct wire_msg_from_ptr req = { .res_id = blob.res_id, .size = blob.size, .max_tensor_size = blob.size };
    struct wire_msg_buffer_and_type reply = { .buffer = 0 };
    const bool ok = vgpu_device_buffer_from_ptr(R, &req, &reply);
    const uint64_t buf = reply.buffer;
    CHECK(ok && buf != 0, "device_buffer_from_ptr");
    float *a = blob.ptr, *b = a + 1024, *c = a + 2048;
    for (int i = 0; i < N; i++) {
        a[i] = (float)i;
        b[i] = 2.0f;
    }
    const struct wire_tensor ta = f32_vector(21, buf, 0, GGML_OP_NONE);
    const struct wire_tensor tb = f32_vector(22, buf, 4096, GGML_OP_NONE);
    struct wire_tensor tc = f32_vector(23, buf, 8192, GGML_OP_ADD);
    tc.src[0] = ta.id;
    tc.src[1] = tb.id;
    const struct wire_tensor graph[3] = { ta, tb, tc };
    int32_t status;
    CHECK(compute(graph, 3, 1, &status) && status == GGML_STATUS_SUCCESS, "compute on a blob buffer");
    CHECK(c[7] == 9.0f && c[N - 1] == (float)(N - 1) + 2.0f, "the sum is in the blob: c[7] = %g", c[7]);
    /* the guest lets go of the blob while the buffer lives: the host keeps
     * it mapped (it would otherwise read and write memory that is gone) */
    vgpu_transport_destroy_blob(t, &blob);
    float sums[N];
    CHECK(compute(graph, 3, 1, &status) && status == GGML_STATUS_SUCCESS && get_floats(buf, &tc, sums) &&
              sums[7] == 9.0f,
          "after the guest's unref the buffer still computes from the blob: %g", sums[7]);
    const int32_t ids[2] = { 3, 1 };
    CHECK(get_rows_refused(buf, 256, ids), "GET_ROWS whose indices lie in memory the guest shares is refused");
    CHECK(free_buffer(buf), "free the blob buffer");
}

/* With TEST_READY_FILE and TEST_GO_FILE set: once connected, creates the
 * first and waits (up to a minute) for the second, so that a script can
 * try another guest while this one holds its context. */
static void wait_for_go(void)
{
    const char *ready = getenv("TEST_READY_FILE"), *go = getenv("TEST_GO_FILE");
    if (ready == NULL || go == NULL) {
        return;
    }
    FILE *f = fopen(ready, "w");
    CHECK(f != NULL, "ready file %s created", ready);
    if (f != NULL) {
        fclose(f);
    }
    for (int i = 0; i < 6000 && access(go, F_OK) != 0; i++) {
        usleep(10000);
    }
}

int main(void)
{
    validating_host = getenv("HOST_IS_REFERENCE") == NULL;
    struct apir_context *ctx;
    struct vgpu_transport *transport = open_test_transport(&ctx);
    const bool through_virgl = getenv("TEST_VIRGL") != NULL;
    CHECK(transport != NULL, "transport open");
    R = transport ? vgpu_remote_open(transport) : NULL;
    CHECK(R != NULL, "handshake and library loading");
    wait_for_go();
    const char *device = getenv("TEST_DEVICE");
    if (R != NULL && device != NULL) {
        const struct wire_msg_u32 index = { .value = (uint32_t)atoi(device) };
        CHECK(vgpu_ext_bind_device(R, &index, &none_reply), "runs on device %s", device);
    }
    if (R != NULL) {
        CHECK(R->host_major == APIR_PROTOCOL_MAJOR && R->host_minor == APIR_PROTOCOL_MINOR, "host protocol 0.2");
        test_device();
        const uint64_t buft = test_buffer_type();
        if (getenv("TEST_LIMITS") != NULL) {
            test_limits(buft);
        } else {
            test_tensors_and_graph(buft);
            test_extra_bufts(buft);
        }
        CHECK(R->error_codes == validating_host, "error codes negotiated with our host, not llama.cpp's");
        /* llama.cpp's reference host crashes freeing such a buffer (it calls
         * free_buffer, which ggml's CPU buffers over host memory lack) */
        if (validating_host && getenv("TEST_LIMITS") == NULL && device == NULL) {
            test_buffer_from_ptr(transport);
        }
        vgpu_remote_close(R);
    }
    if (through_virgl) {
        CHECK(virgl_loopback_fences_signalled > 10 && virgl_loopback_last_fence == virgl_loopback_fences_signalled,
              "every command's fence was told (%llu)", (unsigned long long)virgl_loopback_fences_signalled);
    }
    apir_context_destroy(ctx);
    return FINISH();
}
