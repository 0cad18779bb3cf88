//! `signet serve`: the speech service (see `signet-server`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::fmt::Write as _;

use anyhow::Result;
use clap::Args;
use signet_server::{AuthMode, Config, MaryTtsAccess, MetricsAccess, ServerError, TlsConfig};

/// Why `signet serve` will not start without keys, in the CLI's words.
const NO_KEYS: &str = "no API keys: every speech request needs a key, and none is configured. \
Give a file of `id:sha256hex` lines with --keys-file FILE (or `keys_file` in the [auth] table of \
--config), or `id:sha256hex,...` in $SIGNET_API_KEYS; `printf %s \"$KEY\" | sha256sum` gives a \
key's hash. To serve without keys, pass --anonymous (all callers then share one rate limit)";

/// `signet serve --help`: what an operator needs before the first start.
pub const LONG_ABOUT: &str = "Serve speech over HTTP: POST /v1/audio/speech (OpenAI-compatible), \
GET|POST /api/tts (Coqui-compatible), GET /v1/voices, /healthz, /readyz, /metrics (Prometheus; needs a key unless --metrics open), \
and with --marytts anonymous MaryTTS's GET|POST /process, /voices, /locales, /version (no keys: anonymous limits).

Listens on 127.0.0.1:8080 unless told otherwise. Every speech request needs \
`Authorization: Bearer <key>`. Keys are configured as SHA-256 hashes, never in the clear: \
`printf %s \"$KEY\" | sha256sum` gives the hash; put `id:hash` lines in a file (--keys-file) or \
`id:hash,id:hash` in $SIGNET_API_KEYS. Requests without a key only with --anonymous.

Settings come from --config (TOML; deploy/signet-server.toml documents every key), then these \
flags; everything is checked before the server starts (--check only checks). The limits on one \
request are the [limits] table that `signet speak` reads from <home>/config.toml, over the \
server's defaults (4096 bytes of input, 600 s of audio); the --config file's [limits] and the \
flags win over it. Logs go to stderr \
(filter with SIGNET_LOG, e.g. info or debug) and never contain text or audio. SIGINT or SIGTERM \
stops accepting connections and lets in-flight requests finish.";

/// Flags override the config file, which overrides the defaults.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [config: bind; default 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT")]
    bind: Option<SocketAddr>,
    /// Voice to serve; repeat for several [config: voices; default: every verified voice].
    #[arg(long = "voice", value_name = "NAME")]
    voices: Vec<String>,
    /// Synthesis threads = requests synthesized at once [config: workers; default: cores].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Requests that may wait for a worker; beyond it, 503 [config: queue_capacity; default 4 per worker].
    #[arg(long, value_name = "N")]
    queue: Option<usize>,
    /// File of API keys, `id:sha256hex` per line [config: auth.keys_file].
    #[arg(long, value_name = "FILE")]
    keys_file: Option<PathBuf>,
    /// Allow requests without a key (all share one rate limit) [config: auth.mode = "anonymous"].
    #[arg(long)]
    anonymous: bool,
    /// Requests per minute per key [config: auth.requests_per_minute; default 60].
    #[arg(long, value_name = "N")]
    requests_per_minute: Option<u32>,
    /// Who may read /metrics: `key` (a valid API key), `open` (anyone who can
    /// reach the port) or `off` (404) [config: metrics; default key].
    #[arg(long, value_name = "ACCESS", value_parser = parse_metrics)]
    metrics: Option<MetricsAccess>,
    /// MaryTTS's API (/process, /voices, /locales, /version): `off` (404) or
    /// `anonymous` (served without keys, under the shared anonymous limits)
    /// [config: marytts; default off].
    #[arg(long, value_name = "ACCESS", value_parser = parse_marytts)]
    marytts: Option<MaryTtsAccess>,
    /// Open connections from one client address at most [config:
    /// max_connections_per_peer; default 32].
    #[arg(long, value_name = "N")]
    max_connections_per_peer: Option<usize>,
    /// Address of a reverse proxy whose X-Forwarded-For is believed; repeat
    /// for several [config: trusted_proxies; default none].
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Largest input text in bytes [config: limits.max_input_bytes, also read from
    /// <home>/config.toml; default 4096].
    #[arg(long, value_name = "BYTES")]
    max_input_bytes: Option<usize>,
    /// TLS certificate chain (PEM); needs --tls-key [config: tls.cert].
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert [config: tls.key].
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve speech without the inaudible watermark (logged at start)
    /// [config: watermark.mode = "off"; default on, with the home's key].
    #[arg(long)]
    no_watermark: bool,
    /// Also serve the Wyoming protocol (Home Assistant) at this URI, e.g.
    /// tcp://127.0.0.1:10200, with the same workers [config: the [wyoming] table].
    #[arg(long, value_name = "URI")]
    wyoming: Option<signet_server::WyomingUri>,
    /// Let the Wyoming door bind a non-loopback address (Wyoming has no
    /// authentication) [config: wyoming.remote = "allowed"].
    #[arg(long)]
    allow_remote: bool,
    /// Check the configuration, print it, and exit without serving.
    #[arg(long)]
    check: bool,
}

fn parse_metrics(s: &str) -> Result<MetricsAccess, String> {
    s.parse()
}

fn parse_marytts(s: &str) -> Result<MaryTtsAccess, String> {
    s.parse()
}

pub fn run(home: &Path, args: ServeArgs) -> Result<()> {
    // Layered: the server's defaults, the home's [limits], the config file's, the flags.
    let limits = crate::config::limits_over(home, signet_server::default_limits())?;
    let mut config = match &args.config {
        Some(p) => Config::from_file_over(p, limits)?,
        None => {
            let mut c = Config::default();
            c.limits = limits;
            c
        }
    };
    if config.home.is_none() {
        config.home = Some(home.to_owned());
    }
    if let Some(b) = args.bind {
        config.bind = b;
    }
    if !args.voices.is_empty() {
        config.voices = args.voices;
    }
    if args.workers.is_some() {
        config.workers = args.workers;
    }
    if args.queue.is_some() {
        config.queue_capacity = args.queue;
    }
    if args.keys_file.is_some() {
        config.auth.keys_file = args.keys_file;
    }
    if args.anonymous {
        config.auth.mode = AuthMode::Anonymous;
    }
    if let Some(n) = args.requests_per_minute {
        config.auth.requests_per_minute = n;
    }
    if let Some(m) = args.metrics {
        config.metrics = m;
    }
    if let Some(m) = args.marytts {
        config.marytts = m;
    }
    if let Some(n) = args.max_connections_per_peer {
        config.max_connections_per_peer = n;
    }
    if !args.trusted_proxies.is_empty() {
        config.trusted_proxies = args.trusted_proxies;
    }
    if let Some(n) = args.max_input_bytes {
        config.limits.max_input_bytes = n;
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = Some(TlsConfig::new(cert, key));
    }
    if args.no_watermark {
        config.watermark.mode = signet_server::WatermarkMode::Off;
    }
    let open = args.wyoming.is_some();
    crate::wyoming::DoorArgs::from_serve(args.wyoming, args.allow_remote).apply(&mut config, open);
    config.validate()?;
    if args.check {
        out!("{}", settings(&config))?;
        out!("{}", crate::wyoming::settings(&config))?;
        return Ok(());
    }
    // Which sandbox the espeak-ng helpers run in (a failure here shows again, with its
    // reason, on the first request that needs the helper).
    let store = signet::Store::new(config.home.clone().unwrap_or_else(|| home.to_owned()));
    match signet::probe_espeak_sandbox(&store) {
        Ok(sandbox) => eprintln!("signet: espeak-ng helper sandbox: {sandbox}"),
        Err(e) => eprintln!("signet: warning: espeak-ng helper not started: {e}"),
    }
    signet_server::init_logging();
    signet_server::run(config).map_err(|e| match e {
        ServerError::NoKeys => anyhow::anyhow!(NO_KEYS),
        e => e.into(),
    })
}

/// The resolved settings, one `key = value` line each under the config
/// file's table names, as `serve --check` prints them.
fn settings(c: &Config) -> String {
    fn opt<T: std::fmt::Display>(v: Option<T>, default: &str) -> String {
        v.map_or_else(|| default.to_owned(), |v| v.to_string())
    }
    let path = |p: Option<&Path>| p.map_or_else(|| "-".to_owned(), |p| p.display().to_string());
    let voices = if c.voices.is_empty() {
        "every verified voice".to_owned()
    } else {
        c.voices.join(", ")
    };
    let mut s = String::new();
    let _ = writeln!(s, "bind                       = {}", c.bind);
    let _ = writeln!(
        s,
        "home                       = {}",
        path(c.home.as_deref())
    );
    let _ = writeln!(s, "voices                     = {voices}");
    let _ = writeln!(
        s,
        "workers                    = {}",
        opt(c.workers, "one per core")
    );
    let _ = writeln!(
        s,
        "queue_capacity             = {}",
        opt(c.queue_capacity, "4 per worker")
    );
    let _ = writeln!(s, "queue_timeout_ms           = {}", c.queue_timeout_ms);
    let _ = writeln!(s, "request_timeout_secs       = {}", c.request_timeout_secs);
    let _ = writeln!(s, "max_body_bytes             = {}", c.max_body_bytes);
    let _ = writeln!(s, "max_connections            = {}", c.max_connections);
    let _ = writeln!(
        s,
        "max_connections_per_peer   = {}",
        c.max_connections_per_peer
    );
    let proxies: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        s,
        "trusted_proxies            = {}",
        if proxies.is_empty() {
            "none".to_owned()
        } else {
            proxies.join(", ")
        }
    );
    let _ = writeln!(s, "metrics                    = {}", c.metrics.as_str());
    let _ = writeln!(s, "marytts                    = {}", c.marytts.as_str());
    let _ = writeln!(
        s,
        "watermark                  = {}",
        match (c.watermark.mode, &c.watermark.key_file) {
            (signet_server::WatermarkMode::Off, _) => "off".to_owned(),
            (_, Some(path)) => format!("on, key {}", path.display()),
            (_, None) => "on, the home's key (keys/watermark.key)".to_owned(),
        }
    );
    let _ = writeln!(
        s,
        "header_read_timeout_secs   = {}",
        c.header_read_timeout_secs
    );
    let _ = writeln!(
        s,
        "body_read_timeout_secs     = {}",
        c.body_read_timeout_secs
    );
    let _ = writeln!(s, "send_timeout_secs          = {}", c.send_timeout_secs);
    let _ = writeln!(
        s,
        "socket_send_buffer_bytes   = {}",
        c.socket_send_buffer_bytes
    );
    let _ = writeln!(s, "max_connection_secs        = {}", c.max_connection_secs);
    let _ = writeln!(s, "shutdown_grace_secs        = {}", c.shutdown_grace_secs);
    let _ = writeln!(s, "[limits]");
    let _ = writeln!(
        s,
        "max_input_bytes            = {}",
        c.limits.max_input_bytes
    );
    let _ = writeln!(
        s,
        "max_output_seconds         = {}",
        c.limits.max_output_seconds
    );
    let _ = writeln!(s, "[auth]");
    let mode = match c.auth.mode {
        AuthMode::Anonymous => "anonymous",
        AuthMode::Keys => "keys",
    };
    let _ = writeln!(s, "mode                       = {mode}");
    let _ = writeln!(
        s,
        "keys_file                  = {}",
        path(c.auth.keys_file.as_deref())
    );
    let _ = writeln!(s, "keys_env                   = {}", c.auth.keys_env);
    let _ = writeln!(
        s,
        "requests_per_minute        = {}",
        c.auth.requests_per_minute
    );
    let _ = writeln!(
        s,
        "audio_seconds_per_minute   = {}",
        c.auth.audio_seconds_per_minute
    );
    let _ = writeln!(
        s,
        "max_concurrent             = {} (at most {} synthesizing at once)",
        c.auth.max_concurrent,
        c.key_worker_ceiling()
    );
    let _ = writeln!(
        s,
        "failed_auth_per_minute     = {}",
        c.auth.failed_auth_per_minute
    );
    let _ = writeln!(s, "[voice_aliases]");
    if c.voice_aliases.is_empty() {
        let _ = writeln!(s, "(none)");
    }
    for (alias, voice) in &c.voice_aliases {
        let _ = writeln!(s, "{alias:<26} = {voice}");
    }
    let _ = writeln!(s, "[tls]");
    match &c.tls {
        Some(t) => {
            let _ = writeln!(s, "cert                       = {}", t.cert.display());
            let _ = writeln!(s, "key                        = {}", t.key.display());
        }
        None => {
            let _ = writeln!(s, "(none: plain HTTP)");
        }
    }
    s
}
