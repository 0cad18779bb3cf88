//! `signet wyoming`: the Wyoming door alone (Home Assistant's protocol), and
//! the `--wyoming` flags `signet serve` shares to open it beside HTTP.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use signet_server::{Config, HttpDoor, RemoteAccess, WyomingConfig, WyomingUri};

/// `signet wyoming --help`.
pub const LONG_ABOUT: &str = "Serve speech over the Wyoming protocol, for Home Assistant's \
Wyoming integration: describe, synthesize, and streaming synthesis (audio starts while the text \
is still arriving).

Listens on tcp://127.0.0.1:10200 unless told otherwise (--uri tcp://HOST:PORT or \
unix://PATH). Wyoming has no authentication: anyone who can reach the port can make the server \
speak. So only a loopback address (or a Unix socket) is bound unless --allow-remote is given; \
give it only on a network you trust, e.g. when Home Assistant runs on another machine of your \
home network, and keep the port closed to the internet.

Settings come from --config (the TOML of `signet serve`; its [wyoming] table and the shared \
settings: workers, queue, [limits], timeouts, connection caps), then these flags. All Wyoming \
clients share one rate limit (the [auth] per-key limits). Logs go to stderr and never contain \
text or audio. `signet serve --wyoming URI` serves HTTP and Wyoming from one process and one set \
of workers.";

/// Flags of `signet wyoming`.
#[derive(Debug, Args)]
pub struct WyomingArgs {
    /// TOML config file (as for `signet serve`; its [wyoming] table).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    door: DoorArgs,
    /// Voice to serve; repeat for several [config: voices; default: every verified voice].
    #[arg(long = "voice", value_name = "NAME")]
    voices: Vec<String>,
    /// Synthesis threads [config: workers; default: cores].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Requests that may wait for a worker [config: queue_capacity; default 4 per worker].
    #[arg(long, value_name = "N")]
    queue: Option<usize>,
    /// Syntheses per minute for all Wyoming clients together [config:
    /// auth.requests_per_minute; default 60].
    #[arg(long, value_name = "N")]
    requests_per_minute: Option<u32>,
    /// Open connections from one client address at most [config:
    /// max_connections_per_peer; default 32].
    #[arg(long, value_name = "N")]
    max_connections_per_peer: Option<usize>,
    /// Largest text of one synthesis in bytes [config: limits.max_input_bytes; default 4096].
    #[arg(long, value_name = "BYTES")]
    max_input_bytes: Option<usize>,
    /// Check the configuration, print it, and exit without serving.
    #[arg(long)]
    check: bool,
}

/// Where the Wyoming door listens; `signet serve` takes these too.
#[derive(Debug, Args)]
pub struct DoorArgs {
    /// Where to listen: tcp://HOST:PORT or unix://PATH [config: wyoming.uri;
    /// default tcp://127.0.0.1:10200].
    #[arg(long, value_name = "URI")]
    uri: Option<WyomingUri>,
    /// Allow a non-loopback address: Wyoming has no authentication, so anyone
    /// who can reach it can use the server [config: wyoming.remote = "allowed"].
    #[arg(long)]
    allow_remote: bool,
}

impl DoorArgs {
    /// Opens the Wyoming door in `config` when `open` (or when the config
    /// file has a [wyoming] table), with these flags over the table.
    pub fn apply(self, config: &mut Config, open: bool) {
        if !open && config.wyoming.is_none() {
            return;
        }
        let mut w = config.wyoming.take().unwrap_or_default();
        if let Some(u) = self.uri {
            w.uri = u;
        }
        if self.allow_remote {
            w.remote = RemoteAccess::Allowed;
        }
        config.wyoming = Some(w);
    }

    /// `signet serve --wyoming URI`: the flag's value is the URI.
    pub fn from_serve(uri: Option<WyomingUri>, allow_remote: bool) -> Self {
        Self { uri, allow_remote }
    }
}

pub fn run(home: &Path, args: WyomingArgs) -> Result<()> {
    let limits = crate::config::limits_over(home, signet_server::default_limits())?;
    let mut config = match &args.config {
        Some(p) => Config::from_file_over(p, limits)?,
        None => {
            let mut c = Config::default();
            c.limits = limits;
            c
        }
    };
    config.http = HttpDoor::Off;
    if config.home.is_none() {
        config.home = Some(home.to_owned());
    }
    args.door.apply(&mut config, true);
    if !args.voices.is_empty() {
        config.voices = args.voices;
    }
    if args.workers.is_some() {
        config.workers = args.workers;
    }
    if args.queue.is_some() {
        config.queue_capacity = args.queue;
    }
    if let Some(n) = args.requests_per_minute {
        config.auth.requests_per_minute = n;
    }
    if let Some(n) = args.max_connections_per_peer {
        config.max_connections_per_peer = n;
    }
    if let Some(n) = args.max_input_bytes {
        config.limits.max_input_bytes = n;
    }
    config.validate()?;
    if args.check {
        out!("{}", settings(&config))?;
        return Ok(());
    }
    let store = signet::Store::new(config.home.clone().unwrap_or_else(|| home.to_owned()));
    match signet::probe_espeak_sandbox(&store) {
        Ok(sandbox) => eprintln!("signet: espeak-ng helper sandbox: {sandbox}"),
        Err(e) => eprintln!("signet: warning: espeak-ng helper not started: {e}"),
    }
    signet_server::init_logging();
    signet_server::run(config)?;
    Ok(())
}

/// The `[wyoming]` table as `--check` prints it (empty when the door is closed).
pub fn settings(c: &Config) -> String {
    let mut s = String::new();
    let Some(w) = &c.wyoming else {
        return s;
    };
    let WyomingConfig {
        uri,
        remote,
        max_header_bytes,
        max_data_bytes,
        max_payload_bytes,
        idle_timeout_secs,
        max_stream_bytes,
        ..
    } = w;
    let remote = match remote {
        RemoteAccess::Loopback => "loopback",
        _ => "allowed",
    };
    let http = match c.http {
        HttpDoor::On => "on",
        HttpDoor::Off => "off",
    };
    let _ = writeln!(s, "http                       = {http}");
    let _ = writeln!(s, "[wyoming]");
    let _ = writeln!(s, "uri                        = {uri}");
    let _ = writeln!(s, "remote                     = {remote}");
    let _ = writeln!(s, "max_header_bytes           = {max_header_bytes}");
    let _ = writeln!(s, "max_data_bytes             = {max_data_bytes}");
    let _ = writeln!(s, "max_payload_bytes          = {max_payload_bytes}");
    let _ = writeln!(s, "idle_timeout_secs          = {idle_timeout_secs}");
    let _ = writeln!(s, "max_stream_bytes           = {max_stream_bytes}");
    let _ = writeln!(
        s,
        "(shared) workers = {}, queue_capacity = {}, limits.max_input_bytes = {}, \
         requests_per_minute = {}",
        c.worker_count(),
        c.queue_len(),
        c.limits.max_input_bytes,
        c.auth.requests_per_minute
    );
    s
}
