//! Person rules: a person can be told apart (a name, or a description when unnamed), a date of
//! birth that is not in the future, an email address of the right shape.

use super::{Findings, RuleContext, blank};
use crate::domain::Person;

pub(super) fn check(p: &Person, ctx: &RuleContext, out: &mut Findings) {
    let named = p
        .names
        .iter()
        .any(|n| !n.given.trim().is_empty() || !n.family.trim().is_empty());
    if !named && blank(p.description.as_deref()) {
        out.error(
            "names",
            "person-name-required",
            "Record a given or family name, or describe the person if they are not named.",
        );
    }
    for (i, n) in p.names.iter().enumerate() {
        if n.given.trim().is_empty() && n.family.trim().is_empty() {
            out.error(
                format!("names[{i}]"),
                "person-name-blank",
                "This name is blank: fill in the given or family name, or remove it.",
            );
        }
    }
    if p.date_of_birth.is_some_and(|dob| dob.0 > ctx.now.0.date()) {
        out.error(
            "date_of_birth",
            "person-dob-future",
            "The date of birth is in the future: correct it.",
        );
    }
    if let Some(email) = p.contact.email.as_deref()
        && !email_shaped(email)
    {
        out.error(
            "contact.email",
            "person-email-shape",
            "The email address is not of the form name@example.org: correct it or remove it.",
        );
    }
}

/// One `@` with something before it, a dotted domain after it, and no spaces.
fn email_shaped(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|part| !part.is_empty())
}
