//! Shared helpers of the CLI's end-to-end tests: the `alur` binary run from the repository root
//! with test keys, a fresh temporary directory, and a checkpoint signing key.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The tenant's pseudonym key in these tests.
pub const PSEUDONYM_KEY: &str = "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a";

/// Run `alur args` from the repository root: no checkpoint key from the environment, the test
/// pseudonym and letter keys, temporary files under `dir`. (success, stdout, stderr)
pub fn alur(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_alur"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env_remove("ALUR_CHECKPOINT_KEY")
        .env("ALUR_PSEUDONYM_KEY", PSEUDONYM_KEY)
        .env("ALUR_LETTER_KEY", "07".repeat(32))
        .env("TMPDIR", dir)
        .output()
        .expect("alur runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh directory `alur-<name>-<pid>` under the system's temporary directory.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("alur-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `alur audit keygen` into `key_file`; the verifier key it prints.
pub fn keygen(dir: &Path, key_file: &str) -> String {
    let (ok, out, err) = alur(
        dir,
        &["audit", "keygen", "--name", "alur-test", "--out", key_file],
    );
    assert!(ok, "{err}");
    out.lines()
        .find_map(|l| l.split("verifier key (give this to auditors): ").nth(1))
        .unwrap_or_else(|| panic!("no verifier key in {out}"))
        .trim()
        .to_owned()
}

/// `alur audit checkpoint` of `db` signed with `key_file`, exported to `out`.
pub fn checkpoint(dir: &Path, db: &str, key_file: &str, out: &str) -> String {
    let (ok, stdout, err) = alur(
        dir,
        &[
            "audit",
            "checkpoint",
            "--db",
            db,
            "--key-file",
            key_file,
            "--out",
            out,
        ],
    );
    assert!(ok, "{err}");
    stdout
}

/// Copy a directory tree (a configuration directory to edit in a test).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The number before `word` in `text` (`"… 12 kasus …"`).
pub fn count_before(text: &str, word: &str) -> usize {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("no `{word}` in {text}"));
    text[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before `{word}` in {text}"))
}

/// The whole log of `db` verified against a checkpoint signed now with a fresh key (files under
/// `dir`): asserts `alur audit verify` says OK and returns what it printed.
pub fn verify_against_a_new_checkpoint(dir: &Path, db: &str) -> String {
    let p = |n: &str| dir.join(n).display().to_string();
    let vkey = keygen(dir, &p("verify-key"));
    checkpoint(dir, db, &p("verify-key"), &p("verify-cps"));
    let (ok, out, err) = alur(
        dir,
        &[
            "audit",
            "verify",
            "--db",
            db,
            "--key",
            &vkey,
            "--checkpoint",
            &p("verify-cps/kepri/latest.txt"),
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.starts_with("OK:"), "{out}");
    out
}
