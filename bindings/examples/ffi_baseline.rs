//! The Rust side of the FFI overhead benchmark (`scripts/bench-ffi`): the same two calls the
//! Python and Kotlin benchmarks make — save an edited record, list 100 records — timed on the
//! core's `Device` directly and on `FieldbookDevice` called from Rust (the translation layer
//! without a language boundary). Prints one JSON line per variant, microseconds per call.

use fieldbook_core::Device;
use fieldbook_core::clock::SystemClock;
use fieldbook_core::domain::{OfficerId, Record, RecordKind, Role};
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use fieldbook_ffi::{FieldbookDevice, FieldbookError, KeyProvider, RecordFilter, records};
use std::sync::Arc;
use std::time::Instant;

const RECORDS: usize = 100;
const SAVES: u32 = 300;
const LISTS: u32 = 2_000;

#[derive(Debug)]
struct Key;

impl KeyProvider for Key {
    fn database_key(&self) -> Result<Vec<u8>, FieldbookError> {
        Ok(vec![7; 32])
    }
}

fn fill(device: &mut Device) -> Result<Vec<Record>, fieldbook_core::Error> {
    (0..RECORDS)
        .map(|i| {
            let id = device.create(RecordKind::StopSearch, None)?.id();
            device.set_fields(id, &[format!("person_description=Person {i}")])
        })
        .collect()
}

fn per_call_us(n: u32, mut f: impl FnMut(u32)) -> f64 {
    for i in 0..n / 2 {
        f(i);
    }
    let started = Instant::now();
    for i in 0..n {
        f(i);
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;

    // The core, called directly.
    let path = dir.path().join("core.fieldbook");
    let mut device = Device::init(
        &path,
        &DatabaseKey::Raw([7; 32]),
        OfficerId::new("PC1")?,
        Role::Officer,
        Arc::new(SystemClock),
    )?;
    let mut record = fill(&mut device)?.remove(0);
    let save = per_call_us(SAVES, |i| {
        if let Record::StopSearch(s) = &mut record {
            s.person_description = Some(format!("Edit {i}"));
        }
        device.save(record.clone()).expect("save");
    });
    let query = RecordQuery {
        limit: Some(100),
        ..RecordQuery::default()
    };
    let list = per_call_us(LISTS, |_| {
        assert_eq!(device.list(&query).expect("list").len(), RECORDS);
    });
    println!(r#"{{"caller":"rust-core","save_us":{save:.1},"list_us":{list:.1}}}"#);
    drop(device);

    // The translation layer, called from Rust.
    let path = dir.path().join("ffi.fieldbook");
    let ffi = FieldbookDevice::setup(
        path.display().to_string(),
        "PC1".into(),
        records::Role::Officer,
        Arc::new(Key),
        None,
        None,
    )?;
    for i in 0..RECORDS {
        let id = match ffi.create_record(records::RecordKind::StopSearch)? {
            records::Record::StopSearch { value } => value.meta.id,
            _ => unreachable!("a stop-search was asked for"),
        };
        ffi.set_fields(id, vec![format!("person_description=Person {i}")])?;
    }
    let first = ffi.list(RecordFilter::default())?.remove(0).id;
    let mut record = ffi.get(first)?;
    let save = per_call_us(SAVES, |i| {
        if let records::Record::StopSearch { value } = &mut record {
            value.person_description = Some(format!("Edit {i}"));
        }
        ffi.save(record.clone()).expect("save");
    });
    let filter = RecordFilter {
        limit: Some(100),
        ..RecordFilter::default()
    };
    let list = per_call_us(LISTS, |_| {
        assert_eq!(ffi.list(filter.clone()).expect("list").len(), RECORDS);
    });
    println!(r#"{{"caller":"rust-ffi-object","save_us":{save:.1},"list_us":{list:.1}}}"#);
    Ok(())
}
