"""Writes the small WAV seeds of the `wav` fuzz target (run from corpus/wav/).

`signet.wav` is not made here: it is `signet speak "Hi." --sample-rate 8000
--trim-silence`, cut to its first 400 samples by `cut_signet_seed` below so
that the provenance chunk stays and the seed stays small.
"""
import math
import struct


def riff(chunks):
    body = b"WAVE"
    for cid, data in chunks:
        body += cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt(tag, channels, rate, bits):
    align = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def tone(n, rate, amp):
    return [amp * math.sin(2 * math.pi * 440 * i / rate) for i in range(n)]


def main():
    t = tone(64, 8000, 0.5)
    pcm8 = bytes(int(128 + 127 * s) for s in t for _ in range(2))
    open("stereo8.wav", "wb").write(riff([(b"fmt ", fmt(1, 2, 8000, 8)), (b"data", pcm8)]))
    pcm24 = b"".join(struct.pack("<i", int(s * 8388607))[:3] for s in t)
    info = b"INFO" + b"ISFT" + struct.pack("<I", 6) + b"other\0"
    open("mono24_info.wav", "wb").write(
        riff([(b"fmt ", fmt(1, 1, 16000, 24)), (b"LIST", info), (b"data", pcm24)])
    )
    sub = struct.pack("<H", 3) + bytes.fromhex("000000001000800000aa00389b71")
    ext = fmt(0xFFFE, 1, 22050, 32) + struct.pack("<HHI", 22, 32, 4) + sub
    f32 = b"".join(struct.pack("<f", s) for s in t)
    open("float_ext.wav", "wb").write(riff([(b"fmt ", ext), (b"data", f32)]))


def cut_signet_seed(path, keep):
    data = open(path, "rb").read()
    pos, chunks = 12, []
    while pos < len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"data":
            body = body[: 2 * keep]
        chunks.append((cid, body))
        pos += 8 + size + (size & 1)
    open(path, "wb").write(riff(chunks))


if __name__ == "__main__":
    main()
