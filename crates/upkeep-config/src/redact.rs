//! Keeping secrets out of error messages. A diagnostic quotes the offending source line,
//! and that line may hold a secret even when the problem is elsewhere: a token written
//! without quotes is a *syntax* error, a URL with `user:password@` fails *validation*.
//! So every quoted line is redacted textually, before anything is parsed out of it:
//! after a secret-looking key (`token = …`, `{ api_key = … }`) the rest of the line
//! goes, and in a URL the user-info (`://user:pass@`) goes. Messages get the URL rule
//! too, since some of them echo a value.

use crate::secrets::looks_secret;

/// What replaces a redacted value or user-info.
pub(crate) const REDACTED: &str = "<redacted>";

/// One replacement, in character positions of the original line: `start..end` became
/// [`REDACTED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edit {
    start: usize,
    end: usize,
}

/// A source line with its secrets replaced, and how to move an underline onto it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedactedLine {
    /// The line as it may be shown.
    pub text: String,
    edits: Vec<Edit>,
}

impl RedactedLine {
    /// Moves the underline `column` (1-based), `width` (characters) of the original line
    /// onto the redacted one. An underline that started or ended inside a redacted part
    /// covers the whole `<redacted>` marker.
    pub(crate) fn map_underline(&self, column: usize, width: usize) -> (usize, usize) {
        let start = column.saturating_sub(1);
        let end = start + width.max(1);
        let new_start = self.map(start, false);
        let new_end = self.map(end, true).max(new_start + 1);
        (new_start + 1, new_end - new_start)
    }

    /// Where character position `p` of the original line lands. `end` says whether `p`
    /// is an exclusive end (inside an edit, it then lands after the marker).
    fn map(&self, p: usize, end: bool) -> usize {
        let marker = REDACTED.chars().count();
        let mut shift: isize = 0;
        for e in &self.edits {
            let inside = if end {
                e.start < p && p <= e.end
            } else {
                e.start <= p && p < e.end
            };
            if inside {
                let base = e.start.saturating_add_signed(shift);
                return if end { base + marker } else { base };
            }
            if p >= e.end {
                shift += signed(marker) - signed(e.end - e.start);
            }
        }
        p.saturating_add_signed(shift)
    }
}

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

/// The line with secret-looking values and URL user-info replaced; `None` when nothing
/// in it looks secret.
pub(crate) fn redact_line(line: &str) -> Option<RedactedLine> {
    let chars: Vec<char> = line.chars().collect();
    let cut = secret_value_start(&chars);
    let mut edits: Vec<Edit> = userinfo_spans(&chars)
        .into_iter()
        .filter(|e| cut.is_none_or(|c| e.end <= c))
        .collect();
    if let Some(c) = cut {
        edits.push(Edit {
            start: c,
            end: chars.len(),
        });
    }
    if edits.is_empty() {
        return None;
    }
    let mut text = String::with_capacity(line.len());
    let mut at = 0;
    for e in &edits {
        text.extend(&chars[at..e.start]);
        text.push_str(REDACTED);
        at = e.end;
    }
    text.extend(&chars[at..]);
    Some(RedactedLine { text, edits })
}

/// A message or hint with URL user-info replaced.
pub(crate) fn redact_text(text: String) -> String {
    if !text.contains("://") {
        return text;
    }
    text.lines()
        .map(|l| redact_userinfo_only(l).unwrap_or_else(|| l.to_owned()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn redact_userinfo_only(line: &str) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    let edits = userinfo_spans(&chars);
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    for e in &edits {
        out.extend(&chars[at..e.start]);
        out.push_str(REDACTED);
        at = e.end;
    }
    out.extend(&chars[at..]);
    Some(out)
}

/// Where the value after the first secret-looking key of the line starts (just after
/// its `=` and any blanks). The key is whatever stands between the `=` and the previous
/// `{`, `,` or the start of the line, if it could be a (dotted, quoted) TOML key; its
/// last dotted part is checked. Erring towards redaction is harmless.
fn secret_value_start(chars: &[char]) -> Option<usize> {
    for (i, _) in chars.iter().enumerate().filter(|(_, c)| **c == '=') {
        let from = chars[..i]
            .iter()
            .rposition(|c| matches!(c, '{' | ','))
            .map_or(0, |p| p + 1);
        let key: String = chars[from..i].iter().collect();
        let key = key.trim();
        let key_like = !key.is_empty()
            && key.chars().all(|c| {
                c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'' | ' ' | '\t')
            });
        if !key_like {
            continue;
        }
        let last = key
            .rsplit('.')
            .next()
            .unwrap_or(key)
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        if looks_secret(last) {
            let mut start = i + 1;
            while chars.get(start).is_some_and(|c| *c == ' ' || *c == '\t') {
                start += 1;
            }
            return Some(start);
        }
    }
    None
}

/// The user-info parts (`user:pass` in `scheme://user:pass@host`) of the URLs in a line.
/// A URL runs from `://` to the next quote, blank or end of line, and its user-info to
/// the *last* `@` in it, so that an unescaped `@` or `/` in a password is still covered.
fn userinfo_spans(chars: &[char]) -> Vec<Edit> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 <= chars.len() {
        if chars[i..i + 3] != [':', '/', '/'] {
            i += 1;
            continue;
        }
        let start = i + 3;
        let end = chars[start..]
            .iter()
            .position(|c| matches!(c, '"' | '\'' | '`') || c.is_whitespace())
            .map_or(chars.len(), |p| start + p);
        if let Some(at) = chars[start..end].iter().rposition(|c| *c == '@')
            && at > 0
        {
            out.push(Edit {
                start,
                end: start + at,
            });
        }
        i = end.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(line: &str) -> String {
        redact_line(line).map_or_else(|| line.to_owned(), |r| r.text)
    }

    #[test]
    fn values_of_secret_keys_go() {
        assert_eq!(shown("github_token = ghp_abc"), "github_token = <redacted>");
        assert_eq!(
            shown("chat = { kind = \"slack\", slack_token = \"xoxb-1\" }"),
            "chat = { kind = \"slack\", slack_token = <redacted>"
        );
        assert_eq!(
            shown("maintain.chat.\"api-key\" = 'x'"),
            "maintain.chat.\"api-key\" = <redacted>"
        );
        assert_eq!(shown("name = \"api\""), "name = \"api\"");
        assert!(redact_line("[branches.deploy_token]").is_none());
    }

    #[test]
    fn url_userinfo_goes() {
        assert_eq!(
            shown("repo = \"https://bot:hunter2@github.com/o/r\""),
            "repo = \"https://<redacted>@github.com/o/r\""
        );
        assert_eq!(
            shown("  \"https://x:p@ss/w@h/o/r\", 'ssh://git@h/x'"),
            "  \"https://<redacted>@h/o/r\", 'ssh://<redacted>@h/x'"
        );
        assert!(redact_line("repo = \"git@github.com:o/r.git\"").is_none());
        assert!(redact_line("repo = \"https://github.com/o/r\"").is_none());
        assert_eq!(
            redact_text("invalid URL `https://u:p@h/x`: bad".to_owned()),
            "invalid URL `https://<redacted>@h/x`: bad"
        );
    }

    #[test]
    fn underlines_follow_the_redaction() {
        // `token = abcdef # x`: value starts at column 9.
        let r = redact_line("token = abcdef # x").unwrap();
        assert_eq!(r.map_underline(1, 5), (1, 5), "the key stays underlined");
        assert_eq!(r.map_underline(9, 1), (9, REDACTED.len()));
        assert_eq!(r.map_underline(12, 3), (9, REDACTED.len()));
        // Before and after a user-info edit.
        let r = redact_line("a = \"https://u:pw@h/x\" b").unwrap();
        assert_eq!(r.text, "a = \"https://<redacted>@h/x\" b");
        assert_eq!(r.map_underline(5, 18), (5, 24), "the whole string");
        assert_eq!(r.map_underline(24, 1), (30, 1), "after it, shifted");
    }
}
