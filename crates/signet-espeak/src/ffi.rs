//! Every unsafe operation of the helper: resource limits, loading espeak-ng, calling it,
//! and the CPython stand-ins its library references.
//!
//! espeak-ng comes as piper-tts's `espeakbridge.so`: espeak-ng 1.52 compiled together with
//! a small CPython extension module. The module's Python-facing functions are never called;
//! only espeak's own C API (`espeak_Initialize`, `espeak_SetVoiceByName`,
//! `espeak_TextToPhonemesWithTerminator`) is. The library still references 11 CPython
//! symbols, which must resolve when it is loaded: this module defines them (data symbols as
//! zeroed statics, functions as stubs that abort), and the build script exports the
//! executable's symbols so that `dlopen` finds them.
#![allow(unsafe_code)]
#![allow(non_upper_case_globals, non_snake_case)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `AUDIO_OUTPUT_SYNCHRONOUS`, the mode piper-tts initialises espeak with.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
/// `espeakINITIALIZE_DONT_EXIT`: report a failed initialisation instead of calling `exit`.
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
/// `espeakCHARS_AUTO`: UTF-8, falling back to ISO-8859-1 for invalid sequences.
const CHARS_AUTO: c_int = 0;
/// `espeakPHONEMES_IPA`: phonemes as IPA in UTF-8.
const PHONEMES_IPA: c_int = 2;

type InitializeFn = unsafe extern "C" fn(c_int, c_int, *const c_char, c_int) -> c_int;
type SetVoiceByNameFn = unsafe extern "C" fn(*const c_char) -> c_int;
type TextToPhonemesFn =
    unsafe extern "C" fn(*mut *const c_void, c_int, c_int, *mut c_int) -> *const c_char;

/// Why espeak could not be loaded or used.
#[derive(Debug)]
pub enum FfiError {
    /// `dlopen` or `dlsym` failed.
    Load(String),
    /// `espeak_Initialize` returned an error.
    Initialize(c_int),
    /// A path or text holds a NUL byte.
    Nul,
    /// espeak reported a text position outside the text.
    PositionOutOfRange,
    /// espeak returned no phoneme buffer.
    NullPhonemes,
    /// More clauses than the caller allowed.
    TooManyClauses,
    /// More phoneme bytes than the caller allowed.
    TooMuchOutput,
}

impl std::fmt::Display for FfiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Load(why) => write!(f, "cannot load espeak-ng: {why}"),
            Self::Initialize(code) => write!(f, "espeak_Initialize failed with {code}"),
            Self::Nul => f.write_str("a path or text holds a NUL byte"),
            Self::PositionOutOfRange => f.write_str("espeak reported a position outside the text"),
            Self::NullPhonemes => f.write_str("espeak returned no phonemes"),
            Self::TooManyClauses => f.write_str("espeak returned too many clauses"),
            Self::TooMuchOutput => f.write_str("espeak returned too many phoneme bytes"),
        }
    }
}

/// One clause as espeak returned it.
#[derive(Debug)]
pub struct RawClause {
    /// Phoneme bytes (IPA, UTF-8 as espeak wrote them).
    pub phonemes: Vec<u8>,
    /// espeak's clause terminator code.
    pub terminator: c_int,
    /// Byte offset in the text where espeak stopped reading for this clause.
    pub end: usize,
}

/// A loaded and initialised espeak-ng. The library stays loaded until the process exits.
pub struct Espeak {
    set_voice_by_name: SetVoiceByNameFn,
    text_to_phonemes: TextToPhonemesFn,
    /// espeak keeps global state: the handle must not leave this thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

/// The last `dlerror` message.
fn dl_error() -> String {
    // SAFETY: `dlerror` returns NULL or a NUL-terminated string owned by libc that stays
    // valid until the next dl* call on this thread; it is copied out at once.
    unsafe {
        let msg = libc::dlerror();
        if msg.is_null() {
            "unknown dlopen error".to_owned()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        }
    }
}

fn dlopen(name: &CStr, flags: c_int) -> Result<*mut c_void, FfiError> {
    // SAFETY: `name` is a valid NUL-terminated string. Loading runs the library's
    // initialisers: that is the point of loading espeak, whose library the caller chose.
    let handle = unsafe { libc::dlopen(name.as_ptr(), flags) };
    if handle.is_null() {
        Err(FfiError::Load(dl_error()))
    } else {
        Ok(handle)
    }
}

fn dlsym(handle: *mut c_void, name: &CStr) -> Result<*mut c_void, FfiError> {
    // SAFETY: `handle` came from a successful `dlopen` and is never closed; `name` is a
    // valid NUL-terminated string.
    let sym = unsafe { libc::dlsym(handle, name.as_ptr()) };
    if sym.is_null() {
        Err(FfiError::Load(format!(
            "symbol {} not found: {}",
            name.to_string_lossy(),
            dl_error()
        )))
    } else {
        Ok(sym)
    }
}

impl Espeak {
    /// Loads the library at `library`, if its SHA-256 is `sha256`
    /// ([`crate::pin::open_pinned`]), from the very file that was hashed, and initialises
    /// espeak with the data folder `data`.
    pub fn load(library: &Path, sha256: &str, data: &Path) -> Result<Self, FfiError> {
        let file = crate::pin::open_pinned(library, sha256).map_err(FfiError::Load)?;
        // The library calls libm (cos, exp, pow) without declaring it; make it available
        // globally before loading, so that every symbol resolves now (RTLD_NOW).
        dlopen(c"libm.so.6", libc::RTLD_NOW | libc::RTLD_GLOBAL)?;
        let lib = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .map_err(|_| FfiError::Nul)?;
        let data = CString::new(data.as_os_str().as_bytes()).map_err(|_| FfiError::Nul)?;
        let handle = dlopen(&lib, libc::RTLD_NOW | libc::RTLD_LOCAL)?;
        // The mapping keeps the library; the descriptor is no longer needed.
        drop(file);
        let initialize = dlsym(handle, c"espeak_Initialize")?;
        let set_voice = dlsym(handle, c"espeak_SetVoiceByName")?;
        let to_phonemes = dlsym(handle, c"espeak_TextToPhonemesWithTerminator")?;
        // SAFETY: the three symbols are espeak-ng 1.52's public C functions, whose
        // signatures (speak_lib.h) these function pointer types repeat exactly.
        let (initialize, set_voice_by_name, text_to_phonemes) = unsafe {
            (
                std::mem::transmute::<*mut c_void, InitializeFn>(initialize),
                std::mem::transmute::<*mut c_void, SetVoiceByNameFn>(set_voice),
                std::mem::transmute::<*mut c_void, TextToPhonemesFn>(to_phonemes),
            )
        };
        // SAFETY: `data` is a valid NUL-terminated path that outlives the call (espeak
        // copies it); synchronous mode starts no audio device and no thread.
        let rate = unsafe {
            initialize(
                AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                data.as_ptr(),
                INITIALIZE_DONT_EXIT,
            )
        };
        if rate < 0 {
            return Err(FfiError::Initialize(rate));
        }
        Ok(Self {
            set_voice_by_name,
            text_to_phonemes,
            _not_send: std::marker::PhantomData,
        })
    }

    /// Selects a voice by name; espeak's error code on failure.
    pub fn set_voice(&mut self, name: &str) -> Result<(), c_int> {
        let name = CString::new(name).map_err(|_| -1)?;
        // SAFETY: espeak is initialised; `name` is a valid NUL-terminated string for the call.
        let status = unsafe { (self.set_voice_by_name)(name.as_ptr()) };
        if status == 0 {
            Ok(())
        } else {
            Err(status)
        }
    }

    /// Phonemizes `text` clause by clause, as piper-tts's bridge does: UTF-8 input, IPA output,
    /// until espeak reports the end of the text.
    pub fn clauses(
        &mut self,
        text: &str,
        max_clauses: usize,
        max_output_bytes: usize,
    ) -> Result<Vec<RawClause>, FfiError> {
        let c_text = CString::new(text).map_err(|_| FfiError::Nul)?;
        let start = c_text.as_ptr() as usize;
        let mut position: *const c_void = c_text.as_ptr().cast();
        let mut out = Vec::new();
        let mut total = 0_usize;
        while !position.is_null() {
            if out.len() >= max_clauses {
                return Err(FfiError::TooManyClauses);
            }
            let mut terminator: c_int = 0;
            // SAFETY: espeak is initialised; `position` points into `c_text` (checked below
            // after every call), which is NUL-terminated and outlives the loop; espeak
            // advances it or sets it to NULL, and writes `terminator`.
            let phonemes = unsafe {
                (self.text_to_phonemes)(&mut position, CHARS_AUTO, PHONEMES_IPA, &mut terminator)
            };
            if phonemes.is_null() {
                return Err(FfiError::NullPhonemes);
            }
            // SAFETY: espeak returns a NUL-terminated string in its own buffer, valid until
            // the next call; it is copied out at once.
            let bytes = unsafe { CStr::from_ptr(phonemes) }.to_bytes().to_vec();
            total = total.saturating_add(bytes.len());
            if total > max_output_bytes {
                return Err(FfiError::TooMuchOutput);
            }
            let end = if position.is_null() {
                text.len()
            } else {
                let offset = (position as usize).wrapping_sub(start);
                if offset > text.len() {
                    return Err(FfiError::PositionOutOfRange);
                }
                offset
            };
            out.push(RawClause {
                phonemes: bytes,
                terminator,
                end,
            });
        }
        Ok(out)
    }
}

/// A process resource limit this helper sets.
#[derive(Debug, Clone, Copy)]
pub enum Resource {
    /// CPU seconds.
    Cpu,
    /// Address space bytes.
    AddressSpace,
    /// Largest file the process may write.
    FileSize,
    /// Open file descriptors.
    OpenFiles,
    /// Core dump size.
    Core,
    /// Processes of the user (blocks fork for unprivileged users).
    Processes,
}

/// Sets a resource limit of this process.
pub fn set_limit(resource: Resource, soft: u64, hard: u64) -> io::Result<()> {
    let which = match resource {
        Resource::Cpu => libc::RLIMIT_CPU,
        Resource::AddressSpace => libc::RLIMIT_AS,
        Resource::FileSize => libc::RLIMIT_FSIZE,
        Resource::OpenFiles => libc::RLIMIT_NOFILE,
        Resource::Core => libc::RLIMIT_CORE,
        Resource::Processes => libc::RLIMIT_NPROC,
    };
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid rlimit for the duration of the call.
    if unsafe { libc::setrlimit(which, &limit) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Current hard limit of a resource.
pub fn hard_limit(resource: Resource) -> io::Result<u64> {
    let which = match resource {
        Resource::Cpu => libc::RLIMIT_CPU,
        Resource::AddressSpace => libc::RLIMIT_AS,
        Resource::FileSize => libc::RLIMIT_FSIZE,
        Resource::OpenFiles => libc::RLIMIT_NOFILE,
        Resource::Core => libc::RLIMIT_CORE,
        Resource::Processes => libc::RLIMIT_NPROC,
    };
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(which, &mut limit) } == 0 {
        Ok(limit.rlim_max)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// CPU time (user + system) this process has used, in whole seconds rounded up.
pub fn cpu_seconds_used() -> io::Result<u64> {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid and writable for the duration of the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let micros = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
    };
    let total = micros(usage.ru_utime) + micros(usage.ru_stime);
    Ok(total.div_ceil(1_000_000))
}

/// Closes every file descriptor above stderr that this process inherited.
pub fn close_inherited_fds() -> io::Result<()> {
    // SAFETY: closing descriptors 3 and up affects no Rust object: the helper opens none
    // before this call.
    if unsafe { libc::close_range(3, u32::MAX, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Moves the protocol's output off file descriptor 1: returns a new descriptor for the
/// original stdout and points descriptor 1 at stderr, so that anything espeak prints with
/// C stdio lands in the (bounded, captured) stderr instead of corrupting the frames.
pub fn take_stdout() -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: duplicating descriptor 1 creates a new descriptor owned by nobody else.
    let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a freshly duplicated, open descriptor that nothing else owns.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    // SAFETY: replaces descriptor 1 with a copy of descriptor 2; Rust's `Stdout` keeps
    // writing to descriptor 1, which now leads to stderr.
    if unsafe { libc::dup2(2, 1) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// `prctl(PR_SET_DUMPABLE, 0)`: no core dumps; other processes of the user can no longer
/// trace this one or read its memory.
pub fn set_not_dumpable() -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes one integer argument; the rest are ignored.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: no later `execve` can gain privileges.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes the value 1 and requires the other arguments be 0.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Self-test: asks for a TCP socket with the `socket` system call itself; the descriptor
/// is closed again if one is returned.
pub fn try_socket() -> io::Result<()> {
    // SAFETY: plain integer arguments; the returned descriptor is owned here and closed.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by `socket` and nothing else owns it.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Self-test: replaces this process with `program` (no arguments, empty environment)
/// through the `execve` system call itself. Returns only if `execve` fails.
pub fn try_execve(program: &Path) -> io::Error {
    let Ok(path) = CString::new(program.as_os_str().as_bytes()) else {
        return io::Error::from(io::ErrorKind::InvalidInput);
    };
    let argv: [*const c_char; 2] = [path.as_ptr(), std::ptr::null()];
    let envp: [*const c_char; 1] = [std::ptr::null()];
    // SAFETY: `path` is NUL-terminated; `argv` and `envp` are NULL-terminated arrays of
    // valid strings that outlive the call. On success the call does not return.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

// ---- CPython stand-ins -------------------------------------------------------------
//
// Only the Python-facing half of `espeakbridge.so` uses these. They exist so that the
// library's references resolve; nothing here is ever meant to run.

/// Stand-in for a CPython object; its storage is never read or written by espeak's C API.
#[repr(C)]
pub struct PyObjectStandIn([usize; 4]);

/// Stand-in for CPython's `None`.
#[no_mangle]
pub static _Py_NoneStruct: PyObjectStandIn = PyObjectStandIn([0; 4]);
/// Stand-in for CPython's `True`.
#[no_mangle]
pub static _Py_TrueStruct: PyObjectStandIn = PyObjectStandIn([0; 4]);
/// Stand-in for CPython's `False`.
#[no_mangle]
pub static _Py_FalseStruct: PyObjectStandIn = PyObjectStandIn([0; 4]);
/// Stand-in for CPython's `RuntimeError` type pointer (null: nothing may use it).
#[no_mangle]
pub static PyExc_RuntimeError: usize = 0;

fn python_called(name: &str) -> ! {
    eprintln!("signet-espeak: CPython function {name} was called; the Python module of espeakbridge.so must never run");
    std::process::abort()
}

macro_rules! python_stubs {
    ($($name:ident),* $(,)?) => {
        $(
            /// Stand-in for a CPython function: aborts if ever called.
            #[no_mangle]
            pub extern "C" fn $name() -> ! {
                python_called(stringify!($name))
            }
        )*
    };
}

python_stubs!(
    PyArg_ParseTuple,
    PyErr_Format,
    PyErr_SetString,
    PyList_Append,
    PyList_New,
    PyModule_Create2,
    Py_BuildValue,
);
