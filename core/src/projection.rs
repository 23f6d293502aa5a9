//! The queryable projection of a record, derived from its hydrated document after every local
//! change and merge. Pure; never the source of truth (the document is).

use crate::domain::{Record, RecordId};
use crate::storage::Projection;
use crate::workflow;

/// Twenty-four hours in milliseconds: the NCRS recording-decision window.
pub const DECISION_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Derives the projection of `record`; `conflicts` is the number of unresolved legal conflicts.
pub fn derive(record: &Record, updated_at: i64, conflicts: u32) -> Projection {
    let meta = record.meta();
    let mut p = Projection {
        id: meta.id,
        kind: meta.kind,
        status: workflow::status(&meta.workflow),
        author: meta.author.clone(),
        created_at: meta.created_at.millis(),
        updated_at,
        event_at: None,
        decision_due_at: None,
        receipt_needed: false,
        classification: None,
        lat: None,
        lon: None,
        flags: String::new(),
        links: Vec::new(),
        conflicts,
    };
    let mut flags: Vec<&str> = Vec::new();
    let mut link = |role: &str, id: Option<RecordId>| {
        if let Some(id) = id {
            p.links.push((role.to_owned(), id));
        }
    };
    let location = match record {
        Record::Crime(c) => {
            c.victims.iter().for_each(|v| link("victim", Some(*v)));
            c.suspects.iter().for_each(|v| link("suspect", Some(*v)));
            c.witnesses.iter().for_each(|v| link("witness", Some(*v)));
            p.event_at = c.reported_at.map(|t| t.millis());
            if c.recording_decision.is_none() {
                p.decision_due_at = p.event_at.map(|t| t + DECISION_WINDOW_MS);
            }
            p.classification = c.classification.as_ref().map(|k| k.offence.code.clone());
            for (on, name) in [
                (c.flags.domestic_abuse, "domestic_abuse"),
                (c.flags.hate_crime, "hate_crime"),
                (c.flags.repeat_victim, "repeat_victim"),
                (c.flags.vulnerable_victim, "vulnerable_victim"),
            ] {
                if on {
                    flags.push(name);
                }
            }
            c.location.as_ref()
        }
        Record::Vna(v) => {
            link("crime", v.crime_id);
            link("victim", v.victim_id);
            p.event_at = v.assessed_at.map(|t| t.millis());
            None
        }
        Record::StopSearch(s) => {
            link("person", s.person_id);
            p.event_at = s.detained_at.map(|t| t.millis());
            // Owed until given, or until the officer records why none could be given.
            p.receipt_needed = s.receipt_given != Some(true)
                && s.receipt_not_given_reason
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty());
            p.classification = s.legislation.clone();
            s.location.as_ref()
        }
        Record::Issue(i) => {
            link("reporter", i.reporter_id);
            link("crime", i.linked_crime_id);
            p.event_at = i.reported_at.map(|t| t.millis());
            p.classification = i.asb_type.clone();
            for (on, name) in [
                (i.flags.repeat, "repeat"),
                (i.flags.vulnerable, "vulnerable"),
            ] {
                if on {
                    flags.push(name);
                }
            }
            i.location.as_ref()
        }
        Record::Person(_) => None,
    };
    p.lat = location.and_then(|l| l.lat);
    p.lon = location.and_then(|l| l.lon);
    p.flags = flags.join(",");
    p
}
