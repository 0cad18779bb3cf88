//! A keyed, inaudible watermark for Signet's speech: mono `f32` audio at any
//! rate from 8 to 192 kHz.
//!
//! - [`embed`] marks a whole signal; [`Embedder`] marks a stream piece by
//!   piece, and its pieces joined equal [`embed`]'s output exactly, whatever
//!   the split.
//! - [`detect`] says whether a [`Key`]'s mark is in a clip, with a score, the
//!   speed and pattern phase found, the 16-bit [`Payload`] and a bound on the
//!   false-positive probability.
//!
//! ```
//! use signet_watermark::{detect, embed, Key, Payload};
//!
//! let rate = 16_000;
//! // A stand-in for speech: a few harmonics with a slow vibrato and noise.
//! let mut noise = 1u32;
//! let audio: Vec<f32> = (0..rate as usize * 4)
//!     .map(|i| {
//!         let t = i as f32 / rate as f32;
//!         let f0 = 140.0 + 20.0 * (t * 3.0).sin();
//!         noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
//!         let n = (noise >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
//!         (1..40).map(|h| (t * f0 * h as f32 * std::f32::consts::TAU).sin() / h as f32).sum::<f32>()
//!             * 0.1 + 0.05 * n
//!     })
//!     .collect();
//! let key = Key::from_bytes([7; 32]);
//! let marked = embed(&audio, rate, &key, Payload(0xBEEF))?;
//! let found = detect(&marked, rate, &key)?;
//! assert!(found.present);
//! assert_eq!(found.payload, Some(Payload(0xBEEF)));
//! assert!(!detect(&audio, rate, &key)?.present);
//! # Ok::<(), signet_watermark::WatermarkError>(())
//! ```
//!
//! # The mark
//!
//! The time-frequency plane is cut into *cells*: 1/24-octave bands from 300
//! to 8000 Hz (never narrower than 40 Hz, so about 90 bands) by 250 ms tiles.
//! The key fixes a pattern over one period of 6 tiles (1.5 s), repeated for
//! the whole signal: ChaCha20, seeded with `HMAC-SHA256(key,
//! "signet-watermark/pattern/v1")`, draws a sign (±1) per cell and assigns
//! each cell a role: half the cells are *sync* cells, the other half are
//! shared evenly by the 16 payload bits, whose cells keep their sign when the
//! bit is 1 and flip it when it is 0. Each cell's audio is scaled by
//! ±1.5 dB: an STFT (frames of the power of two at or above 50 ms, hop of
//! half a frame, square-root Hann windows for analysis and synthesis, which
//! reconstruct exactly), one real gain per bin, overlap-add. The gain of a
//! frame is that of the tile holding its centre, so tile changes are
//! cross-faded over a hop. Bins outside 300-8000 Hz are untouched. The
//! grid is in hertz and seconds, so audio marked at one rate is found at
//! another.
//!
//! The mark changes no band's long-term level by more than 1.5 dB, and
//! changes it by much less on average (the signs are balanced by chance).
//! The difference signal is 15 dB below the speech in the marked bands: the
//! crate's tests check a segmental SNR of at least 13 dB on speech-like
//! audio. Level changes of ±1.5 dB spread over narrow bands and quarter
//! seconds are not heard in speech; a listening test (PESQ) belongs to the
//! project's benchmark.
//!
//! # Detection and its threshold
//!
//! [`detect`] takes Hann-windowed frames at a hop of a quarter frame, their
//! band energies `E[f][b]` in decibel-like units `ln E`, less each frame's
//! mean over bands (loudness) and each band's mean over frames (the voice's
//! spectral envelope); frames 50 dB below the loudest are left out. For each
//! *hypothesis*, a speed `s` in 0.95, 0.955, ... 1.05 (band edges scaled by
//! `s`, time by `s`) and a pattern phase in 36 steps of 1.5 s / 36, it sums
//! the normalized levels of the frames falling in each cell of the period
//! (frames near a tile edge weigh less) into `C[j]`, and computes over the
//! sync cells
//!
//! ```text
//! z = Σ p[j] C[j] / sqrt(Σ C[j]²)
//! ```
//!
//! where `p[j]` is the key's sign. Audio longer than 10 s is searched in
//! 10 s windows every 5 s. The score is the largest `z` over the hypotheses.
//!
//! *Why the false-positive rate is at most 10⁻⁶.* The `C[j]` depend on the
//! audio and the hypothesis, never on the key. For audio that does not carry
//! this key's mark (unmarked, or marked with another key), the signs `p[j]`
//! are independent fair ±1 draws of the key, independent of `C`; Hoeffding's
//! inequality gives, for one hypothesis, `P(z ≥ u) ≤ exp(-u²/2)` exactly,
//! whatever the audio. Over `H` hypotheses (windows × 21 speeds × 36 phases),
//! the union bound gives `P(max z ≥ u) ≤ H · exp(-u²/2)`, so the threshold
//! `u = sqrt(2 ln(H / 10⁻⁶))` (6.4 for one window) keeps the false-positive
//! rate per clip at or below 10⁻⁶ without any assumption on the audio,
//! counting every hypothesis searched. [`Detection::false_positive`] reports
//! `H · exp(-z²/2)` for the score found. The bound is over the choice of
//! key: it holds for audio made without knowledge of the key.
//!
//! The payload bits are read under the best hypothesis, each as the sign of
//! the same correlation over its own cells; they are reported only when the
//! mark is present, with their smallest normalized correlation as a margin.
//!
//! # What it proves
//!
//! Detection needs the key: the mark is a provenance tool for its operator,
//! not a public proof. A detection shows that the audio went through an
//! embedder holding the key (the key id is carried by the pattern itself).
//! It does not resist an attacker who knows the scheme and holds many marked
//! outputs: averaging them estimates the pattern, which can then be
//! inverted. Keep the key private, one per Signet home or server.

#![forbid(unsafe_code)]

mod detect;
mod embed;
mod error;
mod fft;
mod key;
mod layout;

pub use detect::{detect, Detection, FALSE_POSITIVE_RATE, MIN_DETECT_SECONDS, PAYLOAD_ERROR_RATE};
pub use embed::{embed, Embedder};
pub use error::WatermarkError;
pub use key::{Key, KeyId, Payload};
pub use layout::{MAX_RATE, MIN_RATE};
