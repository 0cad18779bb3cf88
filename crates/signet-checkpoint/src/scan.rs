//! `signet scan`: what a pickle-based loader (`torch.load`) would import and call, found by
//! walking the opcodes in [`Mode::Record`](crate::pickle::Mode) without doing any of it.
//!
//! The scan never fails on a hostile file: a forbidden global becomes an opaque stand-in and the
//! walk goes on, so every import and call is listed. It fails only on a file that is neither a
//! zip archive nor a pickle stream. After the walk, a file whose pickles are data only is also
//! run through [`crate::read`], and the reader's refusal, if any, is reported.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::error::CheckpointError;
use crate::limits::Limits;
use crate::pickle::{self, CallUse, Evaluated, GlobalUse, Id, Obj, PickleScan, StorageTable};
use crate::torch;
use crate::value::Dtype;
use crate::zip;

/// The scan of a file.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// `zip`, `legacy`, or `pickle` (a pickle stream that is not a torch file).
    pub format: String,
    /// Each pickle in the file: `data.pkl` (and any other pickle hidden in the archive), or
    /// the pickles of the legacy stream.
    pub pickles: Vec<PartReport>,
    /// Every global imported, over all pickles, with how often.
    pub globals: Vec<GlobalReport>,
    /// Every call a pickle loader would make, over all pickles, with how often.
    pub calls: Vec<CallReport>,
    /// Tensors the main pickle declares (path, dtype, shape).
    pub tensors: Vec<TensorReport>,
    /// Data only, or would run code.
    pub verdict: Verdict,
    /// Why Signet's reader refuses the file, if it does.
    pub refused: Option<String>,
    /// Other findings (entries torch never reads, a walk that stopped early).
    pub notes: Vec<String>,
}

/// One pickle's findings.
#[derive(Debug, Clone, Serialize)]
pub struct PartReport {
    /// Where the pickle is (`archive/data.pkl`, `legacy object`).
    pub name: String,
    /// Globals imported (`module.attribute`), in order of first use.
    pub globals: Vec<String>,
    /// Calls made, by callable, in order of first use.
    pub calls: Vec<String>,
    /// Why the walk stopped before `STOP`, if it did.
    pub error: Option<String>,
}

/// A global with its count.
#[derive(Debug, Clone, Serialize)]
pub struct GlobalReport {
    /// `module.attribute`, as the file writes them (escaped).
    pub name: String,
    /// Whether the allow-list holds it.
    pub allowed: bool,
    /// Times imported.
    pub count: u64,
}

/// A call with its count.
#[derive(Debug, Clone, Serialize)]
pub struct CallReport {
    /// What is called (`os.system`, `collections.OrderedDict.__setstate__`).
    pub callable: String,
    /// The opcode that calls it.
    pub opcode: String,
    /// Whether Signet evaluates it as data.
    pub allowed: bool,
    /// Times called.
    pub count: u64,
}

/// A tensor the pickle declares.
#[derive(Debug, Clone, Serialize)]
pub struct TensorReport {
    /// Path of keys from the top (`model/enc_p.emb.weight`).
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<u64>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Verdict {
    /// Every global and call is on the allow-list: loading it with pickle builds data.
    DataOnly,
    /// Loading it with pickle would import or call these.
    WouldRunCode {
        /// The globals and callables that are not data, deduplicated, in order.
        callables: Vec<String>,
    },
    /// The walk could not reach the end of every pickle (a malformed archive or pickle), and
    /// found nothing that runs code before it stopped: what follows is unknown.
    Unknown {
        /// Why the walk stopped.
        reason: String,
    },
}

/// Scans a file. Fails only when it is neither a zip archive nor a pickle stream.
pub fn scan(bytes: &[u8], limits: &Limits) -> Result<ScanReport, CheckpointError> {
    let mut report = ScanReport {
        format: String::new(),
        pickles: Vec::new(),
        globals: Vec::new(),
        calls: Vec::new(),
        tensors: Vec::new(),
        verdict: Verdict::DataOnly,
        refused: None,
        notes: Vec::new(),
    };
    let mut uses: Vec<(Vec<GlobalUse>, Vec<CallUse>)> = Vec::new();
    if zip::looks_like_zip(bytes) {
        report.format = "zip".into();
        match torch::open_zip(bytes, limits, false) {
            Ok(src) => {
                let prefix = match &src.format {
                    torch::Format::Zip { prefix, .. } => prefix.clone(),
                    torch::Format::Legacy => String::new(),
                };
                report.notes.extend(src.problems.iter().cloned());
                let mut table = StorageTable::default();
                let s = pickle::scan(torch::window(src.pickle, 0, limits), limits, &mut table);
                add_part(&mut report, &mut uses, format!("{prefix}/data.pkl"), &s);
                if let Ok(ev) = &s.result {
                    list_tensors(ev, &table, limits, &mut report.tensors);
                }
                // A storage entry no tensor uses is never read by torch.load, but a pickle
                // hidden there is reported.
                let declared: HashSet<&str> = table.decls.iter().map(|d| d.key.as_str()).collect();
                let mut unused: Vec<(&str, &[u8])> = src
                    .storages
                    .iter()
                    .filter(|(k, _)| !declared.contains(**k))
                    .map(|(k, v)| (*k, *v))
                    .collect();
                unused.sort_unstable();
                for (key, data) in unused {
                    report.notes.push(format!(
                        "entry {prefix}/data/{key} is not a storage the pickle uses"
                    ));
                    if looks_like_pickle_entry(data) {
                        let s = pickle::scan(
                            torch::window(data, 0, limits),
                            limits,
                            &mut StorageTable::default(),
                        );
                        add_part(&mut report, &mut uses, format!("{prefix}/data/{key}"), &s);
                    }
                }
                for e in &src.unexpected {
                    if e.name.ends_with(".pkl") || looks_like_pickle_entry(e.data) {
                        let s = pickle::scan(
                            torch::window(e.data, 0, limits),
                            limits,
                            &mut StorageTable::default(),
                        );
                        add_part(&mut report, &mut uses, e.name.to_owned(), &s);
                    }
                }
            }
            Err(e) => {
                report
                    .notes
                    .push(format!("the archive cannot be walked: {e}"));
                report.verdict = Verdict::Unknown {
                    reason: format!("the archive cannot be walked: {e}"),
                };
            }
        }
    } else if crate::looks_like_pickle(bytes) {
        scan_stream(bytes, limits, &mut report, &mut uses)?;
    } else {
        return Err(crate::not_a_checkpoint(bytes));
    }
    aggregate(&mut report, &uses);
    if matches!(report.verdict, Verdict::WouldRunCode { .. }) {
        report.refused = Some("it is not data only: loading it with pickle would run code".into());
    } else if let Err(e) = crate::check(bytes, limits) {
        report.refused = Some(e.to_string());
    }
    Ok(report)
}

fn looks_like_pickle_entry(data: &[u8]) -> bool {
    data.first() == Some(&0x80)
}

/// The legacy stream, or a bare pickle stream: each pickle in turn.
fn scan_stream(
    bytes: &[u8],
    limits: &Limits,
    report: &mut ScanReport,
    uses: &mut Vec<(Vec<GlobalUse>, Vec<CallUse>)>,
) -> Result<(), CheckpointError> {
    let mut pos = 0;
    let mut torch_file = true;
    for (i, part) in ["magic number", "protocol version", "sys info"]
        .iter()
        .enumerate()
    {
        let s = pickle::scan(
            torch::window(bytes, pos, limits),
            limits,
            &mut StorageTable::default(),
        );
        if i == 0 {
            if let Err(e) = &s.result {
                if s.globals.is_empty() && s.calls.is_empty() {
                    // Not even one pickle: this is not a checkpoint.
                    return Err(CheckpointError::NotACheckpoint {
                        reason: format!("it is neither a zip archive nor a pickle stream ({e})"),
                    });
                }
            }
        }
        add_part(report, uses, format!("legacy {part}"), &s);
        let header_ok = match &s.result {
            Ok(ev) => match (i, ev.obj(ev.root)) {
                (0, Obj::BigInt(_)) | (1, Obj::Int(1001)) | (2, Obj::Dict(_)) => Some(ev.consumed),
                _ => None,
            },
            Err(_) => None,
        };
        match header_ok {
            Some(n) => pos += n,
            None => {
                torch_file = false;
                break;
            }
        }
    }
    if !torch_file {
        report.format = "pickle".into();
        report
            .notes
            .push("a pickle stream that is not a torch checkpoint (torch.load would still unpickle its first pickle)".into());
        return Ok(());
    }
    report.format = "legacy".into();
    let mut table = StorageTable::default();
    let s = pickle::scan(torch::window(bytes, pos, limits), limits, &mut table);
    add_part(report, uses, "legacy object".into(), &s);
    if let Ok(ev) = &s.result {
        list_tensors(ev, &table, limits, &mut report.tensors);
        let after = pos + ev.consumed;
        let keys = pickle::scan(
            torch::window(bytes, after, limits),
            limits,
            &mut StorageTable::default(),
        );
        add_part(report, uses, "legacy storage keys".into(), &keys);
    }
    Ok(())
}

fn add_part(
    report: &mut ScanReport,
    uses: &mut Vec<(Vec<GlobalUse>, Vec<CallUse>)>,
    name: String,
    s: &PickleScan,
) {
    let mut seen = HashSet::new();
    let mut globals: Vec<String> = Vec::new();
    for g in &s.globals {
        let n = format!("{}.{}", g.module, g.name);
        if seen.insert(n.clone()) {
            globals.push(n);
        }
    }
    let mut seen = HashSet::new();
    let mut calls: Vec<String> = Vec::new();
    for c in &s.calls {
        if seen.insert(c.callable.as_str()) {
            calls.push(c.callable.clone());
        }
    }
    let error = s.result.as_ref().err().map(ToString::to_string);
    if let Some(e) = &error {
        report.notes.push(format!("{name}: the walk stopped: {e}"));
    }
    report.pickles.push(PartReport {
        name,
        globals,
        calls,
        error,
    });
    uses.push((s.globals.clone(), s.calls.clone()));
}

fn aggregate(report: &mut ScanReport, uses: &[(Vec<GlobalUse>, Vec<CallUse>)]) {
    let mut globals: BTreeMap<(usize, String), (bool, u64)> = BTreeMap::new();
    let mut order: BTreeMap<String, usize> = BTreeMap::new();
    let mut calls: BTreeMap<(usize, String, &'static str), (bool, u64)> = BTreeMap::new();
    let mut call_order: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut bad: Vec<String> = Vec::new();
    let mut bad_seen: HashSet<String> = HashSet::new();
    for (gs, cs) in uses {
        for g in gs {
            let name = format!("{}.{}", g.module, g.name);
            let n = order.len();
            let i = *order.entry(name.clone()).or_insert(n);
            let e = globals.entry((i, name.clone())).or_insert((g.allowed, 0));
            e.1 += 1;
            if !g.allowed && bad_seen.insert(name.clone()) {
                bad.push(name);
            }
        }
        for c in cs {
            let n = call_order.len();
            let i = *call_order
                .entry((c.callable.clone(), c.opcode))
                .or_insert(n);
            let e = calls
                .entry((i, c.callable.clone(), c.opcode))
                .or_insert((c.allowed, 0));
            e.1 += 1;
            if !c.allowed && bad_seen.insert(c.callable.clone()) {
                bad.push(c.callable.clone());
            }
        }
    }
    report.globals = globals
        .into_iter()
        .map(|((_, name), (allowed, count))| GlobalReport {
            name,
            allowed,
            count,
        })
        .collect();
    report.calls = calls
        .into_iter()
        .map(|((_, callable, opcode), (allowed, count))| CallReport {
            callable,
            opcode: opcode.to_owned(),
            allowed,
            count,
        })
        .collect();
    if !bad.is_empty() {
        report.verdict = Verdict::WouldRunCode { callables: bad };
    } else if report.verdict != Verdict::DataOnly {
        // Already unknown: the archive could not be walked.
    } else if let Some(p) = report.pickles.iter().find(|p| p.error.is_some()) {
        report.verdict = Verdict::Unknown {
            reason: format!(
                "the walk of {} stopped: {}",
                p.name,
                p.error.as_deref().unwrap_or_default()
            ),
        };
    }
}

/// Every tensor reachable from the root, by path, within the depth and count limits.
fn list_tensors(
    ev: &Evaluated,
    table: &StorageTable,
    limits: &Limits,
    out: &mut Vec<TensorReport>,
) {
    let mut budget = limits.max_values;
    walk(
        ev,
        table,
        ev.root,
        String::new(),
        0,
        limits,
        &mut budget,
        out,
    );
}

#[allow(clippy::too_many_arguments)]
fn walk(
    ev: &Evaluated,
    table: &StorageTable,
    id: Id,
    path: String,
    depth: u64,
    limits: &Limits,
    budget: &mut u64,
    out: &mut Vec<TensorReport>,
) {
    if depth > limits.max_depth || *budget == 0 || out.len() as u64 >= limits.max_tensors {
        return;
    }
    *budget -= 1;
    let join = |seg: &str| {
        if path.is_empty() {
            seg.to_owned()
        } else {
            format!("{path}/{seg}")
        }
    };
    match ev.obj(id) {
        Obj::Tensor(meta) => {
            if let Some(decl) = table.decls.get(meta.storage) {
                out.push(TensorReport {
                    name: path,
                    dtype: decl.dtype,
                    shape: meta.shape.clone(),
                });
            }
        }
        Obj::Dict(items) => {
            for (k, v) in items {
                let seg = match ev.obj(*k) {
                    Obj::Str(s) => s.clone(),
                    Obj::Int(i) => i.to_string(),
                    _ => "?".into(),
                };
                walk(ev, table, *v, join(&seg), depth + 1, limits, budget, out);
            }
        }
        Obj::List(v) | Obj::Tuple(v) => {
            for (i, item) in v.iter().enumerate() {
                walk(
                    ev,
                    table,
                    *item,
                    join(&i.to_string()),
                    depth + 1,
                    limits,
                    budget,
                    out,
                );
            }
        }
        _ => {}
    }
}
