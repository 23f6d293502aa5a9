//! Sync between a device and the force's server: a batched change feed over HTTP.
//!
//! The device pushes the automerge changes its documents have that the server has not
//! acknowledged, and pulls every change the server accepted after the device's cursor, for all
//! records at once, in one round trip ([`wire::SyncRequest`]). Automerge deduplicates changes by
//! hash, so every request is idempotent: a retried push or pull is harmless. A per-record repair
//! path runs automerge's own sync protocol only when heads disagree after the feed.
//!
//! [`wire`] is shared with the server. The protocol is written up in `docs/sync-protocol.md`.

pub mod wire;
