//! Embedding: a short-time Fourier transform with a square-root Hann window
//! at 50 % overlap (analysis and synthesis windows multiply to a Hann
//! window, whose shifted copies sum to one, so unmarked bins reconstruct
//! exactly), one real gain per bin and frame, and overlap-add. Frames go
//! through the FFT two at a time, one as the real and one as the imaginary
//! part.

use std::f64::consts::PI;

use crate::fft::{Complex, Fft};
use crate::layout::{
    band_edges, check_rate, frame_len, gain_curve, peak_gain_db, Pattern, Role, TILES_PER_PERIOD,
    TILES_PER_SECOND,
};
use crate::{Key, Payload, WatermarkError};

/// Marks `samples` (mono, at `rate` Hz) with `key` and `payload`; the result
/// has the same length. The same as feeding the samples to an [`Embedder`]
/// in any number of pieces.
///
/// Samples are not clipped: a marked cell may be up to 2 dB louder than the
/// input, so apply level processing after the mark.
pub fn embed(
    samples: &[f32],
    rate: u32,
    key: &Key,
    payload: Payload,
) -> Result<Vec<f32>, WatermarkError> {
    let mut embedder = Embedder::new(rate, key, payload)?;
    let mut out = embedder.push(samples)?;
    out.extend(embedder.finish());
    Ok(out)
}

/// A streaming embedder: samples go in piece by piece and come out marked,
/// delayed by at most a frame and a half (about 75 to 140 ms); [`Embedder::finish`]
/// returns the rest. The pieces joined equal [`embed`]'s output for the
/// whole signal, whatever the split.
///
/// [`Embedder::drain`] hands out everything received so far at once, marked
/// as if silence followed, and goes on: a stream of sentences can give each
/// sentence whole and still mark the next one on the same grid.
#[derive(Clone)]
pub struct Embedder {
    fft: Fft,
    /// Frame length `n`; the hop is `n / 2`.
    n: usize,
    rate: u32,
    window: Vec<f64>,
    /// Per tile of the period, the gain of each bin `0..n` (bins above
    /// `n/2` mirror those below, so a real signal stays real).
    gains: Vec<Vec<f64>>,
    /// Input from the start of the next frame on (the stream is preceded by
    /// `n / 2` zeros).
    pending: Vec<f64>,
    /// Overlap-add accumulator, `n + n/2` samples from the start of the next
    /// frame.
    acc: Vec<f64>,
    /// Index of the next frame; frame `m` is centred on sample `m · n/2`.
    next_frame: u64,
    /// Samples received.
    received: u64,
    /// Samples returned (the first `n / 2` outputs of frame 0 precede the
    /// stream and are dropped).
    emitted: u64,
    /// Samples already handed out by [`Embedder::drain`]: their later
    /// outputs are computed (they feed the overlap) but not returned again.
    drained: u64,
    buf: Vec<Complex>,
    spare: Vec<Complex>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("rate", &self.rate)
            .field("frame", &self.n)
            .field("position", &self.received)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// A streaming embedder for mono audio at `rate` Hz.
    pub fn new(rate: u32, key: &Key, payload: Payload) -> Result<Self, WatermarkError> {
        check_rate(rate)?;
        let n = frame_len(rate);
        let hop = n / 2;
        let pattern = Pattern::new(key);
        let edges = band_edges();
        // Each band's signed peak gain, in natural-log units.
        let peaks: Vec<f64> = edges
            .windows(2)
            .map(|w| match w {
                [lo, hi] => peak_gain_db((lo * hi).sqrt()) * std::f64::consts::LN_10 / 20.0,
                _ => 0.0,
            })
            .collect();
        let freqs: Vec<f64> = (0..=n / 2)
            .map(|bin| bin as f64 * f64::from(rate) / n as f64)
            .collect();
        let gains = (0..TILES_PER_PERIOD)
            .map(|tile| {
                let signed: Vec<f64> = peaks
                    .iter()
                    .enumerate()
                    .map(|(b, peak)| match pattern.cell(tile, b) {
                        Some(cell) => {
                            let sign = match cell.role {
                                Role::Data(label) if payload.flips(label) => -cell.sign,
                                Role::Sync | Role::Data(_) => cell.sign,
                            };
                            sign * peak
                        }
                        None => 0.0,
                    })
                    .collect();
                gain_curve(&edges, &signed, &freqs)
                    .into_iter()
                    .map(f64::exp)
                    .collect::<Vec<f64>>()
            })
            .map(|half| {
                // Mirror bins n/2-1 down to 1 above n/2.
                let mirror: Vec<f64> = half.iter().skip(1).take(n / 2 - 1).rev().copied().collect();
                half.into_iter().chain(mirror).collect()
            })
            .collect();
        let window = (0..n).map(|i| (PI * i as f64 / n as f64).sin()).collect();
        Ok(Self {
            fft: Fft::new(n),
            n,
            rate,
            window,
            gains,
            pending: vec![0.0; hop],
            acc: vec![0.0; n + hop],
            next_frame: 0,
            received: 0,
            emitted: 0,
            drained: 0,
            buf: vec![Complex::default(); n],
            spare: vec![Complex::default(); n],
        })
    }

    /// Marks the next piece of the stream and returns the samples that are
    /// now final (possibly none). A piece with a NaN or infinite sample is
    /// refused whole and the embedder is left as it was.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>, WatermarkError> {
        if let Some((i, &value)) = samples.iter().enumerate().find(|(_, s)| !s.is_finite()) {
            return Err(WatermarkError::NonFiniteSample {
                index: self.received + i as u64,
                value,
            });
        }
        self.received += samples.len() as u64;
        self.pending.extend(samples.iter().map(|&s| f64::from(s)));
        let mut out = Vec::with_capacity(samples.len() + self.n);
        while self.pending.len() >= self.n + self.n / 2 {
            self.frame_pair(&mut out);
        }
        Ok(out)
    }

    /// Returns every sample received and not yet returned, marked as if
    /// silence followed (the last frame and a half, which would otherwise
    /// wait for more input), and keeps going: later pieces are marked on the
    /// same grid, with the true samples before them, and their output starts
    /// right after what this returned. After a drain the output equals
    /// [`embed`]'s except in the frame and a half before the drain point
    /// when what follows is not silence; with a pause of at least a frame
    /// and a half after it, it is the same.
    pub fn drain(&mut self) -> Vec<f32> {
        let out = self.clone().finish();
        self.drained = self.drained.max(self.received);
        out
    }

    /// Samples received so far: the position of the next sample pushed.
    pub fn position(&self) -> u64 {
        self.received
    }

    /// Ends the stream: returns the last marked samples.
    pub fn finish(mut self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.n * 2);
        while self.emitted < self.received {
            if self.pending.len() < self.n + self.n / 2 {
                self.pending.resize(self.n + self.n / 2, 0.0);
            }
            self.frame_pair(&mut out);
        }
        out
    }

    /// The tile of frame `m`: its centre is sample `m·hop`, tiles are 250 ms.
    fn tile(&self, m: u64) -> usize {
        let centre = m * (self.n / 2) as u64;
        ((centre * TILES_PER_SECOND / u64::from(self.rate)) % TILES_PER_PERIOD as u64) as usize
    }

    /// Processes the two frames at the start of `pending` in one FFT (the
    /// first as the real part, the second as the imaginary part), and moves
    /// on by two hops.
    fn frame_pair(&mut self, out: &mut Vec<f32>) {
        let n = self.n;
        let hop = n / 2;
        let first = self.pending.iter();
        let second = self.pending.iter().skip(hop);
        for (((c, x1), x2), w) in self.buf.iter_mut().zip(first).zip(second).zip(&self.window) {
            *c = Complex {
                re: x1 * w,
                im: x2 * w,
            };
        }
        self.fft.forward(&mut self.buf);
        let (t1, t2) = (self.tile(self.next_frame), self.tile(self.next_frame + 1));
        if let (Some(g1), Some(g2)) = (self.gains.get(t1), self.gains.get(t2)) {
            // With A = Z[k] and B = conj(Z[n-k]), the frames' spectra are
            // X1 = (A + B)/2 and X2 = (A - B)/2i; the gains being real and
            // even, G1·X1 + i·G2·X2 = A(G1 + G2)/2 + B(G1 - G2)/2.
            self.spare.copy_from_slice(&self.buf);
            let mirrored = self
                .spare
                .iter()
                .take(1)
                .chain(self.spare.iter().skip(1).rev());
            for ((((c, a), b), p), q) in self
                .buf
                .iter_mut()
                .zip(&self.spare)
                .zip(mirrored)
                .zip(g1)
                .zip(g2)
            {
                let (sum, diff) = ((p + q) / 2.0, (p - q) / 2.0);
                *c = Complex {
                    re: a.re * sum + b.re * diff,
                    im: a.im * sum - b.im * diff,
                };
            }
        }
        self.fft.inverse(&mut self.buf);
        for ((a, c), w) in self.acc.iter_mut().zip(&self.buf).zip(&self.window) {
            *a += c.re * w;
        }
        for ((a, c), w) in self
            .acc
            .iter_mut()
            .skip(hop)
            .zip(&self.buf)
            .zip(&self.window)
        {
            *a += c.im * w;
        }
        // The first two hops of the accumulator are final, less frame 0's
        // first hop, which lies before the stream.
        let skip = if self.next_frame == 0 { hop } else { 0 };
        let left = usize::try_from(self.received - self.emitted).unwrap_or(usize::MAX);
        for &y in self.acc.iter().take(2 * hop).skip(skip).take(left) {
            // Finite input stays finite: a sample near f32::MAX made 2 dB
            // louder is held at the largest finite value.
            if self.emitted >= self.drained {
                out.push(y.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32);
            }
            self.emitted += 1;
        }
        self.acc.copy_within(2 * hop.., 0);
        self.acc.iter_mut().skip(hop).for_each(|a| *a = 0.0);
        self.pending.drain(..(2 * hop).min(self.pending.len()));
        self.next_frame += 2;
    }
}
