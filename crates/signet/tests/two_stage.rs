//! Two-stage voices end to end: coqui-tts 0.28's Glow-TTS and HiFi-GAN fixtures imported
//! (`signet_coqui`: the vocoder into `<home>/vocoders/`, the voice pinning it), loaded by the
//! facade, which verifies both bundles, and spoken from ids against coqui-tts's own two-stage
//! output; and each way the pinned vocoder can be refused.

use std::path::{Path, PathBuf};

use serde_json::Value;
use signet::{Error, Synthesizer, Watermark};
use signet_registry::{Role, SecretKey, TrustStore};

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn vocoder_data(name: &str) -> PathBuf {
    crates().join("signet-vocoder/tests/data/coqui").join(name)
}

fn glow_data(name: &str) -> PathBuf {
    crates().join("signet-acoustic/tests/data/coqui").join(name)
}

/// A JSON file; Coqui's configs hold Python's `Infinity` for unbounded lengths, read as null.
fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("-Infinity", "null")
        .replace("Infinity", "null");
    serde_json::from_str(&text).unwrap()
}

/// The Glow-TTS fixture's config with its symbol table written out. coqui-tts trained the
/// fixture with `characters: null`, which it reads as its default `Graphemes` (the 67 symbols
/// below, the embedding's rows); Signet refuses a config that leaves the table to Coqui's
/// built-in defaults, so the test writes those defaults in.
fn glow_config(dir: &Path) -> PathBuf {
    with_graphemes(dir, "glow_tts_config.json")
}

/// The fixture config `name` (Glow-TTS's or Tacotron2-DDC's, both trained with
/// `characters: null`) with Coqui's default symbol table written out, in `dir`.
fn with_graphemes(dir: &Path, name: &str) -> PathBuf {
    let mut cfg = json(&glow_data(name));
    cfg["characters"] = serde_json::json!({
        "characters_class": "TTS.tts.utils.text.characters.Graphemes",
        "pad": "<PAD>", "eos": "<EOS>", "bos": "<BOS>", "blank": "<BLNK>",
        "characters": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "punctuations": "!'(),-.:;? ",
        "is_unique": false, "is_sorted": true
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    path
}

/// A home whose trust store trusts `key`.
pub(crate) struct Home {
    dir: tempfile::TempDir,
    key: SecretKey,
}

impl Home {
    pub(crate) fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate().unwrap();
        TrustStore::with_key(key.public(), Role::BundleSigner)
            .save(&dir.path().join(signet::store::TRUST_FILE))
            .unwrap();
        Home { dir, key }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    fn store(&self) -> signet::Store {
        signet::Store::new(self.dir.path())
    }

    /// Imports the HiFi-GAN fixture as vocoder `name`, signed by `key`.
    fn import_vocoder(&self, name: &str, key: &SecretKey, version: u64) -> String {
        let store = self.store();
        std::fs::create_dir_all(store.vocoders_dir()).unwrap();
        let mut options = signet_coqui::ImportOptions::default();
        options.name = Some(name.to_owned());
        options.version = version;
        options.existing = signet_coqui::ExistingBundle::Replace;
        let dest = store.vocoder_dir(&signet::store::VoiceName::new(name).unwrap());
        let report = signet_coqui::import_coqui_vocoder(
            &vocoder_data("hifigan_gan.pth"),
            &vocoder_data("hifigan_config.json"),
            &dest,
            &options,
            key,
        )
        .unwrap();
        report.manifest_sha256
    }

    /// Imports the Glow-TTS fixture as voice `name`, pinning the installed vocoder `vocoder`.
    fn import_voice(&self, name: &str, vocoder: &str) {
        self.import_model(name, vocoder, "glow_tts.pth", &glow_config(self.dir.path()));
    }

    /// Imports the spectrogram-model fixture `pth` with `config` as voice `name`, pinning the
    /// installed vocoder `vocoder`.
    fn import_model(&self, name: &str, vocoder: &str, pth: &str, config: &Path) {
        let store = self.store();
        std::fs::create_dir_all(store.voices_dir()).unwrap();
        let vocoder = signet_coqui::installed_vocoder(&store, vocoder).unwrap();
        let mut options = signet_coqui::ImportOptions::default();
        options.name = Some(name.to_owned());
        let dest = store.voice_dir(&signet::store::VoiceName::new(name).unwrap());
        signet_coqui::import_coqui_with_vocoder(
            &glow_data(pth),
            config,
            &dest,
            &options,
            &self.key,
            Some(&vocoder),
        )
        .unwrap();
    }

    /// Imports signet-coqui's VITS fixture `stem` as voice `name`.
    pub(crate) fn import_vits(&self, name: &str, stem: &str) {
        let store = self.store();
        std::fs::create_dir_all(store.voices_dir()).unwrap();
        let data = crates().join("signet-coqui/tests/data");
        let mut options = signet_coqui::ImportOptions::default();
        options.name = Some(name.to_owned());
        let dest = store.voice_dir(&signet::store::VoiceName::new(name).unwrap());
        signet_coqui::import_coqui(
            &data.join(format!("{stem}.pth")),
            &data.join(format!("{stem}.json")),
            &dest,
            &options,
            &self.key,
        )
        .unwrap();
    }

    pub(crate) fn build(&self, voice: &str) -> Result<Synthesizer, Error> {
        Synthesizer::builder()
            .home(self.dir.path())
            .voice(voice)
            .threads(1)
            .watermark(Watermark::Off)
            .build()
    }

    /// A home with vocoder `hifigan` and voice `glow` pinning it.
    fn two_stage() -> Home {
        let home = Home::new();
        home.import_vocoder("hifigan", &home.key, 1);
        home.import_voice("glow", "hifigan");
        home
    }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

pub(crate) fn snr_db(want: &[f32], got: &[f32]) -> f64 {
    let signal: f64 = want.iter().map(|&x| f64::from(x).powi(2)).sum();
    let noise: f64 = want
        .iter()
        .zip(got)
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum();
    10.0 * (signal / noise.max(1e-30)).log10()
}

/// Speaks each case of the parity file `parity` (coqui-tts's ids and audio) through `synth`:
/// equal length, SNR >= 40 dB, and timed phonemes from the model's durations, in order and
/// covering the audio.
fn speaks_like_coqui_tts(synth: &Synthesizer, parity: &str, label: &str) {
    let parity = json(&glow_data(parity));
    for case in parity["cases"].as_array().unwrap() {
        let ids: Vec<i64> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        let want = floats(&case["audio"]);
        let speech = synth.speak_ids(&ids).unwrap();
        let got = speech.audio.samples();
        assert_eq!(got.len(), want.len(), "ids {ids:?}: equal length");
        let snr = snr_db(&want, got);
        eprintln!(
            "{label} (import, bundles, facade) against coqui-tts on {} ids: SNR {snr:.1} dB, {} samples",
            ids.len(),
            got.len()
        );
        assert!(snr >= 40.0, "ids {ids:?}: SNR {snr:.1} dB");
        let phonemes = &speech.timings.phonemes;
        assert!(!phonemes.is_empty() && phonemes.len() <= ids.len());
        assert!(phonemes.windows(2).all(|w| w[0].end <= w[1].start));
        assert_eq!(
            phonemes.last().map(|p| p.end),
            Some(got.len() as u64),
            "durations cover the audio"
        );
    }
}

#[test]
fn a_two_stage_coqui_voice_matches_coqui_tts_through_import_and_the_facade() {
    let home = Home::two_stage();
    let synth = home.build("glow").unwrap();
    assert_eq!(synth.sample_rate(), 16000);
    let pin = synth.manifest().vocoder.as_ref().unwrap();
    assert_eq!(pin.name.as_str(), "hifigan");
    speaks_like_coqui_tts(&synth, "glow_tts_parity.json", "Glow-TTS voice");
}

#[test]
fn a_two_stage_tacotron2_voice_matches_coqui_tts_through_import_and_the_facade() {
    let home = Home::new();
    home.import_vocoder("hifigan", &home.key, 1);
    let config = with_graphemes(home.dir.path(), "tacotron2_ddc_config.json");
    home.import_model("taco", "hifigan", "tacotron2_ddc.pth", &config);
    let synth = home.build("taco").unwrap();
    assert_eq!(synth.manifest().architecture.kind, "tacotron2");
    // Its durations come from the attention.
    speaks_like_coqui_tts(&synth, "tacotron2_ddc_parity.json", "Tacotron2-DDC voice");
}

#[test]
fn a_two_stage_coqui_voice_speaks_text_and_ssml_through_coquis_tokenizer() {
    let home = Home::two_stage();
    let synth = home.build("glow").unwrap();
    let from_ids = synth.speak_ids(&[3, 7, 1]).unwrap();
    assert!(!from_ids.audio.samples().is_empty());
    let text = synth.speak("Hello there.").unwrap();
    let ssml = synth.speak_ssml("<speak>Hello there.</speak>").unwrap();
    // The same words through the text and the SSML front doors give the same ids, so the
    // same audio (Glow-TTS runs with its noise off).
    assert!(!text.audio.samples().is_empty());
    assert_eq!(text.audio.samples(), ssml.audio.samples());
    let words: Vec<&str> = text.timings.words.iter().map(|w| w.word.as_str()).collect();
    assert_eq!(words, ["Hello", "there"]);
}

/// One two-stage synthesizer shared by threads: each call takes its own replica of both
/// stages, and every call gives what the same call gives alone.
#[test]
fn a_two_stage_voice_serves_concurrent_calls_as_it_serves_one() {
    let home = Home::two_stage();
    let synth = home.build("glow").unwrap();
    let inputs: Vec<Vec<i64>> = (1..=3)
        .map(|n| (0..n * 9).map(|i| (i * 7 + n) % 60 + 1).collect())
        .collect();
    let want: Vec<Vec<f32>> = inputs
        .iter()
        .map(|ids| synth.speak_ids(ids).unwrap().audio.samples().to_vec())
        .collect();
    let barrier = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for t in 0..3 {
            let (synth, inputs, want, barrier) = (&synth, &inputs, &want, &barrier);
            s.spawn(move || {
                barrier.wait();
                for round in 0..3 {
                    let k = (t + round) % inputs.len();
                    let got = synth.speak_ids(&inputs[k]).unwrap();
                    assert_eq!(got.audio.samples(), want[k], "thread {t}, input {k}");
                }
            });
        }
    });
}

/// Streamed by window, a long two-stage sentence comes in parts as its vocoder decodes them
/// (the first part a short one), and the parts join into what `speak_ids` gives.
#[test]
fn a_long_two_stage_sentence_streams_by_vocoder_window() {
    let home = Home::two_stage();
    let synth = home.build("glow").unwrap();
    let ids: Vec<i64> = (0..400).map(|i| (i * 11 + 3) % 60 + 1).collect();
    let whole = synth.speak_ids(&ids).unwrap();
    let mut parts = Vec::new();
    for utterance in synth.speak_ids_stream(&ids).unwrap().by_window(true) {
        let u = utterance.unwrap();
        assert_eq!(u.index, 0, "one sentence");
        parts.push(u.audio.samples().to_vec());
    }
    assert!(parts.len() > 2, "{} parts", parts.len());
    assert!(parts[0].len() < parts[1].len(), "a short first part");
    assert_eq!(parts.concat(), whole.audio.samples());
}

#[test]
fn a_two_stage_voice_whose_vocoder_is_missing_is_refused() {
    let home = Home::two_stage();
    std::fs::remove_dir_all(home.store().vocoders_dir().join("hifigan")).unwrap();
    match home.build("glow") {
        Err(Error::VocoderNotFound { voice, vocoder, .. }) => {
            assert_eq!((voice.as_str(), vocoder.as_str()), ("glow", "hifigan"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_two_stage_voice_whose_vocoder_was_tampered_with_is_refused() {
    let home = Home::two_stage();
    let weights = home
        .store()
        .vocoders_dir()
        .join("hifigan")
        .join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&weights, bytes).unwrap();
    match home.build("glow") {
        Err(Error::VocoderUnverified {
            vocoder, source, ..
        }) => {
            assert_eq!(vocoder, "hifigan");
            assert!(
                matches!(
                    *source,
                    signet_registry::RegistryError::DigestMismatch { .. }
                ),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_two_stage_voice_whose_vocoder_is_signed_by_an_untrusted_key_is_refused() {
    let home = Home::two_stage();
    // The same vocoder, re-signed by a key the home does not trust.
    let stranger = SecretKey::generate().unwrap();
    home.import_vocoder("hifigan", &stranger, 1);
    match home.build("glow") {
        Err(Error::VocoderUnverified { vocoder, .. }) => assert_eq!(vocoder, "hifigan"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_two_stage_voice_whose_vocoder_was_reimported_is_refused() {
    let home = Home::two_stage();
    let pinned = home
        .build("glow")
        .unwrap()
        .manifest()
        .vocoder
        .clone()
        .unwrap()
        .manifest_sha256;
    // A trusted, verifying vocoder of the same name, but not the bundle the voice pins.
    let found = home.import_vocoder("hifigan", &home.key, 2);
    assert_ne!(found, pinned);
    match home.build("glow") {
        Err(Error::VocoderMismatch {
            pinned: p,
            found: f,
            ..
        }) => assert_eq!((p, f), (pinned, found)),
        other => panic!("{other:?}"),
    }
}
