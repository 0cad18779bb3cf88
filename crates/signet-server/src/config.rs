//! Server configuration: a TOML file (every key optional, unknown keys
//! refused), overridden by command-line flags, validated before anything
//! starts.
//!
//! The `[limits]` table is signet's [`Limits`], the same table `signet speak`
//! reads from `<home>/config.toml`. Its values are layered, each layer
//! setting only the keys it names: signet's defaults, then the server's
//! ([`default_limits`]: smaller inputs and less audio per request), then the
//! home's `config.toml` (as `signet serve` passes it in), then this file,
//! then the flags.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use signet::Limits;

use crate::ServerError;

/// Largest config file read, in bytes.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Everything the server needs to know; see `deploy/signet-server.toml` for
/// an annotated example.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Address to listen on (default `127.0.0.1:8080`: loopback only).
    pub bind: SocketAddr,
    /// Signet home holding the voice store (default: as `signet` finds it).
    pub home: Option<PathBuf>,
    /// Voices to serve, by store name (default: every voice in the store
    /// that passes verification).
    pub voices: Vec<String>,
    /// Other names a request may use for a served voice (the `[voice_aliases]`
    /// table, `alias = "voice"`): e.g. OpenAI's `alloy` or `nova` for clients
    /// that send those. An alias is a voice name itself and may not shadow a
    /// served voice.
    pub voice_aliases: BTreeMap<String, String>,
    /// Pronunciation lexicon files (TOML or W3C PLS), read once at start, in
    /// priority order: they come before each voice's own. Requests cannot
    /// name a lexicon.
    pub lexicons: Vec<PathBuf>,
    /// Synthesis worker threads = global synthesis concurrency (default: the
    /// number of cores). Each holds its own copy of every voice.
    pub workers: Option<usize>,
    /// Requests that may wait for a worker (default: 4 per worker); beyond
    /// that, 503.
    pub queue_capacity: Option<usize>,
    /// Longest wait for a worker before a queued request gets 503, in ms.
    pub queue_timeout_ms: u64,
    /// Longest synthesis of one request, in seconds; checked between sentences.
    pub request_timeout_secs: u64,
    /// Largest request body, in bytes; beyond it, 413.
    pub max_body_bytes: usize,
    /// Open connections at most; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Open connections from one client address at most; beyond it, the
    /// connection is answered 503 (over TLS: closed without an answer) and
    /// closed at once (at or above
    /// `max_connections`, no address has a cap of its own). Trusted proxies are
    /// not counted (their clients are told apart by the forwarded address,
    /// for the failed-auth limit and the logs).
    pub max_connections_per_peer: usize,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed:
    /// for a connection from one of them, the client is the right-most
    /// address of that header that is not itself a trusted proxy. Empty
    /// (default): the header is ignored, the client is the TCP peer.
    pub trusted_proxies: Vec<IpAddr>,
    /// Who may read `/metrics`: `key` (default: a request with a valid API
    /// key, also in anonymous mode), `open` (anyone who can reach the port),
    /// or `off` (404).
    pub metrics: MetricsAccess,
    /// The MaryTTS HTTP API (`/process`, `/voices`, `/locales`, `/version`):
    /// `off` (default: not served, 404) or `anonymous` (served to callers
    /// without a key, under the `anonymous` limits of `[auth]`, whatever
    /// `auth.mode` says: MaryTTS clients cannot send keys).
    pub marytts: MaryTtsAccess,
    /// Time a client has to send the request headers, in seconds.
    pub header_read_timeout_secs: u64,
    /// Time a client has to send the request body, in seconds.
    pub body_read_timeout_secs: u64,
    /// Longest a worker waits for a client to take the next audio chunk, in
    /// seconds; a client that stops reading loses its request.
    pub send_timeout_secs: u64,
    /// Kernel send buffer of each client socket, in bytes: bounds the audio
    /// a client that does not read can hold in the kernel (and so how soon
    /// `send_timeout_secs` applies).
    pub socket_send_buffer_bytes: usize,
    /// Longest life of one connection, in seconds (a backstop against
    /// clients that never read).
    pub max_connection_secs: u64,
    /// On shutdown, how long in-flight requests may take to finish, in seconds.
    pub shutdown_grace_secs: u64,
    /// Limits on the work of one request (the `[limits]` table; see the
    /// module docs for how it is layered). Checked by the speech stream.
    #[serde(skip)]
    pub limits: Limits,
    /// API keys and per-key limits.
    pub auth: AuthConfig,
    /// TLS; plain HTTP when absent.
    pub tls: Option<TlsConfig>,
    /// The HTTP door: `on` (default) or `off` (Wyoming alone).
    pub http: crate::HttpDoor,
    /// The Wyoming door (the `[wyoming]` table); closed when absent.
    pub wyoming: Option<crate::WyomingConfig>,
    /// The watermark on every response's audio (the `[watermark]` table).
    pub watermark: WatermarkConfig,
}

/// Whether the server watermarks its speech.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatermarkMode {
    /// Every response's audio carries the mark (default).
    #[default]
    On,
    /// No mark; only when chosen explicitly, and logged at start.
    Off,
}

/// The `[watermark]` table: the mark every response carries. Its 16 bits
/// of caller data are the API key's tag ([`watermark_tag`](crate::watermark_tag)
/// of the key id), so `signet detect` on a clip says which key asked for it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct WatermarkConfig {
    /// `on` (default) or `off`.
    pub mode: WatermarkMode,
    /// The key file (64 hex digits, mode 0600); default: the home's
    /// `keys/watermark.key`, made on first use.
    pub key_file: Option<PathBuf>,
}

/// The limits a server starts from: signet's [`Limits`], with at most 4096
/// bytes of input and 600 seconds of audio per request.
#[must_use]
pub fn default_limits() -> Limits {
    Limits::default()
        .with_max_input_bytes(4096)
        .with_max_output_seconds(600.0)
}

/// `base` with the keys that a `[limits]` table sets; unknown keys and
/// values of the wrong type are errors.
pub fn limits_over(base: Limits, table: &toml::Value) -> Result<Limits, toml::de::Error> {
    let Some(table) = table.as_table() else {
        return table.clone().try_into();
    };
    let mut merged = match toml::Value::try_from(base) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    for (k, v) in table {
        merged.insert(k.clone(), v.clone());
    }
    toml::Value::Table(merged).try_into()
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Anyone who can reach the port.
    Open,
    /// A request with a valid API key (default).
    #[default]
    Key,
    /// Not served: 404.
    Off,
}

impl MetricsAccess {
    /// The setting's spelling in the config file and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsAccess::Open => "open",
            MetricsAccess::Key => "key",
            MetricsAccess::Off => "off",
        }
    }
}

impl std::str::FromStr for MetricsAccess {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(MetricsAccess::Open),
            "key" => Ok(MetricsAccess::Key),
            "off" => Ok(MetricsAccess::Off),
            _ => Err(format!("{s:?} is not one of `open`, `key`, `off`")),
        }
    }
}

/// Whether the MaryTTS API is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaryTtsAccess {
    /// Not served: 404 (default).
    #[default]
    Off,
    /// Served without keys, every caller under the shared `anonymous`
    /// limits (a request that sends a key is checked and counted as that key).
    Anonymous,
}

impl MaryTtsAccess {
    /// The setting's spelling in the config file and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MaryTtsAccess::Off => "off",
            MaryTtsAccess::Anonymous => "anonymous",
        }
    }
}

impl std::str::FromStr for MaryTtsAccess {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(MaryTtsAccess::Off),
            "anonymous" => Ok(MaryTtsAccess::Anonymous),
            _ => Err(format!("{s:?} is not one of `off`, `anonymous`")),
        }
    }
}

/// Who may call the speech endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every request needs `Authorization: Bearer <key>` with a configured key.
    #[default]
    Keys,
    /// No key needed; all callers share the `anonymous` limits. Only when
    /// chosen explicitly.
    Anonymous,
}

/// The `[auth]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuthConfig {
    /// `keys` (default) or `anonymous`.
    pub mode: AuthMode,
    /// File of keys: lines `id:sha256hex` (`#` comments), or a `.toml` file
    /// with `[[key]]` tables holding `id` and `sha256`.
    pub keys_file: Option<PathBuf>,
    /// Environment variable holding `id:sha256hex` entries separated by
    /// commas (default `SIGNET_API_KEYS`; read when set).
    pub keys_env: String,
    /// Requests per minute per key (token bucket; bursts up to this many).
    pub requests_per_minute: u32,
    /// Seconds of audio per minute per key.
    pub audio_seconds_per_minute: u32,
    /// Requests of one key in flight (waiting or synthesizing) at once. Of
    /// them, at most `workers - 1` (at least 1) synthesize at once, so that
    /// one key never holds every worker; the others wait in the key's own
    /// line of the queue.
    pub max_concurrent: usize,
    /// Refused credentials (401) per minute from one client address; beyond
    /// it, that address gets 429 before any key is looked at, until the
    /// bucket refills.
    pub failed_auth_per_minute: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Keys,
            keys_file: None,
            keys_env: "SIGNET_API_KEYS".to_owned(),
            requests_per_minute: 60,
            audio_seconds_per_minute: 600,
            max_concurrent: 4,
            failed_auth_per_minute: 30,
        }
    }
}

/// The `[tls]` table: PEM files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsConfig {
    /// A TLS table from two PEM paths.
    pub fn new(cert: PathBuf, key: PathBuf) -> Self {
        Self { cert, key }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            home: None,
            voices: Vec::new(),
            voice_aliases: BTreeMap::new(),
            lexicons: Vec::new(),
            workers: None,
            queue_capacity: None,
            queue_timeout_ms: 5_000,
            request_timeout_secs: 120,
            max_body_bytes: 64 * 1024,
            max_connections: 512,
            max_connections_per_peer: 32,
            trusted_proxies: Vec::new(),
            metrics: MetricsAccess::Key,
            marytts: MaryTtsAccess::Off,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            send_timeout_secs: 15,
            socket_send_buffer_bytes: 256 * 1024,
            max_connection_secs: 600,
            shutdown_grace_secs: 30,
            limits: default_limits(),
            auth: AuthConfig::default(),
            tls: None,
            watermark: WatermarkConfig::default(),
            http: crate::HttpDoor::On,
            wyoming: None,
        }
    }
}

impl Config {
    /// Reads a config file (at most 1 MiB); its `[limits]` over
    /// [`default_limits`].
    pub fn from_file(path: &Path) -> Result<Self, ServerError> {
        Self::from_file_over(path, default_limits())
    }

    /// Reads a config file (at most 1 MiB); its `[limits]` over `base`.
    pub fn from_file_over(path: &Path, base: Limits) -> Result<Self, ServerError> {
        use std::io::Read;
        let read_err = |source| ServerError::ConfigRead {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ServerError::InvalidSetting {
                setting: "config file",
                reason: format!("{} is larger than 1 MiB", path.display()),
            });
        }
        Self::from_toml_over(&text, base).map_err(|source| ServerError::ConfigParse {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses config TOML; its `[limits]` over [`default_limits`].
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        Self::from_toml_over(text, default_limits())
    }

    /// Parses config TOML; its `[limits]` over `base`.
    pub fn from_toml_over(text: &str, base: Limits) -> Result<Self, toml::de::Error> {
        let mut table: toml::Table = toml::from_str(text)?;
        let limits = table.remove("limits");
        let mut config: Config = toml::Value::Table(table).try_into()?;
        config.limits = match limits {
            Some(l) => limits_over(base, &l)?,
            None => base,
        };
        Ok(config)
    }

    /// Worker count after defaults.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(std::num::NonZeroUsize::get)
                .unwrap_or(1)
        })
    }

    /// Queue capacity after defaults.
    pub fn queue_len(&self) -> usize {
        self.queue_capacity
            .unwrap_or_else(|| self.worker_count().saturating_mul(4))
    }

    /// Workers one key may hold at once: one fewer than there are (at least 1).
    pub fn key_worker_ceiling(&self) -> usize {
        self.worker_count().saturating_sub(1).max(1)
    }

    /// Checks every setting; the first problem is reported with its key.
    pub fn validate(&self) -> Result<(), ServerError> {
        fn range(
            setting: &'static str,
            v: u64,
            lo: u64,
            hi: u64,
            unit: &str,
        ) -> Result<(), ServerError> {
            if v < lo || v > hi {
                return Err(ServerError::InvalidSetting {
                    setting,
                    reason: format!("{v} is outside {lo}..={hi} {unit}"),
                });
            }
            Ok(())
        }
        let n = |x: usize| x as u64;
        range("workers", n(self.worker_count()), 1, 256, "threads")?;
        range(
            "queue_capacity",
            n(self.queue_len()),
            0,
            100_000,
            "requests",
        )?;
        range("queue_timeout_ms", self.queue_timeout_ms, 1, 600_000, "ms")?;
        range(
            "request_timeout_secs",
            self.request_timeout_secs,
            1,
            3_600,
            "s",
        )?;
        range(
            "max_body_bytes",
            n(self.max_body_bytes),
            64,
            64 << 20,
            "bytes",
        )?;
        range("max_connections", n(self.max_connections), 1, 1_000_000, "")?;
        range(
            "max_connections_per_peer",
            n(self.max_connections_per_peer),
            1,
            1_000_000,
            "",
        )?;
        range(
            "header_read_timeout_secs",
            self.header_read_timeout_secs,
            1,
            600,
            "s",
        )?;
        range(
            "body_read_timeout_secs",
            self.body_read_timeout_secs,
            1,
            600,
            "s",
        )?;
        range("send_timeout_secs", self.send_timeout_secs, 1, 600, "s")?;
        range(
            "socket_send_buffer_bytes",
            n(self.socket_send_buffer_bytes),
            4096,
            64 << 20,
            "bytes",
        )?;
        range(
            "max_connection_secs",
            self.max_connection_secs,
            1,
            86_400,
            "s",
        )?;
        range(
            "shutdown_grace_secs",
            self.shutdown_grace_secs,
            0,
            3_600,
            "s",
        )?;
        range(
            "limits.max_input_bytes",
            n(self.limits.max_input_bytes),
            1,
            n(Limits::default().max_input_bytes),
            "bytes",
        )?;
        let (secs, most) = (
            self.limits.max_output_seconds,
            Limits::default().max_output_seconds,
        );
        if !(secs > 0.0 && secs <= most) {
            return Err(ServerError::InvalidSetting {
                setting: "limits.max_output_seconds",
                reason: format!("{secs} s is not above 0 and at most {most} s"),
            });
        }
        if self.limits.max_input_bytes > self.max_body_bytes {
            return Err(ServerError::InvalidSetting {
                setting: "limits.max_input_bytes",
                reason: format!(
                    "{} is larger than max_body_bytes ({}), so the text limit could never be \
                     reached",
                    self.limits.max_input_bytes, self.max_body_bytes
                ),
            });
        }
        range(
            "auth.requests_per_minute",
            u64::from(self.auth.requests_per_minute),
            1,
            1_000_000,
            "",
        )?;
        range(
            "auth.audio_seconds_per_minute",
            u64::from(self.auth.audio_seconds_per_minute),
            1,
            100_000_000,
            "",
        )?;
        range(
            "auth.max_concurrent",
            n(self.auth.max_concurrent),
            1,
            100_000,
            "",
        )?;
        range(
            "auth.failed_auth_per_minute",
            u64::from(self.auth.failed_auth_per_minute),
            1,
            1_000_000,
            "",
        )?;
        let name = |setting: &'static str, v: &str| {
            signet::store::VoiceName::new(v).map_err(|_| ServerError::InvalidSetting {
                setting,
                reason: format!(
                    "{v:?} is not a voice name (letters, digits, `_`, `-`, `.`; never a path)"
                ),
            })
        };
        for v in &self.voices {
            name("voices", v)?;
        }
        for (alias, voice) in &self.voice_aliases {
            name("voice_aliases", alias)?;
            name("voice_aliases", voice)?;
            if self.voices.contains(alias) {
                return Err(ServerError::InvalidSetting {
                    setting: "voice_aliases",
                    reason: format!("{alias:?} is a served voice; an alias may not hide it"),
                });
            }
            if !self.voices.is_empty() && !self.voices.contains(voice) {
                return Err(ServerError::InvalidSetting {
                    setting: "voice_aliases",
                    reason: format!(
                        "{alias:?} names {voice:?}, which is not in `voices`; alias a voice \
                         this server serves"
                    ),
                });
            }
        }
        if let Some(w) = &self.wyoming {
            w.validate()?;
        } else if self.http == crate::HttpDoor::Off {
            return Err(ServerError::InvalidSetting {
                setting: "http",
                reason: "the HTTP door is off and no [wyoming] table opens the Wyoming door, so \
                         there is nothing to serve"
                    .to_owned(),
            });
        }
        if let Some(tls) = &self.tls {
            for (setting, p) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
                if !p.is_file() {
                    return Err(ServerError::InvalidSetting {
                        setting,
                        reason: format!("{} is not a readable file", p.display()),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn secs(v: u64) -> Duration {
        Duration::from_secs(v)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe_and_valid() {
        let c = Config::default();
        assert!(c.bind.ip().is_loopback());
        assert_eq!(c.auth.mode, AuthMode::Keys);
        assert!(c.tls.is_none());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = Config::from_toml("bindd = \"0.0.0.0:1\"").unwrap_err();
        assert!(e.to_string().contains("bindd"), "{e}");
        let e = Config::from_toml("[auth]\nmode = \"none\"").unwrap_err();
        assert!(e.to_string().contains("none"), "{e}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let c = Config::from_toml("workers = 0").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("`workers`"), "{e}");
        let c = Config::from_toml("voices = [\"../etc\"]").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("`voices`"), "{e}");
        let c = Config::from_toml("max_body_bytes = 100\n[limits]\nmax_input_bytes = 200").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("limits.max_input_bytes"), "{e}");
    }

    #[test]
    fn shipped_example_is_valid() {
        let c = Config::from_toml(include_str!("../../../deploy/signet-server.toml")).unwrap();
        assert!(c.bind.ip().is_loopback());
        assert_eq!(c.auth.mode, AuthMode::Keys);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn full_example_parses() {
        let c = Config::from_toml(
            r#"
            bind = "0.0.0.0:9000"
            voices = ["en_US-joe-medium"]
            workers = 2
            queue_capacity = 8
            [limits]
            max_input_bytes = 2000
            [auth]
            mode = "anonymous"
            requests_per_minute = 10
            "#,
        )
        .unwrap();
        assert_eq!(c.worker_count(), 2);
        assert_eq!(c.queue_len(), 8);
        assert_eq!(c.auth.mode, AuthMode::Anonymous);
        assert_eq!(c.limits.max_input_bytes, 2000);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn limits_are_layered_key_by_key() {
        // Nothing set: the server's defaults.
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.limits, default_limits());
        // The file sets one key; the others stay as below it.
        let home: toml::Value = toml::from_str("max_chars = 50\nmax_input_bytes = 300").unwrap();
        let base = limits_over(default_limits(), &home).unwrap();
        assert_eq!((base.max_chars, base.max_input_bytes), (50, 300));
        assert_eq!(base.max_output_seconds, 600.0);
        let c = Config::from_toml_over("[limits]\nmax_input_bytes = 200", base).unwrap();
        assert_eq!((c.limits.max_chars, c.limits.max_input_bytes), (50, 200));
        // Unknown keys and wrong types are errors.
        assert!(Config::from_toml("[limits]\nmax_char = 1").is_err());
        assert!(Config::from_toml("limits = 5").is_err());
        assert!(limits_over(base, &toml::Value::Integer(5)).is_err());
    }
}
