//! Fieldbook's one native library for the apps: the core, translated for uniffi into Kotlin,
//! Swift and Python. No logic lives here: [`FieldbookDevice`] delegates every call to
//! [`fieldbook_core::Device`], the mirror types convert with `From`, and every error becomes
//! one [`FieldbookError`] (mapped in `error.rs` only). Platform services come in as foreign
//! traits ([`KeyProvider`], [`Clock`], [`Connectivity`], [`SyncObserver`]).

uniffi::setup_scaffolding!();

#[cfg(target_os = "android")]
mod android;
mod device;
mod error;
mod platform;
pub mod records;
mod types;

pub use device::{FieldbookDevice, SyncCancel};
pub use error::FieldbookError;
pub use platform::{Clock, Connectivity, KeyProvider, SyncObserver};
pub use types::*;
