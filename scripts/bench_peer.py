"""Benchmark peer for `cargo xtask bench`: Piper's reference runtime.

Measures, on the same inputs Signet's criterion bench uses:
- onnxruntime running the original ONNX voice on fixed phoneme ids;
- piper-tts speaking the same sentences end to end (its own phonemizer);
- the peak RSS of a command (`rss` mode), to compare memory.

Noise scales are 0 (length scale 1), as on Signet's side, so the audio
lengths match and the real-time factors are comparable. This script is a
measuring tool only; nothing in Signet imports onnxruntime or piper-tts.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def timed_passes(fn, min_seconds, min_passes=3):
    times = []
    start = time.perf_counter()
    while len(times) < min_passes or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def bench(args):
    import numpy as np
    import onnxruntime as ort
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    ids = json.load(open(args.ids))
    texts = json.load(open(args.texts))

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t = time.perf_counter()
    sess = ort.InferenceSession(args.onnx, sess_options=opts, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t
    scales = np.array([0.0, 1.0, 0.0], dtype=np.float32)

    def run_ids():
        n = 0
        for seq in ids:
            x = np.array([seq], dtype=np.int64)
            out = sess.run(None, {"input": x, "input_lengths": np.array([len(seq)], dtype=np.int64), "scales": scales})[0]
            n += out.size
        return n

    samples = run_ids()  # warm-up, and the audio length
    ids_s, ids_passes = timed_passes(run_ids, args.seconds)

    voice = PiperVoice.load(args.onnx, config_path=args.onnx + ".json")
    # Same thread count for piper-tts's session.
    voice.session = sess
    syn = SynthesisConfig(noise_scale=0.0, length_scale=1.0, noise_w_scale=0.0)

    def run_texts():
        n = 0
        for text in texts:
            for chunk in voice.synthesize(text, syn_config=syn):
                n += len(chunk.audio_float_array)
        return n

    text_samples = run_texts()
    text_s, text_passes = timed_passes(run_texts, args.seconds)

    def run_phonemize():
        for text in texts:
            voice.phonemize(text)

    frontend_s, _ = timed_passes(run_phonemize, 1.0)
    rate = voice.config.sample_rate
    json.dump(
        {
            "load_s": load_s,
            "ids_s_per_pass": ids_s,
            "ids_passes": ids_passes,
            "ids_audio_s": samples / rate,
            "text_s_per_pass": text_s,
            "text_passes": text_passes,
            "text_audio_s": text_samples / rate,
            "frontend_s_per_pass": frontend_s,
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "onnxruntime": ort.__version__,
        },
        sys.stdout,
    )


def rss(cmd):
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        sys.exit(proc.returncode)
    json.dump({"maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "wall_s": wall}, sys.stdout)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "rss":
        return rss(sys.argv[2:])
    p = argparse.ArgumentParser()
    p.add_argument("--onnx", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--texts", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=10.0)
    bench(p.parse_args())


if __name__ == "__main__":
    main()
