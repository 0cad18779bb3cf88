//! Test signals and audio transforms: a speech-like generator with fixed
//! seeds, a windowed-sinc resampler, and measures.

use std::f64::consts::PI;

/// The rate of the default voice.
pub const RATE: u32 = 22_050;

/// A small deterministic random source (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Roughly normal (sum of 4 uniforms), unit variance.
    pub fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.uniform()).sum::<f64>() - 2.0) * 3f64.sqrt()
    }
}

/// Speech-like audio: syllables of a harmonic voice with a gliding pitch
/// (90-220 Hz), three moving formants, a raised-cosine envelope, short
/// gaps and pauses, breath noise, and noise bursts like fricatives.
pub fn speech(seconds: f64, rate: u32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let len = (seconds * f64::from(rate)) as usize;
    let mut out = Vec::with_capacity(len);
    let base = rng.range(95.0, 180.0);
    let mut phase = 0.0f64;
    while out.len() < len {
        // One syllable, then a gap.
        let dur = (rng.range(0.12, 0.32) * f64::from(rate)) as usize;
        let f0_start = base * rng.range(0.85, 1.2);
        let f0_end = f0_start * rng.range(0.85, 1.15);
        let formants = [
            (rng.range(300.0, 800.0), rng.range(60.0, 120.0)),
            (rng.range(900.0, 2300.0), rng.range(80.0, 160.0)),
            (rng.range(2400.0, 3200.0), rng.range(120.0, 220.0)),
        ];
        let loud = rng.range(0.05, 0.25);
        let fricative = rng.uniform() < 0.25;
        let nyquist = f64::from(rate) / 2.0;
        let mut amps = Vec::new();
        for i in 0..dur {
            let x = i as f64 / dur as f64;
            let env = 0.5 - 0.5 * (2.0 * PI * x).cos();
            let f0 = f0_start + (f0_end - f0_start) * x;
            if i % 64 == 0 {
                amps.clear();
                let mut h = 1.0;
                while h * f0 < nyquist.min(9000.0) {
                    let f = h * f0;
                    let a: f64 = formants
                        .iter()
                        .map(|(c, b)| 1.0 / (1.0 + ((f - c) / b).powi(2)))
                        .sum::<f64>()
                        + 0.02;
                    amps.push(a / (1.0 + f / 500.0));
                    h += 1.0;
                }
            }
            phase = (phase + 2.0 * PI * f0 / f64::from(rate)) % (2.0 * PI * 1000.0);
            let voiced: f64 = amps
                .iter()
                .enumerate()
                .map(|(k, a)| a * ((k + 1) as f64 * phase).sin())
                .sum();
            let noise = rng.normal();
            let s = if fricative {
                loud * env * (0.3 * voiced + 0.4 * noise)
            } else {
                loud * env * voiced + 0.002 * noise
            };
            out.push(s as f32);
        }
        let gap = if rng.uniform() < 0.1 {
            rng.range(0.2, 0.4)
        } else {
            rng.range(0.02, 0.12)
        };
        for _ in 0..(gap * f64::from(rate)) as usize {
            out.push((0.002 * rng.normal()) as f32);
        }
    }
    out.truncate(len);
    out
}

/// Resamples `x` by `ratio` (output samples per input sample) with a
/// Kaiser-like windowed sinc, cutting off below the lower Nyquist.
pub fn resample(x: &[f32], ratio: f64) -> Vec<f32> {
    let out_len = (x.len() as f64 * ratio).floor() as usize;
    let cutoff = ratio.min(1.0) * 0.95;
    let half = (16.0 / cutoff).ceil() as i64;
    (0..out_len)
        .map(|n| {
            let centre = n as f64 / ratio;
            let c = centre.floor() as i64;
            let mut acc = 0.0;
            for k in (c - half + 1)..=(c + half) {
                let Some(&v) = usize::try_from(k).ok().and_then(|k| x.get(k)) else {
                    continue;
                };
                let t = centre - k as f64;
                let w = 0.5 + 0.5 * (PI * t / half as f64).cos();
                let arg = PI * cutoff * t;
                let sinc = if arg.abs() < 1e-12 {
                    1.0
                } else {
                    arg.sin() / arg
                };
                acc += f64::from(v) * cutoff * sinc * w;
            }
            acc as f32
        })
        .collect()
}

/// Segmental SNR (dB) of `marked` against `clean`: 20 ms frames, each
/// clamped to [-10, 35] dB, frames more than 40 dB below the loudest left out.
pub fn segmental_snr(clean: &[f32], marked: &[f32], rate: u32) -> f64 {
    let n = rate as usize / 50;
    let frames: Vec<(f64, f64)> = clean
        .chunks_exact(n)
        .zip(marked.chunks_exact(n))
        .map(|(c, m)| {
            let s: f64 = c.iter().map(|&v| f64::from(v).powi(2)).sum();
            let e: f64 = c
                .iter()
                .zip(m)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum();
            (s, e)
        })
        .collect();
    let loudest = frames.iter().map(|f| f.0).fold(0.0, f64::max);
    let kept: Vec<f64> = frames
        .iter()
        .filter(|f| f.0 > loudest * 1e-4)
        .map(|&(s, e)| (10.0 * (s / e.max(1e-30)).log10()).clamp(-10.0, 35.0))
        .collect();
    kept.iter().sum::<f64>() / kept.len() as f64
}

/// Energy of `x` between `lo` and `hi` Hz (a direct DFT over the band's
/// bins of 4096-sample frames, hop 2048, Hann window).
pub fn band_energy(x: &[f32], rate: u32, lo: f64, hi: f64) -> f64 {
    let n = 4096;
    let k_lo = (lo * n as f64 / f64::from(rate)).ceil() as usize;
    let k_hi = (hi * n as f64 / f64::from(rate)).floor() as usize;
    let mut total = 0.0;
    let mut start = 0;
    while start + n <= x.len() {
        for k in k_lo..=k_hi {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, &v) in x[start..start + n].iter().enumerate() {
                let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos();
                let a = 2.0 * PI * (k * i) as f64 / n as f64;
                re += f64::from(v) * w * a.cos();
                im -= f64::from(v) * w * a.sin();
            }
            total += re * re + im * im;
        }
        start += n / 2;
    }
    total
}

/// Power of `x`.
pub fn power(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64
}
