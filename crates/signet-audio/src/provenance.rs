//! Provenance metadata: the `LIST`/`INFO` chunk every WAV file Signet writes
//! carries (the writer is in the `writer` module).
//!
//! # The chunk
//!
//! A standard RIFF `LIST` chunk of form `INFO`, placed before the `data`
//! chunk (so that a stream of unknown length carries it too), with two NUL-terminated text fields that common tools (ffprobe,
//! sox, exiftool, audio editors) already show:
//!
//! - `ISFT` (software): `Signet 0.1.0`, the generator and its version;
//! - `ICMT` (comment): `synthetic speech; generator=Signet; version=0.1.0;
//!   voice=en_US-joe-medium; manifest-sha256=<64 hex digits>`.
//!
//! The comment's first clause states that the audio is synthetic; the
//! `key=value` clauses name the voice and the SHA-256 of the verified bundle
//! manifest the voice was loaded from, which identifies the exact model.
//! [`Provenance::new`] refuses values that would make the comment ambiguous
//! (`;`, `=`, control characters, more than [`MAX_FIELD_BYTES`]).
//!
//! # What it is not
//!
//! Metadata is a label, not a seal: any editor or one `sox` call strips or
//! rewrites it, and re-encoding drops it. Its absence proves nothing. The
//! robust signal that audio came from Signet is the inaudible watermark (a
//! later milestone); this chunk is for honest tools and honest users.

use crate::AudioError;

/// Longest value of a provenance field, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;

/// The comment's first clause: the audio is synthetic.
const SYNTHETIC: &str = "synthetic speech";

/// Who made a piece of audio, as recorded in the WAV files Signet writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Provenance {
    /// The program that made the audio (`Signet`).
    pub generator: String,
    /// Its version.
    pub version: String,
    /// The voice's name in the store.
    pub voice: String,
    /// SHA-256 of the voice bundle's verified manifest, lowercase hex.
    pub manifest_sha256: String,
}

impl Provenance {
    /// Checks and wraps the fields; see the module docs for what is refused.
    pub fn new(
        generator: impl Into<String>,
        version: impl Into<String>,
        voice: impl Into<String>,
        manifest_sha256: impl Into<String>,
    ) -> Result<Self, AudioError> {
        let p = Self {
            generator: generator.into(),
            version: version.into(),
            voice: voice.into(),
            manifest_sha256: manifest_sha256.into(),
        };
        for (field, value) in p.fields() {
            check_field(field, value)?;
        }
        if !is_sha256_hex(&p.manifest_sha256) {
            return Err(AudioError::BadProvenance {
                field: "manifest-sha256",
                reason: "not 64 lowercase hex digits",
            });
        }
        Ok(p)
    }

    fn fields(&self) -> [(&'static str, &str); 4] {
        [
            ("generator", &self.generator),
            ("version", &self.version),
            ("voice", &self.voice),
            ("manifest-sha256", &self.manifest_sha256),
        ]
    }

    /// The `ICMT` text: see the module docs.
    pub fn comment(&self) -> String {
        let mut s = SYNTHETIC.to_owned();
        for (k, v) in self.fields() {
            s.push_str("; ");
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
        s
    }

    /// The `ISFT` text: generator and version.
    pub fn software(&self) -> String {
        format!("{} {}", self.generator, self.version)
    }

    /// Parses an `ICMT` text written by [`comment`](Self::comment).
    ///
    /// Returns `None` when the text is not Signet provenance at all (another
    /// program's comment); an error when it claims to be and is malformed.
    pub fn parse_comment(text: &str) -> Result<Option<Self>, AudioError> {
        let mut clauses = text.split("; ");
        if clauses.next() != Some(SYNTHETIC) {
            return Ok(None);
        }
        let mut values: [Option<String>; 4] = Default::default();
        let names = ["generator", "version", "voice", "manifest-sha256"];
        for clause in clauses {
            let Some((key, value)) = clause.split_once('=') else {
                return Err(AudioError::BadProvenance {
                    field: "comment",
                    reason: "a clause is not key=value",
                });
            };
            let Some(i) = names.iter().position(|&n| n == key) else {
                return Err(AudioError::BadProvenance {
                    field: "comment",
                    reason: "unknown key",
                });
            };
            let slot = values.get_mut(i).ok_or(AudioError::BadProvenance {
                field: "comment",
                reason: "unknown key",
            })?;
            if slot.replace(value.to_owned()).is_some() {
                return Err(AudioError::BadProvenance {
                    field: "comment",
                    reason: "a key occurs twice",
                });
            }
        }
        let [Some(generator), Some(version), Some(voice), Some(digest)] = values else {
            return Err(AudioError::BadProvenance {
                field: "comment",
                reason: "a key is missing",
            });
        };
        Self::new(generator, version, voice, digest).map(Some)
    }

    /// The complete `LIST`/`INFO` chunk, header included.
    pub fn info_chunk(&self) -> Vec<u8> {
        let mut body = b"INFO".to_vec();
        for (id, text) in [(b"ISFT", self.software()), (b"ICMT", self.comment())] {
            // NUL-terminated, padded to an even size; fields are capped, so
            // the sizes fit in a u32.
            let len = text.len() + 1;
            body.extend_from_slice(id);
            body.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
            body.extend_from_slice(text.as_bytes());
            body.push(0);
            if len % 2 == 1 {
                body.push(0);
            }
        }
        let mut chunk = b"LIST".to_vec();
        chunk.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
        chunk.extend_from_slice(&body);
        chunk
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_field(field: &'static str, value: &str) -> Result<(), AudioError> {
    let reason = if value.is_empty() {
        "empty"
    } else if value.len() > MAX_FIELD_BYTES {
        "longer than 256 bytes"
    } else if value
        .chars()
        .any(|c| c.is_control() || c == ';' || c == '=')
    {
        "contains a control character, `;` or `=`"
    } else {
        return Ok(());
    };
    Err(AudioError::BadProvenance { field, reason })
}

/// The `LIST`/`INFO` fields of a WAV file, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InfoFields {
    /// `ISFT`: the software that wrote the file.
    pub software: Option<String>,
    /// `ICMT`: the comment.
    pub comment: Option<String>,
}

/// Parses the body of a `LIST` chunk of form `INFO` (form type included).
/// Sub-chunks other than `ISFT` and `ICMT` are skipped; every size is checked.
pub(crate) fn parse_info(body: &[u8], offset: u64) -> Result<InfoFields, AudioError> {
    let bad = |reason: &'static str| AudioError::BadInfoChunk { offset, reason };
    let mut fields = InfoFields::default();
    let mut pos = 4usize;
    while pos < body.len() {
        let (Some(id), Some(size)) = (body.get(pos..pos + 4), body.get(pos + 4..pos + 8)) else {
            return Err(bad("a field header is truncated"));
        };
        let size = u32::from_le_bytes(
            size.try_into()
                .map_err(|_| bad("a field header is truncated"))?,
        );
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let start = pos + 8;
        let Some(raw) = body.get(start..).and_then(|rest| rest.get(..size)) else {
            return Err(bad("a field is longer than the chunk"));
        };
        let slot = match id {
            b"ISFT" => Some(&mut fields.software),
            b"ICMT" => Some(&mut fields.comment),
            _ => None,
        };
        if let Some(slot) = slot {
            // Text up to the first NUL; writers differ on whether they count it.
            let text = raw.split(|&b| b == 0).next().unwrap_or_default();
            let text = std::str::from_utf8(text).map_err(|_| bad("a text field is not UTF-8"))?;
            if slot.replace(text.to_owned()).is_some() {
                return Err(bad("a field occurs twice"));
            }
        }
        pos = start + size + (size & 1);
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> String {
        "ab".repeat(32)
    }

    #[test]
    fn comment_round_trips() -> Result<(), AudioError> {
        let p = Provenance::new("Signet", "0.1.0", "en_US-joe-medium", digest())?;
        assert_eq!(
            p.comment(),
            format!("synthetic speech; generator=Signet; version=0.1.0; voice=en_US-joe-medium; manifest-sha256={}", digest())
        );
        assert_eq!(Provenance::parse_comment(&p.comment())?, Some(p));
        assert_eq!(Provenance::parse_comment("recorded in a studio")?, None);
        Ok(())
    }

    #[test]
    fn ambiguous_fields_are_refused() {
        for (voice, sha) in [
            ("a;b", digest()),
            ("a=b", digest()),
            ("a\nb", digest()),
            ("", digest()),
            ("v", "AB".repeat(32)),
            ("v", "ab".to_owned()),
        ] {
            assert!(
                matches!(
                    Provenance::new("Signet", "1", voice, sha),
                    Err(AudioError::BadProvenance { .. })
                ),
                "{voice:?}"
            );
        }
        assert!(Provenance::new("Signet", "1", "x".repeat(257), digest()).is_err());
    }

    #[test]
    fn malformed_comments_are_errors() {
        let d = digest();
        for text in [
            "synthetic speech; generator=Signet; version=1; voice=v".to_owned(),
            format!("synthetic speech; generator=Signet; version=1; voice=v; manifest-sha256={d}; voice=w"),
            format!("synthetic speech; generator=Signet; version=1; voice=v; manifest-sha256={d}; colour=red"),
            format!("synthetic speech; generator=Signet; version; voice=v; manifest-sha256={d}"),
            "synthetic speech; generator=Signet; version=1; voice=v; manifest-sha256=00".to_owned(),
        ] {
            assert!(
                matches!(
                    Provenance::parse_comment(&text),
                    Err(AudioError::BadProvenance { .. })
                ),
                "{text}"
            );
        }
    }
}
