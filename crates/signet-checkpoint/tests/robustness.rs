//! Robustness: every truncation and random corruption of real checkpoints is refused without a
//! panic; the scan calls clean files data only and fails only on files that are not
//! checkpoints; the allow-listed reconstructions read as plain values.

use proptest::prelude::*;
use signet_checkpoint::{read, scan, CheckpointError, Limits, Value, Verdict};

use crate::builder::{torch_zip, P};
use crate::fixtures::fixture;

const FIXTURES: &[&str] = &[
    "hifigan_tiny_zip.pth",
    "hifigan_tiny_legacy.pth",
    "tensors_zip.pth",
    "tensors_legacy.pth",
];

#[test]
fn every_truncation_of_a_checkpoint_is_refused() {
    for file in ["tensors_zip.pth", "tensors_legacy.pth"] {
        let bytes = fixture(file);
        assert!(read(&bytes, &Limits::default()).is_ok());
        for len in 0..bytes.len() {
            assert!(
                read(&bytes[..len], &Limits::default()).is_err(),
                "{file} cut at {len} of {} was accepted",
                bytes.len()
            );
            let _ = scan(&bytes[..len], &Limits::default());
        }
    }
}

#[test]
fn clean_fixtures_scan_as_data_only() {
    for file in FIXTURES {
        let report = scan(&fixture(file), &Limits::default()).unwrap();
        assert_eq!(report.verdict, Verdict::DataOnly, "{file}: {report:?}");
        assert_eq!(report.refused, None, "{file}");
        assert!(report.globals.iter().all(|g| g.allowed), "{file}");
        assert!(
            report
                .calls
                .iter()
                .any(|c| c.callable == "torch._utils._rebuild_tensor_v2"),
            "{file}"
        );
        assert!(!report.tensors.is_empty(), "{file}");
    }
    let report = scan(&fixture("hifigan_tiny_zip.pth"), &Limits::default()).unwrap();
    assert_eq!(report.format, "zip");
    assert!(report.tensors.iter().any(|t| t.name
        == "model/conv_pre.parametrizations.weight.original1"
        && t.shape == [16, 10, 7]));
    assert!(report
        .tensors
        .iter()
        .any(|t| t.name.starts_with("optimizer/0/state/")));
}

#[test]
fn scan_fails_only_on_files_that_are_not_checkpoints() {
    for bytes in [
        &b""[..],
        b"RIFF\x00\x00\x00\x00WAVE",
        b"hello world",
        b"\x00\x01\x02",
    ] {
        match scan(bytes, &Limits::default()) {
            Err(CheckpointError::NotACheckpoint { .. }) => {}
            other => panic!("{bytes:?}: {other:?}"),
        }
        assert!(matches!(
            read(bytes, &Limits::default()),
            Err(CheckpointError::NotACheckpoint { .. })
        ));
    }
}

#[test]
fn numpy_scalars_codecs_sets_and_defaultdicts_read_as_plain_values() {
    // {'lr': numpy.float64(0.5), 'n': numpy.int64(-3), 'seen': {1, 2},
    //  'counts': defaultdict(int), 'raw': _codecs.encode('\xff', 'latin1')}
    let dtype = |p: P, code: &str| {
        p.global("numpy", "dtype")
            .str(code)
            .newfalse()
            .op(0x88)
            .op(0x87)
            .reduce()
            .mark()
            .int(3)
            .str("<")
            .none()
            .none()
            .none()
            .int(-1)
            .int(-1)
            .int(0)
            .tuple()
            .build()
    };
    let codecs = |p: P, s: &str| {
        p.global("_codecs", "encode")
            .str(s)
            .str("latin1")
            .tuple2()
            .reduce()
    };
    let mut p = P::new()
        .empty_dict()
        .mark()
        .str("lr")
        .global("numpy.core.multiarray", "scalar");
    p = dtype(p, "f8");
    p = codecs(p, "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{e0}?")
        .tuple2()
        .reduce();
    p = p.str("n").global("numpy._core.multiarray", "scalar");
    p = dtype(p, "i8");
    p = codecs(p, "\u{fd}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}")
        .tuple2()
        .reduce();
    p = p
        .str("seen")
        .global("builtins", "set")
        .mark()
        .int(1)
        .int(2)
        .op(b'l')
        .tuple1()
        .reduce();
    p = p
        .str("counts")
        .global("collections", "defaultdict")
        .global("builtins", "int")
        .tuple1()
        .reduce();
    p = codecs(p.str("raw"), "\u{ff}");
    let bytes = torch_zip(&p.setitems().stop(), &[]);
    let ck = read(&bytes, &Limits::default()).unwrap();
    let root = ck.root();
    assert_eq!(root.get("lr"), Some(&Value::Float(0.5)));
    assert_eq!(root.get("n"), Some(&Value::Int(-3)));
    assert_eq!(
        root.get("seen"),
        Some(&Value::Set(vec![Value::Int(1), Value::Int(2)]))
    );
    assert_eq!(root.get("counts"), Some(&Value::Dict(vec![])));
    assert_eq!(root.get("raw"), Some(&Value::Bytes(vec![0xff])));
    assert_eq!(
        scan(&bytes, &Limits::default()).unwrap().verdict,
        Verdict::DataOnly
    );
}

#[test]
fn a_defaultdict_factory_that_is_code_is_refused() {
    let bytes = torch_zip(
        &P::new()
            .global("collections", "defaultdict")
            .global("builtins", "eval")
            .tuple1()
            .reduce()
            .stop(),
        &[],
    );
    match read(&bytes, &Limits::default()) {
        Err(CheckpointError::ForbiddenGlobal { module, name, .. }) => {
            assert_eq!((module.as_str(), name.as_str()), ("builtins", "eval"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_builtin_type_may_not_be_called_except_set() {
    let bytes = torch_zip(
        &P::new()
            .global("builtins", "list")
            .empty_tuple()
            .reduce()
            .stop(),
        &[],
    );
    let err = read(&bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, CheckpointError::ForbiddenCall { .. }),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn corrupted_checkpoints_never_panic(
        file in 0..FIXTURES.len(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = fixture(FIXTURES[file]);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = read(&bytes, &Limits::default());
        let _ = scan(&bytes, &Limits::default());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read(&bytes, &Limits::default());
        let _ = scan(&bytes, &Limits::default());
        let mut pickled = vec![0x80, 2];
        pickled.extend_from_slice(&bytes);
        let _ = read(&pickled, &Limits::default());
        let _ = scan(&pickled, &Limits::default());
    }
}
