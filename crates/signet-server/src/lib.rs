//! signet-server: Signet's speech service.
//!
//! An HTTP service (axum on tokio) with an OpenAI-compatible
//! `POST /v1/audio/speech` (MP3, Opus, FLAC, WAV or PCM, as audio bytes or
//! server-sent events), a Coqui-compatible `/api/tts`, MaryTTS's `/process`,
//! `/voices`, `/locales` and `/version` (off unless configured), `GET
//! /v1/voices`, `/healthz`, `/readyz` and Prometheus `/metrics`. It is built to face the
//! internet: API keys stored as hashes, per-key token buckets (the audio
//! allowance weighed before synthesis) and concurrency caps below the worker
//! count, a queue served round robin across keys, a body cap, text limits,
//! a bounded synthesis queue with a wait timeout, a per-request deadline,
//! cancellation when the client goes away, slow-client timeouts, a
//! connection cap in all and per client address, a limit on refused
//! credentials per address, TLS via rustls, and logs that name the client's
//! address and never hold text or audio.
//!
//! ```no_run
//! # fn main() -> Result<(), signet_server::ServerError> {
//! let mut config = signet_server::Config::default();
//! config.auth.mode = signet_server::AuthMode::Anonymous;
//! signet_server::run(config)
//! # }
//! ```
//!
//! **Architecture invariant:** synthesis runs only on the pool's OS threads
//! (one `Synthesizer` per worker and voice); tokio's threads only move bytes.
//! **Architecture invariant:** a voice is addressed by its registry name;
//! no request can name a file.
#![forbid(unsafe_code)]

mod auth;
mod config;
mod conn;
mod error;
mod http;
mod limits;
mod marytts;
mod metrics;
mod pool;
mod tls;
mod wyoming;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use auth::hash_key;
pub use config::{
    default_limits, limits_over, AuthConfig, AuthMode, Config, MaryTtsAccess, MetricsAccess,
    TlsConfig, WatermarkConfig, WatermarkMode,
};

/// The 16 bits of caller data the watermark of a response carries: the first
/// two bytes of SHA-256 over a domain tag and the API key's id (`anonymous`
/// in anonymous mode). `signet detect` reports them as the payload; compute
/// this for your key ids to see which one asked for a clip.
#[must_use]
pub fn watermark_tag(key_id: &str) -> u16 {
    use sha2::{Digest, Sha256};
    let digest: [u8; 32] = Sha256::new()
        .chain_update(b"signet-server/watermark-tag/v1\0")
        .chain_update(key_id.as_bytes())
        .finalize()
        .into();
    let [a, b, ..] = digest;
    u16::from_be_bytes([a, b])
}
pub use error::ServerError;
pub use wyoming::{HttpDoor, RemoteAccess, WyomingConfig, WyomingUri};

/// State shared by every request.
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) keys: auth::Keys,
    pub(crate) limiter: Arc<limits::Limiter>,
    pub(crate) auth_failures: limits::AuthFailures,
    pub(crate) pool: pool::Pool,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) default_voice: String,
    pub(crate) shutting_down: AtomicBool,
    next_id: AtomicU64,
    id_prefix: u32,
}

impl AppState {
    /// A short id that tells requests apart in logs and responses.
    pub(crate) fn request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n}", self.id_prefix)
    }
}

/// A bound, ready server: voices loaded, socket open.
pub struct Server {
    /// The HTTP socket; none when the HTTP door is off.
    listener: Option<TcpListener>,
    state: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The Wyoming socket, when that door is open.
    wyoming: Option<wyoming::Listener>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field(
                "addr",
                &self.listener.as_ref().and_then(|l| l.local_addr().ok()),
            )
            .field("wyoming", &self.wyoming.as_ref().map(|w| &w.uri))
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Validates the config, loads keys, TLS and voices (each worker
    /// verifies and loads its own copy), and opens the socket. Must run
    /// inside a tokio runtime.
    pub async fn bind(config: Config) -> Result<Self, ServerError> {
        config.validate()?;
        let keys = match config.http {
            HttpDoor::On => auth::Keys::load(&config.auth)?,
            // Without HTTP no request carries a key (Wyoming has none).
            HttpDoor::Off => auth::Keys::load(&AuthConfig {
                mode: AuthMode::Anonymous,
                keys_file: None,
                keys_env: String::new(),
                ..config.auth.clone()
            })?,
        };
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let home = match &config.home {
            Some(h) => h.clone(),
            None => signet::store::default_home().map_err(|source| ServerError::Voice {
                name: String::new(),
                source,
            })?,
        };
        let voices = if config.voices.is_empty() {
            discover_voices(&home)?
        } else {
            config.voices.clone()
        };
        let default_voice = if voices.iter().any(|v| v == signet::DEFAULT_VOICE) {
            signet::DEFAULT_VOICE.to_owned()
        } else {
            voices.first().cloned().unwrap_or_default()
        };
        let listener =
            match config.http {
                HttpDoor::On => Some(TcpListener::bind(config.bind).await.map_err(|source| {
                    ServerError::Bind {
                        addr: config.bind,
                        source,
                    }
                })?),
                HttpDoor::Off => None,
            };
        let wyoming = match &config.wyoming {
            Some(w) => Some(wyoming::bind(w).await?),
            None => None,
        };
        let watermark = match (config.watermark.mode, &config.watermark.key_file) {
            (WatermarkMode::Off, _) => {
                tracing::warn!("watermark off (watermark.mode = \"off\"): responses carry no mark");
                signet::Watermark::Off
            }
            (WatermarkMode::On, Some(path)) => signet::Watermark::Key(
                signet::watermark::read_key_file(path)
                    .map_err(|source| ServerError::Watermark { source })?,
            ),
            (WatermarkMode::On, None) => signet::Watermark::Key(
                signet::watermark::home_key(&signet::Store::new(&home))
                    .map_err(|source| ServerError::Watermark { source })?,
            ),
        };
        if let signet::Watermark::Key(key) = &watermark {
            tracing::info!(key_id = %key.id(), "watermark on");
        }
        let metrics = Arc::new(metrics::Metrics::default());
        let settings = pool::PoolSettings {
            watermark,
            workers: config.worker_count(),
            queue_capacity: config.queue_len(),
            per_key_workers: config.key_worker_ceiling(),
            send_timeout: Config::secs(config.send_timeout_secs),
            limits: config.limits,
            lexicons: read_lexicons(&config.lexicons)?,
        };
        let m = Arc::clone(&metrics);
        let pool =
            tokio::task::spawn_blocking(move || pool::Pool::start(&home, &voices, settings, m))
                .await
                .map_err(|e| ServerError::Worker(std::io::Error::other(e.to_string())))??;
        for (alias, voice) in &config.voice_aliases {
            let setting = "voice_aliases";
            if !pool.voices.contains_key(voice) {
                pool.shutdown();
                return Err(ServerError::InvalidSetting {
                    setting,
                    reason: format!("{alias:?} names {voice:?}, which this server does not serve"),
                });
            }
            if pool.voices.contains_key(alias) {
                pool.shutdown();
                return Err(ServerError::InvalidSetting {
                    setting,
                    reason: format!("{alias:?} is a served voice; an alias may not hide it"),
                });
            }
        }
        let limiter = Arc::new(limits::Limiter::new(
            config.auth.requests_per_minute,
            config.auth.audio_seconds_per_minute,
            config.auth.max_concurrent,
        ));
        let auth_failures = limits::AuthFailures::new(config.auth.failed_auth_per_minute);
        let id_prefix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0)
            ^ std::process::id();
        tracing::info!(
            addr = %listener.as_ref().map_or_else(
                || "off".to_owned(),
                |l| l.local_addr().map_or(config.bind, |a| a).to_string()
            ),
            wyoming = %wyoming.as_ref().map_or_else(|| "off".to_owned(), |w| w.uri.to_string()),
            tls = tls.is_some(),
            workers = config.worker_count(),
            queue = config.queue_len(),
            voices = pool.voices.len(),
            keys = keys.len(),
            auth = ?config.auth.mode,
            metrics = config.metrics.as_str(),
            per_key_workers = config.key_worker_ceiling(),
            per_peer_connections = config.max_connections_per_peer,
            "signet-server ready"
        );
        Ok(Self {
            listener,
            wyoming,
            tls,
            state: Arc::new(AppState {
                config,
                keys,
                limiter,
                auth_failures,
                pool,
                metrics,
                default_voice,
                shutting_down: AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                id_prefix,
            }),
        })
    }

    /// The address the socket is bound to (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, std::io::Error> {
        self.listener
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the HTTP door is off"))?
            .local_addr()
    }

    /// Where the Wyoming door listens (with the port the system chose for
    /// port 0), when it is open.
    pub fn wyoming_uri(&self) -> Option<&WyomingUri> {
        self.wyoming.as_ref().map(|w| &w.uri)
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets
    /// in-flight requests finish (up to `shutdown_grace_secs`) and stops the
    /// workers.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Server {
            listener,
            state,
            tls,
            wyoming,
        } = self;
        let cfg = &state.config;
        let conn_limit = Arc::new(Semaphore::new(cfg.max_connections));
        let per_peer = Arc::new(conn::PeerConnections::default());
        // The Wyoming door shares the connection caps and the pool.
        let (stop_wyoming, stop_rx) = tokio::sync::watch::channel(false);
        let wyoming_task = wyoming.map(|l| {
            let shared = wyoming::Shared {
                conn_limit: Arc::clone(&conn_limit),
                per_peer: Arc::clone(&per_peer),
            };
            tokio::spawn(wyoming::serve(l, Arc::clone(&state), shared, stop_rx))
        });
        let graceful = GracefulShutdown::new();
        let router = http::router(Arc::clone(&state));
        let header_timeout = Config::secs(cfg.header_read_timeout_secs);
        let max_life = Config::secs(cfg.max_connection_secs);
        let send_buffer = cfg.socket_send_buffer_bytes;
        tokio::pin!(shutdown);
        loop {
            let Some(listener) = listener.as_ref() else {
                // Wyoming alone.
                (&mut shutdown).await;
                break;
            };
            let permit = tokio::select! {
                p = Arc::clone(&conn_limit).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(send_buffer);
            let ip = peer.ip().to_canonical();
            // One address may not hold every connection; a trusted proxy
            // carries many clients and is not counted.
            let peer_slot = if cfg.trusted_proxies.contains(&ip) {
                None
            } else {
                match per_peer.open(ip, cfg.max_connections_per_peer) {
                    Some(slot) => Some(slot),
                    None => {
                        state.metrics.reject("peer_connections");
                        tracing::info!(%peer, "connection refused: max_connections_per_peer reached");
                        if tls.is_none() {
                            // Best effort, never waiting: the socket's buffer is empty.
                            let _ = stream.try_write(&conn::json_response(
                                503,
                                "Service Unavailable",
                                "peer_connections",
                                "too many open connections from this address \
                                 (max_connections_per_peer); close some and retry",
                            ));
                        }
                        drop(stream);
                        drop(permit);
                        continue;
                    }
                }
            };
            let service =
                TowerToHyperService::new(router.clone().layer(axum::Extension(http::Peer(peer))));
            let metrics = Arc::clone(&state.metrics);
            let tls = tls.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                metrics.connections.fetch_add(1, Ordering::Relaxed);
                let served = async {
                    match tls {
                        None => {
                            serve_conn(stream, service, header_timeout, watcher).await;
                        }
                        Some(acceptor) => {
                            match tokio::time::timeout(header_timeout, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => serve_conn(s, service, header_timeout, watcher).await,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                }
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        }
                    }
                };
                if tokio::time::timeout(max_life, served).await.is_err() {
                    tracing::info!(%peer, "connection closed: max_connection_secs reached");
                }
                metrics.connections.fetch_sub(1, Ordering::Relaxed);
                drop(peer_slot);
                drop(permit);
            });
        }
        drop(listener);
        let _ = stop_wyoming.send(true);
        state.shutting_down.store(true, Ordering::Relaxed);
        tracing::info!("shutting down: finishing in-flight requests");
        let grace = Config::secs(cfg.shutdown_grace_secs);
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over; closing the remaining connections");
        }
        if let Some(t) = wyoming_task {
            // It waits for its connections up to the grace period itself.
            let _ = t.await;
        }
        let st = Arc::clone(&state);
        let _ = tokio::task::spawn_blocking(move || st.pool.shutdown()).await;
        tracing::info!("stopped");
        Ok(())
    }
}

type Service = TowerToHyperService<axum::Router>;

async fn serve_conn<I>(
    io: I,
    service: Service,
    header_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // A client that shuts down its writing side after the request
        // (`nc -N`, `shutdown(SHUT_WR)`) still gets its whole answer.
        .half_close(true)
        .max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(conn::JsonRefusals::new(io)), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn discover_voices(home: &std::path::Path) -> Result<Vec<String>, ServerError> {
    let store = signet::Store::new(home);
    let list = signet::list_voices(&store).map_err(|source| ServerError::Voice {
        name: String::new(),
        source,
    })?;
    let mut names = Vec::new();
    for v in list {
        match v.verified {
            Ok(()) => names.push(v.name),
            Err(reason) => {
                tracing::warn!(
                    voice = v.name,
                    reason,
                    "voice fails verification; not served"
                )
            }
        }
    }
    if names.is_empty() {
        return Err(ServerError::NoVoices {
            store: store.voices_dir(),
        });
    }
    Ok(names)
}

/// Sets up logging to stderr: `SIGNET_LOG` (or `RUST_LOG`) filters, default
/// `info`.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("SIGNET_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour codes only on a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs the server until SIGINT or SIGTERM, on its own tokio runtime.
pub fn run(config: Config) -> Result<(), ServerError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("signet-io")
        .build()
        .map_err(ServerError::Runtime)?;
    rt.block_on(async {
        let server = Server::bind(config).await?;
        server.serve(shutdown_signal()).await
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Largest lexicon file the server reads, in bytes.
const MAX_LEXICON_BYTES: u64 = 4 * 1024 * 1024;

/// Reads the config's lexicon files (regular files, capped), in order.
fn read_lexicons(paths: &[std::path::PathBuf]) -> Result<Vec<signet::Lexicon>, ServerError> {
    use std::io::Read;
    let mut out = Vec::new();
    for path in paths {
        let bad = |reason: String| ServerError::InvalidSetting {
            setting: "lexicons",
            reason: format!("{}: {reason}", path.display()),
        };
        let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        let mut text = String::new();
        file.take(MAX_LEXICON_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| bad(e.to_string()))?;
        if text.len() as u64 > MAX_LEXICON_BYTES {
            return Err(bad("larger than 4 MiB".into()));
        }
        out.push(
            signet::Lexicon::parse(&path.display().to_string(), &text)
                .map_err(|e| bad(e.to_string()))?,
        );
    }
    Ok(out)
}
