//! `signet scan`: clean checkpoints written by torch are data only; each malicious pickle is
//! reported with the callable it would run (and the command still succeeds, since reporting is
//! its job); a file that is not a checkpoint fails in one line. No payload runs: each would
//! create a canary file, which must not exist afterwards.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::e2e::{assert_clean_failure, signet};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signet-checkpoint/tests/data/fixtures")
        .join(name)
}

fn scan(file: &Path, json: bool) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    let mut cmd = signet();
    cmd.arg("--home").arg(home.path()).arg("scan").arg(file);
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("run signet scan")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "signet scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 report")
}

#[test]
fn scan_says_data_only_for_checkpoints_torch_wrote() {
    for name in [
        "hifigan_tiny_zip.pth",
        "hifigan_tiny_legacy.pth",
        "tensors_zip.pth",
        "tensors_legacy.pth",
    ] {
        let text = stdout(&scan(&fixture(name), false));
        assert!(text.contains("verdict:   data only"), "{name}: {text}");
        assert!(
            text.contains("signet:    reads it as data"),
            "{name}: {text}"
        );
        assert!(!text.contains("CODE"), "{name}: {text}");
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&scan(&fixture(name), true))).expect("JSON report");
        assert_eq!(json["verdict"]["kind"], "data-only", "{name}");
        assert!(
            json["tensors"].as_array().is_some_and(|t| !t.is_empty()),
            "{name}"
        );
    }
    let text = stdout(&scan(&fixture("hifigan_tiny_zip.pth"), false));
    assert!(
        text.contains("model/conv_pre.parametrizations.weight.original1 F32 [16, 10, 7]"),
        "{text}"
    );
    assert!(text.contains("optimizer: "), "{text}");
    assert!(text.contains("training state, not read"), "{text}");
}

/// A bare pickle calling `module.name(arg)` through GLOBAL (protocol 2).
fn global_call(module: &str, name: &str, arg: &str) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'c'];
    p.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
    p.push(b'X');
    p.extend_from_slice(&(arg.len() as u32).to_le_bytes());
    p.extend_from_slice(arg.as_bytes());
    p.extend_from_slice(&[0x85, b'R', b'.']);
    p
}

/// The same through STACK_GLOBAL (protocol 4).
fn stack_global_call(module: &str, name: &str, arg: &str) -> Vec<u8> {
    let mut p = vec![0x80, 4];
    for s in [module, name, arg] {
        p.push(0x8c);
        p.push(s.len() as u8);
        p.extend_from_slice(s.as_bytes());
        if s == name {
            p.push(0x93);
        }
    }
    p.extend_from_slice(&[0x85, b'R', b'.']);
    p
}

#[test]
fn scan_names_the_callable_of_each_malicious_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let canary = dir.path().join("ran");
    let shell = format!("touch {}", canary.display());
    let python = format!("open({:?}, 'w').close()", canary.display().to_string());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "os_system",
            global_call("os", "system", &shell),
            "os.system",
        ),
        (
            "posix_system",
            stack_global_call("posix", "system", &shell),
            "posix.system",
        ),
        (
            "eval",
            global_call("builtins", "eval", &python),
            "builtins.eval",
        ),
        (
            "exec",
            stack_global_call("builtins", "exec", &python),
            "builtins.exec",
        ),
        (
            "popen",
            global_call("subprocess", "Popen", &shell),
            "subprocess.Popen",
        ),
        (
            "torch_load",
            global_call("torch", "load", "/tmp/x.pth"),
            "torch.load",
        ),
        (
            "inst",
            {
                let mut p = b"(X".to_vec();
                p.extend_from_slice(&(shell.len() as u32).to_le_bytes());
                p.extend_from_slice(shell.as_bytes());
                p.extend_from_slice(b"ios\nsystem\n.");
                p
            },
            "os.system",
        ),
    ];
    for (name, bytes, callable) in cases {
        let file = dir.path().join(format!("{name}.pth"));
        std::fs::write(&file, &bytes).expect("write case");
        let text = stdout(&scan(&file, false));
        assert!(text.contains("WOULD RUN CODE"), "{name}: {text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("verdict:") && l.contains(callable)),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("CODE  {callable}")),
            "{name}: {text}"
        );
        assert!(text.contains("signet:    refuses it"), "{name}: {text}");
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&scan(&file, true))).expect("JSON report");
        assert_eq!(json["verdict"]["kind"], "would-run-code", "{name}");
        assert!(
            json["verdict"]["callables"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c.as_str() == Some(callable))),
            "{name}: {json}"
        );
        assert!(!canary.exists(), "{name}: the payload ran");
    }
}

#[test]
fn scan_fails_in_one_line_on_a_file_that_is_not_a_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "hello, this is text\n").expect("write");
    let out = scan(&file, false);
    assert_clean_failure(&out, "not a PyTorch checkpoint");
    let missing = scan(&dir.path().join("missing.pth"), false);
    assert_clean_failure(&missing, "cannot open");
}

#[test]
fn scan_escapes_control_characters_from_the_file() {
    // A global whose name carries an escape sequence must not reach the terminal raw.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("esc.pth");
    std::fs::write(&file, global_call("os\u{1b}[2J", "system", "true")).expect("write");
    let text = stdout(&scan(&file, false));
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("os\\x1b[2J.system"), "{text}");
}
