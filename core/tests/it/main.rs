//! The core's integration tests, one binary: the `Device` façade on real encrypted SQLite files
//! (`device`), supervision and the review queue (`review`), the device side of sync driven by
//! hand-built responses and an in-test server (`sync`), the quarantine after a refusal
//! (`quarantine`), and bad bytes from the server: entries held back, documents that do not
//! compact, automerge's panics as typed errors (`bad_bytes`).

mod bad_bytes;
mod device;
mod quarantine;
mod review;
mod sync;
