//! The server over real HTTP: a server on 127.0.0.1:0 per test, CBOR bodies, real automerge
//! changes built with the core's `RecordDoc`. One file per endpoint (or concern).

use automerge::sync::SyncDoc;
use automerge::{Automerge, transaction::Transactable};
use fieldbook_core::doc::RecordDoc;
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role};
use fieldbook_core::sync::wire::{
    self, Bytes, EnrolRequest, EnrolResponse, ErrorBody, FeedEntry, Hash, PushOutcome, RecordPush,
    RepairRequest, RepairResponse, SyncRequest, SyncResponse,
};
use fieldbook_core::workflow;
use std::collections::HashSet;
use std::time::Duration;

#[path = "../support/mod.rs"]
mod support;
use support::*;

mod enrol;
mod operations;
mod refusals;
mod review_queue;
mod scope;
mod sync;
