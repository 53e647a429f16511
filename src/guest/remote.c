/* One call's round trip with the host (remote.h): command framing, the
 * submission, the wait for the return code and the decoding of the
 * answer. */
#define _POSIX_C_SOURCE 200809L
#include "remote.h"

#include "clock.h"
#include "reply-wait.h"

/* ---- one command ---------------------------------------------------------- */

void vgpu_begin_command(struct vgpu_remote *r, uint32_t type, uint32_t flags)
{
    const uint32_t offset = r->transport->venus_capset ? APIR_VENUS_COMMAND_OFFSET : 0;
    wire_encoder_init(&r->enc, r->cmd, sizeof r->cmd);
    wire_encode_u32(&r->enc, type + offset);
    wire_encode_u32(&r->enc, flags);
    wire_encode_u32(&r->enc, r->reply.res_id);
}

/* A host that went away (its process died: a crash, a GGML abort, the
 * sandbox, a kill) is said to be lost, once; llama.cpp then sees its calls
 * fail and ends cleanly. */
void vgpu_mark_broken(struct vgpu_remote *r)
{
    if (!vgpu_broken(r) && !vgpu_transport_alive(r->transport)) {
        LOG_ERROR("the host context was lost: %s", r->transport->lost);
    }
    r->broken = true;
}

bool vgpu_submit(struct vgpu_remote *r)
{
    if (vgpu_broken(r)) {
        return false;
    }
    atomic_store_explicit(vgpu_reply_word(r), 0, memory_order_relaxed);
    if (!vgpu_transport_submit(r->transport, r->cmd, wire_encoder_used(&r->enc))) {
        if (vgpu_transport_alive(r->transport)) {
            LOG_ERROR("cannot submit a command to the host (%s transport)", r->transport->name);
        }
        vgpu_mark_broken(r);
        return false;
    }
    return true;
}

bool vgpu_await_reply(struct vgpu_remote *r, int64_t timeout_ms, int64_t spin_ns, uint32_t *ret)
{
    if (vgpu_broken(r)) {
        return false;
    }
    bool unused;
    const uint32_t notification =
        vgpu_wait_word(r->transport, vgpu_reply_word(r), NULL, timeout_ms, spin_ns, &unused);
    if (notification == 0) {
        vgpu_mark_broken(r);
        return false;
    }
    *ret = notification - 1;
    return true;
}

bool vgpu_round_trip(struct vgpu_remote *r, int64_t timeout_ms, uint32_t *ret)
{
    return vgpu_submit(r) && vgpu_await_reply(r, timeout_ms, vgpu_spin_budget_ns(), ret);
}

void vgpu_reply_decoder(struct vgpu_remote *r, struct wire_decoder *dec)
{
    wire_decoder_init(dec, (uint8_t *)r->reply.ptr + APIR_REPLY_PAYLOAD_OFFSET,
                      r->reply.size - APIR_REPLY_PAYLOAD_OFFSET);
}

/* ---- one forwarded call --------------------------------------------------- */

struct wire_encoder *vgpu_begin_forward(struct vgpu_remote *r, uint32_t call)
{
    r->outputs.count = 0; /* the call may change them */
    r->call = call;
    vgpu_begin_command(r, APIR_CMD_FORWARD, call);
    return &r->enc;
}

static bool is_unknown_extension(uint32_t call, uint32_t rc)
{
    return call >= APIR_CALL_EXT_FIRST && rc == APIR_CALL_INVALID_INDEX;
}

uint32_t vgpu_call_answer(struct vgpu_remote *r, int64_t start_ns, uint32_t ret, struct wire_decoder *reply)
{
    const char *name = wire_call_name(r->call);
    if (r->debug) {
        const int64_t ns = monotonic_ns() - start_ns;
        vgpu_stats_record(&r->stats, r->call, ns);
        LOG_DEBUG("%s: %.1f us", name, (double)ns / 1e3);
    }
    if (ret < APIR_FORWARD_BASE_INDEX && r->call >= APIR_CALL_EXT_FIRST) {
        /* what some APIR components answer for a call their host refused */
        LOG_DEBUG("%s: not forwarded (code %u): taken as a host without it", name, ret);
        return APIR_CALL_INVALID_INDEX;
    }
    if (ret < APIR_FORWARD_BASE_INDEX) {
        LOG_ERROR("%s: the hypervisor could not forward the call (code %u)", name, ret);
        return VGPU_NO_ANSWER;
    }
    const uint32_t rc = ret - APIR_FORWARD_BASE_INDEX;
    const char *why = wire_call_error_text(rc);
    if (why != NULL) {
        LOG_ERROR("the host refused %s: %s, code %u (the host's log says more)", name, why, rc);
    } else if (rc != APIR_CALL_OK && !is_unknown_extension(r->call, rc)) {
        LOG_ERROR("the host refused %s (code %u; see the host's log)", name, rc);
    }
    vgpu_reply_decoder(r, reply);
    return rc;
}

bool vgpu_request_fits(const struct vgpu_remote *r)
{
    if (r->enc.fatal) {
        LOG_ERROR("%s: the arguments do not fit a command buffer", wire_call_name(r->call));
    }
    return !r->enc.fatal;
}

uint32_t vgpu_exchange(struct vgpu_remote *r, struct wire_decoder *reply)
{
    if (!vgpu_request_fits(r)) {
        return VGPU_NO_ANSWER;
    }
    uint32_t ret;
    const int64_t start = r->debug ? monotonic_ns() : 0;
    if (!vgpu_round_trip(r, VGPU_NO_TIMEOUT, &ret)) {
        return VGPU_NO_ANSWER; /* logged once, when the connection broke */
    }
    return vgpu_call_answer(r, start, ret, reply);
}

uint32_t vgpu_reply_status(struct vgpu_remote *r, const struct wire_decoder *reply)
{
    if (reply->fatal) {
        LOG_ERROR("%s: the host's reply is shorter than its layout", wire_call_name(r->call));
        return APIR_CALL_FAILED;
    }
    return APIR_CALL_OK;
}
