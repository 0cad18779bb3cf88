//! Provenance in the formats' own tag blocks: what the WAV `LIST`/`INFO`
//! chunk carries (`ISFT`, software; `ICMT`, the comment that states the
//! audio is synthetic and names the voice and its manifest digest).
//!
//! - Vorbis comments (FLAC's `VORBIS_COMMENT` block, Opus's `OpusTags`):
//!   `ENCODER=<software>`, `COMMENT=<comment>`.
//! - ID3v2.4 (MP3): `TSSE` (software), `COMM` (comment, language `eng`),
//!   and `TXXX` with description `provenance` (the comment again, where
//!   tools that drop `COMM` keep user text frames).
//!
//! The provenance fields are capped and free of control characters
//! ([`Provenance::new`]), so every length here fits its field.

use signet_audio::Provenance;

/// The vendor string of Vorbis comment blocks.
const VENDOR: &str = "Signet";

/// A Vorbis comment block's body (little-endian lengths): vendor, then
/// `ENCODER` and `COMMENT`.
pub fn vorbis_comments(provenance: &Provenance) -> Vec<u8> {
    let comments = [
        format!("ENCODER={}", provenance.software()),
        format!("COMMENT={}", provenance.comment()),
    ];
    let mut out = Vec::new();
    push_le_string(&mut out, VENDOR);
    out.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for c in &comments {
        push_le_string(&mut out, c);
    }
    out
}

fn push_le_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A complete ID3v2.4 tag (header and frames), to put before the first MP3
/// frame.
pub fn id3v2(provenance: &Provenance) -> Vec<u8> {
    const UTF8: u8 = 3;
    let comment = provenance.comment();
    let mut frames = Vec::new();
    let mut tsse = vec![UTF8];
    tsse.extend_from_slice(provenance.software().as_bytes());
    push_frame(&mut frames, b"TSSE", &tsse);
    let mut comm = vec![UTF8];
    comm.extend_from_slice(b"eng");
    comm.push(0); // empty short description
    comm.extend_from_slice(comment.as_bytes());
    push_frame(&mut frames, b"COMM", &comm);
    let mut txxx = vec![UTF8];
    txxx.extend_from_slice(b"provenance");
    txxx.push(0);
    txxx.extend_from_slice(comment.as_bytes());
    push_frame(&mut frames, b"TXXX", &txxx);
    let mut tag = b"ID3".to_vec();
    tag.extend_from_slice(&[4, 0, 0]);
    tag.extend_from_slice(&syncsafe(frames.len()));
    tag.extend_from_slice(&frames);
    tag
}

fn push_frame(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&syncsafe(body.len()));
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(body);
}

/// ID3v2.4's 28-bit size, seven bits per byte.
fn syncsafe(n: usize) -> [u8; 4] {
    let n = u32::try_from(n).unwrap_or(u32::MAX).min((1 << 28) - 1);
    [
        ((n >> 21) & 0x7f) as u8,
        ((n >> 14) & 0x7f) as u8,
        ((n >> 7) & 0x7f) as u8,
        (n & 0x7f) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance() -> Provenance {
        Provenance::new("Signet", "0.1.0", "v", "ab".repeat(32))
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn id3_sizes_are_syncsafe_and_consistent() {
        assert_eq!(syncsafe(0x80), [0, 0, 1, 0]);
        let tag = id3v2(&provenance());
        let size = tag[6..10]
            .iter()
            .fold(0usize, |acc, &b| (acc << 7) | usize::from(b));
        assert_eq!(size + 10, tag.len());
        assert!(tag.windows(4).any(|w| w == b"COMM"));
    }

    #[test]
    fn vorbis_comments_carry_the_provenance_comment() {
        let body = vorbis_comments(&provenance());
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("COMMENT=synthetic speech; generator=Signet"));
        assert!(text.contains("ENCODER=Signet 0.1.0"));
    }
}
