//! `GET /health`, `GET /metrics` and graceful shutdown.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_answer_in_plain_text() {
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    f.sync(
        &dev,
        0,
        10,
        vec![push_of(&new_doc(&dev, RecordKind::Person, |_| {}), &[])],
    )
    .await;
    let health = f
        .client
        .get(format!("{}/health", f.server.url()))
        .send()
        .await
        .expect("health");
    assert_eq!(health.text().await.expect("text"), "ok");
    let metrics = f
        .client
        .get(format!("{}/metrics", f.server.url()))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    for needle in [
        "fieldbook_requests_total{endpoint=\"sync\",status=\"200\"} 1",
        "fieldbook_changes_accepted_total 1",
        "fieldbook_sync_duration_seconds_count 1",
        "fieldbook_feed_lag",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_completes_during_graceful_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture(|_| {}).await;
    let dev = f.device("PC1", Role::Officer, None).await;
    let body = wire::encode(&SyncRequest {
        protocol: 1,
        cursor: 0,
        page_limit: 10,
        push: vec![push_of(&new_doc(&dev, RecordKind::Person, |_| {}), &[])],
    });
    let mut stream = tokio::net::TcpStream::connect(f.server.addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nhost: test\r\ncontent-type: application/cbor\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        dev.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&body[..body.len() / 2])
        .await
        .expect("half the body");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Fixture { server, _dir, .. } = f;
    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream
        .write_all(&body[body.len() / 2..])
        .await
        .expect("the rest");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .expect("read");
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        text.lines().next().unwrap_or("")
    );
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("stops")
        .expect("joins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_answers_while_the_database_holds_the_schema_this_server_knows() {
    let f = fixture(|_| {}).await;
    let text = |(status, body): (u16, Vec<u8>)| (status, String::from_utf8(body).expect("text"));
    assert_eq!(
        text(f.get("/ready", None, "text/plain").await),
        (200, "ready".to_owned())
    );

    // Another replica, newer, upgraded the schema: this one is taken out of rotation, and
    // says why; its liveness is unchanged.
    raw_connection(&f.db)
        .pragma_update(None, "user_version", 99)
        .expect("bump");
    let (status, body) = text(f.get("/ready", None, "text/plain").await);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("schema version 99"), "{body}");
    assert_eq!(f.get("/health", None, "text/plain").await.0, 200);
    f.server.shutdown().await;
}
