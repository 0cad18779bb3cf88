//! An Ogg page writer (RFC 3533): packets in, pages out, each page with its
//! lacing table and CRC. One logical stream; only what Opus needs.

/// Most lacing values (segments) a page holds.
const MAX_SEGMENTS: usize = 255;

/// Header type flags.
const BOS: u8 = 0x02;
const EOS: u8 = 0x04;

/// The Ogg CRC-32 table (polynomial 0x04c11db7, not reflected).
// Evaluated at compile time: an index out of range fails the build, never a run.
#[allow(clippy::indexing_slicing)]
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut j = 0;
        while j < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            j += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

fn crc32(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |crc, &b| {
        let i = usize::from((crc >> 24) as u8 ^ b);
        (crc << 8) ^ CRC_TABLE.get(i).copied().unwrap_or(0)
    })
}

/// One logical Ogg stream being written.
pub(crate) struct OggWriter {
    serial: u32,
    sequence: u32,
    /// Packets waiting for the next page: their lacing values and bytes.
    lacing: Vec<u8>,
    body: Vec<u8>,
    first: bool,
    /// The granule position at the end of the last packet added.
    last_granule: u64,
}

impl OggWriter {
    pub(crate) fn new(serial: u32) -> Self {
        Self {
            serial,
            sequence: 0,
            lacing: Vec::new(),
            body: Vec::new(),
            first: true,
            last_granule: 0,
        }
    }

    /// Adds a packet to the current page; whole pages that fill up are
    /// written to `out` with `granule` (the position at the end of the last
    /// packet completed on them).
    pub(crate) fn packet(&mut self, packet: &[u8], granule: u64, out: &mut Vec<u8>) {
        let segments = packet.len() / 255 + 1;
        if self.lacing.len() + segments > MAX_SEGMENTS && !self.lacing.is_empty() {
            self.page(self.last_granule, false, out);
        }
        // A packet longer than one page's segments (over 65 kB) does not
        // occur with Opus (at most 3825 bytes per packet), so a packet always
        // fits on one fresh page.
        for _ in 0..segments - 1 {
            self.lacing.push(255);
        }
        self.lacing.push((packet.len() % 255) as u8);
        self.body.extend_from_slice(packet);
        self.last_granule = granule;
    }

    /// Writes the waiting packets as a page (even an empty last page).
    pub(crate) fn flush(&mut self, last: bool, out: &mut Vec<u8>) {
        if self.lacing.is_empty() && !last {
            return;
        }
        let granule = self.last_granule;
        self.page(granule, last, out);
    }

    fn page(&mut self, granule: u64, last: bool, out: &mut Vec<u8>) {
        let mut flags = 0u8;
        if self.first {
            flags |= BOS;
        }
        if last {
            flags |= EOS;
        }
        let start = out.len();
        out.extend_from_slice(b"OggS");
        out.push(0);
        out.push(flags);
        out.extend_from_slice(&granule.to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.push(self.lacing.len() as u8);
        out.extend_from_slice(&self.lacing);
        out.extend_from_slice(&self.body);
        let crc = crc32(out.get(start..).unwrap_or_default());
        if let Some(field) = out.get_mut(start + 22..start + 26) {
            field.copy_from_slice(&crc.to_le_bytes());
        }
        self.lacing.clear();
        self.body.clear();
        self.first = false;
        self.sequence = self.sequence.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_ogg_s() {
        // CRC-32/MPEG-2 without the initial and final inversions of the
        // common CRC-32: Ogg's. Check value over "123456789".
        assert_eq!(crc32(b"123456789"), 0x89a1_897f);
    }

    #[test]
    fn long_packets_are_laced_and_pages_split() {
        let mut w = OggWriter::new(7);
        let mut out = Vec::new();
        w.packet(&[1u8; 600], 960, &mut out);
        w.flush(false, &mut out);
        // 600 = 255 + 255 + 90: three lacing values.
        assert_eq!(&out[26..30], &[3, 255, 255, 90]);
        assert_eq!(out[5], BOS);
        let mut out = Vec::new();
        for i in 0..300u64 {
            w.packet(&[2u8; 10], i, &mut out);
        }
        w.flush(true, &mut out);
        assert_eq!(out.windows(4).filter(|x| x == b"OggS").count(), 2);
    }
}
