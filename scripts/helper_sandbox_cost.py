#!/usr/bin/env python3
"""Cost of the espeak-ng helper's sandbox: start-up and time per request, on and off.

Usage: scripts/helper_sandbox_cost.py HELPER ESPEAK_DIR [ROUNDS]

Starts the helper with `--sandbox required` and with `--sandbox off`, alternately, ROUNDS
times each (default 20); each run waits for the hello frame (start-up: load espeak-ng,
initialise it, apply the sandbox), then sends every line of
crates/signet-espeak/tests/data/sentences.txt as one request and reads the answers.
Prints the median start-up and the median time per request for each mode. Python's
standard library only.
"""
import os
import statistics
import struct
import subprocess
import sys
import time

PROTOCOL_VERSION = 2


def read_frame(pipe):
    head = pipe.read(4)
    if len(head) != 4:
        raise RuntimeError("helper closed its output")
    (length,) = struct.unpack("<I", head)
    return pipe.read(length)


def run(helper, espeak_dir, mode, texts):
    started = time.perf_counter()
    proc = subprocess.Popen(
        [helper, "--library", os.path.join(espeak_dir, "espeakbridge.so"),
         "--data", os.path.join(espeak_dir, "espeak-ng-data"), "--sandbox", mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={})
    hello = read_frame(proc.stdout)
    assert hello[1] == 2, hello
    startup = time.perf_counter() - started
    voice = b"en-us"
    begun = time.perf_counter()
    for text in texts:
        payload = bytes([PROTOCOL_VERSION, len(voice)]) + voice + text.encode()
        proc.stdin.write(struct.pack("<I", len(payload)) + payload)
        proc.stdin.flush()
        answer = read_frame(proc.stdout)
        assert answer[1] == 0, answer
    per_request = (time.perf_counter() - begun) / len(texts)
    proc.stdin.close()
    proc.wait()
    return startup, per_request


def main():
    helper, espeak_dir = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "crates", "signet-espeak", "tests", "data", "sentences.txt")
    with open(path, encoding="utf-8") as f:
        texts = [line.strip() for line in f if line.strip()]
    results = {"required": [], "off": []}
    for _ in range(rounds):
        for mode in results:
            results[mode].append(run(helper, espeak_dir, mode, texts))
    for mode, runs in results.items():
        startup = statistics.median(r[0] for r in runs) * 1000
        per_request = statistics.median(r[1] for r in runs) * 1e6
        print(f"sandbox {mode:8}: start-up {startup:6.1f} ms, "
              f"{per_request:7.1f} µs per request ({len(texts)} requests, {rounds} runs)")


if __name__ == "__main__":
    main()
