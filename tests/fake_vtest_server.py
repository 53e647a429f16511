#!/usr/bin/env python3
"""A vtest server that answers the APIR handshake with another protocol
version (major MAJOR): the guest must refuse it and carry on without the
device. usage: fake_vtest_server.py SOCKET MAJOR"""
import mmap
import os
import socket
import struct
import sys

VCMD_PROTOCOL_VERSION, VCMD_GET_CAPSET, VCMD_CONTEXT_INIT = 11, 16, 17
VCMD_RESOURCE_CREATE_BLOB, VCMD_SUBMIT_CMD2, VCMD_CREATE_RENDERER = 18, 24, 8
HANDSHAKE_MAGIC = 0xAB1E


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def reply(conn, cmd, *words):
    conn.sendall(struct.pack("<%dI" % (2 + len(words)), len(words), cmd, *words))


def serve(conn, major):
    blobs = {}
    while True:
        length, cmd = struct.unpack("<2I", read_exact(conn, 8))
        payload = read_exact(conn, length if cmd == VCMD_CREATE_RENDERER else 4 * length)
        words = struct.unpack("<%dI" % (len(payload) // 4), payload[: len(payload) // 4 * 4])
        if cmd == VCMD_PROTOCOL_VERSION:
            reply(conn, cmd, 3)
        elif cmd == VCMD_GET_CAPSET:
            reply(conn, cmd, 1, 1, 1, 0, 0, 0, 0)
        elif cmd == VCMD_RESOURCE_CREATE_BLOB:
            size = words[2] | words[3] << 32
            fd = os.memfd_create("fake-blob")
            os.ftruncate(fd, size)
            res_id = len(blobs) + 1
            blobs[res_id] = mmap.mmap(fd, size)
            reply(conn, cmd, res_id)
            socket.send_fds(conn, [b"\0"], [fd])
            os.close(fd)
        elif cmd == VCMD_SUBMIT_CMD2:
            offset, size = words[2], words[3]
            command = words[offset:offset + size]
            reply_blob = blobs[command[2]]
            reply_blob[4:12] = struct.pack("<2I", major, 0)
            reply_blob[0:4] = struct.pack("<I", HANDSHAKE_MAGIC + 1)


def main():
    path, major = sys.argv[1], int(sys.argv[2])
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    while True:
        conn, _ = server.accept()
        try:
            serve(conn, major)
        except (EOFError, ConnectionError):
            conn.close()


if __name__ == "__main__":
    main()
