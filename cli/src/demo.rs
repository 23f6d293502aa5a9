//! `fieldbook demo`: a scripted scenario on a temporary encrypted store, printed as a transcript.
//!
//! An officer with no signal records a victim (a person record), a crime with that victim, the
//! victim's needs assessment, and a stop-search that is refused for missing grounds and then
//! accepted. Every step goes through the same `Device` calls the CLI and the apps use.

use fieldbook_core::clock::{Clock, SystemClock};
use fieldbook_core::domain::{OfficerId, RecordId, RecordKind, Role};
use fieldbook_core::storage::DatabaseKey;
use fieldbook_core::{Device, Error};
use std::sync::Arc;
use std::time::Instant;

struct Transcript {
    started: Instant,
    step: u32,
}

impl Transcript {
    fn step(&mut self, what: &str) {
        self.step += 1;
        outln!("\n[{:>2}] {what}", self.step);
    }

    fn say(&self, line: impl AsRef<str>) {
        outln!("     {}", line.as_ref());
    }

    fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }
}

pub fn run() -> Result<(), Error> {
    let dir = tempfile::tempdir().map_err(|e| {
        Error::invalid(
            "demo",
            "temp-dir",
            format!("cannot create a temporary directory: {e}"),
        )
    })?;
    let path = dir.path().join("pc1234.fbk");
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let key = DatabaseKey::Raw(key);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut t = Transcript {
        started: Instant::now(),
        step: 0,
    };

    outln!("Fieldbook demo — one officer, no signal, a temporary encrypted store");

    t.step("PC1234 sets up the device (encrypted SQLite store, one automerge actor per install)");
    let mut device = Device::init(
        &path,
        &key,
        OfficerId::new("PC1234")?,
        Role::Officer,
        Arc::clone(&clock),
    )?;
    t.say(format!(
        "officer {} ({}), actor {}",
        device.user().officer,
        device.user().role.as_str(),
        device.actor_hex()
    ));

    let now = clock.now();
    let earlier = |mins: i64| {
        fieldbook_core::domain::Timestamp(now.0 - time::Duration::minutes(mins)).to_rfc3339()
    };

    t.step("The victim's details go into a person record — the only place personal data lives");
    let victim = device.create(RecordKind::Person, None)?.id();
    device.set_fields(
        victim,
        &[
            r#"names+={"given":"Alex","family":"Morgan"}"#.into(),
            format!("date_of_birth={}", dob_years_ago(&now, 15)),
            "contact.phone=07700 900123".into(),
        ],
    )?;
    t.say(format!("person {victim} (aged 15)"));

    t.step(
        "The crime report: assault with injury, domestic abuse, one victim (by id, not by name)",
    );
    let crime = device.create(RecordKind::CrimeReport, None)?.id();
    device.set_fields(
        crime,
        &[
            "classification=8N".into(),
            format!("reported_at={}", earlier(40)),
            format!("occurred_from={}", earlier(90)),
            format!("occurred_to={}", earlier(75)),
            "location.description=Flat 2, Example Road (front door)".into(),
            "location.lat=53.4808".into(),
            "location.lon=-2.2426".into(),
            format!("victims+={victim}"),
            "flags.domestic_abuse=true".into(),
            "narrative=Victim states her partner pushed her against the door frame during an argument; cut to the lip, photographed.".into(),
            r#"thrive={"threat":"partner still nearby","harm":"physical injury","risk":"high","investigation":"arrest enquiries","vulnerability":"under 18","engagement":"supportive","advice_given":"safety plan, refuge contact"}"#.into(),
            "recording_decision.decision=crimed".into(),
            format!("recording_decision.decided_at={}", earlier(5)),
        ],
    )?;
    t.say(format!(
        "crime {crime}: 8N assault with injury, victim {victim}"
    ));

    t.step(
        "Submitting before the victim's needs assessment is done is refused, with every finding",
    );
    report_refusal(&t, device.submit(crime));

    t.step("The victim needs assessment (Victims' Code): enhanced rights, consent, safe contact");
    let vna = device.create(RecordKind::VictimNeedsAssessment, None)?.id();
    device.set_fields(
        vna,
        &[
            format!("crime_id={crime}"),
            format!("victim_id={victim}"),
            r#"enhanced_rights=["domestic-abuse","under-18"]"#.into(),
            r#"contact={"channel":"in-person","safe_contact_method":"via school safeguarding lead","automatic_messages":false}"#.into(),
            format!(r#"referral={{"decision":"referred","explicit_consent":true,"decided_at":"{0}","referred_at":"{0}"}}"#, earlier(2)),
            "vps=offered".into(),
            "acknowledgement_given=true".into(),
        ],
    )?;
    report_check(&t, &mut device, vna)?;

    t.step("Now the crime report is complete and is submitted for review");
    device.submit(crime)?;
    t.say(format!("crime {crime} is {}", device.status(crime)?));
    match device.set_fields(crime, &["narrative+= Added later.".into()]) {
        Err(e) => t.say(format!("editing it now is refused: {e}")),
        Ok(_) => t.say("UNEXPECTED: a submitted record was edited"),
    }

    t.step("A stop and search under s23 Misuse of Drugs Act, first without grounds");
    let search = device.create(RecordKind::StopSearch, None)?.id();
    device.set_fields(
        search,
        &[
            "type=Person search".into(),
            "legislation=Misuse of Drugs Act 1971 (section 23)".into(),
            "object_of_search=Controlled drugs".into(),
            "location.description=Bus shelter, Market Street".into(),
            "outcome=A no further action disposal".into(),
            "removal_of_more_than_outer_clothing=false".into(),
            "injury_or_damage=false".into(),
            "self_defined_ethnicity=Other ethnic group - Not stated".into(),
            "officer_defined_ethnicity=White".into(),
            "gender=Male".into(),
            r#"age={"years":23,"estimated":true}"#.into(),
            "person_description=Male, early twenties, grey hooded top".into(),
            "bwv_used=true".into(),
            "receipt_given=true".into(),
        ],
    )?;
    report_refusal(&t, device.submit(search));

    t.step("Boilerplate grounds are refused too");
    device.set_fields(
        search,
        &["grounds=Acting suspiciously in a high crime area".into()],
    )?;
    report_refusal(&t, device.submit(search));

    t.step("Specific grounds: the search is accepted, and the receipt prints offline");
    device.set_fields(
        search,
        &["grounds=Saw him take a small clear bag of green herbal material from his sock and pass it to another male; strong smell of cannabis from that bag.".into()],
    )?;
    device.submit(search)?;
    t.say(format!(
        "stop-search {search} is {}",
        device.status(search)?
    ));
    for line in device.receipt(search)?.lines() {
        t.say(line);
    }

    t.step("The audit trail is the document's own change history");
    for h in device
        .history(crime)?
        .iter()
        .filter(|h| !h.field.starts_with("meta"))
        .take(6)
    {
        t.say(format!(
            "{}  {}  {:<22} → {}",
            h.at.map(|a| a.to_rfc3339()).unwrap_or_default(),
            h.by.as_ref().map_or("?".into(), |o| o.to_string()),
            h.field,
            fieldbook_core::limits::preview(&h.new.as_ref().map_or("∅".into(), |v| v.to_string()))
        ));
    }
    t.say("(the victim's name is in no history but the person record's)");

    t.step("Every read of the victim's personal data is logged");
    let _ = device.get(victim)?;
    for e in device.access_log(victim)? {
        t.say(format!("{} {} ({})", e.officer, e.action, e.purpose));
    }

    t.step("Queues on the device");
    t.say(format!("my drafts: {}", device.my_drafts()?.len()));
    t.say(format!(
        "stop-searches needing a receipt: {}",
        device.receipts_needed()?.len()
    ));
    t.say(format!(
        "crime reports with an overdue recording decision: {}",
        device.overdue_decisions()?.len()
    ));
    t.say(format!("records on the device: {}", device.count()?));

    drop(device);
    let reopened = Device::open(&path, &key, clock)?;
    outln!(
        "\nDone in {:.0} ms. The store reopens with its key ({} records); with another key it is refused.",
        t.elapsed_ms(),
        reopened.count()?
    );
    let wrong = DatabaseKey::Raw([0u8; 32]);
    match Device::open(&path, &wrong, Arc::new(SystemClock)) {
        Err(e) => outln!("Wrong key: {e}"),
        Ok(_) => outln!("UNEXPECTED: the wrong key opened the store"),
    }
    Ok(())
}

fn dob_years_ago(now: &fieldbook_core::domain::Timestamp, years: i32) -> String {
    let d = now.0.date();
    let year = d.year() - years;
    // 1 January keeps the age exact whatever today is.
    format!("{year:04}-01-01")
}

fn report_refusal(t: &Transcript, result: Result<fieldbook_core::domain::Record, Error>) {
    match result {
        Err(Error::Refused { findings }) => {
            t.say(format!("refused: {} finding(s)", findings.len()));
            for f in findings {
                t.say(format!("  {:<34} {} [{}]", f.field, f.message, f.rule));
            }
        }
        Err(e) => t.say(format!("error: {e}")),
        Ok(r) => t.say(format!("UNEXPECTED: {} was accepted", r.id())),
    }
}

fn report_check(t: &Transcript, device: &mut Device, id: RecordId) -> Result<(), Error> {
    let findings = device.check(id)?;
    if findings.is_empty() {
        t.say(format!("{id}: every rule passes"));
    }
    for f in findings {
        t.say(format!("  {:<34} {} [{}]", f.field, f.message, f.rule));
    }
    Ok(())
}
