//! [`Heads`]: a record's version, as the hashes of the changes no other change depends on.
//!
//! One type for every form heads take: in memory (automerge's [`ChangeHash`]es), in the stores
//! (the 32-byte hashes concatenated, [`Heads::to_bytes`]), on the wire
//! ([`crate::sync::wire::Hash`] lists, by `From`), in workflow events (hex strings,
//! [`Heads::to_hex`]) and as text for a caller (hex joined by commas, `Display`/`FromStr`).
//! Heads are kept sorted, as automerge returns them, so two equal versions compare equal
//! whatever order they arrived in.

use automerge::ChangeHash;

/// A document version: its head change hashes, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Heads(Vec<ChangeHash>);

/// Text that is not a list of change hashes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a record version (change hashes in hex, joined by commas)")]
pub struct HeadsParseError;

impl Heads {
    /// Heads from hashes in any order.
    pub fn new(mut hashes: Vec<ChangeHash>) -> Heads {
        hashes.sort_unstable();
        hashes.dedup();
        Heads(hashes)
    }

    /// The hashes, sorted.
    pub fn hashes(&self) -> &[ChangeHash] {
        &self.0
    }

    /// The hashes, sorted, owned.
    pub fn into_hashes(self) -> Vec<ChangeHash> {
        self.0
    }

    /// No heads: an empty document.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The stored form: the 32-byte hashes concatenated.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|h| h.0).collect()
    }

    /// Heads from their stored form ([`Heads::to_bytes`]); a trailing part shorter than a hash
    /// is ignored.
    pub fn from_bytes(bytes: &[u8]) -> Heads {
        Heads::new(
            bytes
                .chunks_exact(32)
                .filter_map(|c| ChangeHash::try_from(c).ok())
                .collect(),
        )
    }

    /// The form workflow events keep: one hex string a hash.
    pub fn to_hex(&self) -> Vec<String> {
        self.0.iter().map(|h| h.to_string()).collect()
    }
}

impl From<Vec<ChangeHash>> for Heads {
    fn from(hashes: Vec<ChangeHash>) -> Heads {
        Heads::new(hashes)
    }
}

impl From<&[ChangeHash]> for Heads {
    fn from(hashes: &[ChangeHash]) -> Heads {
        Heads::new(hashes.to_vec())
    }
}

impl std::fmt::Display for Heads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex().join(","))
    }
}

impl std::str::FromStr for Heads {
    type Err = HeadsParseError;

    /// Hex hashes joined by commas ([`Heads`]'s `Display`); empty parts are skipped.
    fn from_str(s: &str) -> Result<Heads, HeadsParseError> {
        s.split(',')
            .filter(|h| !h.is_empty())
            .map(|h| h.parse::<ChangeHash>().map_err(|_| HeadsParseError))
            .collect::<Result<Vec<_>, _>>()
            .map(Heads::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    #[test]
    fn every_form_reads_back_as_the_same_heads() {
        let heads = Heads::new(vec![hash(2), hash(1)]);
        assert_eq!(heads.hashes(), &[hash(1), hash(2)]);
        assert_eq!(Heads::from_bytes(&heads.to_bytes()), heads);
        assert_eq!(heads.to_string().parse::<Heads>(), Ok(heads.clone()));
        assert_eq!(heads.to_hex().len(), 2);
        assert_eq!(heads.to_bytes().len(), 64);
    }

    #[test]
    fn order_does_not_make_another_version() {
        assert_eq!(
            Heads::new(vec![hash(1), hash(2)]),
            Heads::new(vec![hash(2), hash(1), hash(2)])
        );
    }

    #[test]
    fn text_that_is_not_hashes_is_refused() {
        assert_eq!("nope".parse::<Heads>(), Err(HeadsParseError));
        assert_eq!("".parse::<Heads>(), Ok(Heads::default()));
    }
}
