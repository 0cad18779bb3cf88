//! `cargo xtask watermark [--clips N] [--seed S]`: how the watermark holds up,
//! what it costs, and that it is not found where it is not.
//!
//! 1. N texts (seeded, varied: one to three clauses from word lists) are
//!    spoken by the default voice without the mark (`signet speak
//!    --output-dir --no-watermark`, the debug build, one model load); clips
//!    outside 2-10 s are set aside.
//! 2. Each clip is marked with a fresh harness key (payload = its number),
//!    timed: the embedding cost per second of audio.
//! 3. Each marked clip goes through every condition (ffmpeg for resampling,
//!    codecs, filters, speed and tempo; Rust for levels, noise, crops and
//!    concatenation), and `signet detect --json --key` reads all of a
//!    condition's files in one process; the clean condition's wall time over
//!    its audio is the detection cost (WAV parsing and process start
//!    included).
//! 4. False positives: the unmarked clips (whole and five crops of 2-5 s),
//!    piper-tts speaking the same texts and espeak-ng speaking them (whole
//!    and crops of 2 and 2.5 s), each a window of at most 10 s (12 windows
//!    per clip), and the marked clips under two other keys; every detection
//!    there is a false positive.
//! 5. Quality: PESQ-WB (the `pesq` package, at 16 kHz) of each marked clip
//!    against its unmarked original, when the package is installed.
//! 6. Intelligibility: the word error rate of pocketsphinx (the bench's
//!    recognizer, `scripts/bench_quality.py wer`) on the texts, unmarked
//!    against marked clips at 16 kHz.
//!
//! Results go to `target/watermark/summary.json` and a table on stdout.

// Indices here are into `serde_json::Value`s (a missing key gives `Null`,
// never a panic) and into clip lists of the length they were made with.
#![allow(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use signet_watermark::{embed, Key, Payload};

use crate::{setup, util};

/// Shortest and longest clip kept, seconds.
const MIN_CLIP_S: f64 = 2.0;
const MAX_CLIP_S: f64 = 10.0;

/// A condition: a name and how to make its file from clip `i`.
enum Transform {
    /// The marked file itself.
    None,
    /// ffmpeg with these output arguments (after `-i marked.wav`), to WAV.
    Ffmpeg(&'static [&'static str]),
    /// ffmpeg encode to this extension with these arguments, then decode to WAV.
    Codec(&'static str, &'static [&'static str]),
    /// Samples changed in Rust.
    Samples(fn(&[f32], &[f32], u32, &mut Rng) -> Vec<f32>),
}

fn conditions() -> Vec<(&'static str, Transform)> {
    use Transform::*;
    vec![
        ("none", None),
        ("resample 16 kHz", Ffmpeg(&["-ar", "16000"])),
        ("resample 8 kHz", Ffmpeg(&["-ar", "8000"])),
        ("8-bit", Ffmpeg(&["-c:a", "pcm_u8"])),
        (
            "MP3 32 kbit/s",
            Codec("mp3", &["-c:a", "libmp3lame", "-b:a", "32k"]),
        ),
        (
            "MP3 64 kbit/s",
            Codec("mp3", &["-c:a", "libmp3lame", "-b:a", "64k"]),
        ),
        (
            "MP3 128 kbit/s",
            Codec("mp3", &["-c:a", "libmp3lame", "-b:a", "128k"]),
        ),
        (
            "Opus 24 kbit/s",
            Codec("ogg", &["-c:a", "libopus", "-b:a", "24k"]),
        ),
        ("volume +6 dB (clips)", Samples(|x, _, _, _| gain(x, 2.0))),
        ("volume -6 dB", Samples(|x, _, _, _| gain(x, 0.5))),
        (
            "clipping at 25 % of peak",
            Samples(|x, _, _, _| clip(x, 0.25)),
        ),
        (
            "low-pass 4 kHz (8th order)",
            Ffmpeg(&[
                "-af",
                "lowpass=f=4000,lowpass=f=4000,lowpass=f=4000,lowpass=f=4000",
            ]),
        ),
        (
            "noise 20 dB SNR",
            Samples(|x, _, _, rng| noise(x, 20.0, rng)),
        ),
        (
            "speed +5 %",
            Ffmpeg(&["-af", "asetrate=22050*1.05,aresample=22050"]),
        ),
        (
            "speed -5 %",
            Ffmpeg(&["-af", "asetrate=22050*0.95,aresample=22050"]),
        ),
        ("tempo +5 %", Ffmpeg(&["-af", "atempo=1.05"])),
        ("tempo -5 %", Ffmpeg(&["-af", "atempo=0.95"])),
        (
            "crop to 2 s",
            Samples(|x, _, rate, rng| crop(x, 2.0, rate, rng)),
        ),
        (
            "after unmarked speech",
            Samples(|x, other, _, _| other.iter().chain(x).copied().collect()),
        ),
    ]
}

/// Runs the harness on `clips` texts and prints the summary; returns it.
pub fn run(root: &Path, clips: usize, seed: u64) -> Result<Value> {
    if clips == 0 {
        bail!("--clips must be at least 1");
    }
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        bail!("ffmpeg is missing: `cargo xtask setup` installs it (Debian package ffmpeg)");
    }
    let p = setup::run(root)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    util::run(Command::new(&cargo).current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "signet-cli",
        "-p",
        "signet-espeak",
    ]))?;
    let signet = root.join("target/debug/signet");
    let work = root.join("target/watermark");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let mut rng = Rng(seed.max(1));

    // 1. Unmarked clips.
    let texts: Vec<String> = (0..clips).map(|_| text(&mut rng)).collect();
    let texts_file = work.join("texts.txt");
    std::fs::write(&texts_file, texts.join("\n") + "\n")?;
    let plain_dir = work.join("plain");
    eprintln!("watermark: speaking {clips} clips (unmarked)");
    util::run(
        Command::new(&signet)
            .arg("--home")
            .arg(&p.home)
            .args([
                "speak",
                "--no-watermark",
                "--seed",
                &seed.to_string(),
                "--file",
            ])
            .arg(&texts_file)
            .arg("--output-dir")
            .arg(&plain_dir),
    )?;
    let mut plain = Vec::new();
    let mut kept_texts = Vec::new();
    let mut rate = 0;
    for (i, t) in texts.iter().enumerate() {
        let (x, r) = read_wav(&plain_dir.join(format!("{:04}.wav", i + 1)))?;
        let secs = x.len() as f64 / f64::from(r);
        if (MIN_CLIP_S..=MAX_CLIP_S).contains(&secs) {
            plain.push(x);
            kept_texts.push(t.clone());
            rate = r;
        }
    }
    let n = plain.len();
    if n == 0 {
        bail!("no clip of 2-10 s among {clips}");
    }
    let audio_s: f64 = plain.iter().map(|x| x.len() as f64).sum::<f64>() / f64::from(rate);
    eprintln!("watermark: {n} clips of 2-10 s, {audio_s:.0} s of audio");

    // 2. Marked clips, timed.
    let key = Key::generate()?;
    let key_file = private_key_file(&work, "harness", &key)?;
    let mut marked = Vec::with_capacity(n);
    let t0 = Instant::now();
    for (i, x) in plain.iter().enumerate() {
        marked.push(embed(x, rate, &key, Payload(i as u16))?);
    }
    let embed_ms_per_s = t0.elapsed().as_secs_f64() * 1000.0 / audio_s;
    let marked_dir = work.join("marked");
    std::fs::create_dir_all(&marked_dir)?;
    for (i, x) in marked.iter().enumerate() {
        write_wav(&marked_dir.join(format!("{i:04}.wav")), x, rate)?;
    }

    // 3. Conditions.
    let mut rows = Vec::new();
    let mut detect_ms_per_s = 0.0;
    for (ci, (name, transform)) in conditions().into_iter().enumerate() {
        let dir = work.join(format!("c{ci:02}"));
        std::fs::create_dir_all(&dir)?;
        let mut files = Vec::with_capacity(n);
        for i in 0..n {
            let src = marked_dir.join(format!("{i:04}.wav"));
            let dst = dir.join(format!("{i:04}.wav"));
            match &transform {
                Transform::None => {
                    files.push(src);
                    continue;
                }
                Transform::Ffmpeg(args) => ffmpeg(&src, args, &dst)?,
                Transform::Codec(ext, args) => {
                    let coded = dir.join(format!("{i:04}.{ext}"));
                    ffmpeg(&src, args, &coded)?;
                    ffmpeg(&coded, &[], &dst)?;
                    std::fs::remove_file(&coded)?;
                }
                Transform::Samples(f) => {
                    let other = &plain[(i + 1) % n];
                    write_wav(&dst, &f(&marked[i], other, rate, &mut rng), rate)?;
                }
            }
            files.push(dst);
        }
        let t0 = Instant::now();
        let found = detect(&signet, &key_file, &files)?;
        if matches!(transform, Transform::None) {
            detect_ms_per_s = t0.elapsed().as_secs_f64() * 1000.0 / audio_s;
        }
        let present = found.iter().filter(|d| d["present"] == true).count();
        let payload_ok = found
            .iter()
            .enumerate()
            .filter(|(i, d)| d["present"] == true && d["payload"] == json!(*i as u64))
            .count();
        let rate_pc = 100.0 * present as f64 / n as f64;
        eprintln!("watermark: {name:<28} {rate_pc:6.1} %");
        rows.push(json!({
            "condition": name,
            "clips": n,
            "detected": present,
            "detection_percent": rate_pc,
            "payload_correct": payload_ok,
        }));
    }

    // 4. False positives.
    let fp_dir = work.join("fp");
    std::fs::create_dir_all(&fp_dir)?;
    let mut windows = Vec::new();
    for (i, x) in plain.iter().enumerate() {
        for (k, secs) in [(0, 0.0), (1, 2.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0)] {
            let y = if secs == 0.0 {
                x.clone()
            } else {
                crop(x, secs, rate, &mut rng)
            };
            let f = fp_dir.join(format!("signet-{i:04}-{k}.wav"));
            write_wav(&f, &y, rate)?;
            windows.push(("unmarked Signet", f));
        }
    }
    let piper_dir = work.join("piper");
    let piper_ok = piper(&p.python, &p.voice_dir, &kept_texts, &piper_dir).is_ok();
    let espeak_dir = work.join("espeak");
    std::fs::create_dir_all(&espeak_dir)?;
    let mut espeak_ok = true;
    for (i, t) in kept_texts.iter().enumerate() {
        let f = espeak_dir.join(format!("{i:04}.wav"));
        let spoke = Command::new("espeak-ng")
            .arg("-w")
            .arg(&f)
            .arg(t)
            .output()
            .is_ok_and(|o| o.status.success());
        if !spoke {
            espeak_ok = false;
            break;
        }
    }
    for (source, dir, ok) in [
        ("piper-tts", &piper_dir, piper_ok),
        ("espeak-ng", &espeak_dir, espeak_ok),
    ] {
        if !ok {
            eprintln!("watermark: {source} speech not available; its windows are left out");
            continue;
        }
        for i in 0..n {
            let f = dir.join(format!("{i:04}.wav"));
            let Ok((x, r)) = read_wav(&f) else { continue };
            if x.len() as f64 / f64::from(r) < 2.5 {
                windows.push((source, f));
                continue;
            }
            windows.push((source, f));
            for (k, secs) in [2.0, 2.5].into_iter().enumerate() {
                let c = fp_dir.join(format!("{source}-{i:04}-crop{k}.wav"));
                write_wav(&c, &crop(&x, secs, r, &mut rng), r)?;
                windows.push((source, c));
            }
        }
    }
    let files: Vec<PathBuf> = windows.iter().map(|(_, f)| f.clone()).collect();
    let found = detect(&signet, &key_file, &files)?;
    let mut fp = serde_json::Map::new();
    for ((source, _), d) in windows.iter().zip(&found) {
        let e = fp.entry(source.to_string()).or_insert(json!([0, 0]));
        e[0] = json!(e[0].as_u64().unwrap_or(0) + 1);
        if d["present"] == true {
            e[1] = json!(e[1].as_u64().unwrap_or(0) + 1);
        }
    }
    let marked_files: Vec<PathBuf> = (0..n)
        .map(|i| marked_dir.join(format!("{i:04}.wav")))
        .collect();
    for k in 0..2 {
        let other = private_key_file(&work, &format!("wrong-{k}"), &Key::generate()?)?;
        let found = detect(&signet, &other, &marked_files)?;
        let e = fp
            .entry("marked, wrong key".to_owned())
            .or_insert(json!([0, 0]));
        e[0] = json!(e[0].as_u64().unwrap_or(0) + n as u64);
        let hits = found.iter().filter(|d| d["present"] == true).count() as u64;
        e[1] = json!(e[1].as_u64().unwrap_or(0) + hits);
    }

    // 5. Quality.
    let kept = kept_indices(&texts, &kept_texts);
    let pesq = pesq(root, &p.python, &plain_dir, &marked_dir, &kept)
        .unwrap_or_else(|e| json!({ "error": format!("{e:#}") }));

    // 6. Intelligibility: pocketsphinx's word error rate on the texts,
    // unmarked against marked (both at 16 kHz).
    let wer = wer(
        root,
        &p.python,
        &work,
        &kept_texts,
        &plain_dir,
        &marked_dir,
        &kept,
    )
    .unwrap_or_else(|e| json!({ "error": format!("{e:#}") }));

    let summary = json!({
        "clips": n,
        "audio_seconds": audio_s,
        "key_id": key.id().to_string(),
        "conditions": rows,
        "false_positives": fp,
        "pesq_wb": pesq,
        "wer": wer,
        "embed_ms_per_audio_second": embed_ms_per_s,
        "detect_ms_per_audio_second": detect_ms_per_s,
    });
    std::fs::write(
        work.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    println!("{}", table(&summary));
    Ok(summary)
}

/// The summary as a table.
pub fn table(s: &Value) -> String {
    let mut out = format!(
        "Watermark: {} clips of 2-10 s ({:.0} s of audio) from the default voice\n",
        s["clips"],
        s["audio_seconds"].as_f64().unwrap_or(0.0)
    );
    out.push_str(&format!(
        "{:<30} {:>10} {:>16}\n",
        "condition", "detected", "payload correct"
    ));
    for r in s["conditions"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<30} {:>9.1}% {:>10}/{}\n",
            r["condition"].as_str().unwrap_or("?"),
            r["detection_percent"].as_f64().unwrap_or(0.0),
            r["payload_correct"],
            r["clips"]
        ));
    }
    out.push_str("false positives (windows of at most 10 s):\n");
    let (mut total, mut hits) = (0, 0);
    for (source, v) in s["false_positives"].as_object().into_iter().flatten() {
        if source != "marked, wrong key" {
            total += v[0].as_u64().unwrap_or(0);
            hits += v[1].as_u64().unwrap_or(0);
        }
        out.push_str(&format!("  {source:<28} {} of {}\n", v[1], v[0]));
    }
    out.push_str(&format!(
        "  {:<28} {hits} of {total} (goal: 0 of at least 2000)\n",
        "unmarked speech, total"
    ));
    out.push_str(&format!("PESQ-WB marked vs unmarked: {}\n", s["pesq_wb"]));
    let w = &s["wer"];
    match (w["unmarked"].as_f64(), w["marked"].as_f64()) {
        (Some(u), Some(m)) => out.push_str(&format!(
            "word error rate of pocketsphinx over {} words: unmarked {:.2} %, marked {:.2} % ({:+.2} points; goal within 0.5)\n",
            w["words"],
            100.0 * u,
            100.0 * m,
            100.0 * (m - u)
        )),
        _ => out.push_str(&format!("word error rate: {w}\n")),
    }
    out.push_str(&format!(
        "cost: embed {:.2} ms, detect {:.2} ms per second of audio (debug build, watermark crate at opt-level 3)\n",
        s["embed_ms_per_audio_second"].as_f64().unwrap_or(0.0),
        s["detect_ms_per_audio_second"].as_f64().unwrap_or(0.0)
    ));
    out
}

fn kept_indices(all: &[String], kept: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut k = 0;
    for (i, t) in all.iter().enumerate() {
        if kept.get(k) == Some(t) {
            out.push(i);
            k += 1;
        }
    }
    out
}

fn detect(signet: &Path, key: &Path, files: &[PathBuf]) -> Result<Vec<Value>> {
    let mut found = Vec::with_capacity(files.len());
    for chunk in files.chunks(500) {
        let out = Command::new(signet)
            .args(["detect", "--json", "--key"])
            .arg(key)
            .args(chunk)
            .output()
            .context("run signet detect")?;
        let v: Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("signet detect: {}", String::from_utf8_lossy(&out.stderr)))?;
        found.extend(v.as_array().cloned().unwrap_or_default());
    }
    if found.len() != files.len() {
        bail!(
            "signet detect answered {} of {} files",
            found.len(),
            files.len()
        );
    }
    Ok(found)
}

fn ffmpeg(src: &Path, args: &[&str], dst: &Path) -> Result<()> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(src)
        .args(args)
        .arg(dst)
        .output()
        .context("run ffmpeg")?;
    if !out.status.success() {
        bail!(
            "ffmpeg on {}: {}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn piper(python: &Path, voice_dir: &Path, texts: &[String], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let list = dir.join("texts.json");
    std::fs::write(&list, serde_json::to_vec(texts)?)?;
    let onnx = voice_dir.join(format!("{}.onnx", setup::DEFAULT_VOICE));
    let script = "import json, sys, wave\nfrom piper import PiperVoice\n\
        v = PiperVoice.load(sys.argv[1])\n\
        for i, t in enumerate(json.load(open(sys.argv[2]))):\n\
        \x20   with wave.open(f'{sys.argv[3]}/{i:04}.wav', 'wb') as w:\n\
        \x20       v.synthesize_wav(t, w)\n";
    util::run_quiet(
        Command::new(python)
            .args(["-c", script])
            .arg(&onnx)
            .arg(&list)
            .arg(dir),
    )?;
    Ok(())
}

fn pesq(root: &Path, python: &Path, plain: &Path, marked: &Path, kept: &[usize]) -> Result<Value> {
    let have = Command::new(python)
        .args(["-c", "import pesq"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("watermark: installing pesq (pinned source archive)");
        util::run_quiet(
            Command::new(python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--require-hashes",
                    "--no-deps",
                    "-r",
                ])
                .arg(root.join("xtask/pins/watermark-tools.txt")),
        )?;
    }
    let pairs: Vec<(PathBuf, PathBuf)> = kept
        .iter()
        .enumerate()
        .map(|(m, &i)| {
            (
                plain.join(format!("{:04}.wav", i + 1)),
                marked.join(format!("{m:04}.wav")),
            )
        })
        .collect();
    let list = root.join("target/watermark/pesq-pairs.json");
    std::fs::write(&list, serde_json::to_vec(&pairs)?)?;
    let out = util::run_quiet(
        Command::new(python)
            .arg(root.join("scripts/watermark_pesq.py"))
            .arg(&list),
    )?;
    Ok(serde_json::from_str(&out)?)
}

/// The word error rate of pocketsphinx (`scripts/bench_quality.py wer`, the
/// bench's recognizer) on the unmarked and on the marked clips, brought to
/// 16 kHz by ffmpeg.
fn wer(
    root: &Path,
    python: &Path,
    work: &Path,
    texts: &[String],
    plain: &Path,
    marked: &Path,
    kept: &[usize],
) -> Result<Value> {
    let dir = work.join("wer");
    let texts_json = dir.join("texts.json");
    let (unmarked_dir, marked_dir) = (dir.join("unmarked"), dir.join("marked"));
    std::fs::create_dir_all(&unmarked_dir)?;
    std::fs::create_dir_all(&marked_dir)?;
    std::fs::write(&texts_json, serde_json::to_vec(texts)?)?;
    for (m, &i) in kept.iter().enumerate() {
        let name = format!("{:04}.wav", m + 1);
        ffmpeg(
            &plain.join(format!("{:04}.wav", i + 1)),
            &["-ar", "16000"],
            &unmarked_dir.join(&name),
        )?;
        ffmpeg(
            &marked.join(format!("{m:04}.wav")),
            &["-ar", "16000"],
            &marked_dir.join(&name),
        )?;
    }
    let out: Value = serde_json::from_str(&util::run_quiet(
        Command::new(python)
            .arg(root.join("scripts/bench_quality.py"))
            .arg("wer")
            .arg(&texts_json)
            .arg(&unmarked_dir)
            .arg(&marked_dir),
    )?)?;
    let of = |d: &Path| out[d.to_string_lossy().as_ref()].clone();
    let (u, m) = (of(&unmarked_dir), of(&marked_dir));
    Ok(json!({
        "unmarked": u["wer"],
        "marked": m["wer"],
        "words": u["words"],
    }))
}

fn private_key_file(dir: &Path, name: &str, key: &Key) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, key.to_file_text())?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

fn read_wav(path: &Path) -> Result<(Vec<f32>, u32)> {
    let mut r = hound::WavReader::open(path).with_context(|| format!("{}", path.display()))?;
    let spec = r.spec();
    let ch = usize::from(spec.channels.max(1));
    let scale = 2f32.powi(i32::from(spec.bits_per_sample) - 1);
    let raw: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => r
            .samples::<i32>()
            .map(|s| s.map(|v| v as f32 / scale))
            .collect::<Result<_, _>>()?,
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>()?,
    };
    let mono = raw
        .chunks(ch)
        .map(|c| c.iter().sum::<f32>() / ch as f32)
        .collect();
    Ok((mono, spec.sample_rate))
}

fn write_wav(path: &Path, x: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in x {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()?;
    Ok(())
}

fn gain(x: &[f32], g: f32) -> Vec<f32> {
    x.iter().map(|s| (s * g).clamp(-1.0, 1.0)).collect()
}

fn clip(x: &[f32], fraction: f32) -> Vec<f32> {
    let peak = x.iter().fold(0f32, |m, s| m.max(s.abs()));
    let c = peak * fraction;
    x.iter().map(|s| s.clamp(-c, c)).collect()
}

fn noise(x: &[f32], snr_db: f64, rng: &mut Rng) -> Vec<f32> {
    let power = x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    let sigma = (power / 10f64.powf(snr_db / 10.0)).sqrt();
    x.iter()
        .map(|&s| s + (sigma * rng.gauss()) as f32)
        .collect()
}

fn crop(x: &[f32], secs: f64, rate: u32, rng: &mut Rng) -> Vec<f32> {
    let len = ((secs * f64::from(rate)) as usize).min(x.len());
    let start = ((x.len() - len) as f64 * rng.uniform()) as usize;
    x.iter().skip(start).take(len).copied().collect()
}

/// A varied English text of one to three clauses.
fn text(rng: &mut Rng) -> String {
    const WHO: &[&str] = &[
        "The old fisherman",
        "A young teacher",
        "My neighbour",
        "The council",
        "Our driver",
        "The quiet librarian",
        "A tired nurse",
        "The baker on the corner",
        "Her brother",
        "The new manager",
        "A group of students",
        "The pilot",
        "Grandmother",
        "The engineer",
    ];
    const DID: &[&str] = &[
        "carried the heavy boxes",
        "read the letter twice",
        "painted the fence green",
        "forgot the keys again",
        "walked along the river",
        "fixed the broken radio",
        "baked bread before dawn",
        "sang an old song",
        "counted the coins slowly",
        "opened every window",
        "wrote a long report",
        "planted seven trees",
    ];
    const WHEN: &[&str] = &[
        "on a grey morning",
        "after the storm",
        "before the market opened",
        "late on Sunday night",
        "in the middle of winter",
        "while the children slept",
        "at a quarter past nine",
        "during the long holiday",
        "without saying a word",
    ];
    const THEN: &[&str] = &[
        "and then everyone laughed",
        "but nobody noticed",
        "so the town was grateful",
        "although it started to rain",
        "and the dog followed quietly",
        "because the bridge was closed",
        "which surprised us all",
    ];
    let mut t = format!("{} {} {}", rng.pick(WHO), rng.pick(DID), rng.pick(WHEN));
    let clauses = 1 + (rng.uniform() * 3.0) as usize;
    if clauses >= 2 {
        t.push_str(", ");
        t.push_str(rng.pick(THEN));
    }
    t.push('.');
    if clauses >= 3 {
        t.push_str(&format!(" {} {}.", rng.pick(WHO), rng.pick(DID)));
    }
    t
}

/// A small seeded generator (xorshift64*), so a run is repeatable.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        let i = (self.uniform() * from.len() as f64) as usize;
        from.get(i.min(from.len().saturating_sub(1)))
            .copied()
            .unwrap_or("")
    }
}
