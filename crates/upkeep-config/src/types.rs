//! Small value types shared by the sections: durations, templates, branch patterns.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A positive duration written the human way: `"90s"`, `"30m"`, `"1h 30m"`, `"2d"`
/// (units: `s`, `m`, `h`, `d`, `w`, and `ms`). Zero is rejected: a zero timeout or lease
/// is always a mistake. So is anything longer than [`HumanDuration::MAX`] (366 days):
/// no timeout, lease or window is meant to be that long, and consumers add these to
/// dates, where an absurd value (`"300000years"`) would overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(Duration);

impl HumanDuration {
    /// The longest duration accepted: 366 days.
    pub const MAX: Duration = Duration::from_hours(366 * 24);

    /// Wraps a duration. Panics on zero or above [`Self::MAX`]: construct only from
    /// literals in code.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        assert!(secs > 0, "a HumanDuration is never zero");
        assert!(
            secs <= Self::MAX.as_secs(),
            "a HumanDuration is at most 366 days"
        );
        Self(Duration::from_secs(secs))
    }

    /// The duration.
    #[must_use]
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = humantime::parse_duration(s.trim()).map_err(|e| {
            format!("invalid duration `{s}` ({e}); write e.g. \"90s\", \"30m\", \"1h 30m\"")
        })?;
        if d.is_zero() {
            return Err(format!(
                "duration `{s}` is zero; it must be greater than zero"
            ));
        }
        if d > Self::MAX {
            return Err(format!(
                "duration `{s}` is too long; at most 366 days (\"366d\") is accepted"
            ));
        }
        Ok(Self(d))
    }
}

impl TryFrom<String> for HumanDuration {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> Self {
        d.to_string()
    }
}

/// Numbers each followed by a unit, blanks allowed between: what humantime reads. Only a
/// hint for editors; the loader's message is the authority.
const DURATION_PATTERN: &str = r"^\s*([0-9]+\s*[A-Za-zµ]+\s*)+$";

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: `\"90s\"`, `\"30m\"`, `\"1h 30m\"`, `\"2d\"` (units `ms`, `s`, `m`, `h`, `d`, `w`). More than zero, at most 366 days.",
            "pattern": DURATION_PATTERN,
            "examples": ["30m", "1h 30m"],
        })
    }
}

/// Shown the way people write it in the file: `30m`, `1h 30m`, `7d`, not humantime's
/// `7days` or `1year 5h 49m 12s`.
impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        let parts = [
            (secs / 86_400, "d"),
            (secs / 3_600 % 24, "h"),
            (secs / 60 % 60, "m"),
            (secs % 60, "s"),
            (u64::from(nanos / 1_000_000), "ms"),
            (u64::from(nanos / 1_000 % 1_000), "us"),
            (u64::from(nanos % 1_000), "ns"),
        ];
        let mut first = true;
        for (n, unit) in parts {
            if n > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{n}{unit}")?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A value that can go into a commit message or change-request template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Placeholder {
    /// `{project}`: the project's configured name.
    Project,
    /// `{round}`: the round id (its date unless given, e.g. `2025-03-14`).
    Round,
    /// `{date}`: the round's date as `YYYY-MM-DD`.
    Date,
    /// `{branch}`: the maintenance branch being pushed.
    Branch,
    /// `{base}`: the base branch the change request targets.
    Base,
    /// `{summary}`: one line counting the upgrades, e.g. `1 major, 4 minor, 2 patch`.
    Summary,
    /// `{changes}`: the dependency changes as a Markdown table (several lines).
    Changes,
}

impl Placeholder {
    /// Every placeholder, in documentation order.
    pub const ALL: [Self; 7] = [
        Self::Project,
        Self::Round,
        Self::Date,
        Self::Branch,
        Self::Base,
        Self::Summary,
        Self::Changes,
    ];

    /// What it stands for, one line (for documentation and editors).
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::Project => "the project's configured name",
            Self::Round => "the round id (its date unless given, e.g. `2025-03-14`)",
            Self::Date => "the round's date as `YYYY-MM-DD`",
            Self::Branch => "the maintenance branch being pushed",
            Self::Base => "the base branch the change request targets",
            Self::Summary => "one line counting the upgrades, e.g. `1 major, 4 minor, 2 patch`",
            Self::Changes => "the dependency changes as a Markdown table (several lines)",
        }
    }

    /// The name written between braces.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Round => "round",
            Self::Date => "date",
            Self::Branch => "branch",
            Self::Base => "base",
            Self::Summary => "summary",
            Self::Changes => "changes",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Value(Placeholder),
}

/// A text with `{placeholder}`s (see [`Placeholder`]); `{{` and `}}` are literal braces.
/// Unknown placeholders are rejected when the configuration is loaded, so rendering
/// cannot fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

impl Template {
    /// Parses a template.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => {
                                return Err(format!(
                                    "unclosed `{{{name}` in template; write `{{{{` for a literal brace"
                                ));
                            }
                        }
                    }
                    let Some(p) = Placeholder::from_name(name.trim()) else {
                        let known: Vec<&str> = Placeholder::ALL.iter().map(|p| p.name()).collect();
                        let hint = crate::suggest::did_you_mean(name.trim(), &known)
                            .map(|s| format!("did you mean `{{{s}}}`? "))
                            .unwrap_or_default();
                        return Err(format!(
                            "unknown placeholder `{{{name}}}` in template; {hint}known: {}",
                            known
                                .iter()
                                .map(|k| format!("{{{k}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    };
                    if !text.is_empty() {
                        segments.push(Segment::Text(std::mem::take(&mut text)));
                    }
                    segments.push(Segment::Value(p));
                }
                '}' => {
                    return Err("lone `}` in template; write `}}` for a literal brace".to_owned());
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    /// The template as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template uses a placeholder.
    #[must_use]
    pub fn uses(&self, p: Placeholder) -> bool {
        self.segments.contains(&Segment::Value(p))
    }

    /// Fills the placeholders with `value(placeholder)`.
    #[must_use]
    pub fn render(&self, mut value: impl FnMut(Placeholder) -> String) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Value(p) => out.push_str(&value(*p)),
            }
        }
        out
    }
}

impl JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<String> = Placeholder::ALL
            .iter()
            .map(|p| format!("`{{{}}}`", p.name()))
            .collect();
        json_schema!({
            "type": "string",
            "description": format!(
                "A template: text with placeholders {}; `{{{{` and `}}}}` are literal braces. An unknown placeholder is an error.",
                names.join(", ")
            ),
        })
    }
}

impl TryFrom<String> for Template {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Template> for String {
    fn from(t: Template) -> Self {
        t.source
    }
}

/// A branch name with date fields, e.g. `feature/maintenance-%y-%m-%d`. Fields: `%Y`
/// (four-digit year), `%y` (two-digit year), `%m` (month `01`–`12`), `%d` (day
/// `01`–`31`), `%%` (a literal `%`). The result must be a valid git branch name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BranchPattern(String);

impl BranchPattern {
    /// Parses and checks a pattern.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                match chars.next() {
                    Some('Y' | 'y' | 'm' | 'd' | '%') => {}
                    Some(other) => {
                        return Err(format!(
                            "unsupported field `%{other}` in branch pattern `{s}`; use %Y, %y, %m, %d or %%"
                        ));
                    }
                    None => return Err(format!("branch pattern `{s}` ends with a lone `%`")),
                }
            }
        }
        let sample = Self(s.to_owned())
            .render(chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default());
        crate::validate::check_branch_name(&sample)
            .map_err(|e| format!("branch pattern `{s}`: {e}"))?;
        Ok(Self(s.to_owned()))
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The branch name for a date.
    #[must_use]
    pub fn render(&self, date: chrono::NaiveDate) -> String {
        use chrono::Datelike as _;
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => {
                    let _ = write!(out, "{:04}", date.year());
                }
                Some('y') => {
                    let _ = write!(out, "{:02}", date.year().rem_euclid(100));
                }
                Some('m') => {
                    let _ = write!(out, "{:02}", date.month());
                }
                Some('d') => {
                    let _ = write!(out, "{:02}", date.day());
                }
                Some(other) => out.push(other),
                None => out.push('%'),
            }
        }
        out
    }
}

impl JsonSchema for BranchPattern {
    fn schema_name() -> Cow<'static, str> {
        "BranchPattern".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A branch name with date fields: `%Y` (2025), `%y` (25), `%m` (03), `%d` (14), `%%` (a `%`). The result must be a valid git branch name.",
            "pattern": "^([^%]|%[Yymd%])*$",
        })
    }
}

impl TryFrom<String> for BranchPattern {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<BranchPattern> for String {
    fn from(p: BranchPattern) -> Self {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_reject_zero() {
        assert_eq!(
            "30m".parse::<HumanDuration>().unwrap().get(),
            Duration::from_mins(30)
        );
        assert_eq!(
            "1h 30m".parse::<HumanDuration>().unwrap().get(),
            Duration::from_mins(90)
        );
        assert!("0s".parse::<HumanDuration>().unwrap_err().contains("zero"));
        assert!("soon".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn durations_display_as_written_and_read_back() {
        for (text, shown) in [
            ("30m", "30m"),
            ("90m", "1h 30m"),
            ("7d", "7d"),
            ("1week", "7d"),
            ("366d", "366d"),
            ("1500ms", "1s 500ms"),
        ] {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d.to_string(), shown, "{text}");
            assert_eq!(shown.parse::<HumanDuration>().unwrap(), d, "{shown}");
        }
    }

    #[test]
    fn durations_are_bounded_at_366_days() {
        assert_eq!(
            "366d".parse::<HumanDuration>().unwrap().get(),
            HumanDuration::MAX
        );
        for absurd in ["367d", "300000years", "53w", "1y 2d"] {
            let e = absurd.parse::<HumanDuration>().unwrap_err();
            assert!(
                e.contains("too long") && e.contains("366 days"),
                "{absurd}: {e}"
            );
        }
        // Whatever is accepted can be added to any date of this millennium.
        let d = chrono::Duration::from_std(HumanDuration::MAX).unwrap();
        let far = chrono::NaiveDate::from_ymd_opt(2999, 12, 31).unwrap();
        assert!(far.checked_add_signed(d).is_some());
    }

    #[test]
    fn templates_render_and_escape() {
        let t = Template::parse("{project}: {{literal}} {summary}").unwrap();
        let out = t.render(|p| match p {
            Placeholder::Project => "api".into(),
            _ => "2 major".into(),
        });
        assert_eq!(out, "api: {literal} 2 major");
        assert!(t.uses(Placeholder::Summary));
        assert!(!t.uses(Placeholder::Changes));
    }

    #[test]
    fn templates_reject_unknown_and_unbalanced() {
        let e = Template::parse("{projcet}").unwrap_err();
        assert!(e.contains("did you mean `{project}`"), "{e}");
        assert!(Template::parse("{project").is_err());
        assert!(Template::parse("a } b").is_err());
    }

    #[test]
    fn branch_pattern_renders_dates() {
        let p = BranchPattern::parse("feature/maintenance-%y-%m-%d").unwrap();
        let d = chrono::NaiveDate::from_ymd_opt(2025, 3, 4).unwrap();
        assert_eq!(p.render(d), "feature/maintenance-25-03-04");
        assert_eq!(BranchPattern::parse("m-%Y").unwrap().render(d), "m-2025");
        assert!(BranchPattern::parse("m-%H").is_err());
        assert!(BranchPattern::parse("bad branch %y").is_err());
    }
}
