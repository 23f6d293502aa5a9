//! Text that people type and administrators read in a terminal: device labels (sent by the
//! device at enrolment), officer names and teams (given to admin commands). New text holding
//! a control character is refused ([`check_plain`]); text already stored is shown escaped
//! ([`escaped`]), so a label cannot forge rows of `fieldbook-server devices` (a tab or a
//! newline) or drive the admin's terminal (an escape sequence).

/// Why a piece of text was refused: the field, and where the first offending character is
/// (never the text itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {field} holds a control character (U+{code_point:04X} at character {position}): give plain text on one line"
)]
pub struct NotPlainText {
    /// What the text is (`device label`, `officer name`, `team`).
    pub field: &'static str,
    /// The offending character's code point.
    pub code_point: u32,
    /// Its position, counting characters from 1.
    pub position: usize,
}

/// Characters refused in labels, names and teams: control characters (C0, DEL, C1: tabs,
/// newlines, terminal escapes) and the bidirectional overrides and isolates, which reorder
/// what a terminal shows.
fn refused(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Refuses `value` if it holds a character [`refused`] names.
pub(crate) fn check_plain(field: &'static str, value: &str) -> Result<(), NotPlainText> {
    match value.chars().enumerate().find(|(_, c)| refused(*c)) {
        Some((i, c)) => Err(NotPlainText {
            field,
            code_point: u32::from(c),
            position: i + 1,
        }),
        None => Ok(()),
    }
}

/// `value` with every refused character written as an escape (`\t`, `\n`, `\u{1b}`), the rest
/// as it is: for showing stored text (stored before it was checked) to an administrator.
pub fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if refused(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_in_any_script_passes() {
        for ok in [
            "Pixel 8 (front desk)",
            "Siân O'Connor-Ní Bhriain",
            "Łódź",
            "警察",
            "",
        ] {
            assert_eq!(check_plain("device label", ok), Ok(()), "{ok}");
            assert_eq!(escaped(ok), ok);
        }
    }

    #[test]
    fn control_characters_are_refused_naming_the_field_and_the_position() {
        for (text, code_point, position) in [
            ("phone\tPC9\tforged", 0x09, 6),
            ("phone\nforged row", 0x0A, 6),
            ("\u{1b}[2Jcleared", 0x1B, 1),
            ("bell\u{7}", 0x07, 5),
            ("del\u{7f}", 0x7F, 4),
            ("c1\u{9b}31m", 0x9B, 3),
            ("right\u{202e}left", 0x202E, 6),
        ] {
            let err = check_plain("device label", text).expect_err(text);
            assert_eq!((err.code_point, err.position), (code_point, position));
            let message = err.to_string();
            assert!(message.starts_with("the device label holds a control character (U+"));
            assert!(!message.contains(text), "the text is never quoted");
        }
    }

    #[test]
    fn stored_control_characters_are_shown_escaped() {
        assert_eq!(escaped("a\tb\nc"), "a\\tb\\nc");
        assert_eq!(escaped("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escaped("x\u{202e}y"), "x\\u{202e}y");
        assert!(!escaped("\u{1b}\u{9b}\r").chars().any(refused));
    }
}
