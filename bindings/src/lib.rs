//! Fieldbook's native library for the apps: the core, translated for uniffi.
uniffi::setup_scaffolding!();

pub mod records;
