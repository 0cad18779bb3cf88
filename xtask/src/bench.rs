//! `cargo xtask bench [--threads N] [--seconds S] [--stream-words N] [--coqui VENV]`: Signet against Piper's
//! runtime on the same voice, inputs, thread count and machine, in one run.
//!
//! Measured side by side:
//! - real-time factor (synthesis seconds / audio seconds) on fixed phoneme ids:
//!   Signet's VITS on libtorch (criterion) against onnxruntime running the
//!   original ONNX voice;
//! - end-to-end real-time factor on sentences: `Synthesizer::speak` against
//!   piper-tts, and the text frontend's share of each;
//! - model load time, and the peak RSS of one `signet speak` process;
//! - the time to the first audio of a 400-character sentence (given by
//!   decoding window) against its whole synthesis, and the throughput of two
//!   concurrent syntheses against one (Signet only, criterion);
//! - streaming (Signet only): time to the first chunk of a 20,000-word text
//!   (criterion, in the library), and, for `signet speak --file --stream` on
//!   2,000 and 20,000 words, the time to the first audio byte and the peak
//!   RSS of the process, which must agree within 10 % (memory flat in the
//!   length of the input). The 20,000-word run synthesizes over two hours of
//!   audio, so it takes many minutes; `--stream-words N` runs a shorter one
//!   (N of 2,000 or less compares with N/10 words and does not enforce the goal).
//!
//! - the watermark (`cargo xtask watermark --clips N`, 50 clips here,
//!   `--watermark-clips 0` leaves it out): detection after each condition,
//!   false positives, PESQ-WB and cost.
//!
//! Noise scales are 0 on both sides so the audio lengths are equal.
//!
//! `--coqui VENV` runs only the Coqui rows instead: each architecture Signet imports from
//! Coqui TTS against coqui-tts itself (see `bench_coqui`).

// Every index here is into a `serde_json::Value`, whose `Index` gives
// `Value::Null` for a missing key instead of panicking; `num` then reports it.
#![allow(clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::flags::Bench;
use crate::{setup, util};

/// The shorter text of the streaming memory goal, in words.
const GOAL_SHORT_WORDS: usize = 2_000;

/// Sentences used for the end-to-end case, from the phoneme fixture.
const TEXTS: usize = 30;

/// Runs the benchmark with `args`' thread count, seconds and streaming length.
pub fn run(root: &Path, args: Bench) -> Result<()> {
    let Bench {
        threads,
        seconds,
        stream_words,
        quality: quality_only,
        watermark_clips,
        coqui,
    } = args;
    if let Some(venv) = coqui {
        return crate::bench_coqui::run(root, &venv, threads);
    }
    let p = setup::run(root)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    util::run(Command::new(&cargo).current_dir(root).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "signet-cli",
        "-p",
        "signet-espeak",
    ]))?;

    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir)?;
    let (ids, texts) = inputs(root)?;
    let long_file = out_dir.join(format!("words-{stream_words}.txt"));
    std::fs::write(&long_file, words(&texts, stream_words))?;
    let ids_file = out_dir.join("ids.json");
    let texts_file = out_dir.join("texts.json");
    std::fs::write(&ids_file, serde_json::to_vec(&ids)?)?;
    std::fs::write(&texts_file, serde_json::to_vec(&texts)?)?;
    let onnx = p.voice_dir.join(format!("{}.onnx", setup::DEFAULT_VOICE));
    let signet_release = root.join("target/release/signet");
    if quality_only {
        return quality(root, &p, &signet_release, &ids, &texts, &out_dir);
    }

    eprintln!("bench: peer (onnxruntime, piper-tts), {threads} thread(s)");
    let peer: Value = serde_json::from_str(&util::run_quiet(
        Command::new(&p.python)
            .arg(root.join("scripts/bench_peer.py"))
            .arg("--onnx")
            .arg(&onnx)
            .arg("--ids")
            .arg(&ids_file)
            .arg("--texts")
            .arg(&texts_file)
            .args([
                "--threads",
                &threads.to_string(),
                "--seconds",
                &seconds.to_string(),
            ])
            .env("OMP_NUM_THREADS", threads.to_string()),
    )?)?;

    eprintln!("bench: Signet (criterion), {threads} thread(s)");
    let side = out_dir.join("signet.json");
    util::run(
        Command::new(&cargo)
            .current_dir(root)
            .args([
                "bench",
                "--quiet",
                "-p",
                "signet",
                "--bench",
                "synthesis",
                "--",
            ])
            .args(["--measurement-time", &seconds.to_string()])
            .env("SIGNET_BENCH_IDS", &ids_file)
            .env("SIGNET_BENCH_TEXTS", &texts_file)
            .env("SIGNET_BENCH_THREADS", threads.to_string())
            .env("SIGNET_BENCH_CONCURRENT", "2")
            .env("SIGNET_BENCH_OUT", &side)
            .env("SIGNET_BENCH_LONG_TEXT", &long_file)
            .env("SIGNET_HOME", &p.home),
    )?;
    let ours: Value = serde_json::from_slice(&std::fs::read(&side)?)?;
    let crit = |name: &str| criterion_median_s(root, "signet", name);
    let ids_s = crit("ids")?;
    let text_s = crit("text")?;
    let first_chunk_s = crit("first_chunk")?;
    let first_audio_s = crit("first_audio_400")?;
    let whole_s = crit("whole_400")?;
    let concurrent_s = crit("ids_concurrent")?;

    // Peak RSS of one CLI process speaking the longest id sequence.
    let longest = ids.iter().max_by_key(|s| s.len()).context("no ids")?;
    let one = out_dir.join("longest.json");
    std::fs::write(&one, serde_json::to_vec(longest)?)?;
    let rss: Value = serde_json::from_str(&util::run_quiet(
        Command::new(&p.python)
            .arg(root.join("scripts/bench_peer.py"))
            .arg("rss")
            .arg(&signet_release)
            .arg("--home")
            .arg(&p.home)
            .args(["speak", "--threads", &threads.to_string(), "--phoneme-ids"])
            .arg(&one)
            .arg("-o")
            .arg(out_dir.join("longest.wav")),
    )?)?;

    let rtf = |s: f64, audio: f64| s / audio;
    let ours_ids_rtf = rtf(ids_s, num(&ours["ids_audio_s"])?);
    let peer_ids_rtf = rtf(num(&peer["ids_s_per_pass"])?, num(&peer["ids_audio_s"])?);
    let ours_text_rtf = rtf(text_s, num(&ours["text_audio_s"])?);
    let peer_text_rtf = rtf(num(&peer["text_s_per_pass"])?, num(&peer["text_audio_s"])?);
    println!();
    println!(
        "voice {}, {threads} thread(s), {} id sequences, {} sentences",
        setup::DEFAULT_VOICE,
        ids.len(),
        texts.len()
    );
    println!("{:<38} {:>12} {:>12} {:>8}", "", "Signet", "peer", "ratio");
    let row =
        |label: &str, a: f64, b: f64| println!("{label:<38} {a:>12.4} {b:>12.4} {:>8.3}", a / b);
    row(
        "RTF, phoneme ids (vs onnxruntime)",
        ours_ids_rtf,
        peer_ids_rtf,
    );
    row(
        "RTF, text end to end (vs piper-tts)",
        ours_text_rtf,
        peer_text_rtf,
    );
    row(
        "audio seconds per ids pass",
        num(&ours["ids_audio_s"])?,
        num(&peer["ids_audio_s"])?,
    );
    row(
        "text frontend share of end to end",
        num(&ours["frontend_s_per_pass"])? / text_s,
        num(&peer["frontend_s_per_pass"])? / num(&peer["text_s_per_pass"])?,
    );
    row(
        "model load seconds",
        num(&ours["load_s"])?,
        num(&peer["load_s"])?,
    );
    println!(
        "peak RSS: signet speak (longest ids, {} ids) {:.0} MiB; peer process (onnxruntime + piper-tts) {:.0} MiB",
        longest.len(),
        num(&rss["maxrss_kib"])? / 1024.0,
        num(&peer["maxrss_kib"])? / 1024.0
    );
    println!("goal: RTF ratio on phoneme ids at most 0.8 (lower is faster)");
    println!(
        "a 400-character sentence: first audio after {:.0} ms, whole sentence {:.0} ms (goal: first audio within 150 ms)",
        first_audio_s * 1e3,
        whole_s * 1e3
    );
    println!(
        "throughput of 2 concurrent syntheses ({threads} thread(s) each): {:.2}x one synthesis (goal: 1.8x on 2 cores)",
        2.0 * ids_s / concurrent_s
    );

    frontend(root, &cargo, seconds, &p.home)?;
    quality(root, &p, &signet_release, &ids, &texts, &out_dir)?;

    println!();
    println!(
        "streaming: first chunk of a {stream_words}-word text, in the library: {first_chunk_s:.3} s"
    );
    // The goal compares 2,000 words with 20,000: by 2,000 words the process
    // has met sentences of most lengths, so its caches have grown to their
    // size. A shorter `--stream-words` run compares against a tenth of its
    // length and only reports the difference.
    let short_words = if stream_words > GOAL_SHORT_WORDS {
        GOAL_SHORT_WORDS
    } else {
        (stream_words / 10).max(1)
    };
    let short_file = out_dir.join(format!("words-{short_words}.txt"));
    std::fs::write(&short_file, words(&texts, short_words))?;
    let mut peaks = Vec::new();
    for (n, file) in [(short_words, &short_file), (stream_words, &long_file)] {
        eprintln!("bench: signet speak --stream, {n} words (this takes a while)");
        let r = stream_run(&signet_release, &p.home, file, threads)?;
        println!(
            "signet speak --file ({n} words) --stream: first audio {:.2} s after start (model load included), {:.0} s of audio in {:.0} s, peak RSS {:.0} MiB",
            r.first_audio_s,
            r.audio_s,
            r.wall_s,
            r.peak_rss_kib as f64 / 1024.0
        );
        peaks.push(r.peak_rss_kib as f64);
    }
    if let [a, b] = peaks[..] {
        let diff = (b - a).abs() / a.min(b).max(1.0);
        let enforced = short_words == GOAL_SHORT_WORDS;
        println!(
            "peak RSS, {stream_words} against {short_words} words: {:+.1} % ({})",
            100.0 * (b - a) / a.max(1.0),
            if enforced {
                "goal: within 10 %"
            } else {
                "informational: the goal compares 2,000 words with 20,000"
            }
        );
        if enforced && diff > 0.10 {
            bail!(
                "streaming memory is not flat: peak RSS differs by {:.1} %",
                100.0 * diff
            );
        }
    }
    // The watermark harness (its table is printed as it finishes).
    if watermark_clips > 0 {
        eprintln!("bench: watermark harness, {watermark_clips} clips");
        crate::watermark::run(root, watermark_clips, 1)?;
    }
    Ok(())
}

/// bf16 against fp32 on the same inputs: the log-spectral distance and mel-cepstral
/// distortion of the benchmark's id sequences (noise 0, so both have the same durations),
/// and the word error rate of an offline recognizer (pocketsphinx) on its sentences at
/// each precision. Where the CPU has no native bf16 it is emulated
/// (`SIGNET_EMULATE_BF16=1`): far slower, but the same arithmetic.
fn quality(
    root: &Path,
    p: &setup::Provisioned,
    signet: &Path,
    ids: &[Vec<i64>],
    texts: &[String],
    out_dir: &Path,
) -> Result<()> {
    let dir = out_dir.join("quality");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let sentences = dir.join("texts.txt");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(&sentences, texts.join("\n"))?;
    let texts_json = dir.join("texts.json");
    std::fs::write(&texts_json, serde_json::to_vec(texts)?)?;
    let speak = |precision: &str| {
        let mut cmd = Command::new(signet);
        cmd.arg("speak")
            .arg("--home")
            .arg(&p.home)
            .args(["--precision", precision])
            .args([
                "--noise-scale",
                "0",
                "--noise-w",
                "0",
                "--length-scale",
                "1",
            ])
            .env("SIGNET_EMULATE_BF16", "1");
        cmd
    };
    for precision in ["fp32", "bf16"] {
        eprintln!(
            "bench: quality, {precision}: {} id sequences and {} sentences",
            ids.len(),
            texts.len()
        );
        let ids_dir = dir.join(precision).join("ids");
        std::fs::create_dir_all(&ids_dir)?;
        for (i, seq) in ids.iter().enumerate() {
            let file = dir.join(format!("ids-{i:04}.json"));
            std::fs::write(&file, serde_json::to_vec(seq)?)?;
            util::run_quiet(
                speak(precision)
                    .arg("--phoneme-ids")
                    .arg(&file)
                    .args(["--format", "f32", "-o"])
                    .arg(ids_dir.join(format!("{i:04}.f32"))),
            )?;
        }
        util::run_quiet(
            speak(precision)
                .arg("--file")
                .arg(&sentences)
                .args(["--sample-rate", "16000", "--output-dir"])
                .arg(dir.join(precision).join("texts")),
        )?;
    }
    let script = root.join("scripts/bench_quality.py");
    let spectra: Value = serde_json::from_str(&util::run_quiet(
        Command::new(&p.python)
            .arg(&script)
            .arg("spectra")
            .arg(dir.join("fp32/ids"))
            .arg(dir.join("bf16/ids")),
    )?)?;
    let fp32_texts = dir.join("fp32/texts");
    let bf16_texts = dir.join("bf16/texts");
    let wer: Value = serde_json::from_str(&util::run_quiet(
        Command::new(&p.python)
            .arg(&script)
            .arg("wer")
            .arg(&texts_json)
            .arg(&fp32_texts)
            .arg(&bf16_texts),
    )?)?;
    let wer_of = |d: &Path| num(&wer[d.to_string_lossy().as_ref()]["wer"]);
    println!();
    println!(
        "quality, bf16 against fp32 ({} id sequences{}): log-spectral distance {:.3} dB, mel-cepstral distortion {:.3} dB mean, {:.3} dB worst (goal: MCD at most 0.5 dB)",
        ids.len(),
        if spectra["equal_lengths"] == Value::Bool(true) {
            ", equal lengths"
        } else {
            ", LENGTHS DIFFER"
        },
        num(&spectra["lsd_db_mean"])?,
        num(&spectra["mcd_db_mean"])?,
        num(&spectra["mcd_db_max"])?,
    );
    println!(
        "word error rate of pocketsphinx on {} sentences: fp32 {:.1} %, bf16 {:.1} % (goal: bf16 at most 0.5 points worse)",
        texts.len(),
        100.0 * wer_of(&fp32_texts)?,
        100.0 * wer_of(&bf16_texts)?,
    );
    Ok(())
}

/// The text frontend's criterion benchmarks (`crates/signet-text/benches/frontend.rs`):
/// characters per second of `prepare`, and time to the first sentence of a
/// 100,000-character text without a full stop.
fn frontend(root: &Path, cargo: &std::ffi::OsStr, seconds: u32, home: &Path) -> Result<()> {
    eprintln!("bench: text frontend (criterion)");
    util::run(
        Command::new(cargo)
            .current_dir(root)
            .args([
                "bench",
                "--quiet",
                "-p",
                "signet-text",
                "--bench",
                "frontend",
                "--",
            ])
            .args(["--measurement-time", &seconds.to_string()])
            .env(
                "SIGNET_ESPEAK_HELPER",
                root.join("target/release/signet-espeak"),
            )
            .env("SIGNET_HOME", home),
    )?;
    let median_s = |name: &str| criterion_median_s(root, "frontend", name);
    let prepare_s = median_s("prepare_100k")?;
    let first_s = median_s("first_sentence_100k")?;
    println!();
    println!(
        "text frontend: prepare (limits, Unicode policy, normalization, chunks) {:.0} characters/s; first sentence of ids for 100,000 characters without a full stop {:.1} ms",
        100_000.0 / prepare_s,
        first_s * 1e3
    );
    Ok(())
}

/// The median of criterion's latest run of `group/name`, in seconds.
fn criterion_median_s(root: &Path, group: &str, name: &str) -> Result<f64> {
    let f = root
        .join("target/criterion")
        .join(group)
        .join(name)
        .join("new/estimates.json");
    let v: Value =
        serde_json::from_slice(&std::fs::read(&f).with_context(|| f.display().to_string())?)?;
    num(&v["median"]["point_estimate"]).map(|ns| ns / 1e9)
}

/// `n` words of English: the fixture's sentences, repeated in order.
fn words(texts: &[String], n: usize) -> String {
    let all: Vec<&str> = texts.iter().flat_map(|t| t.split_whitespace()).collect();
    let mut out: Vec<&str> = all.iter().copied().cycle().take(n).collect();
    if all.is_empty() {
        out.clear();
    }
    let mut s = out.join(" ").trim_end_matches('.').to_owned();
    s.push('.');
    s
}

/// What one streaming run of the CLI measured.
struct StreamRun {
    first_audio_s: f64,
    wall_s: f64,
    audio_s: f64,
    peak_rss_kib: u64,
}

/// Runs `signet speak --file FILE --stream`, reading and discarding its
/// audio as it comes, and samples the process's peak RSS (`VmHWM` in
/// `/proc/PID/status`, a high-water mark) every 50 ms until it exits.
fn stream_run(signet: &Path, home: &Path, file: &Path, threads: usize) -> Result<StreamRun> {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let start = Instant::now();
    let mut child = Command::new(signet)
        .arg("--home")
        .arg(home)
        // 20,000 words are over two hours of audio: past the default
        // one-hour output limit and near the default phoneme budget.
        .args(["speak", "--stream", "--threads", &threads.to_string()])
        .args(["--max-output-seconds", "86400"])
        .args(["--max-phonemes-per-request", "2000000", "--file"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", signet.display()))?;
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                    if let Some(kib) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    {
                        peak = peak.max(kib);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    let mut stdout = child.stdout.take().context("no stdout")?;
    let mut buf = vec![0u8; 1 << 16];
    let mut first = None;
    let mut bytes = 0u64;
    loop {
        let n = stdout.read(&mut buf)?;
        if n == 0 {
            break;
        }
        first.get_or_insert_with(|| start.elapsed().as_secs_f64());
        bytes += n as u64;
    }
    let out = child.wait_with_output()?;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_rss_kib = poller.join().unwrap_or(0);
    if !out.status.success() {
        bail!(
            "signet speak --stream failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(StreamRun {
        first_audio_s: first.unwrap_or(f64::NAN),
        wall_s: start.elapsed().as_secs_f64(),
        audio_s: bytes as f64 / 2.0 / 22_050.0,
        peak_rss_kib,
    })
}

fn num(v: &Value) -> Result<f64> {
    v.as_f64()
        .with_context(|| format!("expected a number, found {v}"))
}

/// Phoneme-id sequences and texts from the committed phoneme fixture.
fn inputs(root: &Path) -> Result<(Vec<Vec<i64>>, Vec<String>)> {
    let f = root.join("crates/signet-espeak/tests/data/phonemes.json");
    let v: Value =
        serde_json::from_slice(&std::fs::read(&f).with_context(|| f.display().to_string())?)?;
    let cases = v["cases"].as_array().context("fixture has no cases")?;
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    for case in cases.iter().take(TEXTS) {
        texts.push(
            case["text"]
                .as_str()
                .context("case without text")?
                .to_owned(),
        );
        for s in case["sentences"]
            .as_array()
            .context("case without sentences")?
        {
            let seq: Vec<i64> = s["ids"]
                .as_array()
                .context("sentence without ids")?
                .iter()
                .map(|x| x.as_i64().context("non-integer id"))
                .collect::<Result<_>>()?;
            ids.push(seq);
        }
    }
    Ok((ids, texts))
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn long_texts_repeat_the_fixture_and_count_words() {
        let texts = vec!["One two.".to_owned(), "Three.".to_owned()];
        assert_eq!(words(&texts, 5), "One two. Three. One two.");
        assert_eq!(words(&texts, 4).split_whitespace().count(), 4);
        assert_eq!(words(&[], 3), ".");
    }
}
