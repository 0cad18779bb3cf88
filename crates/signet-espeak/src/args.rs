//! Command-line arguments of the helper (parsed by hand: the helper keeps few dependencies).
#![deny(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;

use crate::sandbox::Mode;
use crate::selftest::Attempt;

/// Usage text.
pub const USAGE: &str = "usage: signet-espeak --library <espeakbridge.so> --data <espeak-ng-data> \
[--cpu-seconds-per-request N] [--cpu-seconds-total N] [--address-space-bytes N] [--open-files N] \
[--sandbox required|off] [--library-sha256 HEX]
  the library is loaded only if its SHA-256 is HEX (default: the pinned espeak-ng build);
  paths default to $SIGNET_ESPEAK_LIBRARY and $SIGNET_ESPEAK_DATA;
  requests and responses are length-prefixed frames on stdin/stdout (see signet_text::protocol)";

/// Default CPU seconds per request.
pub const DEFAULT_CPU_PER_REQUEST: u64 = 10;
/// Default CPU seconds over the helper's life.
pub const DEFAULT_CPU_TOTAL: u64 = 600;
/// Default address-space limit: 128 MiB (the helper peaks near 7 MiB).
pub const DEFAULT_ADDRESS_SPACE: u64 = 128 * 1024 * 1024;
/// Default open-file limit.
pub const DEFAULT_OPEN_FILES: u64 = 16;

/// What the helper runs with.
#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    /// espeak-ng library (`espeakbridge.so`).
    pub library: PathBuf,
    /// espeak-ng data folder.
    pub data: PathBuf,
    /// CPU seconds per request.
    pub cpu_seconds_per_request: u64,
    /// CPU seconds over the helper's life.
    pub cpu_seconds_total: u64,
    /// Address space in bytes.
    pub address_space_bytes: u64,
    /// Open file descriptors.
    pub open_files: u64,
    /// Whether the helper sandboxes itself.
    pub sandbox: Mode,
    /// SHA-256 the library must have (lowercase hex).
    pub library_sha256: String,
    /// Hidden `--sandbox-selftest`: make this attempt after start-up instead of serving.
    pub selftest: Option<Attempt>,
}

/// Result of parsing.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Serve requests.
    Run(Args),
    /// Print usage.
    Help,
    /// Print the version.
    Version,
}

impl Args {
    /// Parses the arguments (without the program name); `env` looks up fallbacks.
    pub fn parse(
        args: impl IntoIterator<Item = OsString>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Parsed, String> {
        let mut library = None;
        let mut data = None;
        let mut cpu_seconds_per_request = DEFAULT_CPU_PER_REQUEST;
        let mut cpu_seconds_total = DEFAULT_CPU_TOTAL;
        let mut address_space_bytes = DEFAULT_ADDRESS_SPACE;
        let mut open_files = DEFAULT_OPEN_FILES;
        let mut sandbox = Mode::default();
        let mut selftest = None;
        let mut library_sha256 = signet_text::ESPEAK_LIBRARY_SHA256.to_owned();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let name = arg.to_string_lossy().into_owned();
            match name.as_str() {
                "-h" | "--help" => return Ok(Parsed::Help),
                "-V" | "--version" => return Ok(Parsed::Version),
                _ => {}
            }
            let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            let number = || -> Result<u64, String> {
                let v = value.to_string_lossy();
                match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{name} needs a positive integer, not {v:?}")),
                }
            };
            match name.as_str() {
                "--library" => library = Some(PathBuf::from(&value)),
                "--data" => data = Some(PathBuf::from(&value)),
                "--cpu-seconds-per-request" => cpu_seconds_per_request = number()?,
                "--cpu-seconds-total" => cpu_seconds_total = number()?,
                "--address-space-bytes" => address_space_bytes = number()?,
                "--open-files" => open_files = number()?,
                "--sandbox" => {
                    let v = value.to_string_lossy();
                    sandbox = Mode::parse(&v)
                        .ok_or_else(|| format!("--sandbox takes required or off, not {v:?}"))?;
                }
                "--library-sha256" => {
                    let v = value.to_string_lossy();
                    if v.len() != 64 || !v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                        return Err(format!(
                            "--library-sha256 takes 64 lowercase hex digits, not {v:?}"
                        ));
                    }
                    library_sha256 = v.into_owned();
                }
                "--sandbox-selftest" => {
                    selftest = Some(Attempt::parse(&value.to_string_lossy())?);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let library = library
            .or_else(|| env("SIGNET_ESPEAK_LIBRARY").map(PathBuf::from))
            .ok_or("no --library given and SIGNET_ESPEAK_LIBRARY is not set")?;
        let data = data
            .or_else(|| env("SIGNET_ESPEAK_DATA").map(PathBuf::from))
            .ok_or("no --data given and SIGNET_ESPEAK_DATA is not set")?;
        Ok(Parsed::Run(Args {
            library,
            data,
            cpu_seconds_per_request,
            cpu_seconds_total,
            address_space_bytes,
            open_files,
            sandbox,
            library_sha256,
            selftest,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        Args::parse(args.iter().map(OsString::from), |_| None)
    }

    #[test]
    fn full_command_line_parses() {
        let parsed = parse(&[
            "--library",
            "/l.so",
            "--data",
            "/d",
            "--cpu-seconds-per-request",
            "3",
            "--cpu-seconds-total",
            "30",
            "--address-space-bytes",
            "1000",
            "--open-files",
            "8",
        ]);
        assert_eq!(
            parsed,
            Ok(Parsed::Run(Args {
                library: "/l.so".into(),
                data: "/d".into(),
                cpu_seconds_per_request: 3,
                cpu_seconds_total: 30,
                address_space_bytes: 1000,
                open_files: 8,
                sandbox: Mode::Required,
                library_sha256: signet_text::ESPEAK_LIBRARY_SHA256.to_owned(),
                selftest: None,
            }))
        );
    }

    #[test]
    fn library_digest_defaults_to_the_pin_and_must_be_hex() {
        let digest = "ab".repeat(32);
        let parsed = parse(&[
            "--library",
            "/l",
            "--data",
            "/d",
            "--library-sha256",
            &digest,
        ]);
        assert!(matches!(parsed, Ok(Parsed::Run(a)) if a.library_sha256 == digest));
        for bad in [
            "",
            "AB",
            &"AB".repeat(32),
            &"ab".repeat(33),
            &"zz".repeat(32),
        ] {
            let parsed = parse(&["--library", "/l", "--data", "/d", "--library-sha256", bad]);
            assert!(parsed.is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn sandbox_can_be_turned_off_and_self_tested() {
        let parsed = parse(&[
            "--library",
            "/l",
            "--data",
            "/d",
            "--sandbox",
            "off",
            "--sandbox-selftest",
            "socket",
        ]);
        assert!(matches!(
            parsed,
            Ok(Parsed::Run(Args {
                sandbox: Mode::Off,
                selftest: Some(Attempt::Socket),
                ..
            }))
        ));
    }

    #[test]
    fn environment_fills_missing_paths() {
        let parsed = Args::parse(std::iter::empty(), |name| match name {
            "SIGNET_ESPEAK_LIBRARY" => Some("/env.so".into()),
            "SIGNET_ESPEAK_DATA" => Some("/env-data".into()),
            _ => None,
        });
        assert!(matches!(parsed, Ok(Parsed::Run(a)) if a.library == Path::new("/env.so")));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--library"]).is_err());
        assert!(parse(&["--bogus", "1"]).is_err());
        assert!(parse(&["--library", "/l", "--data", "/d", "--open-files", "0"]).is_err());
        assert!(parse(&["--library", "/l", "--data", "/d", "--open-files", "x"]).is_err());
        assert!(parse(&["--library", "/l", "--data", "/d", "--sandbox", "on"]).is_err());
        assert_eq!(parse(&["--help"]), Ok(Parsed::Help));
    }
}
