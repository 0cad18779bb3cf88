//! Synthesis workers: OS threads, each with its own copy of every served
//! voice, fed by a bounded queue. Synthesis never runs on the async
//! runtime's threads.
//!
//! The queue is fair across keys: each key has its own line, and workers
//! take the first job of each key in turn (round robin), so a key that
//! floods the queue delays another key's request by at most one job per
//! flooding key, not by its whole backlog. A key holds at most
//! `per_key_workers` workers at once (the worker count less one, at least
//! one): with two workers or more, one key never holds them all, and the
//! next request of any other key starts as soon as a worker is free.
//!
//! Before any synthesis a worker phonemizes the whole text and estimates
//! its audio (`SpeechStream::estimate_seconds`): a request whose estimate is
//! over `max_output_seconds` is refused (400), and the estimate is reserved
//! from the key's audio allowance or the request refused (429); after
//! synthesis the reservation is settled against the audio made.
//!
//! A job is claimed by a worker or abandoned by its request (queue wait
//! timeout), never both. A claimed job drives the library's one speak path,
//! a `signet::SpeechStream` with the request's settings, and sends each
//! sentence's audio down a bounded channel; it stops between sentences (by
//! not asking the stream for the next one) when the client has gone, the
//! request's deadline has passed, or the client has not taken a piece of
//! audio for `send_timeout`. Limits are the stream's: the server checks none
//! of its own.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use signet::{Language, SpeakOptions, Speaker, Synthesizer};
use signet_encode::{AudioFormat, Encoder};
use tokio::sync::{mpsc, oneshot};

use crate::limits::Slot;
use crate::metrics::Metrics;
use crate::ServerError;

const QUEUED: u8 = 0;
const CLAIMED: u8 = 1;
const ABANDONED: u8 = 2;

/// How often a worker retries handing audio to a client that is behind.
const SEND_POLL: Duration = Duration::from_millis(5);

/// How the encoded audio is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The bytes themselves, as they are encoded.
    Audio,
    /// Server-sent events: each piece base64 in a `speech.audio.delta`
    /// event, then `speech.audio.done` (OpenAI's `stream_format: "sse"`).
    Sse,
}

/// What a request and its worker share.
#[derive(Debug, Default)]
pub(crate) struct JobState {
    claim: AtomicU8,
    /// Set when the client has gone (response body dropped).
    pub(crate) cancelled: AtomicBool,
    /// Set when every sentence was sent.
    pub(crate) completed: AtomicBool,
}

impl JobState {
    /// Abandons a job still in the queue; false if a worker has it.
    pub(crate) fn abandon(&self) -> bool {
        self.claim
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn claim(&self) -> bool {
        self.claim
            .compare_exchange(QUEUED, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Headers' worth of information, sent once the first segment is phonemized.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) sample_rate: u32,
}

/// Why a job failed before any audio.
#[derive(Debug)]
pub(crate) enum JobError {
    /// The text was refused; the message names the limit and has no text.
    BadText {
        /// Machine-readable reason (`invalid_input`, `limit_exceeded`).
        reason: &'static str,
        /// What to tell the client.
        message: String,
    },
    /// The key's audio allowance has less than the request's estimate.
    RateLimited {
        /// Machine-readable reason (`rate_limit_audio`).
        reason: &'static str,
        /// What to tell the client.
        message: String,
        /// Seconds until the allowance holds the estimate.
        retry_after: u64,
    },
    /// Something on the server failed; details are logged, not sent.
    Internal,
}

/// One request's synthesis.
pub(crate) struct Job {
    pub(crate) request_id: String,
    pub(crate) key_id: String,
    pub(crate) voice: String,
    pub(crate) text: String,
    /// Whether `text` is an SSML document.
    pub(crate) ssml: bool,
    pub(crate) format: AudioFormat,
    pub(crate) delivery: Delivery,
    pub(crate) speed: f32,
    /// The speaker of a multi-speaker voice ([`ServedVoice::speaker`] checked it).
    pub(crate) speaker: Option<Speaker>,
    /// The language of a multilingual voice ([`ServedVoice::language`] checked it).
    pub(crate) language: Option<Language>,
    pub(crate) deadline: Instant,
    pub(crate) state: Arc<JobState>,
    pub(crate) started: oneshot::Sender<Result<Started, JobError>>,
    pub(crate) audio: mpsc::Sender<Bytes>,
    pub(crate) slot: Slot,
}

/// The pool's handle: submit jobs, see which voices it serves.
pub(crate) struct Pool {
    queue: Arc<Queue>,
    workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The voices served, by name.
    pub(crate) voices: BTreeMap<String, ServedVoice>,
    metrics: Arc<Metrics>,
}

pub(crate) enum SubmitError {
    Full,
    Closed,
}

pub(crate) struct PoolSettings {
    pub(crate) workers: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) per_key_workers: usize,
    pub(crate) send_timeout: Duration,
    pub(crate) limits: signet::Limits,
    pub(crate) watermark: signet::Watermark,
    /// Pronunciation lexicons every worker's synthesizers use.
    pub(crate) lexicons: Vec<signet::Lexicon>,
}

impl Pool {
    /// Starts the workers and waits until each has loaded every voice.
    pub(crate) fn start(
        home: &std::path::Path,
        voice_names: &[String],
        settings: PoolSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServerError> {
        let queue = Arc::new(Queue::new(
            settings.queue_capacity,
            settings.per_key_workers,
        ));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let mut handles = Vec::new();
        // The workers share the cores: each synthesis gets its part of them, so that all
        // workers busy at once do not oversubscribe the machine.
        let threads = (signet::default_threads() / settings.workers.max(1)).max(1);
        for n in 0..settings.workers {
            let rx = Arc::clone(&queue);
            let ready = ready_tx.clone();
            let home = home.to_owned();
            let names = voice_names.to_vec();
            let metrics = Arc::clone(&metrics);
            let send_timeout = settings.send_timeout;
            let limits = settings.limits;
            let watermark = settings.watermark.clone();
            let lexicons = settings.lexicons.clone();
            let h = std::thread::Builder::new()
                .name(format!("signet-synth-{n}"))
                .spawn(move || {
                    let mut synths = BTreeMap::new();
                    for name in &names {
                        let mut builder = Synthesizer::builder()
                            .home(&home)
                            .voice(name)
                            .limits(limits)
                            .threads(threads)
                            .watermark(watermark.clone());
                        for lexicon in &lexicons {
                            builder = builder.lexicon(lexicon.clone());
                        }
                        match builder.build() {
                            Ok(s) => {
                                synths.insert(name.clone(), s);
                            }
                            Err(source) => {
                                let _ = ready.send(Err(ServerError::Voice {
                                    name: name.clone(),
                                    source,
                                }));
                                return;
                            }
                        }
                    }
                    let info: BTreeMap<String, ServedVoice> = synths
                        .iter()
                        .map(|(k, s)| (k.clone(), ServedVoice::of(s)))
                        .collect();
                    let _ = ready.send(Ok(info));
                    drop(ready);
                    worker_loop(&rx, &synths, &metrics, send_timeout);
                })
                .map_err(ServerError::Worker)?;
            handles.push(h);
        }
        drop(ready_tx);
        let mut voices = BTreeMap::new();
        let mut first_err = None;
        for _ in 0..settings.workers {
            match ready_rx.recv() {
                Ok(Ok(info)) => voices = info,
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => break,
            }
        }
        let pool = Self {
            queue,
            workers: Mutex::new(handles),
            voices,
            metrics,
        };
        if let Some(e) = first_err {
            pool.shutdown();
            return Err(e);
        }
        Ok(pool)
    }

    /// Queues a job, or says the queue is full.
    pub(crate) fn submit(&self, job: Job) -> Result<(), SubmitError> {
        self.queue.push(job)?;
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Closes the queue and waits for the workers to finish what they have.
    pub(crate) fn shutdown(&self) {
        self.queue.close();
        let handles = match self.workers.lock() {
            Ok(mut h) => std::mem::take(&mut *h),
            Err(_) => Vec::new(),
        };
        for h in handles {
            let _ = h.join();
        }
    }
}

/// The jobs waiting for a worker: one line per key, served in turn.
struct Queue {
    lines: Mutex<Lines>,
    ready: Condvar,
}

struct Lines {
    /// Jobs that may wait (beyond the workers idle at the time).
    capacity: usize,
    /// Workers one key may hold at once.
    per_key: usize,
    /// Workers each key holds now.
    running: HashMap<String, usize>,
    /// Jobs waiting, over all keys.
    len: usize,
    /// Workers waiting for a job.
    idle: usize,
    closed: bool,
    /// Keys with waiting jobs, in the order they are served next.
    turn: VecDeque<String>,
    by_key: HashMap<String, VecDeque<Job>>,
}

impl Queue {
    fn new(capacity: usize, per_key: usize) -> Self {
        Self {
            lines: Mutex::new(Lines {
                capacity,
                per_key: per_key.max(1),
                running: HashMap::new(),
                len: 0,
                idle: 0,
                closed: false,
                turn: VecDeque::new(),
                by_key: HashMap::new(),
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lines> {
        match self.lines.lock() {
            Ok(g) => g,
            // Plain queues: a panic elsewhere cannot leave them inconsistent.
            Err(p) => p.into_inner(),
        }
    }

    /// Adds a job at the end of its key's line.
    fn push(&self, job: Job) -> Result<(), SubmitError> {
        let mut q = self.lock();
        if q.closed {
            return Err(SubmitError::Closed);
        }
        if q.len >= q.capacity.saturating_add(q.idle) {
            return Err(SubmitError::Full);
        }
        let key = job.key_id.clone();
        let line = q.by_key.entry(key.clone()).or_default();
        let new_line = line.is_empty();
        line.push_back(job);
        if new_line {
            q.turn.push_back(key);
        }
        q.len += 1;
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// The first job of the next key (in turn) that holds fewer workers
    /// than it may, with the worker counted against its key until the
    /// returned guard is dropped; waits for one; `None` once closed and
    /// empty.
    fn pop(&self) -> Option<(Job, Running<'_>)> {
        let mut q = self.lock();
        loop {
            let per_key = q.per_key;
            let next = {
                let Lines { turn, running, .. } = &*q;
                turn.iter()
                    .position(|k| running.get(k).copied().unwrap_or(0) < per_key)
            };
            if let Some(key) = next.and_then(|i| q.turn.remove(i)) {
                let (job, more) = match q.by_key.get_mut(&key) {
                    Some(line) => (line.pop_front(), !line.is_empty()),
                    None => (None, false),
                };
                if more {
                    q.turn.push_back(key.clone());
                } else {
                    q.by_key.remove(&key);
                }
                if let Some(job) = job {
                    q.len = q.len.saturating_sub(1);
                    *q.running.entry(key.clone()).or_insert(0) += 1;
                    return Some((job, Running { queue: self, key }));
                }
                continue;
            }
            if q.closed && q.len == 0 {
                return None;
            }
            q.idle += 1;
            q = match self.ready.wait(q) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            q.idle = q.idle.saturating_sub(1);
        }
    }

    /// No more jobs are taken; the workers finish those waiting, then stop.
    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// A worker held by a key; freed (and the waiting workers told) on drop.
struct Running<'a> {
    queue: &'a Queue,
    key: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut q = self.queue.lock();
        if let Some(n) = q.running.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                q.running.remove(&self.key);
            }
        }
        drop(q);
        // A job of this key may have been skipped while it held its share.
        self.queue.ready.notify_all();
    }
}

fn worker_loop(
    queue: &Queue,
    synths: &BTreeMap<String, Synthesizer>,
    metrics: &Metrics,
    send_timeout: Duration,
) {
    while let Some((job, _running)) = queue.pop() {
        metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        if !job.state.claim() {
            continue;
        }
        metrics.busy_workers.fetch_add(1, Ordering::Relaxed);
        run_job(job, synths, metrics, send_timeout);
        metrics.busy_workers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a job ended.
/// A served voice as clients see it: its rate and language, and the speakers and languages a
/// request may choose (a Coqui VCTK or YourTTS voice's; one speaker and its own language for
/// most voices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServedVoice {
    pub(crate) sample_rate: u32,
    /// The voice's language tag.
    pub(crate) language: String,
    pub(crate) num_speakers: u32,
    /// Speaker name → id (may be empty for a multi-speaker voice: ids only).
    pub(crate) speakers: BTreeMap<String, i64>,
    /// Language name → id of a multilingual voice; empty otherwise.
    pub(crate) languages: BTreeMap<String, i64>,
}

impl ServedVoice {
    fn of(synth: &Synthesizer) -> ServedVoice {
        let v = &synth.manifest().voice;
        ServedVoice {
            sample_rate: synth.sample_rate(),
            language: v.language.clone(),
            num_speakers: v.num_speakers,
            speakers: v.speaker_id_map.clone(),
            languages: v.language_id_map.clone(),
        }
    }

    /// The speaker a request asks for, by name or by id; the message says why not.
    pub(crate) fn speaker(&self, asked: &str) -> Result<Speaker, String> {
        if self.num_speakers <= 1 {
            return Err("this voice has one speaker; send no speaker".to_owned());
        }
        if self.speakers.contains_key(asked) {
            return Ok(Speaker::Name(asked.to_owned()));
        }
        match asked.trim().parse::<i64>() {
            Ok(id) if (0..i64::from(self.num_speakers)).contains(&id) => Ok(Speaker::Id(id)),
            _ => Err(format!(
                "this voice has no speaker {asked:?}; it has {} speakers, by id 0 to {}{}",
                self.num_speakers,
                self.num_speakers - 1,
                if self.speakers.is_empty() {
                    ""
                } else {
                    " or by the names the voice list gives"
                }
            )),
        }
    }

    /// The language a request asks for, by name or by id; the message says why not.
    pub(crate) fn language(&self, asked: &str) -> Result<Language, String> {
        if self.languages.is_empty() {
            return Err(
                "this voice speaks one language; send no language (or choose another voice)"
                    .to_owned(),
            );
        }
        if self.languages.contains_key(asked) {
            return Ok(Language::Name(asked.to_owned()));
        }
        match asked.trim().parse::<i64>() {
            Ok(id) if self.languages.values().any(|v| *v == id) => Ok(Language::Id(id)),
            _ => Err(format!(
                "this voice has no language {asked:?}; the voice list gives its languages"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Completed,
    Disconnected,
    Deadline,
    SlowClient,
    Failed,
    OutputLimit,
}

fn run_job(
    job: Job,
    synths: &BTreeMap<String, Synthesizer>,
    metrics: &Metrics,
    send_timeout: Duration,
) {
    let t0 = Instant::now();
    let Job {
        request_id,
        key_id,
        voice,
        text,
        ssml,
        format,
        delivery,
        speed,
        speaker,
        language,
        deadline,
        state,
        started,
        audio,
        mut slot,
    } = job;
    let text_bytes = text.len();
    let Some(synth) = synths.get(&voice) else {
        tracing::error!(request_id = %request_id, "voice vanished from the worker");
        let _ = started.send(Err(JobError::Internal));
        return;
    };
    let text_err = |e: &signet::Error| {
        let err = classify(e);
        if matches!(err, JobError::Internal) {
            // The frontend's messages may quote the helper's answer, which
            // may quote the text: log only the kind of failure.
            tracing::error!(request_id = %request_id, error = error_kind(e), "text frontend failed");
        }
        err
    };
    // The stream runs the first stage of the frontend for the whole text now,
    // and `check_first` phonemizes the first segment, before the response
    // starts: text errors are a 400, not a cut stream. Later segments are
    // phonemized as the audio of the earlier ones leaves.
    let mut options = SpeakOptions::default()
        .with_speed(speed)
        .with_watermark_payload(crate::watermark_tag(&key_id));
    if let Some(speaker) = speaker {
        options = options.with_speaker(speaker);
    }
    if let Some(language) = language {
        options = options.with_language(language);
    }
    // Audio leaves as each decoding window is ready: a long sentence's first
    // bytes do not wait for the whole sentence.
    let opened = if ssml {
        synth.speak_ssml_stream_with(&text, &options)
    } else {
        synth.speak_stream_with(&text, &options)
    };
    let mut stream = match opened {
        Ok(s) => s.by_window(true),
        Err(e) => {
            let _ = started.send(Err(text_err(&e)));
            return;
        }
    };
    if let Err(e) = stream.check_first() {
        let _ = started.send(Err(text_err(&e)));
        return;
    }
    // Weigh the whole request before any synthesis.
    let estimate = match stream.estimate_seconds() {
        Ok(s) => s,
        Err(e) => {
            let _ = started.send(Err(text_err(&e)));
            return;
        }
    };
    let max = synth.limits().max_output_seconds;
    if estimate > max {
        let _ = started.send(Err(JobError::BadText {
            reason: "limit_exceeded",
            message: format!(
                "the request would make about {estimate:.0} seconds of audio, over the server's \
                 limit of {max} (limits.max_output_seconds); split the text into several \
                 requests, or raise the speed"
            ),
        }));
        return;
    }
    if let Err(r) = slot.reserve_audio(estimate) {
        let _ = started.send(Err(JobError::RateLimited {
            reason: r.reason(),
            message: format!(
                "the request would make about {estimate:.0} seconds of audio, more than is left \
                 of the audio allowance of key {key_id:?} (auth.audio_seconds_per_minute); retry \
                 after {} s",
                r.retry_after_secs()
            ),
            retry_after: r.retry_after_secs(),
        }));
        return;
    }
    let rate = stream.sample_rate();
    if started.send(Ok(Started { sample_rate: rate })).is_err() {
        state.cancelled.store(true, Ordering::Relaxed);
        metrics.reject("client_gone");
        return;
    }
    // Polls rather than awaiting so that this thread never needs the async
    // runtime (which may already be gone when the server is killed).
    let send = |bytes: Bytes| -> Result<(), Outcome> {
        let until = Instant::now() + send_timeout;
        let mut bytes = bytes;
        loop {
            match audio.try_send(bytes) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(Outcome::Disconnected),
                Err(mpsc::error::TrySendError::Full(b)) => {
                    if state.cancelled.load(Ordering::Relaxed) {
                        return Err(Outcome::Disconnected);
                    }
                    if Instant::now() >= until {
                        return Err(Outcome::SlowClient);
                    }
                    bytes = b;
                    std::thread::sleep(SEND_POLL);
                }
            }
        }
    };
    let mut outcome = Outcome::Completed;
    let mut audio_secs = 0.0f64;
    let mut out_bytes = 0usize;
    let mut done = 0usize;
    // Every format through signet-encode (WAV: signet-audio's one writer,
    // provenance first, sizes unknown); its header (tags) leaves at once.
    let mut encoder = match Encoder::new(format, rate, stream.provenance()) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::error!(request_id = %request_id, error = %e, "encoding failed");
            outcome = Outcome::Failed;
            None
        }
    };
    if let Some(enc) = encoder.as_mut() {
        let header = enc.take_header();
        if !header.is_empty() {
            let header = wrap(delivery, header);
            out_bytes += header.len();
            if let Err(o) = send(header) {
                outcome = o;
            }
        }
    }
    let synth_start = Instant::now();
    while matches!(outcome, Outcome::Completed) {
        if state.cancelled.load(Ordering::Relaxed) {
            outcome = Outcome::Disconnected;
            break;
        }
        if Instant::now() >= deadline {
            outcome = Outcome::Deadline;
            break;
        }
        let utterance = match stream.next() {
            None => break,
            Some(Ok(u)) => u,
            Some(Err(e)) => {
                outcome = if is_output_limit(&e) {
                    Outcome::OutputLimit
                } else {
                    tracing::warn!(request_id = %request_id, error = error_kind(&e), "synthesis stopped the stream");
                    Outcome::Failed
                };
                break;
            }
        };
        metrics.sentences.fetch_add(1, Ordering::Relaxed);
        done += 1;
        audio_secs += utterance.audio.duration_secs();
        let encoded = match encoder.as_mut() {
            Some(enc) => enc.encode(&utterance.audio),
            None => break,
        };
        let bytes = match encoded {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(request_id = %request_id, error = %e, "encoding failed");
                outcome = Outcome::Failed;
                break;
            }
        };
        // Compressed formats work in frames: a short piece may give none yet.
        if bytes.is_empty() {
            continue;
        }
        let bytes = wrap(delivery, bytes);
        out_bytes += bytes.len();
        if let Err(o) = send(bytes) {
            outcome = o;
            break;
        }
    }
    // The encoder's last frames (and, for SSE, the closing event).
    if matches!(outcome, Outcome::Completed) {
        let last = match encoder.take().map(Encoder::finish) {
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => {
                tracing::error!(request_id = %request_id, error = %e, "encoding failed");
                outcome = Outcome::Failed;
                None
            }
            None => None,
        };
        let mut tail = match last {
            Some(b) if !b.is_empty() => wrap(delivery, b).to_vec(),
            _ => Vec::new(),
        };
        if matches!(outcome, Outcome::Completed) && delivery == Delivery::Sse {
            tail.extend_from_slice(SSE_DONE.as_bytes());
        }
        if !tail.is_empty() {
            out_bytes += tail.len();
            if let Err(o) = send(Bytes::from(tail)) {
                outcome = o;
            }
        }
    }
    let synth_secs = synth_start.elapsed().as_secs_f64();
    metrics.add_synthesis(synth_secs, audio_secs);
    slot.charge_audio(audio_secs);
    match outcome {
        Outcome::Completed => state.completed.store(true, Ordering::Release),
        Outcome::Disconnected => {
            state.cancelled.store(true, Ordering::Relaxed);
            metrics.reject("client_gone");
        }
        Outcome::Deadline => metrics.reject("deadline"),
        Outcome::SlowClient => metrics.reject("slow_client"),
        Outcome::Failed => metrics.reject("synthesis_failed"),
        Outcome::OutputLimit => metrics.reject("output_limit"),
    }
    tracing::info!(
        request_id = %request_id,
        key_id = %key_id,
        voice = %voice,
        text_bytes,
        segments = stream.segments_total(),
        sentences_done = done,
        out_bytes,
        audio_secs,
        estimate_secs = estimate,
        synth_secs,
        total_secs = t0.elapsed().as_secs_f64(),
        outcome = ?outcome,
        "synthesis finished"
    );
}

/// The event that ends an SSE response. Signet counts no tokens: the usage
/// OpenAI's event carries is reported as zeros.
const SSE_DONE: &str = "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0}}\n\n";

/// Encoded bytes as they go to the client: as they are, or as one
/// `speech.audio.delta` event.
fn wrap(delivery: Delivery, bytes: Vec<u8>) -> Bytes {
    match delivery {
        Delivery::Audio => Bytes::from(bytes),
        Delivery::Sse => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            Bytes::from(format!(
                "data: {{\"type\":\"speech.audio.delta\",\"audio\":\"{b64}\"}}\n\n"
            ))
        }
    }
}

/// Whether the stream stopped at the limit on seconds of audio.
fn is_output_limit(e: &signet::Error) -> bool {
    matches!(
        e,
        signet::Error::Text(signet_text::TextError::LimitExceeded {
            limit: "max_output_seconds",
            ..
        })
    )
}

/// A failure's kind, for logs that must not carry text.
fn error_kind(e: &signet::Error) -> &'static str {
    use signet_text::TextError as T;
    match e {
        signet::Error::Text(T::HelperNotFound { .. }) => "espeak helper not found",
        signet::Error::Text(T::LibraryNotFound { .. }) => "espeak library not found",
        signet::Error::Text(T::DataNotFound { .. }) => "espeak data not found",
        signet::Error::Text(_) => "text frontend or espeak helper failure",
        signet::Error::Acoustic(_) => "model failure",
        signet::Error::Audio(_) => "audio failure",
        _ => "other failure",
    }
}

fn classify(e: &signet::Error) -> JobError {
    use signet_text::TextError as T;
    match e {
        signet::Error::Text(T::LimitExceeded {
            limit, value, max, ..
        }) => JobError::BadText {
            reason: "limit_exceeded",
            message: limit_message(limit, *value, *max),
        },
        signet::Error::Text(T::SsmlLimitExceeded { limit, max, .. }) => JobError::BadText {
            reason: "limit_exceeded",
            message: format!(
                "the SSML document is over the server's limit of {max} (limits.{limit}); simplify the document"
            ),
        },
        signet::Error::Text(
            t @ (T::InputTooLarge { .. }
            | T::NothingToSpeak { .. }
            | T::InvalidUtf8 { .. }
            | T::SsmlMalformed { .. }
            | T::SsmlRefused { .. }
            | T::SsmlLanguageMismatch { .. }),
        ) => {
            JobError::BadText {
                reason: "invalid_input",
                message: t.to_string(),
            }
        }
        signet::Error::NothingToSpeak => JobError::BadText {
            reason: "invalid_input",
            message: e.to_string(),
        },
        _ => JobError::Internal,
    }
}

/// A breached limit, in the server's words: the `[limits]` key that sets it
/// (the library's message names CLI flags a client cannot use).
fn limit_message(limit: &str, value: u64, max: u64) -> String {
    let unit = match limit {
        "max_input_bytes" => "bytes",
        "max_chars" => "characters",
        "max_phonemes_per_sentence" | "max_phonemes_per_request" => "phonemes",
        "max_output_seconds" => "seconds of audio",
        _ => "",
    };
    let (max, value) = (
        signet_text::limit_value_text(limit, max),
        signet_text::limit_value_text(limit, value),
    );
    format!(
        "the request is over the server's limit of {max} {unit} (limits.{limit}; this request \
         needs {value}); split the text into several requests"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(key: &str, limiter: &Arc<crate::limits::Limiter>) -> Job {
        let (started, _) = oneshot::channel();
        let (audio, _) = mpsc::channel(1);
        Job {
            request_id: String::new(),
            key_id: key.to_owned(),
            voice: String::new(),
            text: String::new(),
            ssml: false,
            format: AudioFormat::Pcm,
            delivery: Delivery::Audio,
            speed: 1.0,
            speaker: None,
            language: None,
            deadline: Instant::now(),
            state: Arc::default(),
            started,
            audio,
            slot: limiter
                .admit(key, crate::auth::KeyLimits::default())
                .unwrap(),
        }
    }

    #[test]
    fn keys_are_served_in_turn_and_never_hold_every_worker() {
        let limiter = Arc::new(crate::limits::Limiter::new(100, 1000, 100));
        // Three workers: a key may hold two.
        let q = Queue::new(100, 2);
        for _ in 0..5 {
            q.push(job("flood", &limiter))
                .unwrap_or_else(|_| unreachable!());
        }
        q.push(job("small", &limiter))
            .unwrap_or_else(|_| unreachable!());
        let (a, ra) = q.pop().unwrap();
        assert_eq!(a.key_id, "flood");
        // The small key's one job comes next, not after the whole flood.
        let (b, rb) = q.pop().unwrap();
        assert_eq!(b.key_id, "small");
        let (c, rc) = q.pop().unwrap();
        assert_eq!(c.key_id, "flood");
        // The flooding key holds two workers: the third waits until one is free.
        let waiter = std::thread::scope(|scope| {
            let w = scope.spawn(|| q.pop().map(|(j, _)| j.key_id));
            std::thread::sleep(Duration::from_millis(100));
            assert!(!w.is_finished(), "a key took a third worker");
            drop(ra);
            w.join().unwrap()
        });
        assert_eq!(waiter.as_deref(), Some("flood"));
        drop((rb, rc));
        // Full: beyond the capacity (no worker idle), refused.
        let small = Queue::new(1, 1);
        small
            .push(job("k", &limiter))
            .unwrap_or_else(|_| unreachable!());
        assert!(matches!(
            small.push(job("k", &limiter)),
            Err(SubmitError::Full)
        ));
        small.close();
        assert!(
            small.pop().is_some(),
            "waiting jobs are still served after close"
        );
        assert!(small.pop().is_none());
        assert!(matches!(
            small.push(job("k", &limiter)),
            Err(SubmitError::Closed)
        ));
    }

    #[test]
    fn limit_errors_name_the_server_setting() {
        let e = signet::Error::Text(signet_text::TextError::LimitExceeded {
            limit: "max_input_bytes",
            value: 200,
            max: 100,
            hint: "",
        });
        let JobError::BadText { reason, message } = classify(&e) else {
            unreachable!("a limit is the client's error");
        };
        assert_eq!(reason, "limit_exceeded");
        assert!(message.contains("limits.max_input_bytes"), "{message}");
        assert!(message.contains("100 bytes"), "{message}");
        assert!(is_output_limit(&signet::Error::Text(
            signet_text::TextError::LimitExceeded {
                limit: "max_output_seconds",
                value: 2,
                max: 1,
                hint: "",
            }
        )));
    }
}
