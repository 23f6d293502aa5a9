//! The committed Kotlin and Swift bindings are what this source generates: uniffi-bindgen (this
//! package's binary) is run on the native library cargo built beside it, and each generated file
//! is compared with the one the apps compile. Being an integration test also makes
//! `cargo test --no-run` build the `uniffi-bindgen` binary, which scripts/bindgen then uses.

use std::path::{Path, PathBuf};
use std::process::Command;

fn native_library() -> PathBuf {
    let bindgen = Path::new(env!("CARGO_BIN_EXE_uniffi-bindgen"));
    // Built as a dependency of this test, the library stays in deps/ beside the binary's directory.
    let dir = bindgen
        .parent()
        .expect("the binary has a directory")
        .join("deps");
    let name = if cfg!(target_os = "macos") {
        "libfieldbook_ffi.dylib"
    } else {
        "libfieldbook_ffi.so"
    };
    dir.join(name)
}

fn generate(language: &str, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .arg("generate")
        .arg(native_library())
        .args(["--language", language, "--no-format", "--out-dir"])
        .arg(out)
        .status()
        .expect("uniffi-bindgen runs");
    assert!(
        status.success(),
        "uniffi-bindgen generate --language {language} failed"
    );
}

fn assert_same(generated: &Path, committed: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let generated = std::fs::read_to_string(generated).expect("generated file");
    let committed_text = std::fs::read_to_string(root.join(committed)).expect("committed file");
    assert!(
        generated == committed_text,
        "{committed} differs from what the source generates: run scripts/bindgen and commit"
    );
}

#[test]
fn the_committed_kotlin_and_swift_bindings_are_what_the_source_generates() {
    let out = tempfile::tempdir().expect("scratch directory");
    generate("kotlin", out.path());
    generate("swift", out.path());
    assert_same(
        &out.path().join("org/fieldbook/ffi/fieldbook_ffi.kt"),
        "android/fieldbook/src/main/kotlin/org/fieldbook/ffi/fieldbook_ffi.kt",
    );
    assert_same(
        &out.path().join("FieldbookFFI.swift"),
        "ios/FieldbookKit/Sources/FieldbookFFI/FieldbookFFI.swift",
    );
    assert_same(
        &out.path().join("FieldbookFFIC.h"),
        "ios/FieldbookKit/FFIHeaders/FieldbookFFIC.h",
    );
    assert_same(
        &out.path().join("FieldbookFFIC.modulemap"),
        "ios/FieldbookKit/FFIHeaders/module.modulemap",
    );
}
