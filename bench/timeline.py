#!/usr/bin/env python3
"""Where a token's time goes, from the logs of one VirtGPU run with GGML_VIRTGPU_DEBUG=1 on both sides
(apir-server's stderr, the llama.cpp tool's stderr with -v), graph run by graph run:

  host busy   the host's writes, graph compute and output copies (its "ext_graph_run:" lines)
  transit     the guest's submit-to-end-seen time less the host's busy time: the command reaching the
              host, the host's decoding, its reply and the guest's wake-up
  guest gap   from the end of one run seen by the guest to its next submission: llama.cpp's own work
              between tokens (its graph build, its CPU ops), which a native run does too
  period      gap + the guest's submit-to-end-seen: one token, as llama-bench times it

Usage: bench/timeline.py HOST_LOG GUEST_LOG [SKIP]   (SKIP: the first runs left out, default 5)
"""
import re
import statistics
import sys


def runs(host_log, guest_log):
    host = open(host_log).read()
    guest = open(guest_log).read()
    busy = [sum(map(int, m)) for m in re.findall(
        r"ext_graph_run: \d+ writes in (\d+) us, graph in (\d+) us, \d+ outputs in (\d+) us", host)]
    seen = [float(m) for m in re.findall(r"ext_graph_run_async: ([\d.]+) us", guest)]
    gaps = [float(m) for m in re.findall(r"ext_graph_run_async: taken in [\d.]+ us, submitted ([\d.]+) us after", guest)]
    return busy, seen, gaps


def row(name, values):
    q = sorted(values)
    print("%-14s p10 %7.1f  p50 %7.1f  mean %7.1f  p90 %7.1f  max %8.1f us" %
          (name, q[len(q) // 10], statistics.median(q), statistics.mean(q), q[len(q) * 9 // 10], q[-1]))


def main():
    busy, seen, gaps = runs(sys.argv[1], sys.argv[2])
    skip = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    if len(busy) != len(seen) or len(gaps) != len(seen) - 1 or len(seen) <= skip + 1:
        print("token timeline: %d host runs, %d guest runs, %d gaps: not one graph run each (a run not taken "
              "asynchronously, or logs not at debug level)" % (len(busy), len(seen), len(gaps)))
        return
    busy, seen, gaps = busy[skip + 1:], seen[skip + 1:], gaps[skip:]
    print("token timeline over %d graph runs:" % len(seen))
    row("host busy", busy)
    row("transit", [s - b for s, b in zip(seen, busy)])
    row("guest gap", gaps)
    row("period", [g + s for g, s in zip(gaps, seen)])


main()
