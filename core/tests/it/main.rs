//! The core's integration tests, one binary: the `Device` façade on real encrypted SQLite files
//! (`device`), supervision and the review queue (`review`), the device side of sync driven by
//! hand-built responses and an in-test server (`sync`), the quarantine after a refusal
//! (`quarantine`), the bounds on untrusted automerge bytes against the fullest honest records
//! (`bounds`), every input the fuzz targets found or keep as their corpus (`fuzz`), and bad bytes
//! from the server: entries held back, documents that do not compact, automerge's panics as
//! typed errors (`bad_bytes`).

mod bad_bytes;
mod bounds;
mod device;
mod fuzz;
mod quarantine;
mod review;
mod sync;
