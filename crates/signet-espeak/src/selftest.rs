//! `--sandbox-selftest ATTEMPT`: after the very start-up the helper serves with (limits,
//! espeak-ng loaded and initialised, [sandbox](crate::sandbox) applied), make one attempt
//! that the sandbox or the limits must stop, instead of serving.
//!
//! The helper then writes one line on its protocol output: `allowed`, or `refused: <OS
//! error>`, and exits with 1 or 0. A seccomp-filtered system call never returns: the
//! process is killed by `SIGSYS` before it can write anything. Tests start one helper per
//! attempt and check each outcome.
#![deny(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::ffi;

/// One attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Read a file (e.g. a private key) outside espeak-ng's data folder.
    ReadFile(PathBuf),
    /// Create a new file and write to it.
    WriteFile(PathBuf),
    /// Delete a file.
    Unlink(PathBuf),
    /// Rename a file (to the same name with `.moved` appended).
    Rename(PathBuf),
    /// Open a TCP socket.
    Socket,
    /// Run another program with `execve`.
    Exec(PathBuf),
    /// Allocate this many bytes (address-space limit).
    Allocate(usize),
}

impl Attempt {
    /// Parses `read-file:PATH`, `write-file:PATH`, `unlink:PATH`, `rename:PATH`,
    /// `socket`, `exec:PATH` or `allocate:BYTES`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let (name, arg) = value.split_once(':').unwrap_or((value, ""));
        let path = || {
            if arg.is_empty() {
                Err(format!("self-test {name} needs a path: {name}:PATH"))
            } else {
                Ok(PathBuf::from(arg))
            }
        };
        Ok(match name {
            "read-file" => Self::ReadFile(path()?),
            "write-file" => Self::WriteFile(path()?),
            "unlink" => Self::Unlink(path()?),
            "rename" => Self::Rename(path()?),
            "socket" => Self::Socket,
            "exec" => Self::Exec(path()?),
            "allocate" => Self::Allocate(
                arg.parse()
                    .map_err(|_| format!("self-test allocate needs a byte count, not {arg:?}"))?,
            ),
            other => return Err(format!("unknown self-test {other:?}")),
        })
    }
}

fn moved(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".moved");
    PathBuf::from(name)
}

/// Makes the attempt and reports it on `output`.
pub fn run(attempt: &Attempt, output: &mut impl Write) -> ExitCode {
    let outcome: std::io::Result<()> = match attempt {
        Attempt::ReadFile(p) => std::fs::read(p).map(drop),
        Attempt::WriteFile(p) => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)
            .and_then(|mut f| f.write_all(b"written from inside the sandbox\n")),
        Attempt::Unlink(p) => std::fs::remove_file(p),
        Attempt::Rename(p) => std::fs::rename(p, moved(p)),
        Attempt::Socket => ffi::try_socket(),
        Attempt::Exec(p) => Err(ffi::try_execve(p)),
        Attempt::Allocate(bytes) => {
            let mut v: Vec<u8> = Vec::new();
            match v.try_reserve_exact(*bytes) {
                Ok(()) => {
                    // Touch every page, so that the memory is really there.
                    v.resize(*bytes, 1);
                    Ok(())
                }
                Err(e) => Err(std::io::Error::new(std::io::ErrorKind::OutOfMemory, e)),
            }
        }
    };
    let (line, code) = match outcome {
        Ok(()) => ("allowed".to_owned(), ExitCode::from(1)),
        Err(e) => (format!("refused: {e}"), ExitCode::SUCCESS),
    };
    let _ = writeln!(output, "{line}");
    let _ = output.flush();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_parse() {
        assert_eq!(Attempt::parse("socket"), Ok(Attempt::Socket));
        assert_eq!(
            Attempt::parse("read-file:/k/a.key"),
            Ok(Attempt::ReadFile("/k/a.key".into()))
        );
        assert_eq!(Attempt::parse("allocate:42"), Ok(Attempt::Allocate(42)));
        assert!(Attempt::parse("unlink").is_err());
        assert!(Attempt::parse("allocate:x").is_err());
        assert!(Attempt::parse("format-disk").is_err());
    }
}
