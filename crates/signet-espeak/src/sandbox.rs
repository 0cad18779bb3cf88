//! The sandbox the helper puts itself in before it reads the first request.
//!
//! Order of start-up (`main.rs`): resource limits; espeak-ng's library loaded and
//! espeak-ng initialised with its data folder (both paths come from the parent's argument
//! vector, never from a request; initialisation also reads the C library's locale files,
//! which the sandbox then no longer allows); then [`apply`]; then the hello frame and the
//! request loop. So no byte of any request reaches espeak-ng before every layer is on.
//!
//! Layers, in the order they are applied:
//! 1. `PR_SET_DUMPABLE` 0: no core dump, and processes of the same user can no longer
//!    `ptrace` the helper or read its memory through `/proc`.
//! 2. `PR_SET_NO_NEW_PRIVS`: no `execve` can gain privileges (set-uid, file capabilities);
//!    required by both layers below.
//! 3. Landlock, where the kernel offers it (Linux 5.13 and later, when enabled): every
//!    file-system right is handled and only reading files and listing folders below
//!    espeak-ng's data folder is granted; TCP bind and connect are handled and none is
//!    granted (ABI 4 and later); abstract Unix sockets and signals are scoped to the helper
//!    (ABI 6 and later). On an older kernel the layer is applied as far as it goes, and
//!    reported.
//! 4. A seccomp-bpf allow-list of the system calls phonemizing needs ([`allow_list`]);
//!    any other system call kills the process (`SECCOMP_RET_KILL_PROCESS`). `openat` is
//!    allowed only without write access, `O_CREAT`, `O_TRUNC`, `O_APPEND` or
//!    `O_TMPFILE`; `mmap` and `mprotect` only without `PROT_EXEC` (no new executable
//!    memory); `prlimit64` only on the helper itself and only for `RLIMIT_CPU` (which
//!    it moves forward per request; the hard limit can only go down); `fcntl` only to
//!    read or set descriptor flags; `tgkill` only on the helper itself (so that a crash
//!    in espeak-ng still ends in `SIGSEGV` or `SIGABRT`, and `SIGSYS` always means a
//!    forbidden call). No `socket`, `connect`, `execve`, `fork`/`clone`,
//!    `open` for writing, `unlink`, `rename`, `mkdir`, `chmod`, `ptrace`, `kill`, `ioctl`,
//!    `mount`, `bpf`, `landlock_*` or `seccomp` call gets through.
//!
//! With [`Mode::Required`] (the default) the helper refuses to serve when the
//! `no_new_privs`, dumpable or seccomp layer cannot be applied.
#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::path::Path;

use signet_text::protocol::SandboxReport;

use crate::ffi;

/// Whether the helper sandboxes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every layer the kernel offers; the helper refuses to serve without `no_new_privs`,
    /// the dumpable flag cleared and the seccomp filter.
    #[default]
    Required,
    /// No sandbox (resource limits only): for measuring the sandbox's cost.
    Off,
}

impl Mode {
    /// Parses the `--sandbox` value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "required" => Some(Self::Required),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

/// Applies every layer (see the module docs) and says which are on.
///
/// # Errors
/// With [`Mode::Required`], a message naming the layer that could not be applied.
pub fn apply(mode: Mode, data: &Path) -> Result<SandboxReport, String> {
    if mode == Mode::Off {
        return Ok(SandboxReport::none());
    }
    let mut report = SandboxReport::none();
    ffi::set_not_dumpable().map_err(|e| format!("cannot clear the dumpable flag: {e}"))?;
    report.not_dumpable = true;
    ffi::set_no_new_privs().map_err(|e| format!("cannot set no_new_privs: {e}"))?;
    report.no_new_privs = true;
    let (landlock, abi) = landlock::restrict(data)?;
    report.landlock = landlock;
    report.landlock_abi = abi;
    seccomp::install()?;
    report.seccomp = true;
    Ok(report)
}

#[cfg(target_os = "linux")]
mod landlock {
    use std::path::Path;

    use landlock::{
        path_beneath_rules, Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, Scope, ABI,
    };
    use signet_text::protocol::LandlockState;

    /// The newest Landlock ABI whose rights this helper asks for (and was tested with).
    const ABI_WANTED: ABI = ABI::V6;

    /// Restricts file access to reading below `data`, denies TCP and scopes signals and
    /// abstract sockets, as far as the kernel supports; the state and the kernel's ABI.
    pub fn restrict(data: &Path) -> Result<(LandlockState, u8), String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot apply Landlock: {e}");
        let status = Ruleset::default()
            .handle_access(AccessFs::from_all(ABI_WANTED))
            .map_err(|e| fail(&e))?
            .handle_access(AccessNet::from_all(ABI_WANTED))
            .map_err(|e| fail(&e))?
            .scope(Scope::from_all(ABI_WANTED))
            .map_err(|e| fail(&e))?
            .create()
            .map_err(|e| fail(&e))?
            .add_rules(path_beneath_rules([data], AccessFs::from_read(ABI_WANTED)))
            .map_err(|e| fail(&e))?
            .restrict_self()
            .map_err(|e| fail(&e))?;
        let abi = match status.landlock {
            LandlockStatus::Available {
                effective_abi,
                kernel_abi,
            } => kernel_abi.unwrap_or(effective_abi as i32),
            _ => 0,
        };
        let state = match status.ruleset {
            RulesetStatus::FullyEnforced => LandlockState::Full,
            RulesetStatus::PartiallyEnforced => LandlockState::Partial,
            _ => LandlockState::Unavailable,
        };
        Ok((state, u8::try_from(abi).unwrap_or(u8::MAX)))
    }
}

#[cfg(not(target_os = "linux"))]
mod landlock {
    use std::path::Path;

    use signet_text::protocol::LandlockState;

    /// No Landlock outside Linux.
    pub fn restrict(_data: &Path) -> Result<(LandlockState, u8), String> {
        Ok((LandlockState::Unavailable, 0))
    }
}

/// The system calls the helper may make once the filter is on, each with the argument
/// conditions it must meet (an empty list: any arguments). Found by tracing the helper
/// over the agreement set, the crash inputs and every voice the tests use. `pid` is the
/// helper's own process id.
#[cfg(target_os = "linux")]
pub fn allow_list(pid: u32) -> Result<BTreeMap<i64, Vec<seccompiler::SeccompRule>>, String> {
    use seccompiler::{SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition, SeccompRule};

    let rule = |conditions: Vec<(u8, Op, u64)>| -> Result<SeccompRule, String> {
        let conditions = conditions
            .into_iter()
            .map(|(arg, op, value)| SeccompCondition::new(arg, Len::Dword, op, value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        SeccompRule::new(conditions).map_err(|e| e.to_string())
    };
    let unsigned = |v: i32| u64::from(v.unsigned_abs());

    // Any of these flags lets `openat` write or create.
    const O_TMPFILE_BIT: u64 = 0o20_000_000;
    let write_flags =
        unsigned(libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) | O_TMPFILE_BIT;
    let no_exec = unsigned(libc::PROT_EXEC);

    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let plain = [
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_close,
        libc::SYS_lseek,
        libc::SYS_fstat,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_getdents64,
        libc::SYS_brk,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_getrusage,
        libc::SYS_sysinfo,
        libc::SYS_futex,
        libc::SYS_getrandom,
        libc::SYS_clock_gettime,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_sigaltstack,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    for call in plain {
        rules.insert(call, Vec::new());
    }
    // espeakbridge.so was built for old C libraries and calls `stat` directly.
    #[cfg(target_arch = "x86_64")]
    for call in [libc::SYS_stat, libc::SYS_lstat] {
        rules.insert(call, Vec::new());
    }
    rules.insert(
        libc::SYS_openat,
        vec![rule(vec![(2, Op::MaskedEq(write_flags), 0)])?],
    );
    rules.insert(
        libc::SYS_mmap,
        vec![rule(vec![(2, Op::MaskedEq(no_exec), 0)])?],
    );
    rules.insert(
        libc::SYS_mprotect,
        vec![rule(vec![(2, Op::MaskedEq(no_exec), 0)])?],
    );
    rules.insert(
        libc::SYS_prlimit64,
        vec![rule(vec![
            (0, Op::Eq, 0),
            (1, Op::Eq, u64::from(libc::RLIMIT_CPU)),
        ])?],
    );
    // A crash's own signal (abort raises SIGABRT at itself), never another process.
    rules.insert(
        libc::SYS_tgkill,
        vec![rule(vec![(0, Op::Eq, u64::from(pid))])?],
    );
    rules.insert(
        libc::SYS_fcntl,
        [libc::F_GETFD, libc::F_SETFD, libc::F_GETFL]
            .into_iter()
            .map(|cmd| rule(vec![(1, Op::Eq, unsigned(cmd))]))
            .collect::<Result<Vec<_>, _>>()?,
    );
    Ok(rules)
}

#[cfg(target_os = "linux")]
mod seccomp {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

    /// Compiles [`super::allow_list`] for this machine and installs it.
    pub fn install() -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot install the seccomp filter: {e}");
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| fail(&e))?;
        let filter = SeccompFilter::new(
            super::allow_list(std::process::id()).map_err(|e| fail(&e))?,
            SeccompAction::KillProcess,
            SeccompAction::Allow,
            arch,
        )
        .map_err(|e| fail(&e))?;
        let program: BpfProgram = filter.try_into().map_err(|e| fail(&e))?;
        seccompiler::apply_filter(&program).map_err(|e| fail(&e))
    }
}

#[cfg(not(target_os = "linux"))]
mod seccomp {
    /// seccomp is Linux's; elsewhere the required sandbox cannot be had.
    pub fn install() -> Result<(), String> {
        Err("seccomp-bpf needs Linux; run the helper with --sandbox off elsewhere".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_modes_parse() {
        assert_eq!(Mode::parse("required"), Some(Mode::Required));
        assert_eq!(Mode::parse("off"), Some(Mode::Off));
        assert_eq!(Mode::parse("on"), None);
        assert_eq!(Mode::default(), Mode::Required);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn allow_list_has_no_dangerous_call() {
        let rules = allow_list(1).unwrap();
        for call in [
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_execve,
            libc::SYS_execveat,
            libc::SYS_clone,
            libc::SYS_clone3,
            libc::SYS_unlinkat,
            libc::SYS_renameat2,
            libc::SYS_ptrace,
            libc::SYS_kill,
            libc::SYS_tkill,
            libc::SYS_ioctl,
            libc::SYS_openat2,
            libc::SYS_seccomp,
            libc::SYS_prctl,
        ] {
            assert!(!rules.contains_key(&call), "system call {call} is allowed");
        }
        for conditional in [
            libc::SYS_openat,
            libc::SYS_mmap,
            libc::SYS_prlimit64,
            libc::SYS_tgkill,
        ] {
            assert!(!rules.get(&conditional).unwrap().is_empty());
        }
    }
}
