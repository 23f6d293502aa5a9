//! Fuzz target `change`: see `fieldbook_core::fuzzing::change` for what it runs on each input.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: fieldbook_fuzz_init(),
    |data: &[u8]| {
        let _ = fieldbook_core::fuzzing::change(data);
    }
);

/// A panic caught by the code under test (automerge's, turned into an error) is a finding only
/// when `FIELDBOOK_FUZZ_CAUGHT_PANICS` is unset: set it to keep fuzzing past known ones. A panic
/// that escapes aborts either way.
fn fieldbook_fuzz_init() {
    if std::env::var_os("FIELDBOOK_FUZZ_CAUGHT_PANICS").is_some() {
        std::panic::set_hook(Box::new(|_| {}));
    }
}
