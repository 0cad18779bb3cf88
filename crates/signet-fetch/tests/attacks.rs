//! The remote index attacks, one test each, against a real nginx over HTTPS. Every refused
//! install must leave the voice store empty and the remembered index version unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use signet_fetch::{install_from_index, FetchError, FetchOptions, Fetcher, HttpPolicy};
use signet_registry::index::{publish_index, IndexState, IndexStates};
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
            language_id_map: Default::default(),
        },
        phonemes: PhonemeSpec {
            kind: "espeak".to_owned(),
            espeak_voice: Some("en-us".to_owned()),
            id_map: BTreeMap::from([("a".to_owned(), vec![1])]),
            coqui: None,
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
        lexicon: None,
        vocoder: None,
        mel: None,
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
    states: IndexStates,
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
        states: IndexStates::new(home.path().join("index-state")),
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
            &self.states,
            &mut |_, _| {},
        )
    }

    /// The remembered index state of the root key.
    fn state(&self) -> IndexState {
        self.states.highest(&[root_key().key_id()]).unwrap()
    }

    fn assert_nothing_installed(&self) {
        let entries: Vec<String> = std::fs::read_dir(&self.voices)
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|n| !n.ends_with(".lock") && !n.ends_with("+highest"))
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
    assert_eq!(w.state().version, 1);
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
    assert_eq!(w.state().version, 5);
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
    assert_eq!(w.state(), IndexState::default());
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
    match w.install(&url, "en_US-unlisted-low") {
        Err(FetchError::Registry(RegistryError::NotInIndex { .. })) => {}
        other => panic!("{other:?}"),
    }
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
        &w.states,
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

#[test]
fn index_state_is_kept_per_root_key_not_per_url() {
    let w = world();
    let url = w.publish("site", 5, now() + DAY, &[("a", NAME, 3)]);
    w.install(&url, NAME).unwrap();
    signet_registry::remove_bundle(&w.voices, &VoiceName::new(NAME).unwrap()).unwrap();
    // The same root key's older index, at another spelling of the URL and at a mirror.
    let mirror = w.publish("mirror", 4, now() + DAY, &[("a", NAME, 3)]);
    for old in [format!("{url}?"), url.replace("/site/", "/site//"), mirror] {
        std::fs::copy(
            w.server.root.join("mirror/index.json"),
            w.server.root.join("site/index.json"),
        )
        .unwrap();
        match w.install(&old, NAME) {
            Err(FetchError::Registry(RegistryError::IndexRollback {
                seen: 5,
                offered: 4,
            })) => {}
            other => panic!("{old}: {other:?}"),
        }
    }
    assert_eq!(w.state().version, 5);
}

#[test]
fn deleting_the_index_state_does_not_allow_a_voice_rollback() {
    let w = world();
    let url = w.publish("site", 1, now() + DAY, &[("a", NAME, 3)]);
    w.install(&url, NAME).unwrap();
    std::fs::remove_dir_all(w.states.dir()).unwrap();
    // Any index now starts from version 0 again, but the voice's own record still holds.
    let old = w.publish("old", 1, now() + DAY, &[("a", NAME, 2)]);
    signet_registry::remove_bundle(&w.voices, &VoiceName::new(NAME).unwrap()).unwrap();
    match w.install(&old, NAME) {
        Err(FetchError::Registry(RegistryError::RollbackBelowRecord {
            highest: 3,
            offered: 2,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    w.assert_nothing_installed();
}

/// A plain-HTTP loopback server (the test-only policy) that answers every request with
/// `head`, then sends `body` one byte every `every`. Returns its base URL.
fn slow_server(head: String, body: Vec<u8>, every: std::time::Duration) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let head = head.clone();
            let body = body.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for b in body {
                    std::thread::sleep(every);
                    if s.write_all(&[b]).and_then(|()| s.flush()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}/")
}

fn loopback_fetcher(deadline_ms: u64, min_rate: u64, window_ms: u64) -> Fetcher {
    let mut options = FetchOptions::default();
    options.http = HttpPolicy::AllowLoopbackHttpForTests;
    options.deadline = std::time::Duration::from_millis(deadline_ms);
    options.min_rate = signet_fetch::MinRate {
        bytes_per_second: min_rate,
        window: std::time::Duration::from_millis(window_ms),
    };
    Fetcher::new(&options).unwrap()
}

#[test]
fn trickling_server_trips_the_minimum_rate() {
    let ms = std::time::Duration::from_millis;
    let url = slow_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_owned(),
        vec![7; 1000],
        ms(200),
    );
    // At least 100 bytes/s over every 600 ms: a byte every 200 ms is 5 bytes/s.
    let fetcher = loopback_fetcher(60_000, 100, 600);
    let start = std::time::Instant::now();
    let err = fetcher
        .get_capped(&url.parse().unwrap(), 1000, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::TooSlow {
                min_bytes_per_second: 100,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--min-download-rate"), "{err}");
    assert!(start.elapsed() < ms(5_000), "took {:?}", start.elapsed());
}

#[test]
fn trickling_server_trips_the_overall_deadline() {
    let ms = std::time::Duration::from_millis;
    let url = slow_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_owned(),
        vec![7; 1000],
        ms(100),
    );
    // 10 bytes/s passes a 1 byte/s minimum, but not a 1.5 s deadline for 1000 bytes.
    let fetcher = loopback_fetcher(1_500, 1, 1_000);
    let start = std::time::Instant::now();
    let err = fetcher
        .get_capped(&url.parse().unwrap(), 1000, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, FetchError::DeadlineExceeded { .. }), "{err}");
    assert!(err.to_string().contains("--download-timeout"), "{err}");
    assert!(start.elapsed() < ms(5_000), "took {:?}", start.elapsed());
}

#[test]
fn redirect_is_refused_not_followed() {
    let w = world();
    let good = w.publish("site", 1, now() + DAY, &[("a", NAME, 3)]);
    let url = slow_server(
        format!("HTTP/1.1 302 Found\r\nLocation: {good}\r\nContent-Length: 0\r\n\r\n"),
        Vec::new(),
        std::time::Duration::ZERO,
    );
    let fetcher = loopback_fetcher(10_000, 1, 1_000);
    let err = install_from_index(
        &fetcher,
        &format!("{url}index.json"),
        &VoiceName::new(NAME).unwrap(),
        &w.voices,
        &w.scratch,
        &trust(),
        &w.states,
        &mut |_, _| {},
    )
    .unwrap_err();
    match &err {
        FetchError::Redirect {
            status: 302,
            location,
            ..
        } => assert!(location.contains(&good)),
        other => panic!("{other:?}"),
    }
    w.assert_nothing_installed();
    assert_eq!(w.state(), IndexState::default());
}
