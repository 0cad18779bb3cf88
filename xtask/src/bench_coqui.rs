//! `cargo xtask bench --coqui VENV [--threads N]`: every architecture Signet imports from
//! Coqui TTS against coqui-tts 0.28 itself, on the same machine, files and thread count, in
//! one run.
//!
//! coqui-tts runs in the throw-away venv `scripts/coqui_fixtures.sh` makes (never a run-time
//! or CI dependency). `scripts/coqui_rtf.py` builds random-initialized models at their
//! recipes' sizes (HiFi-GAN `hifigan_v2`, Glow-TTS's and Tacotron2-DDC's defaults, the LJSpeech
//! VITS), saves them the way Coqui's trainer does, times coqui-tts's own inference on them and
//! keeps its output; signet-acoustic's examples (`coqui_rtf --arch ARCH`, `coqui_check` for
//! VITS) then import the same files and time Signet's release build on the same inputs. Both sides print tab-separated
//! `rtf ARCH SIDE VALUE` lines (and Signet `snr ARCH DB` against coqui-tts's output), which
//! this task gathers into a table of ratios. Noise is off on both sides, so lengths are equal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

/// Architectures, in the order of the table, with the signet-acoustic example that times
/// Signet on them.
const ROWS: &[(&str, &str, &str, &[&str])] = &[
    // (architecture, example, input below the output folder, the example's own arguments)
    ("vits", "coqui_check", "ljspeech_vits", &[]),
    ("glow_tts", "coqui_rtf", "", &["--arch", "glow_tts"]),
    ("tacotron2", "coqui_rtf", "", &["--arch", "tacotron2"]),
    ("hifigan", "coqui_rtf", "", &["--arch", "hifigan"]),
];

/// One architecture's figures.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Row {
    coqui: Option<f64>,
    signet: Option<f64>,
    snr_db: Option<f64>,
}

/// Runs both sides at `threads` threads and prints (and writes) the table.
pub fn run(root: &Path, venv: &Path, threads: usize) -> Result<()> {
    let python = venv.join("bin/python");
    if !python.is_file() {
        bail!(
            "no Python at {}: make the coqui-tts venv first with `scripts/coqui_fixtures.sh {}` \
             (about 5.6 GB, outside the repository)",
            python.display(),
            venv.display()
        );
    }
    let out = root.join("target/bench/coqui");
    std::fs::create_dir_all(&out)?;
    let n = threads.to_string();
    eprintln!("bench: coqui-tts, {threads} thread(s), models at their recipes' sizes");
    let peer = util::run_quiet(
        Command::new(&python)
            .arg(root.join("scripts/coqui_rtf.py"))
            .arg(&out)
            .args(["--threads", &n])
            .env("OMP_NUM_THREADS", &n),
    )?;
    let mut rows = BTreeMap::new();
    parse(&peer, &mut rows)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for (arch, example, input, extra) in ROWS {
        eprintln!("bench: Signet {arch} (signet-acoustic example {example}, release)");
        let text = util::run_quiet(
            Command::new(&cargo)
                .current_dir(root)
                .args([
                    "run",
                    "--release",
                    "--quiet",
                    "-p",
                    "signet-acoustic",
                    "--example",
                    example,
                ])
                .arg("--")
                .arg(out.join(input))
                .args(*extra)
                .args(["--threads", &n]),
        )?;
        parse(&text, &mut rows)?;
    }
    let report = table(&rows, threads)?;
    print!("{report}");
    std::fs::write(out.join("report.txt"), &report)?;
    Ok(())
}

/// Reads the `rtf` and `snr` lines of one side's output into `rows`; other lines are prose.
fn parse(text: &str, rows: &mut BTreeMap<String, Row>) -> Result<()> {
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["rtf", arch, side, value] => {
                let v: f64 = value
                    .parse()
                    .with_context(|| format!("bad RTF in {line:?}"))?;
                let row = rows.entry((*arch).to_owned()).or_default();
                match *side {
                    "coqui-tts" => row.coqui = Some(v),
                    "signet" => row.signet = Some(v),
                    other => bail!("unknown side {other:?} in {line:?}"),
                }
            }
            ["snr", arch, value] => {
                let v: f64 = value
                    .parse()
                    .with_context(|| format!("bad SNR in {line:?}"))?;
                rows.entry((*arch).to_owned()).or_default().snr_db = Some(v);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The table of ratios (coqui-tts's RTF over Signet's: above 1, Signet is faster) and the
/// goal's verdict. An architecture missing a side is an error: the run did not measure it.
fn table(rows: &BTreeMap<String, Row>, threads: usize) -> Result<String> {
    let mut s = String::new();
    writeln!(
        s,
        "Coqui architectures, {threads} thread(s): RTF (compute seconds per audio second)"
    )?;
    writeln!(
        s,
        "{:<10} {:>12} {:>12} {:>10} {:>16}",
        "model", "coqui-tts", "signet", "speed-up", "SNR vs coqui-tts"
    )?;
    let mut all_faster = true;
    for (arch, ..) in ROWS {
        let row = rows.get(*arch).copied().unwrap_or_default();
        let (Some(coqui), Some(signet)) = (row.coqui, row.signet) else {
            bail!("the run gave no RTF for {arch} on both sides: {row:?}");
        };
        if !(coqui > 0.0 && signet > 0.0) {
            bail!("{arch}: RTFs must be positive (coqui-tts {coqui}, signet {signet})");
        }
        let ratio = coqui / signet;
        all_faster &= ratio > 1.0;
        let snr = row
            .snr_db
            .map_or_else(|| "lengths differ".to_owned(), |d| format!("{d:.1} dB"));
        writeln!(
            s,
            "{arch:<10} {coqui:>12.4} {signet:>12.4} {:>9.2}x {snr:>16}",
            ratio
        )?;
    }
    writeln!(
        s,
        "goal (faster than coqui-tts on every architecture): {}",
        if all_faster { "met" } else { "NOT met" }
    )?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_make_one_row_with_its_ratio() -> Result<()> {
        let mut rows = BTreeMap::new();
        parse(
            "coqui-tts Glow-TTS ...\nrtf\tglow_tts\tcoqui-tts\t0.2\nrtf\tvits\tcoqui-tts\t0.5\n\
             rtf\thifigan\tcoqui-tts\t0.1\nrtf\ttacotron2\tcoqui-tts\t0.4",
            &mut rows,
        )?;
        parse(
            "rtf\tglow_tts\tsignet\t0.1\nsnr\tglow_tts\t130.5\nrtf\tvits\tsignet\t1.0\n\
             rtf\thifigan\tsignet\t0.05\nsnr\thifigan\t99\nrtf\ttacotron2\tsignet\t0.1",
            &mut rows,
        )?;
        let glow = rows.get("glow_tts").copied().unwrap_or_default();
        assert_eq!(glow.coqui, Some(0.2));
        assert_eq!(glow.signet, Some(0.1));
        assert_eq!(glow.snr_db, Some(130.5));
        let t = table(&rows, 2)?;
        assert!(t.contains("2.00x"), "{t}");
        assert!(t.contains("0.50x"), "{t}");
        assert!(t.contains("4.00x"), "{t}");
        assert!(t.contains("lengths differ"), "{t}");
        assert!(t.contains("NOT met"), "{t}");
        Ok(())
    }

    #[test]
    fn a_side_that_did_not_report_is_an_error_not_a_row() -> Result<()> {
        let mut rows = BTreeMap::new();
        parse(
            "rtf\tvits\tcoqui-tts\t0.5\nrtf\tvits\tsignet\t0.25",
            &mut rows,
        )?;
        let err = match table(&rows, 1) {
            Ok(t) => bail!("a table without glow_tts: {t}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("glow_tts"), "{err}");
        assert!(parse("rtf\tvits\tpeer\t0.5", &mut rows).is_err());
        assert!(parse("rtf\tvits\tsignet\tfast", &mut rows).is_err());
        Ok(())
    }
}
