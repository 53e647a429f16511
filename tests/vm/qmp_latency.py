#!/usr/bin/env python3
"""How long QEMU's monitor takes to answer while a guest works: sends QMP
`query-status` on a fixed schedule (every INTERVAL_MS) from when the socket
appears until QEMU closes it, and prints the answer times' p50, p99 and
maximum, and how many were sent.

A query's time counts from when it was due, not from when it was sent:
while the monitor is stalled the queries due meanwhile wait, and each
counts its wait (a 2 s stall is 200 slow queries, not one).

usage: qmp_latency.py SOCKET [INTERVAL_MS]
prints: queries N p50_ms X p99_ms Y max_ms Z
exits 1 when the socket never appeared (60 s) or no query was answered."""
import json
import os
import socket
import sys
import time


def connect(path, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                return s
            except OSError:
                pass
        time.sleep(0.05)
    return None


def answers(sock):
    """The monitor's messages, one JSON object a line; ends when it closes."""
    buffered = b""
    while True:
        while b"\n" not in buffered:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffered += chunk
        line, buffered = buffered.split(b"\n", 1)
        if line.strip():
            yield json.loads(line)


def command(sock, replies, name):
    sock.sendall(json.dumps({"execute": name}).encode() + b"\n")
    for message in replies:
        if "return" in message or "error" in message:
            return message
    return None


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    interval = (float(sys.argv[2]) if len(sys.argv) > 2 else 10.0) / 1000
    sock = connect(sys.argv[1])
    if sock is None:
        print("qmp_latency: no QMP socket at " + sys.argv[1], file=sys.stderr)
        sys.exit(1)
    replies = answers(sock)
    next(replies, None)  # the greeting
    if command(sock, replies, "qmp_capabilities") is None:
        sys.exit(1)
    times = []
    due = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            if command(sock, replies, "query-status") is None:
                break
            times.append(time.monotonic() - due)
            due += interval
    except OSError:
        pass
    if not times:
        sys.exit(1)
    times.sort()
    print("queries %d p50_ms %.2f p99_ms %.2f max_ms %.2f" % (
        len(times), 1000 * percentile(times, 50), 1000 * percentile(times, 99), 1000 * times[-1]))


if __name__ == "__main__":
    main()
