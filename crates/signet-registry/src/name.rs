//! Names that become paths: [`VoiceName`] and the plain-file-name rule both share.
//!
//! A voice name is used as a folder name in the store, a key in the index and the `name` of a
//! signed manifest, so it must never be a path. [`VoiceName`] is checked once, when it is made
//! ([`VoiceName::new`], [`FromStr`], `TryFrom`) or deserialized (a manifest or index entry with
//! a bad name does not parse), and is then trusted everywhere: the manifest, the store, install
//! and remove, index entries, the facade and the CLI take it instead of `&str`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

/// Longest voice name or bundle file name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// The rule for a plain name: `[A-Za-z0-9._-]`, 1 to [`MAX_NAME_LEN`] bytes, not starting with
/// a dot. This rules out `..`, separators, absolute paths, hidden files, white space, control
/// characters and anything a platform might reinterpret. `Err` says which part is broken.
pub(crate) fn plain_name_rule(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("longer than 128 bytes");
    }
    if name.contains(['/', '\\']) {
        return Err("contains a path separator");
    }
    if name.starts_with('.') {
        return Err("starts with a dot (`.`, `..` and hidden names are refused)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("only ASCII letters, digits, `.`, `_` and `-` are allowed");
    }
    Ok(())
}

/// Checks that `name` is a plain file name (see [`plain_name_rule`]).
pub(crate) fn check_plain_name(name: &str) -> Result<(), RegistryError> {
    plain_name_rule(name).map_err(|reason| RegistryError::BadFileName {
        name: truncated(name),
        reason,
    })
}

fn truncated(name: &str) -> String {
    name.chars().take(MAX_NAME_LEN).collect()
}

/// A voice name: `[A-Za-z0-9._-]{1,128}`, not starting with `.`, e.g. `en_US-joe-medium`.
/// Valid by construction, including when deserialized.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VoiceName(String);

impl fmt::Debug for VoiceName {
    /// Shown as the quoted name, as in messages (`"en_US-joe-medium"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl VoiceName {
    /// Longest voice name, in bytes.
    pub const MAX_LEN: usize = MAX_NAME_LEN;

    /// Checks `name`; [`RegistryError::BadVoiceName`] says which rule it breaks.
    pub fn new(name: &str) -> Result<Self, RegistryError> {
        match plain_name_rule(name) {
            Ok(()) => Ok(Self(name.to_owned())),
            Err(reason) => Err(RegistryError::BadVoiceName {
                name: truncated(name),
                reason,
            }),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VoiceName {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for VoiceName {
    type Error = RegistryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        plain_name_rule(&s).map_err(|reason| RegistryError::BadVoiceName {
            name: truncated(&s),
            reason,
        })?;
        Ok(Self(s))
    }
}

impl TryFrom<&str> for VoiceName {
    type Error = RegistryError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<VoiceName> for String {
    fn from(n: VoiceName) -> Self {
        n.0
    }
}

impl fmt::Display for VoiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for VoiceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<Path> for VoiceName {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl PartialEq<str> for VoiceName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for VoiceName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const BAD: [&str; 12] = [
        "",
        ".",
        "..",
        "../x",
        "/abs",
        "a/b",
        ".hidden",
        "a\\b",
        "a b",
        "é",
        "tab\there",
        "nul\0",
    ];

    #[test]
    fn accepts_plain_names() {
        for good in ["en_US-joe-medium", "a", "voice.v2", &"x".repeat(128)] {
            let n = VoiceName::new(good).unwrap();
            assert_eq!(n.as_str(), good);
            assert_eq!(good.parse::<VoiceName>().unwrap(), n);
        }
    }

    #[test]
    fn refuses_paths_empty_long_and_control_characters_on_construction() {
        let long = "x".repeat(VoiceName::MAX_LEN + 1);
        for bad in BAD.iter().copied().chain([long.as_str(), "bell\u{7}"]) {
            match VoiceName::new(bad) {
                Err(RegistryError::BadVoiceName { .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
            assert!(VoiceName::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_the_same_names_on_deserialize() {
        #[derive(Debug, Deserialize)]
        struct Holder {
            #[allow(dead_code)]
            name: VoiceName,
        }
        let long = "x".repeat(129);
        for bad in BAD.iter().copied().chain([long.as_str()]) {
            let json = serde_json::json!({ "name": bad }).to_string();
            assert!(serde_json::from_str::<Holder>(&json).is_err(), "{bad:?}");
        }
        let ok: Holder = serde_json::from_str(r#"{"name": "en_US-joe-medium"}"#).unwrap();
        assert_eq!(ok.name, "en_US-joe-medium");
    }
}
