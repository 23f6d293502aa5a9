//! `fieldbook demo`: the whole loop on loopback, printed as a transcript with timings.
//!
//! An officer with no signal records a victim, a crime with that victim and its needs assessment,
//! and a stop-search refused for missing grounds then accepted. Signal returns: an embedded
//! server starts on an ephemeral port, four devices enrol (two officers, a PCSO, a supervisor),
//! the two officers edit the same report offline, sync, and see the merged narrative and the
//! surfaced conflict; the supervisor's device receives the team's review queue, returns the
//! PCSO's issue with a reason (it reaches the PCSO as a task at the next sync) and approves the
//! rest; an edit to the approved crime report after re-opening it puts it back in the queue as
//! changed since approval, with the diff. Every step goes through the same `Device` calls the
//! CLI and the apps use.

use fieldbook_core::clock::{Clock, SystemClock};
use fieldbook_core::device::ApprovalState;
use fieldbook_core::domain::{OfficerId, Record, RecordId, RecordKind, Role, Status, Timestamp};
use fieldbook_core::storage::{DatabaseKey, RecordQuery};
use fieldbook_core::sync::NoProgress;
use fieldbook_core::{Device, Error};
use fieldbook_server::{Admin, ServerConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

struct Transcript {
    started: Instant,
    step_started: Instant,
    step: u32,
}

impl Transcript {
    fn step(&mut self, what: &str) {
        self.step += 1;
        self.step_started = Instant::now();
        outln!("\n[{:>2}] {what}", self.step);
    }

    fn say(&self, line: impl AsRef<str>) {
        outln!("     {}", line.as_ref());
    }

    fn done(&self) {
        outln!(
            "     ({:.0} ms)",
            self.step_started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

fn demo_error(e: impl std::fmt::Display) -> Error {
    Error::invalid("demo", "demo", e.to_string())
}

fn key() -> DatabaseKey {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    DatabaseKey::Raw(key)
}

fn set(device: &mut Device, id: RecordId, fields: &[&str]) -> Result<(), Error> {
    let owned: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
    device.set_fields(id, &owned).map(|_| ())
}

pub fn run() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(demo_error)?;
    runtime.block_on(scenario())
}

async fn scenario() -> Result<(), Error> {
    let dir = tempfile::tempdir().map_err(demo_error)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut t = Transcript {
        started: Instant::now(),
        step_started: Instant::now(),
        step: 0,
    };
    outln!("Fieldbook demo — record offline, sync on loopback, merge, review");

    // -----------------------------------------------------------------------------------------
    // Offline
    // -----------------------------------------------------------------------------------------
    t.step("PC1234 sets up the phone (encrypted SQLite store, one automerge actor per install)");
    let key_1234 = key();
    let store_1234 = dir.path().join("pc1234.fbk");
    let mut pc1234 = Device::init(
        &store_1234,
        &key_1234,
        OfficerId::new("PC1234")?,
        Role::Officer,
        Arc::clone(&clock),
    )?;
    t.say(format!(
        "officer {} ({}), actor {}",
        pc1234.user().officer,
        pc1234.user().role.as_str(),
        pc1234.actor_hex()
    ));
    t.say("no signal from here until step 9");
    t.done();

    let now = clock.now();
    let earlier = |mins: i64| Timestamp(now.0 - time::Duration::minutes(mins)).to_rfc3339();

    t.step("The victim's details go into a person record — the only place personal data lives");
    let victim = pc1234.create(RecordKind::Person, None)?.id();
    set(
        &mut pc1234,
        victim,
        &[
            r#"names+={"given":"Alex","family":"Morgan"}"#,
            &format!("date_of_birth={}-01-01", now.0.year() - 15),
            "contact.phone=07700 900123",
        ],
    )?;
    t.say(format!("person {victim} (aged 15)"));
    t.done();

    t.step("The crime report: assault with injury, domestic abuse; PC5678 attended too");
    let crime = pc1234.create(RecordKind::CrimeReport, None)?.id();
    set(
        &mut pc1234,
        crime,
        &[
            "classification=8N",
            &format!("reported_at={}", earlier(40)),
            &format!("occurred_from={}", earlier(90)),
            "location.description=Flat 2, Example Road (front door)",
            "location.lat=53.4808",
            "location.lon=-2.2426",
            &format!("victims+={victim}"),
            r#"attending_officers=["PC5678"]"#,
            "flags.domestic_abuse=true",
            "narrative=Victim states her partner pushed her against the door frame during an argument.",
            r#"thrive={"threat":"partner still nearby","harm":"physical injury","risk":"high","investigation":"arrest enquiries","vulnerability":"under 18","engagement":"supportive","advice_given":"safety plan, refuge contact"}"#,
            "recording_decision.decision=crimed",
            &format!("recording_decision.decided_at={}", earlier(5)),
        ],
    )?;
    t.say(format!(
        "crime {crime}: 8N assault with injury, victim {victim}"
    ));
    t.done();

    t.step(
        "Submitting before the victim's needs assessment is done is refused, with every finding",
    );
    report_refusal(&t, pc1234.submit(crime));
    t.done();

    t.step("The victim needs assessment (Victims' Code): enhanced rights, consent, safe contact");
    let vna = pc1234.create(RecordKind::VictimNeedsAssessment, None)?.id();
    set(
        &mut pc1234,
        vna,
        &[
            &format!("crime_id={crime}"),
            &format!("victim_id={victim}"),
            r#"enhanced_rights=["domestic-abuse","under-18"]"#,
            r#"contact={"channel":"in-person","safe_contact_method":"via school safeguarding lead","automatic_messages":false}"#,
            &format!(
                r#"referral={{"decision":"referred","explicit_consent":true,"decided_at":"{0}","referred_at":"{0}"}}"#,
                earlier(2)
            ),
            "vps=offered",
            "acknowledgement_given=true",
        ],
    )?;
    let findings = pc1234.check(crime)?;
    t.say(format!(
        "the crime report now passes every rule ({} warning(s))",
        findings.len()
    ));
    t.done();

    t.step("A stop and search under s23 Misuse of Drugs Act, first without grounds");
    let search = pc1234.create(RecordKind::StopSearch, None)?.id();
    set(
        &mut pc1234,
        search,
        &[
            "type=Person search",
            "legislation=Misuse of Drugs Act 1971 (section 23)",
            "object_of_search=Controlled drugs",
            "location.description=Bus shelter, Market Street",
            "outcome=A no further action disposal",
            "removal_of_more_than_outer_clothing=false",
            "injury_or_damage=false",
            "self_defined_ethnicity=Other ethnic group - Not stated",
            "officer_defined_ethnicity=White",
            "gender=Male",
            r#"age={"years":23,"estimated":true}"#,
            "person_description=Male, early twenties, grey hooded top",
            "bwv_used=true",
            "receipt_given=true",
        ],
    )?;
    report_refusal(&t, pc1234.submit(search));
    t.say("boilerplate grounds:");
    set(
        &mut pc1234,
        search,
        &["grounds=Acting suspiciously in a high crime area"],
    )?;
    report_refusal(&t, pc1234.submit(search));
    t.done();

    t.step("Specific grounds: the search is accepted, and the receipt prints offline");
    set(
        &mut pc1234,
        search,
        &[
            "grounds=Saw him take a small clear bag of green herbal material from his sock and pass it to another male; strong smell of cannabis from that bag.",
        ],
    )?;
    pc1234.submit(search)?;
    t.say(format!(
        "stop-search {search} is {}",
        pc1234.status(search)?
    ));
    for line in pc1234.receipt(search)?.lines() {
        t.say(format!("  {line}"));
    }
    t.done();

    t.step("Every read of the victim's personal data is logged");
    pc1234.get(victim)?;
    for e in pc1234.access_log(victim)? {
        t.say(format!("{} {} ({})", e.officer, e.action, e.purpose));
    }
    t.say(format!(
        "unsynced on the phone: {} records",
        pc1234.sync_status()?.unsynced
    ));
    t.done();

    // -----------------------------------------------------------------------------------------
    // Signal returns
    // -----------------------------------------------------------------------------------------
    t.step("Signal returns: the force's server starts (embedded, loopback, ephemeral port)");
    let db = dir.path().join("server.db");
    // A random key for the demo's temporary server database (a force keeps its key in a file).
    let server_key = key();
    let config = ServerConfig::new(
        "127.0.0.1:0".parse().map_err(demo_error)?,
        &db,
        server_key.clone(),
    );
    let server = fieldbook_server::start(config).await.map_err(demo_error)?;
    let url = server.url();
    t.say(format!("server listening at {url}"));
    let admin = Admin::open(&db, &server_key).map_err(demo_error)?;
    t.done();

    t.step("Four devices enrol with one-time codes: two officers, a PCSO, a supervisor (team A)");
    let mut devices = Vec::new();
    for (officer, name, role) in [
        ("PC5678", "Sam Patel", Role::Officer),
        ("PCSO42", "Jo Green", Role::Pcso),
        ("PS99", "Chris Lee", Role::Supervisor),
    ] {
        let path = dir.path().join(format!("{}.fbk", officer.to_lowercase()));
        let device = Device::init(
            &path,
            &key(),
            OfficerId::new(officer)?,
            role,
            Arc::clone(&clock),
        )?;
        devices.push((name, device));
    }
    for device in std::iter::once(&mut pc1234).chain(devices.iter_mut().map(|(_, d)| d)) {
        let officer = device.user().officer.clone();
        let role = device.user().role;
        let name = match officer.as_str() {
            "PC1234" => "Alex Kerr",
            "PC5678" => "Sam Patel",
            "PCSO42" => "Jo Green",
            _ => "Chris Lee",
        };
        let code = admin
            .enrol(&officer, name, role, Some("A"))
            .map_err(demo_error)?;
        let enrolled = device
            .enrol(&url, &code, &format!("{officer} demo device"))
            .await?;
        t.say(format!(
            "{officer:<7} {:<10} code {code} → device {}",
            role.as_str(),
            enrolled.device_id
        ));
    }
    let [(_, pc5678), (_, pcso42), (_, ps99)] = &mut devices[..] else {
        return Err(demo_error("four devices expected"));
    };
    t.done();

    t.step("PC1234 syncs: everything recorded offline goes up in one round trip");
    sync_and_report(&t, &mut pc1234).await?;
    t.done();

    t.step("PC5678 syncs and receives the report they attended, with its victim and assessment");
    sync_and_report(&t, pc5678).await?;
    for p in pc5678.list(&RecordQuery::default())? {
        t.say(format!("  {} {} by {}", p.kind.as_str(), p.id, p.author));
    }
    t.done();

    t.step("Both officers add to the same report offline, and both set the time it ended");
    set(
        &mut pc1234,
        crime,
        &[
            "narrative+= Victim had a cut lip; photographed.",
            &format!("occurred_to={}", earlier(80)),
        ],
    )?;
    set(
        pc5678,
        crime,
        &[
            "narrative+= Neighbour at number 4 heard shouting at 20:15.",
            &format!("occurred_to={}", earlier(75)),
        ],
    )?;
    t.say("PC1234: narrative += 'Victim had a cut lip…', occurred_to = 80 min ago");
    t.say("PC5678: narrative += 'Neighbour at number 4…', occurred_to = 75 min ago");
    t.done();

    t.step("Both sync; the narratives merge, the legal field conflict is surfaced, not settled");
    sync_and_report(&t, &mut pc1234).await?;
    sync_and_report(&t, pc5678).await?;
    sync_and_report(&t, &mut pc1234).await?;
    let (Record::Crime(a), Record::Crime(b)) = (pc1234.get(crime)?, pc5678.get(crime)?) else {
        return Err(demo_error("a crime report expected"));
    };
    if a != b {
        return Err(demo_error(
            "the two officers' devices did not converge after sync",
        ));
    }
    t.say("both devices identical: yes");
    t.say(format!("narrative: {}", a.narrative));
    for c in pc1234.conflicts(crime)? {
        let values: Vec<String> = c
            .values
            .iter()
            .map(|v| {
                format!(
                    "{} by {}",
                    v.value,
                    v.by.as_ref().map_or("?".into(), |o| o.to_string())
                )
            })
            .collect();
        t.say(format!("CONFLICT {}: {}", c.field, values.join(" vs ")));
    }
    t.done();

    t.step("PC1234 resolves it (PC5678's time, from the 999 call log), submits, and syncs");
    pc1234.resolve_conflict(
        crime,
        "occurred_to",
        &serde_json::Value::String(earlier(75)),
    )?;
    pc1234.submit(crime)?;
    sync_and_report(&t, &mut pc1234).await?;
    t.say(format!(
        "conflicts left: {}; crime is {}",
        pc1234.conflicts(crime)?.len(),
        pc1234.status(crime)?
    ));
    t.done();

    t.step("PCSO42 logs noise nuisance on patrol (a PCSO cannot record a stop and search)");
    match pcso42.create(RecordKind::StopSearch, None) {
        Err(e) => t.say(format!("stop-search refused: {e}")),
        Ok(_) => t.say("UNEXPECTED: a PCSO created a stop-search"),
    }
    let issue = pcso42.create(RecordKind::NeighbourhoodIssue, None)?.id();
    set(
        pcso42,
        issue,
        &[
            "asb_type=noise",
            "qualifier=nuisance",
            "location.description=Park gates, Mill Lane",
            "anonymous_reporter=true",
            "narrative=Amplified music after 23:00 three nights running.",
        ],
    )?;
    pcso42.submit(issue)?;
    sync_and_report(&t, pcso42).await?;
    t.done();

    t.step("The supervisor's device receives the team's review queue, oldest report first");
    sync_and_report(&t, ps99).await?;
    let queue = ps99.review_queue()?;
    say_queue(&t, &queue);
    for id in [crime, search, issue] {
        if !queue.iter().any(|q| q.id == id && q.can_approve) {
            return Err(demo_error(format!(
                "{id} is not in the queue ready to approve"
            )));
        }
    }
    t.done();

    t.step("PS99 returns the issue with a reason, approves the search and the crime report, syncs");
    let reason = "Say which houses the music came from and the nights it happened.";
    ps99.return_to_author(issue, reason)?;
    ps99.approve(search)?;
    ps99.approve(crime)?;
    t.say(format!("returned issue {issue}: {reason}"));
    t.say(format!(
        "approved stop-search {search} and crime {crime} at their current versions"
    ));
    sync_and_report(&t, ps99).await?;
    t.done();

    t.step(
        "PCSO42 syncs and finds the issue returned to them, with the reason; fixes and resubmits",
    );
    sync_and_report(&t, pcso42).await?;
    let returned = pcso42.returned_to_me()?;
    let Some(task) = returned.iter().find(|r| r.id == issue) else {
        return Err(demo_error("the returned issue did not reach PCSO42"));
    };
    t.say(format!(
        "returned to me: {} {} by {} — \"{}\"",
        task.kind.as_str(),
        task.id,
        task.by,
        task.reason
    ));
    set(
        pcso42,
        issue,
        &["narrative+= From numbers 12 and 14 Mill Lane, Friday to Sunday."],
    )?;
    pcso42.submit(issue)?;
    sync_and_report(&t, pcso42).await?;
    t.done();

    t.step("PC1234 re-opens the approved crime report to add a late witness, and resubmits");
    sync_and_report(&t, &mut pc1234).await?;
    if pc1234.status(crime)? != Status::Approved {
        return Err(demo_error("PC1234 does not see the crime report approved"));
    }
    match pc1234.set_fields(crime, &["narrative+= Edited quietly.".to_owned()]) {
        Err(e) => t.say(format!("editing it without re-opening: {e}")),
        Ok(_) => {
            return Err(demo_error(
                "an approved record was edited without re-opening",
            ));
        }
    }
    pc1234.reopen(crime, "A second neighbour came forward as a witness")?;
    set(
        &mut pc1234,
        crime,
        &["narrative+= Neighbour at number 6 saw the suspect leave at 20:30."],
    )?;
    pc1234.submit(crime)?;
    sync_and_report(&t, &mut pc1234).await?;
    t.done();

    t.step("PS99's queue: the crime report is back, changed since approval, with the diff");
    sync_and_report(&t, ps99).await?;
    let queue = ps99.review_queue()?;
    say_queue(&t, &queue);
    let back = queue
        .iter()
        .find(|q| q.id == crime)
        .ok_or_else(|| demo_error("the amended crime report is not back in the queue"))?;
    if back.approval.changed_fields().is_empty() {
        return Err(demo_error(
            "the amended crime report shows no diff since approval",
        ));
    }
    if !queue.iter().any(|q| q.id == issue) {
        return Err(demo_error("the resubmitted issue is not in the queue"));
    }
    ps99.approve(crime)?;
    ps99.approve(issue)?;
    sync_and_report(&t, ps99).await?;
    t.say(format!(
        "approved again; queue now holds {} record(s)",
        ps99.review_queue()?.len()
    ));
    t.done();

    t.step("The server's receipt time is kept on the device for every change");
    let receipts = pc1234.receipts(crime)?;
    t.say(format!(
        "{} changes to the crime report, each with its server receipt time",
        receipts.len()
    ));
    t.done();

    server.shutdown().await;
    drop(devices);
    outln!(
        "\nDone in {:.0} ms. The devices' stores and the server database are deleted with the temporary directory.",
        t.started.elapsed().as_secs_f64() * 1000.0
    );
    wrong_key_check(&store_1234, pc1234)?;
    Ok(())
}

async fn sync_and_report(t: &Transcript, device: &mut Device) -> Result<(), Error> {
    let started = Instant::now();
    let r = device.sync(&NoProgress).await?;
    t.say(format!(
        "{:<7} synced in {:>3.0} ms: up {} record(s) / {} change(s) / {} B, down {} change(s) + {} new record(s) / {} B, {} round trip(s)",
        device.user().officer,
        started.elapsed().as_secs_f64() * 1000.0,
        r.pushed_records,
        r.pushed_changes,
        r.pushed_bytes,
        r.pulled_changes,
        r.pulled_snapshots,
        r.pulled_bytes,
        r.round_trips
    ));
    Ok(())
}

fn wrong_key_check(path: &Path, device: Device) -> Result<(), Error> {
    drop(device);
    match Device::open(path, &DatabaseKey::Raw([0u8; 32]), Arc::new(SystemClock)) {
        Err(e) => outln!("Opening PC1234's store with another key: {e}"),
        Ok(_) => outln!("UNEXPECTED: the wrong key opened the store"),
    }
    Ok(())
}

fn say_queue(t: &Transcript, queue: &[fieldbook_core::device::QueueItem]) {
    for q in queue {
        let state = match &q.approval {
            ApprovalState::ChangedSinceApproval { by, .. } => {
                format!(", CHANGED SINCE APPROVAL by {by}")
            }
            _ => String::new(),
        };
        t.say(format!(
            "  queue: {:<11} {} by {:<7} reported {} min ago, {} finding(s){state}{}",
            q.kind.as_str(),
            q.id,
            q.author,
            q.waiting_ms / 60_000,
            q.findings.len(),
            if q.can_approve {
                ""
            } else {
                ", cannot be approved"
            }
        ));
        for d in q.approval.changed_fields() {
            t.say(format!("    {}: {} → {}", d.field, d.old, d.new));
        }
    }
    t.say(format!("{} record(s) waiting for review", queue.len()));
}

fn report_refusal(t: &Transcript, result: Result<Record, Error>) {
    match result {
        Err(Error::Refused { findings }) => {
            t.say(format!("refused: {} finding(s)", findings.len()));
            for f in findings {
                t.say(format!("  {:<28} {} [{}]", f.field, f.message, f.rule));
            }
        }
        Err(e) => t.say(format!("error: {e}")),
        Ok(r) => t.say(format!("UNEXPECTED: {} was accepted", r.id())),
    }
}
