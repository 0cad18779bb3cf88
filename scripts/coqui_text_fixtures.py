"""Token ids from coqui-tts's own tokenizer, for Signet's text-agreement test.

Runs `TTSTokenizer.init_from_config` (coqui-tts 0.28) on two configurations over the
sentences of crates/signet-espeak/tests/data/sentences.txt and writes, for each, the
settings and symbol table the tokenizer built and the ids `text_to_ids` gives each sentence
(with no language, as coqui-tts's inference passes for a single-language model):

- `phonemes`: the LJSpeech VITS recipe's text settings (espeak phonemes, en-us,
  phoneme_cleaners, add_blank, VitsCharacters' default table);
- `characters`: an English characters voice (english_cleaners, add_blank, the table of
  Signet's tiny VITS fixture).

coqui-tts phonemizes by running the `espeak-ng` command found on PATH. Signet's helper
loads the espeak-ng library of the piper-tts 1.8.0 wheel (`espeakbridge.so`, 1.52.0.1), a
newer build than Debian's `/usr/bin/espeak-ng` (1.51), and the two disagree on some words.
To compare the tokenizers and not the espeak-ng versions, the `phonemes` and `characters`
configurations run with an `espeak-ng` on PATH that is Debian's command-line program with
that same library bound in (`LD_PRELOAD`, data from ESPEAK_DIR); `phonemes_debian` repeats
the phoneme configuration with Debian's own espeak-ng, to measure the version difference.
Each configuration records the `espeak-ng --version` coqui-tts saw.

    python scripts/coqui_text_fixtures.py SENTENCES ESPEAK_DIR OUT.json

ESPEAK_DIR holds `espeakbridge.so` and `espeak-ng-data/` (`cargo xtask setup` puts them in
`.cache/espeak-ng/`).
"""

import json
import os
import stat
import subprocess
import sys
import sysconfig
import tempfile

import TTS
from TTS.tts.configs.shared_configs import CharactersConfig
from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.models.vits import VitsCharacters
from TTS.tts.utils.text.tokenizer import TTSTokenizer


def phoneme_config():
    config = VitsConfig(
        text_cleaner="phoneme_cleaners",
        use_phonemes=True,
        phoneme_language="en-us",
        phonemizer="espeak",
        add_blank=True,
    )
    # What coqui-tts writes into config.json for the recipe's default characters.
    config.characters = VitsCharacters().to_config()
    config.characters.characters_class = "TTS.tts.models.vits.VitsCharacters"
    return config


def character_config():
    return VitsConfig(
        text_cleaner="english_cleaners",
        use_phonemes=False,
        add_blank=True,
        characters=CharactersConfig(
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
        ),
    )


def espeak_version():
    return subprocess.run(
        ["espeak-ng", "--version"], capture_output=True, text=True, check=True
    ).stdout.split("Data at")[0].strip()


def shim(folder, espeak_dir):
    """An `espeak-ng` command: Debian's program on the piper-tts espeak-ng library."""
    libpython = os.path.join(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME"))
    bridge = os.path.join(espeak_dir, "espeakbridge.so")
    path = os.path.join(folder, "espeak-ng")
    with open(path, "w", encoding="utf-8") as f:
        # The bridge is a Python extension: libpython resolves its few Python symbols.
        f.write(
            "#!/bin/sh\n"
            f'LD_PRELOAD="{libpython} {bridge}" exec /usr/bin/espeak-ng --path="{espeak_dir}" "$@"\n'
        )
    os.chmod(path, stat.S_IRWXU)


def run(config, sentences):
    tokenizer, _ = TTSTokenizer.init_from_config(config)
    chars = tokenizer.characters
    settings = {
        "use_phonemes": bool(config.use_phonemes),
        "phoneme_language": config.phoneme_language if config.use_phonemes else None,
        "text_cleaner": config.text_cleaner,
        "add_blank": bool(config.add_blank),
        "enable_eos_bos": bool(config.enable_eos_bos_chars),
        "blank": chars.blank or None,
        "bos": chars.bos or None,
        "eos": chars.eos or None,
        "symbols": list(chars.vocab),
    }
    cases = [{"text": s, "ids": tokenizer.text_to_ids(s, language=None)} for s in sentences]
    return {"espeak_ng": espeak_version(), "settings": settings, "sentences": cases}


def main():
    sentences_path, espeak_dir, out_path = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    with open(sentences_path, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f if line.strip()]
    debian_path = os.environ["PATH"]
    configs = {}
    with tempfile.TemporaryDirectory() as folder:
        shim(folder, espeak_dir)
        os.environ["PATH"] = f"{folder}:{debian_path}"
        configs["phonemes"] = run(phoneme_config(), sentences)
        configs["characters"] = run(character_config(), sentences)
        os.environ["PATH"] = debian_path
    configs["phonemes_debian"] = run(phoneme_config(), sentences)
    out = {
        "generator": "scripts/coqui_text_fixtures.py",
        "coqui_tts": TTS.__version__,
        "configs": configs,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
