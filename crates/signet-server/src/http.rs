//! HTTP endpoints: the OpenAI- and Coqui-compatible speech APIs (and, in
//! `marytts.rs`, MaryTTS's), voices,
//! health, readiness and metrics.
//!
//! Every request first passes [`front`]: the client's address (the TCP
//! peer, or behind a trusted proxy the forwarded one), the URI cap (414),
//! and a log line with the address, method, path (never the query, which
//! may hold text) and status.
//!
//! Every speech request then goes through the same steps, each with its own
//! refusal: the address's failed-auth limit (429, before any key is looked
//! at), credentials (401), the key's limits (429 with `Retry-After`), the
//! body cap and read timeout (413, 408), the request's fields (400, 415 for
//! a body that is not JSON on the OpenAI endpoint, or 404 for a voice not
//! served), the queue (503), the worker's estimate of the audio (400 over
//! `max_output_seconds`, 429 over the key's audio allowance), and only then
//! synthesis, whose audio streams sentence by sentence. Every refusal is
//! the JSON error shape `{"error": {"message", "type", "code"}}` (those
//! hyper makes itself, for a malformed request, are rewritten to it in
//! `conn.rs`). Logs carry the request id, key id, client address, sizes and
//! timings, never the text or the audio.
//!
//! `/healthz` and `/readyz` stay open to anyone: a load balancer or
//! orchestrator probes them without credentials, and they tell nothing but
//! "up" and "ready". `/metrics` follows the `metrics` setting.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use crate::auth::Caller;
use crate::config::{MaryTtsAccess, MetricsAccess};
use signet_encode::{AudioFormat, EncodeError};

use crate::pool::{Delivery, Job, JobError, JobState, SubmitError};
use crate::AppState;

/// Pieces of audio (sentences) buffered between a worker and the client.
const AUDIO_BUFFER: usize = 2;

/// Longest request URI, in bytes; longer: 414.
pub(crate) const MAX_URI_BYTES: usize = 8 * 1024;

/// The TCP peer of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// The client's address: the peer, or behind a trusted proxy the forwarded one.
#[derive(Debug, Clone, Copy)]
struct Client(IpAddr);

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route(
            "/v1/audio/speech",
            post(openai_speech).fallback(method_not_allowed),
        )
        .route("/api/tts", any(coqui_tts))
        .route("/v1/voices", get(voices).fallback(method_not_allowed))
        .route("/healthz", get(healthz).fallback(method_not_allowed))
        .route("/readyz", get(readyz).fallback(method_not_allowed))
        .route("/metrics", get(metrics).fallback(method_not_allowed));
    // MaryTTS's API only when the operator turned it on.
    let router = match state.config.marytts {
        MaryTtsAccess::Anonymous => crate::marytts::routes(router),
        MaryTtsAccess::Off => router,
    };
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            front,
        ))
        .with_state(state)
}

/// Who is calling: the TCP peer, unless the peer is a trusted proxy, in
/// which case the right-most address of `X-Forwarded-For` that is not itself
/// a trusted proxy (the left part of the header is whatever the client
/// wrote, so only what our proxies appended is believed).
pub(crate) fn client_addr(trusted: &[IpAddr], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else {
            return client;
        };
        for part in value.rsplit(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    let ip = ip.to_canonical();
                    if !trusted.contains(&ip) {
                        return ip;
                    }
                    client = ip;
                }
                Err(_) => return client,
            }
        }
    }
    client
}

/// Runs before every endpoint: finds the client, caps the URI, logs.
async fn front(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<Peer>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |p| p.0.ip().to_canonical());
    let client = client_addr(&st.config.trusted_proxies, peer, req.headers());
    req.extensions_mut().insert(Client(client));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = if req.uri().to_string().len() > MAX_URI_BYTES {
        let refused = Refused::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the request URI is longer than {MAX_URI_BYTES} bytes; send the text in a POST \
                 body"
            ),
        );
        st.metrics.reject(refused.reason);
        refused.into_response(&st.request_id())
    } else {
        next.run(req).await
    };
    let status = response.status().as_u16();
    // Probes come every few seconds: only in debug logs.
    let path: &str = if path.len() > 64 {
        "(long path)"
    } else {
        &path
    };
    if matches!(path, "/healthz" | "/readyz") {
        tracing::debug!(peer = %client, %method, path, status, "request");
    } else {
        tracing::info!(peer = %client, %method, path, status, "request");
    }
    response
}

pub(crate) fn client_of(req_extensions: &axum::http::Extensions) -> IpAddr {
    req_extensions
        .get::<Client>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0)
}

async fn method_not_allowed(State(st): State<Arc<AppState>>) -> Response {
    let refused = Refused::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method: speech is POST /v1/audio/speech or GET|POST \
         /api/tts; the others are GET",
    );
    st.metrics.reject(refused.reason);
    refused.into_response(&st.request_id())
}

/// A refusal: status, machine-readable reason, human message.
pub(crate) struct Refused {
    status: StatusCode,
    pub(crate) reason: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl Refused {
    pub(crate) fn new(
        status: StatusCode,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    fn retry(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The refusal as MaryTTS clients expect it: the message as plain
    /// text (same status and headers as the JSON shape).
    pub(crate) fn into_plain_response(self, request_id: &str) -> Response {
        let mut r = (self.status, format!("{}\n", self.message)).into_response();
        let h = r.headers_mut();
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-request-id", v);
        }
        r
    }

    pub(crate) fn into_response(self, request_id: &str) -> Response {
        let body = serde_json::json!({
            "error": { "message": self.message, "type": self.reason, "code": self.status.as_u16() }
        });
        let mut r = (self.status, axum::Json(body)).into_response();
        let h = r.headers_mut();
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-request-id", v);
        }
        r
    }
}

/// A speech request after parsing, whichever API it came from.
pub(crate) struct SpeechRequest {
    pub(crate) text: String,
    pub(crate) voice: String,
    pub(crate) format: AudioFormat,
    pub(crate) delivery: Delivery,
    pub(crate) speed: f32,
    /// Whether `text` is an SSML document.
    pub(crate) ssml: bool,
    /// A speaker of a multi-speaker voice, by name or id, as the client sent it.
    pub(crate) speaker: Option<String>,
    /// A language of a multilingual voice, by name or id, as the client sent it.
    pub(crate) language: Option<String>,
}

/// The front door a speech request came through: its metrics and log
/// label, who may call it, and how it says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Door {
    /// `POST /v1/audio/speech`.
    OpenAi,
    /// `GET|POST /api/tts`.
    Coqui,
    /// MaryTTS's `GET|POST /process` (only when `marytts = "anonymous"`):
    /// a request without credentials is anonymous whatever `auth.mode`
    /// says, and refusals are plain text, as MaryTTS answers.
    MaryTts,
}

impl Door {
    /// The `endpoint` label of metrics and logs.
    fn label(self) -> &'static str {
        match self {
            Door::OpenAi => "speech",
            Door::Coqui => "tts",
            Door::MaryTts => "marytts",
        }
    }
}

/// `POST /v1/audio/speech` body, as OpenAI documents it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenAiBody {
    #[allow(dead_code)]
    model: Option<String>,
    input: String,
    voice: Option<OpenAiVoice>,
    /// `mp3` (the default), `opus`, `aac` (refused), `flac`, `wav`, `pcm`.
    response_format: Option<String>,
    speed: Option<f32>,
    /// Signet's extension: `"text"` (the default) or `"ssml"`.
    input_type: Option<String>,
    /// Accepted and ignored: Signet's voices take no style prompt.
    #[allow(dead_code)]
    instructions: Option<String>,
    /// `audio` (the default) or `sse`.
    stream_format: Option<String>,
}

/// A voice as OpenAI's API names one: a name, or a custom voice object.
#[derive(Deserialize)]
#[serde(untagged)]
enum OpenAiVoice {
    Name(String),
    Custom { id: String },
}

/// `/api/tts` parameters (query string, or form body on POST).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CoquiParams {
    text: Option<String>,
    voice: Option<String>,
    speaker_id: Option<String>,
    style_wav: Option<String>,
    language_id: Option<String>,
    /// `true` when `text` is an SSML document.
    ssml: Option<String>,
}

/// Whether a `Content-Type` is `application/json` (parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

async fn openai_speech(State(st): State<Arc<AppState>>, req: Request) -> Response {
    speech(st, req, Door::OpenAi, |headers, body| {
        // A browser sends a cross-site form or `text/plain` POST without
        // asking; `application/json` it must ask for first (CORS), and this
        // server never says yes. So no web page can make a visitor's browser
        // speak through a server that needs no key.
        if !is_json(headers) {
            return Err(Refused::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "POST /v1/audio/speech takes a JSON body: send `Content-Type: application/json`",
            ));
        }
        let b: OpenAiBody = serde_json::from_slice(&body).map_err(|e| {
            Refused::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!(
                    "invalid JSON body ({e}); expected {{\"input\", \"voice\", \"model\", \
                     \"response_format\": \"mp3\"|\"opus\"|\"flac\"|\"wav\"|\"pcm\", \"speed\", \
                     \"instructions\", \"stream_format\": \"audio\"|\"sse\", \
                     \"input_type\": \"text\"|\"ssml\"}}"
                ),
            )
        })?;
        // OpenAI's default when the field is absent is MP3.
        let format = match b.response_format.as_deref() {
            None => AudioFormat::Mp3,
            Some(name) => AudioFormat::parse(name).map_err(|e| {
                let message = match e {
                    EncodeError::Unsupported { .. } if name.eq_ignore_ascii_case("aac") => {
                        format!(
                            "response_format \"aac\" is not supported: Signet has no AAC encoder \
                             with a licence and maintenance record it can ship; choose one of: {}",
                            signet_encode::FORMAT_NAMES
                        )
                    }
                    e => format!("response_format: {e}"),
                };
                Refused::new(StatusCode::BAD_REQUEST, "unsupported_format", message)
            })?,
        };
        let delivery =
            match b.stream_format.as_deref() {
                None | Some("audio") => Delivery::Audio,
                Some("sse") => Delivery::Sse,
                Some(_) => return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    "unsupported_stream_format",
                    "stream_format must be \"audio\" (the default: the audio bytes as they are \
                     encoded) or \"sse\" (speech.audio.delta events)",
                )),
            };
        let voice = match b.voice {
            None => String::new(),
            Some(OpenAiVoice::Name(n) | OpenAiVoice::Custom { id: n }) => n,
        };
        let ssml = match b.input_type.as_deref() {
            None | Some("text") => false,
            Some("ssml") => true,
            Some(_) => {
                return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "input_type must be \"text\" or \"ssml\"",
                ))
            }
        };
        Ok(SpeechRequest {
            text: b.input,
            voice,
            format,
            delivery,
            speed: b.speed.unwrap_or(1.0),
            ssml,
            speaker: None,
            language: None,
        })
    })
    .await
}

async fn coqui_tts(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_owned();
    if method != Method::GET && method != Method::POST {
        return method_not_allowed(State(st)).await;
    }
    speech(st, req, Door::Coqui, move |headers, body| {
        let bad = |m: String| Refused::new(StatusCode::BAD_REQUEST, "invalid_parameters", m);
        let mut p: CoquiParams = serde_urlencoded::from_str(&query)
            .map_err(|e| bad(format!("invalid query string: {e}")))?;
        if method == Method::POST && !body.is_empty() {
            let form = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
                v.as_bytes()
                    .starts_with(b"application/x-www-form-urlencoded")
            });
            if !form {
                return Err(bad(
                    "POST /api/tts takes a form body (application/x-www-form-urlencoded)".into(),
                ));
            }
            let f: CoquiParams = serde_urlencoded::from_bytes(&body)
                .map_err(|e| bad(format!("invalid form body: {e}")))?;
            p = CoquiParams {
                text: f.text.or(p.text),
                voice: f.voice.or(p.voice),
                speaker_id: f.speaker_id.or(p.speaker_id),
                style_wav: f.style_wav.or(p.style_wav),
                language_id: f.language_id.or(p.language_id),
                ssml: f.ssml.or(p.ssml),
            };
        }
        if p.style_wav.as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(bad(
                "style_wav is not supported: the server never reads files named by a request"
                    .into(),
            ));
        }
        let ssml = match p.ssml.as_deref() {
            None | Some("" | "false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => return Err(bad("ssml must be true or false".into())),
        };
        Ok(SpeechRequest {
            text: p
                .text
                .ok_or_else(|| bad("the `text` parameter is required".into()))?,
            voice: p.voice.unwrap_or_default(),
            format: AudioFormat::Wav,
            delivery: Delivery::Audio,
            speed: 1.0,
            ssml,
            // As Coqui's server takes them: a name from the voice's list (or an id here);
            // empty is none.
            speaker: p.speaker_id.filter(|s| !s.is_empty()),
            language: p.language_id.filter(|s| !s.is_empty()),
        })
    })
    .await
}

/// Who is calling. An address that has used up its refused credentials is
/// refused before its key is hashed or compared; each 401 counts.
fn authorize(st: &AppState, headers: &HeaderMap, client: IpAddr) -> Result<Caller, Refused> {
    if let Err(wait) = st.auth_failures.check(client) {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        return Err(Refused::new(
            StatusCode::TOO_MANY_REQUESTS,
            "auth_failures",
            format!(
                "too many requests with missing or invalid API keys from this address \
                 (auth.failed_auth_per_minute); retry after {secs} s"
            ),
        )
        .retry(secs));
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    st.keys.check(auth).ok_or_else(|| {
        st.auth_failures.failed(client);
        Refused::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            if auth.is_some() {
                "invalid API key"
            } else {
                "missing API key: send `Authorization: Bearer <key>`"
            },
        )
    })
}

pub(crate) async fn speech<F>(st: Arc<AppState>, req: Request, door: Door, parse: F) -> Response
where
    F: FnOnce(&HeaderMap, Bytes) -> Result<SpeechRequest, Refused>,
{
    let t0 = Instant::now();
    let rid = st.request_id();
    let endpoint = door.label();
    let (parts, body) = req.into_parts();
    let client = client_of(&parts.extensions);
    let mut key_id = String::from("-");
    let mut bytes_in = 0usize;
    let result =
        async {
            let caller = match door {
                // MaryTTS clients send no key: the door is anonymous.
                Door::MaryTts if !parts.headers.contains_key(header::AUTHORIZATION) => {
                    Caller::Anonymous
                }
                _ => authorize(&st, &parts.headers, client)?,
            };
            key_id = caller.id().to_owned();
            let slot = st
                .limiter
                .admit(caller.id(), caller.limits())
                .map_err(|r| {
                    Refused::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        r.reason(),
                        format!(
                            "rate limit for key {:?} reached ({}); retry after {} s",
                            caller.id(),
                            r.reason().replace('_', " "),
                            r.retry_after_secs()
                        ),
                    )
                    .retry(r.retry_after_secs())
                })?;
            let body = read_body(&st, &parts.headers, body).await?;
            bytes_in = body.len();
            let sr = parse(&parts.headers, body)?;
            let (voice, speaker, language) = check_request(&st, &sr)?;
            let state = Arc::new(JobState::default());
            let (started_tx, started_rx) = oneshot::channel();
            let (audio_tx, audio_rx) = mpsc::channel(AUDIO_BUFFER);
            let deadline = t0 + Duration::from_secs(st.config.request_timeout_secs);
            let job = Job {
                request_id: rid.clone(),
                key_id: key_id.clone(),
                voice,
                text: sr.text,
                ssml: sr.ssml,
                format: sr.format,
                delivery: sr.delivery,
                speed: sr.speed,
                speaker,
                language,
                deadline,
                state: Arc::clone(&state),
                started: started_tx,
                audio: audio_tx,
                slot,
            };
            st.pool.submit(job).map_err(|e| match e {
                SubmitError::Full => Refused::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "queue_full",
                    "the synthesis queue is full; retry shortly",
                )
                .retry(1),
                SubmitError::Closed => Refused::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the server is shutting down",
                ),
            })?;
            let abandon = AbandonOnDrop(Some(Arc::clone(&state)));
            let queue_timeout = Duration::from_millis(st.config.queue_timeout_ms);
            let mut started_rx = started_rx;
            let started = match tokio::time::timeout(queue_timeout, &mut started_rx).await {
                Ok(r) => r,
                Err(_) => {
                    if state.abandon() {
                        return Err(Refused::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "queue_timeout",
                            "no synthesis worker became free in time; retry shortly",
                        )
                        .retry(1));
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, &mut started_rx).await {
                        Ok(r) => r,
                        Err(_) => {
                            return Err(Refused::new(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "deadline",
                                "the request did not start within its deadline",
                            ))
                        }
                    }
                }
            };
            let started =
                match started {
                    Ok(Ok(s)) => s,
                    Ok(Err(JobError::BadText { reason, message })) => {
                        return Err(Refused::new(StatusCode::BAD_REQUEST, reason, message))
                    }
                    Ok(Err(JobError::RateLimited {
                        reason,
                        message,
                        retry_after,
                    })) => {
                        return Err(Refused::new(StatusCode::TOO_MANY_REQUESTS, reason, message)
                            .retry(retry_after))
                    }
                    Ok(Err(JobError::Internal)) | Err(_) => return Err(Refused::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "synthesis failed; the server log has the details under this request id",
                    )),
                };
            abandon.disarm();
            let content_type = match sr.delivery {
                Delivery::Audio => sr.format.content_type(),
                Delivery::Sse => "text/event-stream",
            };
            let stream = AudioStream {
                rx: audio_rx,
                state,
                ended: false,
            };
            let mut r = Response::new(Body::from_stream(stream));
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert("x-sample-rate", HeaderValue::from(started.sample_rate));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok::<Response, Refused>(r)
        }
        .await;
    let response = match result {
        Ok(mut r) => {
            if let Ok(v) = HeaderValue::from_str(&rid) {
                r.headers_mut().insert("x-request-id", v);
            }
            r
        }
        Err(refused) => {
            st.metrics.reject(refused.reason);
            match door {
                Door::MaryTts => refused.into_plain_response(&rid),
                Door::OpenAi | Door::Coqui => refused.into_response(&rid),
            }
        }
    };
    let status = response.status().as_u16();
    st.metrics.response(endpoint, status);
    tracing::info!(
        request_id = %rid,
        key_id = %key_id,
        peer = %client,
        endpoint,
        status,
        bytes_in,
        ms = t0.elapsed().as_secs_f64() * 1000.0,
        "response started"
    );
    response
}

/// Abandons a queued job when the request is dropped before it started
/// (client gone while waiting).
struct AbandonOnDrop(Option<Arc<JobState>>);

impl AbandonOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(s) = &self.0 {
            s.abandon();
            s.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

pub(crate) async fn read_body(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Refused> {
    let cap = st.config.max_body_bytes;
    let too_big = || {
        Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "request body is larger than the server's limit of {cap} bytes (max_body_bytes)"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_big());
    }
    let limited = http_body_util::Limited::new(body, cap);
    let timeout = Duration::from_secs(st.config.body_read_timeout_secs);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(Refused::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_big()),
        Ok(Err(_)) => Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "body_error",
            "the request body could not be read",
        )),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// Checks the fields; returns the voice to use, and the speaker and language
/// the request chose of it.
///
/// The text's limits are not checked here but by the speech stream, the one
/// place every caller's limits are checked (a breach is a 400 all the same).
fn check_request(
    st: &AppState,
    sr: &SpeechRequest,
) -> Result<(String, Option<signet::Speaker>, Option<signet::Language>), Refused> {
    if sr.text.trim().is_empty() {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "input is empty",
        ));
    }
    if let Err(e) = signet::SpeakOptions::default().with_speed(sr.speed).check() {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "invalid_speed",
            e.to_string(),
        ));
    }
    let voice = if sr.voice.is_empty() {
        st.default_voice.clone()
    } else {
        // Another name the operator gave a voice (OpenAI's `alloy`...).
        st.config
            .voice_aliases
            .get(&sr.voice)
            .unwrap_or(&sr.voice)
            .clone()
    };
    if signet::store::VoiceName::new(&voice).is_err() {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "invalid_voice",
            "voice must be a registry name (letters, digits, `_`, `-`, `.`), never a path",
        ));
    }
    let Some(served) = st.pool.voices.get(&voice) else {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "unknown_voice",
            "no such voice on this server; GET /v1/voices lists the voices it serves",
        ));
    };
    let speaker = match sr.speaker.as_deref() {
        None => None,
        Some(asked) => Some(served.speaker(asked).map_err(|m| {
            Refused::new(
                StatusCode::BAD_REQUEST,
                "unknown_speaker",
                format!("{voice}: {m}"),
            )
        })?),
    };
    let language = match sr.language.as_deref() {
        None => None,
        Some(asked) => Some(served.language(asked).map_err(|m| {
            Refused::new(
                StatusCode::BAD_REQUEST,
                "unknown_language",
                format!("{voice}: {m}"),
            )
        })?),
    };
    Ok((voice, speaker, language))
}

/// The response body: audio from the worker, a sentence at a time. Dropping it (the client
/// went away) tells the worker to stop.
struct AudioStream {
    rx: mpsc::Receiver<Bytes>,
    state: Arc<JobState>,
    ended: bool,
}

impl Stream for AudioStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(None) => {
                self.ended = true;
                if self.state.completed.load(Ordering::Acquire) {
                    Poll::Ready(None)
                } else {
                    // Cut the response short so the client sees an error
                    // rather than audio that silently stops.
                    Poll::Ready(Some(Err(std::io::Error::other("synthesis stopped"))))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for AudioStream {
    fn drop(&mut self) {
        self.state.cancelled.store(true, Ordering::Relaxed);
    }
}

async fn voices(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let rid = st.request_id();
    let r = match authorize(&st, req.headers(), client_of(req.extensions())) {
        Err(refused) => {
            st.metrics.reject(refused.reason);
            refused.into_response(&rid)
        }
        Ok(_) => {
            let list: Vec<_> = st
                .pool
                .voices
                .iter()
                .map(|(name, v)| {
                    let mut entry = serde_json::Map::new();
                    entry.insert("name".into(), name.clone().into());
                    entry.insert("language".into(), v.language.clone().into());
                    entry.insert("sample_rate".into(), v.sample_rate.into());
                    // What a multi-speaker or multilingual voice lets `/api/tts` choose
                    // (`speaker_id`, `language_id`).
                    if v.num_speakers > 1 {
                        entry.insert("num_speakers".into(), v.num_speakers.into());
                        let names: Vec<serde_json::Value> =
                            v.speakers.keys().map(|k| k.clone().into()).collect();
                        entry.insert("speakers".into(), names.into());
                    }
                    if !v.languages.is_empty() {
                        let names: Vec<serde_json::Value> =
                            v.languages.keys().map(|k| k.clone().into()).collect();
                        entry.insert("languages".into(), names.into());
                    }
                    serde_json::Value::Object(entry)
                })
                .collect();
            axum::Json(serde_json::json!({
                "voices": list,
                "default": st.default_voice,
                "aliases": st.config.voice_aliases,
            }))
            .into_response()
        }
    };
    st.metrics.response("voices", r.status().as_u16());
    r
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    if st.shutting_down.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn metrics(State(st): State<Arc<AppState>>, req: Request) -> Response {
    match st.config.metrics {
        MetricsAccess::Off => return not_found().await,
        MetricsAccess::Open => {}
        MetricsAccess::Key => {
            let refused = match authorize(&st, req.headers(), client_of(req.extensions())) {
                Ok(Caller::Key(..)) => None,
                // Anonymous mode lets anyone speak, not read the metrics.
                Ok(Caller::Anonymous) => Some(Refused::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "/metrics needs an API key (metrics = \"key\"): send `Authorization: \
                     Bearer <key>`",
                )),
                Err(r) => Some(r),
            };
            if let Some(r) = refused {
                st.metrics.reject(r.reason);
                return r.into_response(&st.request_id());
            }
        }
    }
    let body = st
        .metrics
        .render(st.config.worker_count(), st.config.queue_len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "error": { "message": "no such endpoint", "type": "not_found", "code": 404 }
        })),
    )
        .into_response()
}
