//! Build script of the espeak helper.
//!
//! espeak-ng comes as piper-tts's `espeakbridge.so`, a CPython extension module that
//! references 11 CPython symbols. The helper defines stand-ins for them (see `src/ffi.rs`)
//! and exports exactly those from its executable (the `-rdynamic` mechanism, limited to
//! these names), so that `dlopen` resolves them there.

/// The CPython symbols `espeakbridge.so` references (`nm -D --undefined-only`).
const PYTHON_SYMBOLS: [&str; 11] = [
    "PyArg_ParseTuple",
    "PyErr_Format",
    "PyErr_SetString",
    "PyExc_RuntimeError",
    "PyList_Append",
    "PyList_New",
    "PyModule_Create2",
    "Py_BuildValue",
    "_Py_FalseStruct",
    "_Py_NoneStruct",
    "_Py_TrueStruct",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for symbol in PYTHON_SYMBOLS {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={symbol}");
    }
}
