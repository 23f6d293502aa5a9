//! Cross-crate scenario tests live in `tests/tests/`; this library holds what they share with the
//! helper binaries in `src/bin/`.

/// How many crime reports `fieldbook-saver` keeps editing: the newest this many in the store
/// when it starts, plus the ones it creates. The durability test relies on it to know which
/// records a killed run can have touched.
pub const SAVER_WORKING_SET: u32 = 40;
