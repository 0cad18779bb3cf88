#!/usr/bin/env python3
"""Writes signet-coqui's VITS parity fixtures with coqui-tts 0.28's own model and writer.

Never a run-time or CI dependency: it runs in the throw-away venv of scripts/coqui_fixtures.sh
(coqui-tts 0.28, torch 2.11), and its small output is committed:

    ../coqui-venv/bin/python scripts/coqui_vits_fixtures.py crates/signet-coqui/tests/data

It writes, into the folder given:

- vits_tiny.pth: a small random-initialized Coqui VITS (LJSpeech recipe layout: stochastic
  duration predictor, flows and WaveNet at the recipe's sizes, a narrow text encoder and
  decoder), saved with trainer.io.save_model (the trainer's layout, weight norm as
  parametrizations) without optimizer state. Coqui hard-codes a 192-channel duration
  predictor, so every parameter is rounded to a coarse grid (few distinct values): the values
  stay random but git compresses the file several times;
- vits_tiny.json: its config.json, as Coqui writes it;
- vits_tiny.expected.json: the symbol table coqui-tts builds, the token ids of a few sentences
  from coqui-tts's own tokenizer, and for the first sentence the number of samples coqui-tts
  synthesizes at noise 0 (inference_noise_scale = inference_noise_scale_dp = 0);
- vits_tiny.ref.f32: those samples, little-endian f32.

- vits_vctk_tiny.*: the same tiny VITS as the VCTK recipe trains it (a speaker-embedding table
  `emb_g` over the names of its speakers file, the duration predictor, flow and decoder
  conditioned on it), its speakers file (vits_vctk_tiny.speakers.pth, torch.save of a dict
  name -> id, as the trainer writes speakers.pth), and coqui-tts's samples at noise 0 for the
  first sentence in every speaker (vits_vctk_tiny.ref.<speaker>.f32);
- vits_yourtts_tiny.*: the same tiny VITS as YourTTS (d-vectors from a d-vector file, a
  language embedding `emb_l` into the text encoder and duration predictor), its d-vector file
  (vits_yourtts_tiny.dvectors.pth: clip -> {name, embedding}, several clips per speaker), its
  language-ids file (vits_yourtts_tiny.language_ids.json), and coqui-tts's samples at noise 0
  for the first sentence per speaker and per language (vits_yourtts_tiny.ref.<speaker>.<language>.f32),
  picking speaker and language as coqui-tts's synthesize does.

- vits_upsampled_tiny.*: the same tiny VITS with its encoder at half the decoder's rate
  (`encoder_sample_rate` 8000 under `audio.sample_rate` 16000, `interpolate_z`: the flow's
  output stretched twice before the decoder), and coqui-tts's samples at noise 0 for the first
  sentence at length_scale 1 (vits_upsampled_tiny.ref.f32) and 8 (.ref.slow.f32, long enough
  for Signet's decoder to run in several windows);
- vits_phonemes_tiny.*: the same tiny VITS as the LJSpeech recipe tokenizes (espeak-ng
  phonemes, en-us, phoneme_cleaners, add_blank, VitsCharacters' default table), the token ids
  coqui-tts's own tokenizer gives each sentence, and coqui-tts's samples at noise 0 for each
  (vits_phonemes_tiny.ref.<n>.f32). coqui-tts runs the `espeak-ng` on PATH: this uses
  scripts/coqui_text_fixtures.py's shim, Debian's program on the espeak-ng library Signet's
  helper loads, so both phonemize with one build (needs ESPEAK_DIR, `.cache/espeak-ng/` after
  `cargo xtask setup`, given with --espeak ESPEAK_DIR).

With --only STEM[,STEM...] it writes only those fixtures (vits_tiny, vits_vctk_tiny,
vits_yourtts_tiny, vits_upsampled_tiny, vits_phonemes_tiny).

With --time STEM it only times coqui-tts again on STEM.pth (written before by --ljspeech) at
one thread and records it in STEM.expected.json, to compare with Signet under the same load.

With --ljspeech OUT_DIR it also writes a real-size LJSpeech-recipe VITS (random init, about
330 MB with the discriminator left out), its config, token ids and reference audio of a long
sentence, and coqui-tts's synthesis time per thread count, for a manual check (never commit).
"""

import json
import os
import sys
import time

import torch

torch.manual_seed(20261206)

VCTK_SPEAKERS = ["VCTK_p225", "VCTK_p226", "VCTK_p227"]
YOURTTS_SPEAKERS = ["female-en-5", "male-en-2", "female-pt-4"]
YOURTTS_LANGUAGES = ["en", "fr-fr", "pt-br"]

# Sentences for the phoneme fixture: numbers, money, abbreviations and punctuation through
# Coqui's phoneme_cleaners and espeak-ng.
PHONEME_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Mr. Smith paid $5.50 for 3 apples, didn't he?",
    "Hello there; it's 10:30 on December 6th, 2026!",
]

SENTENCES = [
    "the quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you?",
    "Signet reads checkpoints as data.",
]


def characters():
    from TTS.tts.configs.shared_configs import CharactersConfig

    return CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters",
        pad="_",
        eos="",
        bos="",
        blank=None,
        characters="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        punctuations=" .,!?;:'\"-",
        phonemes=None,
        is_unique=False,
        is_sorted=True,
    )


def tiny_config():
    from TTS.tts.configs.shared_configs import BaseAudioConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig

    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=2,
        num_layers_posterior_encoder=1,
        kernel_size_posterior_encoder=3,
        resblock_type_decoder="1",
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[4, 4],
        upsample_kernel_sizes_decoder=[8, 8],
        upsample_initial_channel_decoder=16,
        out_channels=33,
        init_discriminator=False,
    )
    return VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(fft_size=128, win_length=128, hop_length=16, num_mels=10, sample_rate=16000),
        characters=characters(),
        use_phonemes=False,
        text_cleaner="english_cleaners",
        add_blank=True,
    )


def ljspeech_config():
    """The LJSpeech recipe (recipes/ljspeech/vits_tts/train_vits.py) at its real size."""
    from TTS.tts.configs.shared_configs import BaseAudioConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig

    audio = BaseAudioConfig(
        sample_rate=22050, win_length=1024, hop_length=256, num_mels=80, mel_fmin=0, mel_fmax=None
    )
    return VitsConfig(
        model_args=VitsArgs(init_discriminator=False),
        audio=audio,
        characters=characters(),
        use_phonemes=False,
        text_cleaner="english_cleaners",
        add_blank=True,
    )


def coarse(model, levels=6, keep_constant=False):
    """Rounds every parameter onto a grid of 2 * levels + 1 values per tensor (zero-initialized
    tensors first get random values, so nothing is trivially zero). With keep_constant, a
    tensor of one non-zero value (the layer norms' gains) is kept as it is: rounded, its values
    shrink to 6 * 0.0005 and the text encoder's output hardly depends on its input, so the
    speaker and language fixtures keep them."""
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() == 0:
                continue
            if keep_constant and p.numel() > 1 and float(p.std()) == 0.0 and float(p.abs().max()) != 0.0:
                continue
            if float(p.abs().max()) == 0.0:
                p.normal_(0.0, 0.05)
            step = float(p.std()) if p.numel() > 1 else float(p.abs().max())
            step = max(step, 1e-3) / 2.0
            p.copy_((p / step).round().clamp(-levels, levels) * step)


def build(config):
    from TTS.tts.models.vits import Vits
    from TTS.tts.utils.text.tokenizer import TTSTokenizer

    model = Vits(config)
    tokenizer, config = TTSTokenizer.init_from_config(config)
    model.eval()
    model.inference_noise_scale = 0.0
    model.inference_noise_scale_dp = 0.0
    model.length_scale = 1.0
    return config, model, tokenizer


def synthesize(model, ids):
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long)
        out = model.inference(x, aux_input={"x_lengths": torch.tensor([len(ids)])})
    return out["model_outputs"][0, 0].contiguous()


def vocab(tokenizer):
    return list(tokenizer.characters.vocab)


def vctk_config(out):
    """The VCTK recipe's multi-speaker VITS (recipes/vctk/vits/train_vits.py) at the tiny size."""
    from TTS.tts.utils.speakers import SpeakerManager

    config = tiny_config()
    speakers = SpeakerManager()
    speakers.name_to_id = {name: i for i, name in enumerate(VCTK_SPEAKERS)}
    path = os.path.join(out, "vits_vctk_tiny.speakers.pth")
    speakers.save_ids_to_file(path)
    config.model_args.use_speaker_embedding = True
    config.model_args.speaker_embedding_channels = 8
    config.model_args.num_speakers = len(VCTK_SPEAKERS)
    config.num_speakers = len(VCTK_SPEAKERS)
    # As the trainer's on_init_start records it (an absolute path on the training machine).
    config.speakers_file = path
    config.model_args.speakers_file = path
    return config


def yourtts_config(out):
    """YourTTS's layout (recipes/vctk/yourtts/train_yourtts.py) at the tiny size."""
    generator = torch.Generator().manual_seed(7)
    dvectors = {}
    for s, name in enumerate(YOURTTS_SPEAKERS):
        for clip in range(2 + s):
            emb = torch.randn(8, generator=generator) * (1.0 + s)
            dvectors[f"{name}/clip_{clip}.wav"] = {"name": name, "embedding": emb.tolist()}
    dpath = os.path.join(out, "vits_yourtts_tiny.dvectors.pth")
    torch.save(dvectors, dpath)
    lpath = os.path.join(out, "vits_yourtts_tiny.language_ids.json")
    with open(lpath, "w") as f:
        json.dump({name: i for i, name in enumerate(YOURTTS_LANGUAGES)}, f, indent=4)
    config = tiny_config()
    config.model_args.use_d_vector_file = True
    config.model_args.d_vector_dim = 8
    config.model_args.d_vector_file = [dpath]
    config.d_vector_file = [dpath]
    config.model_args.use_language_embedding = True
    config.model_args.embedded_language_dim = 4
    config.model_args.language_ids_file = lpath
    return config


def write_speakers(out, stem, config, sentences, conditions):
    """Writes STEM's model, config, expected ids and one reference per condition: `conditions`
    is a list of (label, speaker name, language name or None)."""
    import trainer.io

    config, model, tokenizer = build(config)
    coarse(model, keep_constant=True)
    path = os.path.join(out, stem + ".pth")
    trainer.io.save_model(config, model, path, current_step=1, epoch=0, model_loss=None)
    config.save_json(os.path.join(out, stem + ".json"))
    ids = [tokenizer.text_to_ids(s) for s in sentences]
    refs = []
    for label, speaker, language in conditions:
        # coqui-tts's own choice of speaker id or d-vector and language id for the names.
        sid, dvec = model._get_speaker_id_or_dvector(speaker)
        lid = model._get_language_id(language)
        aux = {"x_lengths": torch.tensor([len(ids[0])]), "speaker_ids": sid, "d_vectors": dvec}
        if lid is not None:
            aux["language_ids"] = torch.tensor([lid])
        with torch.no_grad():
            out_ = model.inference(torch.tensor([ids[0]], dtype=torch.long), aux_input=aux)
        audio = out_["model_outputs"][0, 0].contiguous()
        audio.numpy().astype("<f4").tofile(os.path.join(out, f"{stem}.ref.{label}.f32"))
        refs.append({"label": label, "speaker": speaker, "language": language,
                     "speaker_id": None if sid is None else int(sid[0]),
                     "language_id": lid, "samples": audio.numel(),
                     "peak": float(audio.abs().max())})
    expected = {
        "generator": f"coqui-tts 0.28, torch {torch.__version__}",
        "vocab": vocab(tokenizer),
        "sentences": [{"text": s, "ids": i} for s, i in zip(sentences, ids)],
        "references": refs,
    }
    with open(os.path.join(out, stem + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(path, os.path.getsize(path), "bytes;", [r["samples"] for r in refs], "samples")


def write_common(out, stem, config, model, tokenizer, sentences):
    import trainer.io

    path = os.path.join(out, stem + ".pth")
    trainer.io.save_model(config, model, path, current_step=1, epoch=0, model_loss=None)
    config.save_json(os.path.join(out, stem + ".json"))
    ids = [tokenizer.text_to_ids(s) for s in sentences]
    audio = synthesize(model, ids[0])
    audio.numpy().astype("<f4").tofile(os.path.join(out, stem + ".ref.f32"))
    return path, ids, audio


def write_expected(out, stem, tokenizer, ids, audio, **extra):
    """STEM.expected.json: the symbol table, the sentences' ids, and the first one's audio
    length and peak (with `extra` entries)."""
    expected = {
        "generator": f"coqui-tts 0.28, torch {torch.__version__}",
        "vocab": vocab(tokenizer),
        "sentences": [{"text": s, "ids": i} for s, i in zip(SENTENCES, ids)],
        "samples": audio.numel(),
        "peak": float(audio.abs().max()),
        **extra,
    }
    with open(os.path.join(out, stem + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")


def best_time(model, ids, threads, runs=3):
    torch.set_num_threads(threads)
    synthesize(model, ids)
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        synthesize(model, ids)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def time_again(stem):
    from TTS.config import load_config
    from TTS.tts.models.vits import Vits

    config = load_config(stem + ".json")
    model = Vits.init_from_config(config)
    # Our own file, written by this script: unpickling it here is safe.
    model.load_checkpoint(config, stem + ".pth", eval=True)
    model.inference_noise_scale = 0.0
    model.inference_noise_scale_dp = 0.0
    with open(stem + ".expected.json") as f:
        expected = json.load(f)
    ids = expected["sentences"][0]["ids"]
    audio = synthesize(model, ids)
    reference = torch.from_numpy(__import__("numpy").fromfile(stem + ".ref.f32", dtype="<f4"))
    assert audio.numel() == reference.numel() and torch.allclose(audio, reference, atol=1e-5)
    best = best_time(model, ids, 1)
    rate = config.audio["sample_rate"]
    expected["coqui_timings"] = {"1": {"seconds": best, "rtf": best / (audio.numel() / rate)}}
    with open(stem + ".expected.json", "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    print("coqui-tts, one thread:", expected["coqui_timings"])


def upsampled_config():
    """The tiny VITS with its encoder at half the output rate (Coqui's `encoder_sample_rate`
    with `interpolate_z`); the decoder's upsampling stays `audio.hop_length`."""
    config = tiny_config()
    config.model_args.encoder_sample_rate = 8000
    config.model_args.interpolate_z = True
    return config


def write_upsampled(out):
    config, model, tokenizer = build(upsampled_config())
    coarse(model, keep_constant=True)
    path, ids, audio = write_common(out, "vits_upsampled_tiny", config, model, tokenizer, SENTENCES)
    model.length_scale = 8.0
    slow = synthesize(model, ids[0])
    model.length_scale = 1.0
    slow.numpy().astype("<f4").tofile(os.path.join(out, "vits_upsampled_tiny.ref.slow.f32"))
    write_expected(out, "vits_upsampled_tiny", tokenizer, ids, audio,
                   slow={"length_scale": 8.0, "samples": slow.numel(),
                         "peak": float(slow.abs().max())})
    print(path, os.path.getsize(path), "bytes;", audio.numel(), "and", slow.numel(), "samples")


def phonemes_config():
    """The tiny VITS with the LJSpeech recipe's text settings."""
    from TTS.tts.models.vits import VitsCharacters

    config = tiny_config()
    config.use_phonemes = True
    config.phoneme_language = "en-us"
    config.phonemizer = "espeak"
    config.text_cleaner = "phoneme_cleaners"
    config.characters = VitsCharacters().to_config()
    config.characters.characters_class = "TTS.tts.models.vits.VitsCharacters"
    return config


def write_phonemes(out, espeak_dir):
    import subprocess
    import tempfile

    import trainer.io
    from coqui_text_fixtures import espeak_version, shim

    debian_path = os.environ["PATH"]
    with tempfile.TemporaryDirectory() as folder:
        shim(folder, os.path.abspath(espeak_dir))
        os.environ["PATH"] = f"{folder}:{debian_path}"
        try:
            config, model, tokenizer = build(phonemes_config())
            coarse(model, keep_constant=True)
            ids = [tokenizer.text_to_ids(s) for s in PHONEME_SENTENCES]
            phonemes = [tokenizer.phonemizer.phonemize(s, separator="", language="en-us")
                        for s in PHONEME_SENTENCES]
            version = espeak_version()
        finally:
            os.environ["PATH"] = debian_path
    stem = "vits_phonemes_tiny"
    path = os.path.join(out, stem + ".pth")
    trainer.io.save_model(config, model, path, current_step=1, epoch=0, model_loss=None)
    config.save_json(os.path.join(out, stem + ".json"))
    cases = []
    for n, (text, i, ph) in enumerate(zip(PHONEME_SENTENCES, ids, phonemes)):
        audio = synthesize(model, i)
        audio.numpy().astype("<f4").tofile(os.path.join(out, f"{stem}.ref.{n}.f32"))
        cases.append({"text": text, "phonemes": ph, "ids": i, "samples": audio.numel(),
                      "peak": float(audio.abs().max())})
    expected = {
        "generator": f"coqui-tts 0.28, torch {torch.__version__}",
        "espeak_ng": version,
        "vocab": vocab(tokenizer),
        "sentences": cases,
    }
    with open(os.path.join(out, stem + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(path, os.path.getsize(path), "bytes;", [c["samples"] for c in cases], "samples")


def main():
    if "--time" in sys.argv:
        time_again(sys.argv[sys.argv.index("--time") + 1])
        return
    valued = {"--only", "--ljspeech", "--espeak", "--time"}
    args = [a for k, a in enumerate(sys.argv[1:], 1)
            if not a.startswith("--") and sys.argv[k - 1] not in valued]
    out = args[0] if args else "crates/signet-coqui/tests/data"
    os.makedirs(out, exist_ok=True)
    only = None
    if "--only" in sys.argv:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    espeak_dir = (sys.argv[sys.argv.index("--espeak") + 1] if "--espeak" in sys.argv
                  else os.path.join(os.path.dirname(__file__), "..", ".cache", "espeak-ng"))

    def wanted(stem):
        return only is None or stem in only

    if wanted("vits_upsampled_tiny"):
        torch.manual_seed(20261209)
        write_upsampled(out)
    if wanted("vits_phonemes_tiny"):
        torch.manual_seed(20261210)
        write_phonemes(out, espeak_dir)
    if only is not None:
        return
    torch.manual_seed(20261206)
    config, model, tokenizer = build(tiny_config())
    coarse(model)
    path, ids, audio = write_common(out, "vits_tiny", config, model, tokenizer, SENTENCES)
    write_expected(out, "vits_tiny", tokenizer, ids, audio)
    print(path, os.path.getsize(path), "bytes;", audio.numel(), "samples")

    torch.manual_seed(20261207)
    write_speakers(out, "vits_vctk_tiny", vctk_config(out), SENTENCES,
                   [(name, name, None) for name in VCTK_SPEAKERS])
    torch.manual_seed(20261208)
    write_speakers(out, "vits_yourtts_tiny", yourtts_config(out), SENTENCES,
                   [(f"{s}.{l}", s, l) for s in YOURTTS_SPEAKERS[:2] for l in YOURTTS_LANGUAGES[:2]]
                   + [(f"{YOURTTS_SPEAKERS[2]}.{YOURTTS_LANGUAGES[2]}", YOURTTS_SPEAKERS[2],
                       YOURTTS_LANGUAGES[2])])

    if "--ljspeech" in sys.argv:
        big = sys.argv[sys.argv.index("--ljspeech") + 1]
        os.makedirs(big, exist_ok=True)
        text = (
            "it is a truth universally acknowledged, that a single man in possession of a good "
            "fortune, must be in want of a wife, and that is how the story begins."
        )
        config, model, tokenizer = build(ljspeech_config())
        path, ids, audio = write_common(big, "ljspeech_vits", config, model, tokenizer, [text])
        timings = {"1": {"seconds": best_time(model, ids[0], 1)}}
        timings["1"]["rtf"] = timings["1"]["seconds"] / (audio.numel() / 22050)
        with open(os.path.join(big, "ljspeech_vits.expected.json"), "w") as f:
            json.dump(
                {"vocab": vocab(tokenizer), "sentences": [{"text": text, "ids": ids[0]}],
                 "samples": audio.numel(), "coqui_timings": timings},
                f, indent=1, ensure_ascii=False,
            )
        print(path, os.path.getsize(path), "bytes;", audio.numel(), "samples;", timings)


if __name__ == "__main__":
    main()
