"""PESQ-WB of marked against unmarked clips, for `cargo xtask watermark`.

Reads a JSON list of [unmarked.wav, marked.wav] pairs (16-bit mono WAV at the
same rate), brings both to 16 kHz (FFT resampling), and prints a JSON object:
mean, min, max and count of the wide-band PESQ scores. Needs the `pesq`
package (pinned in xtask/pins/fixture-tools.txt) and numpy.
"""

import json
import sys
import wave

import numpy as np
from pesq import pesq


def read(path):
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return x / 32768.0, rate


def to_16k(x, rate):
    if rate == 16000:
        return x
    n = int(round(len(x) * 16000 / rate))
    spectrum = np.fft.rfft(x)
    keep = n // 2 + 1
    out = np.zeros(keep, dtype=complex)
    m = min(keep, len(spectrum))
    out[:m] = spectrum[:m]
    return np.fft.irfft(out, n) * (n / len(x))


def main():
    pairs = json.load(open(sys.argv[1]))
    scores = []
    for ref_path, deg_path in pairs:
        ref, rate = read(ref_path)
        deg, _ = read(deg_path)
        scores.append(float(pesq(16000, to_16k(ref, rate), to_16k(deg, rate), "wb")))
    print(json.dumps({
        "mean": float(np.mean(scores)),
        "min": float(np.min(scores)),
        "max": float(np.max(scores)),
        "clips": len(scores),
        "below_4_2": int(sum(s < 4.2 for s in scores)),
    }))


if __name__ == "__main__":
    main()
