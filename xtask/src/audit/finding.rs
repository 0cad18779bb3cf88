//! What the audit reports: one [`Finding`] per problem either tool found,
//! and a panic-free reader for the tools' JSON reports.

use std::fmt;

use serde_json::Value;

/// `v` at JSON pointer `path`, or null: reading a report never panics.
pub(super) fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.pointer(path).unwrap_or(&Value::Null)
}

/// One thing the tools found wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Finding {
    /// Which tool found it and in which lockfile.
    pub origin: String,
    /// The advisory id, or the name of the check (`rejected`, `banned`, ...).
    pub id: String,
    /// Crate name and version, if the finding is about one crate.
    pub krate: Option<String>,
    /// What is wrong.
    pub what: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.id)?;
        if let Some(k) = &self.krate {
            write!(f, " in {k}")?;
        }
        write!(f, ": {}; fix: {}", self.what, self.fix)
    }
}
