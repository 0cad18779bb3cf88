//! Wire format between the phonemizer client and the `signet-espeak` helper process.
//!
//! Every message is a *frame*: a `u32` little-endian payload length followed by that many
//! payload bytes. The client writes one request frame and reads one response frame; the
//! helper answers requests in order, one at a time.
//!
//! Request payload:
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | protocol version, [`PROTOCOL_VERSION`] |
//! | 1 | `v`, length of the voice name (1 ..= [`MAX_VOICE_BYTES`]) |
//! | `v` | espeak voice name, ASCII letters, digits, `-`, `_`, `+` |
//! | rest | text, UTF-8 without NUL, at most [`MAX_TEXT_BYTES`] |
//!
//! Response payload:
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | protocol version |
//! | 1 | status: 0 clauses follow, 1 error follows |
//! | 1 | flags: bit 0 set when the helper exits after this frame (its CPU budget is spent) |
//! | ok: 4 | clause count `n` (`u32` LE), then `n` clauses: |
//! | 4 | byte offset in the request text where the clause's input ended (`u32` LE) |
//! | 1 | clause flags: bit 0 = end of sentence |
//! | 1 | terminator: 0 for none, else one of `.` `?` `!` `,` `:` `;` |
//! | 4 | `p`, length of the phoneme string (`u32` LE) |
//! | `p` | phonemes, IPA, UTF-8 |
//! | error: 1 | [`ErrorCode`] |
//! | rest | message, UTF-8, at most [`MAX_ERROR_MESSAGE_BYTES`] |
//!
//! Before it reads the first request, the helper writes one *hello* frame saying which
//! layers of its sandbox are on ([`Hello`]):
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | protocol version |
//! | 1 | 2 (hello) |
//! | 1 | layers: bit 0 `no_new_privs`, bit 1 not dumpable, bit 2 seccomp-bpf allow-list, bit 3 Landlock fully enforced, bit 4 Landlock partly enforced |
//! | 1 | Landlock ABI version the kernel offers (0: none) |
//!
//! Both sides treat what they read as untrusted: every length is checked against a cap
//! before anything is allocated, unknown values and trailing bytes are errors.

use std::io::{self, Read, Write};

/// Version byte at the start of every payload.
pub const PROTOCOL_VERSION: u8 = 2;
/// Longest voice name, in bytes.
pub const MAX_VOICE_BYTES: usize = 64;
/// Longest text of one request, in bytes (64 KiB). Longer texts are sent in pieces.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Largest request payload.
pub const MAX_REQUEST_BYTES: usize = 2 + MAX_VOICE_BYTES + MAX_TEXT_BYTES;
/// Largest response payload (8 MiB). espeak writes at most a few dozen bytes of
/// phonemes per input byte (a digit becomes a spoken number, an emoji its name).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most clauses in one response.
pub const MAX_CLAUSES: usize = MAX_TEXT_BYTES + 1;
/// Longest phoneme string of one clause, in bytes.
pub const MAX_CLAUSE_PHONEME_BYTES: usize = 1024 * 1024;
/// Longest error message, in bytes.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1024;

/// A malformed or over-long frame or payload.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame's length prefix exceeds the cap for its direction.
    #[error("frame of {length} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// Length announced by the prefix.
        length: u64,
        /// Largest length accepted.
        limit: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame ({context})")]
    Truncated {
        /// What was being read.
        context: &'static str,
    },
    /// A payload's version byte is not [`PROTOCOL_VERSION`].
    #[error("protocol version {found} is not the supported version {PROTOCOL_VERSION}")]
    UnsupportedVersion {
        /// Version byte found.
        found: u8,
    },
    /// A field holds a value the protocol does not define.
    #[error("invalid {field}: {value}")]
    InvalidValue {
        /// Field name.
        field: &'static str,
        /// Offending value.
        value: u64,
    },
    /// A field is longer than its cap.
    #[error("{field} of {length} bytes exceeds the limit of {limit} bytes")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Length found.
        length: usize,
        /// Largest length accepted.
        limit: usize,
    },
    /// A text field is not valid UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Field name.
        field: &'static str,
    },
    /// The voice name holds a byte outside `[A-Za-z0-9_+-]`, or is empty.
    #[error(
        "voice name is empty or holds characters other than ASCII letters, digits, '-', '_', '+'"
    )]
    InvalidVoiceName,
    /// The text holds a NUL character, which espeak's C API cannot receive.
    #[error("text holds a NUL character")]
    NulInText,
    /// Bytes remain after a complete payload.
    #[error("{count} unexpected bytes after the payload")]
    TrailingBytes {
        /// Number of extra bytes.
        count: usize,
    },
}

/// One phonemization request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// espeak voice name, e.g. `en-us`.
    pub voice: &'a str,
    /// Text to phonemize.
    pub text: &'a str,
}

impl<'a> Request<'a> {
    /// Checks the fields and encodes the payload (without the length prefix).
    ///
    /// # Errors
    /// A voice name or text that [`Request::decode`] would reject.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        check_espeak_voice(self.voice.as_bytes())?;
        check_text(self.text.as_bytes())?;
        let voice_len =
            u8::try_from(self.voice.len()).map_err(|_| ProtocolError::InvalidVoiceName)?;
        let mut out = Vec::with_capacity(2 + self.voice.len() + self.text.len());
        out.push(PROTOCOL_VERSION);
        out.push(voice_len);
        out.extend_from_slice(self.voice.as_bytes());
        out.extend_from_slice(self.text.as_bytes());
        Ok(out)
    }

    /// Decodes and checks a request payload.
    ///
    /// # Errors
    /// Wrong version, bad voice name, text too long, not UTF-8 or holding NUL.
    pub fn decode(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        let mut r = Cursor::new(payload);
        let version = r.u8("version")?;
        if version != PROTOCOL_VERSION {
            return Err(ProtocolError::UnsupportedVersion { found: version });
        }
        let voice_len = usize::from(r.u8("voice length")?);
        let voice = r.bytes(voice_len, "voice name")?;
        check_espeak_voice(voice)?;
        let text = r.rest();
        check_text(text)?;
        let voice = std::str::from_utf8(voice).map_err(|_| ProtocolError::InvalidVoiceName)?;
        let text =
            std::str::from_utf8(text).map_err(|_| ProtocolError::InvalidUtf8 { field: "text" })?;
        Ok(Self { voice, text })
    }
}

/// Checks an espeak-ng voice name as the helper receives it (`en-us`, `en+f3`): not
/// empty, at most [`MAX_VOICE_BYTES`], ASCII letters, digits, `-`, `_` and `+` only.
/// These are espeak-ng's language voices, not the names of Signet's voice store.
fn check_espeak_voice(voice: &[u8]) -> Result<(), ProtocolError> {
    if voice.is_empty() {
        return Err(ProtocolError::InvalidVoiceName);
    }
    if voice.len() > MAX_VOICE_BYTES {
        return Err(ProtocolError::FieldTooLong {
            field: "voice name",
            length: voice.len(),
            limit: MAX_VOICE_BYTES,
        });
    }
    if voice
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'))
    {
        Ok(())
    } else {
        Err(ProtocolError::InvalidVoiceName)
    }
}

fn check_text(text: &[u8]) -> Result<(), ProtocolError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ProtocolError::FieldTooLong {
            field: "text",
            length: text.len(),
            limit: MAX_TEXT_BYTES,
        });
    }
    if text.contains(&0) {
        return Err(ProtocolError::NulInText);
    }
    Ok(())
}

/// How espeak ended a clause, as reported by `espeak_TextToPhonemesWithTerminator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Terminator {
    /// `.`
    Period,
    /// `?`
    Question,
    /// `!`
    Exclamation,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `;`
    Semicolon,
}

impl Terminator {
    /// The punctuation character the voice's phoneme map uses for this terminator.
    #[must_use]
    pub const fn as_char(self) -> char {
        match self {
            Self::Period => '.',
            Self::Question => '?',
            Self::Exclamation => '!',
            Self::Comma => ',',
            Self::Colon => ':',
            Self::Semicolon => ';',
        }
    }

    /// Parses the wire byte; 0 means "no terminator".
    ///
    /// # Errors
    /// Any other byte.
    pub fn from_wire(byte: u8) -> Result<Option<Self>, ProtocolError> {
        Ok(Some(match byte {
            0 => return Ok(None),
            b'.' => Self::Period,
            b'?' => Self::Question,
            b'!' => Self::Exclamation,
            b',' => Self::Comma,
            b':' => Self::Colon,
            b';' => Self::Semicolon,
            other => {
                return Err(ProtocolError::InvalidValue {
                    field: "terminator",
                    value: u64::from(other),
                })
            }
        }))
    }

    /// The wire byte of an optional terminator.
    #[must_use]
    pub fn to_wire(terminator: Option<Self>) -> u8 {
        terminator.map_or(0, |t| {
            // Every terminator is an ASCII character.
            u8::try_from(u32::from(t.as_char())).unwrap_or(0)
        })
    }
}

/// One clause as espeak returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Clause {
    /// IPA phonemes of the clause (words separated by spaces, may hold `(lang)` flags).
    pub phonemes: String,
    /// Punctuation that ended the clause, if any.
    pub terminator: Option<Terminator>,
    /// Whether the clause ends a sentence.
    pub end_of_sentence: bool,
    /// Byte offset in the request text where espeak stopped reading for this clause.
    pub text_end: usize,
}

impl Clause {
    /// Builds a clause.
    #[must_use]
    pub fn new(
        phonemes: impl Into<String>,
        terminator: Option<Terminator>,
        end_of_sentence: bool,
        text_end: usize,
    ) -> Self {
        Self {
            phonemes: phonemes.into(),
            terminator,
            end_of_sentence,
            text_end,
        }
    }
}

/// Why the helper refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request payload could not be decoded.
    MalformedRequest,
    /// espeak does not know the voice.
    VoiceNotFound,
    /// espeak misbehaved (position out of range, too many clauses, too much output).
    EspeakFailure,
}

impl ErrorCode {
    fn to_wire(self) -> u8 {
        match self {
            Self::MalformedRequest => 1,
            Self::VoiceNotFound => 2,
            Self::EspeakFailure => 3,
        }
    }

    fn from_wire(byte: u8) -> Result<Self, ProtocolError> {
        match byte {
            1 => Ok(Self::MalformedRequest),
            2 => Ok(Self::VoiceNotFound),
            3 => Ok(Self::EspeakFailure),
            other => Err(ProtocolError::InvalidValue {
                field: "error code",
                value: u64::from(other),
            }),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::MalformedRequest => "malformed request",
            Self::VoiceNotFound => "voice not found",
            Self::EspeakFailure => "espeak failure",
        })
    }
}

/// What the helper answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseBody {
    /// The clauses of the text, in order.
    Clauses(Vec<Clause>),
    /// The request was refused.
    Error {
        /// Reason.
        code: ErrorCode,
        /// Human-readable detail (never holds the request text).
        message: String,
    },
}

/// One response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The answer.
    pub body: ResponseBody,
    /// The helper exits after this frame; the client starts a fresh one for the next request.
    pub retiring: bool,
}

impl Response {
    /// Builds a response.
    #[must_use]
    pub fn new(body: ResponseBody, retiring: bool) -> Self {
        Self { body, retiring }
    }

    /// Encodes the payload (without the length prefix).
    ///
    /// # Errors
    /// A field over its cap, or a payload over [`MAX_RESPONSE_BYTES`].
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut out = vec![PROTOCOL_VERSION];
        let flags = u8::from(self.retiring);
        match &self.body {
            ResponseBody::Clauses(clauses) => {
                out.extend_from_slice(&[0, flags]);
                if clauses.len() > MAX_CLAUSES {
                    return Err(ProtocolError::FieldTooLong {
                        field: "clause list",
                        length: clauses.len(),
                        limit: MAX_CLAUSES,
                    });
                }
                out.extend_from_slice(&u32_of(clauses.len(), "clause count")?.to_le_bytes());
                for clause in clauses {
                    if clause.phonemes.len() > MAX_CLAUSE_PHONEME_BYTES {
                        return Err(ProtocolError::FieldTooLong {
                            field: "clause phonemes",
                            length: clause.phonemes.len(),
                            limit: MAX_CLAUSE_PHONEME_BYTES,
                        });
                    }
                    out.extend_from_slice(&u32_of(clause.text_end, "text offset")?.to_le_bytes());
                    out.push(u8::from(clause.end_of_sentence));
                    out.push(Terminator::to_wire(clause.terminator));
                    out.extend_from_slice(
                        &u32_of(clause.phonemes.len(), "phoneme length")?.to_le_bytes(),
                    );
                    out.extend_from_slice(clause.phonemes.as_bytes());
                    if out.len() > MAX_RESPONSE_BYTES {
                        return Err(ProtocolError::FrameTooLarge {
                            length: out.len() as u64,
                            limit: MAX_RESPONSE_BYTES,
                        });
                    }
                }
            }
            ResponseBody::Error { code, message } => {
                out.extend_from_slice(&[1, flags, code.to_wire()]);
                out.extend_from_slice(truncate_utf8(message, MAX_ERROR_MESSAGE_BYTES).as_bytes());
            }
        }
        Ok(out)
    }

    /// Decodes and checks a response payload.
    ///
    /// # Errors
    /// Anything that is not a well-formed response within the caps.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Cursor::new(payload);
        let version = r.u8("version")?;
        if version != PROTOCOL_VERSION {
            return Err(ProtocolError::UnsupportedVersion { found: version });
        }
        let status = r.u8("status")?;
        let flags = r.u8("flags")?;
        if flags > 1 {
            return Err(ProtocolError::InvalidValue {
                field: "response flags",
                value: u64::from(flags),
            });
        }
        let retiring = flags == 1;
        let body = match status {
            0 => {
                let count = r.u32_len("clause count")?;
                if count > MAX_CLAUSES {
                    return Err(ProtocolError::FieldTooLong {
                        field: "clause list",
                        length: count,
                        limit: MAX_CLAUSES,
                    });
                }
                // Each clause takes at least 10 bytes: never reserve more than the payload holds.
                let mut clauses = Vec::with_capacity(count.min(r.remaining() / 10));
                for _ in 0..count {
                    let text_end = r.u32_len("text offset")?;
                    let clause_flags = r.u8("clause flags")?;
                    if clause_flags > 1 {
                        return Err(ProtocolError::InvalidValue {
                            field: "clause flags",
                            value: u64::from(clause_flags),
                        });
                    }
                    let terminator = Terminator::from_wire(r.u8("terminator")?)?;
                    let len = r.u32_len("phoneme length")?;
                    if len > MAX_CLAUSE_PHONEME_BYTES {
                        return Err(ProtocolError::FieldTooLong {
                            field: "clause phonemes",
                            length: len,
                            limit: MAX_CLAUSE_PHONEME_BYTES,
                        });
                    }
                    let bytes = r.bytes(len, "phonemes")?;
                    let phonemes = std::str::from_utf8(bytes)
                        .map_err(|_| ProtocolError::InvalidUtf8 { field: "phonemes" })?;
                    clauses.push(Clause::new(
                        phonemes,
                        terminator,
                        clause_flags == 1,
                        text_end,
                    ));
                }
                ResponseBody::Clauses(clauses)
            }
            1 => {
                let code = ErrorCode::from_wire(r.u8("error code")?)?;
                let rest = r.rest();
                if rest.len() > MAX_ERROR_MESSAGE_BYTES {
                    return Err(ProtocolError::FieldTooLong {
                        field: "error message",
                        length: rest.len(),
                        limit: MAX_ERROR_MESSAGE_BYTES,
                    });
                }
                let message = std::str::from_utf8(rest)
                    .map_err(|_| ProtocolError::InvalidUtf8 {
                        field: "error message",
                    })?
                    .to_owned();
                ResponseBody::Error { code, message }
            }
            other => {
                return Err(ProtocolError::InvalidValue {
                    field: "status",
                    value: u64::from(other),
                })
            }
        };
        r.finish()?;
        Ok(Self { body, retiring })
    }
}

/// Status byte of a hello payload (a response's is 0 or 1).
const HELLO_STATUS: u8 = 2;

/// How much of Landlock the helper could apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LandlockState {
    /// The kernel has no Landlock (before Linux 5.13, or not enabled), or the helper
    /// runs without its sandbox: file reads are not confined to espeak-ng's data.
    Unavailable,
    /// Some of the requested restrictions are enforced (an older Landlock ABI).
    Partial,
    /// Every requested restriction is enforced.
    Full,
}

/// Which layers of the helper's sandbox are on, as its hello frame reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SandboxReport {
    /// `PR_SET_NO_NEW_PRIVS`: no `execve` can gain privileges.
    pub no_new_privs: bool,
    /// `PR_SET_DUMPABLE` 0: no core dumps, no `ptrace` or `/proc/<pid>/mem` by its user.
    pub not_dumpable: bool,
    /// The seccomp-bpf allow-list of system calls is installed.
    pub seccomp: bool,
    /// Landlock: file access confined to reading espeak-ng's data folder.
    pub landlock: LandlockState,
    /// The Landlock ABI version the kernel offers (0 when it has none).
    pub landlock_abi: u8,
}

impl SandboxReport {
    /// A helper without any sandbox layer (`--sandbox off`).
    #[must_use]
    pub const fn none() -> Self {
        Self {
            no_new_privs: false,
            not_dumpable: false,
            seccomp: false,
            landlock: LandlockState::Unavailable,
            landlock_abi: 0,
        }
    }

    /// Whether the layers that every supported kernel offers are on: `no_new_privs`, not
    /// dumpable, and the seccomp filter (Landlock depends on the kernel).
    #[must_use]
    pub const fn is_required_set(&self) -> bool {
        self.no_new_privs && self.not_dumpable && self.seccomp
    }
}

impl std::fmt::Display for SandboxReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut on = Vec::new();
        if self.seccomp {
            on.push("seccomp-bpf allow-list".to_owned());
        }
        if self.no_new_privs {
            on.push("no_new_privs".to_owned());
        }
        if self.not_dumpable {
            on.push("not dumpable".to_owned());
        }
        match self.landlock {
            LandlockState::Full => on.push(format!(
                "Landlock ABI {} (read-only espeak-ng data)",
                self.landlock_abi
            )),
            LandlockState::Partial => on.push(format!(
                "Landlock ABI {} partly enforced (read-only espeak-ng data)",
                self.landlock_abi
            )),
            LandlockState::Unavailable => {}
        }
        on.push("resource limits".to_owned());
        write!(f, "{}", on.join(", "))?;
        let mut off = Vec::new();
        if !self.seccomp {
            off.push("seccomp");
        }
        if !self.no_new_privs {
            off.push("no_new_privs");
        }
        if !self.not_dumpable {
            off.push("dumpable flag");
        }
        if self.landlock == LandlockState::Unavailable {
            off.push(if self.landlock_abi == 0 {
                "Landlock (not offered by this kernel)"
            } else {
                "Landlock"
            });
        }
        if !off.is_empty() {
            write!(f, "; off: {}", off.join(", "))?;
        }
        Ok(())
    }
}

/// The helper's first frame: which sandbox layers are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hello {
    /// The helper's sandbox.
    pub sandbox: SandboxReport,
}

impl Hello {
    /// Builds a hello.
    #[must_use]
    pub const fn new(sandbox: SandboxReport) -> Self {
        Self { sandbox }
    }

    /// Encodes the payload (without the length prefix).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.sandbox;
        let layers = u8::from(s.no_new_privs)
            | u8::from(s.not_dumpable) << 1
            | u8::from(s.seccomp) << 2
            | u8::from(s.landlock == LandlockState::Full) << 3
            | u8::from(s.landlock == LandlockState::Partial) << 4;
        vec![PROTOCOL_VERSION, HELLO_STATUS, layers, s.landlock_abi]
    }

    /// Decodes and checks a hello payload.
    ///
    /// # Errors
    /// Wrong version, not a hello, unknown layer bits, both Landlock bits, trailing bytes.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Cursor::new(payload);
        let version = r.u8("version")?;
        if version != PROTOCOL_VERSION {
            return Err(ProtocolError::UnsupportedVersion { found: version });
        }
        let status = r.u8("hello status")?;
        if status != HELLO_STATUS {
            return Err(ProtocolError::InvalidValue {
                field: "hello status",
                value: u64::from(status),
            });
        }
        let layers = r.u8("sandbox layers")?;
        if layers >= 1 << 5 || layers & 0b1_1000 == 0b1_1000 {
            return Err(ProtocolError::InvalidValue {
                field: "sandbox layers",
                value: u64::from(layers),
            });
        }
        let landlock_abi = r.u8("Landlock ABI")?;
        r.finish()?;
        let landlock = if layers & 1 << 3 != 0 {
            LandlockState::Full
        } else if layers & 1 << 4 != 0 {
            LandlockState::Partial
        } else {
            LandlockState::Unavailable
        };
        Ok(Self {
            sandbox: SandboxReport {
                no_new_privs: layers & 1 != 0,
                not_dumpable: layers & 1 << 1 != 0,
                seccomp: layers & 1 << 2 != 0,
                landlock,
                landlock_abi,
            },
        })
    }
}

fn u32_of(value: usize, field: &'static str) -> Result<u32, ProtocolError> {
    u32::try_from(value).map_err(|_| ProtocolError::InvalidValue {
        field,
        value: value as u64,
    })
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
#[must_use]
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}

/// Reads one frame. `Ok(None)` when the stream ends cleanly before a frame starts.
///
/// The length prefix is checked against `limit` before anything is allocated.
///
/// # Errors
/// [`FrameError::Protocol`] for an over-long or truncated frame, [`FrameError::Io`] for I/O.
pub fn read_frame(reader: &mut impl Read, limit: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0_u8; 4];
    let mut got = 0;
    while got < prefix.len() {
        let Some(slot) = prefix.get_mut(got..) else {
            break;
        };
        match reader.read(slot) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(FrameError::Protocol(ProtocolError::Truncated {
                    context: "length prefix",
                }))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let length = u32::from_le_bytes(prefix);
    let length_usize = usize::try_from(length).unwrap_or(usize::MAX);
    if length_usize > limit {
        return Err(FrameError::Protocol(ProtocolError::FrameTooLarge {
            length: u64::from(length),
            limit,
        }));
    }
    let mut payload = vec![0_u8; length_usize];
    reader.read_exact(&mut payload).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FrameError::Protocol(ProtocolError::Truncated { context: "payload" })
        } else {
            FrameError::Io(e)
        }
    })?;
    Ok(Some(payload))
}

/// Writes one frame (length prefix and payload) and flushes.
///
/// # Errors
/// A payload longer than `u32::MAX`, or an I/O error.
pub fn write_frame(writer: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
    let length = u32::try_from(payload.len()).map_err(|_| {
        FrameError::Protocol(ProtocolError::FrameTooLarge {
            length: payload.len() as u64,
            limit: u32::MAX as usize,
        })
    })?;
    writer
        .write_all(&length.to_le_bytes())
        .map_err(FrameError::Io)?;
    writer.write_all(payload).map_err(FrameError::Io)?;
    writer.flush().map_err(FrameError::Io)
}

/// Failure to read or write a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The bytes do not form a valid frame.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The stream failed.
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
}

/// Bounds-checked reader over a payload.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn remaining(&self) -> usize {
        self.data.len()
    }

    fn bytes(&mut self, n: usize, context: &'static str) -> Result<&'a [u8], ProtocolError> {
        if n > self.data.len() {
            return Err(ProtocolError::Truncated { context });
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u8(&mut self, context: &'static str) -> Result<u8, ProtocolError> {
        match self.bytes(1, context)? {
            [b] => Ok(*b),
            _ => Err(ProtocolError::Truncated { context }),
        }
    }

    fn u32_len(&mut self, context: &'static str) -> Result<usize, ProtocolError> {
        let b = self.bytes(4, context)?;
        let arr: [u8; 4] = b
            .try_into()
            .map_err(|_| ProtocolError::Truncated { context })?;
        usize::try_from(u32::from_le_bytes(arr)).map_err(|_| ProtocolError::InvalidValue {
            field: context,
            value: u64::from(u32::from_le_bytes(arr)),
        })
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    fn finish(self) -> Result<(), ProtocolError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TrailingBytes {
                count: self.data.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_response() -> Response {
        Response::new(
            ResponseBody::Clauses(vec![
                Clause::new("həlˈoʊ", Some(Terminator::Comma), false, 6),
                Clause::new("wˈɜːld", Some(Terminator::Exclamation), true, 13),
                Clause::new("", None, true, 13),
            ]),
            false,
        )
    }

    #[test]
    fn request_round_trips() -> Result<(), ProtocolError> {
        let req = Request {
            voice: "en-us",
            text: "Hello, world!",
        };
        let bytes = req.encode()?;
        assert_eq!(Request::decode(&bytes)?, req);
        Ok(())
    }

    #[test]
    fn response_round_trips() -> Result<(), ProtocolError> {
        let resp = sample_response();
        assert_eq!(Response::decode(&resp.encode()?)?, resp);
        let err = Response::new(
            ResponseBody::Error {
                code: ErrorCode::VoiceNotFound,
                message: "no voice".into(),
            },
            true,
        );
        assert_eq!(Response::decode(&err.encode()?)?, err);
        Ok(())
    }

    #[test]
    fn every_truncation_of_a_response_is_rejected() -> Result<(), ProtocolError> {
        let bytes = sample_response().encode()?;
        for len in 0..bytes.len() {
            let cut = bytes.get(..len).unwrap_or_default();
            assert!(
                Response::decode(cut).is_err(),
                "truncation to {len} accepted"
            );
        }
        Ok(())
    }

    #[test]
    fn every_truncation_of_a_request_is_rejected_or_shorter_text() -> Result<(), ProtocolError> {
        let bytes = Request {
            voice: "en-us",
            text: "Hi",
        }
        .encode()?;
        // Up to the end of the voice name a cut is always an error; after it, the text is shorter.
        for len in 0..7 {
            let cut = bytes.get(..len).unwrap_or_default();
            assert!(
                Request::decode(cut).is_err(),
                "truncation to {len} accepted"
            );
        }
        Ok(())
    }

    #[test]
    fn trailing_bytes_are_rejected() -> Result<(), ProtocolError> {
        let mut bytes = sample_response().encode()?;
        bytes.push(0);
        assert_eq!(
            Response::decode(&bytes),
            Err(ProtocolError::TrailingBytes { count: 1 })
        );
        Ok(())
    }

    #[test]
    fn bad_voice_names_are_rejected() {
        for voice in ["", "../en", "en us", "en/us", "é", &"x".repeat(65)] {
            let req = Request { voice, text: "a" };
            assert!(req.encode().is_err(), "{voice:?} accepted");
        }
    }

    #[test]
    fn nul_and_long_text_are_rejected() {
        let long = "a".repeat(MAX_TEXT_BYTES + 1);
        for text in ["a\0b", long.as_str()] {
            let req = Request {
                voice: "en-us",
                text,
            };
            assert!(req.encode().is_err());
        }
    }

    #[test]
    fn huge_clause_count_does_not_allocate() {
        let payload = [PROTOCOL_VERSION, 0, 0, 0xff, 0xff, 0x00, 0x00];
        assert!(matches!(
            Response::decode(&payload),
            Err(ProtocolError::Truncated { .. })
        ));
        let payload = [PROTOCOL_VERSION, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            Response::decode(&payload),
            Err(ProtocolError::FieldTooLong { .. })
        ));
    }

    #[test]
    fn frame_length_is_checked_before_allocating() {
        let mut data: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert!(matches!(
            read_frame(&mut data, 1024),
            Err(FrameError::Protocol(ProtocolError::FrameTooLarge { .. }))
        ));
    }

    #[test]
    fn frames_round_trip_and_clean_eof_is_none() -> Result<(), FrameError> {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abc")?;
        let mut reader: &[u8] = &buf;
        assert_eq!(read_frame(&mut reader, 16)?, Some(b"abc".to_vec()));
        assert_eq!(read_frame(&mut reader, 16)?, None);
        let mut cut: &[u8] = buf.get(..5).unwrap_or_default();
        assert!(read_frame(&mut cut, 16).is_err());
        Ok(())
    }

    #[test]
    fn hello_round_trips_and_is_checked() -> Result<(), ProtocolError> {
        let full = SandboxReport {
            no_new_privs: true,
            not_dumpable: true,
            seccomp: true,
            landlock: LandlockState::Full,
            landlock_abi: 7,
        };
        for sandbox in [full, SandboxReport::none()] {
            let hello = Hello::new(sandbox);
            assert_eq!(Hello::decode(&hello.encode())?, hello);
        }
        let bytes = Hello::new(full).encode();
        for len in 0..bytes.len() {
            assert!(Hello::decode(bytes.get(..len).unwrap_or_default()).is_err());
        }
        // Not a hello: a response; unknown bits; both Landlock states; trailing bytes.
        assert!(Hello::decode(&sample_response().encode()?).is_err());
        assert!(Hello::decode(&[PROTOCOL_VERSION, 2, 0x20, 0]).is_err());
        assert!(Hello::decode(&[PROTOCOL_VERSION, 2, 0x18, 0]).is_err());
        assert!(Hello::decode(&[PROTOCOL_VERSION, 2, 0, 0, 0]).is_err());
        // And a hello is not a response.
        assert!(Response::decode(&bytes).is_err());
        Ok(())
    }

    #[test]
    fn sandbox_report_names_what_is_off() {
        let text = SandboxReport::none().to_string();
        assert!(text.contains("off: seccomp, no_new_privs"), "{text}");
        assert!(!SandboxReport::none().is_required_set());
    }

    #[test]
    fn unknown_terminator_is_rejected() {
        assert!(Terminator::from_wire(b'x').is_err());
        assert_eq!(Terminator::from_wire(0), Ok(None));
        assert_eq!(Terminator::to_wire(Some(Terminator::Semicolon)), b';');
    }

    #[test]
    fn truncate_utf8_respects_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 10), "abc");
    }
}
