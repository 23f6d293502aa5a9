//! `POST /v1/enrol` and the token every other endpoint takes: codes used once, actors bound to one
//! device, revoked and expired tokens refused.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_returns_a_token_and_a_reused_code_is_refused_with_bad_code() {
    let f = fixture(|_| {}).await;
    let code = f.code("PC1", Role::Officer, Some("north")).await;
    let actor = fieldbook_core::doc::new_actor();
    let (status, body) = f.enrol_with(&code, &actor).await;
    assert_eq!(status, 200);
    let response: EnrolResponse = wire::decode(&body).expect("response");
    assert_eq!(response.token.len(), 64, "256 random bits in hex");
    assert_eq!(response.team.as_deref(), Some("north"));
    assert!(
        !f.dump().contains(&response.token),
        "only the token's hash is stored"
    );
    let before = f.dump();
    let (status, body) = f.enrol_with(&code, &fieldbook_core::doc::new_actor()).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "bad-code"));
    let (status, body) = f
        .enrol_with("NOPE-NOPE", &fieldbook_core::doc::new_actor())
        .await;
    assert_eq!((status, error_code(&body).as_str()), (403, "bad-code"));
    assert_eq!(f.dump(), before, "a refused enrolment changes nothing");
    let devices = f.admin().devices().expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, response.device_id);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_already_bound_to_another_device_is_refused_with_actor_taken() {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let code = f.code("PC2", Role::Officer, None).await;
    let before = f.dump();
    let (status, body) = f.enrol_with(&code, &dev.actor).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "actor-taken"));
    assert_eq!(f.dump(), before, "the code stays unused");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_or_from_a_revoked_device_are_refused() {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let body = wire::encode(&SyncRequest {
        protocol: 1,
        cursor: 0,
        page_limit: 10,
        push: vec![],
    });
    let (status, resp) = f.post("/v1/sync", None, body.clone()).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "unauthenticated")
    );
    let (status, resp) = f.post("/v1/sync", Some("garbage"), body.clone()).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "unauthenticated")
    );
    let (status, _) = f.post("/v1/sync", Some(&dev.token), body.clone()).await;
    assert_eq!(status, 200);
    f.admin().revoke(&dev.device_id).expect("revoke");
    assert!(f.admin().devices().expect("devices")[0].revoked);
    let (status, resp) = f.post("/v1/sync", Some(&dev.token), body.clone()).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "device-revoked")
    );
    let repair = wire::encode(&RepairRequest {
        protocol: 1,
        record: RecordId::generate(),
        kind: RecordKind::Person,
        message: Bytes(vec![]),
    });
    let (status, resp) = f.post("/v1/repair", Some(&dev.token), repair).await;
    assert_eq!(
        (status, error_code(&resp).as_str()),
        (401, "device-revoked")
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_with_token_expired() {
    let f = fixture(|c| c.token_ttl = Duration::from_millis(200)).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = wire::encode(&SyncRequest {
        protocol: 1,
        cursor: 0,
        page_limit: 10,
        push: vec![],
    });
    let (status, resp) = f.post("/v1/sync", Some(&dev.token), body).await;
    assert_eq!((status, error_code(&resp).as_str()), (401, "token-expired"));
    f.server.shutdown().await;
}
