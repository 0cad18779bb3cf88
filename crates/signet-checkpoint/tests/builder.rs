//! Builds pickles opcode by opcode, torch-style checkpoints around them (zip and legacy), and
//! zip archives with every field under the test's control.

use std::path::PathBuf;

/// A pickle under construction.
#[derive(Clone, Default)]
pub struct P(pub Vec<u8>);

impl P {
    /// Protocol 2, as torch writes.
    pub fn new() -> Self {
        P(vec![0x80, 2])
    }

    /// No PROTO header: a protocol 0 pickle.
    pub fn proto0() -> Self {
        P(Vec::new())
    }

    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn op(self, op: u8) -> Self {
        self.raw(&[op])
    }

    /// `GLOBAL module\nname\n`.
    pub fn global(self, module: &str, name: &str) -> Self {
        self.op(b'c')
            .raw(module.as_bytes())
            .raw(b"\n")
            .raw(name.as_bytes())
            .raw(b"\n")
    }

    /// `module name STACK_GLOBAL`.
    pub fn stack_global(self, module: &str, name: &str) -> Self {
        self.str(module).str(name).op(0x93)
    }

    /// `BINUNICODE`.
    pub fn str(self, s: &str) -> Self {
        let n = s.len() as u32;
        self.op(b'X').raw(&n.to_le_bytes()).raw(s.as_bytes())
    }

    /// `BININT`.
    pub fn int(self, v: i32) -> Self {
        self.op(b'J').raw(&v.to_le_bytes())
    }

    pub fn mark(self) -> Self {
        self.op(b'(')
    }
    pub fn tuple(self) -> Self {
        self.op(b't')
    }
    pub fn tuple1(self) -> Self {
        self.op(0x85)
    }
    pub fn tuple2(self) -> Self {
        self.op(0x86)
    }
    pub fn empty_tuple(self) -> Self {
        self.op(b')')
    }
    pub fn empty_dict(self) -> Self {
        self.op(b'}')
    }
    pub fn empty_list(self) -> Self {
        self.op(b']')
    }
    pub fn reduce(self) -> Self {
        self.op(b'R')
    }
    pub fn build(self) -> Self {
        self.op(b'b')
    }
    pub fn setitem(self) -> Self {
        self.op(b's')
    }
    pub fn setitems(self) -> Self {
        self.op(b'u')
    }
    pub fn append(self) -> Self {
        self.op(b'a')
    }
    pub fn binput(self, i: u8) -> Self {
        self.op(b'q').raw(&[i])
    }
    pub fn binget(self, i: u8) -> Self {
        self.op(b'h').raw(&[i])
    }
    pub fn none(self) -> Self {
        self.op(b'N')
    }
    pub fn newfalse(self) -> Self {
        self.op(0x89)
    }
    pub fn stop(self) -> Vec<u8> {
        self.op(b'.').0
    }

    /// `collections.OrderedDict()`.
    pub fn ordered_dict(self) -> Self {
        self.global("collections", "OrderedDict")
            .empty_tuple()
            .reduce()
    }

    /// A call `module.name(arg)` with one string argument, through `GLOBAL`.
    pub fn call1(self, module: &str, name: &str, arg: &str) -> Self {
        self.global(module, name).str(arg).tuple1().reduce()
    }

    /// The same call through `STACK_GLOBAL`.
    pub fn stack_call1(self, module: &str, name: &str, arg: &str) -> Self {
        self.stack_global(module, name).str(arg).tuple1().reduce()
    }

    /// A persistent id for a typed storage: `('storage', torch.<class>, key, 'cpu', numel)`.
    pub fn storage(self, class: &str, key: &str, numel: i32) -> Self {
        self.mark()
            .str("storage")
            .global("torch", class)
            .str(key)
            .str("cpu")
            .int(numel)
            .tuple()
            .op(b'Q')
    }

    /// `_rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())`.
    pub fn tensor(
        self,
        class: &str,
        key: &str,
        numel: i32,
        offset: i32,
        shape: &[i32],
        stride: &[i32],
    ) -> Self {
        let mut p = self
            .global("torch._utils", "_rebuild_tensor_v2")
            .mark()
            .storage(class, key, numel)
            .int(offset)
            .mark();
        for &s in shape {
            p = p.int(s);
        }
        p = p.tuple().mark();
        for &s in stride {
            p = p.int(s);
        }
        p.tuple().newfalse().ordered_dict().tuple().reduce()
    }
}

/// A state dict pickle `{name: tensor}` over F32 storages, one per tensor, contiguous.
pub fn state_dict(tensors: &[(&str, &str, &[i32])]) -> Vec<u8> {
    let mut p = P::new().ordered_dict().mark();
    for (name, key, shape) in tensors {
        let numel: i32 = shape.iter().product();
        let mut stride = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            stride[i] = stride[i + 1] * shape[i + 1];
        }
        p = p
            .str(name)
            .tensor("FloatStorage", key, numel, 0, shape, &stride);
    }
    p.setitems().stop()
}

/// One entry of a hand-made zip archive.
#[derive(Clone)]
pub struct ZipEntry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    pub method: u16,
    /// Overrides the uncompressed size in the central directory.
    pub declared_size: Option<u32>,
    /// Makes the central record point at another entry's local header (by index).
    pub local_of: Option<usize>,
}

impl ZipEntry {
    pub fn new(name: &str, data: &[u8]) -> Self {
        ZipEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            declared_size: None,
            local_of: None,
        }
    }
}

/// CRC-32 as zip computes it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Writes a zip archive: local headers and data, then the central directory and its end.
pub fn zip(entries: &[ZipEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u32);
        let size = e.data.len() as u32;
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&crc32(&e.data).to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
    }
    let cd_start = out.len() as u32;
    for (i, e) in entries.iter().enumerate() {
        let size = e.declared_size.unwrap_or(e.data.len() as u32);
        let local = offsets[e.local_of.unwrap_or(i)];
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&crc32(&e.data).to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&local.to_le_bytes());
        out.extend_from_slice(&e.name);
    }
    let cd_size = out.len() as u32 - cd_start;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A torch-style zip checkpoint: `archive/data.pkl`, the storages, `byteorder`, `version`.
pub fn torch_zip(pickle: &[u8], storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    zip(&torch_entries(pickle, storages))
}

pub fn torch_entries(pickle: &[u8], storages: &[(&str, Vec<u8>)]) -> Vec<ZipEntry> {
    let mut entries = vec![ZipEntry::new("archive/data.pkl", pickle)];
    entries.push(ZipEntry::new("archive/byteorder", b"little"));
    for (key, data) in storages {
        entries.push(ZipEntry::new(&format!("archive/data/{key}"), data));
    }
    entries.push(ZipEntry::new("archive/version", b"3\n"));
    entries
}

/// `n` f32 values 0, 1, 2, ... as little-endian bytes.
pub fn f32_bytes(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
}

/// A legacy-format stream around `object` (a pickle) with the given storage records.
pub fn legacy(object: &[u8], records: &[(&str, u64, Vec<u8>)]) -> Vec<u8> {
    // Magic number 0x1950a86a20f9469cfc6c as LONG1, protocol 1001, sys info.
    let mut out = P::new()
        .op(0x8a)
        .raw(&[
            10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
        ])
        .stop();
    out.extend(P::new().op(b'M').raw(&1001u16.to_le_bytes()).stop());
    out.extend(
        P::new()
            .empty_dict()
            .mark()
            .str("protocol_version")
            .op(b'M')
            .raw(&1001u16.to_le_bytes())
            .str("little_endian")
            .op(0x88)
            .setitems()
            .stop(),
    );
    out.extend_from_slice(object);
    let mut keys = P::new().empty_list().mark();
    for (key, _, _) in records {
        keys = keys.str(key);
    }
    out.extend(keys.op(b'e').stop());
    for (_, count, data) in records {
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// A folder a payload would write to if it ran; each test checks it stays empty.
pub struct Canary {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Canary {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ran");
        Canary { _dir: dir, path }
    }

    /// A shell command that creates the canary.
    pub fn shell(&self) -> String {
        format!("touch {}", self.path.display())
    }

    /// Python source that creates the canary.
    pub fn python(&self) -> String {
        format!("open({:?}, 'w').close()", self.path.display().to_string())
    }

    pub fn assert_untouched(&self) {
        assert!(
            !self.path.exists(),
            "the payload ran: {} exists",
            self.path.display()
        );
    }
}
