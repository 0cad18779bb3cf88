//! The remote index attacks, one test each, against a real nginx over HTTPS. Every refused
//! install must leave the voice store empty and the remembered index version unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use signet_fetch::{install_from_index, FetchError, FetchOptions, Fetcher, HttpPolicy};
use signet_registry::index::{publish_index, IndexState};
use signet_registry::{
    write_bundle, write_safetensors, Architecture, Dtype, InferenceDefaults, Manifest, PhonemeSpec,
    RegistryError, Role, SecretKey, TrustStore, TrustedKey, VoiceInfo, VoiceName, BUNDLE_FORMAT,
    WEIGHTS_FILE,
};
use signet_sign::{Envelope, Rejection, SignError};

use crate::server::{self, Server};

const NAME: &str = "en_US-test-medium";
const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn bundle_key() -> SecretKey {
    SecretKey::from_seed(&[21; 32])
}

fn root_key() -> SecretKey {
    SecretKey::from_seed(&[22; 32])
}

fn trust() -> TrustStore {
    let mut t = TrustStore::with_key(bundle_key().public(), Role::BundleSigner);
    t.add(TrustedKey::new(root_key().public(), Role::IndexRoot))
        .unwrap();
    t
}

fn manifest(name: &str, version: u64) -> Manifest {
    Manifest {
        format: BUNDLE_FORMAT.to_owned(),
        name: VoiceName::new(name).unwrap(),
        version,
        license: "CC0-1.0".to_owned(),
        voice: VoiceInfo {
            language: "en_US".to_owned(),
            quality: Some("medium".to_owned()),
            sample_rate: 22050,
            num_speakers: 1,
            speaker_id_map: BTreeMap::new(),
        },
        phonemes: PhonemeSpec {
            kind: "espeak".to_owned(),
            espeak_voice: Some("en-us".to_owned()),
            id_map: BTreeMap::from([("a".to_owned(), vec![1])]),
        },
        inference: InferenceDefaults {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        },
        architecture: Architecture {
            kind: "vits".to_owned(),
            config: toml::Table::new(),
        },
        source: None,
        files: Vec::new(),
    }
}

/// A signed bundle `folder/` in `dir`.
fn bundle(dir: &Path, folder: &str, name: &str, version: u64) {
    let data: Vec<u8> = (0..64).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let w = write_safetensors(&[("w", Dtype::F32, &[64], &data)]).unwrap();
    write_bundle(
        &dir.join(folder),
        manifest(name, version),
        &[(WEIGHTS_FILE, &w)],
        &bundle_key(),
    )
    .unwrap();
}

struct World {
    server: Server,
    _home: tempfile::TempDir,
    voices: PathBuf,
    scratch: PathBuf,
    state: PathBuf,
    fetcher: Fetcher,
}

fn world() -> World {
    let server = server::start();
    let home = tempfile::tempdir().unwrap();
    let mut options = FetchOptions::default();
    options.ca_pem = Some(server.ca_pem.clone());
    World {
        voices: home.path().join("voices"),
        scratch: home.path().join("tmp"),
        state: home.path().join("index-state.toml"),
        fetcher: Fetcher::new(&options).unwrap(),
        server,
        _home: home,
    }
}

impl World {
    /// Publishes an index of `bundles` (folder, name, version) under `/<site>/`.
    fn publish(
        &self,
        site: &str,
        version: u64,
        expires: i64,
        bundles: &[(&str, &str, u64)],
    ) -> String {
        let dir = self.server.root.join(site);
        std::fs::create_dir_all(&dir).unwrap();
        for (folder, name, v) in bundles {
            if !dir.join(folder).exists() {
                bundle(&dir, folder, name, *v);
            }
        }
        let index = publish_index(&dir, &trust(), version, expires, &[&root_key()]).unwrap();
        std::fs::write(dir.join("index.json"), index).unwrap();
        self.server.url(&format!("{site}/index.json"))
    }

    fn install(&self, url: &str, name: &str) -> Result<signet_registry::Installed, FetchError> {
        install_from_index(
            &self.fetcher,
            url,
            &VoiceName::new(name).unwrap(),
            &self.voices,
            &self.scratch,
            &trust(),
            &self.state,
            &mut |_, _| {},
        )
    }

    fn assert_nothing_installed(&self) {
        let entries: Vec<String> = std::fs::read_dir(&self.voices)
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|n| !n.ends_with(".lock"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(entries.is_empty(), "something was installed: {entries:?}");
        let scratch: Vec<_> = std::fs::read_dir(&self.scratch)
            .map(|rd| rd.collect())
            .unwrap_or_default();
        assert!(scratch.is_empty(), "download leftovers");
    }
}

#[test]
fn installs_from_a_signed_index_over_https() {
    let w = world();
    let url = w.publish(
        "site",
        1,
        now() + DAY,
        &[("a", NAME, 3), ("b", "en_US-other-low", 1)],
    );
    let done = w.install(&url, NAME).unwrap();
    assert_eq!((done.name.as_str(), done.version), (NAME, 3));
    let b = signet_registry::verify_installed(&w.voices, &VoiceName::new(NAME).unwrap(), &trust())
        .unwrap();
    assert_eq!(b.manifest().version, 3);
    assert_eq!(IndexState::load(&w.state).unwrap().version, 1);
}

#[test]
fn rollback_of_the_index_version() {
    let w = world();
    let url = w.publish("site", 5, now() + DAY, &[("a", NAME, 3)]);
    w.install(&url, NAME).unwrap();
    signet_registry::remove_bundle(&w.voices, &VoiceName::new(NAME).unwrap()).unwrap();
    // The attacker replays an older, validly signed index.
    let old = w.publish("site", 4, now() + DAY, &[("a", NAME, 3)]);
    match w.install(&old, NAME) {
        Err(FetchError::Registry(RegistryError::IndexRollback {
            seen: 5,
            offered: 4,
        })) => {}
        other => panic!("{other:?}"),
    }
    w.assert_nothing_installed();
    assert_eq!(IndexState::load(&w.state).unwrap().version, 5);
}

#[test]
fn expired_index_freeze() {
    let w = world();
    let url = w.publish("site", 1, now() - 60, &[("a", NAME, 3)]);
    assert!(matches!(
        w.install(&url, NAME),
        Err(FetchError::Registry(RegistryError::IndexExpired {
            version: 1,
            ..
        }))
    ));
    w.assert_nothing_installed();
    assert_eq!(IndexState::load(&w.state).unwrap(), IndexState::default());
}

#[test]
fn endless_data_download() {
    let w = world();
    let url = w.publish("site", 1, now() + DAY, &[("a", NAME, 3)]);
    // The server now sends far more than the index declares for the weights.
    std::fs::write(
        w.server.root.join("site/a").join(WEIGHTS_FILE),
        vec![0u8; 8 * 1024 * 1024],
    )
    .unwrap();
    match w.install(&url, NAME) {
        Err(FetchError::DownloadTooLong { url, limit }) => {
            assert!(url.ends_with(WEIGHTS_FILE), "{url}");
            assert!(limit < 1024, "{limit}");
        }
        other => panic!("{other:?}"),
    }
    w.assert_nothing_installed();
}

#[test]
fn mix_and_match_bundle() {
    let w = world();
    // A validly signed index lists the files of NAME's bundle under another voice's name.
    let dir = w.server.root.join("site");
    std::fs::create_dir_all(&dir).unwrap();
    bundle(&dir, "a", NAME, 3);
    let index = publish_index(&dir, &trust(), 1, now() + DAY, &[&root_key()]).unwrap();
    let env = Envelope::from_json(&index).unwrap();
    let payload = String::from_utf8(env.unverified_payload().to_vec())
        .unwrap()
        .replace(
            &format!("\"name\": \"{NAME}\""),
            "\"name\": \"en_US-victim-high\"",
        );
    let forged = Envelope::sign(env.payload_type(), payload.into_bytes(), &root_key()).unwrap();
    std::fs::write(dir.join("index.json"), forged.to_json().unwrap()).unwrap();
    match w.install(&w.server.url("site/index.json"), "en_US-victim-high") {
        Err(FetchError::Registry(RegistryError::NameMismatch { expected, found })) => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                ("en_US-victim-high", NAME)
            );
        }
        other => panic!("{other:?}"),
    }
    w.assert_nothing_installed();
}

#[test]
fn bundle_not_listed_in_the_index() {
    let w = world();
    let url = w.publish("site", 1, now() + DAY, &[("a", NAME, 3)]);
    assert!(matches!(
        w.install(&url, "en_US-unlisted-low"),
        Err(FetchError::Registry(RegistryError::NotInIndex { .. }))
    ));
    w.assert_nothing_installed();
}

#[test]
fn index_signed_by_an_untrusted_key() {
    let w = world();
    let dir = w.server.root.join("site");
    std::fs::create_dir_all(&dir).unwrap();
    bundle(&dir, "a", NAME, 3);
    let stranger = SecretKey::from_seed(&[66; 32]);
    let index = publish_index(&dir, &trust(), 1, now() + DAY, &[&stranger]).unwrap();
    std::fs::write(dir.join("index.json"), index).unwrap();
    match w.install(&w.server.url("site/index.json"), NAME) {
        Err(FetchError::Registry(RegistryError::Sign(SignError::SignatureThreshold {
            role: Role::IndexRoot,
            rejected,
            ..
        }))) => assert_eq!(rejected[0].reason, Rejection::UntrustedKey),
        other => panic!("{other:?}"),
    }
    w.assert_nothing_installed();
}

#[test]
fn index_signed_by_a_bundle_signer_only() {
    // A bundle-signing key cannot vouch for an index: roles are separate.
    let w = world();
    let dir = w.server.root.join("site");
    std::fs::create_dir_all(&dir).unwrap();
    bundle(&dir, "a", NAME, 3);
    let index = publish_index(&dir, &trust(), 1, now() + DAY, &[&bundle_key()]).unwrap();
    std::fs::write(dir.join("index.json"), index).unwrap();
    match w.install(&w.server.url("site/index.json"), NAME) {
        Err(FetchError::Registry(RegistryError::Sign(SignError::SignatureThreshold {
            rejected,
            ..
        }))) => {
            assert_eq!(rejected[0].reason, Rejection::WrongRole)
        }
        other => panic!("{other:?}"),
    }
    w.assert_nothing_installed();
}

#[test]
fn plain_http_and_unknown_certificates_are_refused() {
    let w = world();
    let url = w.publish("site", 1, now() + DAY, &[("a", NAME, 3)]);
    let http = url.replace("https://", "http://");
    assert!(matches!(
        w.install(&http, NAME),
        Err(FetchError::InsecureUrl { .. })
    ));
    // The test-only option allows loopback HTTP, never another host.
    let mut options = FetchOptions::default();
    options.http = HttpPolicy::AllowLoopbackHttpForTests;
    let lax = Fetcher::new(&options).unwrap();
    assert!(matches!(
        lax.check_url(&"http://example.com/index.json".parse().unwrap()),
        Err(FetchError::InsecureUrl { .. })
    ));
    assert!(lax
        .check_url(&"http://127.0.0.1:9/index.json".parse().unwrap())
        .is_ok());
    // Without the test CA, the server's certificate is not trusted.
    let strict = Fetcher::new(&FetchOptions::default()).unwrap();
    let err = install_from_index(
        &strict,
        &url,
        &VoiceName::new(NAME).unwrap(),
        &w.voices,
        &w.scratch,
        &trust(),
        &w.state,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, FetchError::Http { .. }), "{err}");
    w.assert_nothing_installed();
}

/// The `--ca` file: one clean error for each way it can be wrong, and a
/// good CA accepted. No server is needed: the file is read when the client
/// is made.
#[test]
fn ca_files_that_hold_no_usable_certificate_are_refused() {
    let with_ca = |pem: &[u8]| {
        let mut options = FetchOptions::default();
        options.ca_pem = Some(pem.to_vec());
        Fetcher::new(&options)
    };
    let (ca_pem, _, key_pem) = server::certificates();
    assert!(with_ca(ca_pem.as_bytes()).is_ok());
    let refused = |pem: &[u8], needle: &str| {
        let err = with_ca(pem).expect_err("a bad CA file must be refused");
        assert!(err.to_string().contains(needle), "{needle:?} not in: {err}");
    };
    refused(b"", "no certificate");
    refused(b"not PEM at all\n", "no certificate");
    // A private key is PEM, but no certificate.
    refused(key_pem.as_bytes(), "no certificate");
    // A certificate block whose base64 is broken.
    refused(
        b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "bad PEM",
    );
    // A block that never ends.
    refused(b"-----BEGIN CERTIFICATE-----\nMIIB\n", "bad PEM");
    // Well-formed base64 that is no certificate.
    refused(
        b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        "CA certificate",
    );
}
