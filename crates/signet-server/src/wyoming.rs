//! The Wyoming door: the protocol Home Assistant speaks to its voice
//! services, on TCP or a Unix socket, through the same pool, limits, metrics
//! and logging rules as HTTP.
//!
//! A connection reads events under the `[wyoming]` caps (signet-wyoming's
//! reader: header, data and payload sizes checked before anything is
//! allocated) and answers:
//!
//! - `describe` with `info`: one TTS program, `signet`, its voices with their
//!   languages, and `supports_synthesize_streaming`;
//! - `synthesize` with `audio-start`, `audio-chunk`s as each decoding window
//!   of each sentence is ready, and `audio-stop`;
//! - `synthesize-start`, `synthesize-chunk`s, `synthesize-stop` (the
//!   streaming form): each sentence completed by the chunks so far goes to
//!   synthesis while more text arrives (the `synthesize` that Home Assistant
//!   sends inside a stream, for older servers, is ignored); after the stop,
//!   the rest, then `audio-stop` and `synthesize-stopped`;
//! - `ping` with `pong`; any other event is dropped, as the protocol expects.
//!
//! Each connection has one synthesis queue: one job in the pool at a time,
//! the next piece of text waiting in the connection (bounded by
//! `wyoming.max_stream_bytes`). Every job goes through the HTTP door's steps
//! after authentication: the limiter (Wyoming has no keys; all its
//! connections share the key id `wyoming`, with the `[auth]` per-key limits),
//! the pool's queue with `queue_timeout_ms`, the stream's text limits and
//! estimate, `request_timeout_secs`, and `send_timeout_secs` for a client
//! that does not read. A connection is closed after `idle_timeout_secs`
//! without an event while it has nothing to send, after
//! `max_connection_secs` in all, and after any error, which is sent first as
//! an `error` event (Wyoming clients open one connection per request).
//! Connections count against `max_connections` and, on TCP,
//! `max_connections_per_peer`, with HTTP's.
//!
//! Wyoming has no authentication: the door binds a loopback address unless
//! `wyoming.remote = "allowed"`. Logs carry the connection, the peer, event
//! counts, sizes and outcomes; never text (an error's message is built
//! without quoting what was refused).

mod config;
mod text;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use signet_wyoming::{Caps, Request, VoiceChoice};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

pub use config::{HttpDoor, RemoteAccess, WyomingConfig, WyomingUri};

use crate::auth::KeyLimits;
use crate::conn::PeerConnections;
use crate::pool::{Delivery, Job, JobError, JobState, ServedVoice, Started, SubmitError};
use crate::{AppState, Config, ServerError};

/// The limiter's key id for every Wyoming request.
pub(crate) const KEY_ID: &str = "wyoming";

/// Pieces of audio buffered between a worker and the connection.
const AUDIO_BUFFER: usize = 2;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;

/// Largest payload of one `audio-chunk` sent.
const MAX_CHUNK_BYTES: usize = 32 * 1024;

/// Speakers `info` lists by id for a multi-speaker voice whose speakers have no names.
const MAX_LISTED_SPEAKERS: u32 = 1000;

/// `synthesize` requests one connection may have waiting behind the one
/// being spoken.
const MAX_WAITING_REQUESTS: usize = 4;

/// A bound Wyoming socket.
pub(crate) struct Listener {
    inner: Inner,
    /// The address bound (with the port the system chose for port 0).
    pub(crate) uri: WyomingUri,
}

enum Inner {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Opens the socket. A Unix socket is created owner-only; a stale socket
/// file at the path is replaced, anything else there is refused.
pub(crate) async fn bind(cfg: &WyomingConfig) -> Result<Listener, ServerError> {
    let err = |source| ServerError::WyomingBind {
        uri: cfg.uri.to_string(),
        source,
    };
    match &cfg.uri {
        WyomingUri::Tcp(addr) => {
            let l = TcpListener::bind(addr).await.map_err(err)?;
            let uri = WyomingUri::Tcp(l.local_addr().map_err(err)?);
            Ok(Listener {
                inner: Inner::Tcp(l),
                uri,
            })
        }
        WyomingUri::Unix(path) => {
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if !meta.file_type().is_socket() {
                    return Err(err(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "the path exists and is not a socket; choose another path",
                    )));
                }
                std::fs::remove_file(path).map_err(err)?;
            }
            let l = UnixListener::bind(path).map_err(err)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
            Ok(Listener {
                inner: Inner::Unix(l),
                uri: cfg.uri.clone(),
            })
        }
    }
}

/// What the accept loop shares with the HTTP door.
pub(crate) struct Shared {
    pub(crate) conn_limit: Arc<Semaphore>,
    pub(crate) per_peer: Arc<PeerConnections>,
}

/// Accepts connections until `stop` turns true, then waits for the open
/// ones (a connection that is idle closes at once; one that is speaking
/// finishes its request) for at most `shutdown_grace_secs`.
pub(crate) async fn serve(
    listener: Listener,
    state: Arc<AppState>,
    shared: Shared,
    mut stop: watch::Receiver<bool>,
) {
    let Some(wcfg) = state.config.wyoming.clone() else {
        return;
    };
    let wcfg = Arc::new(wcfg);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    loop {
        if *stop.borrow() {
            break;
        }
        let permit = tokio::select! {
            p = Arc::clone(&shared.conn_limit).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => continue,
        };
        let accepted = tokio::select! {
            r = accept(&listener.inner, state.config.socket_send_buffer_bytes) => r,
            _ = stop.changed() => continue,
        };
        let (io, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "wyoming accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let peer_slot = match peer {
            Some(addr) => {
                let ip = addr.ip().to_canonical();
                match shared
                    .per_peer
                    .open(ip, state.config.max_connections_per_peer)
                {
                    Some(slot) => Some(slot),
                    None => {
                        state.metrics.reject("peer_connections");
                        tracing::info!(peer = %addr, door = "wyoming", "connection refused: max_connections_per_peer reached");
                        let mut io = io;
                        let refusal = signet_wyoming::error(
                            "too many open connections from this address \
                             (max_connections_per_peer); close some and retry",
                            "peer_connections",
                        );
                        let _ = tokio::time::timeout(
                            Duration::from_millis(100),
                            io.write_all(&refusal),
                        )
                        .await;
                        continue;
                    }
                }
            }
            None => None,
        };
        let st = Arc::clone(&state);
        let wcfg = Arc::clone(&wcfg);
        let stop = stop.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            st.metrics.connections.fetch_add(1, Ordering::Relaxed);
            let label = peer.map_or_else(|| "unix".to_owned(), |a| a.to_string());
            let max_life = Config::secs(st.config.max_connection_secs);
            let conn = Conn::new(&st, &wcfg, label.clone());
            if tokio::time::timeout(max_life, conn.run(io, stop))
                .await
                .is_err()
            {
                tracing::info!(peer = %label, door = "wyoming", "connection closed: max_connection_secs reached");
            }
            st.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            drop(peer_slot);
            drop(permit);
            drop(alive);
        });
    }
    if let WyomingUri::Unix(path) = &listener.uri {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    drop(alive_tx);
    // Every connection holds a sender: `recv` ends when the last has gone.
    let grace = Config::secs(state.config.shutdown_grace_secs);
    let _ = tokio::time::timeout(grace, alive_rx.recv()).await;
}

/// A connection's stream, TCP or Unix.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn accept(
    l: &Inner,
    send_buffer: usize,
) -> std::io::Result<(Box<dyn Io>, Option<SocketAddr>)> {
    match l {
        Inner::Tcp(l) => {
            let (s, peer) = l.accept().await?;
            let _ = s.set_nodelay(true);
            // Bounds what a client that does not read holds in the kernel.
            let _ = socket2::SockRef::from(&s).set_send_buffer_size(send_buffer);
            Ok((Box::new(s), Some(peer)))
        }
        Inner::Unix(l) => {
            let (s, _) = l.accept().await?;
            Ok((Box::new(s), None))
        }
    }
}

/// Why a connection ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// The client closed it.
    Closed,
    /// No event for `idle_timeout_secs` with nothing to send.
    Idle,
    /// The server is stopping.
    Shutdown,
    /// The client did not take what was sent within `send_timeout_secs`.
    SlowClient,
    /// An error was sent (code given).
    Error(&'static str),
}

/// What one piece of work is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A `synthesize`: its own audio-start and audio-stop.
    Plain,
    /// A piece of a stream: the stream has one audio-start and one audio-stop.
    Stream,
}

/// A job in the pool.
struct Active {
    kind: Kind,
    state: Arc<JobState>,
    started: Option<oneshot::Receiver<Result<Started, JobError>>>,
    audio: mpsc::Receiver<Bytes>,
    queue_until: Instant,
    deadline: Instant,
    past_queue: bool,
}

impl Drop for Active {
    fn drop(&mut self) {
        // The connection went away, or the job is over: a queued job is
        // abandoned, a running one stops at its next sentence.
        self.state.abandon();
        self.state.cancelled.store(true, Ordering::Relaxed);
    }
}

enum Output {
    Started(Result<Started, JobError>),
    Chunk(Bytes),
    Finished { completed: bool },
    QueueTimeout,
    Deadline,
    StillWaiting,
}

async fn next_output(a: &mut Active) -> Output {
    if let Some(rx) = a.started.as_mut() {
        let until = if a.past_queue {
            a.deadline
        } else {
            a.queue_until
        };
        return match tokio::time::timeout_at(until.into(), rx).await {
            Ok(r) => {
                a.started = None;
                Output::Started(r.unwrap_or(Err(JobError::Internal)))
            }
            Err(_) if a.past_queue => Output::Deadline,
            Err(_) => {
                if a.state.abandon() {
                    Output::QueueTimeout
                } else {
                    // A worker took it just now: wait for its start.
                    a.past_queue = true;
                    Output::StillWaiting
                }
            }
        };
    }
    match a.audio.recv().await {
        Some(b) => Output::Chunk(b),
        None => Output::Finished {
            completed: a.state.completed.load(Ordering::Acquire),
        },
    }
}

/// The served voice a request chose, and its speaker and language when it has several.
#[derive(Debug, Clone)]
struct Chosen {
    name: String,
    speaker: Option<signet::Speaker>,
    /// The language of a multilingual voice.
    language: Option<signet::Language>,
}

/// A streaming request in progress.
struct Stream {
    voice: Chosen,
    text: text::StreamText,
    stopped: bool,
}

/// One connection's state.
struct Conn<'a> {
    st: &'a AppState,
    cfg: &'a WyomingConfig,
    caps: Caps,
    peer: String,
    conn_id: String,
    /// `synthesize` requests waiting: voice and text.
    waiting: std::collections::VecDeque<(Chosen, String)>,
    stream: Option<Stream>,
    active: Option<Active>,
    /// Rate of the audio being sent, once `audio-start` went out.
    audio_rate: Option<u32>,
    /// Samples sent since that `audio-start`.
    samples: u64,
    events: u64,
    requests: u64,
    bytes_out: u64,
}

impl<'a> Conn<'a> {
    fn new(st: &'a AppState, cfg: &'a WyomingConfig, peer: String) -> Self {
        Self {
            st,
            cfg,
            caps: cfg.caps(),
            peer,
            conn_id: st.request_id(),
            waiting: std::collections::VecDeque::new(),
            stream: None,
            active: None,
            audio_rate: None,
            samples: 0,
            events: 0,
            requests: 0,
            bytes_out: 0,
        }
    }

    async fn run(mut self, io: Box<dyn Io>, mut stop: watch::Receiver<bool>) {
        let t0 = Instant::now();
        let (mut rd, mut wr) = tokio::io::split(io);
        let end = self.serve(&mut rd, &mut wr, &mut stop).await;
        if let End::Error(code) = end {
            self.st.metrics.reject(code);
        }
        if !matches!(end, End::Closed | End::Idle | End::Shutdown)
            || self.active.is_some()
            || self.stream.is_some()
        {
            self.st.metrics.door("wyoming", "failed");
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
        tracing::info!(
            conn_id = %self.conn_id,
            peer = %self.peer,
            door = "wyoming",
            events = self.events,
            requests = self.requests,
            bytes_out = self.bytes_out,
            end = ?end,
            secs = t0.elapsed().as_secs_f64(),
            "wyoming connection closed"
        );
    }

    async fn serve<R, W>(&mut self, rd: &mut R, wr: &mut W, stop: &mut watch::Receiver<bool>) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let idle_timeout = Config::secs(self.cfg.idle_timeout_secs);
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            // Every whole event read so far.
            loop {
                match signet_wyoming::decode(&buf, &self.caps) {
                    Ok(Some((event, used))) => {
                        buf.drain(..used.min(buf.len()));
                        self.events += 1;
                        if let Err(end) = self.on_event(event, wr).await {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(conn_id = %self.conn_id, peer = %self.peer, code = e.code(), "wyoming event refused");
                        return self.fail(wr, e.code(), &e.to_string()).await;
                    }
                }
            }
            if let Err(end) = self.advance(wr).await {
                return end;
            }
            let idle = self.active.is_none();
            if idle && *stop.borrow() {
                return End::Shutdown;
            }
            tokio::select! {
                r = rd.read(&mut chunk) => match r {
                    Ok(0) | Err(_) => return End::Closed,
                    Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                },
                out = next_output_of(&mut self.active), if !idle => {
                    if let Err(end) = self.on_output(out, wr).await {
                        return end;
                    }
                }
                () = tokio::time::sleep(idle_timeout), if idle => return End::Idle,
                _ = stop.changed(), if idle => {}
            }
        }
    }

    /// Writes bytes, or gives up on a client that does not read.
    async fn send<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, bytes: &[u8]) -> Result<(), End> {
        let timeout = Config::secs(self.st.config.send_timeout_secs);
        match tokio::time::timeout(timeout, wr.write_all(bytes)).await {
            Ok(Ok(())) => {
                self.bytes_out += bytes.len() as u64;
                Ok(())
            }
            Ok(Err(_)) => Err(End::Closed),
            Err(_) => {
                self.st.metrics.reject("slow_client");
                Err(End::SlowClient)
            }
        }
    }

    /// Sends an `error` event; the connection then ends.
    async fn fail<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        code: &'static str,
        message: &str,
    ) -> End {
        match self.send(wr, &signet_wyoming::error(message, code)).await {
            Ok(()) => End::Error(code),
            Err(end) => end,
        }
    }

    async fn on_event<W: AsyncWrite + Unpin>(
        &mut self,
        event: signet_wyoming::Event,
        wr: &mut W,
    ) -> Result<(), End> {
        let request = match Request::parse(&event) {
            Ok(r) => r,
            Err(e) => return Err(self.fail(wr, e.code(), &e.to_string()).await),
        };
        match request {
            Request::Describe => {
                let info = self.info();
                self.send(wr, &info).await
            }
            Request::Ping { text } => {
                let pong = signet_wyoming::pong(text.as_deref());
                self.send(wr, &pong).await
            }
            Request::Synthesize(s) => {
                if self.stream.is_some() {
                    // Home Assistant repeats a stream's text as one
                    // `synthesize` for servers that do not stream: ignored.
                    return Ok(());
                }
                self.check_format(s.text_format.as_deref(), wr).await?;
                let voice = self.voice(&s.voice, wr).await?;
                if self.waiting.len() >= MAX_WAITING_REQUESTS {
                    return Err(self
                        .fail(
                            wr,
                            "connection_queue_full",
                            "too many synthesize requests waiting on this connection; wait \
                             for audio-stop before sending the next",
                        )
                        .await);
                }
                if s.text.trim().is_empty() {
                    return Err(self.fail(wr, "invalid_input", "the text is empty").await);
                }
                self.waiting.push_back((voice, s.text));
                Ok(())
            }
            Request::SynthesizeStart(s) => {
                if self.stream.is_some() {
                    return Err(self
                        .fail(
                            wr,
                            "invalid_sequence",
                            "synthesize-start inside a stream; send synthesize-stop first",
                        )
                        .await);
                }
                self.check_format(s.text_format.as_deref(), wr).await?;
                let voice = self.voice(&s.voice, wr).await?;
                self.stream = Some(Stream {
                    voice,
                    text: text::StreamText::new(
                        self.cfg.max_stream_bytes,
                        self.st.config.limits.max_input_bytes,
                    ),
                    stopped: false,
                });
                Ok(())
            }
            Request::SynthesizeChunk { text } => {
                let pushed =
                    match self.stream.as_mut() {
                        Some(s) if !s.stopped => s.text.push(&text).map_err(|o| o.max),
                        _ => return Err(self
                            .fail(
                                wr,
                                "invalid_sequence",
                                "synthesize-chunk outside a stream; send synthesize-start first",
                            )
                            .await),
                    };
                if let Err(max) = pushed {
                    return Err(self
                        .fail(
                            wr,
                            "limit_exceeded",
                            &format!(
                                "the stream's text is over the server's limit of {max} bytes \
                                 (wyoming.max_stream_bytes); send shorter texts"
                            ),
                        )
                        .await);
                }
                Ok(())
            }
            Request::SynthesizeStop => match self.stream.as_mut() {
                Some(s) if !s.stopped => {
                    s.stopped = true;
                    s.text.finish();
                    Ok(())
                }
                _ => Err(self
                    .fail(
                        wr,
                        "invalid_sequence",
                        "synthesize-stop outside a stream; send synthesize-start first",
                    )
                    .await),
            },
            _ => {
                // The protocol has receivers drop events they do not handle.
                tracing::debug!(conn_id = %self.conn_id, "wyoming event of another kind dropped");
                Ok(())
            }
        }
    }

    async fn check_format<W: AsyncWrite + Unpin>(
        &mut self,
        format: Option<&str>,
        wr: &mut W,
    ) -> Result<(), End> {
        match format {
            None | Some("text") => Ok(()),
            Some(_) => Err(self
                .fail(
                    wr,
                    "unsupported_text_format",
                    "this server takes text_format \"text\" only",
                )
                .await),
        }
    }

    /// The voice a request asks for: by name (or alias), else by language,
    /// else the default voice.
    async fn voice<W: AsyncWrite + Unpin>(
        &mut self,
        choice: &VoiceChoice,
        wr: &mut W,
    ) -> Result<Chosen, End> {
        match resolve_voice(self.st, choice) {
            Ok(v) => Ok(v),
            Err((code, message)) => Err(self.fail(wr, code, &message).await),
        }
    }

    /// Starts the next piece of work when nothing is in the pool, and ends
    /// a stream whose text is all spoken.
    async fn advance<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> Result<(), End> {
        if self.active.is_some() {
            return Ok(());
        }
        if let Some((voice, text)) = self.waiting.pop_front() {
            return self.submit(Kind::Plain, voice, text, wr).await;
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        if let Some(piece) = stream.text.next_piece() {
            let voice = stream.voice.clone();
            return self.submit(Kind::Stream, voice, piece, wr).await;
        }
        if stream.stopped && stream.text.is_empty() {
            self.stream = None;
            if self.audio_rate.is_some() {
                self.stop_audio(wr).await?;
            }
            self.st.metrics.door("wyoming", "completed");
            return self.send(wr, &signet_wyoming::synthesize_stopped()).await;
        }
        Ok(())
    }

    async fn stop_audio<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> Result<(), End> {
        let ms = self.audio_ms();
        self.audio_rate = None;
        self.samples = 0;
        self.send(wr, &signet_wyoming::audio_stop(ms)).await
    }

    fn audio_ms(&self) -> u64 {
        match self.audio_rate {
            Some(r) if r > 0 => self.samples.saturating_mul(1000) / u64::from(r),
            _ => 0,
        }
    }

    /// Hands one piece of text to the pool, through the limiter.
    async fn submit<W: AsyncWrite + Unpin>(
        &mut self,
        kind: Kind,
        voice: Chosen,
        text: String,
        wr: &mut W,
    ) -> Result<(), End> {
        self.requests += 1;
        let slot = match self.st.limiter.admit(KEY_ID, KeyLimits::default()) {
            Ok(s) => s,
            Err(r) => {
                let message = format!(
                    "the Wyoming door's rate limit is reached ({}; the [auth] per-key limits \
                     apply to all Wyoming clients together); retry after {} s",
                    r.reason().replace('_', " "),
                    r.retry_after_secs()
                );
                return Err(self.fail(wr, r.reason(), &message).await);
            }
        };
        let now = Instant::now();
        let state = Arc::new(JobState::default());
        let (started_tx, started_rx) = oneshot::channel();
        let (audio_tx, audio_rx) = mpsc::channel(AUDIO_BUFFER);
        let deadline = now + Config::secs(self.st.config.request_timeout_secs);
        let job = Job {
            request_id: self.st.request_id(),
            key_id: KEY_ID.to_owned(),
            voice: voice.name,
            text,
            // Wyoming's `text_format: "ssml"` is refused before this point.
            ssml: false,
            format: signet_encode::AudioFormat::Pcm,
            delivery: Delivery::Audio,
            speed: 1.0,
            speaker: voice.speaker,
            language: voice.language,
            deadline,
            state: Arc::clone(&state),
            started: started_tx,
            audio: audio_tx,
            slot,
        };
        if let Err(e) = self.st.pool.submit(job) {
            let (code, message) = match e {
                SubmitError::Full => ("queue_full", "the synthesis queue is full; retry shortly"),
                SubmitError::Closed => ("shutting_down", "the server is shutting down"),
            };
            return Err(self.fail(wr, code, message).await);
        }
        self.active = Some(Active {
            kind,
            state,
            started: Some(started_rx),
            audio: audio_rx,
            queue_until: now + Duration::from_millis(self.st.config.queue_timeout_ms),
            deadline,
            past_queue: false,
        });
        Ok(())
    }

    async fn on_output<W: AsyncWrite + Unpin>(
        &mut self,
        out: Output,
        wr: &mut W,
    ) -> Result<(), End> {
        match out {
            Output::StillWaiting => Ok(()),
            Output::QueueTimeout => Err(self
                .fail(
                    wr,
                    "queue_timeout",
                    "no synthesis worker became free in time; retry shortly",
                )
                .await),
            Output::Deadline => Err(self
                .fail(
                    wr,
                    "deadline",
                    "the request did not start within its deadline",
                )
                .await),
            Output::Started(Ok(s)) => {
                if self.audio_rate.is_none() {
                    self.audio_rate = Some(s.sample_rate);
                    self.samples = 0;
                    self.send(wr, &signet_wyoming::audio_start(s.sample_rate, 0))
                        .await?;
                }
                Ok(())
            }
            Output::Started(Err(e)) => {
                let (code, message) = match e {
                    JobError::BadText { reason, message } => (reason, message),
                    JobError::RateLimited {
                        reason, message, ..
                    } => (reason, message),
                    JobError::Internal => (
                        "internal",
                        "synthesis failed; the server log has the details".to_owned(),
                    ),
                };
                Err(self.fail(wr, code, &message).await)
            }
            Output::Chunk(pcm) => {
                let rate = self.audio_rate.unwrap_or(0);
                for piece in pcm.chunks(MAX_CHUNK_BYTES) {
                    let ms = self.audio_ms();
                    self.samples += (piece.len() / 2) as u64;
                    self.send(wr, &signet_wyoming::audio_chunk(rate, ms, piece))
                        .await?;
                }
                Ok(())
            }
            Output::Finished { completed } => {
                let kind = self.active.take().map(|a| a.kind);
                if !completed {
                    return Err(self
                        .fail(
                            wr,
                            "synthesis_stopped",
                            "synthesis stopped before the end (deadline, output limit or a \
                             failure; the server log has the details)",
                        )
                        .await);
                }
                if kind == Some(Kind::Plain) {
                    self.st.metrics.door("wyoming", "completed");
                    self.stop_audio(wr).await?;
                }
                Ok(())
            }
        }
    }

    /// The `info` event: the program and its voices.
    fn info(&self) -> Vec<u8> {
        let attribution = signet_wyoming::Attribution {
            name: "Signet".to_owned(),
            url: env!("CARGO_PKG_REPOSITORY").to_owned(),
        };
        let voices = self
            .st
            .pool
            .voices
            .iter()
            .map(|(name, v)| signet_wyoming::TtsVoice {
                name: name.clone(),
                description: Some(format!(
                    "{name} ({}, {} Hz), verified",
                    v.language, v.sample_rate
                )),
                attribution: attribution.clone(),
                installed: true,
                version: None,
                languages: spoken(v).into_iter().map(str::to_owned).collect(),
                speakers: speakers_of(v),
            })
            .collect();
        signet_wyoming::info(&signet_wyoming::TtsProgram {
            name: "signet".to_owned(),
            description: Some("Signet: text to speech with verified voices only".to_owned()),
            attribution,
            installed: true,
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            voices,
            supports_synthesize_streaming: true,
        })
    }
}

async fn next_output_of(active: &mut Option<Active>) -> Output {
    match active.as_mut() {
        Some(a) => next_output(a).await,
        None => std::future::pending().await,
    }
}

/// Language tags compared loosely: `en-US`, `en_us` and `en_US` are one.
fn same_language(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.replace('-', "_").to_ascii_lowercase();
    norm(a) == norm(b)
}

/// Speakers `info` lists for a voice: `None` for a voice of one speaker; else its speakers'
/// names, or, for a voice whose speakers have no names, their ids (the first
/// [`MAX_LISTED_SPEAKERS`]; any id is accepted).
fn speakers_of(v: &ServedVoice) -> Option<Vec<signet_wyoming::Speaker>> {
    if v.num_speakers <= 1 {
        return None;
    }
    let names: Vec<String> = if v.speakers.is_empty() {
        (0..v.num_speakers.min(MAX_LISTED_SPEAKERS))
            .map(|id| id.to_string())
            .collect()
    } else {
        v.speakers.keys().cloned().collect()
    };
    Some(
        names
            .into_iter()
            .map(|name| signet_wyoming::Speaker { name })
            .collect(),
    )
}

/// The served voice a request asks for, with its speaker, or the error code and message.
fn resolve_voice(st: &AppState, choice: &VoiceChoice) -> Result<Chosen, (&'static str, String)> {
    let name = pick_voice(st, choice).map_err(|(code, m)| (code, m.to_owned()))?;
    let speaker = match choice.speaker.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(asked) => {
            let served = st.pool.voices.get(&name).ok_or((
                "unknown_voice",
                "no such voice on this server; describe lists the voices it serves".to_owned(),
            ))?;
            Some(
                served
                    .speaker(asked)
                    .map_err(|m| ("unknown_speaker", format!("{name}: {m}")))?,
            )
        }
    };
    // A multilingual voice chosen by language speaks that language: the same tag, else the
    // same language of another region. (The protocol's clients send a language only without
    // a name; an event with both gets the language too, where the voice has it.)
    let language = match (
        choice.language.as_deref().filter(|l| !l.is_empty()),
        st.pool.voices.get(&name),
    ) {
        (Some(asked), Some(v)) if !v.languages.is_empty() => {
            let by = |same: &dyn Fn(&str) -> bool| {
                v.languages
                    .keys()
                    .find(|l| same(l))
                    .map(|l| signet::Language::Name(l.clone()))
            };
            by(&|l| same_language(l, asked)).or_else(|| by(&|l| base(l) == base(asked)))
        }
        _ => None,
    };
    Ok(Chosen {
        name,
        speaker,
        language,
    })
}

/// The languages a voice speaks: a multilingual voice's, else its own.
fn spoken(v: &ServedVoice) -> Vec<&str> {
    if v.languages.is_empty() {
        vec![v.language.as_str()]
    } else {
        v.languages.keys().map(String::as_str).collect()
    }
}

/// A language tag's language, without its region (`en` of `en_US`, `pt` of `pt-br`).
fn base(tag: &str) -> String {
    tag.split(['_', '-'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The served voice a request asks for: by name (or alias), else by language, else the
/// default voice.
fn pick_voice(st: &AppState, choice: &VoiceChoice) -> Result<String, (&'static str, &'static str)> {
    if let Some(name) = choice.name.as_deref().filter(|n| !n.is_empty()) {
        let name = st
            .config
            .voice_aliases
            .get(name)
            .map_or(name, String::as_str);
        if signet::store::VoiceName::new(name).is_err() || !st.pool.voices.contains_key(name) {
            return Err((
                "unknown_voice",
                "no such voice on this server; describe lists the voices it serves",
            ));
        }
        return Ok(name.to_owned());
    }
    if let Some(lang) = choice.language.as_deref().filter(|l| !l.is_empty()) {
        let default_matches = st
            .pool
            .voices
            .get(&st.default_voice)
            .is_some_and(|v| spoken(v).iter().any(|l| same_language(l, lang)));
        if default_matches {
            return Ok(st.default_voice.clone());
        }
        // An exact language first, then the same language of another region.
        let found = st
            .pool
            .voices
            .iter()
            .find(|(_, v)| spoken(v).iter().any(|l| same_language(l, lang)))
            .or_else(|| {
                st.pool
                    .voices
                    .iter()
                    .find(|(_, v)| spoken(v).iter().any(|l| base(l) == base(lang)))
            });
        return match found {
            Some((name, _)) => Ok(name.clone()),
            None => Err((
                "unknown_language",
                "no voice of this server speaks that language; describe lists them",
            )),
        };
    }
    Ok(st.default_voice.clone())
}
