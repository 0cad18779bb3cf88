//! signet-wyoming: the events of the Wyoming protocol (the one Home Assistant
//! speaks to its voice services), read strictly under byte caps and written
//! exactly as the `wyoming` Python package writes them. No I/O and no
//! libtorch: the server (signet-server's `wyoming` module) moves the bytes,
//! this crate only says what they mean, so it can be fuzzed on its own.
//!
//! An event on the wire is three parts:
//!
//! 1. a header: one line of JSON ending in `\n`, an object with `type` (the
//!    event's name), and optionally `data` (an object), `data_length` and
//!    `payload_length` (byte counts of the two parts that follow), and
//!    `version` (the sender's protocol version);
//! 2. `data_length` bytes of JSON, an object whose keys are merged over the
//!    header's `data` (this is where the Python package puts an event's data);
//! 3. `payload_length` bytes of binary payload (audio).
//!
//! [`decode`] reads one event from the front of a buffer. Every length is
//! checked against [`Caps`] before anything is allocated for it: a header
//! line is looked for only within the first `max_header_bytes + 1` bytes, and
//! a declared data or payload length over its cap is an error before any of
//! its bytes are read, so a reader never holds more than [`Caps::max_event_bytes`]
//! for one event. The header is strict (`deny_unknown_fields`, one JSON
//! object, a `type` of at most [`MAX_TYPE_BYTES`] printable ASCII); the data
//! keys this crate reads are typed, and keys it does not know are ignored, as
//! the protocol adds keys over time. An event of a type the receiver does not
//! know is [`Request::Other`]: the protocol has receivers drop those.
//!
//! No error message quotes the bytes it refused (they may hold the text to
//! speak, and servers log these messages).
//!
//! ```
//! use signet_wyoming::{decode, encode, Caps, Request};
//!
//! # fn main() -> Result<(), signet_wyoming::WyomingError> {
//! let mut data = serde_json::Map::new();
//! data.insert("text".into(), "Hello.".into());
//! let wire = encode("synthesize", &data, &[]);
//! let (event, used) = decode(&wire, &Caps::default())?.expect("one whole event");
//! assert_eq!(used, wire.len());
//! let Request::Synthesize(s) = Request::parse(&event)? else { unreachable!() };
//! assert_eq!(s.text, "Hello.");
//! # Ok(())
//! # }
//! ```
//!
//! **Architecture invariant:** nothing in this crate allocates in proportion
//! to a length it has read before checking that length against [`Caps`].
#![forbid(unsafe_code)]

use serde::Serialize;
use serde_json::{Map, Value};

/// The protocol version this crate writes in each header (that of the
/// `wyoming` package it was checked against).
pub const PROTOCOL_VERSION: &str = "1.10.2";

/// Longest event type, in bytes.
pub const MAX_TYPE_BYTES: usize = 64;

/// Sample width of the audio Signet sends: 16-bit.
pub const SAMPLE_WIDTH: u32 = 2;

/// Channels of the audio Signet sends: mono.
pub const CHANNELS: u32 = 1;

/// Byte caps for one event, checked before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Longest header line, without its `\n`.
    pub max_header_bytes: usize,
    /// Largest `data_length`.
    pub max_data_bytes: usize,
    /// Largest `payload_length`.
    pub max_payload_bytes: usize,
}

impl Default for Caps {
    /// 16 KiB of header, 64 KiB of data, 64 KiB of payload: room for a
    /// request's text several times over (JSON may escape each byte to six),
    /// and a server of speech takes no audio in.
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_data_bytes: 64 * 1024,
            max_payload_bytes: 64 * 1024,
        }
    }
}

impl Caps {
    /// The most bytes one event can take on the wire under these caps.
    #[must_use]
    pub fn max_event_bytes(&self) -> usize {
        self.max_header_bytes
            .saturating_add(1)
            .saturating_add(self.max_data_bytes)
            .saturating_add(self.max_payload_bytes)
    }
}

/// Why bytes are not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WyomingError {
    /// No `\n` within the header cap.
    #[error(
        "the event header has no line end within {max} bytes; a Wyoming header is one line of \
         JSON (put large data in the data part, announced by `data_length`)"
    )]
    HeaderTooLong {
        /// The cap, in bytes.
        max: usize,
    },
    /// The header line is not the JSON object the protocol defines.
    #[error(
        "the event header is not valid: {reason}; expected one line of JSON with `type` and \
         optionally `data`, `data_length`, `payload_length`, `version`"
    )]
    InvalidHeader {
        /// What is wrong (never the header's bytes).
        reason: String,
    },
    /// The header announces more data than the cap allows.
    #[error("the event announces {declared} bytes of data, over the limit of {max} bytes")]
    DataTooLong {
        /// `data_length` as sent.
        declared: u64,
        /// The cap.
        max: usize,
    },
    /// The header announces a larger payload than the cap allows.
    #[error("the event announces a payload of {declared} bytes, over the limit of {max} bytes")]
    PayloadTooLong {
        /// `payload_length` as sent.
        declared: u64,
        /// The cap.
        max: usize,
    },
    /// The data part is not a JSON object.
    #[error("the event's data part is not valid: {reason}; it must be one JSON object")]
    InvalidData {
        /// What is wrong (never the data's bytes).
        reason: String,
    },
    /// A field this crate reads has the wrong type.
    #[error("field `{field}` of a `{event}` event must be {expected}")]
    WrongField {
        /// The event type.
        event: &'static str,
        /// The field.
        field: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
}

impl WyomingError {
    /// A short machine-readable name for the error, for `error` events'
    /// `code` and for metrics.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            WyomingError::HeaderTooLong { .. } => "header_too_long",
            WyomingError::InvalidHeader { .. } => "invalid_header",
            WyomingError::DataTooLong { .. } => "data_too_long",
            WyomingError::PayloadTooLong { .. } => "payload_too_long",
            WyomingError::InvalidData { .. } => "invalid_data",
            WyomingError::WrongField { .. } => "invalid_field",
        }
    }
}

/// Describes a JSON error without quoting the input (serde_json's own
/// messages may quote a string value).
fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "not JSON",
        Category::Data => "a field is unknown, repeated or of the wrong type",
        Category::Eof => "the JSON ends early",
    };
    format!("{what} (column {})", e.column())
}

/// One event: its type, its data (header `data` and data part merged) and
/// its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's type, e.g. `synthesize`.
    pub kind: String,
    /// The event's data.
    pub data: Map<String, Value>,
    /// The payload (empty when there is none).
    pub payload: Vec<u8>,
}

/// The header line, strictly.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    data_length: Option<u64>,
    #[serde(default)]
    payload_length: Option<u64>,
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<String>,
}

/// Reads one event from the front of `buf`: `Ok(Some((event, bytes used)))`,
/// `Ok(None)` when `buf` holds only the start of an event (read more and call
/// again; the event will take at most [`Caps::max_event_bytes`]), or the
/// error that makes the stream unusable (the reader cannot find the next
/// event after a refused one, so the connection should end).
pub fn decode(buf: &[u8], caps: &Caps) -> Result<Option<(Event, usize)>, WyomingError> {
    let window = buf
        .get(..buf.len().min(caps.max_header_bytes.saturating_add(1)))
        .unwrap_or(buf);
    let Some(line_end) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() > caps.max_header_bytes {
            return Err(WyomingError::HeaderTooLong {
                max: caps.max_header_bytes,
            });
        }
        return Ok(None);
    };
    let line = buf.get(..line_end).unwrap_or_default();
    let header: Header = serde_json::from_slice(line).map_err(|e| WyomingError::InvalidHeader {
        reason: json_reason(&e),
    })?;
    check_type(&header.kind)?;
    let data_len = header.data_length.unwrap_or(0);
    if data_len > caps.max_data_bytes as u64 {
        return Err(WyomingError::DataTooLong {
            declared: data_len,
            max: caps.max_data_bytes,
        });
    }
    let payload_len = header.payload_length.unwrap_or(0);
    if payload_len > caps.max_payload_bytes as u64 {
        return Err(WyomingError::PayloadTooLong {
            declared: payload_len,
            max: caps.max_payload_bytes,
        });
    }
    // Both below their caps, which are `usize`: no overflow.
    let (data_len, payload_len) = (data_len as usize, payload_len as usize);
    let data_start = line_end + 1;
    let payload_start = data_start.saturating_add(data_len);
    let end = payload_start.saturating_add(payload_len);
    if buf.len() < end {
        return Ok(None);
    }
    let mut data = header.data.unwrap_or_default();
    if data_len > 0 {
        let part = buf.get(data_start..payload_start).unwrap_or_default();
        let more: Map<String, Value> =
            serde_json::from_slice(part).map_err(|e| WyomingError::InvalidData {
                reason: json_reason(&e),
            })?;
        data.extend(more);
    }
    let payload = buf.get(payload_start..end).unwrap_or_default().to_vec();
    Ok(Some((
        Event {
            kind: header.kind,
            data,
            payload,
        },
        end,
    )))
}

fn check_type(kind: &str) -> Result<(), WyomingError> {
    if kind.is_empty() || kind.len() > MAX_TYPE_BYTES {
        return Err(WyomingError::InvalidHeader {
            reason: format!("`type` must be 1 to {MAX_TYPE_BYTES} bytes"),
        });
    }
    if !kind.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(WyomingError::InvalidHeader {
            reason: "`type` must be printable ASCII without spaces".to_owned(),
        });
    }
    Ok(())
}

/// Writes one event as the `wyoming` package does: the header line (with
/// `version`, and `data_length`/`payload_length` where there is data or a
/// payload), the data as JSON, the payload.
#[must_use]
pub fn encode(kind: &str, data: &Map<String, Value>, payload: &[u8]) -> Vec<u8> {
    let data_bytes = if data.is_empty() {
        Vec::new()
    } else {
        // A map of JSON values always serializes.
        serde_json::to_vec(data).unwrap_or_default()
    };
    let mut header = Map::new();
    header.insert("type".to_owned(), Value::from(kind));
    header.insert("version".to_owned(), Value::from(PROTOCOL_VERSION));
    if !data_bytes.is_empty() {
        header.insert("data_length".to_owned(), Value::from(data_bytes.len()));
    }
    if !payload.is_empty() {
        header.insert("payload_length".to_owned(), Value::from(payload.len()));
    }
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.reserve(1 + data_bytes.len() + payload.len());
    out.push(b'\n');
    out.extend_from_slice(&data_bytes);
    out.extend_from_slice(payload);
    out
}

fn opt_str(
    data: &Map<String, Value>,
    event: &'static str,
    field: &'static str,
) -> Result<Option<String>, WyomingError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WyomingError::WrongField {
            event,
            field,
            expected: "a string",
        }),
    }
}

fn req_str(
    data: &Map<String, Value>,
    event: &'static str,
    field: &'static str,
) -> Result<String, WyomingError> {
    opt_str(data, event, field)?.ok_or(WyomingError::WrongField {
        event,
        field,
        expected: "a string (it is required)",
    })
}

/// Which voice a request asks for; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceChoice {
    /// A voice name from `info` (wins over `language`).
    pub name: Option<String>,
    /// A language from `info`.
    pub language: Option<String>,
    /// A speaker of the voice, from `info`.
    pub speaker: Option<String>,
}

impl VoiceChoice {
    fn parse(data: &Map<String, Value>, event: &'static str) -> Result<Self, WyomingError> {
        match data.get("voice") {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(Value::Object(v)) => {
                let part = |key: &str, field: &'static str| match v.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(wrong(event, field)),
                };
                Ok(Self {
                    name: part("name", "voice.name")?,
                    language: part("language", "voice.language")?,
                    speaker: part("speaker", "voice.speaker")?,
                })
            }
            Some(_) => Err(WyomingError::WrongField {
                event,
                field: "voice",
                expected: "an object with `name`, `language`, `speaker`",
            }),
        }
    }
}

fn wrong(event: &'static str, field: &'static str) -> WyomingError {
    WyomingError::WrongField {
        event,
        field,
        expected: "a string",
    }
}

/// A `synthesize` request: the whole text at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synthesize {
    /// The text to speak.
    pub text: String,
    /// The voice asked for.
    pub voice: VoiceChoice,
    /// `text` (the default) or `ssml`.
    pub text_format: Option<String>,
}

/// A `synthesize-start` request: text follows in `synthesize-chunk`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthesizeStart {
    /// The voice asked for.
    pub voice: VoiceChoice,
    /// `text` (the default) or `ssml`.
    pub text_format: Option<String>,
}

/// What a client asks of a speech server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `describe`: answer with `info`.
    Describe,
    /// `synthesize`.
    Synthesize(Synthesize),
    /// `synthesize-start`.
    SynthesizeStart(SynthesizeStart),
    /// `synthesize-chunk`: more text of the stream.
    SynthesizeChunk {
        /// The text.
        text: String,
    },
    /// `synthesize-stop`: the stream's text is complete.
    SynthesizeStop,
    /// `ping`: answer with `pong`, copying `text`.
    Ping {
        /// Text to copy back.
        text: Option<String>,
    },
    /// Any other event: the protocol has receivers drop what they do not
    /// handle (`select-program`, events of other domains).
    Other {
        /// Its type.
        kind: String,
    },
}

impl Request {
    /// The request an event makes; a wrong type for a field this crate reads
    /// is an error, keys it does not read are ignored.
    pub fn parse(event: &Event) -> Result<Self, WyomingError> {
        let d = &event.data;
        Ok(match event.kind.as_str() {
            "describe" => Request::Describe,
            "synthesize" => Request::Synthesize(Synthesize {
                text: req_str(d, "synthesize", "text")?,
                voice: VoiceChoice::parse(d, "synthesize")?,
                text_format: opt_str(d, "synthesize", "text_format")?,
            }),
            "synthesize-start" => Request::SynthesizeStart(SynthesizeStart {
                voice: VoiceChoice::parse(d, "synthesize-start")?,
                text_format: opt_str(d, "synthesize-start", "text_format")?,
            }),
            "synthesize-chunk" => Request::SynthesizeChunk {
                text: req_str(d, "synthesize-chunk", "text")?,
            },
            "synthesize-stop" => Request::SynthesizeStop,
            "ping" => Request::Ping {
                text: opt_str(d, "ping", "text")?,
            },
            other => Request::Other {
                kind: other.to_owned(),
            },
        })
    }
}

/// Who made an artifact, as `info` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// Name.
    pub name: String,
    /// Web page.
    pub url: String,
}

/// A speaker of a voice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Speaker {
    /// Its name, as `synthesize` gives it in `voice.speaker`.
    pub name: String,
}

/// A voice, as `info` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TtsVoice {
    /// Its name, as `synthesize` gives it in `voice.name`.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Who made it.
    pub attribution: Attribution,
    /// Always true: a server lists the voices it serves.
    pub installed: bool,
    /// Its version.
    pub version: Option<String>,
    /// Its languages.
    pub languages: Vec<String>,
    /// Its speakers; `None` for a voice of one speaker.
    pub speakers: Option<Vec<Speaker>>,
}

/// A text-to-speech program, as `info` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TtsProgram {
    /// Its name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Who made it.
    pub attribution: Attribution,
    /// Always true.
    pub installed: bool,
    /// Its version.
    pub version: Option<String>,
    /// The voices it serves.
    pub voices: Vec<TtsVoice>,
    /// Whether it takes `synthesize-start`/`-chunk`/`-stop`.
    pub supports_synthesize_streaming: bool,
}

fn event(kind: &str, data: Value, payload: &[u8]) -> Vec<u8> {
    let map = match data {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    encode(kind, &map, payload)
}

/// `info`: one TTS program, no other services.
#[must_use]
pub fn info(program: &TtsProgram) -> Vec<u8> {
    let tts = serde_json::to_value(program).unwrap_or(Value::Null);
    event(
        "info",
        serde_json::json!({
            "asr": [], "tts": [tts], "handle": [], "intent": [], "wake": [], "mic": [], "snd": [],
        }),
        &[],
    )
}

/// `audio-start`: 16-bit mono at `rate`.
#[must_use]
pub fn audio_start(rate: u32, timestamp_ms: u64) -> Vec<u8> {
    event(
        "audio-start",
        serde_json::json!({
            "rate": rate, "width": SAMPLE_WIDTH, "channels": CHANNELS, "timestamp": timestamp_ms,
        }),
        &[],
    )
}

/// `audio-chunk`: 16-bit little-endian mono samples at `rate`.
#[must_use]
pub fn audio_chunk(rate: u32, timestamp_ms: u64, pcm: &[u8]) -> Vec<u8> {
    event(
        "audio-chunk",
        serde_json::json!({
            "rate": rate, "width": SAMPLE_WIDTH, "channels": CHANNELS, "timestamp": timestamp_ms,
        }),
        pcm,
    )
}

/// `audio-stop`.
#[must_use]
pub fn audio_stop(timestamp_ms: u64) -> Vec<u8> {
    event(
        "audio-stop",
        serde_json::json!({ "timestamp": timestamp_ms }),
        &[],
    )
}

/// `synthesize-stopped`: the answer to a stream is complete.
#[must_use]
pub fn synthesize_stopped() -> Vec<u8> {
    event("synthesize-stopped", Value::Null, &[])
}

/// `error`, with a human message and a machine-readable code.
#[must_use]
pub fn error(text: &str, code: &str) -> Vec<u8> {
    event(
        "error",
        serde_json::json!({ "text": text, "code": code }),
        &[],
    )
}

/// `pong`, copying a `ping`'s text.
#[must_use]
pub fn pong(text: Option<&str>) -> Vec<u8> {
    event("pong", serde_json::json!({ "text": text }), &[])
}

/// Entry points for the fuzz targets in `fuzz/` (built with `--cfg fuzzing`); not an API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use super::{decode, encode, Caps, Request};

    /// Reads events from `data` as a server would (small caps, so the caps
    /// are hit often), parses each as a request, and checks that what
    /// `encode` writes of an event reads back the same.
    pub fn fuzz_event_reader(data: &[u8]) {
        let caps = Caps {
            max_header_bytes: 512,
            max_data_bytes: 1024,
            max_payload_bytes: 1024,
        };
        let mut rest = data;
        while let Ok(Some((event, used))) = decode(rest, &caps) {
            assert!(used > 0 && used <= rest.len() && used <= caps.max_event_bytes());
            let _ = Request::parse(&event);
            let wire = encode(&event.kind, &event.data, &event.payload);
            let big = Caps {
                max_header_bytes: wire.len(),
                max_data_bytes: wire.len(),
                max_payload_bytes: wire.len(),
            };
            match decode(&wire, &big) {
                Ok(Some((again, n))) => {
                    assert_eq!(n, wire.len());
                    assert_eq!(again, event);
                }
                other => panic!("an encoded event does not read back: {other:?}"),
            }
            rest = rest.get(used..).unwrap_or_default();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn one(wire: &[u8]) -> Result<Option<(Event, usize)>, WyomingError> {
        decode(wire, &Caps::default())
    }

    #[test]
    fn reads_what_the_python_package_writes() {
        // Byte for byte what `wyoming.event.async_write_event` sends for
        // `Synthesize(text="Hi.", voice=SynthesizeVoice(name="v"))`.
        let wire = b"{\"type\": \"synthesize\", \"version\": \"1.10.2\", \"data_length\": 39}\n\
                     {\"text\": \"Hi.\", \"voice\": {\"name\": \"v\"}}";
        let (event, used) = one(wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        let Request::Synthesize(s) = Request::parse(&event).unwrap() else {
            panic!("not a synthesize")
        };
        assert_eq!(s.text, "Hi.");
        assert_eq!(s.voice.name.as_deref(), Some("v"));
        // Data in the header is merged under the data part.
        let wire = b"{\"type\":\"synthesize-chunk\",\"data\":{\"text\":\"a\",\"x\":1},\"data_length\":12}\n{\"text\":\"b\"}";
        let (event, _) = one(wire).unwrap().unwrap();
        assert_eq!(
            Request::parse(&event).unwrap(),
            Request::SynthesizeChunk { text: "b".into() }
        );
        assert_eq!(event.data["x"], 1);
    }

    #[test]
    fn written_events_read_back_with_their_payload() {
        let pcm = [1u8, 2, 3, 4];
        let wire = audio_chunk(22_050, 40, &pcm);
        let (event, used) = one(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(event.kind, "audio-chunk");
        assert_eq!(event.payload, pcm);
        assert_eq!(event.data["rate"], 22_050);
        assert_eq!(event.data["width"], 2);
        // Two events back to back: the first is read, the rest left.
        let mut two = synthesize_stopped();
        let first = two.len();
        two.extend_from_slice(&pong(Some("x")));
        let (e, used) = one(&two).unwrap().unwrap();
        assert_eq!((e.kind.as_str(), used), ("synthesize-stopped", first));
    }

    #[test]
    fn every_truncation_of_an_event_asks_for_more() {
        let wire = audio_chunk(16_000, 0, &[9u8; 100]);
        for n in 0..wire.len() {
            assert_eq!(one(&wire[..n]), Ok(None), "cut at {n}");
        }
    }

    #[test]
    fn oversized_header_is_refused_without_a_line_end() {
        let caps = Caps {
            max_header_bytes: 100,
            ..Caps::default()
        };
        // No newline in sight, past the cap: refused, whatever follows.
        let long = vec![b' '; 101];
        assert_eq!(
            decode(&long, &caps),
            Err(WyomingError::HeaderTooLong { max: 100 })
        );
        // Up to the cap it waits for more.
        assert_eq!(decode(&long[..100], &caps), Ok(None));
        // A newline beyond the cap does not help.
        let mut late = long.clone();
        late.push(b'\n');
        assert!(matches!(
            decode(&late, &caps),
            Err(WyomingError::HeaderTooLong { .. })
        ));
    }

    #[test]
    fn oversized_lengths_are_refused_before_their_bytes_arrive() {
        let data = b"{\"type\":\"synthesize\",\"data_length\":18446744073709551615}\n";
        assert!(matches!(
            one(data),
            Err(WyomingError::DataTooLong {
                declared: u64::MAX,
                ..
            })
        ));
        let payload = b"{\"type\":\"audio-chunk\",\"payload_length\":65537}\n";
        assert!(matches!(
            one(payload),
            Err(WyomingError::PayloadTooLong {
                declared: 65537,
                ..
            })
        ));
        let negative = b"{\"type\":\"audio-chunk\",\"payload_length\":-1}\n";
        assert!(matches!(
            one(negative),
            Err(WyomingError::InvalidHeader { .. })
        ));
    }

    #[test]
    fn malformed_headers_are_refused_without_quoting_them() {
        for bad in [
            &b"not json\n"[..],
            b"[1,2]\n",
            b"{\"type\":\"x\",\"secret\":\"do not log me\"}\n",
            b"{\"type\":\"x\",\"type\":\"y\"}\n",
            b"{\"type\":\"\"}\n",
            b"{\"type\":\"has space\"}\n",
            b"{\"type\":\"x\"} trailing\n",
            b"{\"data\":{}}\n",
            b"\n",
            b"{\"type\":\"x\",\"data\":\"do not log me\"}\n",
        ] {
            let e = one(bad).expect_err("refused");
            assert_eq!(e.code(), "invalid_header", "{e}");
            assert!(!e.to_string().contains("do not log me"), "{e}");
        }
        // A data part that is not an object.
        let e = one(b"{\"type\":\"x\",\"data_length\":5}\n\"abc\"").expect_err("refused");
        assert_eq!(e.code(), "invalid_data");
        let e = one(b"{\"type\":\"x\",\"data_length\":2}\n\xff}").expect_err("refused");
        assert_eq!(e.code(), "invalid_data");
    }

    #[test]
    fn wrong_field_types_are_errors_and_unknown_keys_are_not() {
        let ev = |kind: &str, data: Value| Event {
            kind: kind.to_owned(),
            data: match data {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            payload: Vec::new(),
        };
        let e = Request::parse(&ev("synthesize", serde_json::json!({"text": 5}))).unwrap_err();
        assert!(matches!(e, WyomingError::WrongField { field: "text", .. }));
        assert!(Request::parse(&ev("synthesize", serde_json::json!({}))).is_err());
        let e = Request::parse(&ev(
            "synthesize",
            serde_json::json!({"text": "a", "voice": {"name": 1}}),
        ))
        .unwrap_err();
        assert!(matches!(
            e,
            WyomingError::WrongField {
                field: "voice.name",
                ..
            }
        ));
        let r = Request::parse(&ev(
            "synthesize",
            serde_json::json!({"text": "a", "context": {"any": [1]}, "new_key": true}),
        ))
        .unwrap();
        assert!(matches!(r, Request::Synthesize(_)));
        assert_eq!(
            Request::parse(&ev("select-program", serde_json::json!({"name": "x"}))).unwrap(),
            Request::Other {
                kind: "select-program".into()
            }
        );
    }

    #[test]
    fn info_lists_the_program_and_its_voices() {
        let attribution = Attribution {
            name: "Signet".into(),
            url: "https://example.invalid".into(),
        };
        let wire = info(&TtsProgram {
            name: "signet".into(),
            description: None,
            attribution: attribution.clone(),
            installed: true,
            version: Some("0.1.0".into()),
            voices: vec![TtsVoice {
                name: "v".into(),
                description: None,
                attribution,
                installed: true,
                version: None,
                languages: vec!["en_US".into()],
                speakers: None,
            }],
            supports_synthesize_streaming: true,
        });
        let (event, _) = one(&wire).unwrap().unwrap();
        assert_eq!(event.kind, "info");
        let tts = &event.data["tts"][0];
        assert_eq!(tts["name"], "signet");
        assert_eq!(tts["supports_synthesize_streaming"], true);
        assert_eq!(tts["voices"][0]["languages"][0], "en_US");
        assert_eq!(event.data["asr"], serde_json::json!([]));
    }
}
