//! A small FLAC encoder: mono, 16-bit, fixed block size, each block coded
//! as a constant, one of FLAC's fixed polynomial predictors (orders 0 to 4)
//! with partitioned Rice codes, or verbatim, whichever is smallest.
//!
//! Written here rather than taken from a crate: it is a few hundred lines
//! of arithmetic on samples Signet made (no parsing, no unsafe code), so it
//! adds no dependency to audit. Speech compresses to about half of 16-bit
//! PCM with fixed predictors; LPC would gain another tenth.
//!
//! The stream's `STREAMINFO` says the total length and MD5 are unknown
//! (both allowed by the format): a stream does not know them when its
//! first bytes leave. A `VORBIS_COMMENT` block carries the provenance.

use signet_audio::{to_s16, Provenance};

use crate::tags::vorbis_comments;
use crate::EncodeError;

/// Samples per block (FLAC's common choice at these rates).
const BLOCK: usize = 4096;
/// Highest Rice partition order tried.
const MAX_PARTITION_ORDER: u32 = 6;
/// Highest Rice parameter in the 4-bit coding method (15 is the escape).
const MAX_RICE: u32 = 14;

/// Writes bits, most significant first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// Writes the low `count` bits of `value` (`count` ≤ 32).
    fn put(&mut self, count: u32, value: u64) {
        debug_assert!(count <= 32);
        if count == 0 {
            return;
        }
        self.acc = (self.acc << count) | (value & ((1u64 << count) - 1));
        self.n += count;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1u64 << self.n).wrapping_sub(1);
    }

    fn put_signed(&mut self, count: u32, value: i64) {
        self.put(count, value as u64);
    }

    fn unary(&mut self, mut zeros: u64) {
        while zeros >= 32 {
            self.put(32, 0);
            zeros -= 32;
        }
        self.put(zeros as u32 + 1, 1);
    }

    fn align(&mut self) {
        if self.n > 0 {
            self.put(8 - self.n, 0);
        }
    }
}

fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// FLAC's UTF-8-like coding of a frame number.
fn utf8_number(n: u64, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let bytes: u32 = match n {
        0..=0x7ff => 2,
        0x800..=0xffff => 3,
        0x1_0000..=0x1f_ffff => 4,
        0x20_0000..=0x3ff_ffff => 5,
        0x400_0000..=0x7fff_ffff => 6,
        _ => 7,
    };
    let lead_bits = 7 - bytes; // payload bits in the first byte
    let lead_mark = (0xffu16 << (8 - bytes)) as u8;
    let shift = 6 * (bytes - 1);
    out.push(lead_mark | ((n >> shift) as u8 & ((1u8 << lead_bits) - 1)));
    for i in (0..bytes - 1).rev() {
        out.push(0x80 | ((n >> (6 * i)) as u8 & 0x3f));
    }
}

/// The residual of fixed predictor `order` at position `i` (`i ≥ order`).
fn residual(x: &[i64], order: usize, i: usize) -> i64 {
    let at = |k: usize| x.get(i.wrapping_sub(k)).copied().unwrap_or(0);
    match order {
        0 => at(0),
        1 => at(0) - at(1),
        2 => at(0) - 2 * at(1) + at(2),
        3 => at(0) - 3 * at(1) + 3 * at(2) - at(3),
        _ => at(0) - 4 * at(1) + 6 * at(2) - 4 * at(3) + at(4),
    }
}

fn zigzag(r: i64) -> u64 {
    ((r << 1) ^ (r >> 63)) as u64
}

/// Bits of one partition with Rice parameter `k`.
fn rice_bits(us: &[u64], k: u32) -> u64 {
    us.iter().map(|&u| (u >> k) + 1 + u64::from(k)).sum()
}

/// The best Rice parameter of a partition and its cost in bits.
fn best_rice(us: &[u64]) -> (u32, u64) {
    let len = us.len().max(1) as u64;
    let mean = us.iter().sum::<u64>() / len;
    let guess = (64 - mean.leading_zeros()).min(MAX_RICE);
    let mut best = (guess, rice_bits(us, guess));
    for k in [guess.saturating_sub(1), (guess + 1).min(MAX_RICE)] {
        let c = rice_bits(us, k);
        if c < best.1 {
            best = (k, c);
        }
    }
    best
}

/// A residual coding plan: partition order, and per partition its parameter.
struct Plan {
    order: u32,
    params: Vec<u32>,
    bits: u64,
}

/// The cheapest partitioning of `us` (residuals of a block of `n` samples,
/// the first `pred` of which are warm-up).
fn plan(us: &[u64], n: usize, pred: usize) -> Plan {
    let mut best: Option<Plan> = None;
    for p in 0..=MAX_PARTITION_ORDER {
        let parts = 1usize << p;
        if n % parts != 0 || n / parts <= pred {
            break;
        }
        let size = n / parts;
        let mut params = Vec::with_capacity(parts);
        let mut bits = 6u64; // method and order
        let mut start = 0usize;
        for i in 0..parts {
            let len = if i == 0 { size - pred } else { size };
            let part = us.get(start..start + len).unwrap_or_default();
            let (k, c) = best_rice(part);
            params.push(k);
            bits += 4 + c;
            start += len;
        }
        if best.as_ref().is_none_or(|b| bits < b.bits) {
            best = Some(Plan {
                order: p,
                params,
                bits,
            });
        }
    }
    best.unwrap_or(Plan {
        order: 0,
        params: vec![MAX_RICE],
        bits: u64::MAX,
    })
}

/// Writes one subframe for `x` (16-bit samples widened).
fn subframe(bits: &mut Bits, x: &[i64]) {
    let n = x.len();
    let first = x.first().copied().unwrap_or(0);
    if x.iter().all(|&s| s == first) {
        bits.put(8, 0x00);
        bits.put_signed(16, first);
        return;
    }
    let verbatim_bits = 16 * n as u64;
    let mut best: Option<(usize, Vec<u64>, Plan)> = None;
    for order in 0..=4usize {
        if order >= n {
            break;
        }
        let us: Vec<u64> = (order..n).map(|i| zigzag(residual(x, order, i))).collect();
        let p = plan(&us, n, order);
        let total = p.bits.saturating_add(16 * order as u64);
        if best
            .as_ref()
            .is_none_or(|(o, _, b)| total < b.bits.saturating_add(16 * *o as u64))
        {
            best = Some((order, us, p));
        }
    }
    match best {
        Some((order, us, p)) if p.bits.saturating_add(16 * order as u64) < verbatim_bits => {
            bits.put(8, ((0x08 | order as u64) << 1) & 0xff);
            for &s in x.iter().take(order) {
                bits.put_signed(16, s);
            }
            bits.put(2, 0);
            bits.put(4, u64::from(p.order));
            let parts = 1usize << p.order;
            let size = n / parts;
            let mut start = 0usize;
            for (i, &k) in p.params.iter().enumerate() {
                let len = if i == 0 { size - order } else { size };
                bits.put(4, u64::from(k));
                for &u in us.get(start..start + len).unwrap_or_default() {
                    bits.unary(u >> k);
                    bits.put(k, u);
                }
                start += len;
            }
        }
        _ => {
            bits.put(8, 0x02);
            for &s in x {
                bits.put_signed(16, s);
            }
        }
    }
}

/// The FLAC stream encoder.
pub(crate) struct FlacEncoder {
    pending: Vec<i64>,
    frame: u64,
}

impl FlacEncoder {
    /// The encoder and the stream's header (`fLaC`, `STREAMINFO`,
    /// `VORBIS_COMMENT`).
    pub(crate) fn new(rate: u32, provenance: &Provenance) -> Result<(Self, Vec<u8>), EncodeError> {
        if !(1..=655_350).contains(&rate) {
            return Err(EncodeError::SampleRate {
                format: "flac",
                rate,
                range: "1 to 655350 Hz",
            });
        }
        let mut h = b"fLaC".to_vec();
        // STREAMINFO, not last, 34 bytes.
        h.extend_from_slice(&[0x00, 0, 0, 34]);
        let mut si = Bits::default();
        si.put(16, BLOCK as u64);
        si.put(16, BLOCK as u64);
        si.put(24, 0); // smallest frame: unknown
        si.put(24, 0); // largest frame: unknown
        si.put(20, u64::from(rate));
        si.put(3, 0); // one channel
        si.put(5, 15); // 16 bits per sample
        si.put(4, 0); // total samples (36 bits): unknown
        si.put(32, 0);
        h.extend_from_slice(&si.out);
        h.extend_from_slice(&[0u8; 16]); // MD5: unknown
        let vc = vorbis_comments(provenance);
        let len = u32::try_from(vc.len()).unwrap_or(u32::MAX).min(0xff_ffff);
        h.push(0x80 | 4); // last block, VORBIS_COMMENT
        h.extend_from_slice(&len.to_be_bytes()[1..]);
        h.extend_from_slice(&vc);
        Ok((
            Self {
                pending: Vec::with_capacity(BLOCK),
                frame: 0,
            },
            h,
        ))
    }

    /// Takes samples; writes every whole block.
    pub(crate) fn encode(&mut self, samples: &[f32], out: &mut Vec<u8>) {
        for &s in samples {
            self.pending.push(i64::from(to_s16(s)));
            if self.pending.len() == BLOCK {
                self.write_frame(out);
            }
        }
    }

    /// Writes the last, shorter block.
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            self.write_frame(out);
        }
    }

    fn write_frame(&mut self, out: &mut Vec<u8>) {
        let n = self.pending.len();
        let mut header = vec![0xff, 0xf8, 0x70, 0x08];
        utf8_number(self.frame, &mut header);
        header.extend_from_slice(&u16::try_from(n - 1).unwrap_or(u16::MAX).to_be_bytes());
        header.push(crc8(&header));
        let mut bits = Bits {
            out: header,
            ..Bits::default()
        };
        subframe(&mut bits, &self.pending);
        bits.align();
        let crc = crc16(&bits.out);
        out.extend_from_slice(&bits.out);
        out.extend_from_slice(&crc.to_be_bytes());
        self.pending.clear();
        self.frame += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_the_format_s_polynomials() {
        // Check values of CRC-8 (0x07) and CRC-16/UMTS (0x8005) over "123456789".
        assert_eq!(crc8(b"123456789"), 0xf4);
        assert_eq!(crc16(b"123456789"), 0xfee8);
    }

    #[test]
    fn frame_numbers_use_the_utf8_scheme() {
        let enc = |n| {
            let mut v = Vec::new();
            utf8_number(n, &mut v);
            v
        };
        assert_eq!(enc(0x7f), [0x7f]);
        assert_eq!(enc(0x80), [0xc2, 0x80]);
        assert_eq!(enc(0x800), [0xe0, 0xa0, 0x80]);
    }

    #[test]
    fn speech_like_signal_compresses_below_pcm() {
        let p = Provenance::new("Signet", "0.1.0", "v", "ab".repeat(32))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let (mut e, _) = FlacEncoder::new(22_050, &p).unwrap_or_else(|e| unreachable!("{e}"));
        let tone: Vec<f32> = (0..22_050).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
        let mut out = Vec::new();
        e.encode(&tone, &mut out);
        e.finish(&mut out);
        assert!(
            out.len() < tone.len(),
            "{} bytes for {} samples",
            out.len(),
            tone.len()
        );
    }
}
