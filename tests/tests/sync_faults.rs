//! Sync through a faulty network: the real server behind `FaultProxy`, devices enrolled through
//! it, one fault kind per test. The protocol promises every request is idempotent ("a retried
//! push, a duplicated request, a response lost after the server committed: all harmless"); each
//! test checks that after more syncs the devices converge, the server holds every change the
//! devices made (none lost) and holds each once (none duplicated).
//!
//! Each fault is tried twice: a few times in a row, so the client's retries get through within
//! one sync; then on every attempt of a sync, so the sync fails and the next one must recover.
//! `FIELDBOOK_SEED=N` replays the randomised test.

use fieldbook_core::domain::{RecordId, RecordKind, Role};
use fieldbook_core::sync::NoProgress;
use fieldbook_scenarios::fleet::{
    FAST_RETRY, Fleet, Member, assert_no_duplicates, doc_heads, heads_of, sync_through_faults,
    sync_until_quiet,
};
use fieldbook_scenarios::proxy::{Fault, FaultProxy};
use std::time::Duration;

/// Faults in a row that the retries of one sync get through (attempts are 6).
const FAULTS_RETRIED: usize = 3;

/// Two devices of one officer and a colleague attending their reports, all behind one proxy.
struct Scene {
    fleet: Fleet,
    proxy: FaultProxy,
    phone: Member,
    tablet: Member,
    colleague: Member,
    records: Vec<RecordId>,
    /// Changes made on every device so far (one per create and per effective edit).
    made: usize,
}

impl Scene {
    async fn new() -> Scene {
        let mut fleet = Fleet::start().await;
        let proxy = FaultProxy::start(fleet.addr()).await.expect("proxy starts");
        let url = proxy.url();
        let mut phone = fleet.enrol_at(&url, "PC1", Role::Officer, None).await;
        let mut tablet = fleet.enrol_at(&url, "PC1", Role::Officer, None).await;
        let mut colleague = fleet.enrol_at(&url, "PC2", Role::Officer, None).await;
        for m in [&mut phone, &mut tablet, &mut colleague] {
            m.device.set_retry_policy(FAST_RETRY);
        }
        Scene {
            fleet,
            proxy,
            phone,
            tablet,
            colleague,
            records: Vec::new(),
            made: 0,
        }
    }

    /// Creates a report on the phone attended by PC2, and edits every report on every device.
    fn edit_everywhere(&mut self, round: usize) {
        let id = self
            .phone
            .device
            .create(RecordKind::CrimeReport, None)
            .expect("create")
            .id();
        self.phone
            .device
            .set_fields(id, &[r#"attending_officers=["PC2"]"#.into()])
            .expect("attend");
        self.records.push(id);
        self.made += 2;
        for (n, m) in [&mut self.phone, &mut self.tablet, &mut self.colleague]
            .into_iter()
            .enumerate()
        {
            for &id in &self.records {
                if m.device.projection(id).is_err() {
                    continue;
                }
                m.device
                    .set_fields(id, &[format!("narrative+= r{round}d{n}")])
                    .expect("edit");
                self.made += 1;
            }
        }
    }

    async fn settle(&mut self) {
        sync_until_quiet(&mut [&mut self.phone, &mut self.tablet, &mut self.colleague]).await;
    }

    fn assert_converged_without_loss_or_duplicates(&mut self, what: &str) {
        let changes = self.fleet.server_changes();
        assert_no_duplicates(&changes);
        assert_eq!(
            changes.len(),
            self.made,
            "{what}: the server holds every change made, once"
        );
        for &id in &self.records {
            let server = self.fleet.server_document(id).expect("server document");
            let heads = doc_heads(&server);
            let json = server.hydrate().expect("record").to_json();
            for m in [&mut self.phone, &mut self.tablet, &mut self.colleague] {
                assert_eq!(heads_of(&mut m.device, id), heads, "{what}: heads of {id}");
                assert_eq!(
                    m.device.get(id).expect("record").to_json(),
                    json,
                    "{what}: record {id}"
                );
            }
        }
    }
}

/// Runs the scenario with `fault` injected into pushes and pulls, retried and exhausted.
async fn converges_through(fault: Fault) {
    let what = format!("{fault:?}");
    let mut scene = Scene::new().await;
    scene.edit_everywhere(0);
    scene.settle().await;

    // Retried within one sync: a push, then a pull. A duplicated request succeeds at once, so
    // it gets one fault per sync.
    let in_a_row = if matches!(fault, Fault::DuplicateRequest) {
        1
    } else {
        FAULTS_RETRIED
    };
    scene.edit_everywhere(1);
    let before = scene.proxy.faults_applied();
    scene
        .proxy
        .push_faults(std::iter::repeat_n(fault, in_a_row));
    scene
        .phone
        .device
        .sync(&NoProgress)
        .await
        .unwrap_or_else(|e| panic!("{what}: the retries get through: {e}"));
    scene
        .proxy
        .push_faults(std::iter::repeat_n(fault, in_a_row));
    scene
        .colleague
        .device
        .sync(&NoProgress)
        .await
        .unwrap_or_else(|e| panic!("{what}: the retries get through: {e}"));
    assert_eq!(
        scene.proxy.faults_applied() - before,
        2 * in_a_row,
        "{what}: every fault was applied"
    );

    // Every attempt fails: the sync fails, and the next ones recover.
    scene.edit_everywhere(2);
    let attempts = FAST_RETRY.max_attempts as usize;
    for m in [&mut scene.tablet, &mut scene.phone] {
        scene
            .proxy
            .push_faults(std::iter::repeat_n(fault, attempts));
        let outcome = m.device.sync(&NoProgress).await;
        // Faults left queued (a sync that got through) must not leak into the next step.
        scene.proxy.set_fault(Fault::None);
        assert!(
            outcome.is_err() || matches!(fault, Fault::DuplicateRequest),
            "{what}: a sync whose every attempt fails reports it"
        );
        sync_through_faults(m, 3).await;
    }
    scene.settle().await;
    scene.assert_converged_without_loss_or_duplicates(&what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_is_retried_and_nothing_is_lost() {
    converges_through(Fault::DropRequest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_dropped_after_the_server_committed_is_harmless() {
    converges_through(Fault::DropResponse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_request_stores_each_change_once() {
    converges_through(Fault::DuplicateRequest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_request_body_changes_nothing_and_the_retry_gets_through() {
    converges_through(Fault::TruncateRequestBody).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_response_body_is_retried_and_nothing_is_lost() {
    converges_through(Fault::TruncateResponseBody).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_answers_are_retried_and_nothing_is_lost() {
    converges_through(Fault::ServiceUnavailable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_on_many_syncs_then_a_quiet_sync_converge_without_loss_or_duplicates() {
    let seed: u64 = std::env::var("FIELDBOOK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_5EED);
    const FAULTS: [Fault; 7] = [
        Fault::None,
        Fault::DropRequest,
        Fault::DropResponse,
        Fault::DuplicateRequest,
        Fault::TruncateRequestBody,
        Fault::TruncateResponseBody,
        Fault::ServiceUnavailable,
    ];
    let mut state = seed;
    let mut below = move |n: u64| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    };
    let mut scene = Scene::new().await;
    for round in 0..8 {
        scene.edit_everywhere(round);
        let faults: Vec<Fault> = (0..6)
            .map(|_| FAULTS[below(FAULTS.len() as u64) as usize])
            .collect();
        scene.proxy.push_faults(faults);
        for m in [&mut scene.phone, &mut scene.tablet, &mut scene.colleague] {
            // A failed sync is fine here; the quiet syncs below must recover.
            let _ = m.device.sync(&NoProgress).await;
        }
        // Leave no fault queued for the next round.
        scene.proxy.set_fault(Fault::None);
    }
    scene.settle().await;
    scene.assert_converged_without_loss_or_duplicates(&format!("FIELDBOOK_SEED={seed}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_on_a_new_port_behind_the_proxy_serves_the_same_history() {
    let mut scene = Scene::new().await;
    scene.edit_everywhere(0);
    scene.settle().await;
    scene.edit_everywhere(1);
    // The push is delayed in the proxy while the server dies; it reaches no server.
    scene
        .proxy
        .set_fault(Fault::Delay(Duration::from_millis(50)));
    let (outcome, ()) = tokio::join!(scene.phone.device.sync(&NoProgress), async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        scene.fleet.kill_server();
    });
    assert!(outcome.is_err(), "no server: the sync fails");
    scene.fleet.start_server().await;
    scene.proxy.set_upstream(scene.fleet.addr());
    scene.settle().await;
    scene.assert_converged_without_loss_or_duplicates("restart");
}
