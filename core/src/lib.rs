//! # fieldbook-core
//!
//! STUB crate doc: replaced by the README once the API settles.

pub mod clock;
pub mod doc;
pub mod domain;
mod error;
pub mod limits;
pub mod refdata;
pub mod rules;
pub mod storage;
pub mod workflow;

pub use error::{Error, Result};
