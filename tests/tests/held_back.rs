//! A poisoned feed entry against the real server: the server's answer to one device is rewritten
//! on its way (`FaultProxy`'s `RewriteResponseBody`, standing for a broken or compromised
//! server) so that one record's change makes automerge panic. The device keeps that entry aside,
//! applies the rest of the page and the cursor, keeps the record exactly as it was, says so in
//! its report and status, and goes on syncing; the entries that build on the held-back one wait
//! with it instead of being repaired at every sync. The other devices are not affected.
//!
//! The bytes are made as the probe of issue 9 made them: a real change decoded, edited and
//! encoded again (`fieldbook_core::testing`).

use fieldbook_core::domain::{RecordId, RecordKind, Role};
use fieldbook_core::sync::NoProgress;
use fieldbook_core::sync::wire::{self, FeedEntry, SyncResponse};
use fieldbook_scenarios::fleet::{Fleet, Member, heads_of};
use fieldbook_scenarios::proxy::{Fault, FaultProxy};

/// The server's sync answer with the last change of its first changes entry replaced by one
/// that makes automerge panic (no dependencies, a far-ahead start operation).
fn poison_first_changes_entry(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut response) = wire::decode::<SyncResponse>(&body) else {
        return body;
    };
    let first = response.page.entries.iter_mut().find_map(|e| match e {
        FeedEntry::Changes { changes, .. } => changes.last_mut(),
        _ => None,
    });
    if let Some(change) = first {
        let honest = automerge::Change::from_bytes(change.bytes.0.clone()).expect("a change");
        change.bytes = wire::Bytes(fieldbook_core::testing::far_ahead(&honest));
    }
    wire::encode(&response)
}

fn set(member: &mut Member, id: RecordId, text: &str) {
    member
        .device
        .set_fields(id, &[format!("narrative+= {text}")])
        .expect("edit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_feed_entry_is_held_back_and_the_device_keeps_syncing_everything_else() {
    let mut fleet = Fleet::start().await;
    let proxy = FaultProxy::start(fleet.addr()).await.expect("proxy starts");
    let mut phone = fleet
        .enrol_at(&fleet.url(), "PC1", Role::Officer, None)
        .await;
    let mut tablet = fleet
        .enrol_at(&proxy.url(), "PC1", Role::Officer, None)
        .await;

    let ids: Vec<RecordId> = (0..2)
        .map(|_| {
            phone
                .device
                .create(RecordKind::CrimeReport, None)
                .expect("create")
                .id()
        })
        .collect();
    phone.device.sync(&NoProgress).await.expect("phone syncs");
    tablet.device.sync(&NoProgress).await.expect("tablet syncs");
    set(&mut phone, ids[0], "First.");
    set(&mut phone, ids[1], "First.");
    phone.device.sync(&NoProgress).await.expect("phone syncs");
    let before = tablet.device.get(ids[0]).expect("record");
    let heads_before = heads_of(&mut tablet.device, ids[0]);

    proxy.set_fault(Fault::RewriteResponseBody(poison_first_changes_entry));
    let report = tablet
        .device
        .sync(&NoProgress)
        .await
        .expect("the sync goes on past a poisoned entry");
    assert_eq!(proxy.faults_applied(), 1);
    assert_eq!((report.held_back, report.pulled_changes), (1, 1));
    assert_eq!(tablet.device.get(ids[0]).expect("record"), before);
    assert_eq!(heads_of(&mut tablet.device, ids[0]), heads_before);
    assert_eq!(
        tablet.device.get(ids[1]).expect("record"),
        phone.device.get(ids[1]).expect("record"),
        "the page's other entry applied"
    );
    let held: Vec<(RecordId, String)> = tablet
        .device
        .held_back()
        .expect("held back")
        .into_iter()
        .map(|h| (h.record, h.reason))
        .collect();
    assert_eq!(held, vec![(ids[0], "change-not-applied".to_owned())]);

    // The phone edits both again. The held record's new change builds on the one held back:
    // it waits with it (no repair, no loop); the other record follows as usual.
    set(&mut phone, ids[0], "Second.");
    set(&mut phone, ids[1], "Second.");
    phone.device.sync(&NoProgress).await.expect("phone syncs");
    for _ in 0..2 {
        let report = tablet.device.sync(&NoProgress).await.expect("tablet syncs");
        assert_eq!(
            (report.repairs, report.repairs_failed),
            (0, 0),
            "{report:?}"
        );
    }
    assert_eq!(tablet.device.get(ids[0]).expect("record"), before);
    assert_eq!(
        tablet.device.get(ids[1]).expect("record"),
        phone.device.get(ids[1]).expect("record")
    );
    let status = tablet.device.sync_status().expect("status");
    assert_eq!((status.held_back, status.last_error), (2, None));
    assert_eq!(
        tablet
            .device
            .held_back()
            .expect("held back")
            .last()
            .map(|h| h.reason.clone()),
        Some("record-held-back".to_owned())
    );

    // The tablet's own work on the held record still reaches the server and the phone.
    tablet
        .device
        .set_fields(ids[0], &["classification=8N".to_owned()])
        .expect("edit");
    tablet.device.sync(&NoProgress).await.expect("tablet syncs");
    phone.device.sync(&NoProgress).await.expect("phone syncs");
    assert_eq!(
        phone.device.get(ids[0]).expect("record").to_json()["classification"]["offence"]["code"],
        serde_json::json!("8N")
    );
    assert_eq!(phone.device.sync_status().expect("status").held_back, 0);
}
