//! The core's integration tests, one binary: the `Device` façade on real encrypted SQLite files
//! (`device`), supervision and the review queue (`review`), and the device side of sync driven
//! by hand-built responses and an in-test server (`sync`).

mod device;
mod review;
mod sync;
