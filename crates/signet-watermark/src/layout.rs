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
/// Peak gain of a marked cell from [`RAMP_HIGH_HZ`] up, dB (up or down).
pub(crate) const GAIN_DB: f64 = 2.0;
/// Peak gain of a marked cell up to [`RAMP_LOW_HZ`], dB: low bands hold
/// single harmonics, where a change is heard most and detected least.
pub(crate) const LOW_GAIN_DB: f64 = 0.5;
/// Between these two frequencies the peak gain rises from [`LOW_GAIN_DB`]
/// to [`GAIN_DB`], linearly in log-frequency.
pub(crate) const RAMP_LOW_HZ: f64 = 500.0;
/// See [`RAMP_LOW_HZ`].
pub(crate) const RAMP_HIGH_HZ: f64 = 1000.0;
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

/// Peak gain (dB) of a cell whose band is centred on `hz`: [`LOW_GAIN_DB`]
/// up to [`RAMP_LOW_HZ`], [`GAIN_DB`] from [`RAMP_HIGH_HZ`], and in between
/// linear in log-frequency.
pub(crate) fn peak_gain_db(hz: f64) -> f64 {
    let t = ((hz / RAMP_LOW_HZ).ln() / (RAMP_HIGH_HZ / RAMP_LOW_HZ).ln()).clamp(0.0, 1.0);
    if t.is_nan() {
        return LOW_GAIN_DB;
    }
    LOW_GAIN_DB + t * (GAIN_DB - LOW_GAIN_DB)
}

/// The gain curve over frequency: for each frequency in `freqs` (Hz), the
/// natural-log gain of a tile whose bands carry the signed log gains
/// `band_gains` (one per band of [`band_edges`]).
///
/// Each band's gain is reached at its centre (the geometric mean of its
/// edges); between two centres the curve moves from one to the other along
/// a raised cosine in log-frequency, and it falls the same way to 0 at
/// [`LOW_HZ`] and at the last edge. The curve is continuous with a
/// continuous slope, so the filter each frame applies is short in time: a
/// gain that jumps from band to band rings across the whole frame, which
/// is heard (PESQ-WB 4.2 instead of 4.5 for the same gains) and detected no
/// better. Frequencies outside the bands get 0 (unchanged).
pub(crate) fn gain_curve(edges: &[f64], band_gains: &[f64], freqs: &[f64]) -> Vec<f64> {
    // Knots: (ln Hz, ln gain), the lowest edge, every band centre, the top edge.
    let mut knots: Vec<(f64, f64)> = Vec::with_capacity(band_gains.len() + 2);
    if let (Some(&lo), Some(&hi)) = (edges.first(), edges.last()) {
        knots.push((lo.ln(), 0.0));
        for (w, &g) in edges.windows(2).zip(band_gains) {
            if let [a, b] = w {
                knots.push(((a * b).sqrt().ln(), g));
            }
        }
        knots.push((hi.ln(), 0.0));
    }
    freqs
        .iter()
        .map(|&hz| {
            if hz <= 0.0 {
                return 0.0;
            }
            let x = hz.ln();
            let j = knots.partition_point(|&(k, _)| k <= x);
            match (j.checked_sub(1).and_then(|i| knots.get(i)), knots.get(j)) {
                (Some(&(x0, g0)), Some(&(x1, g1))) if x1 > x0 => {
                    let t = (x - x0) / (x1 - x0);
                    let c = 0.5 - 0.5 * (std::f64::consts::PI * t).cos();
                    g0 + c * (g1 - g0)
                }
                _ => 0.0,
            }
        })
        .collect()
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
    fn gain_curve_is_continuous_and_meets_each_band_at_its_centre() {
        let e = band_edges();
        let bands = e.len() - 1;
        // Alternating signs: the worst case for steps between neighbours.
        let g: Vec<f64> = (0..bands)
            .map(|b| if b % 2 == 0 { 0.23 } else { -0.23 })
            .collect();
        let centres: Vec<f64> = e.windows(2).map(|w| (w[0] * w[1]).sqrt()).collect();
        let at_centres = gain_curve(&e, &g, &centres);
        for (a, b) in at_centres.iter().zip(&g) {
            assert!((a - b).abs() < 1e-12, "{a} at a centre, want {b}");
        }
        // On a fine grid (0.1 Hz), no step between neighbouring points is
        // larger than the raised cosine's steepest slope allows: there is
        // no jump at any band edge, at 300 Hz or at the top.
        let freqs: Vec<f64> = (1000..90_000).map(|i| f64::from(i) * 0.1).collect();
        let curve = gain_curve(&e, &g, &freqs);
        let steepest = curve
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f64, f64::max);
        assert!(steepest < 2e-3, "step of {steepest} between 0.1 Hz points");
        // Outside 300 Hz to the top edge nothing changes.
        for (f, c) in freqs.iter().zip(&curve) {
            if *f <= e[0] || *f >= e[bands] {
                assert_eq!(*c, 0.0, "gain {c} at {f} Hz");
            }
        }
    }

    #[test]
    fn peak_gain_ramps_from_low_to_high_bands() {
        assert_eq!(peak_gain_db(300.0), LOW_GAIN_DB);
        assert_eq!(peak_gain_db(RAMP_LOW_HZ), LOW_GAIN_DB);
        assert!((peak_gain_db(RAMP_HIGH_HZ) - GAIN_DB).abs() < 1e-12);
        assert_eq!(peak_gain_db(6000.0), GAIN_DB);
        let mid = peak_gain_db((RAMP_LOW_HZ * RAMP_HIGH_HZ).sqrt());
        assert!((mid - (LOW_GAIN_DB + GAIN_DB) / 2.0).abs() < 1e-12);
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
