//! Reads PyTorch checkpoint files as data: an allow-listed pickle interpreter that never runs
//! code.
//!
//! `torch.save` writes a Python pickle, and loading a pickle can import and call anything, so a
//! model file can run code on the machine that opens it. This crate reads the same files without
//! Python and without executing anything:
//!
//! - the **zip format** (`<prefix>/data.pkl`, `<prefix>/data/<key>`, `version`, `byteorder`),
//!   through a small strict zip reader of its own (stored entries only; no path tricks,
//!   duplicates, overlaps or compression, so no zip bomb), and the **legacy stream format**
//!   written before torch 1.6 or with `_use_new_zipfile_serialization=False`;
//! - the pickle by Signet's own interpreter, which knows a short **allow-list** of globals
//!   (plain containers, `collections.OrderedDict`/`defaultdict`, torch's tensor and parameter
//!   reconstructions and storage classes, numpy scalars and dtypes) and builds each of them in
//!   Rust; any other global, and any call that is not an allow-listed reconstruction, is refused
//!   with its module and attribute ([`CheckpointError::ForbiddenGlobal`],
//!   [`CheckpointError::ForbiddenCall`]);
//! - everything bounded ([`Limits`]): pickle size, objects, memo, stack, string and integer
//!   lengths, nesting, storages, tensors, zip entries; every tensor view is checked against the
//!   bytes of its storage.
//!
//! A Coqui trainer checkpoint (`model`, `config`, `optimizer`, `scheduler`, `scaler`, `step`,
//! `epoch`, `date`, `model_loss`) is recognized: the training state under [`SKIPPED_KEYS`] is
//! walked (it must be data too) but its tensors are never materialized.
//!
//! [`float_params`] turns a state dict into named `f32` parameters with weight norm folded (both
//! of PyTorch's forms), as importers want them.
//!
//! [`scan`] is the report behind `signet scan`: what a pickle-based loader would import and
//! call, without doing it.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bytes = std::fs::read("tests/data/fixtures/hifigan_tiny_zip.pth")?;
//! let checkpoint = signet_checkpoint::read(&bytes, &signet_checkpoint::Limits::default())?;
//! for (name, tensor) in checkpoint.state_dict()? {
//!     println!("{name}: {} {:?}", tensor.dtype, tensor.shape);
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod allow;
mod error;
mod limits;
mod params;
mod pickle;
mod scan;
mod torch;
mod value;
mod zip;

use std::collections::HashMap;

pub use allow::ALLOW_LIST;
pub use error::CheckpointError;
pub use limits::Limits;
pub use params::{float_params, Param};
pub use scan::{scan, CallReport, GlobalReport, PartReport, ScanReport, TensorReport, Verdict};
pub use torch::{Format, SKIPPED_KEYS};
pub use value::{Dtype, Tensor, Value};

use pickle::{Mode, StorageTable};

/// How the checkpoint's top level is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// A trainer checkpoint: a dict with the model's state dict under `model_key` (`model`,
    /// `state_dict` or `model_state_dict`) beside config and training state.
    Trainer {
        /// The key holding the state dict.
        model_key: String,
    },
    /// A bare state dict: parameter names to tensors.
    StateDict,
    /// Something else (a list, a dict without tensors...).
    Other,
}

/// Keys that hold a model's state dict in a trainer checkpoint, in the order they are tried.
const MODEL_KEYS: &[&str] = &["model", "state_dict", "model_state_dict"];

/// A checkpoint read as data.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    format: Format,
    layout: Layout,
    root: Value,
}

impl Checkpoint {
    /// The file format.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The top-level layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Everything the pickle holds (training state as [`Value::Skipped`]).
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The trainer checkpoint's `config` (Coqui stores its config there as a plain dict).
    pub fn config(&self) -> Option<&Value> {
        match self.layout {
            Layout::Trainer { .. } => self.root.get("config"),
            _ => None,
        }
    }

    /// The model's parameters in file order: the trainer's state dict, or the bare state dict.
    /// Refused when the layout has none, or a key is not a string or a value not a tensor.
    pub fn state_dict(&self) -> Result<Vec<(&str, &Tensor)>, CheckpointError> {
        let dict = match &self.layout {
            Layout::Trainer { model_key } => self.root.get(model_key),
            Layout::StateDict => Some(&self.root),
            Layout::Other => None,
        };
        let Some(Value::Dict(items)) = dict else {
            return Err(CheckpointError::BadLayout {
                reason: "the checkpoint holds no state dict (neither a `model` entry nor a dict of tensors)"
                    .into(),
            });
        };
        items
            .iter()
            .map(|(k, v)| match (k, v) {
                (Value::Str(name), Value::Tensor(t)) => Ok((name.as_str(), t)),
                (Value::Str(name), other) => Err(CheckpointError::BadLayout {
                    reason: format!(
                        "state dict entry {name} is a {}, not a tensor",
                        other.kind()
                    ),
                }),
                (other, _) => Err(CheckpointError::BadLayout {
                    reason: format!("a state dict key is a {}, not a string", other.kind()),
                }),
            })
            .collect()
    }
}

/// Reads a checkpoint from its bytes. Refuses, with the reason, anything that is not plain
/// data or breaks a bound in `limits`; nothing in the file is ever executed.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, CheckpointError> {
    read_inner(bytes, limits, true)
}

/// Runs every check [`read`] runs, without copying tensor values (the scan's second opinion).
pub(crate) fn check(bytes: &[u8], limits: &Limits) -> Result<(), CheckpointError> {
    read_inner(bytes, limits, false).map(|_| ())
}

fn read_inner(bytes: &[u8], limits: &Limits, copy: bool) -> Result<Checkpoint, CheckpointError> {
    let (format, ev, decls, storage_bytes) = if zip::looks_like_zip(bytes) {
        let src = torch::open_zip(bytes, limits, true)?;
        check_pickle_len(src.pickle.len(), limits)?;
        let mut table = StorageTable::default();
        let ev = pickle::evaluate(src.pickle, Mode::Strict, limits, &mut table)?;
        if ev.consumed != src.pickle.len() {
            return Err(CheckpointError::malformed(
                ev.consumed,
                "data follows the pickle's STOP",
            ));
        }
        let map = torch::match_zip_storages(&table.decls, &src.storages, limits)?;
        (src.format, ev, table.decls, map)
    } else if looks_like_pickle(bytes) {
        let header = torch::legacy_header(bytes, limits, Mode::Strict)?;
        let mut table = StorageTable::default();
        let code = torch::window(bytes, header.object_at, limits);
        let ev = pickle::evaluate(code, Mode::Strict, limits, &mut table)?;
        let after = header.object_at + ev.consumed;
        let (map, _keys) = torch::legacy_records(
            bytes.get(after..).unwrap_or(&[]),
            after,
            &table.decls,
            limits,
            Mode::Strict,
        )?;
        (Format::Legacy, ev, table.decls, map)
    } else {
        return Err(not_a_checkpoint(bytes));
    };
    let layout = layout_of(&ev);
    let skip: &[&str] = match layout {
        Layout::Trainer { .. } => SKIPPED_KEYS,
        _ => &[],
    };
    let mut conv = torch::Converter {
        ev: &ev,
        decls: &decls,
        bytes: &storage_bytes,
        limits,
        values: 0,
        tensor_bytes: 0,
        budget: torch::tensor_budget(bytes.len(), limits),
        copy,
    };
    let root = conv.root(skip)?;
    Ok(Checkpoint {
        format,
        layout,
        root,
    })
}

fn check_pickle_len(len: usize, limits: &Limits) -> Result<(), CheckpointError> {
    if len as u64 > limits.max_pickle_bytes {
        return Err(CheckpointError::limit(
            "the pickle's bytes",
            "max_pickle_bytes",
            len as u64,
            limits.max_pickle_bytes,
        ));
    }
    Ok(())
}

/// Whether `bytes` may start a pickle: the protocol-2+ header, or a protocol 0/1 opcode that
/// can open one.
pub(crate) fn looks_like_pickle(bytes: &[u8]) -> bool {
    matches!(
        bytes.first(),
        Some(
            0x80 | b'('
                | b'c'
                | b'}'
                | b']'
                | b')'
                | b'N'
                | b'I'
                | b'L'
                | b'S'
                | b'V'
                | b'X'
                | b'J'
                | b'K'
                | b'M'
                | b'F'
                | b'G'
                | b'd'
                | b'l'
                | b'P'
        )
    )
}

pub(crate) fn not_a_checkpoint(bytes: &[u8]) -> CheckpointError {
    let head: Vec<u8> = bytes.iter().take(8).copied().collect();
    CheckpointError::NotACheckpoint {
        reason: format!(
            "it is neither a zip archive nor a pickle stream (it starts with {})",
            zip::escape_bytes(&head)
        ),
    }
}

fn layout_of(ev: &pickle::Evaluated) -> Layout {
    let pickle::Obj::Dict(items) = ev.obj(ev.root) else {
        return Layout::Other;
    };
    let keys: HashMap<&str, pickle::Id> = items
        .iter()
        .filter_map(|(k, v)| match ev.obj(*k) {
            pickle::Obj::Str(s) => Some((s.as_str(), *v)),
            _ => None,
        })
        .collect();
    for key in MODEL_KEYS {
        if matches!(
            keys.get(key).map(|v| ev.obj(*v)),
            Some(pickle::Obj::Dict(_))
        ) {
            return Layout::Trainer {
                model_key: (*key).to_owned(),
            };
        }
    }
    if !items.is_empty()
        && items
            .iter()
            .all(|(_, v)| matches!(ev.obj(*v), pickle::Obj::Tensor(_)))
    {
        return Layout::StateDict;
    }
    Layout::Other
}

/// Entry points for the fuzz targets in `fuzz/` (built with `--cfg fuzzing`); not an API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads and scans `bytes` as a checkpoint, with limits small enough for the fuzzer: neither
    /// may panic, hang or allocate beyond the limits.
    pub fn read_checkpoint(bytes: &[u8]) {
        let mut limits = crate::Limits::default();
        limits.max_tensor_elements = 1 << 20;
        limits.max_total_tensor_bytes = 64 << 20;
        limits.max_objects = 1 << 20;
        limits.max_values = 1 << 20;
        let _ = crate::read(bytes, &limits);
        let _ = crate::scan(bytes, &limits);
    }
}
