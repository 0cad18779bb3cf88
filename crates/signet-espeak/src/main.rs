//! `signet-espeak`: Signet's out-of-process espeak-ng phonemizer.
//!
//! espeak-ng (GPL-3.0, C, with a history of memory-safety bugs) never runs inside Signet's
//! own processes. This helper loads it from piper-tts's `espeakbridge.so`, the exact
//! espeak-ng 1.52 build Piper voices were trained with, and answers phonemization
//! requests on stdin/stdout with the length-prefixed protocol of `signet_text::protocol`.
//! The client (`signet_text::EspeakPhonemizer`) treats every answer as untrusted and
//! restarts the helper whenever it misbehaves.
//!
//! Start-up, in this order: close inherited descriptors and move the protocol output off
//! descriptor 1; resource limits; load espeak-ng's library and initialise espeak-ng with
//! its data folder (paths from the argument vector; the library is opened once, hashed,
//! and loaded from that same open file only if its SHA-256 is the pinned one); the [sandbox](sandbox) (dumpable
//! flag cleared, `no_new_privs`, Landlock, seccomp-bpf); the hello frame that reports the
//! sandbox; then requests. No request byte reaches espeak-ng before the sandbox is on.
//!
//! Usage: `signet-espeak --library <espeakbridge.so> --data <espeak-ng-data>
//! [--cpu-seconds-per-request N] [--cpu-seconds-total N] [--address-space-bytes N]
//! [--open-files N] [--sandbox required|off] [--library-sha256 HEX]`; the paths may also come from
//! `SIGNET_ESPEAK_LIBRARY` and `SIGNET_ESPEAK_DATA`.
//!
//! This crate is GPL-3.0-or-later and is distributed separately from Signet's
//! MIT/Apache crates. Only `ffi.rs` contains unsafe code.
#![deny(unsafe_code)]

mod args;
mod ffi;
mod pin;
mod sandbox;
mod selftest;
mod serve;

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

use signet_text::protocol::{write_frame, Clause, Hello, MAX_RESPONSE_BYTES};

use crate::args::Args;
use crate::ffi::{Espeak, Resource};
use crate::serve::{classify_terminator, serve, snap_offset, Budget, Engine, Outcome};

/// espeak behind the [`Engine`] interface.
struct EspeakEngine(Espeak);

impl Engine for EspeakEngine {
    fn set_voice(&mut self, voice: &str) -> Result<(), String> {
        self.0
            .set_voice(voice)
            .map_err(|code| format!("espeak-ng has no voice {voice:?} (error {code})"))
    }

    fn clauses(&mut self, text: &str) -> Result<Vec<Clause>, String> {
        let raw = self
            .0
            .clauses(text, text.len() + 1, MAX_RESPONSE_BYTES / 2)
            .map_err(|e| e.to_string())?;
        let mut previous = 0;
        raw.into_iter()
            .map(|c| {
                let phonemes = String::from_utf8(c.phonemes)
                    .map_err(|_| "espeak returned phonemes that are not UTF-8".to_owned())?;
                let (terminator, end_of_sentence) = classify_terminator(c.terminator);
                let end = snap_offset(text, c.end, previous);
                previous = end;
                Ok(Clause::new(phonemes, terminator, end_of_sentence, end))
            })
            .collect()
    }
}

/// Per-request CPU limit inside a lifetime CPU limit.
struct CpuBudget {
    per_request: u64,
    total: u64,
}

impl CpuBudget {
    fn used(&self) -> u64 {
        // If the usage cannot be read, assume the worst: the helper retires.
        ffi::cpu_seconds_used().unwrap_or(self.total)
    }
}

impl Budget for CpuBudget {
    fn before_request(&mut self) {
        let soft = self.used().saturating_add(self.per_request).min(self.total);
        if let Err(e) = ffi::set_limit(Resource::Cpu, soft, self.total) {
            eprintln!("signet-espeak: cannot move the CPU limit: {e}");
        }
    }

    fn exhausted(&mut self) -> bool {
        self.used().saturating_add(self.per_request) > self.total
    }
}

/// Sets a limit, never asking for more than the current hard limit allows.
fn limit(resource: Resource, soft: u64, hard: u64) -> Result<(), String> {
    let ceiling = ffi::hard_limit(resource).map_err(|e| format!("{resource:?}: {e}"))?;
    let hard = hard.min(ceiling);
    ffi::set_limit(resource, soft.min(hard), hard).map_err(|e| format!("{resource:?}: {e}"))
}

fn apply_limits(args: &Args) -> Result<CpuBudget, String> {
    limit(Resource::Core, 0, 0)?;
    limit(Resource::FileSize, 0, 0)?;
    limit(Resource::OpenFiles, args.open_files, args.open_files)?;
    limit(
        Resource::AddressSpace,
        args.address_space_bytes,
        args.address_space_bytes,
    )?;
    limit(Resource::Processes, 0, 0)?;
    let total = args
        .cpu_seconds_total
        .min(ffi::hard_limit(Resource::Cpu).unwrap_or(0));
    limit(
        Resource::Cpu,
        args.cpu_seconds_per_request.min(total),
        total,
    )?;
    Ok(CpuBudget {
        per_request: args.cpu_seconds_per_request,
        total,
    })
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args_os().skip(1), |name| std::env::var_os(name)) {
        Ok(args::Parsed::Run(args)) => args,
        Ok(args::Parsed::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(args::Parsed::Version) => {
            println!("signet-espeak {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("signet-espeak: {e}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ffi::close_inherited_fds() {
        eprintln!("signet-espeak: cannot close inherited descriptors: {e}");
    }
    let output = match ffi::take_stdout() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("signet-espeak: cannot set up stdout: {e}");
            return ExitCode::from(3);
        }
    };
    let mut budget = match apply_limits(&args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("signet-espeak: cannot apply resource limits: {e}");
            return ExitCode::from(3);
        }
    };
    let espeak = match Espeak::load(&args.library, &args.library_sha256, &args.data) {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "signet-espeak: {e} (library {}, data {}); run `cargo xtask setup`",
                args.library.display(),
                args.data.display()
            );
            return ExitCode::from(4);
        }
    };
    let report = match sandbox::apply(args.sandbox, &args.data) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "signet-espeak: {e}; the helper does not run espeak-ng unsandboxed \
                 (a kernel without seccomp needs --sandbox off, set by the caller)"
            );
            return ExitCode::from(5);
        }
    };
    let mut output = BufWriter::new(output);
    if let Some(attempt) = &args.selftest {
        return selftest::run(attempt, &mut output);
    }
    if let Err(e) = write_frame(&mut output, &Hello::new(report).encode()) {
        eprintln!("signet-espeak: cannot write the hello frame: {e}");
        return ExitCode::from(1);
    }
    let mut input = BufReader::new(std::io::stdin().lock());
    match serve(
        &mut input,
        &mut output,
        &mut EspeakEngine(espeak),
        &mut budget,
    ) {
        Outcome::EndOfInput | Outcome::Retired => ExitCode::SUCCESS,
        Outcome::StreamFailed(e) => {
            eprintln!("signet-espeak: {e}");
            ExitCode::from(1)
        }
    }
}
