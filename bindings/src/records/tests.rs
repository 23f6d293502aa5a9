//! Round trips core → FFI → core for every kind, and bad values refused with the field named.
//!
//! The fixtures are struct literals with every field named and every option set, so a field added
//! in core must be filled in here too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fieldbook_core::Error;
use fieldbook_core::domain;

use super::*;

fn id(n: u8) -> domain::RecordId {
    format!("0192f3c4-6d1e-7a9b-8c2d-3e4f5a6b7c{n:02x}")
        .parse()
        .expect("record id")
}

fn officer(collar: &str) -> domain::OfficerId {
    domain::OfficerId::new(collar).expect("officer id")
}

fn at(millis: i64) -> domain::Timestamp {
    domain::Timestamp::from_millis(millis).expect("timestamp")
}

/// 2026-11-22T21:04:05.123Z, and later times from it.
const NOW: i64 = 1_795_381_445_123;

fn meta(kind: domain::RecordKind) -> domain::RecordMeta {
    domain::RecordMeta {
        id: id(1),
        kind,
        author: officer("PC1234"),
        created_at: at(NOW),
        server_received_at: Some(at(NOW + 60_000)),
        workflow: vec![
            domain::WorkflowEvent {
                action: domain::WorkflowAction::Submitted,
                by: officer("PC1234"),
                role: domain::Role::Officer,
                at: at(NOW + 120_000),
                reason: None,
                heads: vec![],
            },
            domain::WorkflowEvent {
                action: domain::WorkflowAction::Approved,
                by: officer("PS-77"),
                role: domain::Role::Supervisor,
                at: at(NOW + 180_000),
                reason: Some("complete".into()),
                heads: vec!["ab12".into(), "cd34".into()],
            },
        ],
    }
}

fn location() -> domain::Location {
    domain::Location {
        lat: Some(51.5072),
        lon: Some(-0.1276),
        accuracy_m: Some(8.5),
        description: Some("outside the library".into()),
        street: Some("High Street".into()),
        ward: Some("Central".into()),
    }
}

fn thrive() -> domain::Thrive {
    domain::Thrive {
        threat: "t".into(),
        harm: "h".into(),
        risk: "r".into(),
        investigation: "i".into(),
        vulnerability: "v".into(),
        engagement: "e".into(),
        advice_given: "a".into(),
    }
}

fn communication() -> domain::CommunicationNeeds {
    domain::CommunicationNeeds {
        interpreter_language: Some("Polish".into()),
        easy_read: true,
        braille: true,
        intermediary: true,
    }
}

fn crime() -> domain::Record {
    domain::Record::Crime(domain::CrimeReport {
        meta: meta(domain::RecordKind::CrimeReport),
        reported_at: Some(at(NOW)),
        // A non-recent crime: before 1970.
        occurred_from: Some(at(-141_264_000_000)),
        occurred_to: Some(at(-141_177_600_001)),
        location: Some(location()),
        attending_officers: vec![officer("PC2001"), officer("PC2002")],
        classification: Some(domain::Classification {
            offence: domain::Coded {
                code: "8N".into(),
                label: "Assault with injury".into(),
            },
            category: "violent-crime".into(),
        }),
        reclassification_reason: Some("injury found".into()),
        recording_decision: Some(domain::RecordingDecision {
            decision: domain::RecordingDecisionKind::NotCrimed,
            decided_at: at(NOW + 1),
            rationale: Some("additional verifiable information".into()),
        }),
        narrative: "what happened".into(),
        victims: vec![id(10), id(11), id(12)],
        suspects: vec![id(20)],
        witnesses: vec![id(30)],
        property: vec![domain::PropertyItem {
            description: "phone".into(),
            exhibit_ref: Some("EX/1".into()),
            value_pence: Some(45_000),
        }],
        attachments: vec![domain::Attachment {
            sha256: "00ff".repeat(16),
            media_type: "image/jpeg".into(),
            caption: Some("injury".into()),
        }],
        flags: domain::CrimeFlags {
            domestic_abuse: true,
            hate_crime: true,
            repeat_victim: true,
            vulnerable_victim: true,
        },
        thrive: Some(thrive()),
        outcome: Some(domain::Coded {
            code: "16".into(),
            label: "Victim does not support action".into(),
        }),
        victim_decision: Some(domain::VictimDecision {
            victim_id: id(10),
            recorded_at: at(NOW + 2),
            method: "signed statement".into(),
            evidence_ref: "MG11/4".into(),
        }),
        assessment_exemptions: vec![domain::AssessmentExemption {
            victim_id: id(11),
            reason: domain::NoAssessmentReason::Safety,
            note: Some("shared phone".into()),
        }],
    })
}

fn vna() -> domain::Record {
    domain::Record::Vna(domain::VictimNeedsAssessment {
        meta: meta(domain::RecordKind::VictimNeedsAssessment),
        crime_id: Some(id(2)),
        victim_id: Some(id(10)),
        assessed_at: Some(at(NOW + 3)),
        enhanced_rights: vec!["domestic-abuse".into(), "persistently-targeted".into()],
        enhanced_rights_overrides: vec![domain::EnhancedRightsOverride {
            category: "vulnerable".into(),
            reason: "not vulnerable on assessment".into(),
        }],
        communication: communication(),
        contact: Some(domain::ContactPreferences {
            channel: domain::ContactChannel::InPerson,
            frequency: Some("weekly".into()),
            safe_contact_method: Some("via sister".into()),
            automatic_messages: true,
        }),
        referral: Some(domain::Referral {
            decision: domain::ReferralDecision::Referred,
            explicit_consent: Some(true),
            decided_at: at(NOW + 4),
            referred_at: Some(at(NOW + 5)),
        }),
        vps: Some(domain::VpsStatus::Made),
        acknowledgement_given: true,
        notes: "notes".into(),
    })
}

fn stop_search() -> domain::Record {
    domain::Record::StopSearch(domain::StopSearch {
        meta: meta(domain::RecordKind::StopSearch),
        search_type: Some("Person search".into()),
        detained_at: Some(at(NOW)),
        searched_at: Some(at(NOW + 30_000)),
        location: Some(location()),
        search_location: Some(domain::Location {
            ward: Some("North".into()),
            ..location()
        }),
        legislation: Some("Misuse of Drugs Act 1971 (section 23)".into()),
        object_of_search: Some("Controlled drugs".into()),
        grounds: Some("specific grounds".into()),
        authorisation_ref: Some("S60/2026/14".into()),
        outcome: Some("A no further action disposal".into()),
        outcome_linked_to_object_of_search: Some(false),
        removal_of_more_than_outer_clothing: Some(false),
        injury_or_damage: Some(true),
        injury_or_damage_details: Some("graze".into()),
        self_defined_ethnicity: Some("Not stated".into()),
        officer_defined_ethnicity: Some("White".into()),
        gender: Some("Male".into()),
        age: Some(domain::AgeEvidence {
            years: 19,
            estimated: true,
        }),
        age_range: Some("18-24".into()),
        vehicle_registration: Some("AB12 CDE".into()),
        bwv_used: Some(false),
        bwv_reason: Some("battery failed".into()),
        receipt_given: Some(false),
        receipt_not_given_reason: Some("called away".into()),
        receipt_reference: "SS-20261122-5A6B7C01".into(),
        person_id: Some(id(20)),
        person_description: Some("tall, grey coat".into()),
        operation_name: Some("Op Nightjar".into()),
    })
}

fn issue() -> domain::Record {
    domain::Record::Issue(domain::NeighbourhoodIssue {
        meta: meta(domain::RecordKind::NeighbourhoodIssue),
        reported_at: Some(at(NOW)),
        location: Some(location()),
        attending_officers: vec![officer("PCSO-5501")],
        asb_type: Some("ASB-NUISANCE".into()),
        qualifier: Some("nuisance".into()),
        reporter_id: Some(id(40)),
        anonymous_reporter: true,
        flags: domain::IssueFlags {
            repeat: true,
            vulnerable: true,
        },
        thrive: Some(thrive()),
        narrative: "noise".into(),
        actions_taken: "letter".into(),
        sara_plan_ref: Some("SARA-9".into()),
        linked_crime_id: Some(id(2)),
    })
}

fn person() -> domain::Record {
    domain::Record::Person(domain::Person {
        meta: meta(domain::RecordKind::Person),
        names: vec![
            domain::PersonName {
                given: "Ann".into(),
                family: "Example".into(),
                alias: false,
            },
            domain::PersonName {
                given: "Annie".into(),
                family: "Sample".into(),
                alias: true,
            },
        ],
        date_of_birth: Some(domain::CalendarDate::parse("1990-04-17").expect("date")),
        address: Some("1 High Street".into()),
        contact: domain::ContactDetails {
            phone: Some("07700 900123".into()),
            email: Some("ann@example.invalid".into()),
        },
        communication: communication(),
        description: Some("red coat".into()),
    })
}

fn every_kind() -> [domain::Record; 5] {
    [crime(), vna(), stop_search(), issue(), person()]
}

fn back_to_core(record: Record) -> Result<domain::Record, Error> {
    domain::Record::try_from(record)
}

#[test]
fn every_kind_of_record_comes_back_from_the_ffi_unchanged() {
    for original in every_kind() {
        let kind = original.kind();
        let back = back_to_core(Record::from(original.clone())).expect("round trip");
        assert_eq!(back, original, "{kind}");
    }
}

#[test]
fn each_kind_becomes_its_own_variant() {
    let variants: Vec<&str> = every_kind()
        .into_iter()
        .map(|r| match Record::from(r) {
            Record::Crime { .. } => "crime",
            Record::Vna { .. } => "vna",
            Record::StopSearch { .. } => "stop-search",
            Record::Issue { .. } => "issue",
            Record::Person { .. } => "person",
        })
        .collect();
    assert_eq!(variants, ["crime", "vna", "stop-search", "issue", "person"]);
}

#[test]
fn ids_dates_and_times_reach_the_apps_as_plain_values() {
    let Record::Person { value } = Record::from(person()) else {
        panic!("not a person");
    };
    assert_eq!(value.meta.id, "0192f3c4-6d1e-7a9b-8c2d-3e4f5a6b7c01");
    assert_eq!(value.meta.author, "PC1234");
    assert_eq!(value.date_of_birth.as_deref(), Some("1990-04-17"));
    assert_eq!(
        value.meta.created_at,
        UNIX_EPOCH + Duration::from_millis(NOW as u64)
    );
    assert_eq!(value.meta.kind, RecordKind::Person);
}

#[test]
fn a_time_before_1970_crosses_both_ways() {
    // 1965-07-11T00:00:00.250Z: a non-recent crime.
    let core = at(-141_264_000_000 + 250);
    let ffi = fields::time_to_ffi(core);
    assert_eq!(
        ffi,
        UNIX_EPOCH - Duration::from_millis(141_264_000_000 - 250)
    );
    assert_eq!(fields::timestamp(ffi).expect("pre-1970 time"), core);
}

#[test]
fn times_from_the_apps_are_kept_to_the_nearest_millisecond() {
    let later = UNIX_EPOCH + Duration::from_nanos(1_500_999_999);
    assert_eq!(fields::timestamp(later).expect("time"), at(1_501));
    let earlier = UNIX_EPOCH - Duration::from_nanos(1_500_999_999);
    assert_eq!(fields::timestamp(earlier).expect("time"), at(-1_501));
    let exact = UNIX_EPOCH + Duration::from_nanos(1_500_400_000);
    assert_eq!(fields::timestamp(exact).expect("time"), at(1_500));
}

#[test]
fn a_stored_time_back_from_swifts_double_seconds_is_the_same_millisecond() {
    // 1,763,000,000.123 s as a Double is 1763000000.1229999 s.
    let stored = at(1_763_000_000_123);
    let through_double = 1_763_000_000.123_f64;
    let back = UNIX_EPOCH + Duration::from_secs_f64(through_double);
    assert!(
        back < fields::time_to_ffi(stored),
        "the Double lands below the millisecond"
    );
    assert_eq!(fields::timestamp(back).expect("time"), stored);
}

#[test]
fn a_collar_number_from_the_apps_is_upper_cased_by_the_core() {
    let Record::Crime { mut value } = Record::from(crime()) else {
        panic!("not a crime");
    };
    value.attending_officers = vec!["pc2001".into()];
    let domain::Record::Crime(back) = back_to_core(Record::Crime { value }).expect("valid") else {
        panic!("not a crime");
    };
    assert_eq!(back.attending_officers, [officer("PC2001")]);
}

/// Far beyond year 9999 (about year 14,700).
fn beyond_range() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(400_000_000_000)
}

/// A bad value the app might send, and how the core must refuse it.
struct BadValue {
    what: &'static str,
    record: Record,
    field: &'static str,
    rule: &'static str,
    /// The bad value itself, which the message must not repeat.
    value: &'static str,
}

fn bad_values() -> Vec<BadValue> {
    let crime = || match Record::from(crime()) {
        Record::Crime { value } => value,
        _ => unreachable!(),
    };
    let vna = || match Record::from(vna()) {
        Record::Vna { value } => value,
        _ => unreachable!(),
    };
    let stop_search = || match Record::from(stop_search()) {
        Record::StopSearch { value } => value,
        _ => unreachable!(),
    };
    let issue = || match Record::from(issue()) {
        Record::Issue { value } => value,
        _ => unreachable!(),
    };
    let person = || match Record::from(person()) {
        Record::Person { value } => value,
        _ => unreachable!(),
    };
    let mut cases = Vec::new();
    let mut case = |what, record, field, rule, value| {
        cases.push(BadValue {
            what,
            record,
            field,
            rule,
            value,
        })
    };

    let mut c = crime();
    c.victims[2] = "Jane Doe".into();
    case(
        "a third victim that is a name",
        Record::Crime { value: c },
        "victims[2]",
        "record-id",
        "Jane Doe",
    );
    let mut c = crime();
    c.meta.id = "not-a-uuid".into();
    case(
        "a record id",
        Record::Crime { value: c },
        "meta.id",
        "record-id",
        "not-a-uuid",
    );
    let mut c = crime();
    c.meta.created_at = beyond_range();
    case(
        "a creation time",
        Record::Crime { value: c },
        "meta.created_at",
        "time-range",
        "",
    );
    let mut c = crime();
    c.meta.workflow[1].by = "Sgt Smith".into();
    case(
        "an approver",
        Record::Crime { value: c },
        "meta.workflow[1].by",
        "officer-id",
        "Sgt Smith",
    );
    let mut c = crime();
    c.attending_officers[1] = "X".into();
    case(
        "an attending officer",
        Record::Crime { value: c },
        "attending_officers[1]",
        "officer-id",
        "",
    );
    let mut c = crime();
    c.assessment_exemptions[0].victim_id = String::new();
    case(
        "an exempted victim",
        Record::Crime { value: c },
        "assessment_exemptions[0].victim_id",
        "record-id",
        "",
    );
    let mut c = crime();
    if let Some(d) = c.victim_decision.as_mut() {
        d.recorded_at = beyond_range();
    }
    case(
        "a victim decision time",
        Record::Crime { value: c },
        "victim_decision.recorded_at",
        "time-range",
        "",
    );
    let mut c = crime();
    if let Some(d) = c.recording_decision.as_mut() {
        d.decided_at = beyond_range();
    }
    case(
        "a recording decision time",
        Record::Crime { value: c },
        "recording_decision.decided_at",
        "time-range",
        "",
    );

    let mut v = vna();
    v.crime_id = Some("crime 42".into());
    case(
        "an assessment's crime",
        Record::Vna { value: v },
        "crime_id",
        "record-id",
        "crime 42",
    );
    let mut v = vna();
    if let Some(r) = v.referral.as_mut() {
        r.referred_at = Some(beyond_range());
    }
    case(
        "a referral time",
        Record::Vna { value: v },
        "referral.referred_at",
        "time-range",
        "",
    );

    let mut s = stop_search();
    s.person_id = Some("John Smith".into());
    case(
        "the person searched",
        Record::StopSearch { value: s },
        "person_id",
        "record-id",
        "John Smith",
    );
    let mut s = stop_search();
    s.meta.author = "constable with spaces".into();
    case(
        "a search's author",
        Record::StopSearch { value: s },
        "meta.author",
        "officer-id",
        "constable with spaces",
    );

    let mut i = issue();
    i.linked_crime_id = Some("?".into());
    case(
        "an issue's crime",
        Record::Issue { value: i },
        "linked_crime_id",
        "record-id",
        "",
    );
    let mut i = issue();
    i.meta.server_received_at = Some(beyond_range());
    case(
        "a server time",
        Record::Issue { value: i },
        "meta.server_received_at",
        "time-range",
        "",
    );

    let mut p = person();
    p.date_of_birth = Some("17/04/1990".into());
    case(
        "a date of birth",
        Record::Person { value: p },
        "date_of_birth",
        "date",
        "17/04/1990",
    );
    let mut p = person();
    p.date_of_birth = Some("1990-02-30".into());
    case(
        "a day that does not exist",
        Record::Person { value: p },
        "date_of_birth",
        "date",
        "1990-02-30",
    );
    cases
}

#[test]
fn a_bad_value_from_the_apps_is_refused_naming_its_field_and_rule_but_not_the_value() {
    for bad in bad_values() {
        match back_to_core(bad.record) {
            Err(Error::Invalid {
                field,
                rule,
                message,
            }) => {
                assert_eq!(
                    (field.as_str(), rule.as_str()),
                    (bad.field, bad.rule),
                    "{}",
                    bad.what
                );
                if !bad.value.is_empty() {
                    assert!(!message.contains(bad.value), "{}: {message}", bad.what);
                }
            }
            other => panic!("{}: expected a bad-input error, got {other:?}", bad.what),
        }
    }
}
