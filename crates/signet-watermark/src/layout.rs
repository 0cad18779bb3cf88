//! The mark's grid: frequency bands, time tiles, frame sizes, and the keyed
//! pattern over them. Everything here is independent of the sample rate, so
//! audio marked at one rate is detected at another.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::{Key, WatermarkError};

/// Lowest band edge, Hz.
pub(crate) const LOW_HZ: f64 = 300.0;
/// Highest band edge, Hz.
pub(crate) const HIGH_HZ: f64 = 8000.0;
/// Bands are 1/24 octave wide, but never narrower than this (Hz), so that
/// each spans a few bins of the frame.
pub(crate) const MIN_BAND_HZ: f64 = 40.0;
/// Time tiles per second: a tile is 250 ms.
pub(crate) const TILES_PER_SECOND: u64 = 4;
/// Tiles in one period of the pattern (1.5 s).
pub(crate) const TILES_PER_PERIOD: usize = 6;
/// Gain of a marked cell, dB (up or down).
pub(crate) const GAIN_DB: f64 = 1.5;
/// Bits of caller data.
pub(crate) const PAYLOAD_BITS: usize = 16;
/// Number of payload values.
pub(crate) const PAYLOAD_VALUES: usize = 1 << PAYLOAD_BITS;
/// Lowest supported sample rate, Hz.
pub const MIN_RATE: u32 = 8_000;
/// Highest supported sample rate, Hz.
pub const MAX_RATE: u32 = 192_000;

/// Duration of a tile, seconds.
pub(crate) fn tile_seconds() -> f64 {
    1.0 / TILES_PER_SECOND as f64
}

/// Duration of the pattern's period, seconds.
pub(crate) fn period_seconds() -> f64 {
    TILES_PER_PERIOD as f64 * tile_seconds()
}

/// Checks that `rate` is supported.
pub(crate) fn check_rate(rate: u32) -> Result<(), WatermarkError> {
    if (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(WatermarkError::UnsupportedRate {
            rate,
            min: MIN_RATE,
            max: MAX_RATE,
        })
    }
}

/// Frame length for `rate`: the power of two at or above 50 ms (512 points
/// at 8 kHz, 2048 at 22.05 kHz, 4096 at 48 kHz, 16384 at 192 kHz).
pub(crate) fn frame_len(rate: u32) -> usize {
    (u64::from(rate).div_ceil(20) as usize).next_power_of_two()
}

/// Band edges in Hz, `bands() + 1` of them, from [`LOW_HZ`] up to at most
/// [`HIGH_HZ`].
pub(crate) fn band_edges() -> Vec<f64> {
    let step = 2f64.powf(1.0 / 24.0) - 1.0;
    let mut edges = vec![LOW_HZ];
    let mut f = LOW_HZ;
    loop {
        let next = f + (f * step).max(MIN_BAND_HZ);
        if next > HIGH_HZ {
            break;
        }
        edges.push(next);
        f = next;
    }
    edges
}

/// What a cell of the pattern carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A cell whose sign the detector knows from the key alone.
    Sync,
    /// A payload cell with its keyed label `h`: its sign is flipped when
    /// the payload `v` has an odd number of bits in common with `h`
    /// (`popcount(v & h)` odd). Every payload value thus has its own
    /// pseudo-random sign sequence over the payload cells, and two values'
    /// sequences are nearly orthogonal.
    Data(u16),
}

/// One cell of the pattern: its keyed sign and its role.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cell {
    /// +1.0 or -1.0, drawn from the key.
    pub sign: f64,
    /// What the cell carries.
    pub role: Role,
}

/// The keyed pattern: `TILES_PER_PERIOD × bands` cells, tile-major.
pub(crate) struct Pattern {
    pub bands: usize,
    pub cells: Vec<Cell>,
}

impl Pattern {
    /// The pattern of `key`: ChaCha20 seeded with
    /// `HMAC-SHA256(key, "signet-watermark/pattern/v1")` draws one sign per
    /// cell, then shuffles the roles (half the cells sync, the other half
    /// shared evenly by the payload bits).
    pub fn new(key: &Key) -> Self {
        let bands = band_edges().len().saturating_sub(1);
        let n = TILES_PER_PERIOD * bands;
        let mut rng = ChaCha20Rng::from_seed(key.derive(b"signet-watermark/pattern/v1"));
        let signs: Vec<f64> = (0..n)
            .map(|_| if rng.next_u32() & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let mut roles: Vec<Role> = (0..n)
            .map(|i| {
                let label = (rng.next_u32() & 0xFFFF) as u16;
                if i < n / 2 {
                    Role::Sync
                } else {
                    Role::Data(label)
                }
            })
            .collect();
        // Fisher-Yates; the modulo bias of a 64-bit draw over < 2^10 cells
        // is below 2^-54 and irrelevant here.
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            roles.swap(i, j);
        }
        let cells = signs
            .into_iter()
            .zip(roles)
            .map(|(sign, role)| Cell { sign, role })
            .collect();
        Self { bands, cells }
    }

    /// The cell of tile `tile` (within the period) and band `band`.
    pub fn cell(&self, tile: usize, band: usize) -> Option<&Cell> {
        self.cells.get(tile * self.bands + band)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_cover_fifty_milliseconds() {
        assert_eq!(frame_len(8_000), 512);
        assert_eq!(frame_len(16_000), 1024);
        assert_eq!(frame_len(22_050), 2048);
        assert_eq!(frame_len(48_000), 4096);
        assert_eq!(frame_len(192_000), 16384);
    }

    #[test]
    fn bands_span_300_to_8000_hz_and_are_at_least_40_hz_wide() {
        let e = band_edges();
        assert_eq!(e[0], LOW_HZ);
        assert!(*e.last().unwrap() <= HIGH_HZ && *e.last().unwrap() > HIGH_HZ * 0.97);
        assert!(e.windows(2).all(|w| w[1] - w[0] >= MIN_BAND_HZ - 1e-9));
        assert!((80..100).contains(&(e.len() - 1)), "{} bands", e.len() - 1);
    }

    #[test]
    fn pattern_depends_on_the_key_and_balances_its_roles() {
        let a = Pattern::new(&Key::from_bytes([1; 32]));
        let b = Pattern::new(&Key::from_bytes([2; 32]));
        let same = a
            .cells
            .iter()
            .zip(&b.cells)
            .filter(|(x, y)| x.sign == y.sign)
            .count();
        let n = a.cells.len();
        assert!(
            same > n / 3 && same < 2 * n / 3,
            "{same} of {n} signs agree"
        );
        let sync = a.cells.iter().filter(|c| c.role == Role::Sync).count();
        assert_eq!(sync, n / 2);
        // Payload values' sign sequences differ in about half the cells.
        let labels: Vec<u16> = a
            .cells
            .iter()
            .filter_map(|c| match c.role {
                Role::Data(h) => Some(h),
                Role::Sync => None,
            })
            .collect();
        for v in [1u16, 0x8000, 0xFFFF, 0x1234] {
            let odd = labels
                .iter()
                .filter(|h| (*h & v).count_ones() % 2 == 1)
                .count();
            let m = labels.len();
            assert!(
                odd > m * 2 / 5 && odd < m * 3 / 5,
                "{odd} of {m} for {v:#x}"
            );
        }
    }
}
