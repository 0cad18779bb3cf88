//! `cargo xtask bench [--threads N] [--seconds S]`: Signet against Piper's
//! runtime on the same voice, inputs, thread count and machine, in one run.
//!
//! Measured side by side:
//! - real-time factor (synthesis seconds / audio seconds) on fixed phoneme ids:
//!   Signet's VITS on libtorch (criterion) against onnxruntime running the
//!   original ONNX voice;
//! - end-to-end real-time factor on sentences: `Synthesizer::speak` against
//!   piper-tts, and the text frontend's share of each;
//! - model load time, and the peak RSS of one `signet speak` process.
//!
//! Noise scales are 0 on both sides so the audio lengths are equal.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{setup, util};

/// Sentences used for the end-to-end case, from the phoneme fixture.
const TEXTS: usize = 30;

/// Runs the benchmark; `args` may hold `--threads N` and `--seconds S`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut threads = 1usize;
    let mut seconds = 10u32;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--threads" => threads = v.parse().context("--threads takes a whole number")?,
            "--seconds" => seconds = v.parse().context("--seconds takes a whole number")?,
            other => bail!("unknown bench option `{other}`; usage: cargo xtask bench [--threads N] [--seconds S]"),
        }
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
    let ids_file = out_dir.join("ids.json");
    let texts_file = out_dir.join("texts.json");
    std::fs::write(&ids_file, serde_json::to_vec(&ids)?)?;
    std::fs::write(&texts_file, serde_json::to_vec(&texts)?)?;
    let onnx = p.voice_dir.join(format!("{}.onnx", setup::DEFAULT_VOICE));

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
            .env("SIGNET_BENCH_OUT", &side)
            .env("SIGNET_HOME", &p.home),
    )?;
    let ours: Value = serde_json::from_slice(&std::fs::read(&side)?)?;
    let crit = |name: &str| -> Result<f64> {
        let f = root
            .join("target/criterion/signet")
            .join(name)
            .join("new/estimates.json");
        let v: Value =
            serde_json::from_slice(&std::fs::read(&f).with_context(|| f.display().to_string())?)?;
        num(&v["median"]["point_estimate"]).map(|ns| ns / 1e9)
    };
    let ids_s = crit("ids")?;
    let text_s = crit("text")?;

    // Peak RSS of one CLI process speaking the longest id sequence.
    let longest = ids.iter().max_by_key(|s| s.len()).context("no ids")?;
    let one = out_dir.join("longest.json");
    std::fs::write(&one, serde_json::to_vec(longest)?)?;
    let signet_release = root.join("target/release/signet");
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
    Ok(())
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
