//! The malicious-checkpoint corpus: each case is a file that would run code, or break a bound,
//! under a pickle-based loader. Each test asserts that the reader refuses it with its reason,
//! that `scan` names what it would call, and that the canary the payload would create does not
//! exist.

use signet_checkpoint::{read, scan, CheckpointError, Limits, Verdict};

use crate::builder::{
    f32_bytes, legacy, state_dict, torch_entries, torch_zip, zip, Canary, ZipEntry, P,
};

/// Reads `bytes`, expecting a refusal, and scans it; the canary must be untouched after both.
fn refuse(bytes: &[u8], canary: &Canary) -> CheckpointError {
    refuse_with(bytes, canary, &Limits::default())
}

fn refuse_with(bytes: &[u8], canary: &Canary, limits: &Limits) -> CheckpointError {
    let err = match read(bytes, limits) {
        Ok(_) => panic!("a malicious file was accepted"),
        Err(e) => e,
    };
    // The scan never fails on a checkpoint-shaped file, hostile or not.
    let report = scan(bytes, limits).expect("scan reports, it does not fail");
    assert!(
        report.refused.is_some(),
        "the scan must say the reader refuses it"
    );
    canary.assert_untouched();
    err
}

fn assert_global(err: &CheckpointError, module: &str, name: &str) {
    match err {
        CheckpointError::ForbiddenGlobal {
            module: m, name: n, ..
        } => {
            assert_eq!((m.as_str(), n.as_str()), (module, name), "{err}");
        }
        other => panic!("expected the global {module}.{name} to be refused, got: {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&format!("{module}.{name}")), "{msg}");
}

fn assert_call(err: &CheckpointError, opcode: &str, callable: &str) {
    match err {
        CheckpointError::ForbiddenCall {
            opcode: o,
            callable: c,
            ..
        } => {
            assert_eq!(*o, opcode, "{err}");
            assert!(c.contains(callable), "{err}");
        }
        other => panic!("expected a refused {opcode} of {callable}, got: {other}"),
    }
}

fn assert_limit(err: &CheckpointError, field: &str) {
    match err {
        CheckpointError::LimitExceeded { field: f, .. } => assert_eq!(*f, field, "{err}"),
        other => panic!("expected the limit {field}, got: {other}"),
    }
    assert!(err.to_string().contains(field));
}

/// The scan's verdict names `callable` among what would run.
fn assert_scan_names(bytes: &[u8], callable: &str) {
    let report = scan(bytes, &Limits::default()).unwrap();
    match &report.verdict {
        Verdict::WouldRunCode { callables } => assert!(
            callables.iter().any(|c| c.contains(callable)),
            "{callable} not in {callables:?}"
        ),
        other => panic!("the scan of a file calling {callable} says {other:?}"),
    }
}

/// A zip checkpoint whose `data.pkl` is `pickle`.
fn in_zip(pickle: Vec<u8>) -> Vec<u8> {
    torch_zip(&pickle, &[])
}

/// A call `module.name(<shell command>)` through GLOBAL, in a zip checkpoint.
fn global_call_case(module: &str, name: &str, canary: &Canary) {
    let bytes = in_zip(P::new().call1(module, name, &canary.shell()).stop());
    let err = refuse(&bytes, canary);
    assert_global(&err, module, name);
    assert_scan_names(&bytes, &format!("{module}.{name}"));
}

/// The same through STACK_GLOBAL, as a bare pickle stream (a `.pth` that is one pickle).
fn stack_global_call_case(module: &str, name: &str, canary: &Canary) {
    let bytes = P::new().stack_call1(module, name, &canary.shell()).stop();
    let err = refuse(&bytes, canary);
    assert_global(&err, module, name);
    assert_scan_names(&bytes, &format!("{module}.{name}"));
}

// --- Code execution through GLOBAL -------------------------------------------------------------

#[test]
fn os_system_via_global() {
    global_call_case("os", "system", &Canary::new());
}

#[test]
fn posix_system_via_global() {
    global_call_case("posix", "system", &Canary::new());
}

#[test]
fn subprocess_popen_via_global() {
    let canary = Canary::new();
    let argv = P::new()
        .global("subprocess", "Popen")
        .mark()
        .str("touch")
        .str(&canary.path.display().to_string())
        .op(b'l')
        .tuple1()
        .reduce()
        .stop();
    let bytes = in_zip(argv);
    assert_global(&refuse(&bytes, &canary), "subprocess", "Popen");
    assert_scan_names(&bytes, "subprocess.Popen");
}

#[test]
fn builtins_eval_via_global() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().call1("builtins", "eval", &canary.python()).stop());
    assert_global(&refuse(&bytes, &canary), "builtins", "eval");
    assert_scan_names(&bytes, "builtins.eval");
}

#[test]
fn builtins_exec_via_global() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().call1("builtins", "exec", &canary.python()).stop());
    assert_global(&refuse(&bytes, &canary), "builtins", "exec");
    assert_scan_names(&bytes, "builtins.exec");
}

#[test]
fn python2_builtin_eval_via_global() {
    // pickle maps `__builtin__` to `builtins` when loading; Signet never maps names.
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .call1("__builtin__", "eval", &canary.python())
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "__builtin__", "eval");
    assert_scan_names(&bytes, "__builtin__.eval");
}

/// `getattr(import_module('os'), 'system')(cmd)`: a `__reduce__` chain through two calls.
fn getattr_chain(p: P, stack: bool, canary: &Canary) -> Vec<u8> {
    let g = |p: P, m: &str, n: &str| {
        if stack {
            p.stack_global(m, n)
        } else {
            p.global(m, n)
        }
    };
    let p = g(p, "builtins", "getattr");
    let p = g(p, "importlib", "import_module")
        .str("os")
        .tuple1()
        .reduce();
    p.str("system")
        .tuple2()
        .reduce()
        .str(&canary.shell())
        .tuple1()
        .reduce()
        .stop()
}

#[test]
fn builtins_getattr_via_global() {
    let canary = Canary::new();
    let bytes = in_zip(getattr_chain(P::new(), false, &canary));
    assert_global(&refuse(&bytes, &canary), "builtins", "getattr");
    assert_scan_names(&bytes, "builtins.getattr");
    assert_scan_names(&bytes, "importlib.import_module");
}

#[test]
fn importlib_import_module_via_global() {
    global_call_case("importlib", "import_module", &Canary::new());
}

#[test]
fn runpy_run_path_via_global() {
    global_call_case("runpy", "run_path", &Canary::new());
}

// --- The same through STACK_GLOBAL (protocol 4 style) ------------------------------------------

#[test]
fn os_system_via_stack_global() {
    stack_global_call_case("os", "system", &Canary::new());
}

#[test]
fn posix_system_via_stack_global() {
    stack_global_call_case("posix", "system", &Canary::new());
}

#[test]
fn subprocess_popen_via_stack_global() {
    stack_global_call_case("subprocess", "Popen", &Canary::new());
}

#[test]
fn builtins_eval_via_stack_global() {
    let canary = Canary::new();
    let bytes = P::new()
        .stack_call1("builtins", "eval", &canary.python())
        .stop();
    assert_global(&refuse(&bytes, &canary), "builtins", "eval");
    assert_scan_names(&bytes, "builtins.eval");
}

#[test]
fn builtins_exec_via_stack_global() {
    let canary = Canary::new();
    let bytes = P::new()
        .stack_call1("builtins", "exec", &canary.python())
        .stop();
    assert_global(&refuse(&bytes, &canary), "builtins", "exec");
    assert_scan_names(&bytes, "builtins.exec");
}

#[test]
fn builtins_getattr_via_stack_global() {
    let canary = Canary::new();
    let bytes = getattr_chain(P::new().raw(&[0x80, 4]), true, &canary);
    assert_global(&refuse(&bytes, &canary), "builtins", "getattr");
    assert_scan_names(&bytes, "builtins.getattr");
}

#[test]
fn importlib_import_module_via_stack_global() {
    stack_global_call_case("importlib", "import_module", &Canary::new());
}

#[test]
fn runpy_run_code_via_stack_global() {
    let canary = Canary::new();
    let bytes = P::new()
        .stack_global("runpy", "_run_code")
        .str(&canary.python())
        .empty_dict()
        .tuple2()
        .reduce()
        .stop();
    assert_global(&refuse(&bytes, &canary), "runpy", "_run_code");
    assert_scan_names(&bytes, "runpy._run_code");
}

// --- __reduce__ chains, BUILD, INST, OBJ, NEWOBJ, EXT ------------------------------------------

#[test]
fn reduce_chain_hidden_in_a_tensor_argument() {
    // A tensor whose storage argument is the result of os.system: a loader calls os.system
    // while rebuilding the "weights".
    let canary = Canary::new();
    let pickle = P::new()
        .ordered_dict()
        .str("w")
        .global("torch._utils", "_rebuild_tensor_v2")
        .mark()
        .call1("os", "system", &canary.shell())
        .int(0)
        .mark()
        .int(1)
        .tuple()
        .mark()
        .int(1)
        .tuple()
        .newfalse()
        .ordered_dict()
        .tuple()
        .reduce()
        .setitem()
        .stop();
    let bytes = in_zip(pickle);
    assert_global(&refuse(&bytes, &canary), "os", "system");
    assert_scan_names(&bytes, "os.system");
}

#[test]
fn reduce_on_the_result_of_an_allowed_call_is_refused() {
    // OrderedDict() is data; calling the dict it returns is not.
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .ordered_dict()
            .str(&canary.shell())
            .tuple1()
            .reduce()
            .stop(),
    );
    let err = refuse(&bytes, &canary);
    assert!(
        matches!(err, CheckpointError::MalformedPickle { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("not callable"), "{err}");
}

#[test]
fn build_setting_attributes_on_a_state_dict() {
    // BUILD with state {'__class__': ...} would set attributes on the OrderedDict.
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .ordered_dict()
            .empty_dict()
            .str("__setstate__")
            .str(&canary.python())
            .setitem()
            .build()
            .stop(),
    );
    let err = refuse(&bytes, &canary);
    assert_call(&err, "BUILD", "dict.__setstate__");
    assert_scan_names(&bytes, "dict.__setstate__");
}

#[test]
fn build_on_a_tensor_is_refused() {
    let canary = Canary::new();
    let pickle = P::new()
        .tensor("FloatStorage", "0", 1, 0, &[1], &[1])
        .empty_dict()
        .str("grad")
        .none()
        .setitem()
        .build()
        .stop();
    let bytes = torch_zip(&pickle, &[("0", f32_bytes(1))]);
    assert_call(&refuse(&bytes, &canary), "BUILD", "tensor.__setstate__");
}

#[test]
fn inst_opcode() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::proto0()
            .mark()
            .str(&canary.shell())
            .op(b'i')
            .raw(b"os\nsystem\n")
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "os", "system");
    assert_scan_names(&bytes, "os.system");
}

#[test]
fn inst_of_an_allowed_class_is_still_refused() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .mark()
            .op(b'i')
            .raw(b"collections\nOrderedDict\n")
            .stop(),
    );
    assert_call(&refuse(&bytes, &canary), "INST", "collections.OrderedDict");
}

#[test]
fn obj_opcode() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .mark()
            .global("os", "system")
            .str(&canary.shell())
            .op(b'o')
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "os", "system");
    assert_scan_names(&bytes, "os.system");
}

#[test]
fn newobj_on_a_forbidden_class() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("subprocess", "Popen")
            .str(&canary.shell())
            .tuple1()
            .op(0x81)
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "subprocess", "Popen");
    assert_scan_names(&bytes, "subprocess.Popen");
}

#[test]
fn newobj_ex_is_always_refused() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("collections", "OrderedDict")
            .empty_tuple()
            .empty_dict()
            .op(0x92)
            .stop(),
    );
    assert_call(
        &refuse(&bytes, &canary),
        "NEWOBJ_EX",
        "collections.OrderedDict",
    );
}

#[test]
fn extension_registry_lookup() {
    // EXT1 looks a class up in copyreg's extension registry: code by number.
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .op(0x82)
            .raw(&[1])
            .str(&canary.shell())
            .tuple1()
            .reduce()
            .stop(),
    );
    assert_call(
        &refuse(&bytes, &canary),
        "EXT1",
        "extension registry code 1",
    );
}

#[test]
fn persistent_id_that_is_not_a_storage() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().str(&canary.shell()).op(b'Q').stop());
    assert_call(&refuse(&bytes, &canary), "BINPERSID", "persistent_load");
}

#[test]
fn tensor_with_backward_hooks() {
    let canary = Canary::new();
    let pickle = P::new()
        .global("torch._utils", "_rebuild_tensor_v2")
        .mark()
        .storage("FloatStorage", "0", 1)
        .int(0)
        .mark()
        .int(1)
        .tuple()
        .mark()
        .int(1)
        .tuple()
        .newfalse()
        .empty_dict()
        .int(0)
        .str(&canary.python())
        .setitem()
        .tuple()
        .reduce()
        .stop();
    let err = refuse(&torch_zip(&pickle, &[("0", f32_bytes(1))]), &canary);
    assert!(err.to_string().contains("backward hooks"), "{err}");
}

// --- Protocol 0 text globals with odd whitespace ------------------------------------------------

#[test]
fn text_global_with_carriage_returns() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::proto0()
            .raw(b"cos\r\nsystem\r\n")
            .raw(format!("(S'{}'\ntR.", canary.shell()).as_bytes())
            .0,
    );
    let err = refuse(&bytes, &canary);
    assert_global(&err, "os\\x0d", "system\\x0d");
    assert_scan_names(&bytes, "os\\x0d.system\\x0d");
}

#[test]
fn text_global_with_a_trailing_space_on_an_allowed_name() {
    // Not trimmed into `collections.OrderedDict`: exact names only.
    let canary = Canary::new();
    let bytes = in_zip(P::proto0().raw(b"ccollections \nOrderedDict\n)R.").0);
    assert_global(&refuse(&bytes, &canary), "collections ", "OrderedDict");
}

#[test]
fn text_global_with_a_tab_before_an_allowed_name() {
    let canary = Canary::new();
    let bytes = in_zip(P::proto0().raw(b"ctorch._utils\n\t_rebuild_tensor_v2\n.").0);
    assert_global(
        &refuse(&bytes, &canary),
        "torch._utils",
        "\\x09_rebuild_tensor_v2",
    );
}

#[test]
fn dotted_attribute_path_through_an_allowed_module() {
    // Protocol 4 resolves dotted names attribute by attribute: torch.serialization.os.system.
    let canary = Canary::new();
    let bytes = P::new()
        .stack_call1("torch", "serialization.os.system", &canary.shell())
        .stop();
    assert_global(&refuse(&bytes, &canary), "torch", "serialization.os.system");
    assert_scan_names(&bytes, "torch.serialization.os.system");
}

// --- Known scanner bypasses --------------------------------------------------------------------

#[test]
fn call_hidden_in_another_zip_entry() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries.push(ZipEntry::new(
        "archive/extra.pkl",
        &P::new().call1("os", "system", &canary.shell()).stop(),
    ));
    let bytes = zip(&entries);
    let err = refuse(&bytes, &canary);
    assert!(
        err.to_string()
            .contains("unexpected entry archive/extra.pkl"),
        "{err}"
    );
    assert_scan_names(&bytes, "os.system");
}

#[test]
fn second_data_pkl_under_another_top_folder() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries.push(ZipEntry::new(
        "other/data.pkl",
        &P::new().call1("os", "system", &canary.shell()).stop(),
    ));
    let bytes = zip(&entries);
    let err = refuse(&bytes, &canary);
    assert!(
        err.to_string().contains("more than one top folder"),
        "{err}"
    );
    assert_scan_names(&bytes, "os.system");
}

#[test]
fn pickle_hidden_as_an_unused_storage_entry() {
    let canary = Canary::new();
    let payload = P::new().call1("os", "system", &canary.shell()).stop();
    let bytes = torch_zip(&P::new().empty_dict().stop(), &[("7", payload)]);
    let err = refuse(&bytes, &canary);
    assert!(
        err.to_string()
            .contains("data/7 is not a storage the pickle uses"),
        "{err}"
    );
    assert_scan_names(&bytes, "os.system");
}

#[test]
fn pip_main() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("pip", "main")
            .mark()
            .str("install")
            .str("--target")
            .str(&canary.path.display().to_string())
            .str("attacker-package")
            .op(b'l')
            .tuple1()
            .reduce()
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "pip", "main");
    assert_scan_names(&bytes, "pip.main");
}

#[test]
fn asyncio_subprocess_shell() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("asyncio", "run")
            .call1("asyncio", "create_subprocess_shell", &canary.shell())
            .tuple1()
            .reduce()
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "asyncio", "run");
    assert_scan_names(&bytes, "asyncio.create_subprocess_shell");
}

#[test]
fn pydoc_pipepager() {
    // pydoc.pipepager(text, cmd) runs cmd in a shell.
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("pydoc", "pipepager")
            .str("x")
            .str(&canary.shell())
            .tuple2()
            .reduce()
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "pydoc", "pipepager");
    assert_scan_names(&bytes, "pydoc.pipepager");
}

#[test]
fn pydoc_locate_chain() {
    // pydoc.locate('os.system') returns os.system without naming it in a global.
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .call1("pydoc", "locate", "os.system")
            .str(&canary.shell())
            .tuple1()
            .reduce()
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "pydoc", "locate");
    assert_scan_names(&bytes, "pydoc.locate(...)");
}

#[test]
fn torch_load_callable() {
    let canary = Canary::new();
    global_call_case("torch", "load", &canary);
}

#[test]
fn torch_hub_load_callable() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("torch.hub", "load")
            .str("attacker/repo")
            .str("model")
            .tuple2()
            .reduce()
            .stop(),
    );
    assert_global(&refuse(&bytes, &canary), "torch.hub", "load");
    assert_scan_names(&bytes, "torch.hub.load");
}

#[test]
fn torch_utils_member_other_than_the_allowed_ones() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .call1("torch._utils", "_import_dotted_name", "os.system")
            .stop(),
    );
    assert_global(
        &refuse(&bytes, &canary),
        "torch._utils",
        "_import_dotted_name",
    );
    assert_scan_names(&bytes, "torch._utils._import_dotted_name");
}

#[test]
fn torch_rebuild_parameter_with_state_is_not_allowed() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("torch._utils", "_rebuild_parameter_with_state")
            .stop(),
    );
    assert_global(
        &refuse(&bytes, &canary),
        "torch._utils",
        "_rebuild_parameter_with_state",
    );
}

#[test]
fn storage_class_called_directly() {
    // Storage classes are allowed inside persistent ids only.
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .global("torch", "FloatStorage")
            .int(4)
            .tuple1()
            .reduce()
            .stop(),
    );
    let err = refuse(&bytes, &canary);
    assert_call(&err, "REDUCE", "torch storage class");
}

#[test]
fn forbidden_global_in_the_legacy_sys_info() {
    let canary = Canary::new();
    let mut bytes = P::new()
        .op(0x8a)
        .raw(&[
            10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
        ])
        .stop();
    bytes.extend(P::new().op(b'M').raw(&1001u16.to_le_bytes()).stop());
    bytes.extend(P::new().call1("os", "system", &canary.shell()).stop());
    assert_global(&refuse(&bytes, &canary), "os", "system");
    assert_scan_names(&bytes, "os.system");
}

#[test]
fn forbidden_global_in_the_legacy_object() {
    let canary = Canary::new();
    let object = P::new().call1("builtins", "exec", &canary.python()).stop();
    let bytes = legacy(&object, &[]);
    assert_global(&refuse(&bytes, &canary), "builtins", "exec");
    assert_scan_names(&bytes, "builtins.exec");
}

// --- Memo and stack abuse ----------------------------------------------------------------------

fn small_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_memo = 100;
    limits.max_stack = 100;
    limits.max_values = 1000;
    limits.max_depth = 20;
    limits
}

#[test]
fn memo_flood() {
    let canary = Canary::new();
    let mut p = P::new().none();
    for i in 0..200u32 {
        p = p.op(b'r').raw(&i.to_le_bytes());
    }
    let bytes = in_zip(p.stop());
    assert_limit(&refuse_with(&bytes, &canary, &small_limits()), "max_memo");
}

#[test]
fn memo_read_of_a_key_never_stored() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().binget(7).stop());
    let err = refuse(&bytes, &canary);
    assert!(
        err.to_string().contains("memo key 7 was never stored"),
        "{err}"
    );
}

#[test]
fn stack_flood() {
    let canary = Canary::new();
    let mut p = P::new();
    for _ in 0..200 {
        p = p.none();
    }
    let bytes = in_zip(p.stop());
    assert_limit(&refuse_with(&bytes, &canary, &small_limits()), "max_stack");
}

#[test]
fn mark_flood() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().raw(&[b'('; 200]).none().stop());
    assert_limit(&refuse_with(&bytes, &canary, &small_limits()), "max_stack");
}

#[test]
fn stack_underflow_below_a_mark() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().none().mark().append().stop());
    let err = refuse(&bytes, &canary);
    assert!(err.to_string().contains("stack underflow"), "{err}");
}

#[test]
fn billion_laughs_through_the_memo() {
    // Each level is a list holding the previous one ten times: 10^6 values from ~100 bytes.
    let canary = Canary::new();
    let mut p = P::new().empty_list().binput(0);
    for level in 1..=6u8 {
        p = p.empty_list().mark();
        for _ in 0..10 {
            p = p.binget(level - 1);
        }
        p = p.op(b'e').binput(level);
    }
    let bytes = in_zip(p.stop());
    assert_limit(&refuse_with(&bytes, &canary, &small_limits()), "max_values");
}

#[test]
fn list_that_contains_itself() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().empty_list().binput(0).binget(0).append().stop());
    assert_limit(&refuse(&bytes, &canary), "max_depth");
}

#[test]
fn nesting_deeper_than_the_limit() {
    let canary = Canary::new();
    let mut p = P::new();
    for _ in 0..30 {
        p = p.empty_list();
    }
    for _ in 0..29 {
        p = p.append();
    }
    let bytes = in_zip(p.stop());
    assert_limit(&refuse_with(&bytes, &canary, &small_limits()), "max_depth");
}

// --- Lengths declared in gigabytes -------------------------------------------------------------

#[test]
fn binbytes8_declaring_a_terabyte() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().op(0x8e).raw(&(1u64 << 40).to_le_bytes()).stop());
    assert_limit(&refuse(&bytes, &canary), "max_string_bytes");
}

#[test]
fn binbytes_declaring_four_gigabytes() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().op(b'B').raw(&u32::MAX.to_le_bytes()).stop());
    assert_limit(&refuse(&bytes, &canary), "max_string_bytes");
}

#[test]
fn binunicode8_declaring_more_than_the_file_holds() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .op(0x8d)
            .raw(&1000u64.to_le_bytes())
            .raw(b"abc")
            .stop(),
    );
    let err = refuse(&bytes, &canary);
    assert!(
        err.to_string().contains("declares 1000 bytes but only"),
        "{err}"
    );
}

#[test]
fn long4_declaring_two_gigabytes() {
    let canary = Canary::new();
    let bytes = in_zip(P::new().op(0x8b).raw(&i32::MAX.to_le_bytes()).stop());
    assert_limit(&refuse(&bytes, &canary), "max_long_bytes");
}

#[test]
fn frame_declaring_more_than_the_file_holds() {
    let canary = Canary::new();
    let bytes = in_zip(
        P::new()
            .op(0x95)
            .raw(&(1u64 << 33).to_le_bytes())
            .none()
            .stop(),
    );
    let err = refuse(&bytes, &canary);
    assert!(err.to_string().contains("a frame declares"), "{err}");
}

// --- Zip tricks --------------------------------------------------------------------------------

#[test]
fn zip_bomb_deflated_entry() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries[0].method = 8;
    let err = refuse(&zip(&entries), &canary);
    assert!(err.to_string().contains("compressed (method 8)"), "{err}");
}

#[test]
fn zip_bomb_overlapping_entries() {
    // Many central records pointing at one local header: the "overlapping files" zip bomb.
    let canary = Canary::new();
    let mut entries = torch_entries(&state_dict(&[("w", "0", &[2])]), &[("0", f32_bytes(2))]);
    let mut alias = ZipEntry::new("archive/data/1", &f32_bytes(2));
    alias.local_of = Some(2);
    entries.push(alias);
    let err = refuse(&zip(&entries), &canary);
    assert!(
        err.to_string().contains("local header disagrees") || err.to_string().contains("overlap"),
        "{err}"
    );
}

#[test]
fn zip_entry_declaring_more_than_the_file_holds() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries[1].declared_size = Some(u32::MAX - 1);
    let err = refuse(&zip(&entries), &canary);
    assert!(matches!(err, CheckpointError::BadArchive { .. }), "{err}");
}

#[test]
fn zip_duplicate_entry_names() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries.push(ZipEntry::new(
        "archive/data.pkl",
        &P::new().call1("os", "system", &canary.shell()).stop(),
    ));
    let err = refuse(&zip(&entries), &canary);
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn zip_parent_directory_entry_name() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries.push(ZipEntry::new(
        "archive/../../etc/cron.d/x",
        b"* * * * * root id",
    ));
    let err = refuse(&zip(&entries), &canary);
    assert!(err.to_string().contains("`..` component"), "{err}");
}

#[test]
fn zip_absolute_entry_name() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries.push(ZipEntry::new("/archive/version", b"3"));
    let err = refuse(&zip(&entries), &canary);
    assert!(err.to_string().contains("absolute path"), "{err}");
}

#[test]
fn zip_declaring_more_entries_than_its_directory_holds() {
    let canary = Canary::new();
    let mut bytes = torch_zip(&P::new().empty_dict().stop(), &[]);
    let n = bytes.len();
    bytes[n - 12..n - 10].copy_from_slice(&0xFFFEu16.to_le_bytes());
    bytes[n - 14..n - 12].copy_from_slice(&0xFFFEu16.to_le_bytes());
    let err = refuse(&bytes, &canary);
    assert!(matches!(err, CheckpointError::BadArchive { .. }), "{err}");
}

#[test]
fn torchscript_archive_is_refused() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries.push(ZipEntry::new(
        "archive/code/__torch__.py",
        b"import os\nos.system('x')\n",
    ));
    let err = refuse(&zip(&entries), &canary);
    assert!(err.to_string().contains("TorchScript"), "{err}");
}

// --- Tensors that lie about their storage ------------------------------------------------------

#[test]
fn storage_shorter_than_its_tensor() {
    let canary = Canary::new();
    let pickle = P::new()
        .ordered_dict()
        .str("w")
        .tensor("FloatStorage", "0", 4, 0, &[2, 3], &[3, 1])
        .setitem()
        .stop();
    let err = refuse(&torch_zip(&pickle, &[("0", f32_bytes(4))]), &canary);
    assert!(
        err.to_string()
            .contains("reaches element 5, but its storage has 4"),
        "{err}"
    );
}

#[test]
fn storage_entry_shorter_than_declared() {
    let canary = Canary::new();
    let bytes = torch_zip(&state_dict(&[("w", "0", &[4])]), &[("0", f32_bytes(2))]);
    let err = refuse(&bytes, &canary);
    assert!(err.to_string().contains("its entry holds 8 bytes"), "{err}");
}

#[test]
fn overlapping_view_with_out_of_range_stride() {
    // Two views of one storage; the second's stride walks past the end.
    let canary = Canary::new();
    let pickle = P::new()
        .ordered_dict()
        .mark()
        .str("a")
        .tensor("FloatStorage", "0", 6, 0, &[3, 2], &[2, 1])
        .str("b")
        .tensor("FloatStorage", "0", 6, 1, &[3, 2], &[2, 3])
        .setitems()
        .stop();
    let err = refuse(&torch_zip(&pickle, &[("0", f32_bytes(6))]), &canary);
    assert!(err.to_string().contains("reaches element 8"), "{err}");
}

#[test]
fn size_times_stride_overflow() {
    let canary = Canary::new();
    let pickle = P::new()
        .tensor(
            "FloatStorage",
            "0",
            1,
            0,
            &[i32::MAX, i32::MAX, i32::MAX],
            &[i32::MAX, i32::MAX, 1],
        )
        .stop();
    let err = refuse(&torch_zip(&pickle, &[("0", f32_bytes(1))]), &canary);
    assert!(
        matches!(err, CheckpointError::MalformedPickle { .. }),
        "{err}"
    );
}

#[test]
fn negative_stride() {
    let canary = Canary::new();
    let pickle = P::new()
        .tensor("FloatStorage", "0", 4, 3, &[4], &[-1])
        .stop();
    let err = refuse(&torch_zip(&pickle, &[("0", f32_bytes(4))]), &canary);
    assert!(err.to_string().contains("negative"), "{err}");
}

#[test]
fn one_storage_declared_with_two_sizes() {
    let canary = Canary::new();
    let pickle = P::new()
        .mark()
        .tensor("FloatStorage", "0", 2, 0, &[2], &[1])
        .tensor("FloatStorage", "0", 200, 0, &[200], &[1])
        .op(b'l')
        .stop();
    let err = refuse(&torch_zip(&pickle, &[("0", f32_bytes(2))]), &canary);
    assert!(err.to_string().contains("declared twice"), "{err}");
}

#[test]
fn legacy_storage_record_with_another_count() {
    let canary = Canary::new();
    let object = state_dict(&[("w", "0", &[4])]);
    let bytes = legacy(&object, &[("0", 1 << 40, f32_bytes(4))]);
    let err = refuse(&bytes, &canary);
    assert!(
        err.to_string().contains("holds 1099511627776 elements"),
        "{err}"
    );
}

#[test]
fn legacy_stream_with_trailing_bytes() {
    let canary = Canary::new();
    let object = state_dict(&[("w", "0", &[4])]);
    let mut bytes = legacy(&object, &[("0", 4, f32_bytes(4))]);
    assert!(read(&bytes, &Limits::default()).is_ok());
    bytes.extend(P::new().call1("os", "system", &canary.shell()).stop());
    let err = refuse(&bytes, &canary);
    assert!(
        err.to_string().contains("follow the last storage record"),
        "{err}"
    );
}

#[test]
fn big_endian_archive_is_refused() {
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries[1].data = b"big".to_vec();
    let err = refuse(&zip(&entries), &canary);
    assert!(err.to_string().contains("big-endian"), "{err}");
}

#[test]
fn stride_zero_view_cannot_blow_up_a_small_file() {
    // One stored float viewed as 65536 × 65536 (16 GiB) through zero strides.
    let canary = Canary::new();
    let pickle = P::new()
        .ordered_dict()
        .str("w")
        .tensor("FloatStorage", "0", 1, 0, &[65536, 65536], &[0, 0])
        .setitem()
        .stop();
    let err = refuse(&torch_zip(&pickle, &[("0", f32_bytes(1))]), &canary);
    assert_limit(&err, "max_total_tensor_bytes");
    assert!(
        err.to_string().contains("four times the file's size"),
        "{err}"
    );
}

#[test]
fn many_distinct_globals_scan_in_linear_time() {
    // 50,000 different forbidden globals: the report's de-duplication must not be quadratic.
    let mut p = P::new().empty_list();
    for i in 0..50_000 {
        p = p.global("m", &format!("f{i}")).append();
    }
    let bytes = in_zip(p.stop());
    let started = std::time::Instant::now();
    let report = scan(&bytes, &Limits::default()).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    match report.verdict {
        Verdict::WouldRunCode { callables } => assert_eq!(callables.len(), 50_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn scan_of_an_archive_it_cannot_walk_is_not_called_data_only() {
    // Two data.pkl entries, the second calling os.system: the archive is refused before any
    // pickle is walked, so the scan cannot vouch for it.
    let canary = Canary::new();
    let mut entries = torch_entries(&P::new().empty_dict().stop(), &[]);
    entries.push(ZipEntry::new(
        "archive/data.pkl",
        &P::new().call1("os", "system", &canary.shell()).stop(),
    ));
    let bytes = zip(&entries);
    let report = scan(&bytes, &Limits::default()).unwrap();
    match &report.verdict {
        Verdict::Unknown { reason } => assert!(reason.contains("appears twice"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(report
        .refused
        .as_deref()
        .is_some_and(|r| r.contains("appears twice")));
    // A pickle cut short after plain data: what followed is unknown too.
    let cut = in_zip(P::new().empty_dict().str("a").0);
    match scan(&cut, &Limits::default()).unwrap().verdict {
        Verdict::Unknown { reason } => assert!(reason.contains("data.pkl"), "{reason}"),
        other => panic!("{other:?}"),
    }
    canary.assert_untouched();
}
