//! The server's error type: what can stop it from starting or serving.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start (request-level failures are HTTP responses,
/// not errors of this type).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for this server.
    #[error("invalid config file {path}: {source}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// The cause, with line and column.
        source: toml::de::Error,
    },
    /// A setting is out of range or inconsistent with another.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting, as spelled in the config file.
        setting: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The API key file could not be read.
    #[error("cannot read API key file {path}: {source}")]
    KeysRead {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An API key entry is malformed.
    #[error("{origin}, entry {entry}: {reason}")]
    KeysParse {
        /// The file or environment variable.
        origin: String,
        /// 1-based line or entry number.
        entry: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Key mode without any key.
    #[error(
        "no API keys configured: set `auth.keys_file` (lines of `id:sha256hex`), put keys in \
         the environment variable named by `auth.keys_env`, or allow anonymous access \
         explicitly with `auth.mode = \"anonymous\"`"
    )]
    NoKeys,
    /// A TLS certificate or key could not be loaded.
    #[error("TLS {what} {path}: {reason}")]
    Tls {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The PEM file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The Wyoming socket could not be opened.
    #[error("cannot listen for Wyoming on {uri}: {source}")]
    WyomingBind {
        /// The URI.
        uri: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A configured voice could not be loaded (missing or failed verification).
    #[error("voice {name:?} cannot be served: {source}")]
    Voice {
        /// The voice.
        name: String,
        /// The cause.
        source: signet::Error,
    },
    /// The watermark key could not be read or made.
    #[error("the watermark key cannot be used: {source}")]
    Watermark {
        /// The cause.
        source: signet::Error,
    },
    /// No voice to serve.
    #[error(
        "no verified voice in the store {store}: import one with `signet voices import piper`"
    )]
    NoVoices {
        /// The store's voices folder.
        store: PathBuf,
    },
    /// The synthesis workers could not be started.
    #[error("cannot start synthesis worker: {0}")]
    Worker(std::io::Error),
    /// The async runtime could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}
