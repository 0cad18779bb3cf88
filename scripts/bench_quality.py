#!/usr/bin/env python3
"""Quality of one precision's audio against another's, for `cargo xtask bench`.

    bench_quality.py spectra REF_DIR TEST_DIR
        REF_DIR and TEST_DIR hold raw little-endian f32 files of the same names (the same
        phoneme ids spoken at two precisions). Prints JSON: per-file and mean log-spectral
        distance (dB) and mel-cepstral distortion (dB, coefficients 1-24 of a log-mel
        spectrum's DCT, frame by frame; the two files have the same durations), over the
        speech frames (within 40 dB of the loudest) with powers floored 80 dB down.

    bench_quality.py wer TEXTS.json DIR [DIR ...]
        Each DIR holds 0001.wav, 0002.wav, ... (16 kHz mono, 16-bit), one per sentence of
        TEXTS.json. Prints JSON: the word error rate of pocketsphinx's US English model on
        each DIR, against the sentences (lower-cased, punctuation removed).

Only numpy and pocketsphinx (the bench venv's pinned wheels); no network.
"""

import json
import os
import re
import sys
import wave

import numpy as np

N_FFT = 1024
HOP = 256
MELS = 80
CEPSTRA = 24
# Frames more than SPEECH_DB below the loudest are silence, left out of the distances.
SPEECH_DB = 40.0
# Spectral powers are floored this far below the loudest bin.
FLOOR_DB = 80.0


def frames_power(x):
    """Power spectra of Hann-windowed frames, shape (frames, N_FFT/2+1)."""
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    count = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    spec = np.fft.rfft(x[idx] * np.hanning(N_FFT)[None, :], axis=1)
    return np.abs(spec) ** 2


def mel_filters(rate):
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(rate / 2), MELS + 2))
    bins = np.fft.rfftfreq(N_FFT, 1.0 / rate)
    fb = np.zeros((MELS, len(bins)))
    for m in range(MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (bins - lo) / (mid - lo)
        down = (hi - bins) / (hi - mid)
        fb[m] = np.maximum(0.0, np.minimum(up, down))
    return fb


def dct_matrix(n, k):
    i = np.arange(n)
    return np.sqrt(2.0 / n) * np.cos(np.pi / n * (i[None, :] + 0.5) * np.arange(k)[:, None])


def spectra(ref_dir, test_dir, rate=22050):
    fb = mel_filters(rate)
    dct = dct_matrix(MELS, CEPSTRA + 1)
    rows = []
    for name in sorted(os.listdir(ref_dir)):
        a = np.fromfile(os.path.join(ref_dir, name), dtype="<f4").astype(np.float64)
        b = np.fromfile(os.path.join(test_dir, name), dtype="<f4").astype(np.float64)
        n = min(len(a), len(b))
        pa, pb = frames_power(a[:n]), frames_power(b[:n])
        # Speech frames only: those within SPEECH_DB of the reference's loudest frame.
        # Silence between words is near zero in both, and its log spectra differ by
        # tens of dB over nothing audible. Powers are floored FLOOR_DB below the peak.
        energy = pa.sum(axis=1)
        speech = energy >= energy.max() * 10 ** (-SPEECH_DB / 10)
        floor = pa.max() * 10 ** (-FLOOR_DB / 10)
        pa, pb = np.maximum(pa[speech], floor), np.maximum(pb[speech], floor)
        lsd = np.mean(np.sqrt(np.mean((10 * np.log10(pa) - 10 * np.log10(pb)) ** 2, axis=1)))
        mel_floor = floor * fb.sum(axis=1).min()
        ca = (dct @ np.log(np.maximum(pa @ fb.T, mel_floor)).T).T[:, 1:]
        cb = (dct @ np.log(np.maximum(pb @ fb.T, mel_floor)).T).T[:, 1:]
        mcd = np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum((ca - cb) ** 2, axis=1)))
        rows.append(
            {
                "file": name,
                "samples": [len(a), len(b)],
                "speech_frames": int(speech.sum()),
                "lsd_db": float(lsd),
                "mcd_db": float(mcd),
            }
        )
    if not rows:
        sys.exit(f"no files in {ref_dir}")
    return {
        "files": rows,
        "lsd_db_mean": float(np.mean([r["lsd_db"] for r in rows])),
        "mcd_db_mean": float(np.mean([r["mcd_db"] for r in rows])),
        "mcd_db_max": float(np.max([r["mcd_db"] for r in rows])),
        "equal_lengths": all(r["samples"][0] == r["samples"][1] for r in rows),
    }


def words(text):
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def edit_distance(ref, hyp):
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)]


def recognize(decoder, path):
    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            sys.exit(f"{path}: need 16 kHz mono 16-bit")
        pcm = w.readframes(w.getnframes())
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def wer(texts_path, dirs):
    from pocketsphinx import Config, Decoder

    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    config = Config(loglevel="FATAL")
    decoder = Decoder(config)
    out = {}
    for d in dirs:
        errors = total = 0
        for i, text in enumerate(texts, 1):
            ref = words(text)
            hyp = words(recognize(decoder, os.path.join(d, f"{i:04}.wav")))
            errors += edit_distance(ref, hyp)
            total += len(ref)
        out[d] = {"wer": errors / max(total, 1), "words": total}
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "spectra":
        print(json.dumps(spectra(sys.argv[2], sys.argv[3])))
    elif len(sys.argv) >= 4 and sys.argv[1] == "wer":
        print(json.dumps(wer(sys.argv[2], sys.argv[3:])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
