#!/usr/bin/env python3
"""Real-time factors of coqui-tts's HiFi-GAN vocoder, Glow-TTS and VITS, and the files to time
Signet's on the same (`cargo xtask bench --coqui VENV` runs both sides and prints the ratios).

Runs in the throw-away coqui venv (see coqui_fixtures.py); never a run-time or CI dependency:

    ../coqui-venv/bin/python scripts/coqui_rtf.py OUT_DIR [--threads N] [--frames F] [--only ARCH]
    cargo run -p signet-acoustic --example coqui_rtf -- OUT_DIR --arch hifigan [--threads N]
    cargo run -p signet-acoustic --example coqui_rtf -- OUT_DIR --arch glow_tts [--threads N]
    cargo run -p signet-acoustic --example coqui_rtf -- OUT_DIR --arch tacotron2 [--threads N]

It builds a random-initialized vocoder at the size of Coqui's LJSpeech `hifigan_v2` recipe
(upsampling 8-8-2-2, 128 initial channels, residual kernels 3/7/11), saves it the way Coqui's
trainer does with its config.json and a mel of F frames (default 430, about 5 s of 22.05 kHz
audio), times coqui-tts's own inference path on it at N threads (best of 5 runs after a
warm-up) and prints the RTF; its output is kept (audio.json, glow_mel.json) so the examples
also report their SNR against coqui-tts at these real sizes. The example then times Signet's mel vocoder on the same files.
Likewise a random-initialized Glow-TTS at Coqui's default size (glow.pth, glow_config.json,
glow_ids.json: 120 ids), whose RTF is mel seconds (at 22.05 kHz, hop 256) per second of
compute, noise off; and a random-initialized VITS at the LJSpeech recipe's size
(ljspeech_vits.*, about 330 MB, read by `cargo run -p signet-acoustic --example coqui_check --
OUT_DIR/ljspeech_vits --threads N`), noise 0; and a random-initialized Tacotron2-DDC at Coqui's
size (tacotron2.pth, tacotron2_config.json, tacotron2_ids.json: 60 ids), made to stop after 200
decoder steps (400 frames, 4.6 s) by the fixtures' `stop_clock`, prenet dropout off. Each RTF is also printed as a tab-separated
`rtf ARCH coqui-tts VALUE` line.
"""

import json
import os
import sys
import time

import torch


def main():
    args = [a for a in sys.argv[1:]]
    out = args[0]
    threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 1
    frames = int(args[args.index("--frames") + 1]) if "--frames" in args else 430
    torch.set_num_threads(threads)
    torch.manual_seed(3)
    os.makedirs(out, exist_ok=True)
    if "--only" in args:
        # One architecture alone: `--only tacotron2` (or glow_tts, vits).
        only = args[args.index("--only") + 1]
        {"tacotron2": tacotron2, "glow_tts": glow, "vits": vits}[only](out, threads)
        return

    import trainer.io
    from TTS.vocoder.configs import HifiganConfig
    from TTS.vocoder.models import setup_model

    config = HifiganConfig(
        generator_model_params={
            "upsample_factors": [8, 8, 2, 2],
            "upsample_kernel_sizes": [16, 16, 4, 4],
            "upsample_initial_channel": 128,
            "resblock_kernel_sizes": [3, 7, 11],
            "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
            "resblock_type": "1",
        }
    )
    model = setup_model(config)
    model.model_d = torch.nn.Conv1d(1, 1, 1)
    ckpt = os.path.join(out, "vocoder.pth")
    trainer.io.save_model(config, model, ckpt, current_step=1, epoch=1, optimizer=None, scheduler=None, scaler=None)
    config.save_json(os.path.join(out, "config.json"))
    model.load_checkpoint(config, ckpt, eval=True)
    model.eval()
    mel = torch.rand(1, config.audio.num_mels, frames) * 8.0 - 4.0
    with open(os.path.join(out, "mel.json"), "w") as f:
        json.dump({"shape": list(mel.shape), "mel": mel.flatten().tolist()}, f)
    with torch.inference_mode():
        audio = model.inference(mel)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            audio = model.inference(mel)
            best = min(best, time.perf_counter() - start)
    with open(os.path.join(out, "audio.json"), "w") as f:
        json.dump(audio.flatten().tolist(), f)
    seconds = audio.numel() / config.audio.sample_rate
    print(f"coqui-tts hifigan_v2-size vocoder, {threads} thread(s), {frames} frames: "
          f"{best:.3f} s for {seconds:.2f} s of audio, RTF {best / seconds:.4f}")
    row("hifigan", best / seconds)

    glow(out, threads)
    tacotron2(out, threads)
    vits(out, threads)


def row(arch, rtf):
    """The line `cargo xtask bench --coqui` reads: architecture, side, real-time factor."""
    print(f"rtf\t{arch}\tcoqui-tts\t{rtf:.6f}", flush=True)


def vits(out, threads):
    """A random-initialized VITS at the LJSpeech recipe's size (the files the coqui_check
    example reads), timed at `threads` threads, noise 0."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import coqui_vits_fixtures as v

    text = (
        "it is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife, and that is how the story begins."
    )
    config, model, tokenizer = v.build(v.ljspeech_config())
    _, ids, audio = v.write_common(out, "ljspeech_vits", config, model, tokenizer, [text])
    best = v.best_time(model, ids[0], threads)
    seconds = audio.numel() / config.audio.sample_rate
    with open(os.path.join(out, "ljspeech_vits.expected.json"), "w") as f:
        json.dump(
            {"vocab": v.vocab(tokenizer), "sentences": [{"text": text, "ids": ids[0]}],
             "samples": audio.numel(),
             "coqui_timings": {str(threads): {"seconds": best, "rtf": best / seconds}}},
            f, indent=1, ensure_ascii=False,
        )
    print(f"coqui-tts VITS (LJSpeech recipe size), {threads} thread(s), {len(ids[0])} ids: "
          f"{best:.3f} s for {seconds:.2f} s of audio, RTF {best / seconds:.4f}")
    row("vits", best / seconds)


def tacotron2(out, threads):
    """A random-initialized Tacotron2 with double decoder consistency at Coqui's sizes (its
    hard-coded 512/1024 layers, 80 mel bins, r 2, ddc_r 6), stopping after 200 steps."""
    import trainer.io
    from TTS.tts.configs.tacotron2_config import Tacotron2Config
    from TTS.tts.models.tacotron2 import Tacotron2

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from coqui_fixtures import stop_clock

    config = Tacotron2Config(num_chars=67, r=2, double_decoder_consistency=True, ddc_r=6)
    model = Tacotron2(config)
    stop_clock(model.decoder, 200)
    ckpt = os.path.join(out, "tacotron2.pth")
    trainer.io.save_model(config, model, ckpt, current_step=1, epoch=1, optimizer=None, scheduler=None, scaler=None)
    config.save_json(os.path.join(out, "tacotron2_config.json"))
    model = Tacotron2(config)
    model.load_checkpoint(config, ckpt, eval=True)
    ids = [(i * 7) % 60 + 1 for i in range(60)]
    with open(os.path.join(out, "tacotron2_ids.json"), "w") as f:
        json.dump(ids, f)
    x = torch.tensor([ids])
    with torch.inference_mode():
        o = model.inference(x)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            o = model.inference(x)
            best = min(best, time.perf_counter() - start)
    with open(os.path.join(out, "tacotron2_mel.json"), "w") as f:
        json.dump(o["model_outputs"][0].t().flatten().tolist(), f)
    frames = o["model_outputs"].shape[1]
    seconds = frames * 256 / 22050
    print(f"coqui-tts Tacotron2-DDC (Coqui's size), {threads} thread(s), {len(ids)} ids: "
          f"{best:.3f} s for {frames} frames ({seconds:.2f} s of audio), RTF {best / seconds:.4f}")
    row("tacotron2", best / seconds)


def glow(out, threads):
    import trainer.io
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.tts.models.glow_tts import GlowTTS

    config = GlowTTSConfig(num_chars=67)
    model = GlowTTS(config)
    with torch.no_grad():
        model.encoder.duration_predictor.proj.bias.add_(1.5)
    ckpt = os.path.join(out, "glow.pth")
    trainer.io.save_model(config, model, ckpt, current_step=1, epoch=1, optimizer=None, scheduler=None, scaler=None)
    config.save_json(os.path.join(out, "glow_config.json"))
    model = GlowTTS(config)
    model.load_checkpoint(config, ckpt, eval=True)
    ids = [(i * 7) % 60 + 1 for i in range(120)]
    with open(os.path.join(out, "glow_ids.json"), "w") as f:
        json.dump(ids, f)
    aux = {"x_lengths": torch.tensor([len(ids)]), "d_vectors": None, "speaker_ids": None}
    x = torch.tensor([ids])
    with torch.inference_mode():
        o = model.inference(x, aux_input=aux)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            o = model.inference(x, aux_input=aux)
            best = min(best, time.perf_counter() - start)
    with open(os.path.join(out, "glow_mel.json"), "w") as f:
        json.dump(o["model_outputs"][0].t().flatten().tolist(), f)
    frames = o["model_outputs"].shape[1]
    seconds = frames * 256 / 22050
    print(f"coqui-tts Glow-TTS (default size), {threads} thread(s), {len(ids)} ids: "
          f"{best:.3f} s for {frames} frames ({seconds:.2f} s of audio), RTF {best / seconds:.4f}")
    row("glow_tts", best / seconds)


if __name__ == "__main__":
    main()
