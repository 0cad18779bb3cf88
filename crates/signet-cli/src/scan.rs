//! `signet scan FILE.pth [--json]`: what a pickle-based loader (`torch.load`) would do with a
//! PyTorch checkpoint, without doing it.
//!
//! The file is read through signet-io (regular file, capped) and walked by
//! `signet_checkpoint::scan`, which evaluates no code: it lists the format, every global the
//! pickles import, every call they make, the tensors they declare, and a verdict (data only,
//! would run code: which, or unknown when a malformed file stops the walk). A hostile file is reported, not refused: the command succeeds. It
//! fails only on a file that is not a checkpoint at all. Every string from the file passes
//! `escape` before it reaches the terminal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use signet_checkpoint::{Limits, ScanReport, Verdict, SKIPPED_KEYS};

use crate::inspect::escape;

/// Largest checkpoint scanned (Coqui's largest published checkpoints with optimizer state are
/// a few GiB).
const MAX_CHECKPOINT_BYTES: u64 = 16 << 30;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The checkpoint (`.pth`, `.pt`, `.ckpt`: torch.save's zip or legacy format).
    file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ScanArgs) -> Result<()> {
    let path = args.file.display();
    let cap = signet_io::Cap::new(
        MAX_CHECKPOINT_BYTES,
        "a fixed limit of signet scan (16 GiB)",
    );
    let bytes =
        signet_io::read_capped(&args.file, cap).with_context(|| format!("cannot open {path}"))?;
    let report = signet_checkpoint::scan(&bytes, &Limits::default())
        .with_context(|| format!("cannot scan {path}"))?;
    drop(bytes);
    if args.json {
        let json = serde_json::to_string_pretty(&report).context("cannot write the report")?;
        outln!("{json}")?;
    } else {
        out!("{}", text(&path.to_string(), &report))?;
    }
    Ok(())
}

fn text(path: &str, r: &ScanReport) -> String {
    let mut s = String::new();
    s.push_str(&format!("file:      {}\n", escape(path)));
    let format = match r.format.as_str() {
        "zip" => "zip (torch.save, torch 1.6 and later)",
        "legacy" => {
            "legacy stream (torch.save before 1.6, or _use_new_zipfile_serialization=False)"
        }
        _ => "a pickle stream that is not a torch checkpoint",
    };
    s.push_str(&format!("format:    {format}\n"));
    for p in &r.pickles {
        s.push_str(&format!("pickle:    {}\n", escape(&p.name)));
    }
    s.push_str("imports:\n");
    for g in &r.globals {
        let tag = if g.allowed { "data" } else { "CODE" };
        s.push_str(&format!("  {tag}  {} (×{})\n", escape(&g.name), g.count));
    }
    s.push_str("calls:\n");
    for c in &r.calls {
        let tag = if c.allowed { "data" } else { "CODE" };
        s.push_str(&format!(
            "  {tag}  {} by {} (×{})\n",
            escape(&c.callable),
            c.opcode,
            c.count
        ));
    }
    // The model's tensors one per line; training state summed by its top-level key.
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    let mut listed = Vec::new();
    for t in &r.tensors {
        let top = t.name.split('/').next().unwrap_or_default();
        if SKIPPED_KEYS.contains(&top) {
            *skipped.entry(top).or_default() += 1;
        } else {
            listed.push(t);
        }
    }
    s.push_str(&format!("tensors:   {}\n", r.tensors.len()));
    for t in listed {
        s.push_str(&format!(
            "  {} {} {:?}\n",
            escape(&t.name),
            t.dtype,
            t.shape
        ));
    }
    for (key, n) in skipped {
        s.push_str(&format!(
            "  {key}: {n} tensors (training state, not read)\n"
        ));
    }
    for note in &r.notes {
        s.push_str(&format!("note:      {}\n", escape(note)));
    }
    match &r.verdict {
        Verdict::DataOnly => {
            s.push_str("verdict:   data only (pickle would build data and call nothing else)\n")
        }
        Verdict::Unknown { reason } => s.push_str(&format!(
            "verdict:   UNKNOWN: nothing that runs code was found before {}\n",
            escape(reason)
        )),
        Verdict::WouldRunCode { callables } => {
            let names: Vec<String> = callables.iter().map(|c| escape(c)).collect();
            s.push_str(&format!(
                "verdict:   WOULD RUN CODE if loaded with pickle (torch.load): {}\n",
                names.join(", ")
            ));
        }
    }
    match &r.refused {
        None => s.push_str("signet:    reads it as data\n"),
        Some(why) => s.push_str(&format!("signet:    refuses it: {}\n", escape(why))),
    }
    s
}
