#!/usr/bin/env python3
"""Writes Signet's phoneme fixtures with piper-tts 1.8.0 as the reference.

piper-tts is used here only to produce expected values: for each text, the sentences of
phonemes and ids that piper-tts's own `PiperVoice` computes for the voice, and the raw
clauses its espeak bridge returns. Signet's tests compare its out-of-process espeak
helper and its id mapping against these files.

Run with the project's venv (which has piper-tts 1.8.0):

    .venv/bin/python scripts/phoneme_fixtures.py

Writes:
  crates/signet-espeak/tests/data/phonemes.json        regression set (a few dozen texts)
  crates/signet-espeak/tests/data/phonemes_large.json  agreement set (sentences.txt plus
                                                       generated numbers, dates, paragraphs)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "crates" / "signet-espeak" / "tests" / "data"
PIPER_VERSION = "1.8.0"

# The regression set: short texts covering each rule of the pipeline.
REGRESSION_TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Hello. How are you? I'm fine, thanks! And you?",
    "Yes; no; maybe: it depends.",
    "First, preheat the oven; second, mix; third: bake.",
    "No punctuation at the end",
    "The line ends with a comma,",
    "An ellipsis… in the middle.",
    "Wait... what?",
    'He said, "I\'ll be there at noon," but he never came.',
    "Dr. Smith lives on Baker St. near the old mill.",
    "e.g. the error rates, i.e. the results.",
    "The population is 1,234,567.",
    "She was born on July 4, 1976.",
    "The ticket costs $25.99, plus tax.",
    "About 75% of the students passed.",
    "The train leaves at 10:45.",
    "World War II ended in 1945.",
    "The 1st, 2nd and 3rd places.",
    "Pi is approximately 3.14159.",
    "The temperature dropped to -15 degrees.",
    "NASA and the FBI met at the UN.",
    "Pierre went to the café for a croissant.",
    "Antonín Dvořák and Björk.",
    "The naïve coöperation was a façade.",
    "Quotes: “curly double” and ‘curly single’.",
    "Apostrophes: don’t, won’t, can’t.",
    "Parentheses (nested (deeply)) are allowed.",
    "The — em dash and the – en dash.",
    "WHY ARE YOU SHOUTING?",
    "Interrobang?! Really?!",
    "Multiple   spaces\tand\ttabs.",
    "Line one\nline two.",
    "Send an email to info@example.com now.",
    "The bandage was wound around the wound.",
    "We must polish the Polish furniture.",
    "I love 😀 and 🙂.",
    "Je suis français.",
    "Hi…",
    "A, B, C.",
    "...",
    "",
]


def generated_texts(rng: random.Random, handwritten: list[str]) -> list[str]:
    """Numbers, dates, times, money and multi-sentence paragraphs, reproducibly."""
    months = [
        "January", "February", "March", "April", "May", "June", "July",
        "August", "September", "October", "November", "December",
    ]
    out: list[str] = []
    for _ in range(20):
        n = rng.choice([rng.randint(0, 99), rng.randint(100, 9999), rng.randint(10**4, 10**9)])
        out.append(f"The total is {n:,} items.")
    for _ in range(10):
        out.append(f"It measured {rng.uniform(-500, 500):.{rng.randint(1, 3)}f} units.")
    for _ in range(15):
        y, m, d = rng.randint(1700, 2099), rng.randint(1, 12), rng.randint(1, 28)
        fmt = rng.choice(["{mn} {d}, {y}", "{d} {mn} {y}", "{y}-{m:02d}-{d:02d}", "{m}/{d}/{y}"])
        out.append("The date was " + fmt.format(mn=months[m - 1], d=d, m=m, y=y) + ".")
    for _ in range(10):
        h, mi = rng.randint(0, 23), rng.randint(0, 59)
        out.append(f"Meet me at {h}:{mi:02d} tomorrow.")
    for _ in range(10):
        amount = rng.randint(1, 100000) / 100
        cur = rng.choice(["$", "£", "€"])
        out.append(f"It cost {cur}{amount:,.2f} in total.")
    for _ in range(10):
        out.append(f"Growth was {rng.randint(1, 300)}% last year, and {rng.randint(1, 99)}.{rng.randint(0, 9)}% this year.")
    for _ in range(10):
        n = rng.randint(1, 120)
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        out.append(f"She came {n}{suffix} in the race.")
    for _ in range(10):
        out.append(f"Call {rng.randint(200, 999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)} for help.")
    for _ in range(25):
        out.append(" ".join(rng.sample(handwritten, rng.randint(2, 5))))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_voice = Path(
        os.environ.get(
            "SIGNET_TEST_VOICE_DIR", REPO / ".cache" / "voices" / "en_US-joe-medium"
        )
    ) / "en_US-joe-medium.onnx.json"
    parser.add_argument("--voice-config", type=Path, default=default_voice)
    args = parser.parse_args()

    version = importlib.metadata.version("piper-tts")
    if version != PIPER_VERSION:
        print(f"piper-tts {PIPER_VERSION} is required, found {version}", file=sys.stderr)
        return 1
    if not args.voice_config.is_file():
        print(f"voice config not found: {args.voice_config} (run `cargo xtask setup`)", file=sys.stderr)
        return 1

    from piper import espeakbridge
    from piper.config import PiperConfig
    from piper.voice import PiperVoice

    config_bytes = args.voice_config.read_bytes()
    config = PiperConfig.from_dict(json.loads(config_bytes))
    # Only phonemization is used: no ONNX session is needed.
    voice = PiperVoice(session=None, config=config)  # type: ignore[arg-type]

    def case(text: str) -> dict:
        # Same steps as PiperVoice.synthesize: phonemize, skip empty sentences, map to ids.
        sentences = [
            {"phonemes": "".join(p), "ids": voice.phonemes_to_ids(p)}
            for p in voice.phonemize(text)
            if p
        ]
        espeakbridge.set_voice(config.espeak_voice)
        clauses = [list(c) for c in espeakbridge.get_phonemes(text)]
        return {"text": text, "clauses": clauses, "sentences": sentences}

    def write(name: str, texts: list[str]) -> None:
        doc = {
            "generator": f"scripts/phoneme_fixtures.py, piper-tts {version}",
            "voice": args.voice_config.name.removesuffix(".onnx.json"),
            "voice_config_sha256": hashlib.sha256(config_bytes).hexdigest(),
            "espeak_voice": config.espeak_voice,
            "cases": [case(t) for t in texts],
        }
        path = DATA / name
        # One case per line: readable diffs, compact ids.
        cases = doc.pop("cases")
        head = json.dumps(doc, ensure_ascii=False, indent=1).removesuffix("\n}")
        body = ",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases)
        path.write_text(f'{head},\n "cases": [\n{body}\n]\n}}\n', encoding="utf-8")
        doc["cases"] = cases
        n = sum(len(c["sentences"]) for c in doc["cases"])
        print(f"wrote {path.relative_to(REPO)}: {len(texts)} texts, {n} sentences")

    handwritten = [
        line.removesuffix("\n")
        for line in (DATA / "sentences.txt").read_text(encoding="utf-8").splitlines(keepends=True)
        if line.strip()
    ]
    write("phonemes.json", REGRESSION_TEXTS)
    write("phonemes_large.json", handwritten + generated_texts(random.Random(20240601), handwritten))
    return 0


if __name__ == "__main__":
    sys.exit(main())
