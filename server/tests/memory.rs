//! The server's memory against compressed automerge chunks that inflate far past their size,
//! pushed through the real protocol: the probe took the server from 11 MB to 800 MB with a
//! 261 KB push, and to 4.4 GB (then an abort) with a 2 MB one. Its own test binary, one test, so
//! the process's peak resident memory (`VmHWM`) is this test's alone.

use automerge::sync::{ChunkList, Message, MessageVersion};
use fieldbook_core::domain::{RecordKind, Role};
use fieldbook_core::sync::wire::{self, Bytes, RecordPush, RepairRequest};
use fieldbook_core::testing::hostile;

mod support;
use support::*;

/// The process's peak resident set so far, in bytes.
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_chunks_that_inflate_to_gigabytes_are_refused_without_the_server_growing() {
    let f = fixture(|_| {}).await;
    let pc1 = f.device("PC1", Role::Officer, Some("A")).await;
    let doc = new_doc(&pc1, RecordKind::NeighbourhoodIssue, |_| {});
    push_accepted(&f, &pc1, vec![push_of(&doc, &[])]).await;

    // 2 GiB of zeros deflated: about 2 MB on the wire, the size that aborted the server.
    let bomb = hostile::deflate_bomb(2 << 30);
    assert!(bomb.len() < 4 * 1024 * 1024, "{} bytes", bomb.len());
    let before = f.dump();
    let peak_before = peak_resident_bytes();

    let push = RecordPush {
        record: id_of(&doc),
        kind: RecordKind::NeighbourhoodIssue,
        changes: vec![Bytes(bomb.clone())],
    };
    let response = f.sync(&pc1, u64::MAX, 10, vec![push]).await;
    assert_eq!(rejected_rule(&response, 0), "automerge-too-large");

    // The same chunk inside a repair round's sync message.
    let message = Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::from(vec![bomb]),
        flags: None,
        version: MessageVersion::V1,
    };
    let request = RepairRequest {
        protocol: wire::PROTOCOL_VERSION,
        record: id_of(&doc),
        kind: RecordKind::NeighbourhoodIssue,
        message: Bytes(message.encode()),
    };
    let (status, body) = f
        .post("/v1/repair", Some(&pc1.token), wire::encode(&request))
        .await;
    // A repair message whose chunk breaks the bounds is refused whole, as malformed.
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed"));

    let grown = peak_resident_bytes().saturating_sub(peak_before);
    assert!(
        grown < 64 * 1024 * 1024,
        "the server's process grew {} MiB on two refused pushes",
        grown / (1024 * 1024)
    );
    assert_eq!(f.dump(), before, "nothing of either push stored");

    // And it carries on: the honest device's next edit is accepted.
    let mut edited = doc.fork_as(&pc1.actor);
    let heads = edited.heads();
    edit_narrative(&mut edited, &pc1, "Gathering again tonight.", 5);
    push_accepted(&f, &pc1, vec![push_of(&edited, &heads)]).await;
    f.server.shutdown().await;
}
