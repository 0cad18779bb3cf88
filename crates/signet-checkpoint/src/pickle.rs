//! Signet's own pickle interpreter: evaluates protocols 0 to 5 into an arena of plain values,
//! never importing or calling anything.
//!
//! Every `GLOBAL`/`STACK_GLOBAL` is looked up in the allow-list ([`crate::allow`]) by its exact
//! module and attribute. In [`Mode::Strict`] (reading) the first global that is not on it is
//! refused, naming both; in [`Mode::Record`] (`signet scan`) it becomes an opaque stand-in so the
//! walk can go on and report every import and every call the pickle would make. Calls
//! (`REDUCE`, `NEWOBJ`, `BUILD`) are evaluated only for the allow-listed reconstructions, by
//! Rust code that builds the value they stand for; `INST`, `OBJ`, `NEWOBJ_EX` and the extension
//! registry (`EXT1/2/4`) are always refused. Objects live in an arena and refer to each other by
//! index, so a memo reference is shared, not copied (a pickle that repeats one big list through
//! the memo costs one index per use here; the expansion into a tree is bounded separately).

use std::collections::HashMap;

use crate::allow::{self, Allowed};
use crate::error::CheckpointError;
use crate::limits::Limits;
use crate::value::Dtype;
use crate::zip::escape_bytes;

/// Index of an object in the arena.
pub(crate) type Id = usize;

/// How to treat what is not on the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Refuse it (reading a checkpoint).
    Strict,
    /// Record it and go on with an opaque stand-in (scanning).
    Record,
}

/// A storage a persistent id declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorageDecl {
    pub key: String,
    pub dtype: Dtype,
    pub numel: u64,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a view of a storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorMeta {
    /// Index into the storage table.
    pub storage: usize,
    /// Element offset of the storage view the tensor was built on (legacy views), plus the
    /// tensor's own storage offset.
    pub offset: u64,
    pub shape: Vec<u64>,
    pub stride: Vec<u64>,
}

/// An object in the arena.
#[derive(Debug, Clone)]
pub(crate) enum Obj {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Set(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Global(Global),
    /// A storage (or, in the legacy format, a view of one: element offset and length).
    Storage {
        index: usize,
        offset: u64,
        numel: u64,
    },
    Tensor(TensorMeta),
    NumpyDtype(String),
    /// Scan only: what a call to something not allowed would have returned.
    Opaque(String),
}

/// A global the pickle imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Global {
    Allowed(Allowed),
    Foreign { module: String, name: String },
}

/// A global as the file names it, with whether it is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlobalUse {
    pub module: String,
    pub name: String,
    pub offset: usize,
    pub allowed: bool,
}

/// A call the pickle makes (or would make under pickle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallUse {
    pub opcode: &'static str,
    pub callable: String,
    pub offset: usize,
    pub allowed: bool,
}

/// The result of running one pickle.
#[derive(Debug)]
pub(crate) struct Evaluated {
    pub objs: Vec<Obj>,
    pub root: Id,
    /// Bytes of the input the pickle took (up to and including `STOP`).
    pub consumed: usize,
}

impl Evaluated {
    pub(crate) fn obj(&self, id: Id) -> &Obj {
        // Ids come only from the arena that made them.
        self.objs.get(id).unwrap_or(&Obj::None)
    }
}

/// Storages declared by persistent ids, shared by the pickles of one file.
#[derive(Debug, Default)]
pub(crate) struct StorageTable {
    pub decls: Vec<StorageDecl>,
    by_key: HashMap<String, usize>,
}

impl StorageTable {
    fn declare(
        &mut self,
        key: String,
        dtype: Dtype,
        numel: u64,
        limits: &Limits,
        offset: usize,
    ) -> Result<usize, CheckpointError> {
        if let Some(&i) = self.by_key.get(&key) {
            let d = self.decls.get(i);
            if d.map(|d| (d.dtype, d.numel)) != Some((dtype, numel)) {
                return Err(CheckpointError::malformed(
                    offset,
                    format!("storage {key} is declared twice with different types or sizes"),
                ));
            }
            return Ok(i);
        }
        if self.decls.len() as u64 >= limits.max_storages {
            return Err(CheckpointError::limit(
                "storages",
                "max_storages",
                self.decls.len() as u64 + 1,
                limits.max_storages,
            ));
        }
        if numel > limits.max_tensor_elements {
            return Err(CheckpointError::limit(
                "a storage's elements",
                "max_tensor_elements",
                numel,
                limits.max_tensor_elements,
            ));
        }
        let i = self.decls.len();
        self.by_key.insert(key.clone(), i);
        self.decls.push(StorageDecl { key, dtype, numel });
        Ok(i)
    }
}

/// Runs one pickle starting at `code[0]`; the pickle ends at its `STOP`.
pub(crate) fn evaluate(
    code: &[u8],
    mode: Mode,
    limits: &Limits,
    storages: &mut StorageTable,
) -> Result<Evaluated, CheckpointError> {
    let mut m = Machine {
        code,
        pos: 0,
        op_pos: 0,
        mode,
        limits,
        storages,
        objs: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        globals: Vec::new(),
        calls: Vec::new(),
        tensors: 0,
    };
    let root = m.run()?;
    let consumed = m.pos;
    Ok(Evaluated {
        objs: m.objs,
        root,
        consumed,
    })
}

/// What a scan of one pickle found: every global and call up to the end or up to the error
/// that stopped the walk.
#[derive(Debug)]
pub(crate) struct PickleScan {
    pub globals: Vec<GlobalUse>,
    pub calls: Vec<CallUse>,
    pub result: Result<Evaluated, CheckpointError>,
}

/// Runs one pickle in [`Mode::Record`], keeping what it found even when it stops early.
pub(crate) fn scan(code: &[u8], limits: &Limits, storages: &mut StorageTable) -> PickleScan {
    let mut m = Machine {
        code,
        pos: 0,
        op_pos: 0,
        mode: Mode::Record,
        limits,
        storages,
        objs: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        globals: Vec::new(),
        calls: Vec::new(),
        tensors: 0,
    };
    let root = m.run();
    let consumed = m.pos;
    let result = root.map(|root| Evaluated {
        objs: m.objs,
        root,
        consumed,
    });
    let (globals, calls) = (m.globals, m.calls);
    PickleScan {
        globals,
        calls,
        result,
    }
}

struct Machine<'a, 's> {
    code: &'a [u8],
    pos: usize,
    op_pos: usize,
    mode: Mode,
    limits: &'a Limits,
    storages: &'s mut StorageTable,
    objs: Vec<Obj>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
    globals: Vec<GlobalUse>,
    calls: Vec<CallUse>,
    tensors: u64,
}

/// Longest text line (protocol 0 arguments) read.
const MAX_LINE: usize = 1 << 20;
/// Longest module or attribute name of a global.
const MAX_GLOBAL_NAME: usize = 1024;
/// Longest description of a call's callable kept by the scan. The result of a
/// refused call is described by what was called (`f(...)`), and calling that
/// result again nests the description, so without a bound a few kilobytes of
/// chained calls would build descriptions whose total grows with the square of
/// the file's length.
const MAX_CALLABLE_DESCRIPTION: usize = 2 * MAX_GLOBAL_NAME + 64;

/// `what`, cut at a character boundary to at most [`MAX_CALLABLE_DESCRIPTION`]
/// bytes, with `…` where it was cut.
fn bounded_description(mut what: String) -> String {
    if what.len() > MAX_CALLABLE_DESCRIPTION {
        let mut end = MAX_CALLABLE_DESCRIPTION - '…'.len_utf8();
        while !what.is_char_boundary(end) {
            end -= 1;
        }
        what.truncate(end);
        what.push('…');
    }
    what
}

impl Machine<'_, '_> {
    fn err(&self, reason: impl Into<String>) -> CheckpointError {
        CheckpointError::malformed(self.op_pos, reason)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CheckpointError> {
        let remaining = self.code.len() - self.pos.min(self.code.len());
        if n > remaining {
            return Err(self.err(format!(
                "the opcode declares {n} bytes but only {remaining} remain"
            )));
        }
        let start = self.pos;
        self.pos += n;
        self.code
            .get(start..start + n)
            .ok_or_else(|| CheckpointError::malformed(start, "truncated"))
    }

    fn byte(&mut self) -> Result<u8, CheckpointError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    fn u16(&mut self) -> Result<u16, CheckpointError> {
        let b = self.take(2)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(b);
        Ok(u16::from_le_bytes(a))
    }

    fn u32(&mut self) -> Result<u32, CheckpointError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self) -> Result<u64, CheckpointError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A text line without its `\n` (protocol 0 arguments).
    fn line(&mut self) -> Result<&[u8], CheckpointError> {
        let rest = self.code.get(self.pos..).unwrap_or(&[]);
        let window = rest.get(..MAX_LINE.min(rest.len())).unwrap_or(&[]);
        match window.iter().position(|&b| b == b'\n') {
            Some(n) => {
                let start = self.pos;
                self.pos += n + 1;
                Ok(self.code.get(start..start + n).unwrap_or(&[]))
            }
            None => Err(self.err("a text argument has no end of line")),
        }
    }

    /// A length about to be read: within the string limit.
    fn check_len(&self, n: u64) -> Result<usize, CheckpointError> {
        if n > self.limits.max_string_bytes {
            return Err(CheckpointError::limit(
                "a string or bytes value's declared length",
                "max_string_bytes",
                n,
                self.limits.max_string_bytes,
            ));
        }
        usize::try_from(n).map_err(|_| self.err("length does not fit in memory"))
    }

    fn alloc(&mut self, obj: Obj) -> Result<Id, CheckpointError> {
        if self.objs.len() as u64 >= self.limits.max_objects {
            return Err(CheckpointError::limit(
                "objects created by the pickle",
                "max_objects",
                self.objs.len() as u64 + 1,
                self.limits.max_objects,
            ));
        }
        self.objs.push(obj);
        Ok(self.objs.len() - 1)
    }

    fn push_id(&mut self, id: Id) -> Result<(), CheckpointError> {
        if self.stack.len() as u64 >= self.limits.max_stack {
            return Err(CheckpointError::limit(
                "the pickle stack's depth",
                "max_stack",
                self.stack.len() as u64 + 1,
                self.limits.max_stack,
            ));
        }
        self.stack.push(id);
        Ok(())
    }

    fn push(&mut self, obj: Obj) -> Result<(), CheckpointError> {
        let id = self.alloc(obj)?;
        self.push_id(id)
    }

    fn pop(&mut self) -> Result<Id, CheckpointError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn top(&self) -> Result<Id, CheckpointError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.err("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, CheckpointError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK to pop to"))?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn obj(&self, id: Id) -> &Obj {
        self.objs.get(id).unwrap_or(&Obj::None)
    }

    fn obj_mut(&mut self, id: Id) -> Result<&mut Obj, CheckpointError> {
        let off = self.op_pos;
        self.objs
            .get_mut(id)
            .ok_or_else(|| CheckpointError::malformed(off, "dangling reference"))
    }

    fn int_of(&self, id: Id) -> Option<i64> {
        match self.obj(id) {
            Obj::Int(i) => Some(*i),
            Obj::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    fn str_of(&self, id: Id) -> Option<&str> {
        match self.obj(id) {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    fn tuple_of(&self, id: Id) -> Option<&[Id]> {
        match self.obj(id) {
            Obj::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// A short description of an object, for reports of calls on it.
    fn describe(&self, id: Id) -> String {
        match self.obj(id) {
            Obj::Global(Global::Allowed(a)) => a.qualified_name().to_owned(),
            Obj::Global(Global::Foreign { module, name }) => format!("{module}.{name}"),
            Obj::Opaque(what) => what.clone(),
            Obj::Dict(_) => "dict".into(),
            Obj::List(_) => "list".into(),
            Obj::Tuple(_) => "tuple".into(),
            Obj::Set(_) => "set".into(),
            Obj::Str(_) => "str".into(),
            Obj::Bytes(_) => "bytes".into(),
            Obj::Int(_) | Obj::BigInt(_) => "int".into(),
            Obj::Float(_) => "float".into(),
            Obj::Bool(_) => "bool".into(),
            Obj::None => "None".into(),
            Obj::Storage { .. } => "storage".into(),
            Obj::Tensor(_) => "tensor".into(),
            Obj::NumpyDtype(_) => "numpy.dtype".into(),
        }
    }

    /// Records a call; in strict mode a call that is not allowed is refused at once.
    fn record_call(
        &mut self,
        opcode: &'static str,
        callable: String,
        allowed: bool,
    ) -> Result<(), CheckpointError> {
        let callable = bounded_description(callable);
        if !allowed && self.mode == Mode::Strict {
            return Err(CheckpointError::ForbiddenCall {
                opcode,
                callable,
                offset: self.op_pos,
            });
        }
        if self.calls.len() < 100_000 {
            self.calls.push(CallUse {
                opcode,
                callable,
                offset: self.op_pos,
                allowed,
            });
        }
        Ok(())
    }

    /// Pushes the opaque result of a call that is not allowed (scan only).
    fn refused_call(
        &mut self,
        opcode: &'static str,
        callable: String,
    ) -> Result<(), CheckpointError> {
        let result = bounded_description(format!("{callable}(...)"));
        self.record_call(opcode, callable, false)?;
        self.push(Obj::Opaque(result))
    }

    fn global(&mut self, module: &[u8], name: &[u8]) -> Result<Global, CheckpointError> {
        if module.len() > MAX_GLOBAL_NAME || name.len() > MAX_GLOBAL_NAME {
            return Err(self.err("a global's name is longer than 1024 bytes"));
        }
        let module_s = escape_bytes(module);
        let name_s = escape_bytes(name);
        let allowed = match (std::str::from_utf8(module), std::str::from_utf8(name)) {
            (Ok(m), Ok(n)) => allow::lookup(m, n),
            _ => None,
        };
        if allowed.is_none() && self.mode == Mode::Strict {
            return Err(CheckpointError::ForbiddenGlobal {
                module: module_s,
                name: name_s,
                offset: self.op_pos,
            });
        }
        if self.globals.len() < 100_000 {
            self.globals.push(GlobalUse {
                module: module_s.clone(),
                name: name_s.clone(),
                offset: self.op_pos,
                allowed: allowed.is_some(),
            });
        }
        Ok(match allowed {
            Some(a) => Global::Allowed(a),
            None => Global::Foreign {
                module: module_s,
                name: name_s,
            },
        })
    }

    fn run(&mut self) -> Result<Id, CheckpointError> {
        loop {
            self.op_pos = self.pos;
            let op = self
                .byte()
                .map_err(|_| self.err("the pickle ends without STOP"))?;
            match op {
                0x80 => {
                    // PROTO
                    let p = self.byte()?;
                    if p > 5 {
                        return Err(self.err(format!("unknown pickle protocol {p}")));
                    }
                }
                0x95 => {
                    // FRAME: framing is advisory; the length must still fit.
                    let n = self.u64()?;
                    let remaining = (self.code.len() - self.pos) as u64;
                    if n > remaining {
                        return Err(self.err(format!(
                            "a frame declares {n} bytes but only {remaining} remain"
                        )));
                    }
                }
                b'.' => return self.pop(),
                b'(' => {
                    if self.marks.len() as u64 >= self.limits.max_stack {
                        return Err(CheckpointError::limit(
                            "marks on the mark stack",
                            "max_stack",
                            self.marks.len() as u64 + 1,
                            self.limits.max_stack,
                        ));
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() > floor {
                        self.stack.pop();
                    } else {
                        self.pop_mark()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let t = self.top()?;
                    self.push_id(t)?;
                }
                b'N' => self.push(Obj::None)?,
                0x88 => self.push(Obj::Bool(true))?,
                0x89 => self.push(Obj::Bool(false))?,
                b'I' => {
                    let line = self.line()?.to_vec();
                    let obj = match line.as_slice() {
                        b"00" => Obj::Bool(false),
                        b"01" => Obj::Bool(true),
                        _ => self.text_int(&line)?,
                    };
                    self.push(obj)?;
                }
                b'L' => {
                    let mut line = self.line()?.to_vec();
                    if line.last() == Some(&b'L') {
                        line.pop();
                    }
                    let obj = self.text_int(&line)?;
                    self.push(obj)?;
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = self.byte()?;
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Obj::Int(i64::from(v)))?;
                }
                0x8a => {
                    let n = u64::from(self.byte()?);
                    self.long(n)?;
                }
                0x8b => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err(self.err("LONG4 with a negative length"));
                    }
                    self.long(n as u64)?;
                }
                b'F' => {
                    let line = self.line()?;
                    let v = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or_else(|| self.err("FLOAT argument is not a number"))?;
                    self.push(Obj::Float(v))?;
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Obj::Float(f64::from_be_bytes(a)))?;
                }
                b'S' => {
                    let line = self.line()?.to_vec();
                    let bytes = unquote_py2_string(&line)
                        .ok_or_else(|| self.err("STRING argument is not a quoted string"))?;
                    let s = String::from_utf8(bytes)
                        .map_err(|_| self.err("STRING value is not UTF-8"))?;
                    self.push(Obj::Str(s))?;
                }
                b'T' => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err(self.err("BINSTRING with a negative length"));
                    }
                    self.text(n as u64)?;
                }
                b'U' => {
                    let n = u64::from(self.byte()?);
                    self.text(n)?;
                }
                b'V' => {
                    let line = self.line()?.to_vec();
                    let s = raw_unicode_escape(&line)
                        .ok_or_else(|| self.err("UNICODE argument has a bad escape"))?;
                    self.push(Obj::Str(s))?;
                }
                b'X' => {
                    let n = u64::from(self.u32()?);
                    self.text(n)?;
                }
                0x8c => {
                    let n = u64::from(self.byte()?);
                    self.text(n)?;
                }
                0x8d => {
                    let n = self.u64()?;
                    self.text(n)?;
                }
                b'B' => {
                    let n = u64::from(self.u32()?);
                    self.bytes(n)?;
                }
                b'C' => {
                    let n = u64::from(self.byte()?);
                    self.bytes(n)?;
                }
                0x8e | 0x96 => {
                    let n = self.u64()?;
                    self.bytes(n)?;
                }
                b']' => self.push(Obj::List(Vec::new()))?,
                b'}' => self.push(Obj::Dict(Vec::new()))?,
                b')' => self.push(Obj::Tuple(Vec::new()))?,
                0x8f => self.push(Obj::Set(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::List(items))?;
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items))?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Set(items))?;
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Obj::Dict(pairs))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Obj::Tuple(items))?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend(vec![v], "APPEND")?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend(items, "APPENDS")?;
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    self.extend(items, "ADDITEMS")?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![(k, v)], "SETITEM")?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.set_items(pairs, "SETITEMS")?;
                }
                b'g' => {
                    let line = self.line()?.to_vec();
                    let i =
                        parse_index(&line).ok_or_else(|| self.err("GET index is not a number"))?;
                    self.get(i)?;
                }
                b'h' => {
                    let i = u64::from(self.byte()?);
                    self.get(i)?;
                }
                b'j' => {
                    let i = u64::from(self.u32()?);
                    self.get(i)?;
                }
                b'p' => {
                    let line = self.line()?.to_vec();
                    let i =
                        parse_index(&line).ok_or_else(|| self.err("PUT index is not a number"))?;
                    self.put(i)?;
                }
                b'q' => {
                    let i = u64::from(self.byte()?);
                    self.put(i)?;
                }
                b'r' => {
                    let i = u64::from(self.u32()?);
                    self.put(i)?;
                }
                0x94 => {
                    let i = self.memo.len() as u64;
                    self.put(i)?;
                }
                b'c' => {
                    let module = self.line()?.to_vec();
                    let name = self.line()?.to_vec();
                    let g = self.global(&module, &name)?;
                    self.push(Obj::Global(g))?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(m), Some(n)) = (self.str_of(module), self.str_of(name)) else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    let (m, n) = (m.as_bytes().to_vec(), n.as_bytes().to_vec());
                    let g = self.global(&m, &n)?;
                    self.push(Obj::Global(g))?;
                }
                b'i' => {
                    let module = self.line()?.to_vec();
                    let name = self.line()?.to_vec();
                    let g = self.global(&module, &name)?;
                    let _args = self.pop_mark()?;
                    let callable = match g {
                        Global::Allowed(a) => a.qualified_name().to_owned(),
                        Global::Foreign { module, name } => format!("{module}.{name}"),
                    };
                    self.refused_call("INST", callable)?;
                }
                b'o' => {
                    let items = self.pop_mark()?;
                    let cls = items
                        .first()
                        .copied()
                        .ok_or_else(|| self.err("OBJ without a class"))?;
                    let callable = self.describe(cls);
                    self.refused_call("OBJ", callable)?;
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.newobj(cls, args)?;
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    let callable = self.describe(cls);
                    self.refused_call("NEWOBJ_EX", callable)?;
                }
                0x82 => {
                    let code = self.byte()?;
                    self.refused_call("EXT1", format!("extension registry code {code}"))?;
                }
                0x83 => {
                    let code = self.u16()?;
                    self.refused_call("EXT2", format!("extension registry code {code}"))?;
                }
                0x84 => {
                    let code = self.u32()?;
                    self.refused_call("EXT4", format!("extension registry code {code}"))?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.reduce(callable, args)?;
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    self.build(target, state)?;
                }
                b'P' => {
                    let line = self.line()?.to_vec();
                    let what = format!("persistent_load('{}')", escape_bytes(&line));
                    self.refused_call("PERSID", what)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.persistent_load(pid)?;
                }
                0x97 | 0x98 => {
                    return Err(self.err("out-of-band buffers (protocol 5) are not supported"));
                }
                other => {
                    return Err(self.err(format!("unknown opcode 0x{other:02x}")));
                }
            }
        }
    }

    fn text_int(&self, line: &[u8]) -> Result<Obj, CheckpointError> {
        let s = std::str::from_utf8(line).map_err(|_| self.err("INT argument is not a number"))?;
        if s.len() as u64 > self.limits.max_long_bytes * 3 {
            return Err(CheckpointError::limit(
                "a text integer's digits",
                "max_long_bytes",
                s.len() as u64,
                self.limits.max_long_bytes * 3,
            ));
        }
        match s.trim().parse::<i64>() {
            Ok(v) => Ok(Obj::Int(v)),
            Err(_) => {
                let digits = s.trim().trim_start_matches('-');
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    // Wider than 64 bits: kept as its decimal digits, which nothing in a model
                    // checkpoint needs as a number.
                    Ok(Obj::BigInt(s.trim().as_bytes().to_vec()))
                } else {
                    Err(self.err("INT argument is not a number"))
                }
            }
        }
    }

    fn long(&mut self, n: u64) -> Result<(), CheckpointError> {
        if n > self.limits.max_long_bytes {
            return Err(CheckpointError::limit(
                "a long integer's declared length",
                "max_long_bytes",
                n,
                self.limits.max_long_bytes,
            ));
        }
        let bytes = self.take(n as usize)?.to_vec();
        let obj = if bytes.len() <= 8 {
            let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
            let mut a = if negative { [0xFFu8; 8] } else { [0u8; 8] };
            for (slot, b) in a.iter_mut().zip(&bytes) {
                *slot = *b;
            }
            Obj::Int(i64::from_le_bytes(a))
        } else {
            Obj::BigInt(bytes)
        };
        self.push(obj)
    }

    fn text(&mut self, n: u64) -> Result<(), CheckpointError> {
        let n = self.check_len(n)?;
        let bytes = self.take(n)?.to_vec();
        let s = String::from_utf8(bytes).map_err(|_| self.err("a string is not UTF-8"))?;
        self.push(Obj::Str(s))
    }

    fn bytes(&mut self, n: u64) -> Result<(), CheckpointError> {
        let n = self.check_len(n)?;
        let bytes = self.take(n)?.to_vec();
        self.push(Obj::Bytes(bytes))
    }

    fn pairs(&self, items: Vec<Id>) -> Result<Vec<(Id, Id)>, CheckpointError> {
        if items.len() % 2 != 0 {
            return Err(self.err("a dict needs an even number of items"));
        }
        Ok(items
            .chunks_exact(2)
            .filter_map(|c| match c {
                [k, v] => Some((*k, *v)),
                _ => None,
            })
            .collect())
    }

    fn get(&mut self, i: u64) -> Result<(), CheckpointError> {
        let id = *self
            .memo
            .get(&i)
            .ok_or_else(|| self.err(format!("memo key {i} was never stored")))?;
        self.push_id(id)
    }

    fn put(&mut self, i: u64) -> Result<(), CheckpointError> {
        let top = self.top()?;
        if !self.memo.contains_key(&i) && self.memo.len() as u64 >= self.limits.max_memo {
            return Err(CheckpointError::limit(
                "memo entries",
                "max_memo",
                self.memo.len() as u64 + 1,
                self.limits.max_memo,
            ));
        }
        self.memo.insert(i, top);
        Ok(())
    }

    fn extend(&mut self, items: Vec<Id>, opcode: &'static str) -> Result<(), CheckpointError> {
        let target = self.top()?;
        let what = self.describe(target);
        match self.obj_mut(target)? {
            Obj::List(list) if opcode != "ADDITEMS" => list.extend(items),
            Obj::Set(set) if opcode == "ADDITEMS" => set.extend(items),
            Obj::Opaque(_) => {
                let method = if opcode == "ADDITEMS" {
                    "add"
                } else {
                    "append"
                };
                self.record_call(opcode, format!("{what}.{method}"), false)?;
            }
            _ => return Err(self.err(format!("{opcode} on a {what}"))),
        }
        Ok(())
    }

    fn set_items(
        &mut self,
        pairs: Vec<(Id, Id)>,
        opcode: &'static str,
    ) -> Result<(), CheckpointError> {
        let target = self.top()?;
        let what = self.describe(target);
        match self.obj_mut(target)? {
            Obj::Dict(dict) => dict.extend(pairs),
            Obj::Opaque(_) => {
                self.record_call(opcode, format!("{what}.__setitem__"), false)?;
            }
            _ => return Err(self.err(format!("{opcode} on a {what}"))),
        }
        Ok(())
    }

    fn newobj(&mut self, cls: Id, args: Id) -> Result<(), CheckpointError> {
        let empty_args = self.tuple_of(args).is_some_and(<[Id]>::is_empty);
        match self.obj(cls) {
            Obj::Global(Global::Allowed(Allowed::OrderedDict)) if empty_args => {
                self.record_call("NEWOBJ", "collections.OrderedDict".into(), true)?;
                self.push(Obj::Dict(Vec::new()))
            }
            _ => {
                let callable = format!("{}.__new__", self.describe(cls));
                self.refused_call("NEWOBJ", callable)
            }
        }
    }

    fn reduce(&mut self, callable: Id, args: Id) -> Result<(), CheckpointError> {
        let allowed = match self.obj(callable) {
            Obj::Global(Global::Allowed(a)) => Some(*a),
            Obj::Global(Global::Foreign { .. }) | Obj::Opaque(_) => None,
            _ => {
                let what = self.describe(callable);
                return Err(self.err(format!("REDUCE on a {what}, which is not callable")));
            }
        };
        let Some(a) = allowed.filter(|a| a.callable()) else {
            let what = self.describe(callable);
            return self.refused_call("REDUCE", what);
        };
        let args: Vec<Id> = self
            .tuple_of(args)
            .ok_or_else(|| self.err("REDUCE arguments are not a tuple"))?
            .to_vec();
        self.record_call("REDUCE", a.qualified_name().to_owned(), true)?;
        let bad = |m: &Self, why: &str| m.err(format!("{}: {why}", a.qualified_name()));
        let obj = match a {
            Allowed::OrderedDict | Allowed::DefaultDict => {
                let pairs = match (a, args.as_slice()) {
                    (_, []) => Vec::new(),
                    (Allowed::DefaultDict, [factory]) => {
                        let ok = matches!(
                            self.obj(*factory),
                            Obj::None | Obj::Global(Global::Allowed(Allowed::BuiltinType(_)))
                        );
                        if !ok {
                            return Err(bad(
                                self,
                                "the default factory must be None or a builtin type",
                            ));
                        }
                        Vec::new()
                    }
                    (Allowed::OrderedDict, [items]) => self.pairs_from_list(*items)?,
                    _ => return Err(bad(self, "unexpected arguments")),
                };
                Obj::Dict(pairs)
            }
            Allowed::BuiltinType(kind @ ("set" | "frozenset")) => match args.as_slice() {
                [] => Obj::Set(Vec::new()),
                [items] => match self.obj(*items) {
                    Obj::List(v) | Obj::Tuple(v) => Obj::Set(v.clone()),
                    _ => return Err(bad(self, &format!("{kind} takes a list"))),
                },
                _ => return Err(bad(self, "unexpected arguments")),
            },
            Allowed::RebuildTensorV2 => self.rebuild_tensor(&args)?,
            Allowed::RebuildParameter => match args.as_slice() {
                [data, requires_grad, hooks]
                    if matches!(self.obj(*data), Obj::Tensor(_))
                        && matches!(self.obj(*requires_grad), Obj::Bool(_)) =>
                {
                    self.check_hooks(*hooks)?;
                    return self.push_id(*data);
                }
                _ => return Err(bad(self, "expects (tensor, requires_grad, hooks)")),
            },
            Allowed::NumpyDtype => match args.as_slice() {
                [code, _, _] => match self.str_of(*code) {
                    Some(c) if c.len() <= 16 => Obj::NumpyDtype(c.to_owned()),
                    _ => return Err(bad(self, "expects a short dtype string")),
                },
                _ => return Err(bad(self, "expects (code, align, copy)")),
            },
            Allowed::NumpyScalar => match args.as_slice() {
                [dtype, data] => {
                    let code = match self.obj(*dtype) {
                        Obj::NumpyDtype(c) => c.clone(),
                        _ => return Err(bad(self, "the first argument must be a numpy dtype")),
                    };
                    let bytes = match self.obj(*data) {
                        Obj::Bytes(b) => b.clone(),
                        _ => return Err(bad(self, "the second argument must be bytes")),
                    };
                    numpy_scalar(&code, &bytes)
                        .ok_or_else(|| bad(self, &format!("unsupported scalar type {code}")))?
                }
                _ => return Err(bad(self, "expects (dtype, bytes)")),
            },
            Allowed::CodecsEncode => match args.as_slice() {
                [text, encoding]
                    if matches!(self.str_of(*encoding), Some("latin1" | "latin-1")) =>
                {
                    let s = self
                        .str_of(*text)
                        .ok_or_else(|| bad(self, "expects a str"))?;
                    let bytes: Option<Vec<u8>> =
                        s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
                    Obj::Bytes(bytes.ok_or_else(|| bad(self, "a character is not latin-1"))?)
                }
                _ => return Err(bad(self, "only (str, 'latin1') is allowed")),
            },
            Allowed::BuiltinType(_) | Allowed::StorageClass(_) => {
                return Err(bad(self, "is not callable here"));
            }
        };
        self.push(obj)
    }

    fn pairs_from_list(&self, items: Id) -> Result<Vec<(Id, Id)>, CheckpointError> {
        let Obj::List(list) = self.obj(items) else {
            return Err(self.err("OrderedDict takes a list of pairs"));
        };
        list.iter()
            .map(|p| match self.obj(*p) {
                Obj::Tuple(kv) | Obj::List(kv) => match kv.as_slice() {
                    [k, v] => Ok((*k, *v)),
                    _ => Err(self.err("OrderedDict takes a list of pairs")),
                },
                _ => Err(self.err("OrderedDict takes a list of pairs")),
            })
            .collect()
    }

    /// Backward hooks must be an empty dict: hooks are callables, never data.
    fn check_hooks(&self, hooks: Id) -> Result<(), CheckpointError> {
        match self.obj(hooks) {
            Obj::Dict(d) if d.is_empty() => Ok(()),
            Obj::None => Ok(()),
            _ => Err(self.err("a tensor carries backward hooks, which are code, not data")),
        }
    }

    fn uints(&self, id: Id, what: &str) -> Result<Vec<u64>, CheckpointError> {
        let items = self
            .tuple_of(id)
            .ok_or_else(|| self.err(format!("a tensor's {what} is not a tuple")))?;
        if items.len() as u64 > self.limits.max_dims {
            return Err(CheckpointError::limit(
                "a tensor's dimensions",
                "max_dims",
                items.len() as u64,
                self.limits.max_dims,
            ));
        }
        items
            .iter()
            .map(|&i| {
                self.int_of(i)
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or_else(|| {
                        self.err(format!(
                            "a tensor's {what} holds a negative or non-integer value"
                        ))
                    })
            })
            .collect()
    }

    fn rebuild_tensor(&mut self, args: &[Id]) -> Result<Obj, CheckpointError> {
        let (storage, offset, size, stride, requires_grad, hooks) = match args {
            [s, o, sz, st, rg, h] | [s, o, sz, st, rg, h, _] => (*s, *o, *sz, *st, *rg, *h),
            _ => {
                return Err(self.err(
                    "torch._utils._rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, hooks[, metadata])",
                ))
            }
        };
        if let [.., metadata] = args {
            if args.len() == 7 && !matches!(self.obj(*metadata), Obj::Dict(_) | Obj::None) {
                return Err(self.err("a tensor's metadata is not a dict"));
            }
        }
        let Obj::Storage {
            index,
            offset: base,
            numel,
        } = *self.obj(storage)
        else {
            return Err(self.err("a tensor is built on something that is not a storage"));
        };
        let offset = self
            .int_of(offset)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| self.err("a tensor's storage offset is negative or not an integer"))?;
        let shape = self.uints(size, "size")?;
        let stride = self.uints(stride, "stride")?;
        if shape.len() != stride.len() {
            return Err(self.err("a tensor's size and stride differ in length"));
        }
        if !matches!(self.obj(requires_grad), Obj::Bool(_)) {
            return Err(self.err("a tensor's requires_grad is not a bool"));
        }
        self.check_hooks(hooks)?;
        // The view must lie inside its storage (checked again against the bytes later).
        check_extent(offset, &shape, &stride, numel).map_err(|why| self.err(why))?;
        self.tensors += 1;
        if self.tensors > self.limits.max_tensors {
            return Err(CheckpointError::limit(
                "tensors",
                "max_tensors",
                self.tensors,
                self.limits.max_tensors,
            ));
        }
        Ok(Obj::Tensor(TensorMeta {
            storage: index,
            offset: base + offset,
            shape,
            stride,
        }))
    }

    fn build(&mut self, target: Id, state: Id) -> Result<(), CheckpointError> {
        // A state dict's `_metadata` attribute (module versions) is the one attribute torch sets
        // on a plain dict; it is dropped. Every other BUILD would call `__setstate__` or set
        // attributes on an object, which is code.
        let metadata_only = matches!(self.obj(target), Obj::Dict(_))
            && match self.obj(state) {
                Obj::Dict(items) => items
                    .iter()
                    .all(|(k, _)| self.str_of(*k) == Some("_metadata")),
                _ => false,
            };
        let dtype_state =
            matches!(self.obj(target), Obj::NumpyDtype(_)) && self.tuple_of(state).is_some();
        let what = format!("{}.__setstate__", self.describe(target));
        if metadata_only || dtype_state {
            return self.record_call("BUILD", what, true);
        }
        self.record_call("BUILD", what, false)
    }

    fn persistent_load(&mut self, pid: Id) -> Result<(), CheckpointError> {
        let items = self.tuple_of(pid).map(<[Id]>::to_vec);
        let Some(items) = items else {
            let what = format!("persistent_load({})", self.describe(pid));
            return self.refused_call("BINPERSID", what);
        };
        let (tag, class, key, location, numel, view) = match items.as_slice() {
            [t, c, k, l, n] => (*t, *c, *k, *l, *n, None),
            [t, c, k, l, n, v] => (*t, *c, *k, *l, *n, Some(*v)),
            _ => {
                let what = "persistent_load(tuple)".to_owned();
                return self.refused_call("BINPERSID", what);
            }
        };
        let dtype = match self.obj(class) {
            Obj::Global(Global::Allowed(Allowed::StorageClass(d))) => Some(*d),
            _ => None,
        };
        let (Some("storage"), Some(dtype)) = (self.str_of(tag), dtype) else {
            let what = format!("persistent_load({})", self.describe(class));
            return self.refused_call("BINPERSID", what);
        };
        let key = self
            .str_of(key)
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or_else(|| self.err("a storage key is not a short string"))?
            .to_owned();
        if self.str_of(location).is_none() {
            return Err(self.err("a storage location is not a string"));
        }
        let numel = self
            .int_of(numel)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| self.err("a storage's element count is negative or not an integer"))?;
        let index = self
            .storages
            .declare(key, dtype, numel, self.limits, self.op_pos)?;
        let (offset, view_numel) = match view.map(|v| self.obj(v)) {
            None | Some(Obj::None) => (0, numel),
            Some(Obj::Tuple(v)) => match v.as_slice() {
                [_view_key, off, len] => {
                    let off = self.int_of(*off).and_then(|x| u64::try_from(x).ok());
                    let len = self.int_of(*len).and_then(|x| u64::try_from(x).ok());
                    match (off, len) {
                        (Some(o), Some(l)) if o.checked_add(l).is_some_and(|e| e <= numel) => {
                            (o, l)
                        }
                        _ => return Err(self.err("a storage view lies outside its storage")),
                    }
                }
                _ => return Err(self.err("a storage view is not (key, offset, size)")),
            },
            Some(_) => return Err(self.err("a storage view is not (key, offset, size)")),
        };
        self.record_call(
            "BINPERSID",
            format!("persistent_load(storage {})", dtype),
            true,
        )?;
        self.push(Obj::Storage {
            index,
            offset,
            numel: view_numel,
        })
    }
}

/// Checks that a view (`offset`, `shape`, `stride`) stays inside `numel` elements.
pub(crate) fn check_extent(
    offset: u64,
    shape: &[u64],
    stride: &[u64],
    numel: u64,
) -> Result<(), String> {
    if shape.contains(&0) {
        return if offset <= numel {
            Ok(())
        } else {
            Err(format!(
                "storage offset {offset} is past the storage's {numel} elements"
            ))
        };
    }
    let mut last = offset;
    for (&size, &st) in shape.iter().zip(stride) {
        let reach = (size - 1)
            .checked_mul(st)
            .and_then(|r| last.checked_add(r))
            .ok_or("size × stride overflows")?;
        last = reach;
    }
    if last >= numel {
        return Err(format!(
            "the view reaches element {last}, but its storage has {numel} elements"
        ));
    }
    Ok(())
}

/// A numpy scalar from its dtype code and raw (little-endian) bytes.
fn numpy_scalar(code: &str, bytes: &[u8]) -> Option<Obj> {
    let code = code.trim_start_matches(['<', '|', '=']);
    let arr = |n: usize| -> Option<[u8; 8]> {
        if bytes.len() != n {
            return None;
        }
        let mut a = [0u8; 8];
        a.get_mut(..n)?.copy_from_slice(bytes);
        Some(a)
    };
    Some(match code {
        "f8" => Obj::Float(f64::from_le_bytes(arr(8)?)),
        "f4" => {
            let a = arr(4)?;
            Obj::Float(f64::from(f32::from_le_bytes([a[0], a[1], a[2], a[3]])))
        }
        "i8" => Obj::Int(i64::from_le_bytes(arr(8)?)),
        "i4" => {
            let a = arr(4)?;
            Obj::Int(i64::from(i32::from_le_bytes([a[0], a[1], a[2], a[3]])))
        }
        "i2" => {
            let a = arr(2)?;
            Obj::Int(i64::from(i16::from_le_bytes([a[0], a[1]])))
        }
        "i1" => Obj::Int(i64::from(arr(1)?[0] as i8)),
        "u1" => Obj::Int(i64::from(arr(1)?[0])),
        "u2" => {
            let a = arr(2)?;
            Obj::Int(i64::from(u16::from_le_bytes([a[0], a[1]])))
        }
        "u4" => {
            let a = arr(4)?;
            Obj::Int(i64::from(u32::from_le_bytes([a[0], a[1], a[2], a[3]])))
        }
        "b1" => Obj::Bool(arr(1)?[0] != 0),
        _ => return None,
    })
}

fn parse_index(line: &[u8]) -> Option<u64> {
    std::str::from_utf8(line).ok()?.trim().parse().ok()
}

/// A protocol-0 `STRING` argument: a Python 2 repr, quoted with `'` or `"`.
fn unquote_py2_string(line: &[u8]) -> Option<Vec<u8>> {
    let (&q, rest) = line.split_first()?;
    let (&q2, body) = rest.split_last()?;
    if !(q == b'\'' || q == b'"') || q2 != q {
        return None;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut it = body.iter().copied().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next()? {
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' => {
                let h = [it.next()?, it.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&h).ok()?, 16).ok()?);
            }
            d @ b'0'..=b'7' => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    match it.peek() {
                        Some(&n @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(n - b'0');
                            it.next();
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(v).ok()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A protocol-0 `UNICODE` argument: raw-unicode-escape (Latin-1 bytes, `\uXXXX`, `\UXXXXXXXX`).
fn raw_unicode_escape(line: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        let width = match (b, line.get(i + 1)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            _ => 0,
        };
        if width == 0 {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let hex = std::str::from_utf8(line.get(i + 2..i + 2 + width)?).ok()?;
        out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
        i += 2 + width;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &[u8], mode: Mode) -> Result<Evaluated, CheckpointError> {
        evaluate(code, mode, &Limits::default(), &mut StorageTable::default())
    }

    #[test]
    fn plain_data_evaluates() {
        // {'a': [1, 2.5, None, True], 'b': (b'x',)} at protocol 2
        let code = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88eX\x01\x00\x00\x00bC\x01x\x85u.";
        let e = run(code, Mode::Strict).unwrap();
        assert!(matches!(e.obj(e.root), Obj::Dict(d) if d.len() == 2));
        assert!(matches!(e.obj(e.root), Obj::Dict(_)));
    }

    #[test]
    fn strings_unquote_like_python_2() {
        assert_eq!(unquote_py2_string(b"'a\\'b\\x41\\101'").unwrap(), b"a'bAA");
        assert!(unquote_py2_string(b"'unterminated").is_none());
        assert_eq!(raw_unicode_escape(b"caf\\u00e9").unwrap(), "café");
    }

    #[test]
    fn extents_are_checked_with_overflow() {
        assert!(check_extent(0, &[2, 3], &[3, 1], 6).is_ok());
        assert!(check_extent(0, &[2, 3], &[3, 1], 5).is_err());
        assert!(check_extent(0, &[2, 0], &[3, 1], 0).is_ok());
        assert!(check_extent(0, &[u64::MAX, 2], &[u64::MAX, 1], 10).is_err());
        assert!(check_extent(4, &[3], &[0], 5).is_ok());
    }

    /// Each BINPERSID calls `persistent_load` on the previous call's result,
    /// nesting its description; thousands of them once built descriptions of
    /// 100 KB each (1.5 GB for a 4.7 KB file, found by fuzzing). Every
    /// description is now bounded, so the scan's memory is linear in the file.
    #[test]
    fn chained_calls_keep_bounded_descriptions() {
        let mut code = b"\x80\x02K\x01".to_vec();
        code.extend(std::iter::repeat_n(b'Q', 20_000));
        code.push(b'.');
        let s = scan(&code, &Limits::default(), &mut StorageTable::default());
        assert_eq!(s.calls.len(), 20_000);
        let longest = s.calls.iter().map(|c| c.callable.len()).max().unwrap_or(0);
        assert!(longest <= MAX_CALLABLE_DESCRIPTION, "{longest} bytes");
        assert!(
            longest > MAX_GLOBAL_NAME,
            "the nesting was not exercised: {longest} bytes"
        );
        assert!(s
            .calls
            .iter()
            .all(|c| c.callable.starts_with("persistent_load(")));
        let ev = s.result.as_ref().unwrap();
        assert!(
            matches!(ev.obj(ev.root), Obj::Opaque(w) if w.len() <= MAX_CALLABLE_DESCRIPTION && w.ends_with('…'))
        );
    }

    #[test]
    fn descriptions_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_CALLABLE_DESCRIPTION);
        let cut = bounded_description(long);
        assert!(cut.len() <= MAX_CALLABLE_DESCRIPTION && cut.ends_with('…'));
        assert_eq!(bounded_description("f(...)".into()), "f(...)");
    }
}
