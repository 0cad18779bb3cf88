//! Builders for WAV files and test signals.

/// A RIFF/WAVE file from chunks, each padded to an even size.
pub fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Rewrites the RIFF size field to match the file's length.
pub fn fix_riff_size(file: &mut [u8]) {
    let size = (file.len() - 8) as u32;
    file[4..8].copy_from_slice(&size.to_le_bytes());
}

/// A 16-byte `fmt ` body with a consistent block alignment and byte rate.
pub fn fmt(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = u32::from(channels) * u32::from(bits / 8);
    fmt_raw(tag, channels, rate, align as u16, bits)
}

/// A 16-byte `fmt ` body with every field given.
pub fn fmt_raw(tag: u16, channels: u16, rate: u32, block_align: u16, bits: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate.wrapping_mul(u32::from(block_align))).to_le_bytes());
    f.extend_from_slice(&block_align.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

/// A 40-byte WAVE_FORMAT_EXTENSIBLE `fmt ` body.
pub fn fmt_extensible(
    sub_tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    valid_bits: u16,
) -> Vec<u8> {
    let mut f = fmt(0xFFFE, channels, rate, bits);
    f.extend_from_slice(&22u16.to_le_bytes());
    f.extend_from_slice(&valid_bits.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&sub_tag.to_le_bytes());
    f.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
    ]);
    f
}

/// 16-bit little-endian PCM bytes.
pub fn pcm16(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// A small valid mono 16-bit file at 16 kHz with the given samples.
pub fn small_wav(samples: &[i16]) -> Vec<u8> {
    riff(&[
        (b"fmt ", &fmt(1, 1, 16_000, 16)),
        (b"data", &pcm16(samples)),
    ])
}

/// `seconds` of a sine of `freq` Hz and amplitude `amp` at `rate`.
pub fn sine(freq: f64, amp: f32, rate: u32, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds).round() as usize;
    (0..n)
        .map(|i| {
            amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32
        })
        .collect()
}
