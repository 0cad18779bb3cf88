//! A lexicon carried in a voice's signed bundle: imported with the real
//! importer and signing key, used whenever that voice speaks, below the
//! caller's lexicons, and refused (the whole voice) when it is stray,
//! tampered, unreadable or for another language.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use signet::{Error, Lexicon, Synthesizer, Watermark};
use signet_registry::{
    verify_bundle_dir, write_bundle, BundleLexicon, LexiconFormat, LexiconRef, RegistryError, Role,
    SecretKey, TrustStore, VoiceName, WEIGHTS_FILE,
};

use crate::common;

const VOICE: &str = "en_US-joe-medium";
/// The README's entry: the default voice says "gnocchi" as `nˈɑːkaɪ`.
const GNOCCHI: &str = "[words]\ngnocchi = { ipa = \"nˈjoʊki\" }\n";

fn signer() -> SecretKey {
    SecretKey::from_seed(&[16; 32])
}

/// A home trusting [`signer`], holding `joe-lex`: the default voice imported
/// by the Piper importer with [`GNOCCHI`] as its bundle lexicon.
fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let onnx = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.cache/voices")
            .join(VOICE)
            .join(format!("{VOICE}.onnx"));
        let home = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(home.path().join("voices")).expect("voices dir");
        TrustStore::with_key(signer().public(), Role::BundleSigner)
            .save(&home.path().join(signet::store::TRUST_FILE))
            .expect("trust store");
        let mut options = signet_piper::ImportOptions::default();
        options.name = Some("joe-lex".into());
        options.lexicon = Some(BundleLexicon::new(
            LexiconFormat::Toml,
            GNOCCHI.as_bytes().to_vec(),
            None,
        ));
        signet_piper::import_piper_with(
            &onnx,
            None,
            &home.path().join("voices/joe-lex"),
            &options,
            &signer(),
        )
        .expect("import the voice with its lexicon");
        home
    })
    .path()
}

/// Writes voice `name` into [`home`]: `joe-lex`'s verified weights and
/// manifest, signed by [`signer`], with `lexicon` (file name, format, bytes)
/// as its bundle lexicon, or none.
fn variant(name: &str, lexicon: Option<(&str, LexiconFormat, &[u8])>) -> PathBuf {
    let trust = TrustStore::with_key(signer().public(), Role::BundleSigner);
    let source = verify_bundle_dir(&home().join("voices/joe-lex"), &trust).expect("joe-lex");
    let mut manifest = source.manifest().clone();
    manifest.name = VoiceName::new(name).unwrap();
    manifest.lexicon = None;
    let weights = source.file(WEIGHTS_FILE).unwrap();
    let mut files = vec![(WEIGHTS_FILE, weights)];
    if let Some((file, format, bytes)) = lexicon {
        manifest.lexicon = Some(LexiconRef {
            file: file.to_owned(),
            format,
        });
        files.push((file, bytes));
    }
    let dir = home().join("voices").join(name);
    write_bundle(&dir, manifest, &files, &signer()).expect("write the variant");
    dir
}

fn build(home: &Path, voice: &str, user: Option<&str>) -> Result<Synthesizer, Error> {
    let mut builder = Synthesizer::builder()
        .home(home)
        .voice(voice)
        .espeak(common::espeak())
        .noise_scale(0.0)
        .noise_w(0.0)
        .watermark(Watermark::Off);
    if let Some(toml) = user {
        builder = builder.lexicon(Lexicon::parse("user.toml", toml)?);
    }
    builder.build()
}

fn ids(synth: &Synthesizer, text: &str) -> Vec<Vec<i64>> {
    let (sentences, _) = synth.phonemize(text).unwrap();
    sentences.into_iter().map(|s| s.ids).collect()
}

fn phonemes(synth: &Synthesizer, text: &str) -> String {
    let (sentences, _) = synth.phonemize(text).unwrap();
    sentences.into_iter().map(|s| s.phonemes).collect()
}

#[test]
fn bundle_lexicon_fixes_gnocchi_like_a_user_lexicon() {
    let with_bundle = build(home(), "joe-lex", None).unwrap();
    let plain = common::unmarked();
    let with_user = build(common::home(), VOICE, Some(GNOCCHI)).unwrap();
    assert!(phonemes(plain, "gnocchi").contains("nˈɑːkaɪ"));
    assert!(
        phonemes(&with_bundle, "gnocchi").contains("nˈjoʊki"),
        "{}",
        phonemes(&with_bundle, "gnocchi")
    );
    let text = "The gnocchi, please.";
    assert_eq!(ids(&with_bundle, text), ids(&with_user, text));
    assert_ne!(ids(&with_bundle, text), ids(plain, text));
    // The same weights, ids and settings: the same samples, whichever
    // layer the entry came from.
    let a = with_bundle.speak(text).unwrap();
    let b = with_user.speak(text).unwrap();
    assert_eq!(a.audio.samples(), b.audio.samples());
    assert_ne!(
        a.audio.samples(),
        plain.speak(text).unwrap().audio.samples()
    );
}

#[test]
fn user_lexicon_beats_bundle_lexicon() {
    let user = "[words]\ngnocchi = { ipa = \"nˈɔki\" }\n";
    let both = build(home(), "joe-lex", Some(user)).unwrap();
    let user_only = build(common::home(), VOICE, Some(user)).unwrap();
    let said = phonemes(&both, "gnocchi");
    assert!(said.contains("nˈɔki"), "{said}");
    assert_eq!(ids(&both, "gnocchi"), ids(&user_only, "gnocchi"));
    // Words the user's lexicon lacks still come from the voice's.
    let both = build(
        home(),
        "joe-lex",
        Some("[words]\ntomato = { say = \"tomahto\" }\n"),
    )
    .unwrap();
    assert!(phonemes(&both, "gnocchi").contains("nˈjoʊki"));
}

#[test]
fn unreadable_bundle_lexicon_refuses_the_voice_with_the_line() {
    let toml = "[words]\ngnocchi = { ipa = \"nˈjoʊki\" }\ntomato = 3\n";
    variant(
        "joe-bad-toml",
        Some(("lexicon.toml", LexiconFormat::Toml, toml.as_bytes())),
    );
    let pls = "<lexicon alphabet=\"ipa\">\n<lexeme><grapheme>a</grapheme></lexeme>\n</lexicon>\n";
    variant(
        "joe-bad-pls",
        Some(("lexicon.pls", LexiconFormat::Pls, pls.as_bytes())),
    );
    // Declared PLS, written as TOML: read by the declared format only.
    variant(
        "joe-bad-format",
        Some(("lexicon.pls", LexiconFormat::Pls, GNOCCHI.as_bytes())),
    );
    for (voice, line) in [
        ("joe-bad-toml", "line 3"),
        ("joe-bad-pls", "line 2"),
        ("joe-bad-format", "line 1"),
    ] {
        match build(home(), voice, None) {
            Err(Error::VoiceLexicon {
                voice: v, reason, ..
            }) => {
                assert_eq!(v, voice);
                assert!(reason.contains(line), "{voice}: {reason}");
            }
            Err(e) => panic!("{voice}: {e}"),
            Ok(_) => panic!("{voice} loaded"),
        }
    }
}

#[test]
fn bundle_lexicon_for_another_language_refuses_the_voice() {
    let pls = "<lexicon alphabet=\"ipa\" xml:lang=\"de-DE\"><lexeme><grapheme>gnocchi</grapheme><phoneme>nˈjɔki</phoneme></lexeme></lexicon>";
    variant(
        "joe-german-lexicon",
        Some(("lexicon.pls", LexiconFormat::Pls, pls.as_bytes())),
    );
    match build(home(), "joe-german-lexicon", None) {
        Err(e @ Error::VoiceLexicon { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("\"de-DE\"") && message.contains("en_US"),
                "{message}"
            );
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("loaded"),
    }
    // The same file declaring English loads and is used.
    let english = pls.replace("de-DE", "en");
    variant(
        "joe-english-pls",
        Some(("lexicon.pls", LexiconFormat::Pls, english.as_bytes())),
    );
    let synth = build(home(), "joe-english-pls", None).unwrap();
    assert!(phonemes(&synth, "gnocchi").contains("nˈjɔki"));
}

#[test]
fn tampered_bundle_lexicon_refuses_the_voice() {
    let dir = variant(
        "joe-tampered",
        Some(("lexicon.toml", LexiconFormat::Toml, GNOCCHI.as_bytes())),
    );
    build(home(), "joe-tampered", None).expect("the untouched variant loads");
    let tampered = GNOCCHI.replace("nˈjoʊki", "nˈjoʊko");
    assert_eq!(tampered.len(), GNOCCHI.len());
    std::fs::write(dir.join("lexicon.toml"), tampered).unwrap();
    match build(home(), "joe-tampered", None) {
        Err(Error::Registry(RegistryError::DigestMismatch { file, .. })) => {
            assert_eq!(file, "lexicon.toml");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a tampered lexicon loaded"),
    }
}

#[test]
fn stray_lexicon_refuses_the_voice() {
    let dir = variant("joe-stray", None);
    build(home(), "joe-stray", None).expect("the bundle alone loads");
    std::fs::write(dir.join("lexicon.toml"), GNOCCHI).unwrap();
    match build(home(), "joe-stray", None) {
        Err(Error::Registry(RegistryError::UnlistedLexicon { name })) => {
            assert_eq!(name, "lexicon.toml");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a stray lexicon was accepted"),
    }
}
