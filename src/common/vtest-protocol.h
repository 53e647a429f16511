/* The part of virglrenderer's vtest protocol that APIR uses (protocol
 * version 3): a Unix stream socket; every message starts with two u32, the
 * payload length in dwords (in bytes for CREATE_RENDERER) and the command
 * id; file descriptors travel with SCM_RIGHTS on a 1-byte message. */
#ifndef VTEST_PROTOCOL_H
#define VTEST_PROTOCOL_H

#define VTEST_DEFAULT_SOCKET_NAME "/tmp/.virgl_test"
#define VTEST_PROTOCOL_VERSION 3u

#define VTEST_HDR_LEN 0
#define VTEST_HDR_CMD 1
#define VTEST_HDR_DWORDS 2

enum vtest_command {
    VCMD_GET_CAPS = 1,
    VCMD_RESOURCE_CREATE = 2,
    VCMD_RESOURCE_UNREF = 3,
    VCMD_TRANSFER_GET = 4,
    VCMD_TRANSFER_PUT = 5,
    VCMD_SUBMIT_CMD = 6,
    VCMD_RESOURCE_BUSY_WAIT = 7,
    VCMD_CREATE_RENDERER = 8,
    VCMD_GET_CAPS2 = 9,
    VCMD_PING_PROTOCOL_VERSION = 10,
    VCMD_PROTOCOL_VERSION = 11,
    VCMD_RESOURCE_CREATE2 = 12,
    VCMD_TRANSFER_GET2 = 13,
    VCMD_TRANSFER_PUT2 = 14,
    VCMD_GET_PARAM = 15,
    VCMD_GET_CAPSET = 16,
    VCMD_CONTEXT_INIT = 17,
    VCMD_RESOURCE_CREATE_BLOB = 18,
    VCMD_SYNC_CREATE = 19,
    VCMD_SYNC_UNREF = 20,
    VCMD_SYNC_READ = 21,
    VCMD_SYNC_WRITE = 22,
    VCMD_SYNC_WAIT = 23,
    VCMD_SUBMIT_CMD2 = 24,
};

/* Field positions, in dwords from the payload start, of the requests and
 * replies both sides use; *_DWORDS is a message's length. */

/* PROTOCOL_VERSION: the client's version; the reply: the version both speak */
#define VCMD_PROTOCOL_VERSION_VERSION 0
#define VCMD_PROTOCOL_VERSION_DWORDS 1

/* GET_PARAM: the parameter; the reply: valid flag, value */
#define VCMD_GET_PARAM_REPLY_VALID 0
#define VCMD_GET_PARAM_REPLY_VALUE 1
#define VCMD_GET_PARAM_REPLY_DWORDS 2
#define VCMD_PARAM_MAX_TIMELINE_COUNT 1u

/* RESOURCE_BUSY_WAIT: the reply: whether the resource is still busy */
#define VCMD_BUSY_WAIT_REPLY_BUSY 0
#define VCMD_BUSY_WAIT_REPLY_DWORDS 1

/* GET_CAPSET: capset id, version; the reply: valid flag, then the capset's
 * words (only when valid) */
#define VCMD_GET_CAPSET_ID 0
#define VCMD_GET_CAPSET_VERSION 1
#define VCMD_GET_CAPSET_DWORDS 2
#define VCMD_GET_CAPSET_REPLY_VALID 0
#define VCMD_GET_CAPSET_REPLY_CAPSET 1
#define VCMD_GET_CAPSET_REPLY_DWORDS(capset_bytes) (VCMD_GET_CAPSET_REPLY_CAPSET + (capset_bytes) / 4)
/* apir-server's reply when it refuses the connection because --max-contexts
 * contexts are running: not valid, then the magic word and the limit. A
 * client that does not know them sees a capset that is not offered. */
#define VCMD_GET_CAPSET_REPLY_REFUSED 1
#define VCMD_GET_CAPSET_REPLY_REFUSED_CONTEXTS 2
#define VCMD_GET_CAPSET_REPLY_REFUSED_DWORDS 3
#define VTEST_REFUSED_TOO_MANY_CONTEXTS 0x78746341u /* "Actx" */

/* CONTEXT_INIT: the capset id */
#define VCMD_CONTEXT_INIT_CAPSET_ID 0
#define VCMD_CONTEXT_INIT_DWORDS 1

/* RESOURCE_CREATE_BLOB: type, flags, size lo/hi, blob id lo/hi; the reply:
 * the resource id, followed by the blob's fd (SCM_RIGHTS). apir-server's
 * extensions: a seventh dword, the resource id the client chose (a VMM's,
 * whose guest kernel picks them); a refused blob (over a limit) is answered
 * resource id 0 and no fd, and the connection goes on. */
#define VCMD_RES_CREATE_BLOB_TYPE 0
#define VCMD_RES_CREATE_BLOB_FLAGS 1
#define VCMD_RES_CREATE_BLOB_SIZE_LO 2
#define VCMD_RES_CREATE_BLOB_SIZE_HI 3
#define VCMD_RES_CREATE_BLOB_ID_LO 4
#define VCMD_RES_CREATE_BLOB_ID_HI 5
#define VCMD_RES_CREATE_BLOB_DWORDS 6
#define VCMD_RES_CREATE_BLOB_CHOSEN_ID 6
#define VCMD_RES_CREATE_BLOB_CHOSEN_DWORDS 7
#define VCMD_RES_CREATE_BLOB_REPLY_RES_ID 0
#define VCMD_RES_CREATE_BLOB_REPLY_DWORDS 1

#define VCMD_BLOB_TYPE_GUEST 1u
#define VCMD_BLOB_TYPE_HOST3D 2u
#define VCMD_BLOB_TYPE_HOST3D_GUEST 3u
#define VCMD_BLOB_FLAG_MAPPABLE 1u

/* RESOURCE_UNREF: the resource id */
#define VCMD_RES_UNREF_RES_ID 0
#define VCMD_RES_UNREF_DWORDS 1

/* SUBMIT_CMD2: batch count, then batches of 8 dwords (the servers' stride):
 * flags, cmd offset, cmd size (both in dwords from the payload start), sync
 * offset, sync count, ring index, in/out syncobj counts */
#define VCMD_SUBMIT_CMD2_NUM_BATCHES 0
#define VCMD_SUBMIT_CMD2_BATCHES 1
#define VCMD_SUBMIT_CMD2_BATCH_DWORDS 8
#define VCMD_SUBMIT_CMD2_BATCH_CMD_OFFSET 1
#define VCMD_SUBMIT_CMD2_BATCH_CMD_SIZE 2
#define VCMD_SUBMIT_CMD2_BATCH_SYNC_COUNT 4

/* apir-server's own command, outside vtest's numbers: a connection's first
 * and only command, no payload; asks for the live status report. The
 * reply: whether it is the report or a refusal, the text's length in
 * bytes, then the text (UTF-8, not NUL-terminated) padded to dwords. */
#define VCMD_APIR_STATUS 0x56475301u /* "\x01SGV" */
#define VCMD_APIR_STATUS_REPLY_ANSWER 0
#define VCMD_APIR_STATUS_REPLY_TEXT_BYTES 1
#define VCMD_APIR_STATUS_REPLY_TEXT 2
/* apir-server's own command, outside vtest's numbers: after CONTEXT_INIT,
 * no payload; the reply: the ring's data bytes, followed by the memfd of a
 * struct submit_ring (submit-ring.h) that carries the client's messages
 * from then on (the socket only the ring's doorbell bytes). */
#define VCMD_APIR_SUBMIT_RING 0x56475302u /* "\x02SGV" */
#define VCMD_APIR_SUBMIT_RING_REPLY_BYTES 0
#define VCMD_APIR_SUBMIT_RING_REPLY_DWORDS 1
#define VTEST_STATUS_REPORT 0u
#define VTEST_STATUS_REFUSED 1u

#endif
