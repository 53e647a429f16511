#!/usr/bin/env python3
"""Turns a traffic capture (GGML_VIRTGPU_CAPTURE_DIR, see capture.sh) into
seed inputs of every fuzz target (formats in README.md).

usage: seeds.py RAW_DIR OUT_DIR

 - session-*.bin (one guest context's calls) -> OUT_DIR/host_calls and
   OUT_DIR/apir_command: prefixes of the session (a call's handles are only
   valid after the calls that made them), up to MAX_RECORDS records or
   MAX_BYTES bytes;
 - the same prefixes as a vtest byte stream (the session a guest opens, its
   two blobs, each command in SUBMIT_CMD, a few in one SUBMIT_CMD2) ->
   OUT_DIR/vtest;
 - graph-*.bin, already in the graph_compute format -> OUT_DIR/graph_compute.
Names are content hashes, so seeds from two captures merge. Standard
library only."""

import hashlib
import os
import struct
import sys

PREFIX_RECORDS = (8, 32, 128)
MAX_BYTES = 96 << 10

# vtest (src/common/vtest-protocol.h)
CREATE_RENDERER, PROTOCOL_VERSION, GET_CAPSET, CONTEXT_INIT = 8, 11, 16, 17
RESOURCE_CREATE_BLOB, RESOURCE_UNREF, SUBMIT_CMD, SUBMIT_CMD2 = 18, 3, 6, 24
PING, GET_PARAM, BUSY_WAIT = 10, 15, 7
APIR_CAPSET = 10
REPLY_BLOB, DATA_BLOB = 0x4000, 1 << 20
SUBMIT_CMD2_BATCHES = 4


def read_records(path):
    """[(command bytes, the record's bytes)] of a session file."""
    data = open(path, "rb").read()
    records, pos = [], 0
    while pos + 4 <= len(data):
        start = pos
        (cmd_size,) = struct.unpack_from("<I", data, pos)
        cmd = data[pos + 4:pos + 4 + cmd_size]
        pos += 4 + cmd_size
        (n_res,) = struct.unpack_from("<I", data, pos)
        pos += 4
        for _ in range(n_res):
            _, size = struct.unpack_from("<II", data, pos)
            pos += 8 + size
        if pos > len(data):
            break  # a session cut short (the server stopped mid-write)
        records.append((cmd, data[start:pos]))
    return records


def write_seed(out_dir, data):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def vtest_msg(cmd, words=(), raw=None):
    payload = raw if raw is not None else struct.pack(f"<{len(words)}I", *words)
    length = len(payload) if cmd == CREATE_RENDERER else len(payload) // 4
    return struct.pack("<II", length, cmd) + payload


def padded(cmd):
    return cmd + b"\0" * (-len(cmd) % 4)


def vtest_stream(commands):
    """A guest's vtest session around the APIR commands."""
    out = [vtest_msg(CREATE_RENDERER, raw=b"fuzz"), vtest_msg(PROTOCOL_VERSION, [3]), vtest_msg(PING),
           vtest_msg(GET_PARAM, [1]), vtest_msg(GET_CAPSET, [APIR_CAPSET, 0]), vtest_msg(CONTEXT_INIT, [APIR_CAPSET])]
    for size in (REPLY_BLOB, DATA_BLOB):
        out.append(vtest_msg(RESOURCE_CREATE_BLOB, [1, 1, size, 0, 0, 0]))
    single, batched = commands[:-SUBMIT_CMD2_BATCHES], commands[-SUBMIT_CMD2_BATCHES:]
    out += [vtest_msg(SUBMIT_CMD, raw=padded(c)) for c in single]
    header = 1 + 8 * len(batched)
    batches, body = [], b""
    for c in batched:
        batches += [0, header + len(body) // 4, len(padded(c)) // 4, 0, 0, 0, 0, 0]
        body += padded(c)
    out.append(vtest_msg(SUBMIT_CMD2, raw=struct.pack(f"<{1 + len(batches)}I", len(batched), *batches) + body))
    out += [vtest_msg(BUSY_WAIT, [1, 0]), vtest_msg(RESOURCE_UNREF, [2])]
    return b"".join(out)


def session_seeds(path, out_dir):
    records = read_records(path)
    for n in PREFIX_RECORDS:
        prefix = records[:n]
        while len(prefix) > 2 and sum(len(r) for _, r in prefix) > MAX_BYTES:
            prefix = prefix[:-1]
        data = b"".join(r for _, r in prefix)
        write_seed(os.path.join(out_dir, "host_calls"), data)
        write_seed(os.path.join(out_dir, "apir_command"), data)
        write_seed(os.path.join(out_dir, "vtest"), vtest_stream([c for c, _ in prefix]))
        if n >= len(records):
            break


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    raw, out = sys.argv[1:]
    names = sorted(os.listdir(raw))
    for name in names:
        path = os.path.join(raw, name)
        if name.startswith("session-"):
            session_seeds(path, out)
        elif name.startswith("graph-"):
            write_seed(os.path.join(out, "graph_compute"), open(path, "rb").read())
    for target in ("host_calls", "apir_command", "vtest", "graph_compute"):
        d = os.path.join(out, target)
        print(f"{target}: {len(os.listdir(d)) if os.path.isdir(d) else 0} seeds")


if __name__ == "__main__":
    main()
