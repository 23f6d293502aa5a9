//! `fieldbook demo`: a scripted scenario on a temporary store with a readable transcript.
//! STUB until storage and rules land.

use fieldbook_core::Error;

pub fn run() -> Result<(), Error> {
    Ok(())
}
