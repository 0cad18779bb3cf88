#!/usr/bin/env python3
"""Writes the checkpoint fixtures of signet-checkpoint's tests with torch's own writer.

Never a run-time or CI dependency: it needs coqui-tts and torch, which are large, so it runs in
a throw-away venv outside the repository, and its output is committed (well under 1 MB):

    python3 -m venv ../coqui-venv
    ../coqui-venv/bin/pip install "coqui-tts[cpu]==0.28.0"
    ../coqui-venv/bin/pip install torch==2.11.0 torchaudio==2.11.0 torchcodec==0.11.1 six
    ../coqui-venv/bin/python scripts/coqui_fixtures.py crates/signet-checkpoint/tests/data/fixtures

or all of it with scripts/coqui_fixtures.sh [VENV_DIR].

It writes, into the folder given:

- hifigan_tiny_zip.pth: a tiny random-initialized Coqui HiFi-GAN generator (weight norm as
  parametrizations) saved the way Coqui's trainer saves a checkpoint (trainer.io.save_model:
  model, config, optimizer, scheduler, scaler, step, epoch, date, model_loss), in torch's zip
  format, with a real AdamW state after one step;
- hifigan_tiny_legacy.pth: the same checkpoint in the legacy stream format
  (_use_new_zipfile_serialization=False);
- with --vits, also vits_tiny_zip.pth and vits_tiny_legacy.pth: a tiny Coqui VITS the same
  way. Coqui's VITS hard-codes a 192-channel duration predictor, so these are about 15 MB each:
  write them to a folder outside the repository for a manual check (`signet scan`), never
  commit them;
- tensors_zip.pth and tensors_legacy.pth: a bare dict of tensors in every dtype the reader
  knows, with a transposed (non-contiguous) view, two views sharing one storage, a storage
  offset, a scalar and an empty tensor;
- with --stages DIR, the two-stage fixtures of the model crates instead (see `stage_fixtures`):
  DIR/signet-vocoder/coqui/ and DIR/signet-audio/coqui/ under the crates folder DIR;
- with --tacotron2 DIR, the Tacotron2-DDC fixture of signet-acoustic (see `tacotron2_fixture`)
  under the crates folder DIR;
- expected.json: for each file, the format, every tensor the reader must produce (name, dtype,
  shape, SHA-256 of its values as contiguous little-endian bytes), the tensors inside the
  skipped training state, and a few config values.
"""

import hashlib
import json
import os
import sys

import torch

torch.manual_seed(1234)

DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def digest(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().tobytes()
    else:
        raw = t.numpy().tobytes()
    return hashlib.sha256(raw).hexdigest()


def describe(state):
    return [
        {"name": k, "dtype": DTYPES[v.dtype], "shape": list(v.shape), "sha256": digest(v)}
        for k, v in state.items()
    ]


def count_tensors(obj):
    if isinstance(obj, torch.Tensor):
        return 1
    if isinstance(obj, dict):
        return sum(count_tensors(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(count_tensors(v) for v in obj)
    return 0


def tiny_vits():
    from TTS.tts.configs.shared_configs import BaseAudioConfig, CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    args = VitsArgs(
        hidden_channels=8,
        hidden_channels_ffn_text_encoder=16,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_posterior_encoder=1,
        num_layers_flow=1,
        kernel_size_flow=3,
        kernel_size_posterior_encoder=3,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[4, 4],
        upsample_kernel_sizes_decoder=[8, 8],
        upsample_initial_channel_decoder=8,
        init_discriminator=False,
    )
    config = VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(fft_size=128, win_length=128, hop_length=16, num_mels=10, sample_rate=16000),
        characters=CharactersConfig(
            characters_class="TTS.tts.models.vits.VitsCharacters",
            pad="_",
            eos="",
            bos="",
            blank=None,
            characters="abcdefghijklmnopqrstuvwxyz",
            punctuations=" .,!?",
            phonemes=None,
            is_unique=False,
            is_sorted=True,
        ),
        use_phonemes=False,
        text_cleaner="english_cleaners",
        add_blank=True,
    )
    model = Vits(config)
    return config, model


def tiny_hifigan():
    from TTS.vocoder.configs import HifiganConfig
    from TTS.vocoder.models.hifigan_generator import HifiganGenerator

    params = {
        "upsample_factors": [4, 4],
        "upsample_kernel_sizes": [8, 8],
        "upsample_initial_channel": 16,
        "resblock_kernel_sizes": [3],
        "resblock_dilation_sizes": [[1, 3, 5]],
        "resblock_type": "1",
    }
    config = HifiganConfig(generator_model_params=params)
    config.audio.num_mels = 10
    model = HifiganGenerator(
        in_channels=10,
        out_channels=1,
        resblock_type=params["resblock_type"],
        resblock_dilation_sizes=params["resblock_dilation_sizes"],
        resblock_kernel_sizes=params["resblock_kernel_sizes"],
        upsample_kernel_sizes=params["upsample_kernel_sizes"],
        upsample_initial_channel=params["upsample_initial_channel"],
        upsample_factors=params["upsample_factors"],
    )
    return config, model


def trainer_checkpoint(path, config, model, legacy):
    import trainer.io

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=2e-4, betas=(0.8, 0.99), weight_decay=0.01)
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.999875)
    scheduler.step()

    if legacy:
        original = trainer.io.save_fsspec

        def save_legacy(state, p, **kwargs):
            with open(p, "wb") as f:
                torch.save(state, f, _use_new_zipfile_serialization=False)

        trainer.io.save_fsspec = save_legacy
    try:
        trainer.io.save_model(
            config,
            model,
            path,
            current_step=1000,
            epoch=3,
            optimizer=[optimizer],
            scheduler=[scheduler],
            scaler=None,
            model_loss={"train_loss": 1.5, "eval_loss": None},
        )
    finally:
        if legacy:
            trainer.io.save_fsspec = original
    # What torch itself reads back (weights_only=False is safe here: we wrote it just now).
    loaded = torch.load(path, map_location="cpu", weights_only=False)
    return {
        "format": "legacy" if legacy else "zip",
        "layout": "trainer",
        "tensors": describe(loaded["model"]),
        "skipped": {
            "optimizer": count_tensors(loaded["optimizer"]),
            "scheduler": count_tensors(loaded["scheduler"]),
            "scaler": count_tensors(loaded["scaler"]),
        },
        "config": {
            "model": loaded["config"]["model"],
            "sample_rate": loaded["config"]["audio"]["sample_rate"],
        },
        "step": loaded["step"],
        "epoch": loaded["epoch"],
    }


def tensor_zoo():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7.0
    shared = torch.randn(10)
    return {
        "f64": torch.randn(3, 2, dtype=torch.float64),
        "f32": torch.randn(2, 3, 4),
        "f16": torch.randn(5).half(),
        "bf16": torch.randn(2, 2).bfloat16(),
        "i64": torch.tensor([-(2**40), 0, 2**40]),
        "i32": torch.tensor([[-7, 8]], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "transposed": base.t(),
        "strided": base[::2, 1::2],
        "shared_head": shared[:4],
        "shared_tail": shared[6:],
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 4),
        "expanded": torch.tensor([1.0, 2.0]).unsqueeze(0).expand(3, 2),
    }


def zoo_checkpoint(path, legacy):
    zoo = tensor_zoo()
    torch.save(zoo, path, _use_new_zipfile_serialization=not legacy)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    return {
        "format": "legacy" if legacy else "zip",
        "layout": "state_dict",
        "tensors": describe(loaded),
    }


def tiny_gan_vocoder():
    """A Coqui HiFi-GAN vocoder as its trainer builds it (`GAN`: generator `model_g`, discriminator
    `model_d`), small: the discriminator is swapped for one tiny layer so the checkpoint stays a
    few kilobytes while still holding `model_d.*` tensors the importer must drop."""
    from TTS.vocoder.configs import HifiganConfig
    from TTS.vocoder.models.gan import GAN

    params = {
        "upsample_factors": [4, 2, 2],
        "upsample_kernel_sizes": [8, 4, 4],
        "upsample_initial_channel": 16,
        "resblock_kernel_sizes": [3, 5],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
        "resblock_type": "1",
    }
    config = HifiganConfig(generator_model_params=params)
    config.audio.num_mels = 10
    config.audio.sample_rate = 16000
    config.audio.hop_length = 16
    config.audio.win_length = 128
    config.audio.fft_size = 128
    model = GAN(config)
    model.model_d = torch.nn.Conv1d(1, 2, 3)
    return config, model


def perturb_weight_norm(model):
    """Random init leaves every weight-norm magnitude equal to the norm of its direction, which
    would hide a wrong fold; scale the magnitudes so the fold is exercised."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("original0"):
                p.mul_(torch.rand_like(p) + 0.5)


def to_weight_g_v(state):
    """The same state dict with weight norm in its older form (`weight_g`, `weight_v`)."""
    out = {}
    for k, v in state.items():
        k = k.replace("parametrizations.weight.original0", "weight_g")
        k = k.replace("parametrizations.weight.original1", "weight_v")
        out[k] = v
    return out


def norm_cases():
    """Coqui AudioProcessor settings whose normalize/denormalize the tests reproduce."""
    base = {"num_mels": 10, "sample_rate": 16000, "hop_length": 16, "win_length": 128, "fft_size": 128}
    return {
        "symmetric_clip": dict(base, signal_norm=True, symmetric_norm=True, max_norm=4.0, clip_norm=True),
        "symmetric_noclip": dict(base, signal_norm=True, symmetric_norm=True, max_norm=1.0, clip_norm=False),
        "asymmetric_clip": dict(
            base, signal_norm=True, symmetric_norm=False, max_norm=1.0, clip_norm=True, min_level_db=-80, ref_level_db=10
        ),
        "asymmetric_noclip": dict(base, signal_norm=True, symmetric_norm=False, max_norm=2.5, clip_norm=False),
        "off": dict(base, signal_norm=False),
        "stats": dict(base, signal_norm=True, stats="yes"),
    }


def tiny_glow_tts():
    """A small Coqui Glow-TTS (default encoder: relative-position transformer with a prenet,
    mean only; flow decoder with ActNorm, 4-way invertible 1x1 convolutions and WaveNet
    couplings, squeeze 2)."""
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.tts.models.glow_tts import GlowTTS

    config = GlowTTSConfig(
        num_chars=20,
        hidden_channels_enc=16,
        hidden_channels_dec=16,
        hidden_channels_dp=16,
        out_channels=10,
        num_flow_blocks_dec=3,
        num_block_layers=2,
        kernel_size_dec=3,
        encoder_params={
            "kernel_size": 3,
            "dropout_p": 0.1,
            "num_layers": 2,
            "num_heads": 2,
            "hidden_channels_ffn": 32,
            "input_length": None,
        },
    )
    config.audio.num_mels = 10
    config.audio.sample_rate = 16000
    config.audio.hop_length = 16
    config.audio.win_length = 128
    config.audio.fft_size = 128
    config.audio.max_norm = 1.0
    config.audio.symmetric_norm = False
    config.audio.ref_level_db = 15
    model = GlowTTS(config)
    # Random init leaves ActNorm, the couplings' last layers and the prenet's projection at
    # zero (identity flows); perturb every parameter so each layer matters.
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.2)
        # A few frames per token rather than the minimum of one.
        model.encoder.duration_predictor.proj.bias.add_(1.5)
    return config, model


def glow_tts_fixture(crates):
    """Glow-TTS: trainer checkpoint, config and the mel coqui-tts makes of a few id sequences
    with its inference defaults (noise scale 0, length scale 1)."""
    from TTS.tts.models.glow_tts import GlowTTS

    out = os.path.join(crates, "signet-acoustic", "tests", "data", "coqui")
    os.makedirs(out, exist_ok=True)
    config, model = tiny_glow_tts()
    ckpt = os.path.join(out, "glow_tts.pth")
    trainer_checkpoint(ckpt, config, model, False)
    config.save_json(os.path.join(out, "glow_tts_config.json"))
    loaded = GlowTTS(config)
    loaded.load_checkpoint(config, ckpt, eval=True)
    cases = []
    for ids in ([3, 7, 1, 19, 4, 4, 12, 0, 8], [5, 2], [2, 9, 11, 13, 17, 6, 14, 1, 10, 18, 16, 15, 7, 3]):
        x = torch.tensor([ids])
        with torch.inference_mode():
            o = loaded.inference(x, aux_input={"x_lengths": torch.tensor([len(ids)]), "d_vectors": None, "speaker_ids": None})
        mel = o["model_outputs"].transpose(1, 2)  # [1, C, T]
        cases.append({"ids": ids, "mel_shape": list(mel.shape), "mel": mel.flatten().tolist()})
    # Both stages end to end as coqui-tts's Synthesizer runs them: Glow-TTS, then the vocoder of
    # signet-vocoder's fixtures through Synthesizer._run_vocoder (denormalize with Glow-TTS's
    # audio settings, normalize with the vocoder's, vocode).
    import types

    from TTS.config import load_config
    from TTS.utils.audio import AudioProcessor
    from TTS.utils.synthesizer import Synthesizer
    from TTS.vocoder.models import setup_model

    voc_dir = os.path.join(crates, "signet-vocoder", "tests", "data", "coqui")
    voc_config = load_config(os.path.join(voc_dir, "hifigan_config.json"))
    vocoder = setup_model(voc_config)
    vocoder.model_d = torch.nn.Conv1d(1, 2, 3)
    vocoder.load_checkpoint(voc_config, os.path.join(voc_dir, "hifigan_gan.pth"), eval=True)
    stub = types.SimpleNamespace(
        tts_model=types.SimpleNamespace(ap=AudioProcessor(config.audio)),
        vocoder_ap=AudioProcessor(voc_config.audio),
        vocoder_config=voc_config,
        vocoder_model=vocoder,
    )
    for case in cases:
        x = torch.tensor([case["ids"]])
        with torch.inference_mode():
            o = loaded.inference(x, aux_input={"x_lengths": torch.tensor([len(case["ids"])]), "d_vectors": None, "speaker_ids": None})
            audio = Synthesizer._run_vocoder(stub, o["model_outputs"][0], "cpu")
        case["audio"] = audio.flatten().tolist()
    with open(os.path.join(out, "glow_tts_parity.json"), "w") as f:
        json.dump({"generator": f"coqui-tts 0.28, torch {torch.__version__}", "cases": cases}, f)
        f.write("\n")


# Coqui's Tacotron2 hard-codes its decoder sizes (attention and decoder LSTMs of 1024, prenet
# 256, attention 128, 32 location filters of width 31, postnet 512, embedding 512), which makes
# even the smallest one about 28 M parameters. The tiny fixture rebuilds those layers with
# Coqui's own classes at these sizes; Signet reads the sizes from the tensors.
TACO_SMALL = {"query": 24, "decoder_rnn": 20, "prenet": 12, "attention": 8, "filters": 4, "kernel": 7, "postnet": 16}


def shrink_tacotron_decoder(dec, in_features, r):
    from torch import nn

    from TTS.tts.layers.tacotron.attentions import init_attn
    from TTS.tts.layers.tacotron.common_layers import Linear, Prenet

    s = TACO_SMALL
    old = dec.attention
    dec.query_dim, dec.decoder_rnn_dim, dec.prenet_dim, dec.attn_dim = s["query"], s["decoder_rnn"], s["prenet"], s["attention"]
    dropout_at_inference = dec.prenet.dropout_at_inference
    dec.prenet = Prenet(dec.frame_channels, dec.prenet.prenet_type, dec.prenet.prenet_dropout,
                        out_features=[s["prenet"], s["prenet"]], bias=False)
    dec.prenet.dropout_at_inference = dropout_at_inference
    dec.attention_rnn = nn.LSTMCell(s["prenet"] + in_features, s["query"], bias=True)
    dec.attention = init_attn(
        attn_type="original", query_dim=s["query"], embedding_dim=in_features, attention_dim=s["attention"],
        location_attention=old.location_attention, attention_location_n_filters=s["filters"],
        attention_location_kernel_size=s["kernel"], windowing=old.windowing, norm=old.norm,
        forward_attn=old.forward_attn, trans_agent=old.trans_agent, forward_attn_mask=old.forward_attn_mask, attn_K=None,
    )
    dec.decoder_rnn = nn.LSTMCell(s["query"] + in_features, s["decoder_rnn"], bias=True)
    dec.linear_projection = Linear(s["decoder_rnn"] + in_features, dec.frame_channels * r)
    dec.stopnet = nn.Sequential(nn.Dropout(0.1), Linear(s["decoder_rnn"] + dec.frame_channels * r, 1, bias=True, init_gain="sigmoid"))


def tiny_tacotron2(config=None):
    """A small Coqui Tacotron2 with double decoder consistency, the layout of Coqui's
    `tacotron2-DDC` (location-sensitive attention, sigmoid attention norm, original prenet with
    dropout, separate stopnet, coarse decoder at `ddc_r`), its hard-coded sizes shrunk."""
    from torch import nn

    from TTS.tts.configs.tacotron2_config import Tacotron2Config
    from TTS.tts.layers.tacotron.tacotron2 import ConvBNBlock, Encoder
    from TTS.tts.models.tacotron2 import Tacotron2

    if config is None:
        from TTS.tts.configs.shared_configs import BaseAudioConfig

        config = Tacotron2Config(
            audio=BaseAudioConfig(
                num_mels=10, sample_rate=16000, hop_length=16, win_length=128, fft_size=128,
                max_norm=4.0, symmetric_norm=True, clip_norm=True, ref_level_db=25, min_level_db=-90,
            ),
            num_chars=20,
            out_channels=10,
            decoder_output_dim=10,
            encoder_in_features=16,
            decoder_in_features=16,
            r=2,
            double_decoder_consistency=True,
            ddc_r=3,
            attention_type="original",
            attention_norm="sigmoid",
            location_attn=True,
            prenet_type="original",
            prenet_dropout=True,
            prenet_dropout_at_inference=False,
            separate_stopnet=True,
            max_decoder_steps=500,
        )
    model = Tacotron2(config)
    c = config.encoder_in_features
    model.embedding = nn.Embedding(model.num_chars, c, padding_idx=0)
    model.encoder = Encoder(c)
    shrink_tacotron_decoder(model.decoder, config.decoder_in_features, config.r)
    shrink_tacotron_decoder(model.coarse_decoder, config.decoder_in_features, config.ddc_r)
    p, m = TACO_SMALL["postnet"], config.out_channels
    model.postnet.convolutions = nn.ModuleList(
        [ConvBNBlock(m, p, 5, "tanh"), ConvBNBlock(p, p, 5, "tanh"), ConvBNBlock(p, p, 5, "tanh"),
         ConvBNBlock(p, p, 5, "tanh"), ConvBNBlock(p, m, 5, None)]
    )
    return config, model


def stop_clock(decoder, steps):
    """Makes a random Tacotron2 decoder emit stop after about `steps` steps, whatever the input
    (a random stop token is about constant, so it would stop at once or never). The last unit of
    the decoder LSTM becomes a clock: its input, forget and output gates are saturated open and
    its candidate is a constant 1 / steps, so its cell state grows by that much a step and its
    output is tanh(t / steps) after step t; the stop token reads that unit alone (weight
    3 * steps), crossing 0.5 half-way between the steps `steps - 1` and `steps`. The trainer's
    optimizer step in the fixture nudges these weights, which may move the crossing by a step;
    the fixture records the steps coqui-tts ran and the margin of the stop probability from 0.5
    (at least 0.05, so rounding cannot move it)."""
    rnn = decoder.decoder_rnn
    h = rnn.hidden_size
    k = h - 1
    with torch.no_grad():
        for gate, bias in ((0, 30.0), (1, 30.0), (2, float(torch.atanh(torch.tensor(1.0 / steps)))), (3, 30.0)):
            row = gate * h + k
            rnn.weight_ih[row].zero_()
            rnn.weight_hh[row].zero_()
            rnn.bias_ih[row] = bias
            rnn.bias_hh[row] = 0.0
        stop = decoder.stopnet[1].linear_layer
        stop.weight.zero_()
        stop.weight[0, k] = 3.0 * steps
        clock = lambda n: float(torch.tanh(torch.tensor(n / steps)))
        stop.bias.fill_(-3.0 * steps * (clock(steps - 1) + clock(steps)) / 2.0)


def perturb_tacotron2(model, steps):
    """Random init leaves batch norms at the identity; give them statistics so the folding is
    exercised, and make the decoder stop after `steps` steps (`stop_clock`)."""
    gen = torch.Generator().manual_seed(21)
    with torch.no_grad():
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.3)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
        for name, p in model.named_parameters():
            if "batch_normalization" in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.2)
    stop_clock(model.decoder, steps)


TACO_STEPS = 20
TACO_IDS = ([3, 7, 1, 19, 4, 4, 12, 0, 8], [5, 2], [2, 9, 11, 13, 17, 6, 14, 1, 10, 18, 16, 15, 7, 3])


def tacotron2_run(model, ids):
    with torch.inference_mode():
        return model.inference(torch.tensor([ids]))


def tacotron2_fixture(crates):
    """Tacotron2-DDC: trainer checkpoint, config and the mel coqui-tts makes of a few id
    sequences with prenet dropout off at inference (its default), plus the audio of both stages
    through the HiFi-GAN vocoder of signet-vocoder's fixtures.

    The decoder stops after about `TACO_STEPS` steps (`stop_clock`), 2 frames each."""
    import types

    from TTS.config import load_config
    from TTS.utils.audio import AudioProcessor
    from TTS.utils.synthesizer import Synthesizer
    from TTS.vocoder.models import setup_model

    out = os.path.join(crates, "signet-acoustic", "tests", "data", "coqui")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(4321)
    config, model = tiny_tacotron2()
    perturb_tacotron2(model, TACO_STEPS)
    ckpt = os.path.join(out, "tacotron2_ddc.pth")
    trainer_checkpoint(ckpt, config, model, False)
    config.save_json(os.path.join(out, "tacotron2_ddc_config.json"))
    _, loaded = tiny_tacotron2(config)
    loaded.load_checkpoint(config, ckpt, eval=True)

    voc_dir = os.path.join(crates, "signet-vocoder", "tests", "data", "coqui")
    voc_config = load_config(os.path.join(voc_dir, "hifigan_config.json"))
    vocoder = setup_model(voc_config)
    vocoder.model_d = torch.nn.Conv1d(1, 2, 3)
    vocoder.load_checkpoint(voc_config, os.path.join(voc_dir, "hifigan_gan.pth"), eval=True)
    stub = types.SimpleNamespace(
        tts_model=types.SimpleNamespace(ap=AudioProcessor(config.audio)),
        vocoder_ap=AudioProcessor(voc_config.audio),
        vocoder_config=voc_config,
        vocoder_model=vocoder,
    )
    cases = []
    for ids in TACO_IDS:
        o = tacotron2_run(loaded, ids)
        mel = o["model_outputs"].transpose(1, 2)  # [1, C, T]
        margin = float((o["stop_tokens"].flatten() - 0.5).abs().min())
        if margin < 0.05:
            raise SystemExit(f"the stop probability comes within {margin} of 0.5; change the seed")
        with torch.inference_mode():
            audio = Synthesizer._run_vocoder(stub, o["model_outputs"][0], "cpu")
        cases.append(
            {
                "ids": ids,
                "mel_shape": list(mel.shape),
                "mel": mel.flatten().tolist(),
                "decoder_steps": o["alignments"].shape[1],
                "stop_margin": margin,
                "alignment_argmax": o["alignments"][0].argmax(dim=1).tolist(),
                "audio": audio.flatten().tolist(),
            }
        )
    with open(os.path.join(out, "tacotron2_ddc_parity.json"), "w") as f:
        json.dump({"generator": f"coqui-tts 0.28, torch {torch.__version__}", "cases": cases}, f)
        f.write("\n")
    print("tacotron2: steps", [c["decoder_steps"] for c in cases],
          os.path.getsize(ckpt), "bytes")


def stage_fixtures(crates):
    """Two-stage fixtures: Coqui's HiFi-GAN vocoder (trainer checkpoint, both weight-norm forms,
    config, a mel and the audio coqui-tts makes of it) and Coqui's spectrogram normalization."""
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.utils.audio import AudioProcessor
    from TTS.vocoder.models import setup_model

    voc_dir = os.path.join(crates, "signet-vocoder", "tests", "data", "coqui")
    os.makedirs(voc_dir, exist_ok=True)
    config, model = tiny_gan_vocoder()
    perturb_weight_norm(model)
    ckpt = os.path.join(voc_dir, "hifigan_gan.pth")
    trainer_checkpoint(ckpt, config, model, False)
    config.save_json(os.path.join(voc_dir, "hifigan_config.json"))
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["model"]
    torch.save(to_weight_g_v(state), os.path.join(voc_dir, "hifigan_gv_bare.pth"))

    # coqui-tts's own loading path: the GAN loads the trainer checkpoint and removes weight norm.
    vocoder = setup_model(config)
    vocoder.model_d = torch.nn.Conv1d(1, 2, 3)
    vocoder.load_checkpoint(config, ckpt, eval=True)
    vocoder.eval()
    gen = torch.Generator().manual_seed(7)
    mel = torch.rand(1, 10, 37, generator=gen) * 8.0 - 4.0
    with torch.inference_mode():
        audio = vocoder.inference(mel)
    with open(os.path.join(voc_dir, "hifigan_parity.json"), "w") as f:
        json.dump(
            {
                "generator": f"coqui-tts 0.28, torch {torch.__version__}",
                "mel_shape": list(mel.shape),
                "mel": mel.flatten().tolist(),
                "audio": audio.flatten().tolist(),
            },
            f,
        )
        f.write("\n")

    # The boundary between the stages, through coqui-tts's own Synthesizer._run_vocoder: a mel
    # normalized with a spectrogram model's settings (here asymmetric, unclipped, another
    # reference level) is denormalized, normalized with the vocoder's settings, and vocoded.
    import types

    from TTS.utils.synthesizer import Synthesizer

    tts_settings = dict(
        num_mels=10, sample_rate=16000, hop_length=16, win_length=128, fft_size=128,
        signal_norm=True, symmetric_norm=False, max_norm=1.0, clip_norm=False, min_level_db=-90, ref_level_db=15,
    )
    stub = types.SimpleNamespace(
        tts_model=types.SimpleNamespace(ap=AudioProcessor(BaseAudioConfig(**tts_settings))),
        vocoder_ap=AudioProcessor(config.audio),
        vocoder_config=config,
        vocoder_model=vocoder,
    )
    tts_mel = torch.rand(29, 10, generator=gen) * 1.1 - 0.05  # [frames, bins], as model_outputs[0]
    with torch.inference_mode():
        staged = Synthesizer._run_vocoder(stub, tts_mel, "cpu")
    with open(os.path.join(voc_dir, "two_stage.json"), "w") as f:
        json.dump(
            {
                "tts_audio": tts_settings,
                "mel_shape": [1, 10, 29],
                "mel": tts_mel.t().contiguous().flatten().tolist(),
                "audio": staged.flatten().tolist(),
            },
            f,
        )
        f.write("\n")

    audio_dir = os.path.join(crates, "signet-audio", "tests", "data", "coqui")
    os.makedirs(audio_dir, exist_ok=True)
    db = (torch.rand(10, 23, generator=gen) * 200.0 - 150.0).double().numpy()
    cases = {}
    for name, settings in norm_cases().items():
        settings = dict(settings)
        stats = settings.pop("stats", None)
        ap = AudioProcessor(BaseAudioConfig(**settings))
        entry = {"audio": {k: v for k, v in settings.items()}}
        if stats:
            mean = (torch.rand(10, generator=gen) * 40.0 - 60.0).double().numpy()
            std = (torch.rand(10, generator=gen) * 10.0 + 5.0).double().numpy()
            ap.setup_scaler(mean, std, mean, std)
            entry["mel_mean"] = mean.tolist()
            entry["mel_std"] = std.tolist()
        normalized = ap.normalize(db)
        entry["normalized"] = normalized.flatten().tolist()
        entry["denormalized"] = ap.denormalize(normalized).flatten().tolist()
        entry["settings"] = {
            k: getattr(ap, k) for k in ("signal_norm", "symmetric_norm", "max_norm", "clip_norm", "min_level_db", "ref_level_db")
        }
        cases[name] = entry
    with open(os.path.join(audio_dir, "mel_normalization.json"), "w") as f:
        json.dump({"shape": list(db.shape), "db": db.flatten().tolist(), "cases": cases}, f)
        f.write("\n")


def main():
    if "--tacotron2" in sys.argv:
        tacotron2_fixture(sys.argv[sys.argv.index("--tacotron2") + 1])
        return
    if "--stages" in sys.argv:
        stage_fixtures(sys.argv[sys.argv.index("--stages") + 1])
        glow_tts_fixture(sys.argv[sys.argv.index("--stages") + 1])
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = args[0] if args else "crates/signet-checkpoint/tests/data/fixtures"
    os.makedirs(out, exist_ok=True)
    config, model = tiny_hifigan()
    files = {
        "hifigan_tiny_zip.pth": trainer_checkpoint(os.path.join(out, "hifigan_tiny_zip.pth"), config, model, False),
        "hifigan_tiny_legacy.pth": trainer_checkpoint(
            os.path.join(out, "hifigan_tiny_legacy.pth"), config, model, True
        ),
        "tensors_zip.pth": zoo_checkpoint(os.path.join(out, "tensors_zip.pth"), False),
        "tensors_legacy.pth": zoo_checkpoint(os.path.join(out, "tensors_legacy.pth"), True),
    }
    if "--vits" in sys.argv:
        # Coqui's VITS hard-codes a 192-channel duration predictor, so even the tiniest one is
        # about 15 MB with its optimizer state: written for a manual check, never committed.
        config, model = tiny_vits()
        for name, legacy in (("vits_tiny_zip.pth", False), ("vits_tiny_legacy.pth", True)):
            files[name] = trainer_checkpoint(os.path.join(out, name), config, model, legacy)
    expected = {"generator": f"torch {torch.__version__}", "files": files}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    for name in expected["files"]:
        print(name, os.path.getsize(os.path.join(out, name)), "bytes")


if __name__ == "__main__":
    main()
