//! Rules as tables: per kind, a valid baseline record, then (case, mutation, expectation) rows.
//! Each row starts from a fresh baseline, so a row tests exactly one change.

use super::*;
use crate::domain::{
    AgeEvidence, AssessmentExemption, CalendarDate, Classification, Coded, ContactChannel,
    ContactPreferences, EnhancedRightsOverride, Location, NeighbourhoodIssue, NoAssessmentReason,
    OfficerId, PersonName, RecordKind, RecordingDecision, RecordingDecisionKind, Referral,
    ReferralDecision, StopSearch, Thrive, VictimDecision, VpsStatus,
};
use crate::refdata::current;

const NOW: &str = "2026-03-10T12:00:00Z";
const SPECIFIC_GROUNDS: &str = "Smelled strong cannabis from the open car window; saw him pass a small bag to the passenger and put it in his sock";

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("test timestamp")
}

fn now() -> Timestamp {
    at(NOW)
}

fn hours_after(t: Timestamp, hours: i64) -> Timestamp {
    Timestamp(t.0 + time::Duration::hours(hours))
}

fn new_record(kind: RecordKind) -> Record {
    Record::new(
        kind,
        RecordId::generate(),
        OfficerId::new("PC1234").expect("collar number"),
        now(),
    )
}

fn place() -> Option<Location> {
    Some(Location {
        description: Some("Junction of the high street and the station approach".into()),
        ..Location::default()
    })
}

fn full_thrive() -> Thrive {
    Thrive {
        threat: "Threats made by phone".into(),
        harm: "Minor injury".into(),
        risk: "Medium".into(),
        investigation: "CCTV requested".into(),
        vulnerability: "Lives alone".into(),
        engagement: "Engaging".into(),
        advice_given: "Safety advice and helpline number".into(),
    }
}

fn date(y: i32, m: u8, d: u8) -> CalendarDate {
    let month = time::Month::try_from(m).expect("month");
    CalendarDate(time::Date::from_calendar_date(y, month, d).expect("date"))
}

fn person(given: &str, family: &str, born: CalendarDate) -> Person {
    let Record::Person(mut p) = new_record(RecordKind::Person) else {
        unreachable!("a person record")
    };
    p.names.push(PersonName {
        given: given.into(),
        family: family.into(),
        alias: false,
    });
    p.date_of_birth = Some(born);
    p
}

// ---------------------------------------------------------------------------------------------
// The table runner
// ---------------------------------------------------------------------------------------------

enum Expect {
    /// No finding is an error.
    Passes,
    /// Each of these rule ids is among the findings.
    Has(&'static [&'static str]),
    /// None of these rule ids is among the findings.
    HasNot(&'static [&'static str]),
}

struct Case<T> {
    name: &'static str,
    mutate: fn(&mut T, &mut RuleContext),
    expect: Expect,
}

fn case<T>(name: &'static str, mutate: fn(&mut T, &mut RuleContext), expect: Expect) -> Case<T> {
    Case {
        name,
        mutate,
        expect,
    }
}

fn run_table<T>(baseline: fn() -> (T, RuleContext), wrap: fn(T) -> Record, cases: &[Case<T>]) {
    let mut failures = Vec::new();
    for c in cases {
        let (mut record, mut ctx) = baseline();
        (c.mutate)(&mut record, &mut ctx);
        let findings = check(&wrap(record), &ctx, current());
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
        match c.expect {
            Expect::Passes if !passes(&findings) => {
                failures.push(format!("{}: expected to pass, got {rules:?}", c.name));
            }
            Expect::Has(wanted) => {
                for w in wanted.iter().filter(|w| !rules.contains(w)) {
                    failures.push(format!("{}: expected {w}, got {rules:?}", c.name));
                }
            }
            Expect::HasNot(unwanted) => {
                for u in unwanted.iter().filter(|u| rules.contains(u)) {
                    failures.push(format!("{}: did not expect {u}, got {rules:?}", c.name));
                }
            }
            Expect::Passes => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn rules_of(record: &Record, ctx: &RuleContext) -> Vec<String> {
    check(record, ctx, current())
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Stop and search
// ---------------------------------------------------------------------------------------------

fn stop_search() -> (StopSearch, RuleContext) {
    let Record::StopSearch(mut s) = new_record(RecordKind::StopSearch) else {
        unreachable!("a stop-search record")
    };
    s.search_type = Some("Person search".into());
    s.location = place();
    s.legislation = Some("Misuse of Drugs Act 1971 (section 23)".into());
    s.object_of_search = Some("Controlled drugs".into());
    s.grounds = Some(SPECIFIC_GROUNDS.into());
    s.outcome = Some("Arrest".into());
    s.outcome_linked_to_object_of_search = Some(true);
    s.removal_of_more_than_outer_clothing = Some(false);
    s.injury_or_damage = Some(false);
    s.self_defined_ethnicity = Some("White - English/Welsh/Scottish/Northern Irish/British".into());
    s.officer_defined_ethnicity = Some("White".into());
    s.gender = Some("Male".into());
    s.age = Some(AgeEvidence {
        years: 19,
        estimated: false,
    });
    s.age_range = Some("18-24".into());
    s.bwv_used = Some(true);
    s.receipt_given = Some(true);
    s.person_description = Some("Adult in a grey hooded top".into());
    (s, RuleContext::bare(now(), Role::Officer))
}

fn s60(s: &mut StopSearch) {
    s.legislation = Some("Criminal Justice and Public Order Act 1994 (section 60)".into());
    s.object_of_search = Some("Offensive weapons".into());
    s.grounds = None;
    s.authorisation_ref = Some("S60-2026-014".into());
}

#[test]
fn stop_search_rules_hold_for_every_row_of_the_table() {
    let cases: Vec<Case<StopSearch>> = vec![
        case("the valid baseline passes", |_, _| {}, Expect::Passes),
        case(
            "a PCSO recording a search is refused",
            |_, ctx| ctx.role = Role::Pcso,
            Expect::Has(&["ss-role-pcso"]),
        ),
        case(
            "a supervisor may record a search",
            |_, ctx| ctx.role = Role::Supervisor,
            Expect::Passes,
        ),
        case(
            "no detention time",
            |s, _| s.detained_at = None,
            Expect::Has(&["ss-detained-at-required"]),
        ),
        case(
            "a search before the detention",
            |s, _| s.searched_at = Some(hours_after(now(), -1)),
            Expect::Has(&["ss-search-time-order"]),
        ),
        case(
            "a search after the detention is fine",
            |s, _| s.searched_at = Some(hours_after(now(), 1)),
            Expect::Passes,
        ),
        case(
            "no location",
            |s, _| s.location = None,
            Expect::Has(&["ss-location-required"]),
        ),
        case(
            "a location with only a blank description",
            |s, _| {
                s.location = Some(Location {
                    description: Some("  ".into()),
                    ..Location::default()
                })
            },
            Expect::Has(&["ss-location-required"]),
        ),
        case(
            "no power",
            |s, _| s.legislation = None,
            Expect::Has(&["ss-legislation-required"]),
        ),
        case(
            "a power not spelt as police.uk spells it",
            |s, _| s.legislation = Some("Misuse of Drugs Act s23".into()),
            Expect::Has(&["ss-legislation-known"]),
        ),
        case(
            "no object of search",
            |s, _| s.object_of_search = None,
            Expect::Has(&["ss-object-required"]),
        ),
        case(
            "an unknown object of search",
            |s, _| s.object_of_search = Some("Drugs".into()),
            Expect::Has(&["ss-object-known"]),
        ),
        case(
            "PACE s1 searching for controlled drugs",
            |s, _| s.legislation = Some("Police and Criminal Evidence Act 1984 (section 1)".into()),
            Expect::Has(&["ss-object-permitted"]),
        ),
        case(
            "PACE s1 searching for stolen goods",
            |s, _| {
                s.legislation = Some("Police and Criminal Evidence Act 1984 (section 1)".into());
                s.object_of_search = Some("Stolen goods".into());
            },
            Expect::Passes,
        ),
        case(
            "Firearms Act s47 searching for offensive weapons",
            |s, _| {
                s.legislation = Some("Firearms Act 1968 (section 47)".into());
                s.object_of_search = Some("Offensive weapons".into());
            },
            Expect::Has(&["ss-object-permitted"]),
        ),
        case(
            "a suspicion power with no grounds",
            |s, _| s.grounds = None,
            Expect::Has(&["ss-grounds-required"]),
        ),
        case(
            "a suspicion power with blank grounds",
            |s, _| s.grounds = Some("   ".into()),
            Expect::Has(&["ss-grounds-required"]),
        ),
        case(
            "boilerplate grounds 'acting suspiciously in a high crime area'",
            |s, _| s.grounds = Some("acting suspiciously in a high crime area".into()),
            Expect::Has(&["ss-grounds-specific"]),
        ),
        case(
            "boilerplate grounds strung together",
            |s, _| {
                s.grounds = Some(
                    "Male was nervous and evasive, known to police, smell of cannabis, intelligence suggests he is in the area late at night"
                        .into(),
                )
            },
            Expect::Has(&["ss-grounds-specific"]),
        ),
        case(
            "specific grounds about cannabis passed to a passenger",
            |s, _| s.grounds = Some(SPECIFIC_GROUNDS.into()),
            Expect::HasNot(&["ss-grounds-specific", "ss-grounds-required"]),
        ),
        case(
            "s60 search without authorisation reference",
            |s, _| {
                s60(s);
                s.authorisation_ref = None;
            },
            Expect::Has(&["ss-authorisation-required"]),
        ),
        case(
            "s60 search with an authorisation and no grounds",
            |s, _| s60(s),
            Expect::Passes,
        ),
        case(
            "s47A search without authorisation reference",
            |s, _| {
                s.legislation = Some("Terrorism Act 2000 (section 47A)".into());
                s.object_of_search = Some("Evidence of offences under the Act".into());
            },
            Expect::Has(&["ss-authorisation-required"]),
        ),
        case(
            "no outcome",
            |s, _| s.outcome = None,
            Expect::Has(&["ss-outcome-required"]),
        ),
        case(
            "an outcome not spelt as police.uk spells it",
            |s, _| s.outcome = Some("NFA".into()),
            Expect::Has(&["ss-outcome-known"]),
        ),
        case(
            "an arrest with no link to the object recorded",
            |s, _| s.outcome_linked_to_object_of_search = None,
            Expect::Has(&["ss-outcome-linked-required"]),
        ),
        case(
            "no further action needs no link to the object",
            |s, _| {
                s.outcome = Some("A no further action disposal".into());
                s.outcome_linked_to_object_of_search = None;
            },
            Expect::Passes,
        ),
        case(
            "clothing removal not recorded",
            |s, _| s.removal_of_more_than_outer_clothing = None,
            Expect::Has(&["ss-clothing-removal-required"]),
        ),
        case(
            "injury or damage not recorded",
            |s, _| s.injury_or_damage = None,
            Expect::Has(&["ss-injury-required"]),
        ),
        case(
            "injury recorded without details",
            |s, _| s.injury_or_damage = Some(true),
            Expect::Has(&["ss-injury-details-required"]),
        ),
        case(
            "no self-defined ethnicity",
            |s, _| s.self_defined_ethnicity = None,
            Expect::Has(&["ss-self-defined-ethnicity-required"]),
        ),
        case(
            "a self-defined ethnicity not in the census list",
            |s, _| s.self_defined_ethnicity = Some("White British".into()),
            Expect::Has(&["ss-self-defined-ethnicity-known"]),
        ),
        case(
            "self-defined ethnicity not stated is a valid answer",
            |s, _| s.self_defined_ethnicity = Some("Other ethnic group - Not stated".into()),
            Expect::Passes,
        ),
        case(
            "no officer-defined ethnicity",
            |s, _| s.officer_defined_ethnicity = None,
            Expect::Has(&["ss-officer-defined-ethnicity-required"]),
        ),
        case(
            "an officer-defined ethnicity outside the five groups",
            |s, _| s.officer_defined_ethnicity = Some("Caucasian".into()),
            Expect::Has(&["ss-officer-defined-ethnicity-known"]),
        ),
        case(
            "no gender",
            |s, _| s.gender = None,
            Expect::Has(&["ss-gender-required"]),
        ),
        case(
            "a gender in lower case",
            |s, _| s.gender = Some("male".into()),
            Expect::Has(&["ss-gender-known"]),
        ),
        case(
            "no age",
            |s, _| {
                s.age = None;
                s.age_range = None;
            },
            Expect::Has(&["ss-age-required"]),
        ),
        case(
            "a typed age range that does not match the age",
            |s, _| s.age_range = Some("over 34".into()),
            Expect::Has(&["ss-age-range-derived"]),
        ),
        case(
            "an estimated age with its derived range",
            |s, _| {
                s.age = Some(AgeEvidence {
                    years: 40,
                    estimated: true,
                });
                s.age_range = Some("over 34".into());
            },
            Expect::Passes,
        ),
        case(
            "an age whose range is not yet derived",
            |s, _| s.age_range = None,
            Expect::HasNot(&["ss-age-range-derived"]),
        ),
        case(
            "no search type",
            |s, _| s.search_type = None,
            Expect::Has(&["ss-type-required"]),
        ),
        case(
            "an unknown search type",
            |s, _| s.search_type = Some("Car search".into()),
            Expect::Has(&["ss-type-known"]),
        ),
        case(
            "a vehicle search without registration",
            |s, _| s.search_type = Some("Vehicle search".into()),
            Expect::Has(&["ss-vehicle-registration-required"]),
        ),
        case(
            "a person and vehicle search without registration",
            |s, _| s.search_type = Some("Person and Vehicle search".into()),
            Expect::Has(&["ss-vehicle-registration-required"]),
        ),
        case(
            "a vehicle search with registration",
            |s, _| {
                s.search_type = Some("Vehicle search".into());
                s.vehicle_registration = Some("AB12 CDE".into());
            },
            Expect::Passes,
        ),
        case(
            "body-worn video not recorded",
            |s, _| s.bwv_used = None,
            Expect::Has(&["ss-bwv-required"]),
        ),
        case(
            "body-worn video off without a reason",
            |s, _| s.bwv_used = Some(false),
            Expect::Has(&["ss-bwv-reason-required"]),
        ),
        case(
            "body-worn video off with a reason",
            |s, _| {
                s.bwv_used = Some(false);
                s.bwv_reason = Some("Battery failed at the start of the shift".into());
            },
            Expect::Passes,
        ),
        case(
            "receipt not recorded",
            |s, _| s.receipt_given = None,
            Expect::Has(&["ss-receipt-required"]),
        ),
        case(
            "no receipt and no reason",
            |s, _| s.receipt_given = Some(false),
            Expect::Has(&["ss-receipt-reason-required"]),
        ),
        case(
            "no receipt because called away",
            |s, _| {
                s.receipt_given = Some(false);
                s.receipt_not_given_reason = Some("Called away to an emergency".into());
            },
            Expect::Passes,
        ),
        case(
            "neither a linked person nor a description",
            |s, _| s.person_description = None,
            Expect::Has(&["ss-person-required"]),
        ),
        case(
            "a linked person needs no description",
            |s, _| {
                s.person_description = None;
                s.person_id = Some(RecordId::generate());
            },
            Expect::Passes,
        ),
    ];
    run_table(stop_search, Record::StopSearch, &cases);
}

#[test]
fn grounds_are_specific_only_when_enough_words_remain_after_boilerplate() {
    let reference = current();
    for (grounds, specific) in [
        ("", false),
        ("acting suspiciously in a high crime area", false),
        ("Acting Suspiciously, in a HIGH-CRIME area!", false),
        ("suspicious behaviour, known to police", false),
        (
            "nervous nervous nervous nervous nervous nervous nervous",
            false,
        ),
        ("smell of cannabis", false),
        ("bag bag bag bag bag bag", false),
        (SPECIFIC_GROUNDS, true),
        (
            "Shop security saw him put two bottles of whisky inside his coat and leave without paying",
            true,
        ),
        (
            "Matched the description given by the victim: red jacket, white trainers, carrying a black rucksack, running from the shop",
            true,
        ),
    ] {
        assert_eq!(
            grounds_are_specific(grounds, reference),
            specific,
            "grounds: {grounds:?}"
        );
    }
}

#[test]
fn a_stop_search_with_three_problems_gets_three_findings_at_once() {
    let (mut s, ctx) = stop_search();
    s.gender = None;
    s.bwv_used = None;
    s.grounds = Some("acting suspiciously".into());
    let findings = check(&Record::StopSearch(s), &ctx, current());
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            "ss-bwv-required",
            "ss-gender-required",
            "ss-grounds-specific"
        ]
    );
    assert!(findings.iter().all(|f| f.severity == Severity::Error));
}

#[test]
fn findings_never_repeat_the_grounds_the_officer_wrote() {
    let (mut s, ctx) = stop_search();
    s.grounds = Some("Zebedee looked shifty".into());
    s.legislation = Some("Police and Criminal Evidence Act 1984 (section 1)".into());
    for f in check(&Record::StopSearch(s), &ctx, current()) {
        assert!(!f.message.contains("Zebedee"), "{f}");
        assert!(!f.field.contains("Zebedee"), "{f}");
    }
}

// ---------------------------------------------------------------------------------------------
// Crime report and victim needs assessment
// ---------------------------------------------------------------------------------------------

/// A crimed 8N assault with one adult victim and that victim's completed assessment.
fn crime() -> (CrimeReport, RuleContext) {
    let Record::Crime(mut c) = new_record(RecordKind::CrimeReport) else {
        unreachable!("a crime record")
    };
    let victim = person("Alex", "Example", date(1990, 4, 17));
    c.location = place();
    c.occurred_from = Some(hours_after(now(), -3));
    c.occurred_to = Some(hours_after(now(), -2));
    c.classification = Some(Classification {
        offence: Coded {
            code: "8N".into(),
            label: "Assault with injury".into(),
        },
        category: "violent-crime".into(),
    });
    c.recording_decision = Some(RecordingDecision {
        decision: RecordingDecisionKind::Crimed,
        decided_at: hours_after(now(), 1),
        rationale: None,
    });
    c.victims.push(victim.meta.id);
    let assessment = assessment_for(&c, victim.meta.id);
    let mut ctx = RuleContext::bare(hours_after(now(), 2), Role::Officer);
    ctx.people.push(victim);
    ctx.assessments.push(assessment);
    (c, ctx)
}

fn assessment_for(c: &CrimeReport, victim: RecordId) -> VictimNeedsAssessment {
    let Record::Vna(mut v) = new_record(RecordKind::VictimNeedsAssessment) else {
        unreachable!("a needs assessment record")
    };
    v.crime_id = Some(c.meta.id);
    v.victim_id = Some(victim);
    v.contact = Some(ContactPreferences {
        channel: ContactChannel::Phone,
        frequency: Some("weekly".into()),
        safe_contact_method: None,
        automatic_messages: true,
    });
    v.referral = Some(Referral {
        decision: ReferralDecision::Referred,
        explicit_consent: None,
        decided_at: now(),
        referred_at: Some(now()),
    });
    v.vps = Some(VpsStatus::Offered);
    v.acknowledgement_given = true;
    v
}

fn victim_of(c: &CrimeReport) -> RecordId {
    c.victims[0]
}

fn set_offence(c: &mut CrimeReport, code: &str) {
    let offence = current().offence(code).expect("offence in reference data");
    c.classification = Some(Classification {
        offence: Coded {
            code: offence.code.clone(),
            label: offence.label.clone(),
        },
        category: offence.category.clone(),
    });
}

fn outcome(code: &str) -> Option<Coded> {
    let o = current().outcome(code).expect("outcome in reference data");
    Some(Coded {
        code: o.code.clone(),
        label: o.label.clone(),
    })
}

fn exempt(c: &mut CrimeReport, ctx: &mut RuleContext, reason: NoAssessmentReason, note: &str) {
    ctx.assessments.clear();
    c.assessment_exemptions.push(AssessmentExemption {
        victim_id: victim_of(c),
        reason,
        note: (!note.is_empty()).then(|| note.to_owned()),
    });
}

#[test]
fn crime_report_rules_hold_for_every_row_of_the_table() {
    let cases: Vec<Case<CrimeReport>> = vec![
        case("the valid baseline passes", |_, _| {}, Expect::Passes),
        case(
            "no report time",
            |c, _| c.reported_at = None,
            Expect::Has(&["crime-reported-at-required"]),
        ),
        case(
            "no classification",
            |c, _| c.classification = None,
            Expect::Has(&["crime-classification-required"]),
        ),
        case(
            "an offence code that is not a Home Office code",
            |c, _| {
                if let Some(class) = &mut c.classification {
                    class.offence.code = "8Z".into();
                }
            },
            Expect::Has(&["crime-offence-known"]),
        ),
        case(
            "a category that is not the offence's police.uk category",
            |c, _| {
                if let Some(class) = &mut c.classification {
                    class.category = "public-order".into();
                }
            },
            Expect::Has(&["crime-category-matches"]),
        ),
        case(
            "a label from another year only warns",
            |c, _| {
                if let Some(class) = &mut c.classification {
                    class.offence.label = "Actual bodily harm and other injury".into();
                }
            },
            Expect::Has(&["crime-offence-label"]),
        ),
        case(
            "a label from another year still passes",
            |c, _| {
                if let Some(class) = &mut c.classification {
                    class.offence.label = "Actual bodily harm and other injury".into();
                }
            },
            Expect::Passes,
        ),
        case(
            "no recording decision",
            |c, _| c.recording_decision = None,
            Expect::Has(&["crime-decision-required"]),
        ),
        case(
            "not crimed without a rationale",
            |c, _| {
                if let Some(d) = &mut c.recording_decision {
                    d.decision = RecordingDecisionKind::NotCrimed;
                }
            },
            Expect::Has(&["crime-not-crimed-rationale"]),
        ),
        case(
            "not crimed with a trivial rationale",
            |c, _| {
                if let Some(d) = &mut c.recording_decision {
                    d.decision = RecordingDecisionKind::NotCrimed;
                    d.rationale = Some("no crime".into());
                }
            },
            Expect::Has(&["crime-not-crimed-rationale"]),
        ),
        case(
            "not crimed with a written rationale",
            |c, _| {
                if let Some(d) = &mut c.recording_decision {
                    d.decision = RecordingDecisionKind::NotCrimed;
                    d.rationale = Some(
                        "CCTV shows the injury was caused by a fall; the caller agrees".into(),
                    );
                }
            },
            Expect::HasNot(&["crime-not-crimed-rationale"]),
        ),
        case(
            "a decision made 30 hours after the report",
            |c, ctx| {
                if let Some(d) = &mut c.recording_decision {
                    d.decided_at = hours_after(now(), 30);
                }
                ctx.now = hours_after(now(), 31);
            },
            Expect::Has(&["crime-decision-late"]),
        ),
        case(
            "a late decision warns but does not block",
            |c, _| {
                if let Some(d) = &mut c.recording_decision {
                    d.decided_at = hours_after(now(), 30);
                }
            },
            Expect::Passes,
        ),
        case(
            "a decision made 23 hours after the report is on time",
            |c, _| {
                if let Some(d) = &mut c.recording_decision {
                    d.decided_at = hours_after(now(), 23);
                }
            },
            Expect::HasNot(&["crime-decision-late"]),
        ),
        case(
            "no decision 25 hours after the report",
            |c, ctx| {
                c.recording_decision = None;
                ctx.now = hours_after(now(), 25);
            },
            Expect::Has(&["crime-decision-overdue", "crime-decision-required"]),
        ),
        case(
            "no decision 2 hours after the report is not yet overdue",
            |c, _| c.recording_decision = None,
            Expect::HasNot(&["crime-decision-overdue"]),
        ),
        case(
            "no location",
            |c, _| c.location = None,
            Expect::Has(&["crime-location-required"]),
        ),
        case(
            "occurred to before occurred from",
            |c, _| c.occurred_to = Some(hours_after(now(), -5)),
            Expect::Has(&["crime-occurred-order"]),
        ),
        case(
            "a victim-based crime with no victim",
            |c, ctx| {
                c.victims.clear();
                ctx.assessments.clear();
            },
            Expect::Has(&["crime-victim-required"]),
        ),
        case(
            "possession of drugs needs no victim",
            |c, ctx| {
                set_offence(c, "92D");
                c.victims.clear();
                ctx.assessments.clear();
            },
            Expect::Passes,
        ),
        case(
            "victim-based crime with victim lacking assessment and exemption",
            |_, ctx| ctx.assessments.clear(),
            Expect::Has(&["crime-victim-assessment"]),
        ),
        case(
            "an assessment for another crime does not count",
            |_, ctx| ctx.assessments[0].crime_id = Some(RecordId::generate()),
            Expect::Has(&["crime-victim-assessment"]),
        ),
        case(
            "an incomplete assessment does not count",
            |_, ctx| ctx.assessments[0].acknowledgement_given = false,
            Expect::Has(&["crime-victim-assessment"]),
        ),
        case(
            "the assessment is checked against this crime's flags",
            |c, _| {
                c.flags.domestic_abuse = true;
                c.thrive = Some(full_thrive());
            },
            Expect::Has(&["crime-victim-assessment"]),
        ),
        case(
            "a victim who declined an assessment",
            |c, ctx| exempt(c, ctx, NoAssessmentReason::Declined, ""),
            Expect::Passes,
        ),
        case(
            "a safety exemption without a note",
            |c, ctx| exempt(c, ctx, NoAssessmentReason::Safety, ""),
            Expect::Has(&["crime-exemption-note"]),
        ),
        case(
            "an uncontactable victim with the attempts noted",
            |c, ctx| {
                exempt(
                    c,
                    ctx,
                    NoAssessmentReason::Uncontactable,
                    "Three calls and a visit, no answer",
                )
            },
            Expect::Passes,
        ),
        case(
            "an exemption for someone who is not a victim",
            |c, _| {
                c.assessment_exemptions.push(AssessmentExemption {
                    victim_id: RecordId::generate(),
                    reason: NoAssessmentReason::Declined,
                    note: None,
                })
            },
            Expect::Has(&["crime-exemption-victim"]),
        ),
        case(
            "an unknown outcome code",
            |c, _| {
                c.outcome = Some(Coded {
                    code: "23".into(),
                    label: "Made up".into(),
                })
            },
            Expect::Has(&["crime-outcome-known"]),
        ),
        case(
            "outcome 1 charged",
            |c, _| c.outcome = outcome("1"),
            Expect::Passes,
        ),
        case(
            "outcome 16 without victim_decision",
            |c, _| c.outcome = outcome("16"),
            Expect::Has(&["crime-outcome16-victim-decision"]),
        ),
        case(
            "outcome 16 with a decision from someone who is not a victim",
            |c, _| {
                c.outcome = outcome("16");
                c.victim_decision = Some(VictimDecision {
                    victim_id: RecordId::generate(),
                    recorded_at: now(),
                    method: "Signed statement".into(),
                    evidence_ref: "MG11-0042".into(),
                });
            },
            Expect::Has(&["crime-outcome16-victim-decision"]),
        ),
        case(
            "outcome 16 with a decision missing its evidence reference",
            |c, _| {
                c.outcome = outcome("16");
                c.victim_decision = Some(VictimDecision {
                    victim_id: victim_of(c),
                    recorded_at: now(),
                    method: "Signed statement".into(),
                    evidence_ref: " ".into(),
                });
            },
            Expect::Has(&["crime-outcome16-victim-decision"]),
        ),
        case(
            "outcome 16 with an auditable victim decision",
            |c, _| {
                c.outcome = outcome("16");
                c.victim_decision = Some(VictimDecision {
                    victim_id: victim_of(c),
                    recorded_at: now(),
                    method: "Body-worn video".into(),
                    evidence_ref: "BWV-2026-000123".into(),
                });
            },
            Expect::Passes,
        ),
        case(
            "a vulnerable victim without THRIVE",
            |c, _| c.flags.vulnerable_victim = true,
            Expect::Has(&["crime-thrive-required"]),
        ),
        case(
            "domestic abuse with a half-written THRIVE",
            |c, _| {
                c.flags.domestic_abuse = true;
                c.thrive = Some(Thrive {
                    threat: "High".into(),
                    ..Thrive::default()
                });
            },
            Expect::Has(&["crime-thrive-required"]),
        ),
        case(
            "a vulnerable victim with a full THRIVE",
            |c, _| {
                c.flags.vulnerable_victim = true;
                c.thrive = Some(full_thrive());
            },
            Expect::Passes,
        ),
        case(
            "the same person as victim and suspect",
            |c, _| c.suspects.push(victim_of(c)),
            Expect::Has(&["crime-person-duplicate"]),
        ),
        case(
            "the same victim listed twice",
            |c, _| c.victims.push(victim_of(c)),
            Expect::Has(&["crime-person-duplicate"]),
        ),
        case(
            "a victim who is also a witness is fine",
            |c, _| c.witnesses.push(victim_of(c)),
            Expect::Passes,
        ),
    ];
    run_table(crime, Record::Crime, &cases);
}

#[test]
fn a_crime_with_three_problems_gets_three_findings_at_once() {
    let (mut c, mut ctx) = crime();
    c.location = None;
    c.outcome = outcome("16");
    ctx.assessments.clear();
    let mut rules = rules_of(&Record::Crime(c), &ctx);
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            "crime-location-required",
            "crime-outcome16-victim-decision",
            "crime-victim-assessment"
        ]
    );
}

/// The assessment of the baseline crime, with that crime and its victim in context.
fn vna() -> (VictimNeedsAssessment, RuleContext) {
    let (c, mut ctx) = crime();
    let v = ctx.assessments.remove(0);
    ctx.crime = Some(c);
    (v, ctx)
}

fn crime_in(ctx: &mut RuleContext) -> &mut CrimeReport {
    ctx.crime.as_mut().expect("the baseline has a crime")
}

fn make_victim_15(ctx: &mut RuleContext) {
    // 15 on the day of the offence (2026-03-10).
    ctx.people[0].date_of_birth = Some(date(2010, 6, 1));
}

fn domestic_abuse(v: &mut VictimNeedsAssessment, ctx: &mut RuleContext) {
    let c = crime_in(ctx);
    c.flags.domestic_abuse = true;
    v.enhanced_rights.push("domestic-abuse".into());
    if let Some(contact) = &mut v.contact {
        contact.automatic_messages = false;
        contact.safe_contact_method = Some("Call the work number after 2pm".into());
    }
}

#[test]
fn victim_needs_assessment_rules_hold_for_every_row_of_the_table() {
    let cases: Vec<Case<VictimNeedsAssessment>> = vec![
        case("the valid baseline passes", |_, _| {}, Expect::Passes),
        case(
            "no crime linked",
            |v, _| v.crime_id = None,
            Expect::Has(&["vna-crime-required"]),
        ),
        case(
            "the linked crime is not in context",
            |_, ctx| ctx.crime = None,
            Expect::Has(&["vna-crime-available"]),
        ),
        case(
            "no victim linked",
            |v, _| v.victim_id = None,
            Expect::Has(&["vna-victim-required"]),
        ),
        case(
            "a victim who is not on the crime",
            |v, _| v.victim_id = Some(RecordId::generate()),
            Expect::Has(&["vna-victim-listed"]),
        ),
        case(
            "no assessment time",
            |v, _| v.assessed_at = None,
            Expect::Has(&["vna-assessed-at-required"]),
        ),
        case(
            "an unknown enhanced-rights code",
            |v, _| v.enhanced_rights.push("very-vulnerable".into()),
            Expect::Has(&["vna-enhanced-rights-known"]),
        ),
        case(
            "an override of an unknown category",
            |v, _| {
                v.enhanced_rights_overrides.push(EnhancedRightsOverride {
                    category: "unknown".into(),
                    reason: "Because".into(),
                })
            },
            Expect::Has(&["vna-enhanced-rights-known"]),
        ),
        case(
            "victim aged 15 without under-18",
            |_, ctx| make_victim_15(ctx),
            Expect::Has(&["vna-enhanced-rights-implied"]),
        ),
        case(
            "victim aged 15 with under-18",
            |v, ctx| {
                make_victim_15(ctx);
                v.enhanced_rights.push("under-18".into());
            },
            Expect::Passes,
        ),
        case(
            "under-18 override with reason passes",
            |v, ctx| {
                make_victim_15(ctx);
                v.enhanced_rights_overrides.push(EnhancedRightsOverride {
                    category: "under-18".into(),
                    reason: "Date of birth on record is wrong; victim confirmed age 19".into(),
                });
            },
            Expect::Passes,
        ),
        case(
            "under-18 override with a blank reason",
            |v, ctx| {
                make_victim_15(ctx);
                v.enhanced_rights_overrides.push(EnhancedRightsOverride {
                    category: "under-18".into(),
                    reason: " ".into(),
                });
            },
            Expect::Has(&["vna-enhanced-rights-implied"]),
        ),
        case(
            "a victim 18 on the day of the offence is not under 18",
            |_, ctx| ctx.people[0].date_of_birth = Some(date(2008, 3, 10)),
            Expect::Passes,
        ),
        case(
            "hate crime not carried into enhanced rights",
            |_, ctx| crime_in(ctx).flags.hate_crime = true,
            Expect::Has(&["vna-enhanced-rights-implied"]),
        ),
        case(
            "a repeat victim not marked persistently targeted",
            |_, ctx| crime_in(ctx).flags.repeat_victim = true,
            Expect::Has(&["vna-enhanced-rights-implied"]),
        ),
        case(
            "a repeat victim marked persistently targeted",
            |v, ctx| {
                crime_in(ctx).flags.repeat_victim = true;
                v.enhanced_rights.push("persistently-targeted".into());
            },
            Expect::Passes,
        ),
        case(
            "a sexual offence not carried into enhanced rights",
            |v, ctx| {
                set_offence(crime_in(ctx), "20A");
                if let Some(r) = &mut v.referral {
                    r.explicit_consent = Some(true);
                }
            },
            Expect::Has(&["vna-enhanced-rights-implied"]),
        ),
        case(
            "no referral decision",
            |v, _| v.referral = None,
            Expect::Has(&["vna-referral-required"]),
        ),
        case(
            "domestic abuse referral without explicit consent",
            domestic_abuse,
            Expect::Has(&["vna-referral-consent"]),
        ),
        case(
            "domestic abuse referral with explicit consent",
            |v, ctx| {
                domestic_abuse(v, ctx);
                if let Some(r) = &mut v.referral {
                    r.explicit_consent = Some(true);
                }
            },
            Expect::Passes,
        ),
        case(
            "domestic abuse without consent recorded as no consent",
            |v, ctx| {
                domestic_abuse(v, ctx);
                if let Some(r) = &mut v.referral {
                    r.decision = ReferralDecision::NoConsent;
                    r.referred_at = None;
                }
            },
            Expect::Passes,
        ),
        case(
            "sexual offence referral with consent refused",
            |v, ctx| {
                set_offence(crime_in(ctx), "19C");
                v.enhanced_rights.push("sexual-offence".into());
                if let Some(r) = &mut v.referral {
                    r.explicit_consent = Some(false);
                }
            },
            Expect::Has(&["vna-referral-consent"]),
        ),
        case(
            "bereaved relative referral without explicit consent",
            |v, _| v.enhanced_rights.push("bereaved-relative".into()),
            Expect::Has(&["vna-referral-consent"]),
        ),
        case(
            "an ordinary assault referral needs no explicit consent",
            |_, _| {},
            Expect::HasNot(&["vna-referral-consent"]),
        ),
        case(
            "referred with no referral time",
            |v, _| {
                if let Some(r) = &mut v.referral {
                    r.referred_at = None;
                }
            },
            Expect::Has(&["vna-referred-at-required"]),
        ),
        case(
            "an opt-out needs no referral time",
            |v, _| {
                if let Some(r) = &mut v.referral {
                    r.decision = ReferralDecision::OptedOut;
                    r.referred_at = None;
                }
            },
            Expect::Passes,
        ),
        case(
            "domestic abuse with automatic messages on",
            |v, ctx| {
                domestic_abuse(v, ctx);
                if let Some(c) = &mut v.contact {
                    c.automatic_messages = true;
                }
            },
            Expect::Has(&["vna-safe-contact"]),
        ),
        case(
            "domestic abuse with no safe contact method",
            |v, ctx| {
                domestic_abuse(v, ctx);
                if let Some(c) = &mut v.contact {
                    c.safe_contact_method = None;
                }
            },
            Expect::Has(&["vna-safe-contact"]),
        ),
        case(
            "no contact preferences",
            |v, _| v.contact = None,
            Expect::Has(&["vna-contact-required"]),
        ),
        case(
            "no victim personal statement decision",
            |v, _| v.vps = None,
            Expect::Has(&["vna-vps-required"]),
        ),
        case(
            "no written acknowledgement",
            |v, _| v.acknowledgement_given = false,
            Expect::Has(&["vna-acknowledgement"]),
        ),
    ];
    run_table(vna, Record::Vna, &cases);
}

#[test]
fn a_domestic_abuse_assessment_gets_every_finding_at_once() {
    let (mut v, mut ctx) = vna();
    crime_in(&mut ctx).flags.domestic_abuse = true;
    v.vps = None;
    let mut rules = rules_of(&Record::Vna(v), &ctx);
    rules.sort_unstable();
    assert_eq!(
        rules,
        [
            "vna-enhanced-rights-implied",
            "vna-referral-consent",
            "vna-safe-contact",
            "vna-safe-contact",
            "vna-vps-required"
        ]
    );
}

#[test]
fn enhanced_rights_codes_the_rules_derive_exist_in_reference_data() {
    for code in [
        vna::DOMESTIC_ABUSE,
        vna::HATE_CRIME,
        vna::SEXUAL_OFFENCE,
        vna::PERSISTENTLY_TARGETED,
        vna::UNDER_18,
    ] {
        assert!(current().enhanced_right(code).is_some(), "{code}");
    }
}

// ---------------------------------------------------------------------------------------------
// Neighbourhood issue
// ---------------------------------------------------------------------------------------------

fn issue() -> (NeighbourhoodIssue, RuleContext) {
    let Record::Issue(mut i) = new_record(RecordKind::NeighbourhoodIssue) else {
        unreachable!("an issue record")
    };
    i.asb_type = Some("street-drinking".into());
    i.qualifier = Some("nuisance".into());
    i.location = place();
    i.reporter_id = Some(RecordId::generate());
    (i, RuleContext::bare(now(), Role::Pcso))
}

#[test]
fn neighbourhood_issue_rules_hold_for_every_row_of_the_table() {
    let cases: Vec<Case<NeighbourhoodIssue>> = vec![
        case("the valid baseline passes", |_, _| {}, Expect::Passes),
        case(
            "no ASB type",
            |i, _| i.asb_type = None,
            Expect::Has(&["issue-asb-type-required"]),
        ),
        case(
            "an ASB type by label instead of code",
            |i, _| i.asb_type = Some("Street drinking".into()),
            Expect::Has(&["issue-asb-type-known"]),
        ),
        case(
            "no qualifier",
            |i, _| i.qualifier = None,
            Expect::Has(&["issue-qualifier-required"]),
        ),
        case(
            "a qualifier outside the three",
            |i, _| i.qualifier = Some("criminal".into()),
            Expect::Has(&["issue-qualifier-known"]),
        ),
        case(
            "no location",
            |i, _| i.location = None,
            Expect::Has(&["issue-location-required"]),
        ),
        case(
            "no report time",
            |i, _| i.reported_at = None,
            Expect::Has(&["issue-reported-at-required"]),
        ),
        case(
            "neither reporter nor anonymous",
            |i, _| i.reporter_id = None,
            Expect::Has(&["issue-reporter-required"]),
        ),
        case(
            "an anonymous reporter",
            |i, _| {
                i.reporter_id = None;
                i.anonymous_reporter = true;
            },
            Expect::Passes,
        ),
        case(
            "a vulnerable reporter without THRIVE",
            |i, _| i.flags.vulnerable = true,
            Expect::Has(&["issue-thrive-required"]),
        ),
        case(
            "a vulnerable reporter with THRIVE",
            |i, _| {
                i.flags.vulnerable = true;
                i.thrive = Some(full_thrive());
            },
            Expect::Passes,
        ),
        case(
            "an issue linked to the crime it became",
            |i, _| i.linked_crime_id = Some(RecordId::generate()),
            Expect::Passes,
        ),
        case(
            "an officer may log an issue too",
            |_, ctx| ctx.role = Role::Officer,
            Expect::Passes,
        ),
    ];
    run_table(issue, Record::Issue, &cases);
}

// ---------------------------------------------------------------------------------------------
// Person
// ---------------------------------------------------------------------------------------------

fn named_person() -> (Person, RuleContext) {
    let p = person("Alex", "Example", date(1990, 4, 17));
    (p, RuleContext::bare(now(), Role::Officer))
}

#[test]
fn person_rules_hold_for_every_row_of_the_table() {
    let cases: Vec<Case<Person>> = vec![
        case("the valid baseline passes", |_, _| {}, Expect::Passes),
        case(
            "no name and no description",
            |p, _| p.names.clear(),
            Expect::Has(&["person-name-required"]),
        ),
        case(
            "no name but a description",
            |p, _| {
                p.names.clear();
                p.description = Some("Tall, red coat, walking a dog".into());
            },
            Expect::Passes,
        ),
        case(
            "a family name alone is enough",
            |p, _| p.names[0].given.clear(),
            Expect::Passes,
        ),
        case(
            "a blank alias",
            |p, _| {
                p.names.push(PersonName {
                    given: " ".into(),
                    family: String::new(),
                    alias: true,
                })
            },
            Expect::Has(&["person-name-blank"]),
        ),
        case(
            "a date of birth in the future",
            |p, _| p.date_of_birth = Some(date(2030, 1, 1)),
            Expect::Has(&["person-dob-future"]),
        ),
        case(
            "born today",
            |p, _| p.date_of_birth = Some(date(2026, 3, 10)),
            Expect::Passes,
        ),
        case(
            "an email without an at sign",
            |p, _| p.contact.email = Some("alex.example.org".into()),
            Expect::Has(&["person-email-shape"]),
        ),
        case(
            "an email without a dotted domain",
            |p, _| p.contact.email = Some("alex@localhost".into()),
            Expect::Has(&["person-email-shape"]),
        ),
        case(
            "an email with a space",
            |p, _| p.contact.email = Some("alex ex@example.org".into()),
            Expect::Has(&["person-email-shape"]),
        ),
        case(
            "a well-formed email",
            |p, _| p.contact.email = Some("alex@example.org".into()),
            Expect::Passes,
        ),
    ];
    run_table(named_person, Record::Person, &cases);
}

#[test]
fn person_findings_never_contain_the_name_or_email() {
    let (mut p, ctx) = named_person();
    p.names[0].given = "Zebedee".into();
    p.contact.email = Some("zebedee@@nowhere".into());
    p.date_of_birth = Some(date(2030, 1, 1));
    let findings = check(&Record::Person(p), &ctx, current());
    assert_eq!(findings.len(), 2);
    for f in findings {
        assert!(!f.message.to_lowercase().contains("zebedee"), "{f}");
    }
}

// ---------------------------------------------------------------------------------------------
// Across kinds
// ---------------------------------------------------------------------------------------------

#[test]
fn every_rule_id_is_kebab_case_and_prefixed_by_its_kind() {
    for kind in RecordKind::ALL {
        let record = new_record(kind);
        let ctx = RuleContext::bare(hours_after(now(), 48), Role::Pcso);
        let prefix = match kind {
            RecordKind::CrimeReport => "crime-",
            RecordKind::VictimNeedsAssessment => "vna-",
            RecordKind::StopSearch => "ss-",
            RecordKind::NeighbourhoodIssue => "issue-",
            RecordKind::Person => "person-",
        };
        let findings = check(&record, &ctx, current());
        assert!(!findings.is_empty(), "an empty {kind} has findings");
        for f in findings {
            assert!(f.rule.starts_with(prefix), "{kind}: {}", f.rule);
            assert!(
                f.rule
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                f.rule
            );
            assert!(f.message.ends_with('.'), "a sentence: {}", f.message);
        }
    }
}

#[test]
fn an_empty_stop_search_gets_every_missing_field_at_once() {
    let record = new_record(RecordKind::StopSearch);
    let rules = rules_of(&record, &RuleContext::bare(now(), Role::Officer));
    for rule in [
        "ss-type-required",
        "ss-location-required",
        "ss-legislation-required",
        "ss-object-required",
        "ss-outcome-required",
        "ss-clothing-removal-required",
        "ss-injury-required",
        "ss-self-defined-ethnicity-required",
        "ss-officer-defined-ethnicity-required",
        "ss-gender-required",
        "ss-age-required",
        "ss-bwv-required",
        "ss-receipt-required",
        "ss-person-required",
    ] {
        assert!(rules.iter().any(|r| r == rule), "{rule} in {rules:?}");
    }
}

#[test]
fn derive_fields_produces_the_age_range_the_rules_expect() {
    let (mut s, ctx) = stop_search();
    s.age = Some(AgeEvidence {
        years: 9,
        estimated: true,
    });
    let mut record = Record::StopSearch(s);
    record.derive_fields(current());
    assert!(passes(&check(&record, &ctx, current())));
    let Record::StopSearch(s) = record else {
        unreachable!("still a stop-search")
    };
    assert_eq!(s.age_range.as_deref(), Some("under 10"));
}
