//! Signet's network client: fetching bundles listed in a signed index over HTTPS (rustls only,
//! no redirects, every body capped at the size the signed index declares).
//!
//! **Architecture invariant:** this is the only crate that opens network connections; the
//! registry verifies bytes and knows no network, and everything fetched here goes through the
//! registry's verification before it is installed.
//!
//! [`Fetcher`] refuses any URL that is not `https://`, except `http://` to a loopback host when
//! built with [`HttpPolicy::AllowLoopbackHttpForTests`]. A server certificate is checked against
//! the built-in web roots, or only against the CA given with [`FetchOptions::ca_pem`].
//! [`install_from_index`] is the whole client: fetch and verify the index (threshold, expiry,
//! rollback against the state kept per index-root key), find the bundle by name, fetch each of
//! its files (capped, digest-checked) into a temporary folder, verify that folder as a bundle,
//! check it is the bundle the index names, install it (the store refuses a version below the
//! voice's recorded high-water mark), and only then remember the index version.
//!
//! Every download is bounded in time as well as size: the whole install must finish within
//! [`FetchOptions::deadline`], and every window of [`MinRate::window`] must bring at least
//! [`MinRate::bytes_per_second`] × window bytes, so a server that trickles a byte now and then
//! cannot hold a client. A 3xx answer is [`FetchError::Redirect`], never followed.

#![forbid(unsafe_code)]

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};

use signet_registry::index::{
    check_bundle_matches, open_index_with_states, IndexStates, MAX_INDEX_LEN,
};
use signet_registry::{install_verified, Installed, RegistryError, TrustStore, VoiceName};

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The index, a bundle or the install was refused by the registry's checks.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A downloaded file could not be written to the scratch folder.
    #[error(transparent)]
    File(#[from] signet_io::FileError),
    /// A URL that may not be fetched (not https, or http to a non-loopback host).
    #[error("refusing to fetch {url}: {reason}")]
    InsecureUrl {
        /// The URL.
        url: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The server sent more bytes than the signed index declares (endless data).
    #[error("{url} sent more than the {limit} bytes the signed index declares; download stopped")]
    DownloadTooLong {
        /// The URL.
        url: String,
        /// The declared size.
        limit: u64,
    },
    /// A body shorter than declared.
    #[error("{url} sent {found} bytes, the signed index declares {expected}")]
    DownloadTooShort {
        /// The URL.
        url: String,
        /// Declared size.
        expected: u64,
        /// Bytes received.
        found: u64,
    },
    /// A downloaded file's SHA-256 differs from the index's.
    #[error("{url} has SHA-256 {found}, the signed index declares {expected}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// Declared digest.
        expected: String,
        /// Digest of the bytes received.
        found: String,
    },
    /// The whole download took longer than its deadline ([`FetchOptions::deadline`]).
    #[error(
        "fetching {url} did not finish within the deadline of {seconds} s; download stopped \
         (raise it with --download-timeout SECONDS)"
    )]
    DeadlineExceeded {
        /// The URL being fetched when the deadline passed.
        url: String,
        /// The deadline, in seconds.
        seconds: f64,
    },
    /// The server sent less than the minimum rate over a whole window ([`MinRate`]).
    #[error(
        "{url} sent {bytes} bytes in {seconds} s, below the minimum of {min_bytes_per_second} \
         bytes per second; download stopped (lower it with --min-download-rate BYTES_PER_SECOND)"
    )]
    TooSlow {
        /// The URL.
        url: String,
        /// Bytes received in the window.
        bytes: u64,
        /// The window, in seconds.
        seconds: f64,
        /// The minimum rate.
        min_bytes_per_second: u64,
    },
    /// The server answered with a redirect; redirects are never followed.
    #[error("{url} answered HTTP {status} (a redirect{location}); redirects are not followed: use the final URL")]
    Redirect {
        /// The URL.
        url: String,
        /// The 3xx status.
        status: u16,
        /// `to <Location>` when the server named one (control characters escaped).
        location: String,
    },
    /// Connection, TLS or HTTP status failure.
    #[error("fetching {url} failed: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A local file system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether plain HTTP is ever allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpPolicy {
    /// Only `https://` URLs (the default).
    #[default]
    HttpsOnly,
    /// Also `http://` to 127.0.0.1, ::1 or localhost. For tests only.
    AllowLoopbackHttpForTests,
}

/// The slowest transfer accepted: at least `bytes_per_second × window` bytes must arrive in
/// every `window` of a download (a server that trickles a byte now and then is cut off, and so
/// is one that sends nothing for a whole window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    /// The minimum average rate over a window, in bytes per second (0: no minimum).
    pub bytes_per_second: u64,
    /// The window the rate is judged over.
    pub window: Duration,
}

impl Default for MinRate {
    /// 1 KiB/s over 30 s.
    fn default() -> Self {
        Self {
            bytes_per_second: DEFAULT_MIN_BYTES_PER_SECOND,
            window: Duration::from_secs(30),
        }
    }
}

/// Default deadline of a whole install (index and every file): one hour.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3600);

/// Default minimum transfer rate, in bytes per second.
pub const DEFAULT_MIN_BYTES_PER_SECOND: u64 = 1024;

/// How a [`Fetcher`] connects.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchOptions {
    /// PEM of the only CA to trust for server certificates (instead of the built-in web roots).
    pub ca_pem: Option<Vec<u8>>,
    /// Plain HTTP policy.
    pub http: HttpPolicy,
    /// The most a whole [`install_from_index`] (index and every file) or one
    /// [`Fetcher::get_capped`] may take, connection included ([`DEFAULT_DEADLINE`]).
    pub deadline: Duration,
    /// The slowest transfer accepted ([`MinRate::default`]: 1 KiB/s over 30 s).
    pub min_rate: MinRate,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            ca_pem: None,
            http: HttpPolicy::default(),
            deadline: DEFAULT_DEADLINE,
            min_rate: MinRate::default(),
        }
    }
}

/// An HTTPS client with the registry's rules. See the module docs.
pub struct Fetcher {
    agent: ureq::Agent,
    http: HttpPolicy,
    deadline: Duration,
    min_rate: MinRate,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

fn http_err(url: &str, reason: impl Into<String>) -> FetchError {
    FetchError::Http {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

impl Fetcher {
    /// A client with `options`.
    pub fn new(options: &FetchOptions) -> Result<Self, FetchError> {
        // A read that waits a whole rate window has already failed the minimum rate.
        let read_timeout = if options.min_rate.bytes_per_second > 0 {
            options.min_rate.window.max(Duration::from_millis(1))
        } else {
            Duration::from_secs(60)
        };
        let mut builder = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(Duration::from_secs(15).min(options.deadline))
            .timeout_read(read_timeout)
            .https_only(options.http == HttpPolicy::HttpsOnly);
        if let Some(pem) = &options.ca_pem {
            let mut roots = rustls::RootCertStore::empty();
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| http_err("(CA file)", format!("bad PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| http_err("(CA file)", format!("unusable CA certificate: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(http_err("(CA file)", "no certificate in the CA file"));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| http_err("(TLS)", e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            builder = builder.tls_config(Arc::new(config));
        }
        Ok(Self {
            agent: builder.build(),
            http: options.http,
            deadline: options.deadline,
            min_rate: options.min_rate,
        })
    }

    /// Checks `url` against the scheme policy.
    pub fn check_url(&self, url: &url::Url) -> Result<(), FetchError> {
        let refuse = |reason: &str| FetchError::InsecureUrl {
            url: url.to_string(),
            reason: reason.to_owned(),
        };
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.http == HttpPolicy::AllowLoopbackHttpForTests => {
                let loopback = match url.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    Some(url::Host::Domain(d)) => d == "localhost",
                    None => false,
                };
                if loopback {
                    Ok(())
                } else {
                    Err(refuse(
                        "plain HTTP is allowed only to a loopback host, and only in tests",
                    ))
                }
            }
            "http" => Err(refuse("plain HTTP is refused; use https://")),
            _ => Err(refuse("only https:// URLs are fetched")),
        }
    }

    /// GETs `url`, reading at most `limit` bytes: a body longer than that is
    /// [`FetchError::DownloadTooLong`] (endless data), and reading stops at `limit + 1`.
    /// The fetch must finish within the deadline and keep the minimum rate
    /// ([`FetchOptions`]). `progress` is called with the bytes read so far.
    pub fn get_capped(
        &self,
        url: &url::Url,
        limit: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<u8>, FetchError> {
        self.get_before(url, limit, Instant::now() + self.deadline, progress)
    }

    /// [`get_capped`](Self::get_capped) that must finish before `deadline`.
    fn get_before(
        &self,
        url: &url::Url,
        limit: u64,
        deadline: Instant,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<u8>, FetchError> {
        self.check_url(url)?;
        let s = url.as_str();
        let late = || FetchError::DeadlineExceeded {
            url: s.to_owned(),
            seconds: self.deadline.as_secs_f64(),
        };
        let remaining = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(late)?;
        let response = match self.agent.get(s).timeout(remaining).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) if (300..400).contains(&code) => {
                return Err(redirect(s, code, &r))
            }
            Err(ureq::Error::Status(code, _)) => {
                return Err(http_err(s, format!("the server answered HTTP {code}")))
            }
            Err(_) if Instant::now() >= deadline => return Err(late()),
            Err(e) => return Err(http_err(s, e.to_string())),
        };
        let status = response.status();
        if (300..400).contains(&status) {
            return Err(redirect(s, status, &response));
        }
        if status != 200 {
            return Err(http_err(s, format!("the server answered HTTP {status}")));
        }
        let mut reader = response.into_reader().take(limit.saturating_add(1));
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let window = self.min_rate.window;
        let min_bytes =
            u64::try_from(u128::from(self.min_rate.bytes_per_second) * window.as_millis() / 1000)
                .unwrap_or(u64::MAX);
        let mut window_start = Instant::now();
        let mut window_bytes = 0u64;
        loop {
            let read = reader.read(&mut buf);
            let now = Instant::now();
            if now >= deadline {
                return Err(late());
            }
            let n = match read {
                Ok(n) => n,
                Err(e)
                    if self.min_rate.bytes_per_second > 0
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                        ) =>
                {
                    // Nothing at all for a whole window.
                    return Err(FetchError::TooSlow {
                        url: s.to_owned(),
                        bytes: window_bytes,
                        seconds: now.duration_since(window_start).as_secs_f64(),
                        min_bytes_per_second: self.min_rate.bytes_per_second,
                    });
                }
                Err(e) => return Err(http_err(s, e.to_string())),
            };
            if n == 0 {
                break;
            }
            out.extend_from_slice(buf.get(..n).unwrap_or_default());
            if out.len() as u64 > limit {
                return Err(FetchError::DownloadTooLong {
                    url: s.to_owned(),
                    limit,
                });
            }
            progress(out.len() as u64);
            window_bytes = window_bytes.saturating_add(n as u64);
            let elapsed = now.duration_since(window_start);
            if self.min_rate.bytes_per_second > 0 && elapsed >= window {
                if window_bytes < min_bytes {
                    return Err(FetchError::TooSlow {
                        url: s.to_owned(),
                        bytes: window_bytes,
                        seconds: elapsed.as_secs_f64(),
                        min_bytes_per_second: self.min_rate.bytes_per_second,
                    });
                }
                window_start = now;
                window_bytes = 0;
            }
        }
        Ok(out)
    }
}

fn redirect(url: &str, status: u16, response: &ureq::Response) -> FetchError {
    let location = response
        .header("location")
        .map(|l| {
            let l: String = l.chars().take(200).collect();
            format!(" to {}", signet_io::escape_controls(&l))
        })
        .unwrap_or_default();
    FetchError::Redirect {
        url: url.to_owned(),
        status,
        location,
    }
}

/// Installs the bundle listed as `name` in the signed index at `index_url`. See the module
/// docs for the steps. `states` holds the last accepted index version per index-root key;
/// `scratch` is a folder for the temporary download (created if missing, on the same file
/// system as `voices_dir` preferably). The whole install (index and files) must finish within
/// the fetcher's deadline. `progress(done, total)` reports bundle bytes.
#[allow(clippy::too_many_arguments)]
pub fn install_from_index(
    fetcher: &Fetcher,
    index_url: &str,
    name: &VoiceName,
    voices_dir: &Path,
    scratch: &Path,
    trust: &TrustStore,
    states: &IndexStates,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Installed, FetchError> {
    let deadline = Instant::now() + fetcher.deadline;
    let base = url::Url::parse(index_url).map_err(|e| FetchError::InsecureUrl {
        url: index_url.to_owned(),
        reason: format!("not a URL: {e}"),
    })?;
    fetcher.check_url(&base)?;
    let bytes = fetcher.get_before(&base, MAX_INDEX_LEN, deadline, &mut |_| {})?;
    let verified = open_index_with_states(&bytes, trust, states, SystemTime::now())?;
    let entry = verified.index().entry(name)?.clone();

    std::fs::create_dir_all(scratch).map_err(|source| FetchError::Io {
        path: scratch.to_owned(),
        source,
    })?;
    let tmp = tempdir_in(scratch)?;
    let result = (|| {
        let folder = base
            .join(&entry.url)
            .map_err(|e| http_err(&entry.url, e.to_string()))?;
        let mut done = 0u64;
        for f in &entry.files {
            let url = folder
                .join(&f.name)
                .map_err(|e| http_err(&f.name, e.to_string()))?;
            let body = fetcher.get_before(&url, f.size, deadline, &mut |n| {
                progress(done + n, entry.size)
            })?;
            if body.len() as u64 != f.size {
                return Err(FetchError::DownloadTooShort {
                    url: url.to_string(),
                    expected: f.size,
                    found: body.len() as u64,
                });
            }
            let digest = hex::encode(Sha256::digest(&body));
            if digest != f.sha256 {
                return Err(FetchError::DigestMismatch {
                    url: url.to_string(),
                    expected: f.sha256.clone(),
                    found: digest,
                });
            }
            signet_io::write_new_synced(&tmp.join(&f.name), &body)?;
            done += f.size;
        }
        let bundle = signet_registry::verify_bundle_dir(&tmp, trust)?;
        check_bundle_matches(&entry, &bundle)?;
        Ok(install_verified(&bundle, voices_dir, trust)?)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    let installed = result?;
    states.record(&verified)?;
    Ok(installed)
}

/// A fresh folder `download-<pid>-<n>` in `parent`.
fn tempdir_in(parent: &Path) -> Result<std::path::PathBuf, FetchError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = parent.join(format!(
        "download-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).map_err(|source| FetchError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}
