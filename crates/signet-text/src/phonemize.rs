//! Client of the out-of-process espeak-ng helper (`signet-espeak`).
//!
//! espeak-ng is GPL-3.0 C code with a history of memory-safety bugs, so it never runs in
//! this process. [`EspeakPhonemizer`] starts the helper with an argument vector and an
//! empty environment, talks the length-prefixed [protocol](crate::protocol) over its
//! stdin and stdout, and treats every byte it reads as untrusted: lengths are capped,
//! UTF-8, clause counts, offsets and terminators are checked. Each call has a deadline;
//! when the helper dies, hangs or answers garbage it is killed, the call fails with a
//! clear error within the deadline, and the next call starts a fresh helper.
//!
//! Before it starts a helper, [`EspeakConfig::check`] refuses a helper executable, an
//! espeak-ng library or data folder that another user could replace (see
//! [`crate::trusted`]). A helper's first frame is its [`Hello`]: which layers of its
//! sandbox are on. With [`HelperSandbox::Required`] (the default) a helper that reports
//! no seccomp filter, no `no_new_privs` or a dumpable process is killed before it sees
//! any text.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::TextError;
use crate::protocol::{
    read_frame, write_frame, FrameError, Hello, ProtocolError, Request, Response, ResponseBody,
    SandboxReport, MAX_RESPONSE_BYTES, MAX_TEXT_BYTES,
};
pub use crate::protocol::{Clause, Terminator};

/// Environment variable naming the helper executable.
pub const HELPER_ENV: &str = "SIGNET_ESPEAK_HELPER";
/// File name of the helper executable.
pub const HELPER_NAME: &str = "signet-espeak";
/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of the helper's stderr is kept (the end of it).
const STDERR_TAIL_BYTES: usize = 2048;

/// Anything that turns text into espeak clauses. [`EspeakPhonemizer`] is the real one;
/// tests may supply their own.
pub trait Phonemize {
    /// Phonemizes `text` (at most [`MAX_TEXT_BYTES`] bytes) with the espeak voice `voice`.
    ///
    /// # Errors
    /// Whatever keeps the phonemizer from answering.
    fn phonemize(&mut self, voice: &str, text: &str) -> Result<Vec<Clause>, TextError>;
}

/// Resource limits the helper applies to itself before it loads espeak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HelperLimits {
    /// CPU seconds one request may use (`RLIMIT_CPU` soft limit, moved forward per request).
    pub cpu_seconds_per_request: u64,
    /// CPU seconds over the helper's life (`RLIMIT_CPU` hard limit); it retires before reaching it.
    pub cpu_seconds_total: u64,
    /// Address space in bytes (`RLIMIT_AS`).
    pub address_space_bytes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
}

impl Default for HelperLimits {
    fn default() -> Self {
        Self {
            cpu_seconds_per_request: 10,
            cpu_seconds_total: 600,
            address_space_bytes: 128 * 1024 * 1024,
            open_files: 16,
        }
    }
}

/// Whether the helper must run sandboxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HelperSandbox {
    /// The helper applies every sandbox layer the kernel offers and must report at least
    /// `no_new_privs`, a cleared dumpable flag and its seccomp filter; a helper that does
    /// not is killed before it receives any text.
    #[default]
    Required,
    /// The helper runs with resource limits only (`--sandbox off`). For measuring the
    /// sandbox's cost, or a kernel without seccomp; never a default.
    Off,
}

impl HelperSandbox {
    fn as_arg(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Off => "off",
        }
    }
}

/// Where the helper and espeak's files are, and how long a call may take.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EspeakConfig {
    /// The `signet-espeak` executable.
    pub helper: PathBuf,
    /// espeak-ng's library (piper-tts's `espeakbridge.so`).
    pub library: PathBuf,
    /// espeak-ng's data folder (`espeak-ng-data`).
    pub data_dir: PathBuf,
    /// Deadline of one call.
    pub timeout: Duration,
    /// Limits the helper applies to itself.
    pub limits: HelperLimits,
    /// Whether the helper must sandbox itself.
    pub sandbox: HelperSandbox,
    /// SHA-256 (lowercase hex) the library must have; the helper hashes the file it
    /// opened and loads that same open file only if the digest matches. Defaults to
    /// [`ESPEAK_LIBRARY_SHA256`].
    pub library_sha256: String,
}

/// SHA-256 of the espeak-ng library Signet loads: `piper/espeakbridge.so` from the
/// x86-64 Linux wheel of piper-tts 1.8.0, the build Piper voices were trained with
/// (`cargo xtask setup` extracts it and checks it against this pin).
pub const ESPEAK_LIBRARY_SHA256: &str =
    "7ec4a80efda263303c257e77749c18f1d544b5ea3f5102c06b2c4fe2a6323fe6";

impl EspeakConfig {
    /// A configuration from explicit paths, with the default timeout and limits.
    #[must_use]
    pub fn new(
        helper: impl Into<PathBuf>,
        library: impl Into<PathBuf>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            helper: helper.into(),
            library: library.into(),
            data_dir: data_dir.into(),
            timeout: DEFAULT_TIMEOUT,
            limits: HelperLimits::default(),
            sandbox: HelperSandbox::default(),
            library_sha256: ESPEAK_LIBRARY_SHA256.to_owned(),
        }
    }

    /// A configuration whose library and data come from one folder holding
    /// `espeakbridge.so` and `espeak-ng-data/` (the layout setup provisions).
    #[must_use]
    pub fn from_espeak_dir(helper: impl Into<PathBuf>, espeak_dir: &Path) -> Self {
        Self::new(
            helper,
            espeak_dir.join("espeakbridge.so"),
            espeak_dir.join("espeak-ng-data"),
        )
    }

    /// The default configuration for an espeak-ng folder the caller names (the facade
    /// passes its store's `espeak-ng/`; this crate does not know where Signet keeps its
    /// files): the helper from `$SIGNET_ESPEAK_HELPER`, else `signet-espeak` next to the
    /// current executable (or one folder up, for test binaries in `deps/`); the library
    /// and data from `espeak_dir` (see [`from_espeak_dir`](Self::from_espeak_dir)).
    #[must_use]
    pub fn from_env(espeak_dir: &Path) -> Self {
        Self::from_espeak_dir(default_helper_path(), espeak_dir)
    }

    /// Sets the per-call timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the helper's resource limits.
    #[must_use]
    pub fn with_limits(mut self, limits: HelperLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets whether the helper must sandbox itself.
    #[must_use]
    pub fn with_sandbox(mut self, sandbox: HelperSandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// Pins another espeak-ng build (its SHA-256, lowercase hex) in place of
    /// [`ESPEAK_LIBRARY_SHA256`], for a platform whose wheel carries a different library.
    /// There is no way to load a library unchecked.
    #[must_use]
    pub fn with_library_sha256(mut self, sha256: impl Into<String>) -> Self {
        self.library_sha256 = sha256.into();
        self
    }

    /// Checks that the helper, library and data exist, and that no other user can
    /// replace them ([`crate::trusted::check_trusted`]).
    ///
    /// # Errors
    /// [`TextError::HelperNotFound`], [`TextError::LibraryNotFound`] or
    /// [`TextError::DataNotFound`], naming the path; [`TextError::UntrustedFile`] naming
    /// the path, what is wrong and the command that fixes it.
    pub fn check(&self) -> Result<(), TextError> {
        if !self.helper.is_file() {
            return Err(TextError::HelperNotFound {
                path: self.helper.clone(),
            });
        }
        if !self.library.is_file() {
            return Err(TextError::LibraryNotFound {
                path: self.library.clone(),
            });
        }
        if !self.data_dir.is_dir() {
            return Err(TextError::DataNotFound {
                path: self.data_dir.clone(),
            });
        }
        crate::trusted::check_trusted(&self.helper, "espeak helper")?;
        crate::trusted::check_trusted(&self.library, "espeak-ng library")?;
        crate::trusted::check_trusted(&self.data_dir, "espeak-ng data folder")?;
        Ok(())
    }
}

fn default_helper_path() -> PathBuf {
    if let Some(path) = std::env::var_os(HELPER_ENV) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().ok();
    let dir = exe.as_deref().and_then(Path::parent);
    let beside = dir.map(|d| d.join(HELPER_NAME));
    if let Some(found) = beside.as_ref().filter(|p| p.is_file()) {
        return found.clone();
    }
    // Test and bench binaries live in `target/<profile>/deps/`.
    if let Some(up) = dir
        .filter(|d| d.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .map(|d| d.join(HELPER_NAME))
        .filter(|p| p.is_file())
    {
        return up;
    }
    beside.unwrap_or_else(|| PathBuf::from(HELPER_NAME))
}

/// The end of the helper's stderr, bounded.
#[derive(Default)]
struct StderrTail {
    bytes: Vec<u8>,
    truncated: bool,
}

impl StderrTail {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > STDERR_TAIL_BYTES {
            let cut = self.bytes.len() - STDERR_TAIL_BYTES;
            self.bytes.drain(..cut);
            self.truncated = true;
        }
    }

    fn render(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let mut out = String::new();
        if self.truncated {
            out.push('…');
        }
        for c in text.trim_end().chars() {
            if c.is_control() && c != '\n' {
                out.extend(c.escape_default());
            } else if c == '\n' {
                out.push_str(" | ");
            } else {
                out.push(c);
            }
        }
        if out.is_empty() {
            out.push_str("(empty)");
        }
        out
    }
}

/// A running helper and the threads that move its frames.
/// Starts `command`, retrying briefly while the executable is "text file
/// busy" (ETXTBSY).
///
/// In a multi-threaded process, another thread's `fork` can briefly inherit a
/// descriptor open for writing on the helper file (for instance one that was
/// just installed or written); `exec` then fails with ETXTBSY until that child
/// has exec'd in turn, which takes microseconds to milliseconds.
fn spawn_retrying_busy(command: &mut Command) -> std::io::Result<Child> {
    const ETXTBSY: i32 = 26;
    const ATTEMPTS: u32 = 20;
    let mut attempt = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && attempt < ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
            }
            other => return other,
        }
    }
}

struct HelperProcess {
    child: Child,
    requests: SyncSender<Vec<u8>>,
    responses: Receiver<Result<Option<Vec<u8>>, FrameError>>,
    stderr: Arc<Mutex<StderrTail>>,
    stderr_done: Receiver<()>,
    /// What the helper's hello reported.
    sandbox: SandboxReport,
}

impl HelperProcess {
    fn spawn(config: &EspeakConfig) -> Result<Self, TextError> {
        let limits = &config.limits;
        let mut command = Command::new(&config.helper);
        command
            .arg("--library")
            .arg(&config.library)
            .arg("--data")
            .arg(&config.data_dir)
            .arg("--cpu-seconds-per-request")
            .arg(limits.cpu_seconds_per_request.to_string())
            .arg("--cpu-seconds-total")
            .arg(limits.cpu_seconds_total.to_string())
            .arg("--address-space-bytes")
            .arg(limits.address_space_bytes.to_string())
            .arg("--open-files")
            .arg(limits.open_files.to_string())
            .arg("--sandbox")
            .arg(config.sandbox.as_arg())
            .arg("--library-sha256")
            .arg(&config.library_sha256)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child =
            spawn_retrying_busy(&mut command).map_err(|source| TextError::HelperSpawn {
                path: config.helper.clone(),
                source,
            })?;
        let spawn_err = |what: &str| TextError::HelperSpawn {
            path: config.helper.clone(),
            source: std::io::Error::other(format!("no {what} pipe")),
        };
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_err("stdio"));
        };

        let (req_tx, req_rx) = mpsc::sync_channel::<Vec<u8>>(1);
        let (resp_tx, resp_rx) = mpsc::sync_channel(1);
        let tail = Arc::new(Mutex::new(StderrTail::default()));
        let (done_tx, done_rx) = mpsc::sync_channel(1);

        let started = spawn_thread("signet-espeak-writer", move || writer_loop(stdin, &req_rx))
            .and_then(|()| {
                spawn_thread("signet-espeak-reader", move || {
                    reader_loop(stdout, &resp_tx)
                })
            })
            .and_then(|()| {
                let tail = Arc::clone(&tail);
                spawn_thread("signet-espeak-stderr", move || {
                    stderr_loop(stderr, &tail);
                    let _ = done_tx.send(());
                })
            });
        if let Err(source) = started {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TextError::HelperSpawn {
                path: config.helper.clone(),
                source,
            });
        }
        Ok(Self {
            child,
            requests: req_tx,
            responses: resp_rx,
            stderr: tail,
            stderr_done: done_rx,
            sandbox: SandboxReport::none(),
        })
    }

    /// Checks the files ([`EspeakConfig::check`]), starts a helper and reads its hello
    /// before `deadline`; with [`HelperSandbox::Required`], refuses one that runs without
    /// its sandbox.
    fn start(config: &EspeakConfig, deadline: Instant) -> Result<Self, TextError> {
        // Again at every start: a restart must not run a file swapped in meanwhile.
        config.check()?;
        let mut process = Self::spawn(config)?;
        let frame = match process.receive(deadline) {
            Ok(frame) => frame,
            Err(failure) => return Err(process.fail(failure, config.timeout)),
        };
        let hello = match Hello::decode(&frame) {
            Ok(h) => h,
            Err(source) => {
                process.kill();
                return Err(TextError::HelperProtocol { source });
            }
        };
        if config.sandbox == HelperSandbox::Required && !hello.sandbox.is_required_set() {
            process.kill();
            return Err(TextError::HelperUnsandboxed {
                path: config.helper.clone(),
                report: hello.sandbox.to_string(),
            });
        }
        process.sandbox = hello.sandbox;
        Ok(process)
    }

    /// The next frame, before `deadline`.
    fn receive(&self, deadline: Instant) -> Result<Vec<u8>, Failure> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.responses.recv_timeout(wait) {
            Ok(Ok(Some(frame))) => Ok(frame),
            Ok(Ok(None) | Err(FrameError::Io(_))) | Err(RecvTimeoutError::Disconnected) => {
                Err(Failure::Died)
            }
            Ok(Err(FrameError::Protocol(source))) => Err(Failure::Protocol(source)),
            Err(RecvTimeoutError::Timeout) => Err(Failure::Timeout),
        }
    }

    /// Ends the helper after a failed [`receive`](Self::receive) and says why.
    fn fail(self, failure: Failure, timeout: Duration) -> TextError {
        match failure {
            Failure::Died => self.died(),
            Failure::Protocol(source) => {
                self.kill();
                TextError::HelperProtocol { source }
            }
            Failure::Timeout => {
                self.kill();
                TextError::HelperTimeout { timeout }
            }
        }
    }

    /// Stops the helper for good and reaps it.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The helper stopped talking: give it a moment to exit, then report how it ended.
    fn died(mut self) -> TextError {
        let deadline = Instant::now() + Duration::from_millis(200);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => {
                    let _ = self.child.kill();
                    break self
                        .child
                        .wait()
                        .map_or_else(|e| format!("unknown: {e}"), |s| format!("{s}, killed"));
                }
            }
        };
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(200));
        let stderr = self
            .stderr
            .lock()
            .map_or_else(|_| "(unavailable)".to_owned(), |t| t.render());
        TextError::HelperDied { status, stderr }
    }
}

/// Why no frame came.
enum Failure {
    /// The helper closed its output or exited.
    Died,
    /// The bytes are not a frame.
    Protocol(ProtocolError),
    /// Nothing before the deadline.
    Timeout,
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map(|_detached| ())
}

fn writer_loop(mut stdin: ChildStdin, requests: &Receiver<Vec<u8>>) {
    while let Ok(payload) = requests.recv() {
        if write_frame(&mut stdin, &payload).is_err() {
            return;
        }
    }
}

fn reader_loop(
    mut stdout: ChildStdout,
    responses: &SyncSender<Result<Option<Vec<u8>>, FrameError>>,
) {
    loop {
        let frame = read_frame(&mut stdout, MAX_RESPONSE_BYTES);
        let stop = !matches!(frame, Ok(Some(_)));
        if responses.send(frame).is_err() || stop {
            return;
        }
    }
}

fn stderr_loop(mut stderr: impl Read, tail: &Mutex<StderrTail>) {
    let mut buf = [0_u8; 1024];
    loop {
        match stderr.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let (Ok(mut t), Some(chunk)) = (tail.lock(), buf.get(..n)) {
                    t.push(chunk);
                }
            }
        }
    }
}

/// Phonemizer backed by the `signet-espeak` helper process.
///
/// The helper starts on the first call and is reused; after any failure it is killed and
/// the next call starts a fresh one. Calls take `&mut self`: share one phonemizer between
/// threads behind a `Mutex`, or give each thread its own.
pub struct EspeakPhonemizer {
    config: EspeakConfig,
    process: Option<HelperProcess>,
}

impl std::fmt::Debug for EspeakPhonemizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspeakPhonemizer")
            .field("config", &self.config)
            .field("running", &self.process.is_some())
            .finish()
    }
}

impl EspeakPhonemizer {
    /// A phonemizer with the given configuration, after checking that its files exist.
    /// The helper itself starts on the first call.
    ///
    /// # Errors
    /// As [`EspeakConfig::check`].
    pub fn new(config: EspeakConfig) -> Result<Self, TextError> {
        config.check()?;
        Ok(Self {
            config,
            process: None,
        })
    }

    /// A phonemizer with [`EspeakConfig::from_env`] for the espeak-ng folder `espeak_dir`.
    ///
    /// # Errors
    /// As [`EspeakConfig::from_env`] and [`EspeakConfig::check`].
    pub fn from_env(espeak_dir: &Path) -> Result<Self, TextError> {
        Self::new(EspeakConfig::from_env(espeak_dir))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &EspeakConfig {
        &self.config
    }

    /// The process id of the running helper, if one is running.
    #[must_use]
    pub fn helper_pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    /// Which sandbox layers the helper runs with, as its hello reported them; starts a
    /// helper when none is running (within the configured timeout).
    ///
    /// # Errors
    /// As the start of a helper in [`phonemize`](Self::phonemize), including
    /// [`TextError::HelperUnsandboxed`].
    pub fn sandbox(&mut self) -> Result<SandboxReport, TextError> {
        self.reap_idle();
        if let Some(p) = &self.process {
            return Ok(p.sandbox);
        }
        let deadline = Instant::now() + self.config.timeout;
        let process = HelperProcess::start(&self.config, deadline)?;
        let report = process.sandbox;
        self.process = Some(process);
        Ok(report)
    }

    /// A helper that exited while idle lost no request: reap it, so that the next call
    /// starts afresh.
    fn reap_idle(&mut self) {
        if let Some(p) = self.process.as_mut() {
            if matches!(p.child.try_wait(), Ok(Some(_))) {
                if let Some(old) = self.process.take() {
                    old.kill();
                }
            }
        }
    }

    /// Phonemizes `text` with the espeak voice `voice` (e.g. `en-us`).
    ///
    /// # Errors
    /// [`TextError::InvalidVoice`] for a voice name the protocol refuses,
    /// [`TextError::InputTooLarge`] for a text over 64 KiB,
    /// [`TextError::HelperRefused`] when the helper refuses the request (unknown voice),
    /// [`TextError::HelperTimeout`], [`TextError::HelperDied`], [`TextError::HelperProtocol`]
    /// or [`TextError::HelperInconsistent`] when the helper fails (it is then restarted on
    /// the next call), [`TextError::HelperSpawn`] when it cannot start,
    /// [`TextError::HelperUnsandboxed`] when it runs without its required sandbox.
    pub fn phonemize(&mut self, voice: &str, text: &str) -> Result<Vec<Clause>, TextError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(TextError::InputTooLarge {
                bytes: text.len(),
                limit: MAX_TEXT_BYTES,
            });
        }
        let payload = Request { voice, text }
            .encode()
            .map_err(|source| match source {
                ProtocolError::NulInText => TextError::HelperRefused {
                    code: crate::protocol::ErrorCode::MalformedRequest,
                    message: "text holds a NUL character".to_owned(),
                },
                source => TextError::InvalidVoice {
                    voice: voice.chars().take(80).collect(),
                    source,
                },
            })?;
        let deadline = Instant::now() + self.config.timeout;
        self.reap_idle();
        let process = match self.process.take() {
            Some(p) => p,
            None => HelperProcess::start(&self.config, deadline)?,
        };
        if process.requests.send(payload).is_err() {
            return Err(process.died());
        }
        let frame = match process.receive(deadline) {
            Ok(frame) => frame,
            Err(failure) => return Err(process.fail(failure, self.config.timeout)),
        };
        let response = match Response::decode(&frame) {
            Ok(r) => r,
            Err(source) => {
                process.kill();
                return Err(TextError::HelperProtocol { source });
            }
        };
        let result = match response.body {
            ResponseBody::Clauses(clauses) => match check_clauses(&clauses, text) {
                Ok(()) => Ok(clauses),
                Err(reason) => {
                    process.kill();
                    return Err(TextError::HelperInconsistent { reason });
                }
            },
            ResponseBody::Error { code, message } => Err(TextError::HelperRefused {
                code,
                message: message.chars().filter(|c| !c.is_control()).collect(),
            }),
        };
        if response.retiring {
            // It exits after this frame; reap it now, start a fresh one next time.
            drop(process.died());
        } else {
            self.process = Some(process);
        }
        result
    }
}

impl Phonemize for EspeakPhonemizer {
    fn phonemize(&mut self, voice: &str, text: &str) -> Result<Vec<Clause>, TextError> {
        EspeakPhonemizer::phonemize(self, voice, text)
    }
}

impl Drop for EspeakPhonemizer {
    fn drop(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }
}

/// Checks a helper's clauses against the request: at least one clause, no more clauses
/// than text bytes plus one, offsets within the text, on character boundaries, in order.
fn check_clauses(clauses: &[Clause], text: &str) -> Result<(), String> {
    if clauses.is_empty() {
        return Err("no clauses".to_owned());
    }
    if clauses.len() > text.len() + 1 {
        return Err(format!(
            "{} clauses for a text of {} bytes",
            clauses.len(),
            text.len()
        ));
    }
    let mut previous = 0;
    for clause in clauses {
        let end = clause.text_end;
        if end > text.len() || end < previous {
            return Err(format!(
                "clause offset {end} out of order or beyond the text ({} bytes)",
                text.len()
            ));
        }
        if !text.is_char_boundary(end) {
            return Err(format!("clause offset {end} is inside a character"));
        }
        previous = end;
    }
    match clauses.last() {
        Some(last) if last.text_end == text.len() => Ok(()),
        _ => Err("the last clause does not end at the end of the text".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clause_checks_reject_inconsistent_answers() {
        let ok = [
            Clause::new("a", None, false, 2),
            Clause::new("b", None, true, 4),
        ];
        assert!(check_clauses(&ok, "abcd").is_ok());
        assert!(check_clauses(&[], "abcd").is_err());
        let backwards = [
            Clause::new("a", None, false, 3),
            Clause::new("b", None, true, 2),
        ];
        assert!(check_clauses(&backwards, "abc").is_err());
        let beyond = [Clause::new("a", None, true, 9)];
        assert!(check_clauses(&beyond, "abc").is_err());
        let inside = [
            Clause::new("a", None, false, 1),
            Clause::new("b", None, true, 2),
        ];
        assert!(check_clauses(&inside, "é").is_err());
        let short = [Clause::new("a", None, true, 1)];
        assert!(check_clauses(&short, "abc").is_err());
        let many = vec![Clause::new("a", None, false, 0); 5];
        assert!(check_clauses(&many, "abc").is_err());
    }

    #[test]
    fn missing_files_are_named_with_the_fix() {
        let cfg = EspeakConfig::new(
            "/nonexistent/signet-espeak",
            "/nonexistent/espeakbridge.so",
            "/nonexistent/data",
        );
        let err = EspeakPhonemizer::new(cfg).map(|_| ()).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("/nonexistent/signet-espeak"), "{msg}");
        assert!(msg.contains("cargo xtask setup"), "{msg}");
    }

    #[test]
    fn phonemizer_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<EspeakPhonemizer>();
    }

    #[test]
    fn stderr_tail_is_bounded_and_escaped() {
        let mut tail = StderrTail::default();
        for _ in 0..1000 {
            tail.push(b"0123456789\x1b[31m\n");
        }
        let text = tail.render();
        assert!(text.len() <= 4 * STDERR_TAIL_BYTES);
        assert!(!text.contains('\u{1b}'));
        assert!(text.starts_with('…'));
    }
}
