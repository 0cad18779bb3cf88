//! Drives the real binary with the real default voice and espeak-ng helper.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const VOICE: &str = "en_US-joe-medium";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn signet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_signet"))
}

/// A Signet home with the default voice imported (signed by the home's own
/// importer key, which the import creates and trusts) and the espeak-ng
/// runtime linked in, shared by every test of this binary.
pub(crate) fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let voice_dir = std::env::var_os("SIGNET_TEST_VOICE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".cache/voices").join(VOICE));
        let onnx = voice_dir.join(format!("{VOICE}.onnx"));
        assert!(
            onnx.is_file(),
            "{} is missing: run `cargo xtask setup`",
            onnx.display()
        );
        let espeak = std::env::var_os("SIGNET_ESPEAK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".cache/espeak-ng"));
        assert!(
            espeak.join("espeakbridge.so").is_file(),
            "{} has no espeak-ng runtime: run `cargo xtask setup`",
            espeak.display()
        );
        let helper = Path::new(env!("CARGO_BIN_EXE_signet")).with_file_name("signet-espeak");
        assert!(
            helper.is_file(),
            "{} is missing: run `cargo build -p signet-espeak` (cargo xtask test does)",
            helper.display()
        );

        let home = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::symlink(&espeak, home.path().join("espeak-ng")).expect("link espeak-ng");
        let out = signet()
            .arg("--home")
            .arg(home.path())
            .args(["voices", "import", "piper", "--name", VOICE])
            .arg(&onnx)
            .output()
            .expect("run signet");
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verified = signet()
            .arg("--home")
            .arg(home.path())
            .args(["voices", "verify", VOICE])
            .output()
            .expect("run signet");
        assert!(
            verified.status.success(),
            "the imported voice does not verify against the home's trust store: {}",
            String::from_utf8_lossy(&verified.stderr)
        );
        home
    })
    .path()
}

/// Stands for "a scratch output file" in argument lists: `run` swaps it for
/// a fresh path in a temporary folder. Tests never write to `/dev/null`,
/// which on some machines is a plain file that other tools read back.
pub(crate) const SINK: &str = "<scratch output>";

pub(crate) fn run(args: &[&str]) -> Output {
    let scratch = tempfile::tempdir().expect("temp dir");
    let sink = scratch.path().join("out.wav");
    let sink = sink.to_str().expect("utf8 temp path");
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == SINK { sink } else { a })
        .collect();
    signet()
        .arg("--home")
        .arg(home())
        .args(args)
        .output()
        .expect("run signet")
}

/// A failure: non-zero exit, exactly one line on stderr, no panic text.
pub(crate) fn assert_clean_failure(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "expected one line, got: {stderr}"
    );
    assert!(stderr.starts_with("signet: error: "), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in: {stderr}"
    );
}

pub(crate) struct Wav {
    pub(crate) rate: u32,
    pub(crate) samples: Vec<i16>,
}

pub(crate) fn read_wav(path: &Path) -> Wav {
    let mut r = hound::WavReader::open(path).expect("valid WAV");
    let spec = r.spec();
    assert_eq!(spec.channels, 1);
    assert_eq!(spec.bits_per_sample, 16);
    let samples = r
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .expect("samples");
    Wav {
        rate: spec.sample_rate,
        samples,
    }
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

#[test]
fn text_to_wav_is_valid_non_silent_and_plausibly_long() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("hello.wav");
    let out = run(&[
        "speak",
        "Hello world. This is a test of Signet.",
        "-o",
        wav.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = read_wav(&wav);
    assert_eq!(w.rate, 22_050);
    let secs = w.samples.len() as f64 / f64::from(w.rate);
    // Eight words: about 1.5 to 6 seconds at a normal pace.
    assert!((1.5..6.0).contains(&secs), "duration {secs} s");
    assert!(
        rms(&w.samples) > 300.0,
        "audio is (nearly) silent: rms {}",
        rms(&w.samples)
    );
}

#[test]
fn length_scale_two_doubles_the_duration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut lens = Vec::new();
    for scale in ["1", "2"] {
        let wav = dir.path().join(format!("s{scale}.wav"));
        let out = run(&[
            "speak",
            "The quick brown fox jumps over the lazy dog.",
            "--noise-scale",
            "0",
            "--noise-w",
            "0",
            "--length-scale",
            scale,
            "-o",
            wav.to_str().expect("utf8"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lens.push(read_wav(&wav).samples.len() as f64);
    }
    let ratio = lens[1] / lens[0];
    // Durations are ceil(exp(logw) * length_scale) frames per phoneme, so
    // doubling the scale gives a little under twice the frames.
    assert!((1.6..2.2).contains(&ratio), "length ratio {ratio}");
}

#[test]
fn stdin_text_and_stdout_audio() {
    use std::io::Write;
    let mut child = signet()
        .arg("--home")
        .arg(home())
        .args(["speak", "-", "-o", "-", "--format", "f32"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Reading from standard input.")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len() % 4, 0);
    let samples: Vec<f32> = out
        .stdout
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert!(samples.len() > 22_050 / 2, "{} samples", samples.len());
    assert!(samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
}

#[test]
fn phoneme_ids_file_speaks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = dir.path().join("ids.json");
    // ^ _ h _ ə _ l _ oʊ... as ids of the voice's map: "həlˈoʊ" with BOS/EOS.
    std::fs::write(
        &ids,
        "[1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 100, 0, 10, 0, 2]",
    )
    .expect("write");
    let wav = dir.path().join("ids.wav");
    let out = run(&[
        "speak",
        "--phoneme-ids",
        ids.to_str().expect("utf8"),
        "-o",
        wav.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(read_wav(&wav).samples.len() > 1000);
}

#[test]
fn bad_phoneme_id_files_fail_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: &[(&str, &str, &str)] = &[
        ("out_of_range", "[1, 0, 9999, 0, 2]", "9999"),
        ("negative", "[1, 0, -5, 0, 2]", "-5"),
        ("non_integer", "[1, 0, 2.5, 0, 2]", "not an integer"),
        ("string", "[1, \"a\", 2]", "not an integer"),
        ("empty", "[]", "empty"),
        ("not_an_array", "{\"ids\": [1]}", "array"),
        ("not_json", "[1, 2", "JSON"),
    ];
    for (name, body, needle) in cases {
        let f = dir.path().join(format!("{name}.json"));
        std::fs::write(&f, body).expect("write");
        let out = run(&[
            "speak",
            "--phoneme-ids",
            f.to_str().expect("utf8"),
            "-o",
            SINK,
        ]);
        assert_clean_failure(&out, needle);
    }
}

#[test]
fn unspeakable_text_fails_cleanly() {
    for text in ["", "   ", "?!...,;", "\u{200b}\u{200b}", "\u{1}\u{2}\u{7f}"] {
        let out = run(&["speak", text, "-o", SINK]);
        assert_clean_failure(&out, "nothing to speak");
    }
}

#[test]
fn emoji_are_spoken_by_name() {
    // espeak-ng reads emoji by their Unicode names ("slightly smiling face"),
    // as piper-tts does with the same data: a documented, non-empty result.
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("emoji.wav");
    let out = run(&["speak", "🙂", "-o", wav.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = read_wav(&wav);
    assert!(w.samples.len() as f64 / f64::from(w.rate) > 0.5);
}

#[test]
fn text_in_a_script_without_phonemes_fails_or_speaks_cleanly() {
    // Thai letters through the English voice: espeak-ng names or skips them;
    // either way the result is audio or one clear error line, never a crash.
    let out = run(&["speak", "สวัสดีครับ", "-o", SINK]);
    if !out.status.success() {
        assert_clean_failure(&out, "");
    }
}

#[test]
fn unknown_voice_and_path_like_voice_fail_cleanly() {
    let out = run(&["speak", "Hello.", "--voice", "no-such-voice", "-o", SINK]);
    assert_clean_failure(&out, "not installed");
    let out = run(&["speak", "Hello.", "--voice", "../../etc/passwd", "-o", SINK]);
    assert_clean_failure(&out, "invalid voice name");
}

#[test]
fn bad_scales_fail_cleanly() {
    let out = run(&["speak", "Hello.", "--length-scale", "-1", "-o", SINK]);
    assert_clean_failure(&out, "length_scale");
    let out = run(&["speak", "Hello.", "--length-scale", "0", "-o", SINK]);
    assert_clean_failure(&out, "length_scale");
    let out = run(&["speak", "Hello.", "--noise-scale", "NaN", "-o", SINK]);
    assert_clean_failure(&out, "noise_scale");
}

#[test]
fn voices_list_shows_the_verified_voice() {
    let out = run(&["voices", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with(VOICE))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("22050") && line.contains("en_US") && line.ends_with("yes"),
        "{line}"
    );
}

#[test]
fn text_over_the_input_limit_fails_naming_the_limit() {
    let text = "word ".repeat(50);
    let out = run(&["speak", &text, "--max-input-bytes", "100", "-o", SINK]);
    assert_clean_failure(&out, "100");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("limit"), "{stderr}");
}

#[test]
fn output_to_a_fifo_is_written_in_place() {
    // A FIFO (like a device) is not a regular file: the CLI must write into
    // it, not rename a temporary file over it.
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("audio.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).expect("read fifo"))
    };
    let out = run(&["speak", "Hello.", "-o", fifo.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = reader.join().expect("reader thread");
    assert!(
        bytes.starts_with(b"RIFF") && bytes.len() > 10_000,
        "{}",
        bytes.len()
    );
    let kind = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&kind),
        "the FIFO was replaced"
    );
    let leftovers = std::fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(leftovers, 1, "a temporary file was left behind");
}

#[test]
fn output_to_a_directory_fails_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(&["speak", "Hello.", "-o", dir.path().to_str().expect("utf8")]);
    assert_clean_failure(&out, "directory");
}

#[test]
fn output_dir_speaks_each_line_into_its_own_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("lines.txt");
    // Line 2 is empty and line 4 has nothing to speak: neither gets a file.
    std::fs::write(
        &input,
        "Good morning.\n\nThis second sentence is quite a bit longer than the first one.\n...\nBye.\n",
    )
    .expect("write input");
    let out_dir = dir.path().join("out");
    let out = run(&[
        "speak",
        "--file",
        input.to_str().expect("utf8"),
        "--output-dir",
        out_dir.to_str().expect("utf8"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("line 4 has nothing to speak"), "{stderr}");
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("output dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["0001.wav", "0003.wav", "0005.wav"]);
    // Each path is printed as it is written, in order.
    let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = names
        .iter()
        .map(|n| out_dir.join(n).display().to_string())
        .collect();
    assert_eq!(printed, expected);
    let secs = |name: &str| {
        let w = read_wav(&out_dir.join(name));
        assert!(rms(&w.samples) > 300.0, "{name} is (nearly) silent");
        w.samples.len() as f64 / f64::from(w.rate)
    };
    let (first, second, last) = (secs("0001.wav"), secs("0003.wav"), secs("0005.wav"));
    assert!(second > 2.0 * first, "{first} s against {second} s");
    assert!(last < second, "{last} s against {second} s");
}

#[test]
fn output_dir_misuse_fails_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").expect("write");
    let path = file.to_str().expect("utf8");
    let out = run(&["speak", "Hello.", "--output-dir", path]);
    assert_clean_failure(&out, "not a directory");
    assert_eq!(std::fs::read(&file).expect("read"), b"x");
    let out = run(&[
        "speak",
        "Hello.",
        "--output-dir",
        dir.path().to_str().expect("utf8"),
        "-o",
        SINK,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output-dir"));
    let empty = run(&[
        "speak",
        " \n\n",
        "--output-dir",
        dir.path().to_str().expect("utf8"),
    ]);
    assert_clean_failure(&empty, "no non-empty line");
}
