//! fieldbook-server: receives, checks and serves Fieldbook records.
//!
//! Devices sync through a batched change feed (`docs/sync-protocol.md`): one `POST /v1/sync`
//! pushes every unacknowledged automerge change of every record and returns a page of what was
//! accepted after the device's cursor, in the device's scope. The server checks every change
//! (its actor is bound to the pushing device; the document stays a valid record of its kind),
//! stores accepted changes with a feed position and a receipt time, and never stores any part
//! of a refused record push.
//!
//! Module map: `connections` (the accept loop: timeouts, connection bound, graceful stop) →
//! `http` (routes, CBOR, errors) → `service` (checks, feed, repair; blocking) → [`store`] (the
//! [`ServerStore`] trait and its SQLite implementation, encrypted with SQLCipher). `scope`
//! decides who receives what; [`Admin`] registers and changes officers (with their audit),
//! issues codes and revokes devices without the HTTP server; `text` refuses control characters
//! in labels and names and escapes them on output.
//!
//! **Architecture invariant:** only `store` touches rusqlite; handlers never see SQL.
//!
//! # Embedding
//!
//! ```no_run
//! # async fn demo() -> Result<(), fieldbook_server::ServerError> {
//! use fieldbook_core::domain::{OfficerId, Role};
//! use fieldbook_server::{Admin, ServerConfig};
//!
//! use fieldbook_core::storage::DatabaseKey;
//!
//! let db = std::env::temp_dir().join("fieldbook-demo-server.db");
//! // In service: `fieldbook_server::database_key` reads it from a key file or the environment.
//! let key = DatabaseKey::Raw(rand::random());
//! let admin = Admin::open(&db, &key)?;
//! let officer = OfficerId::new("PC1234").expect("a collar number");
//! let code = admin.enrol(&officer, "A. Officer", Role::Officer, Some("north"))?;
//!
//! let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), &db, key);
//! let server = fieldbook_server::start(config).await?;
//! println!("enrol at {} with code {code}", server.url());
//! server.shutdown().await; // finishes requests in flight
//! # Ok(()) }
//! ```

mod admin;
mod audit;
mod config;
mod connections;
mod documents;
mod error;
mod http;
mod limit;
mod metrics;
mod review;
mod scope;
mod service;
pub mod store;
mod text;
mod trust;

pub use admin::{Admin, CODE_TTL_MS};
pub use config::{EnrolLimit, FileConfig, KEY_ENV, ServerConfig, bounds, database_key};
pub use error::ServerError;
pub use store::{
    DatabaseUrl, DeviceRow, Officer, OfficerChange, OfficerDetails, ServerStore, SqliteStore,
    StoreError, TeamGiven,
};
pub use text::{NotPlainText, escaped};

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in a tokio task; [`RunningServer::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    integrity: Option<JoinHandle<Result<(), StoreError>>>,
}

/// The outcome of the integrity check a server runs once it listens ([`RunningServer::integrity`]).
#[derive(Debug)]
pub struct IntegrityCheck(Option<JoinHandle<Result<(), StoreError>>>);

impl IntegrityCheck {
    /// Waits for the check: `Ok` when the database passed (or was already waited for),
    /// [`StoreError::Damaged`] when it did not (the store refuses every call from then on).
    pub async fn outcome(self) -> Result<(), StoreError> {
        match self.0 {
            Some(task) => task.await.unwrap_or_else(|e| {
                Err(StoreError::Backend(
                    format!("the integrity check did not finish: {e}").into(),
                ))
            }),
            None => Ok(()),
        }
    }
}

/// Opens the database (under `config.key`), binds `config.listen` (port 0 picks a free port)
/// and serves in a tokio task. Returns once the socket is bound, so requests may be sent at
/// once; opening does not grow with the database. A database that the key does not open or
/// that is not encrypted is refused here (a [`StoreError`](store::StoreError) naming the file).
/// The whole database's integrity check then runs in the background: damage found is logged,
/// makes `/ready` answer 503 and the store refuse every call ([`RunningServer::integrity`]).
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    let database = config.database.clone();
    let key = config.key.clone();
    let store = tokio::task::spawn_blocking(move || database.open(&key))
        .await
        .map_err(|e| ServerError::Config(format!("opening the database panicked: {e}")))??;
    start_with_store(config, store).await
}

/// As [`start`], with any [`ServerStore`] (another database, or a test double).
pub async fn start_with_store(
    config: ServerConfig,
    store: Arc<dyn ServerStore>,
) -> Result<RunningServer, ServerError> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let limits = connections::Limits {
        header_read: config.header_read_timeout,
        idle: config.idle_timeout,
        max_connections: config.max_connections,
    };
    let service = Arc::new(service::SyncService::new(Arc::clone(&store), config));
    let app = http::router(service);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(connections::serve(listener, app, limits, stopped));
    tracing::info!(%addr, "fieldbook-server listening");
    let integrity = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let checked = store.check_integrity();
        match &checked {
            Ok(()) => tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                "the database passed its integrity check"
            ),
            Err(e) => tracing::error!(error = %e, "the database failed its integrity check"),
        }
        checked
    });
    if let Some(warning) = connections::plain_http_warning(addr) {
        tracing::warn!("{warning}");
    }
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task: Some(task),
        integrity: Some(integrity),
    })
}

impl RunningServer {
    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The background integrity check started with the server, to wait for (once; later calls
    /// get a check that is already `Ok`).
    pub fn integrity(&mut self) -> IntegrityCheck {
        IntegrityCheck(self.integrity.take())
    }

    /// `http://ADDR`, the base URL for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets requests in flight finish, then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => tracing::info!("fieldbook-server stopped"),
                Ok(Err(e)) => tracing::error!(error = %e, "fieldbook-server stopped with an error"),
                Err(e) => tracing::error!(error = %e, "fieldbook-server task failed"),
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // A server dropped without `shutdown` still stops (gracefully, in the background).
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
