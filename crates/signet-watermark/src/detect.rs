//! Detection: band energies of a Hann-windowed STFT, normalized, averaged
//! per tile and band under each hypothesis of speed and pattern phase, and
//! correlated with the key's pattern. See the crate documentation for the
//! statistic and the threshold.

use std::f64::consts::PI;

use crate::fft::{Complex, Fft};
use crate::layout::{
    band_edges, check_rate, frame_len, period_seconds, tile_seconds, Pattern, Role, PAYLOAD_VALUES,
    TILES_PER_PERIOD,
};
use crate::{Key, KeyId, Payload, WatermarkError};

/// The false-positive rate per clip that the threshold guarantees.
pub const FALSE_POSITIVE_RATE: f64 = 1e-6;
/// The probability, at most, that a given payload is wrong: the payload is
/// given only when its score reaches
/// `sqrt(2 ln(65535 / PAYLOAD_ERROR_RATE))` (6.4).
pub const PAYLOAD_ERROR_RATE: f64 = 1e-4;
/// The shortest audio detection accepts, seconds.
pub const MIN_DETECT_SECONDS: f64 = 1.0;
/// Speeds searched: `SPEED_MIN + i · SPEED_STEP` for `i < SPEEDS`.
const SPEED_MIN: f64 = 0.95;
const SPEED_STEP: f64 = 0.005;
const SPEEDS: usize = 21;
/// Pattern phases searched per period (a step of 1.5 s / 36 = 41.7 ms).
const OFFSETS: usize = 36;
/// Placements of highest sync score whose payload is searched.
const CANDIDATES: usize = 8;
/// Longer audio is searched in windows of this many seconds...
const WINDOW_SECONDS: f64 = 10.0;
/// ... starting this many seconds apart.
const WINDOW_HOP_SECONDS: f64 = 5.0;
/// Frames quieter than this, relative to the loudest frame, are left out.
const SILENCE_DB: f64 = -50.0;
/// Normalized levels are clamped to this (natural log units, 4.3 dB).
const LEVEL_CLAMP: f64 = 1.0;
/// Bands each side of a band whose mean level is taken off it.
const NEIGHBOURS: usize = 3;

/// What [`detect`] found.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Detection {
    /// Whether the key's mark is present: `score >= threshold`.
    pub present: bool,
    /// The best normalized correlation over every hypothesis searched.
    pub score: f64,
    /// The score a clip must reach: `sqrt(2 ln(hypotheses / 1e-6))`.
    pub threshold: f64,
    /// Where the clip's first sample falls in the mark's 1.5 s period, in
    /// seconds of the marked original, under the best hypothesis.
    pub offset_seconds: f64,
    /// How much faster the clip plays than the marked original (1.0 = same
    /// speed), under the best hypothesis.
    pub speed: f64,
    /// The payload read under the best hypothesis, when the mark is present
    /// and the payload's score is clear (see [`PAYLOAD_ERROR_RATE`]); `None`
    /// otherwise, though the mark may be present.
    pub payload: Option<Payload>,
    /// The normalized correlation of the payload cells with the best
    /// payload value's signs, under the best hypothesis.
    pub payload_score: f64,
    /// An upper bound on the probability that audio without this key's mark
    /// scores this high: `min(1, hypotheses · exp(-score² / 2))`.
    pub false_positive: f64,
    /// Hypotheses counted by the threshold (windows × speeds × phases ×
    /// payload values).
    pub hypotheses: u64,
    /// The id of the key searched for.
    pub key_id: KeyId,
}

/// Looks for `key`'s mark in `samples` (mono, at `rate` Hz, at least
/// [`MIN_DETECT_SECONDS`] long), searching speeds 0.95 to 1.05 and every
/// phase of the pattern.
pub fn detect(samples: &[f32], rate: u32, key: &Key) -> Result<Detection, WatermarkError> {
    check_rate(rate)?;
    if let Some((i, &value)) = samples.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(WatermarkError::NonFiniteSample {
            index: i as u64,
            value,
        });
    }
    let seconds = samples.len() as f64 / f64::from(rate);
    if seconds < MIN_DETECT_SECONDS {
        return Err(WatermarkError::TooShort {
            seconds,
            min_seconds: MIN_DETECT_SECONDS,
        });
    }
    let pattern = Pattern::new(key);
    let analyzer = Analyzer::new(rate);
    let window = (WINDOW_SECONDS * f64::from(rate)) as usize;
    let hop = (WINDOW_HOP_SECONDS * f64::from(rate)) as usize;
    let mut starts = vec![0usize];
    if samples.len() > window {
        let last = samples.len() - window;
        let mut s = hop;
        while s < last {
            starts.push(s);
            s += hop;
        }
        starts.push(last);
    }
    // Hypotheses: windows × speeds × phases × payload values.
    let placements = (starts.len() * SPEEDS * OFFSETS) as u64;
    let hypotheses = placements * PAYLOAD_VALUES as u64;
    let threshold = (2.0 * (hypotheses as f64 / FALSE_POSITIVE_RATE).ln()).sqrt();
    let mut candidates = Vec::with_capacity(CANDIDATES + 1);
    for &start in &starts {
        let end = start.saturating_add(window).min(samples.len());
        let piece = samples.get(start..end).unwrap_or_default();
        analyzer.search(
            piece,
            start as f64 / f64::from(rate),
            &pattern,
            &mut candidates,
        );
    }
    let mut best = Best::default();
    for c in &candidates {
        let (value, data, data_energy) = decode_payload(&c.cells, &pattern);
        let energy = c.sync_energy + data_energy;
        let score = if energy > 0.0 {
            (c.sync + data) / energy.sqrt()
        } else {
            0.0
        };
        if score > best.score {
            best = Best {
                score,
                offset: c.offset,
                speed: c.speed,
                value,
                payload_score: if data_energy > 0.0 {
                    data / data_energy.sqrt()
                } else {
                    0.0
                },
            };
        }
    }
    let present = best.score >= threshold;
    let payload_threshold = (2.0 * ((PAYLOAD_VALUES - 1) as f64 / PAYLOAD_ERROR_RATE).ln()).sqrt();
    let payload =
        (present && best.payload_score >= payload_threshold).then_some(Payload(best.value));
    let payload_score = best.payload_score;
    let false_positive = (hypotheses as f64 * (-best.score * best.score / 2.0).exp()).min(1.0);
    Ok(Detection {
        present,
        score: best.score,
        threshold,
        offset_seconds: best.offset,
        speed: best.speed,
        payload,
        payload_score,
        false_positive,
        hypotheses,
        key_id: key.id(),
    })
}

/// The best hypothesis found.
struct Best {
    score: f64,
    offset: f64,
    speed: f64,
    value: u16,
    payload_score: f64,
}

impl Default for Best {
    fn default() -> Self {
        Self {
            score: f64::NEG_INFINITY,
            offset: 0.0,
            speed: 1.0,
            value: 0,
            payload_score: 0.0,
        }
    }
}

/// A placement (speed and phase) kept for the payload search, with its sync
/// correlation `Σ p C`, its sync energy `Σ C²`, and its cell sums.
struct Candidate {
    sync: f64,
    sync_energy: f64,
    /// `sync / sqrt(sync_energy)`, by which candidates are ranked.
    rank: f64,
    offset: f64,
    speed: f64,
    cells: Vec<f64>,
}

/// The STFT and band layout for one rate.
struct Analyzer {
    rate: f64,
    n: usize,
    hop: usize,
    fft: Fft,
    window: Vec<f64>,
    edges: Vec<f64>,
}

impl Analyzer {
    fn new(rate: u32) -> Self {
        let n = frame_len(rate);
        let window = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
            .collect();
        Self {
            rate: f64::from(rate),
            n,
            hop: n / 4,
            fft: Fft::new(n),
            window,
            edges: band_edges(),
        }
    }

    /// Power spectra of the frames of `samples`, as cumulative sums over
    /// bins (`n/2 + 2` values per frame), with each frame's centre time.
    fn spectra(&self, samples: &[f32]) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut buf = vec![Complex::default(); self.n];
        let mut cums = Vec::new();
        let mut times = Vec::new();
        let mut start = 0;
        while let Some(frame) = samples.get(start..start + self.n) {
            for ((c, &x), w) in buf.iter_mut().zip(frame).zip(&self.window) {
                *c = Complex {
                    re: f64::from(x) * w,
                    im: 0.0,
                };
            }
            self.fft.forward(&mut buf);
            let mut cum = Vec::with_capacity(self.n / 2 + 2);
            let mut total = 0.0;
            cum.push(0.0);
            for c in buf.iter().take(self.n / 2 + 1) {
                total += c.re * c.re + c.im * c.im;
                cum.push(total);
            }
            cums.push(cum);
            times.push((start + self.n / 2) as f64 / self.rate);
            start += self.hop;
        }
        (cums, times)
    }

    /// Energy between `lo` and `hi` Hz of a frame's cumulative spectrum,
    /// with bins split linearly at the edges.
    fn energy(&self, cum: &[f64], lo: f64, hi: f64) -> f64 {
        let at = |hz: f64| {
            // Bin k covers [k - 0.5, k + 0.5) in bin units.
            let x = (hz * self.n as f64 / self.rate + 0.5).max(0.0);
            let i = x.floor() as usize;
            let frac = x - x.floor();
            let below = cum.get(i).copied().unwrap_or(0.0);
            let next = cum.get(i + 1).copied().unwrap_or(below);
            below + frac * (next - below)
        };
        (at(hi) - at(lo)).max(0.0)
    }

    /// Searches every speed and phase over one window of the input starting
    /// `start_seconds` into the clip, keeping the [`CANDIDATES`] placements
    /// of highest sync score in `candidates`.
    fn search(
        &self,
        samples: &[f32],
        start_seconds: f64,
        pattern: &Pattern,
        candidates: &mut Vec<Candidate>,
    ) {
        let (cums, times) = self.spectra(samples);
        if cums.is_empty() {
            return;
        }
        let bands = pattern.bands;
        let nyquist = self.rate / 2.0;
        // Loud enough frames: within SILENCE_DB of the loudest, in 300-8000 Hz.
        let loudness: Vec<f64> = cums
            .iter()
            .map(|c| self.energy(c, self.edges.first().copied().unwrap_or(0.0), nyquist))
            .collect();
        let loudest = loudness.iter().fold(0.0f64, |m, &e| m.max(e));
        if loudest <= 0.0 {
            return;
        }
        let floor = loudest * 10f64.powf(SILENCE_DB / 10.0);
        let frames: Vec<usize> = (0..cums.len())
            .filter(|&i| loudness.get(i).is_some_and(|&e| e > floor))
            .collect();
        if frames.is_empty() {
            return;
        }
        let half_frame = self.n as f64 / 2.0 / self.rate;
        let tile = tile_seconds();
        let period = period_seconds();
        let mut levels = vec![0.0; frames.len() * bands];
        let mut valid = vec![false; bands];
        let mut cells = vec![0.0; TILES_PER_PERIOD * bands];
        let mut local = Vec::with_capacity(bands);
        for si in 0..SPEEDS {
            let speed = SPEED_MIN + si as f64 * SPEED_STEP;
            // A band counts when it lies below 95 % of Nyquist at this speed.
            for (b, v) in valid.iter_mut().enumerate() {
                *v = self
                    .edges
                    .get(b + 1)
                    .is_some_and(|&hi| hi * speed < 0.95 * nyquist);
            }
            let used = valid.iter().filter(|&&v| v).count();
            if used < 2 {
                continue;
            }
            // Log band energies, less each frame's mean over bands...
            for (row, &f) in levels.chunks_exact_mut(bands).zip(&frames) {
                let Some(cum) = cums.get(f) else { continue };
                let eps = loudness.get(f).copied().unwrap_or(0.0) * 1e-9 + 1e-30;
                for (b, l) in row.iter_mut().enumerate() {
                    *l = 0.0;
                    if valid.get(b) != Some(&true) {
                        continue;
                    }
                    let (Some(&lo), Some(&hi)) = (self.edges.get(b), self.edges.get(b + 1)) else {
                        continue;
                    };
                    *l = (self.energy(cum, lo * speed, hi * speed) + eps).ln();
                }
                // Less the mean of the neighbouring bands (a high-pass across
                // frequency: it removes loudness and the formant envelope,
                // and keeps most of the pattern, which is white).
                local.clear();
                local.extend_from_slice(row);
                for (b, l) in row.iter_mut().enumerate() {
                    if valid.get(b) != Some(&true) {
                        continue;
                    }
                    let lo = b.saturating_sub(NEIGHBOURS);
                    let hi = (b + NEIGHBOURS + 1).min(bands);
                    let (mut s, mut k) = (0.0, 0usize);
                    for (x, _) in local
                        .get(lo..hi)
                        .unwrap_or_default()
                        .iter()
                        .zip(valid.get(lo..hi).unwrap_or_default())
                        .filter(|(_, &v)| v)
                    {
                        s += x;
                        k += 1;
                    }
                    *l -= s / k.max(1) as f64;
                }
            }
            // ... and less each band's mean over frames; clamped: a
            // harmonic sweeping through a narrow band swings its level by
            // tens of dB, the mark by at most 0.46 (2 dB).
            for b in 0..bands {
                let mean = levels.iter().skip(b).step_by(bands).sum::<f64>() / frames.len() as f64;
                for l in levels.iter_mut().skip(b).step_by(bands) {
                    *l = (*l - mean).clamp(-LEVEL_CLAMP, LEVEL_CLAMP);
                }
            }
            for oi in 0..OFFSETS {
                let phase = oi as f64 * period / OFFSETS as f64;
                cells.iter_mut().for_each(|c| *c = 0.0);
                for (row, &f) in levels.chunks_exact(bands).zip(&frames) {
                    let t = times.get(f).copied().unwrap_or(0.0);
                    let tau = t * speed + phase;
                    let q = (tau / tile).floor();
                    // Weight frames by their distance to the tile's edges.
                    let edge = (tau - q * tile).min((q + 1.0) * tile - tau);
                    let w = (edge / (half_frame * speed)).min(1.0);
                    if w <= 0.0 {
                        continue;
                    }
                    let ti = (q as i64).rem_euclid(TILES_PER_PERIOD as i64) as usize;
                    let Some(dst) = cells.get_mut(ti * bands..(ti + 1) * bands) else {
                        continue;
                    };
                    for (c, l) in dst.iter_mut().zip(row) {
                        *c += w * l;
                    }
                }
                let (mut s, mut v) = (0.0, 0.0);
                for (c, cell) in cells.iter().zip(&pattern.cells) {
                    if cell.role == Role::Sync {
                        s += cell.sign * c;
                        v += c * c;
                    }
                }
                let rank = if v > 0.0 { s / v.sqrt() } else { 0.0 };
                let worst = candidates
                    .iter()
                    .map(|c| c.rank)
                    .fold(f64::INFINITY, f64::min);
                if candidates.len() < CANDIDATES || rank > worst {
                    candidates.push(Candidate {
                        sync: s,
                        sync_energy: v,
                        rank,
                        offset: (phase - start_seconds * speed).rem_euclid(period),
                        speed,
                        cells: cells.clone(),
                    });
                    candidates.sort_by(|a, b| b.rank.total_cmp(&a.rank));
                    candidates.truncate(CANDIDATES);
                }
            }
        }
    }
}

/// The payload value whose signs best match the payload cells of `cells`,
/// its correlation `Σ p q C` and the cells' energy `Σ C²`. With `A[h]` the sum of `p[j] C[j]` over
/// the payload cells of label `h`, the correlation of value `v` is
/// `Σ_h A[h] (-1)^popcount(v & h)`: the Walsh-Hadamard transform of `A`,
/// computed for all 65536 values at once.
fn decode_payload(cells: &[f64], pattern: &Pattern) -> (u16, f64, f64) {
    let mut a = vec![0.0f64; PAYLOAD_VALUES];
    let mut energy = 0.0;
    for (c, cell) in cells.iter().zip(&pattern.cells) {
        if let Role::Data(label) = cell.role {
            if let Some(slot) = a.get_mut(usize::from(label)) {
                *slot += cell.sign * c;
                energy += c * c;
            }
        }
    }
    let mut len = 1;
    while len < a.len() {
        for chunk in a.chunks_exact_mut(2 * len) {
            let (x, y) = chunk.split_at_mut(len);
            for (u, v) in x.iter_mut().zip(y.iter_mut()) {
                let (p, q) = (*u + *v, *u - *v);
                *u = p;
                *v = q;
            }
        }
        len *= 2;
    }
    let (value, best) =
        a.iter()
            .enumerate()
            .fold((0usize, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv {
                    (i, v)
                } else {
                    (bi, bv)
                }
            });
    (u16::try_from(value).unwrap_or(0), best, energy)
}
