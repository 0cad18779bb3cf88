#!/bin/sh
# Regenerates signet-checkpoint's fixtures with torch's and coqui-tts's own writers, in a
# throw-away venv outside the repository (about 5.6 GB; never a run-time or CI dependency).
#
#   scripts/coqui_fixtures.sh [VENV_DIR]          default VENV_DIR: coqui-venv next to the repository
#   cargo xtask fixtures --coqui VENV_DIR         the same, after the Piper fixtures
#
# Writes crates/signet-checkpoint/tests/data/fixtures/ (commit the result, well under 1 MB),
# the two-stage fixtures (crates/signet-{vocoder,acoustic,audio}/tests/data/coqui/, about
# 1 MB), crates/signet-coqui/tests/data/ (the VITS parity fixture: 5.6 MB, 0.9 MB
# compressed; with its multi-speaker and YourTTS-style siblings and their speakers, d-vector
# and language-ids files), the large tiny-VITS pair into $VENV_DIR-vits/ for a manual `signet scan`
# check, and a real-size LJSpeech VITS into $VENV_DIR-vits/lj/ for the manual check of
# `cargo run -p signet-acoustic --example coqui_check -- $VENV_DIR-vits/lj/ljspeech_vits`.
# Also writes crates/signet-espeak/tests/data/coqui_tokens.json, coqui-tts's token ids for the
# 319 agreement sentences (needs `.cache/espeak-ng/` from `cargo xtask setup` and Debian's
# espeak-ng program).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$(dirname "$repo")/coqui-venv}
case "$venv" in
"$repo"/*) echo "coqui_fixtures.sh: put the venv outside the repository" >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install "coqui-tts[cpu]==0.28.0"
    "$venv/bin/pip" install torch==2.11.0 torchaudio==2.11.0 torchcodec==0.11.1 six
fi
"$venv/bin/python" "$repo/scripts/coqui_fixtures.py" "$repo/crates/signet-checkpoint/tests/data/fixtures"
"$venv/bin/python" "$repo/scripts/coqui_fixtures.py" --stages "$repo/crates"
"$venv/bin/python" "$repo/scripts/coqui_fixtures.py" --tacotron2 "$repo/crates"
"$venv/bin/python" "$repo/scripts/coqui_fixtures.py" "$venv-vits" --vits
"$venv/bin/python" "$repo/scripts/coqui_vits_fixtures.py" "$repo/crates/signet-coqui/tests/data" --ljspeech "$venv-vits/lj"
"$venv/bin/python" "$repo/scripts/coqui_text_fixtures.py" "$repo/crates/signet-espeak/tests/data/sentences.txt" \
    "$repo/.cache/espeak-ng" "$repo/crates/signet-espeak/tests/data/coqui_tokens.json"
# Committed gzipped (the unpacked file is git-ignored; `cargo xtask setup` unpacks it and
# checks it against the digest in xtask/src/setup.rs, which a new fixture must update).
for stem in vits_tiny vits_vctk_tiny vits_yourtts_tiny vits_upsampled_tiny vits_phonemes_tiny; do
    gzip -9 -n -k -f "$repo/crates/signet-coqui/tests/data/$stem.pth"
done
