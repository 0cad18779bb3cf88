#!/usr/bin/env python3
"""Writes the parity fixtures of signet-acoustic: phoneme ids and the samples the original
Piper ONNX voice produces for them with onnxruntime, deterministic scales [0, 1, 0]
(noise_scale 0, length_scale 1, noise_w 0).

onnxruntime and piper-tts are fixture generators only; nothing at run time depends on them.

Usage: make_parity_fixtures.py [VOICE_DIR] [OUT_DIR]
  VOICE_DIR holds en_US-joe-medium.onnx and .onnx.json
            (default: $SIGNET_TEST_VOICE_DIR or <repo>/.cache/voices/en_US-joe-medium)
  OUT_DIR   default: <repo>/crates/signet-acoustic/tests/data/parity

Each case writes <case>.json (ids, scales, sample count, source digests) and <case>.f32
(the ONNX output as little-endian float32).
"""

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from piper.phoneme_ids import phonemes_to_ids
from piper.phonemize_espeak import EspeakPhonemizer

REPO = Path(__file__).resolve().parent.parent
VOICE = "en_US-joe-medium"
SCALES = [0.0, 1.0, 0.0]

# (case name, text or explicit ids)
CASES = [
    ("one_token", [1, 0, 20, 0, 2]),
    ("short", "Hi."),
    ("sentence", "The quick brown fox jumps over the lazy dog."),
    ("question", "Is this the right way to the station, or should we turn back?"),
    ("exclamation", "Well, that's interesting; let's see what happens next!"),
    (
        "long",
        "Signet is a text to speech engine that only speaks with voices it can verify. "
        "Every voice bundle carries a manifest with a digest for each file, and the weights "
        "are plain tensors, never code. The acoustic model turns phonemes into a latent "
        "sequence, a flow reshapes it, and the vocoder renders the waveform one sample at a "
        "time, twenty two thousand and fifty times each second, while the listener hears "
        "nothing but a calm and steady voice reading this rather long sentence aloud.",
    ),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    default_voice = os.environ.get("SIGNET_TEST_VOICE_DIR") or str(REPO / ".cache" / "voices" / VOICE)
    voice_dir = Path(sys.argv[1] if len(sys.argv) > 1 else default_voice)
    out_dir = Path(sys.argv[2] if len(sys.argv) > 2 else REPO / "crates/signet-acoustic/tests/data/parity")
    onnx_path = voice_dir / f"{VOICE}.onnx"
    json_path = voice_dir / f"{VOICE}.onnx.json"
    if not onnx_path.is_file() or not json_path.is_file():
        print(f"voice files missing in {voice_dir}; run `cargo xtask setup`", file=sys.stderr)
        return 1
    config = json.loads(json_path.read_text(encoding="utf-8"))
    id_map = config["phoneme_id_map"]
    espeak_voice = config["espeak"]["voice"]

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
    phonemizer = EspeakPhonemizer()

    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, source in CASES:
        if isinstance(source, str):
            sentences = phonemizer.phonemize(espeak_voice, source)
            phonemes = [p for sentence in sentences for p in sentence]
            ids = phonemes_to_ids(phonemes, id_map)
            text = source
        else:
            ids = list(source)
            text = None
        audio = session.run(
            None,
            {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": np.array(SCALES, dtype=np.float32),
            },
        )[0]
        samples = audio.reshape(-1).astype("<f4")
        (out_dir / f"{name}.f32").write_bytes(samples.tobytes())
        meta = {
            "case": name,
            "text": text,
            "ids": ids,
            "scales": SCALES,
            "samples": int(samples.size),
            "sample_rate": config["audio"]["sample_rate"],
            "onnx_sha256": sha256(onnx_path),
            "config_sha256": sha256(json_path),
            "generator": f"onnxruntime {onnxruntime.__version__}",
        }
        (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        total += samples.nbytes
        print(f"{name}: {len(ids)} ids -> {samples.size} samples")
    print(f"wrote {total} bytes of reference audio to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
