#![doc = include_str!("../README.md")]

pub mod audit;
pub mod clock;
pub mod device;
pub mod doc;
pub mod domain;
pub mod edit;
mod error;
#[cfg(feature = "testing")]
pub mod fuzzing;
pub mod invalid;
pub mod limits;
mod loaded;
pub mod projection;
pub mod refdata;
pub mod review;
pub mod rules;
pub mod storage;
pub mod sync;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod workflow;

pub use device::{Device, Version};
pub use error::{Error, Result};
pub use invalid::Invalid;
