//! STUB
/// Document errors.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// Not an automerge document.
    #[error("not a Fieldbook document: {0}")]
    NotADocument(String),
}
