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
//! to 8000 Hz (never narrower than 40 Hz, so 88 bands) by 250 ms tiles.
//! The key fixes a pattern over one period of 6 tiles (1.5 s), repeated for
//! the whole signal: ChaCha20, seeded with `HMAC-SHA256(key,
//! "signet-watermark/pattern/v1")`, draws a sign `p[j]` (±1) and a 16-bit
//! label `h[j]` per cell, and makes half the cells *sync* cells and the other
//! half *payload* cells. A payload cell's sign is flipped when
//! `popcount(payload & h[j])` is odd: each of the 65536 payload values has
//! its own sign sequence, and any two differ in about half the cells.
//! Each cell's audio is scaled up or down by its *peak gain*: 2 dB from
//! 1 kHz up, 0.5 dB up to 500 Hz, and in between rising linearly in
//! log-frequency (the low bands hold single harmonics, where a change is
//! heard most and, the detector normalizing each band against its
//! neighbours, found least). The gain is not a step per band: over
//! frequency, a raised cosine in log-frequency joins each band's centre to
//! the next (and falls to 0 dB at 300 and 8000 Hz), so the curve and its
//! slope are continuous and the filter each frame applies is short in time.
//! An STFT (frames of the power of two at or above 50 ms, hop of half a
//! frame, square-root Hann windows for analysis and synthesis, which
//! reconstruct exactly) applies the curve, one real gain per bin, and
//! overlap-adds. The gain of a frame is that of the tile holding its centre,
//! so tile changes are cross-faded over a hop. Bins outside 300-8000 Hz are
//! untouched. The grid is in hertz and seconds, so audio marked at one rate
//! is found at another.
//!
//! No band's long-term level moves by more than its peak gain. The
//! difference signal lies about 17 dB below the speech in the marked bands:
//! on the crate's speech-like test signals the segmental SNR of marked
//! against unmarked audio is 16.6 to 17.2 dB (the tests require 15), and a
//! click comes out with everything beyond 20 ms of it at least 45 dB down.
//!
//! *Why this shape.* Measured with PESQ-WB (marked against unmarked
//! speech of the default voice, `cargo xtask watermark`), the first form of
//! the mark, ±1.5 dB steps per band at every frequency, scored 4.18 mean
//! and 3.85 at worst over 30 clips: a gain that jumps from band to band is
//! a filter that rings across the whole frame. Joining the bands smoothly
//! took it to about 4.5 on a prototype at a small loss of detection score;
//! moving gain from the low bands (0.5 dB) to the rest (2 dB) kept the
//! quality and won back more than the loss. A longer cross-fade between
//! tiles (125 ms) gained 0.005 PESQ for 2.5 % of the score, and was left
//! out.
//!
//! # Detection and its threshold
//!
//! [`detect`] takes Hann-windowed frames at a hop of a quarter frame and
//! their band energies in log units, `ln E[f][b]`; frames 50 dB below the
//! loudest are left out. Each level loses the mean of its band's 3
//! neighbours on each side in the same frame (loudness and formant envelope;
//! the pattern, white across bands, mostly stays) and then its band's mean
//! over frames (the voice's long-term spectrum), and is clamped to ±1 (a
//! harmonic crossing a narrow band swings it by far more than the mark's
//! 0.35). For each *placement*, a speed `s` in 0.95, 0.955, ... 1.05 (band
//! edges and time scaled by `s`) and a pattern phase in 36 steps of 1.5 s /
//! 36, the normalized levels of the frames falling in each cell of the
//! period are summed (frames near a tile edge weigh less) into `C[j]`. For
//! the 8 placements whose sync cells correlate best, every payload value `v`
//! is tried at once (a Walsh-Hadamard transform), and the score is
//!
//! ```text
//! z = Σ_j p[j] q_v[j] C[j] / sqrt(Σ_j C[j]²)
//! ```
//!
//! over all cells, where `q_v[j]` is 1 for sync cells and the payload's flip
//! for payload cells, for the best `v`. Audio longer than 10 s is searched
//! in 10 s windows every 5 s.
//!
//! *Why the false-positive rate is at most 10⁻⁶.* The `C[j]` depend on the
//! audio and the placement, never on the key. For audio that does not carry
//! this key's mark (unmarked, or marked with another key), the signs
//! `p[j] q_v[j]` for a fixed `v` are independent fair ±1 draws of the key
//! (`p[j]` is, whatever `q_v[j]`), independent of `C`; Hoeffding's
//! inequality gives, for one placement and one payload value,
//! `P(z ≥ u) ≤ exp(-u²/2)` exactly, whatever the audio. Choosing which
//! placements to try only shrinks the event, so over all `H` hypotheses
//! (windows × 21 speeds × 36 phases × 65536 values) the union bound gives
//! `P(max z ≥ u) ≤ H · exp(-u²/2)`, and the threshold
//! `u = sqrt(2 ln(H / 10⁻⁶))` (7.94 for one window) keeps the
//! false-positive rate per clip at or below 10⁻⁶ with no assumption on the
//! audio. [`Detection::false_positive`] reports `H · exp(-z²/2)` for the
//! score found. The bound is over the choice of key: it holds for audio made
//! without knowledge of the key.
//!
//! The payload is the best `v`; it is reported when the mark is present and
//! the payload cells alone score at least `sqrt(2 ln(65535 / 10⁻⁴))` (6.4),
//! so that a wrong value is unlikely ([`PAYLOAD_ERROR_RATE`]); otherwise
//! [`Detection::payload`] is `None` while the mark may be present.
//!
//! On the speech-like test signals (22.05 kHz), clean 6-10 s clips score
//! 13.5 to 15.4; 3 s crops 9.3 to 11.8; white noise at 20 dB SNR costs about
//! a third of the score.
//!
//! On the default voice (`cargo xtask watermark --clips 200`: 200 clips of
//! 2-10 s, 948 s of audio), the mark was found in every clip clean, after
//! resampling to 16 and 8 kHz, MP3 at 32, 64 and 128 kbit/s, Opus at
//! 24 kbit/s, volume ±6 dB, clipping at 25 % of the peak, an 8th-order
//! 4 kHz low-pass, ±5 % speed and tempo and crops to 2 s; in 99.5 % after
//! 8-bit quantization and 92.5 % with white noise at 20 dB SNR. PESQ-WB of
//! marked against unmarked audio: 4.53 mean, 4.39 at worst (the first
//! form of the mark: 4.18 and 3.85 over 30 clips). No detection in 2,400
//! unmarked windows (Signet, piper-tts and espeak-ng speech, whole and
//! 2-5 s crops; highest score 6.36 of 7.94) nor with 2 wrong keys on the 200
//! marked clips. pocketsphinx's word error rate over 3,089 words: 25.41 %
//! unmarked, 24.60 % marked. The harness's costs (debug build, this crate
//! at opt-level 3, process start and WAV parsing included, on a 2-core
//! machine at a load of about 8): embedding 1.92 ms, detection 29 ms per
//! second of audio.
//!
//! # Cost
//!
//! `cargo bench -p signet-watermark` (10 s at 22.05 kHz): embedding about
//! 0.9 ms and detection about 5.4 ms per second of audio, measured on a
//! shared, busy 2-core machine.
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
