//! The core's integration tests, one binary: the `Device` façade on real encrypted SQLite files
//! (`device`), supervision and the review queue (`review`), the device side of sync driven by
//! hand-built responses and an in-test server (`sync`), and the quarantine after a refusal
//! (`quarantine`).

mod device;
mod quarantine;
mod review;
mod sync;
