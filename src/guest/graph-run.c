/* Graph runs the host has taken, and the outputs of the last run
 * (graph-run.h). */
#define _POSIX_C_SOURCE 200809L
#include "graph-run.h"

#include <string.h>

#include "clock.h"
#include "ggml.h"
#include "reply-wait.h"

/* the word an ext_graph_run_async's host sets once it has taken the work */
static _Atomic uint32_t *accept_word(const struct vgpu_remote *r)
{
    return (_Atomic uint32_t *)(void *)((uint8_t *)r->reply.ptr + APIR_REPLY_PAYLOAD_OFFSET + r->accept_at);
}

/* The graph run's result into *result: its return code. */
static uint32_t graph_run_result(struct vgpu_remote *r, int64_t start_ns, uint32_t ret,
                                 struct wire_msg_graph_result *result)
{
    struct wire_decoder dec;
    uint32_t rc = vgpu_call_answer(r, start_ns, ret, &dec);
    if (rc == APIR_CALL_OK) {
        wire_decode_msg_graph_result(&dec, result);
        rc = vgpu_reply_status(r, &dec);
    }
    return rc;
}

/* A debug line per graph run taken: how long the host took to take it, and
 * how long the guest was busy with its own work between the previous run's
 * end and this submission. Between them they tell whether the time between
 * two runs went to the guest or to the host; tools parse the line, so its
 * text stays as it is. */
static void log_run_taken(const struct vgpu_remote *r, int64_t submitted_ns)
{
    const double taken_us = (double)(monotonic_ns() - submitted_ns) / 1e3;
    if (r->last_run_end_ns == 0) {
        LOG_DEBUG("ext_graph_run_async: taken in %.1f us", taken_us);
        return;
    }
    LOG_DEBUG("ext_graph_run_async: taken in %.1f us, submitted %.1f us after the previous run's end", taken_us,
              (double)(submitted_ns - r->last_run_end_ns) / 1e3);
}

uint32_t vgpu_graph_run_async_locked(struct vgpu_remote *r, const struct wire_msg_graph_run *req,
                                     const struct vgpu_run_outputs *outputs, struct wire_msg_graph_result *result)
{
    /* not vgpu_request (calls.h): the run carries the queued writes, so
     * none are sent first */
    wire_encode_msg_graph_run(vgpu_begin_forward(r, APIR_CALL_EXT_GRAPH_RUN_ASYNC), req);
    if (!vgpu_request_fits(r)) {
        return VGPU_NO_ANSWER;
    }
    atomic_store_explicit(accept_word(r), 0, memory_order_relaxed);
    const int64_t start = r->debug ? monotonic_ns() : 0;
    if (!vgpu_submit(r)) {
        return VGPU_NO_ANSWER;
    }
    bool answered = false;
    if (vgpu_wait_word(r->transport, accept_word(r), vgpu_reply_word(r), VGPU_NO_TIMEOUT, vgpu_spin_budget_ns(),
                       &answered) != 0) {
        if (r->debug) {
            log_run_taken(r, start);
        }
        r->pending = (struct vgpu_pending_run){ .active = true, .start_ns = start, .outputs = *outputs };
        return VGPU_ACCEPTED;
    }
    if (!answered) {
        vgpu_mark_broken(r);
        return VGPU_NO_ANSWER;
    }
    const uint32_t ret = atomic_load_explicit(vgpu_reply_word(r), memory_order_acquire) - 1;
    return graph_run_result(r, start, ret, result);
}

/* Waits for the end of the graph run the host took; its outputs are then
 * where they were said to be. A run that failed after it was taken is
 * logged: ggml already heard it was. */
static void complete_pending_run(struct vgpu_remote *r)
{
    struct vgpu_pending_run *p = &r->pending;
    p->active = false;
    r->call = APIR_CALL_EXT_GRAPH_RUN_ASYNC;
    struct wire_msg_graph_result result = { .status = GGML_STATUS_FAILED, .kept = false };
    uint32_t ret;
    if (!vgpu_await_reply(r, VGPU_NO_TIMEOUT, vgpu_run_end_spin_ns(), &ret)) {
        return; /* logged once, when the connection broke */
    }
    if (r->debug) {
        r->last_run_end_ns = monotonic_ns();
    }
    const uint32_t rc = graph_run_result(r, p->start_ns, ret, &result);
    if (rc != APIR_CALL_OK || !result.kept || result.status != GGML_STATUS_SUCCESS) {
        VGPU_CALL_ERROR(r, "a graph run the host had taken failed (status %d): its results are not valid; "
                           "see the host's log", (int)result.status);
        return;
    }
    vgpu_note_run_outputs(r, &p->outputs, result.outputs);
}

void vgpu_await_pending_run(struct vgpu_remote *r)
{
    if (r->pending.active) {
        complete_pending_run(r);
    }
}

void vgpu_note_run_outputs(struct vgpu_remote *r, const struct vgpu_run_outputs *layout, uint32_t n)
{
    r->outputs = *layout;
    r->outputs.count = n < layout->count ? n : layout->count;
}

bool vgpu_read_run_output(struct vgpu_remote *r, uint64_t buffer, uintptr_t start, size_t size, void *dst)
{
    for (uint32_t i = 0; i < r->outputs.count; i++) {
        const struct vgpu_run_output *o = &r->outputs.items[i];
        if (o->buffer == buffer && start >= o->start && start - o->start <= o->size &&
            size <= o->size - (start - o->start)) {
            memcpy(dst, (const uint8_t *)r->data.ptr + o->at + (start - o->start), size);
            return true;
        }
    }
    return false;
}
