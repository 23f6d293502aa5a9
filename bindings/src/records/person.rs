//! The person: the only record holding personal details.

use fieldbook_core::Error;
use fieldbook_core::domain;

use super::fields::{calendar_date, date_to_ffi, field, optional};
use super::{CommunicationNeeds, RecordMeta};

/// One name a person is known by.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PersonName {
    /// Given name(s).
    pub given: String,
    /// Family name.
    pub family: String,
    /// True for an alias or former name.
    pub alias: bool,
}

impl From<domain::PersonName> for PersonName {
    fn from(value: domain::PersonName) -> Self {
        let domain::PersonName {
            given,
            family,
            alias,
        } = value;
        PersonName {
            given,
            family,
            alias,
        }
    }
}

impl From<PersonName> for domain::PersonName {
    fn from(value: PersonName) -> Self {
        let PersonName {
            given,
            family,
            alias,
        } = value;
        domain::PersonName {
            given,
            family,
            alias,
        }
    }
}

/// A person's contact details.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ContactDetails {
    /// Phone number.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
}

impl From<domain::ContactDetails> for ContactDetails {
    fn from(value: domain::ContactDetails) -> Self {
        let domain::ContactDetails { phone, email } = value;
        ContactDetails { phone, email }
    }
}

impl From<ContactDetails> for domain::ContactDetails {
    fn from(value: ContactDetails) -> Self {
        let ContactDetails { phone, email } = value;
        domain::ContactDetails { phone, email }
    }
}

/// A person: the only record holding personal details; others refer to it by id, so rectification
/// and erasure happen in one place.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Person {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// Names, the first being the primary one; aliases flagged.
    pub names: Vec<PersonName>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Phone and email.
    pub contact: ContactDetails,
    /// Communication needs.
    pub communication: CommunicationNeeds,
    /// Physical description.
    pub description: Option<String>,
}

impl From<domain::Person> for Person {
    fn from(value: domain::Person) -> Self {
        let domain::Person {
            meta,
            names,
            date_of_birth,
            address,
            contact,
            communication,
            description,
        } = value;
        Person {
            meta: meta.into(),
            names: names.into_iter().map(Into::into).collect(),
            date_of_birth: date_of_birth.map(date_to_ffi),
            address,
            contact: contact.into(),
            communication: communication.into(),
            description,
        }
    }
}

impl TryFrom<Person> for domain::Person {
    type Error = Error;
    fn try_from(value: Person) -> Result<Self, Error> {
        let Person {
            meta,
            names,
            date_of_birth,
            address,
            contact,
            communication,
            description,
        } = value;
        Ok(domain::Person {
            meta: field("meta", meta, domain::RecordMeta::try_from)?,
            names: names.into_iter().map(Into::into).collect(),
            date_of_birth: optional("date_of_birth", date_of_birth, calendar_date)?,
            address,
            contact: contact.into(),
            communication: communication.into(),
            description,
        })
    }
}
