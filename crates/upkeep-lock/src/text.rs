//! Text that one person gives and others see (a reason, a name): limited when written,
//! shown inert.
//!
//! A reason is printed in `status`, in `history`, in the "held by" error of whoever asks
//! next and in Slack. Printed raw, a newline in it forges a history line, an escape
//! sequence reaches the reader's terminal, and a 120 kB reason buries the screen. So it
//! is capped when written ([`MAX_REASON`], refused above) and, since a state can also be
//! pushed by hand or by an older version, shown through [`shown`] everywhere.

/// The longest reason accepted, in characters.
pub const MAX_REASON: usize = 500;
/// The longest operator name accepted, in characters.
pub const MAX_ACTOR: usize = 100;

/// `text` as one inert line of at most `max` characters: every control character (line
/// breaks and escapes included) becomes `�`, and a longer text is cut with a note of how
/// much was left out ([`upkeep_text::one_line`]).
#[must_use]
pub fn shown(text: &str, max: usize) -> String {
    upkeep_text::one_line(text, max).into_owned()
}

/// A reason as shown to others.
pub(crate) fn reason(text: &str) -> String {
    shown(text, MAX_REASON)
}

/// A name as shown to others.
pub(crate) fn name(text: &str) -> String {
    shown(text, MAX_ACTOR)
}
