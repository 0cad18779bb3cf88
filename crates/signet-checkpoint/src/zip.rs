//! A small strict reader for the zip archives `torch.save` writes.
//!
//! torch writes every entry *stored* (uncompressed), so this reader supports exactly that: the
//! end-of-central-directory record (and its zip64 form), the central directory, and each
//! entry's local header, cross-checked. Refused: compression of any kind (so no zip bomb can
//! expand), encryption, multi-disk archives, names that are not plain relative UTF-8 paths
//! (`..`, `.`, empty components, absolute paths, backslashes, control characters), duplicate
//! names, entries whose bytes overlap each other or the central directory, sizes that point
//! past the end of the file, and a CRC-32 that does not match. Entries are borrowed slices of
//! the input: nothing is copied or inflated.

use std::collections::HashSet;

use crate::error::CheckpointError;
use crate::limits::Limits;

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;

/// Whether `bytes` starts like a zip archive.
pub(crate) fn looks_like_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// One stored entry: its name and its bytes in the archive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

fn bad(reason: impl Into<String>) -> CheckpointError {
    CheckpointError::archive(reason)
}

/// Little-endian field reader over a slice, every read checked.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn at(bytes: &'a [u8], pos: usize, what: &'static str) -> Self {
        Self { bytes, pos, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CheckpointError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end.and_then(|e| self.bytes.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(bad(format!(
                "{} at offset {} runs past the end of the file",
                self.what, self.pos
            ))),
        }
    }

    fn u16(&mut self) -> Result<u16, CheckpointError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([
            s.first().copied().unwrap_or(0),
            s.get(1).copied().unwrap_or(0),
        ]))
    }

    fn u32(&mut self) -> Result<u32, CheckpointError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, CheckpointError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
}

fn to_usize(v: u64, what: &str) -> Result<usize, CheckpointError> {
    usize::try_from(v).map_err(|_| bad(format!("{what} {v} does not fit in memory")))
}

/// Reads the archive's entries, in central-directory order, after every check above.
pub(crate) fn read_archive<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<Vec<Entry<'a>>, CheckpointError> {
    let eocd_pos = find_eocd(bytes)?;
    let mut f = Fields::at(bytes, eocd_pos + 4, "end of central directory");
    let disk = f.u16()?;
    let cd_disk = f.u16()?;
    let entries_here = f.u16()?;
    let mut entries = u64::from(f.u16()?);
    let mut cd_size = u64::from(f.u32()?);
    let mut cd_offset = u64::from(f.u32()?);
    if disk != 0 || cd_disk != 0 || u64::from(entries_here) != entries {
        return Err(bad("multi-disk archives are not supported"));
    }
    let zip64 = entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF;
    let mut cd_end_limit = eocd_pos;
    if zip64 {
        let loc_pos = eocd_pos
            .checked_sub(20)
            .ok_or_else(|| bad("zip64 end-of-central-directory locator missing"))?;
        let mut l = Fields::at(bytes, loc_pos, "zip64 locator");
        if l.u32()? != EOCD64_LOCATOR_SIG {
            return Err(bad("zip64 end-of-central-directory locator missing"));
        }
        let _disk = l.u32()?;
        let rec_pos = to_usize(l.u64()?, "zip64 record offset")?;
        if rec_pos >= loc_pos {
            return Err(bad(
                "zip64 end-of-central-directory record points past its locator",
            ));
        }
        let mut r = Fields::at(bytes, rec_pos, "zip64 end of central directory");
        if r.u32()? != EOCD64_SIG {
            return Err(bad("zip64 end-of-central-directory record missing"));
        }
        let _size = r.u64()?;
        let _made = r.u16()?;
        let _need = r.u16()?;
        let (d, cd) = (r.u32()?, r.u32()?);
        let here = r.u64()?;
        entries = r.u64()?;
        cd_size = r.u64()?;
        cd_offset = r.u64()?;
        if d != 0 || cd != 0 || here != entries {
            return Err(bad("multi-disk archives are not supported"));
        }
        cd_end_limit = rec_pos;
    }
    if entries > limits.max_zip_entries {
        return Err(CheckpointError::limit(
            "zip entries",
            "max_zip_entries",
            entries,
            limits.max_zip_entries,
        ));
    }
    let cd_start = to_usize(cd_offset, "central directory offset")?;
    let cd_len = to_usize(cd_size, "central directory size")?;
    let cd_end = cd_start
        .checked_add(cd_len)
        .filter(|&e| e <= cd_end_limit)
        .ok_or_else(|| bad("the central directory runs past its end record"))?;
    // Each central record is at least 46 bytes: a count the directory cannot hold is a lie.
    if entries.saturating_mul(CENTRAL_LEN as u64) > cd_size {
        return Err(bad(format!(
            "the end record declares {entries} entries, more than a {cd_size}-byte directory holds"
        )));
    }

    let mut out = Vec::with_capacity(to_usize(entries, "entry count")?);
    let mut names = HashSet::new();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut f = Fields::at(bytes, cd_start, "central directory record");
    for index in 0..entries {
        if f.u32()? != CENTRAL_SIG {
            return Err(bad(format!(
                "central directory record {index} has a bad signature"
            )));
        }
        let _made = f.u16()?;
        let _need = f.u16()?;
        let flags = f.u16()?;
        let method = f.u16()?;
        let _time = f.u16()?;
        let _date = f.u16()?;
        let crc = f.u32()?;
        let mut csize = u64::from(f.u32()?);
        let mut usize_ = u64::from(f.u32()?);
        let name_len = usize::from(f.u16()?);
        let extra_len = usize::from(f.u16()?);
        let comment_len = usize::from(f.u16()?);
        let disk_start = f.u16()?;
        let _int_attr = f.u16()?;
        let _ext_attr = f.u32()?;
        let mut local = u64::from(f.u32()?);
        let name_bytes = f.take(name_len)?;
        let extra = f.take(extra_len)?;
        let _comment = f.take(comment_len)?;
        if f.pos > cd_end {
            return Err(bad(
                "the central directory is longer than its end record says",
            ));
        }
        let name = check_name(name_bytes, limits)?;
        if flags & 0x1 != 0 || flags & 0x40 != 0 {
            return Err(bad(format!("entry {name} is encrypted")));
        }
        if method != 0 {
            return Err(bad(format!(
                "entry {name} is compressed (method {method}); torch stores entries uncompressed, \
                 and Signet reads only stored entries"
            )));
        }
        if disk_start != 0 && disk_start != 0xFFFF {
            return Err(bad("multi-disk archives are not supported"));
        }
        apply_zip64_extra(extra, &mut usize_, &mut csize, &mut local)?;
        if csize != usize_ {
            return Err(bad(format!(
                "stored entry {name} declares {csize} bytes stored but {usize_} bytes of content"
            )));
        }
        if !names.insert(name) {
            return Err(bad(format!("entry name {name} appears twice")));
        }
        let local_pos = to_usize(local, "local header offset")?;
        let mut l = Fields::at(bytes, local_pos, "local header");
        if l.u32()? != LOCAL_SIG {
            return Err(bad(format!(
                "entry {name}: no local header at offset {local_pos}"
            )));
        }
        let _need = l.u16()?;
        let lflags = l.u16()?;
        let lmethod = l.u16()?;
        let _t = l.u16()?;
        let _d = l.u16()?;
        let _crc = l.u32()?;
        let _cs = l.u32()?;
        let _us = l.u32()?;
        let lname_len = usize::from(l.u16()?);
        let lextra_len = usize::from(l.u16()?);
        let lname = l.take(lname_len)?;
        let _lextra = l.take(lextra_len)?;
        if lname != name_bytes || lmethod != method || (lflags & 0x1) != 0 {
            return Err(bad(format!(
                "entry {name}: the local header disagrees with the central directory"
            )));
        }
        let data_start = l.pos;
        let len = to_usize(usize_, "entry size")?;
        let data_end = data_start
            .checked_add(len)
            .filter(|&e| e <= cd_start)
            .ok_or_else(|| {
                bad(format!(
                    "entry {name} declares {len} bytes, which run past the entries' area"
                ))
            })?;
        let data = bytes
            .get(data_start..data_end)
            .ok_or_else(|| bad(format!("entry {name} runs past the end of the file")))?;
        if crc32(data) != crc {
            return Err(bad(format!(
                "entry {name}: CRC-32 mismatch (the file is corrupt)"
            )));
        }
        spans.push((local_pos, data_end, out.len()));
        out.push(Entry { name, data });
    }
    if f.pos != cd_end {
        return Err(bad(
            "the central directory is shorter than its end record says",
        ));
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if let [(_, end_a, a), (start_b, _, b)] = pair {
            if start_b < end_a {
                let name = |i: &usize| out.get(*i).map(|e| e.name).unwrap_or("?");
                return Err(bad(format!(
                    "entries {} and {} overlap (a zip bomb's trick)",
                    name(a),
                    name(b)
                )));
            }
        }
    }
    Ok(out)
}

/// Finds the end-of-central-directory record: the last signature whose comment length reaches
/// exactly the end of the file.
fn find_eocd(bytes: &[u8]) -> Result<usize, CheckpointError> {
    if bytes.len() < EOCD_LEN {
        return Err(bad("too short for a zip archive"));
    }
    let lowest = bytes.len().saturating_sub(EOCD_LEN + 0xFFFF);
    let mut pos = bytes.len() - EOCD_LEN;
    loop {
        if bytes.get(pos..pos + 4) == Some(&EOCD_SIG.to_le_bytes()[..]) {
            let clen = bytes
                .get(pos + 20..pos + 22)
                .and_then(|c| <[u8; 2]>::try_from(c).ok())
                .map(|c| usize::from(u16::from_le_bytes(c)));
            if clen.map(|c| pos + EOCD_LEN + c) == Some(bytes.len()) {
                return Ok(pos);
            }
        }
        if pos == lowest {
            return Err(bad(
                "no end-of-central-directory record (truncated archive?)",
            ));
        }
        pos -= 1;
    }
}

fn apply_zip64_extra(
    mut extra: &[u8],
    usize_: &mut u64,
    csize: &mut u64,
    local: &mut u64,
) -> Result<(), CheckpointError> {
    while let [i0, i1, l0, l1, ..] = *extra {
        let id = u16::from_le_bytes([i0, i1]);
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        let body = extra
            .get(4..4 + len)
            .ok_or_else(|| bad("an extra field runs past its record"))?;
        if id == 0x0001 {
            let mut f = Fields::at(body, 0, "zip64 extra field");
            for field in [&mut *usize_, &mut *csize, &mut *local] {
                if *field == 0xFFFF_FFFF {
                    *field = f.u64()?;
                }
            }
        }
        extra = extra.get(4 + len..).unwrap_or(&[]);
    }
    Ok(())
}

/// A name that is a plain relative path: UTF-8, no control characters or backslashes, no
/// empty, `.` or `..` components, not absolute.
fn check_name<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, CheckpointError> {
    if bytes.len() as u64 > limits.max_entry_name_bytes {
        return Err(CheckpointError::limit(
            "an entry name's length",
            "max_entry_name_bytes",
            bytes.len() as u64,
            limits.max_entry_name_bytes,
        ));
    }
    let name = std::str::from_utf8(bytes).map_err(|_| {
        bad(format!(
            "an entry name is not UTF-8: {}",
            escape_bytes(bytes)
        ))
    })?;
    let refuse = |why: &str| bad(format!("entry name {} {why}", escape_bytes(bytes)));
    if name.chars().any(|c| c.is_control() || c == '\\') {
        return Err(refuse("holds a control character or backslash"));
    }
    if name.starts_with('/') {
        return Err(refuse("is an absolute path"));
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(refuse("has an empty, `.` or `..` component"));
    }
    Ok(name)
}

/// Bytes for a message: printable ASCII as is, everything else as `\xNN`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// CRC-32 (IEEE 802.3, reflected), as zip uses it.
// Both indexes are below 256 by construction (the loop bound, `& 0xFF`).
#[allow(clippy::indexing_slicing)]
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn names_must_be_plain_relative_paths() {
        let l = Limits::default();
        assert!(check_name(b"archive/data/0", &l).is_ok());
        for bad in [
            &b"../x"[..],
            b"a/../b",
            b"/etc/passwd",
            b"a//b",
            b"a\\b",
            b"a/./b",
            b"a\nb",
            b"\xff",
        ] {
            assert!(check_name(bad, &l).is_err(), "{bad:?}");
        }
    }
}
