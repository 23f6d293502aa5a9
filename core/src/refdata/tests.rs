use super::*;

#[test]
fn shipped_reference_data_parses() {
    let data = ReferenceData::parse(&SHIPPED).expect("shipped files parse");
    assert_eq!(data.version, CURRENT_VERSION);
}

#[test]
fn shipped_reference_data_is_internally_consistent() {
    let problems = current().problems();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn shipped_reference_data_has_the_lists_the_domain_needs() {
    let data = current();
    assert!(
        data.offences.len() >= 40,
        "{} offences",
        data.offences.len()
    );
    assert_eq!(data.police_uk_categories.len(), 14);
    assert_eq!(data.crime_outcomes.len(), 23);
    assert_eq!(data.self_defined_ethnicities.len(), 19);
    assert_eq!(data.officer_defined_ethnicities.len(), 5);
    assert_eq!(data.search_types.len(), 3);
    assert_eq!(data.age_ranges.len(), 5);
    assert!(data.asb_types.len() >= 10);
}

#[test]
fn age_ranges_are_read_from_the_data_at_every_boundary() {
    let data = current();
    for (years, range) in [
        (0, "under 10"),
        (9, "under 10"),
        (10, "10-17"),
        (17, "10-17"),
        (18, "18-24"),
        (24, "18-24"),
        (25, "25-34"),
        (34, "25-34"),
        (35, "over 34"),
        (u8::MAX, "over 34"),
    ] {
        assert_eq!(data.age_range_for(years), range, "age {years}");
    }
}

#[test]
fn lookups_find_exact_police_uk_labels() {
    let data = current();
    let s23 = data
        .power("Misuse of Drugs Act 1971 (section 23)")
        .expect("s23");
    assert!(s23.permits("Controlled drugs"));
    assert_eq!(s23.requires, SearchPowerRequires::Grounds);
    let s60 = data.power_by_code("cjpoa-s60").expect("s60");
    assert_eq!(
        s60.label,
        "Criminal Justice and Public Order Act 1994 (section 60)"
    );
    assert_eq!(s60.requires, SearchPowerRequires::Authorisation);
    assert_eq!(
        data.power_by_code("ta-s47a").map(|p| p.requires),
        Some(SearchPowerRequires::Authorisation)
    );
    assert!(
        !data
            .power_by_code("pace-s1")
            .expect("s1")
            .permits("Controlled drugs")
    );
    assert!(
        data.search_outcome("A no further action disposal")
            .expect("nfa")
            .no_further_action
    );
    assert!(data.search_outcome("Arrest").is_some());
    assert!(
        data.search_outcome("arrest").is_none(),
        "labels are compared exactly"
    );
    assert_eq!(
        data.self_defined_ethnicity("Other ethnic group - Not stated")
            .map(|e| e.code.as_str()),
        Some("NS")
    );
    assert!(data.is_object_of_search("Controlled drugs"));
}

#[test]
fn offences_carry_their_category_and_flags() {
    let data = current();
    let assault = data.offence("8N").expect("8N");
    assert_eq!(assault.label, "Assault with injury");
    assert_eq!(assault.category, "violent-crime");
    assert!(assault.victim_based);
    let possession = data.offence("92D").expect("92D");
    assert!(!possession.victim_based);
    assert!(data.offence("19C").expect("rape").sexual_offence);
    assert_eq!(
        data.offence("10A").expect("10A").category,
        "possession-of-weapons"
    );
    assert_eq!(data.outcome("16").map(|o| o.code.as_str()), Some("16"));
}

#[test]
fn enhanced_rights_needing_explicit_consent_are_the_three_the_code_names() {
    let consent: Vec<&str> = current()
        .enhanced_rights
        .iter()
        .filter(|r| r.referral_needs_explicit_consent)
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(
        consent,
        ["bereaved-relative", "domestic-abuse", "sexual-offence"]
    );
}

#[test]
fn an_inconsistent_data_set_names_each_problem() {
    let files = ReferenceFiles {
        offences: r#"[{ "code": "8N", "label": "Assault with injury", "category": "violence", "victim_based": true, "sexual_offence": false }]"#,
        ..SHIPPED
    };
    let data = ReferenceData::parse(&files).expect("parses");
    let problems = data.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("not a police.uk category")),
        "{problems:?}"
    );
}

#[test]
fn a_data_file_with_an_unknown_field_is_refused() {
    let files = ReferenceFiles {
        asb: r#"{ "qualifiers": [], "types": [], "colour": "red" }"#,
        ..SHIPPED
    };
    let err = ReferenceData::parse(&files).expect_err("unknown field");
    assert_eq!(err.file, "asb.json");
}
