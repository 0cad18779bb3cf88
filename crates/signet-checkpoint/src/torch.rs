//! The two file layouts `torch.save` writes, and turning an evaluated pickle into values and
//! tensors.
//!
//! - Zip (torch 1.6 and later): `<prefix>/data.pkl` is the pickle; tensor bytes are the entries
//!   `<prefix>/data/<key>`, one per storage; `<prefix>/byteorder`, `version`,
//!   `.data/version`, `.data/serialization_id`, `.format_version` and `.storage_alignment` are
//!   small text entries. Every entry must be one of these.
//! - Legacy stream (`_use_new_zipfile_serialization=False`): five pickles in a row (the magic
//!   number, the protocol version 1001, a sys-info dict, the object, the sorted list of storage
//!   keys), then for each key an 8-byte little-endian element count and the storage's bytes.
//!   Nothing may follow the last storage.

use std::collections::{HashMap, HashSet};

use crate::error::CheckpointError;
use crate::limits::Limits;
use crate::pickle::{self, check_extent, Evaluated, Id, Mode, Obj, StorageDecl, StorageTable};
use crate::value::{Tensor, Value};
use crate::zip;

/// The legacy format's magic number, `0x1950a86a20f9469cfc6c`, as the little-endian bytes of
/// its `LONG1`.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
/// The legacy format's protocol version.
const LEGACY_PROTOCOL: i64 = 1001;
/// Newest zip serialization version read.
const MAX_ZIP_VERSION: u64 = 3;

/// Top-level keys of a trainer checkpoint that are never read: training state, not the model.
pub const SKIPPED_KEYS: &[&str] = &["optimizer", "scheduler", "scaler"];

/// Which of torch's layouts a file uses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The zip format; `prefix` is the folder every entry is in.
    Zip {
        /// The archive's top folder (`archive`, or the file's stem in older torch).
        prefix: String,
        /// The serialization version the archive declares, if any.
        version: Option<u64>,
    },
    /// The pre-1.6 stream format.
    Legacy,
}

/// Where a stored storage's bytes are.
pub(crate) struct Source<'a> {
    pub format: Format,
    /// The pickle, and for the legacy format the earlier pickles that must be plain data.
    pub pickle: &'a [u8],
    /// Storage bytes by key: the entries `data/<key>`.
    pub storages: HashMap<&'a str, &'a [u8]>,
    /// Entries that are not part of a checkpoint (zip only), for the scan.
    pub unexpected: Vec<zip::Entry<'a>>,
    /// Problems found in the archive's structure that the scan reports.
    pub problems: Vec<String>,
}

/// What the header of a legacy stream held.
pub(crate) struct LegacyHeader {
    /// Offset of the object pickle.
    pub object_at: usize,
}

/// Splits a zip checkpoint into its parts; `strict` refuses unexpected entries, the scan only
/// lists them.
pub(crate) fn open_zip<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    strict: bool,
) -> Result<Source<'a>, CheckpointError> {
    let entries = zip::read_archive(bytes, limits)?;
    let first = entries
        .first()
        .ok_or_else(|| CheckpointError::archive("the archive is empty"))?;
    let prefix = first.name.split('/').next().unwrap_or_default().to_owned();
    let mut pickle = None;
    let mut storages = HashMap::new();
    let mut unexpected = Vec::new();
    let mut problems = Vec::new();
    let mut version = None;
    let mut big_endian = false;
    for e in &entries {
        let Some(rest) = e
            .name
            .strip_prefix(prefix.as_str())
            .and_then(|r| r.strip_prefix('/'))
        else {
            let why = format!(
                "entries lie in more than one top folder ({prefix}/ and {}); torch writes one",
                e.name
            );
            if strict {
                return Err(CheckpointError::archive(why));
            }
            problems.push(why);
            unexpected.push(*e);
            continue;
        };
        match rest {
            "data.pkl" => pickle = Some(e.data),
            "byteorder" => match e.data {
                b"little" => {}
                b"big" => big_endian = true,
                _ => {
                    return Err(CheckpointError::archive(
                        "byteorder is neither little nor big",
                    ))
                }
            },
            "version" | ".data/version" => {
                let v = std::str::from_utf8(e.data)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or_else(|| {
                        CheckpointError::archive(format!("{} is not a number", e.name))
                    })?;
                version = Some(v);
            }
            ".data/serialization_id" | ".format_version" | ".storage_alignment" => {}
            r if r.starts_with("code/") || r == "constants.pkl" || r.starts_with("constants/") => {
                return Err(CheckpointError::Unsupported {
                    what: "a TorchScript archive (it holds code); export the model's state_dict \
                           with torch.save instead"
                        .into(),
                });
            }
            r => match r.strip_prefix("data/") {
                Some(key) if !key.is_empty() && !key.contains('/') => {
                    storages.insert(key, e.data);
                }
                _ => {
                    let why = format!(
                        "unexpected entry {} (torch.load never reads it; Signet reads only a checkpoint's own entries)",
                        e.name
                    );
                    if strict {
                        return Err(CheckpointError::archive(why));
                    }
                    problems.push(why);
                    unexpected.push(*e);
                }
            },
        }
    }
    if big_endian {
        return Err(CheckpointError::Unsupported {
            what: "a big-endian checkpoint".into(),
        });
    }
    if let Some(v) = version.filter(|&v| v > MAX_ZIP_VERSION) {
        return Err(CheckpointError::Unsupported {
            what: format!("serialization version {v} (Signet reads up to {MAX_ZIP_VERSION})"),
        });
    }
    let pickle = pickle.ok_or_else(|| {
        CheckpointError::archive(format!(
            "no {prefix}/data.pkl entry: not a torch.save archive"
        ))
    })?;
    Ok(Source {
        format: Format::Zip { prefix, version },
        pickle,
        storages,
        unexpected,
        problems,
    })
}

/// Runs the legacy stream's three header pickles and checks them.
pub(crate) fn legacy_header(
    bytes: &[u8],
    limits: &Limits,
    mode: Mode,
) -> Result<LegacyHeader, CheckpointError> {
    let mut pos = 0;
    for part in ["magic number", "protocol version", "sys info"] {
        let code = window(bytes, pos, limits);
        let ev = pickle::evaluate(code, mode, limits, &mut StorageTable::default())?;
        let ok = match (part, ev.obj(ev.root)) {
            ("magic number", Obj::BigInt(b)) => b.as_slice() == LEGACY_MAGIC,
            ("protocol version", Obj::Int(p)) => *p == LEGACY_PROTOCOL,
            ("sys info", Obj::Dict(items)) => {
                let little = items
                    .iter()
                    .find(|(k, _)| matches!(ev.obj(*k), Obj::Str(s) if s == "little_endian"));
                match little.map(|(_, v)| ev.obj(*v)) {
                    Some(Obj::Bool(false)) => {
                        return Err(CheckpointError::Unsupported {
                            what: "a big-endian checkpoint".into(),
                        })
                    }
                    _ => true,
                }
            }
            _ => false,
        };
        if !ok {
            return Err(CheckpointError::NotACheckpoint {
                reason: format!("the pickle stream's {part} is not torch's"),
            });
        }
        pos += ev.consumed;
    }
    Ok(LegacyHeader { object_at: pos })
}

/// At most `max_pickle_bytes` of the input from `pos`.
pub(crate) fn window<'a>(bytes: &'a [u8], pos: usize, limits: &Limits) -> &'a [u8] {
    let rest = bytes.get(pos..).unwrap_or(&[]);
    let cap = usize::try_from(limits.max_pickle_bytes).unwrap_or(usize::MAX);
    rest.get(..cap.min(rest.len())).unwrap_or(rest)
}

/// Reads the legacy storage records that follow the keys pickle: every declared storage once,
/// in the listed order, with its declared element count, and nothing after the last.
pub(crate) fn legacy_records<'a>(
    after_object: &'a [u8],
    base_offset: usize,
    decls: &[StorageDecl],
    limits: &Limits,
    mode: Mode,
) -> Result<(HashMap<String, &'a [u8]>, Evaluated), CheckpointError> {
    let code = window(after_object, 0, limits);
    let keys_ev = pickle::evaluate(code, mode, limits, &mut StorageTable::default())?;
    let keys: Vec<String> = match keys_ev.obj(keys_ev.root) {
        Obj::List(items) => items
            .iter()
            .map(|k| match keys_ev.obj(*k) {
                Obj::Str(s) => Ok(s.clone()),
                _ => Err(CheckpointError::malformed(
                    base_offset,
                    "a storage key is not a string",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(CheckpointError::malformed(
                base_offset,
                "the storage key list is not a list",
            ))
        }
    };
    let by_key: HashMap<&str, &StorageDecl> = decls.iter().map(|d| (d.key.as_str(), d)).collect();
    let mut pos = keys_ev.consumed;
    let mut out = HashMap::new();
    for key in &keys {
        let decl = by_key
            .get(key.as_str())
            .ok_or_else(|| CheckpointError::BadTensor {
                tensor: key.clone(),
                reason: "its storage record is listed but no tensor declares it".into(),
            })?;
        let head = after_object
            .get(pos..pos + 8)
            .ok_or_else(|| CheckpointError::BadTensor {
                tensor: key.clone(),
                reason: "the file ends before its storage record".into(),
            })?;
        let mut a = [0u8; 8];
        a.copy_from_slice(head);
        let count = u64::from_le_bytes(a);
        if count != decl.numel {
            return Err(CheckpointError::BadTensor {
                tensor: key.clone(),
                reason: format!(
                    "its storage record holds {count} elements, the pickle declared {}",
                    decl.numel
                ),
            });
        }
        pos += 8;
        let len = storage_len(decl, limits)?;
        let data = after_object
            .get(pos..)
            .and_then(|r| r.get(..len))
            .ok_or_else(|| CheckpointError::BadTensor {
                tensor: key.clone(),
                reason: format!("its storage needs {len} bytes but the file ends first"),
            })?;
        if out.insert(key.clone(), data).is_some() {
            return Err(CheckpointError::BadTensor {
                tensor: key.clone(),
                reason: "its storage record appears twice".into(),
            });
        }
        pos += len;
    }
    if let Some(missing) = decls.iter().find(|d| !out.contains_key(&d.key)) {
        return Err(CheckpointError::BadTensor {
            tensor: missing.key.clone(),
            reason: "the pickle declares its storage but the file has no record of it".into(),
        });
    }
    if pos != after_object.len() {
        return Err(CheckpointError::malformed(
            base_offset + pos,
            format!(
                "{} bytes follow the last storage record",
                after_object.len() - pos
            ),
        ));
    }
    Ok((out, keys_ev))
}

/// A storage's byte length, within limits.
pub(crate) fn storage_len(decl: &StorageDecl, limits: &Limits) -> Result<usize, CheckpointError> {
    decl.numel
        .checked_mul(decl.dtype.size() as u64)
        .filter(|&n| n <= limits.max_total_tensor_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            CheckpointError::limit(
                "a storage's bytes",
                "max_total_tensor_bytes",
                decl.numel.saturating_mul(decl.dtype.size() as u64),
                limits.max_total_tensor_bytes,
            )
        })
}

/// Checks that every declared storage has exactly its bytes, and (zip) that every storage
/// entry is declared.
pub(crate) fn match_zip_storages<'a>(
    decls: &[StorageDecl],
    entries: &HashMap<&'a str, &'a [u8]>,
    limits: &Limits,
) -> Result<HashMap<String, &'a [u8]>, CheckpointError> {
    let mut out = HashMap::new();
    for d in decls {
        let data = entries
            .get(d.key.as_str())
            .ok_or_else(|| CheckpointError::BadTensor {
                tensor: d.key.clone(),
                reason: format!(
                    "the pickle declares storage {} but the archive has no data/{} entry",
                    d.key, d.key
                ),
            })?;
        let len = storage_len(d, limits)?;
        if data.len() != len {
            return Err(CheckpointError::BadTensor {
                tensor: d.key.clone(),
                reason: format!(
                    "storage {} declares {} {} elements ({len} bytes) but its entry holds {} bytes",
                    d.key,
                    d.numel,
                    d.dtype,
                    data.len()
                ),
            });
        }
        out.insert(d.key.clone(), *data);
    }
    let declared: HashSet<&str> = decls.iter().map(|d| d.key.as_str()).collect();
    if let Some(extra) = entries.keys().find(|k| !declared.contains(**k)) {
        return Err(CheckpointError::archive(format!(
            "entry data/{extra} is not a storage the pickle uses"
        )));
    }
    Ok(out)
}

/// Turns the evaluated pickle into a [`Value`] tree, materializing tensors, except under the
/// top-level keys in `skip`.
pub(crate) struct Converter<'e, 'b> {
    pub ev: &'e Evaluated,
    pub decls: &'e [StorageDecl],
    pub bytes: &'e HashMap<String, &'b [u8]>,
    pub limits: &'e Limits,
    pub values: u64,
    pub tensor_bytes: u64,
    /// Most bytes all tensors together may take once materialized.
    pub budget: u64,
    /// Whether to copy tensor values (`false`: check every view, keep no data).
    pub copy: bool,
}

/// The materialized-bytes budget for a file of `file_len` bytes: the limit, and never more than
/// four times the file plus 1 MiB, so views that repeat elements (stride 0) cannot blow a small
/// file up.
pub(crate) fn tensor_budget(file_len: usize, limits: &Limits) -> u64 {
    (file_len as u64)
        .saturating_mul(4)
        .saturating_add(1 << 20)
        .min(limits.max_total_tensor_bytes)
}

impl Converter<'_, '_> {
    fn count(&mut self) -> Result<(), CheckpointError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(CheckpointError::limit(
                "values in the expanded tree",
                "max_values",
                self.values,
                self.limits.max_values,
            ));
        }
        Ok(())
    }

    fn depth(&self, depth: u64) -> Result<(), CheckpointError> {
        if depth > self.limits.max_depth {
            return Err(CheckpointError::limit(
                "nesting depth (or a reference cycle)",
                "max_depth",
                depth,
                self.limits.max_depth,
            ));
        }
        Ok(())
    }

    /// The root, with the trainer's training-state keys skipped.
    pub(crate) fn root(&mut self, skip: &[&str]) -> Result<Value, CheckpointError> {
        let root = self.ev.root;
        if let Obj::Dict(items) = self.ev.obj(root) {
            let mut out: Vec<(Value, Value)> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            for (k, v) in items {
                self.count()?;
                let key = self.convert(*k, 1)?;
                let value = match &key {
                    Value::Str(s) if skip.contains(&s.as_str()) => Value::Skipped {
                        key: s.clone(),
                        tensors: self.count_tensors(*v, 1)?,
                    },
                    _ => self.convert(*v, 1)?,
                };
                insert(&mut out, &mut index, key, value);
            }
            return Ok(Value::Dict(out));
        }
        self.convert(root, 0)
    }

    fn count_tensors(&mut self, id: Id, depth: u64) -> Result<usize, CheckpointError> {
        self.depth(depth)?;
        self.count()?;
        Ok(match self.ev.obj(id) {
            Obj::Tensor(_) => 1,
            Obj::List(v) | Obj::Tuple(v) | Obj::Set(v) => {
                let mut n = 0;
                for i in v {
                    n += self.count_tensors(*i, depth + 1)?;
                }
                n
            }
            Obj::Dict(items) => {
                let mut n = 0;
                for (k, v) in items {
                    n += self.count_tensors(*k, depth + 1)?;
                    n += self.count_tensors(*v, depth + 1)?;
                }
                n
            }
            _ => 0,
        })
    }

    pub(crate) fn convert(&mut self, id: Id, depth: u64) -> Result<Value, CheckpointError> {
        self.depth(depth)?;
        self.count()?;
        Ok(match self.ev.obj(id) {
            Obj::None => Value::None,
            Obj::Bool(b) => Value::Bool(*b),
            Obj::Int(i) => Value::Int(*i),
            Obj::BigInt(b) => Value::BigInt(b.clone()),
            Obj::Float(f) => Value::Float(*f),
            Obj::Str(s) => Value::Str(s.clone()),
            Obj::Bytes(b) => Value::Bytes(b.clone()),
            Obj::NumpyDtype(d) => Value::NumpyDtype(d.clone()),
            Obj::List(v) => Value::List(self.convert_all(v, depth)?),
            Obj::Tuple(v) => Value::Tuple(self.convert_all(v, depth)?),
            Obj::Set(v) => Value::Set(self.convert_all(v, depth)?),
            Obj::Dict(items) => {
                let mut out = Vec::with_capacity(items.len().min(1 << 16));
                let mut index = HashMap::new();
                for (k, v) in items {
                    let key = self.convert(*k, depth + 1)?;
                    let value = self.convert(*v, depth + 1)?;
                    insert(&mut out, &mut index, key, value);
                }
                Value::Dict(out)
            }
            Obj::Tensor(meta) => Value::Tensor(self.materialize(meta)?),
            Obj::Global(_) | Obj::Storage { .. } | Obj::Opaque(_) => {
                return Err(CheckpointError::BadLayout {
                    reason: "a class or storage appears as a value".into(),
                })
            }
        })
    }

    fn convert_all(&mut self, ids: &[Id], depth: u64) -> Result<Vec<Value>, CheckpointError> {
        ids.iter().map(|i| self.convert(*i, depth + 1)).collect()
    }

    fn materialize(&mut self, meta: &pickle::TensorMeta) -> Result<Tensor, CheckpointError> {
        let decl = self
            .decls
            .get(meta.storage)
            .ok_or_else(|| CheckpointError::malformed(0, "a tensor names an unknown storage"))?;
        let data = self.bytes.get(&decl.key).copied().unwrap_or(&[]);
        // Counted before anything is allocated.
        let bytes = meta
            .shape
            .iter()
            .try_fold(decl.dtype.size() as u64, |n, &d| n.checked_mul(d))
            .unwrap_or(u64::MAX);
        self.tensor_bytes = self.tensor_bytes.saturating_add(bytes);
        if self.tensor_bytes > self.budget {
            return Err(CheckpointError::limit(
                "bytes of all tensors (at most four times the file's size plus 1 MiB)",
                "max_total_tensor_bytes",
                self.tensor_bytes,
                self.budget,
            ));
        }
        gather(meta, decl, data, self.limits, self.copy)
    }
}

/// Inserts into a dict, Python's way: a repeated key keeps its place and takes the new value.
fn insert(
    out: &mut Vec<(Value, Value)>,
    index: &mut HashMap<String, usize>,
    key: Value,
    value: Value,
) {
    let hashable = match &key {
        Value::Str(s) => Some(format!("s{s}")),
        Value::Int(i) => Some(format!("i{i}")),
        _ => None,
    };
    if let Some(h) = hashable {
        if let Some(slot) = index.get(&h).and_then(|&i| out.get_mut(i)) {
            slot.1 = value;
            return;
        }
        index.insert(h, out.len());
    }
    out.push((key, value));
}

/// Copies a tensor view out of its storage bytes into contiguous row-major order.
pub(crate) fn gather(
    meta: &pickle::TensorMeta,
    decl: &StorageDecl,
    data: &[u8],
    limits: &Limits,
    copy: bool,
) -> Result<Tensor, CheckpointError> {
    let bad = |reason: String| CheckpointError::BadTensor {
        tensor: format!("on storage {}", decl.key),
        reason,
    };
    let es = decl.dtype.size();
    let have = data.len() / es;
    check_extent(meta.offset, &meta.shape, &meta.stride, have as u64).map_err(bad)?;
    let mut numel: u64 = 1;
    for &s in &meta.shape {
        numel = numel
            .checked_mul(s)
            .filter(|&n| n <= limits.max_tensor_elements)
            .ok_or_else(|| {
                CheckpointError::limit(
                    "a tensor's elements",
                    "max_tensor_elements",
                    numel.saturating_mul(s),
                    limits.max_tensor_elements,
                )
            })?;
    }
    let shape: Vec<usize> = meta
        .shape
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| bad("a dimension does not fit in memory".into())))
        .collect::<Result<_, _>>()?;
    let numel = usize::try_from(numel).map_err(|_| bad("too many elements".into()))?;
    let offset = usize::try_from(meta.offset).map_err(|_| bad("offset too large".into()))?;
    let mut out = Vec::new();
    if numel > 0 && copy {
        out.reserve_exact(numel * es);
        // Row-major strides: one copy.
        let mut expected = 1u64;
        let mut contiguous = true;
        for (&size, &stride) in meta.shape.iter().zip(&meta.stride).rev() {
            if size != 1 && stride != expected {
                contiguous = false;
            }
            expected = expected.saturating_mul(size);
        }
        if contiguous {
            let bytes = data
                .get(offset * es..(offset + numel) * es)
                .ok_or_else(|| bad("the view lies outside the storage".into()))?;
            out.extend_from_slice(bytes);
        } else {
            let strides: Vec<usize> = meta.stride.iter().map(|&s| s as usize).collect();
            let mut idx = vec![0usize; shape.len()];
            for _ in 0..numel {
                let at: usize =
                    offset + idx.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>();
                let bytes = data
                    .get(at * es..at * es + es)
                    .ok_or_else(|| bad("the view lies outside the storage".into()))?;
                out.extend_from_slice(bytes);
                for d in (0..idx.len()).rev() {
                    let (Some(i), Some(&n)) = (idx.get_mut(d), shape.get(d)) else {
                        break;
                    };
                    *i += 1;
                    if *i < n {
                        break;
                    }
                    *i = 0;
                }
            }
        }
    }
    Ok(Tensor {
        dtype: decl.dtype,
        shape,
        data: out,
    })
}
