//! A small iterative radix-2 FFT on `f64`, enough for the watermark's frames
//! (powers of two from 512 to 16384 points).

use std::f64::consts::PI;

/// A complex number.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Complex {
    pub re: f64,
    pub im: f64,
}

/// A planned FFT of one size.
#[derive(Clone)]
pub(crate) struct Fft {
    n: usize,
    /// `exp(-2πik/n)` for `k < n/2`.
    twiddles: Vec<Complex>,
    /// Pairs `(i, j)`, `i < j`, swapped by the bit-reversal permutation.
    swaps: Vec<(usize, usize)>,
}

impl Fft {
    /// Plans an FFT of `n` points; `n` must be a power of two (callers
    /// choose it so).
    pub fn new(n: usize) -> Self {
        let bits = n.trailing_zeros();
        let twiddles = (0..n / 2)
            .map(|k| {
                let a = -2.0 * PI * k as f64 / n as f64;
                Complex {
                    re: a.cos(),
                    im: a.sin(),
                }
            })
            .collect();
        let swaps = (0..n)
            .filter_map(|i| {
                let j = if bits == 0 {
                    0
                } else {
                    i.reverse_bits() >> (usize::BITS - bits)
                };
                (i < j).then_some((i, j))
            })
            .collect();
        Self { n, twiddles, swaps }
    }

    /// The forward transform of `buf` (length `n`), in place.
    pub fn forward(&self, buf: &mut [Complex]) {
        if buf.len() != self.n {
            return;
        }
        for &(i, j) in &self.swaps {
            buf.swap(i, j);
        }
        let mut len = 2;
        while len <= self.n {
            let stride = self.n / len;
            for chunk in buf.chunks_exact_mut(len) {
                let (a, b) = chunk.split_at_mut(len / 2);
                for ((x, y), w) in a
                    .iter_mut()
                    .zip(b.iter_mut())
                    .zip(self.twiddles.iter().step_by(stride))
                {
                    let t = Complex {
                        re: y.re * w.re - y.im * w.im,
                        im: y.re * w.im + y.im * w.re,
                    };
                    *y = Complex {
                        re: x.re - t.re,
                        im: x.im - t.im,
                    };
                    x.re += t.re;
                    x.im += t.im;
                }
            }
            len *= 2;
        }
    }

    /// The inverse transform of `buf`, in place, scaled by `1/n`.
    pub fn inverse(&self, buf: &mut [Complex]) {
        for c in buf.iter_mut() {
            c.im = -c.im;
        }
        self.forward(buf);
        let scale = 1.0 / self.n as f64;
        for c in buf.iter_mut() {
            c.re *= scale;
            c.im *= -scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_matches_the_direct_dft_and_inverse_restores_the_input() {
        let n = 64;
        let input: Vec<Complex> = (0..n)
            .map(|i| Complex {
                re: ((i * 7 % 13) as f64) - 6.0,
                im: ((i * 3 % 5) as f64) - 2.0,
            })
            .collect();
        let mut buf = input.clone();
        let fft = Fft::new(n);
        fft.forward(&mut buf);
        for (k, got) in buf.iter().enumerate() {
            let mut want = Complex::default();
            for (t, x) in input.iter().enumerate() {
                let a = -2.0 * PI * (k * t) as f64 / n as f64;
                want.re += x.re * a.cos() - x.im * a.sin();
                want.im += x.re * a.sin() + x.im * a.cos();
            }
            assert!((got.re - want.re).abs() < 1e-9 && (got.im - want.im).abs() < 1e-9);
        }
        fft.inverse(&mut buf);
        for (a, b) in buf.iter().zip(&input) {
            assert!((a.re - b.re).abs() < 1e-12 && (a.im - b.im).abs() < 1e-12);
        }
    }
}
