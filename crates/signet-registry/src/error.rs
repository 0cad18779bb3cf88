//! The registry's single error type: every rejection names its cause and carries the data needed
//! to act on it. Signature and file-reading failures come from the layers below
//! ([`signet_sign::SignError`], [`signet_io::FileError`]) and are carried as they are.

use std::path::PathBuf;

/// Why a bundle (or one of its parts) was refused or could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A signature, key or trust store check failed (the threshold, with every rejected
    /// signature and why, included).
    #[error(transparent)]
    Sign(#[from] signet_sign::SignError),
    /// A file could not be read (missing, a link or special file, over its cap).
    #[error(transparent)]
    File(#[from] signet_io::FileError),
    /// A voice name that is not a plain name (paths are never accepted).
    #[error("invalid voice name {name:?}: {reason}; use 1 to 128 ASCII letters, digits, `_`, `-` and `.`, not starting with `.`")]
    BadVoiceName {
        /// The name given (truncated to 128 characters).
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// No home folder could be determined for the store.
    #[error("cannot find Signet's home folder: set SIGNET_HOME (or XDG_DATA_HOME or HOME)")]
    NoHome,
    /// An operating-system call on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Something is larger than the cap the registry enforces before reading or allocating.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was too large (a file name, "safetensors header", ...).
        what: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// `manifest.toml` is not valid TOML or does not match the manifest schema (unknown keys included).
    #[error("manifest.toml is malformed: {reason}")]
    ManifestSyntax {
        /// The parser's description of the problem.
        reason: String,
    },
    /// `manifest.toml` parses but a value is not acceptable.
    #[error("manifest field `{field}` is invalid: {reason}")]
    ManifestInvalid {
        /// The offending field.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The manifest declares a bundle format this version of Signet does not read.
    #[error("unsupported bundle format {found:?} (expected {expected:?})")]
    UnsupportedFormat {
        /// The format string found in the manifest.
        found: String,
        /// The format string this crate reads.
        expected: &'static str,
    },
    /// A file name in the manifest (or handed to the writer) is not a plain relative name.
    #[error("bad file name {name:?}: {reason}")]
    BadFileName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The same file name is listed twice.
    #[error("file {name:?} is listed more than once")]
    DuplicateFile {
        /// The repeated name.
        name: String,
    },
    /// A file the manifest lists is not in the bundle directory.
    #[error("file {name:?} is listed in the manifest but missing")]
    MissingFile {
        /// The missing file.
        name: String,
    },
    /// The bundle directory holds an entry the manifest does not list.
    #[error("entry {name:?} is in the bundle directory but not listed in the manifest")]
    UnlistedFile {
        /// The unlisted entry's name (lossily decoded if it is not UTF-8).
        name: String,
    },
    /// The bundle directory holds a pronunciation lexicon the manifest does not list. Only
    /// a listed, signed lexicon is ever read; a stray one refuses the bundle, like any
    /// unlisted entry, with this more precise message.
    #[error(
        "{name:?} in the bundle directory looks like a pronunciation lexicon, but the signed \
         manifest does not list it, so the voice is refused; a bundle's lexicon must be named \
         by `[lexicon]` and listed in `files` (re-import the voice with `--lexicon {name}`), \
         or the file removed"
    )]
    UnlistedLexicon {
        /// The unlisted file's name.
        name: String,
    },
    /// A lexicon offered to an importer is written for another language than the voice's.
    #[error(
        "the lexicon is written for {lexicon_language:?} but the voice speaks \
         {voice_language:?}; give a lexicon for the voice's language (or one for its primary \
         language, such as \"en\" for \"en_US\")"
    )]
    LexiconLanguage {
        /// The lexicon's declared language.
        lexicon_language: String,
        /// The voice's language.
        voice_language: String,
    },
    /// A listed entry is a symlink, directory, device or other non-regular file.
    #[error("{name:?} is not a regular file (symlinks and directories are refused)")]
    NotARegularFile {
        /// The entry's name.
        name: String,
    },
    /// A file's length differs from the size the manifest declares.
    #[error("file {file:?} has {found} bytes, the manifest declares {expected}")]
    SizeMismatch {
        /// The file.
        file: String,
        /// Declared size.
        expected: u64,
        /// Size actually read (at most declared + 1: reading stops there).
        found: u64,
    },
    /// A file's SHA-256 differs from the digest the manifest declares.
    #[error("file {file:?} has SHA-256 {found}, the manifest declares {expected}")]
    DigestMismatch {
        /// The file.
        file: String,
        /// Declared digest (lower-case hex).
        expected: String,
        /// Digest of the bytes read (lower-case hex).
        found: String,
    },
    /// A safetensors file (or the tensors handed to the writer) is malformed.
    #[error("invalid safetensors data: {reason}")]
    SafeTensors {
        /// What is wrong.
        reason: String,
    },
    /// The writer refuses to replace an existing path.
    #[error("{path} already exists; remove it first to write a new bundle there")]
    AlreadyExists {
        /// The existing path.
        path: PathBuf,
    },
    /// `manifest.toml` is not byte for byte the payload its signature envelope signs.
    #[error("manifest.toml differs from the manifest signed in {signature_file}")]
    ManifestNotSigned {
        /// The envelope file.
        signature_file: &'static str,
    },
    /// A bundle older than (or as old as, but different from) the installed one was offered.
    #[error("rollback refused: voice {name:?} version {installed} is installed, the bundle offered is version {offered}")]
    Rollback {
        /// The voice.
        name: String,
        /// The installed version.
        installed: u64,
        /// The version offered.
        offered: u64,
    },
    /// A bundle older than the highest version of that voice ever installed here, at install
    /// or at load (an older signed bundle copied over the installed one).
    #[error(
        "rollback refused: voice {name:?} version {highest} was installed before (recorded in \
         {record}), this bundle is version {offered}; install version {highest} or later, or \
         delete the record to downgrade on purpose"
    )]
    RollbackBelowRecord {
        /// The voice.
        name: String,
        /// The highest version installed before.
        highest: u64,
        /// The version offered or found installed.
        offered: u64,
        /// The file holding the record.
        record: PathBuf,
    },
    /// A version record (rollback protection) is damaged.
    #[error("version record {path} is damaged: {reason}; restore it, or delete it to start again")]
    VersionRecordInvalid {
        /// The record.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A signed bundle names another voice than the one it was installed or listed as
    /// (mix-and-match).
    #[error("bundle is signed as voice {found:?}, but was found under the name {expected:?}")]
    NameMismatch {
        /// The name it was asked for or listed under.
        expected: String,
        /// The name its signed manifest carries.
        found: String,
    },
    /// A signed index payload is malformed.
    #[error("index is malformed: {reason}")]
    IndexInvalid {
        /// What is wrong.
        reason: String,
    },
    /// The index expired (a frozen or replayed index).
    #[error(
        "index version {version} expired at {expired}; refusing a stale index (freeze attack?)"
    )]
    IndexExpired {
        /// The index's version.
        version: u64,
        /// Its expiry (RFC 3339).
        expired: String,
    },
    /// The index is older than (or as old as, but different from) the last one accepted.
    #[error("index rollback refused: version {seen} was already seen, the server offers version {offered}")]
    IndexRollback {
        /// The last accepted version.
        seen: u64,
        /// The version offered.
        offered: u64,
    },
    /// The index lists no bundle of that name.
    #[error("the index lists no bundle named {name:?}")]
    NotInIndex {
        /// The name asked for.
        name: String,
    },
    /// A fetched bundle is not the one its index entry describes.
    #[error("bundle {name:?} does not match its index entry: {reason}")]
    IndexMismatch {
        /// The index entry's name.
        name: String,
        /// What differs.
        reason: String,
    },
    /// No voice of that name is installed.
    #[error("voice {name:?} is not installed")]
    NotInstalled {
        /// The voice.
        name: String,
    },
    /// The manifest could not be serialized.
    #[error("cannot serialize the manifest: {reason}")]
    Serialize {
        /// The serializer's description of the problem.
        reason: String,
    },
    /// A release's `SHA256SUMS` is malformed (line 0: the file as a whole).
    #[error("release checksum list, line {line}: {reason}")]
    ReleaseSumsInvalid {
        /// The 1-based line, or 0 for the whole file.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A release's `SHA256SUMS` is not the list its envelope signs.
    #[error("{sums_file} differs from the checksum list signed in {envelope_file}")]
    ReleaseNotSigned {
        /// The checksum list's file name.
        sums_file: &'static str,
        /// The envelope's file name.
        envelope_file: &'static str,
    },
    /// The release folder lacks its checksum list or the list's signature.
    #[error(
        "the release folder has no {name}: a release is checked through its signed checksum \
         list, SHA256SUMS and its signature SHA256SUMS.dsse.json, which must sit beside the files"
    )]
    ReleaseMissingSignedList {
        /// `SHA256SUMS` or `SHA256SUMS.dsse.json`.
        name: &'static str,
    },
    /// An artefact listed in `SHA256SUMS` is missing from the release folder.
    #[error("release artefact {name:?} is listed in SHA256SUMS but missing")]
    ReleaseMissingFile {
        /// The missing artefact.
        name: String,
    },
    /// The release folder holds an entry `SHA256SUMS` does not list.
    #[error("{name:?} is in the release folder but not listed in SHA256SUMS")]
    ReleaseUnlistedFile {
        /// The unlisted entry (lossily decoded if it is not UTF-8).
        name: String,
    },
    /// A release artefact's digest differs from the signed list.
    #[error("release artefact {file:?} has SHA-256 {found}, SHA256SUMS lists {expected}")]
    ReleaseDigestMismatch {
        /// The artefact.
        file: String,
        /// The digest `SHA256SUMS` lists.
        expected: String,
        /// The digest of the file.
        found: String,
    },
}

impl RegistryError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn safetensors(reason: impl Into<String>) -> Self {
        Self::SafeTensors {
            reason: reason.into(),
        }
    }
}
