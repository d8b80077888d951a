//! Text that crosses a boundary, written once for every upkeep crate.
//!
//! Three kinds of text leave upkeep's hands and are read by someone else:
//!
//! - **Errors** become one line in a journal, a chat thread or a status record
//!   ([`error_chain`]): the error and each cause, without repeating a cause whose text
//!   the error already quotes.
//! - **Text that may hold a secret** (a server's answer, a tool's output) passes
//!   [`Scrubber`] first: every occurrence of each token becomes `***`. A server that
//!   echoes a request, or a hook that prints its environment, cannot carry a token into
//!   logs, errors or state.
//! - **Text one person gives and others see** (a reason, a name, a commit subject, a
//!   gate's output) is shown inert: a newline in it cannot forge a line of a history, an
//!   escape sequence cannot rewrite the reader's terminal, and a 120 kB reason does not
//!   bury the screen ([`one_line`], [`inert`]).
//!
//! The crate has no dependencies, so the lowest crates (git, forge, chat) can use it.

use std::borrow::Cow;
use std::error::Error;
use std::fmt::Write as _;

/// What replaces a secret in scrubbed text.
pub const REDACTED: &str = "***";

/// `error` and its causes on one line, separated by `": "`. A cause whose text the line
/// already holds is left out: many errors quote their source in their own message.
#[must_use]
pub fn error_chain(error: &dyn Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Removes secrets from text before it is logged, returned in an error or stored.
///
/// Holds the secrets' values, so it is deliberately not `Debug`.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    /// A scrubber for these secrets; empty ones are ignored (an empty token would
    /// otherwise match between every character).
    #[must_use]
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| !s.is_empty())
            .collect();
        // The longest first, so a secret that contains another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    /// `text` with every occurrence of every secret replaced by [`REDACTED`].
    #[must_use]
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }
}

/// `text` as one inert line for people: every control character, line breaks included,
/// shown as `�`, and at most `max` characters, with what was cut said:
/// `… [119800 more characters]`. Text already cut so keeps its count.
#[must_use]
pub fn one_line(text: &str, max: usize) -> Cow<'_, str> {
    let long = text.chars().nth(max).is_some() && !already_cut(text, max);
    if !long && !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out: String = text
        .chars()
        .take(if long { max } else { usize::MAX })
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if long {
        let more = text.chars().count() - max;
        let _ = write!(out, "… [{more} more characters]");
    }
    Cow::Owned(out)
}

/// Whether `text` is the output of [`one_line`] with this `max` (or less): at most `max`
/// characters and the marker saying how many were cut.
fn already_cut(text: &str, max: usize) -> bool {
    let Some(rest) = text.strip_suffix(" more characters]") else {
        return false;
    };
    let Some((kept, count)) = rest.rsplit_once("… [") else {
        return false;
    };
    !count.is_empty()
        && count.bytes().all(|b| b.is_ascii_digit())
        && kept.chars().nth(max).is_none()
}

/// Multi-line text (a log tail, a commit message) shown inert: line breaks and tabs
/// stay, every other control character is shown as `�`, so an escape sequence cannot
/// rewrite the terminal — it could hide a commit from a plan a person is approving.
#[must_use]
pub fn inert(text: &str) -> Cow<'_, str> {
    let control = |c: char| c.is_control() && c != '\n' && c != '\t';
    if text.chars().any(control) {
        Cow::Owned(
            text.chars()
                .map(|c| if control(c) { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Failure {
        message: &'static str,
        source: Option<Box<Failure>>,
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.message)
        }
    }

    impl Error for Failure {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source.as_deref().map(|s| s as &(dyn Error + 'static))
        }
    }

    fn failure(message: &'static str, source: Option<Failure>) -> Failure {
        Failure {
            message,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn error_chain_joins_causes_and_skips_quoted_ones() {
        let inner = failure("connection refused", None);
        let middle = failure("request failed: connection refused", Some(inner));
        let outer = failure("push stable", Some(middle));
        assert_eq!(
            error_chain(&outer),
            "push stable: request failed: connection refused"
        );
        assert_eq!(error_chain(&failure("alone", None)), "alone");
    }

    #[test]
    fn scrubber_replaces_every_secret_and_ignores_empty_ones() {
        let scrubber = Scrubber::new(["", "ghp_abc", "ghp_abcdef"]);
        assert_eq!(
            scrubber.scrub("token ghp_abcdef and ghp_abc"),
            "token *** and ***"
        );
        assert!(matches!(scrubber.scrub("nothing here"), Cow::Borrowed(_)));
        assert_eq!(Scrubber::default().scrub("x"), "x");
    }

    #[test]
    fn one_line_replaces_controls_and_caps_length() {
        assert_eq!(one_line("deploy api", 20), "deploy api");
        assert_eq!(
            one_line("a\nb\u{1b}[31mc\td", 20),
            "a\u{fffd}b\u{fffd}[31mc\u{fffd}d"
        );
        assert_eq!(one_line("abcdef", 3), "abc… [3 more characters]");
        assert_eq!(one_line("ééé", 3), "ééé", "characters, not bytes");
        let cut = one_line("abcdef", 3).into_owned();
        assert_eq!(
            one_line(&cut, 3),
            cut,
            "cutting twice keeps the first count"
        );
    }

    #[test]
    fn inert_keeps_line_breaks_and_tabs() {
        assert_eq!(inert("a\n\tb"), "a\n\tb");
        assert_eq!(inert("a\u{1b}[2Jb\r"), "a\u{fffd}[2Jb\u{fffd}");
    }
}
