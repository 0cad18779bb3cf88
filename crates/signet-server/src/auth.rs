//! API keys: stored as SHA-256 hashes, checked in constant time.
//!
//! A key file holds one `id:sha256hex` per line (`#` starts a comment), or,
//! when its name ends in `.toml`, `[[key]]` tables with `id` and `sha256`
//! and, optionally, that key's own `requests_per_minute`,
//! `audio_seconds_per_minute` and `max_concurrent`.
//! The environment variable named by `auth.keys_env` may hold more entries,
//! comma-separated. The server never sees or stores a key in the clear: a
//! request's bearer token is hashed and the hash compared with every stored
//! hash, without stopping at the first match, so timing tells nothing about
//! which key or how much of it matched.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{AuthConfig, AuthMode};
use crate::ServerError;

/// Largest key file read, in bytes.
const MAX_KEYS_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Longest key id.
const MAX_KEY_ID_LEN: usize = 64;
/// The id under which requests without a key are limited and logged;
/// reserved, so that no key can share their bucket.
pub(crate) const ANONYMOUS: &str = "anonymous";
/// Longest bearer token looked at.
pub(crate) const MAX_TOKEN_LEN: usize = 512;

/// One configured key: its id (for logs and limits) and its hash.
#[derive(Debug, Clone)]
struct KeyEntry {
    id: String,
    hash: [u8; 32],
    limits: KeyLimits,
}

/// Per-key overrides of the `[auth]` limits (TOML key files only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KeyLimits {
    pub(crate) requests_per_minute: Option<u32>,
    pub(crate) audio_seconds_per_minute: Option<u32>,
    pub(crate) max_concurrent: Option<usize>,
}

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A configured key, by id, with its own limits if it has any.
    Key(String, KeyLimits),
    /// Anonymous mode.
    Anonymous,
}

impl Caller {
    pub(crate) fn limits(&self) -> KeyLimits {
        match self {
            Caller::Key(_, l) => *l,
            Caller::Anonymous => KeyLimits::default(),
        }
    }

    pub(crate) fn id(&self) -> &str {
        match self {
            Caller::Key(id, _) => id,
            Caller::Anonymous => ANONYMOUS,
        }
    }
}

/// The configured keys.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    mode: AuthMode,
    entries: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileToml {
    #[serde(default)]
    key: Vec<KeyToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyToml {
    id: String,
    sha256: String,
    requests_per_minute: Option<u32>,
    audio_seconds_per_minute: Option<u32>,
    max_concurrent: Option<usize>,
}

impl Keys {
    /// Loads keys as the config says; key mode without any key is an error.
    pub(crate) fn load(cfg: &AuthConfig) -> Result<Self, ServerError> {
        let mut entries = Vec::new();
        if let Some(path) = &cfg.keys_file {
            entries.extend(read_key_file(path)?);
        }
        if !cfg.keys_env.is_empty() {
            if let Ok(v) = std::env::var(&cfg.keys_env) {
                let origin = format!("environment variable {}", cfg.keys_env);
                for (i, item) in v.split(',').enumerate() {
                    let item = item.trim();
                    if !item.is_empty() {
                        entries.push(parse_entry(item, &origin, i + 1)?);
                    }
                }
            }
        }
        let mut ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
            return Err(ServerError::KeysParse {
                origin: "API keys".to_owned(),
                entry: 0,
                reason: "a key id appears twice",
            });
        }
        if cfg.mode == AuthMode::Keys && entries.is_empty() {
            return Err(ServerError::NoKeys);
        }
        Ok(Self {
            mode: cfg.mode,
            entries,
        })
    }

    /// Number of keys configured.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Who is calling, given the `Authorization` header's value; `None`
    /// means the request is refused (missing or unknown key).
    ///
    /// In anonymous mode a request without credentials is anonymous, but one
    /// that presents a key must present a valid one.
    pub(crate) fn check(&self, authorization: Option<&[u8]>) -> Option<Caller> {
        let Some(value) = authorization else {
            return (self.mode == AuthMode::Anonymous).then_some(Caller::Anonymous);
        };
        let token = value.strip_prefix(b"Bearer ")?;
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let hash: [u8; 32] = Sha256::digest(token).into();
        let mut found: Option<&KeyEntry> = None;
        for e in &self.entries {
            // Every entry is compared; the branch below depends only on the
            // comparison's result, which is the same for all equal hashes.
            let eq: bool = e.hash.as_slice().ct_eq(hash.as_slice()).into();
            if eq {
                found = Some(e);
            }
        }
        found.map(|e| Caller::Key(e.id.clone(), e.limits))
    }
}

/// Hex SHA-256 of a key, as key files store it.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn read_key_file(path: &Path) -> Result<Vec<KeyEntry>, ServerError> {
    use std::io::Read;
    let read_err = |source| ServerError::KeysRead {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut text = String::new();
    file.take(MAX_KEYS_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    let origin = path.display().to_string();
    if text.len() as u64 > MAX_KEYS_FILE_BYTES {
        return Err(ServerError::KeysParse {
            origin,
            entry: 0,
            reason: "file is larger than 4 MiB",
        });
    }
    if path.extension().is_some_and(|e| e == "toml") {
        let parsed: KeyFileToml = toml::from_str(&text).map_err(|_| ServerError::KeysParse {
            origin: origin.clone(),
            entry: 0,
            reason: "not a TOML file of [[key]] tables with `id` and `sha256`",
        })?;
        return parsed
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mut e = entry(&k.id, &k.sha256, &origin, i + 1)?;
                let zero = k.requests_per_minute == Some(0)
                    || k.audio_seconds_per_minute == Some(0)
                    || k.max_concurrent == Some(0);
                if zero {
                    return Err(ServerError::KeysParse {
                        origin: origin.clone(),
                        entry: i + 1,
                        reason: "a per-key limit must be at least 1",
                    });
                }
                e.limits = KeyLimits {
                    requests_per_minute: k.requests_per_minute,
                    audio_seconds_per_minute: k.audio_seconds_per_minute,
                    max_concurrent: k.max_concurrent,
                };
                Ok(e)
            })
            .collect();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            out.push(parse_entry(line, &origin, i + 1)?);
        }
    }
    Ok(out)
}

fn parse_entry(item: &str, origin: &str, n: usize) -> Result<KeyEntry, ServerError> {
    let Some((id, hash)) = item.split_once(':') else {
        return Err(ServerError::KeysParse {
            origin: origin.to_owned(),
            entry: n,
            reason: "expected `id:sha256hex`",
        });
    };
    entry(id.trim(), hash.trim(), origin, n)
}

fn entry(id: &str, hash: &str, origin: &str, n: usize) -> Result<KeyEntry, ServerError> {
    let err = |reason| ServerError::KeysParse {
        origin: origin.to_owned(),
        entry: n,
        reason,
    };
    let id_ok = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !id_ok {
        return Err(err(
            "key id must be 1 to 64 letters, digits, `_`, `-` or `.`",
        ));
    }
    if id.eq_ignore_ascii_case(ANONYMOUS) {
        return Err(err(
            "key id `anonymous` is reserved: requests without a key (anonymous mode) use it for \
             their shared limits; give this key another id",
        ));
    }
    let mut bytes = [0u8; 32];
    if hash.len() != 64 || hex::decode_to_slice(hash, &mut bytes).is_err() {
        return Err(err(
            "hash must be 64 hex digits: the SHA-256 of the key (`printf %s KEY | sha256sum`)",
        ));
    }
    Ok(KeyEntry {
        id: id.to_owned(),
        hash: bytes,
        limits: KeyLimits::default(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn keys(mode: AuthMode, entries: &[(&str, &str)]) -> Keys {
        Keys {
            mode,
            entries: entries
                .iter()
                .map(|(id, key)| entry(id, &hash_key(key), "test", 1).unwrap())
                .collect(),
        }
    }

    #[test]
    fn right_wrong_and_missing_keys() {
        let k = keys(AuthMode::Keys, &[("alice", "s3cret"), ("bob", "other")]);
        assert_eq!(
            k.check(Some(b"Bearer s3cret")),
            Some(Caller::Key("alice".into(), KeyLimits::default()))
        );
        assert_eq!(
            k.check(Some(b"Bearer other")),
            Some(Caller::Key("bob".into(), KeyLimits::default()))
        );
        assert_eq!(k.check(Some(b"Bearer s3cre")), None);
        assert_eq!(k.check(Some(b"Basic s3cret")), None);
        assert_eq!(k.check(Some(b"Bearer ")), None);
        assert_eq!(k.check(None), None);
    }

    #[test]
    fn anonymous_only_when_configured_and_bad_keys_still_fail() {
        let k = keys(AuthMode::Anonymous, &[("alice", "s3cret")]);
        assert_eq!(k.check(None), Some(Caller::Anonymous));
        assert_eq!(k.check(Some(b"Bearer nope")), None);
    }

    #[test]
    fn key_file_lines_and_toml() {
        let dir = tempfile::tempdir().unwrap();
        let h = hash_key("k1");
        let txt = dir.path().join("keys");
        std::fs::write(&txt, format!("# comment\nalice:{h}\n\n")).unwrap();
        let cfg = AuthConfig {
            keys_file: Some(txt.clone()),
            keys_env: String::new(),
            ..AuthConfig::default()
        };
        assert_eq!(Keys::load(&cfg).unwrap().len(), 1);
        let toml = dir.path().join("keys.toml");
        std::fs::write(
            &toml,
            format!("[[key]]\nid = \"a\"\nsha256 = \"{h}\"\nrequests_per_minute = 5\n"),
        )
        .unwrap();
        let cfg = AuthConfig {
            keys_file: Some(toml),
            ..cfg
        };
        let k = Keys::load(&cfg).unwrap();
        assert_eq!(k.len(), 1);
        let caller = k.check(Some(b"Bearer k1")).unwrap();
        assert_eq!(caller.limits().requests_per_minute, Some(5));
        std::fs::write(&txt, "alice:abc\n").unwrap();
        let cfg = AuthConfig {
            keys_file: Some(txt),
            ..cfg
        };
        let e = Keys::load(&cfg).unwrap_err().to_string();
        assert!(e.contains("entry 1") && e.contains("64 hex"), "{e}");
    }

    #[test]
    fn the_key_id_anonymous_is_reserved() {
        for (i, id) in ["anonymous", "Anonymous"].into_iter().enumerate() {
            let line = format!("{id}:{}", hash_key("k"));
            let e = parse_entry(&line, "SIGNET_API_KEYS", i + 1)
                .unwrap_err()
                .to_string();
            assert!(e.contains("reserved") && e.contains("another id"), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("keys.toml");
        std::fs::write(
            &toml,
            format!(
                "[[key]]\nid = \"anonymous\"\nsha256 = \"{}\"\n",
                hash_key("k")
            ),
        )
        .unwrap();
        let cfg = AuthConfig {
            keys_file: Some(toml),
            keys_env: String::new(),
            mode: AuthMode::Anonymous,
            ..AuthConfig::default()
        };
        let e = Keys::load(&cfg).unwrap_err().to_string();
        assert!(e.contains("entry 1") && e.contains("reserved"), "{e}");
        // Ids that only contain the word are fine.
        assert!(parse_entry(&format!("anonymous2:{}", hash_key("k")), "x", 1).is_ok());
    }

    #[test]
    fn key_mode_without_keys_is_an_error() {
        let cfg = AuthConfig {
            keys_env: String::new(),
            ..AuthConfig::default()
        };
        assert!(matches!(Keys::load(&cfg), Err(ServerError::NoKeys)));
    }
}
