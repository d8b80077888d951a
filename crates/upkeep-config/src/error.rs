//! Errors of loading a configuration, each pointing at the file, line, column and key
//! (or at the `UPKEEP_…` variable) that caused it.

use std::fmt;
use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read configuration file {}", path.display())]
    Read {
        /// The file that was being read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file (or an environment override) is malformed or fails validation. Every
    /// problem found is listed, each with its location.
    #[error("{}", DiagnosticList(diagnostics))]
    Invalid {
        /// The file that was being loaded.
        path: PathBuf,
        /// One entry per problem, in the order they appear in the file.
        diagnostics: Vec<Diagnostic>,
    },
    /// A tool asked for its section (`[maintain]`, `[branches]`, `[lock]`) and the file
    /// has none.
    #[error("{} has no [{section}] section", path.display())]
    MissingSection {
        /// The configuration file.
        path: PathBuf,
        /// The section that is required.
        section: &'static str,
    },
}

impl Error {
    /// The problems of an [`Error::Invalid`]; empty for the other variants.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Invalid { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 1 {
            writeln!(f, "{} problems in the configuration:", self.0.len())?;
        }
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In the configuration file, at a 1-based line and column.
    File {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column, counted in characters.
        column: usize,
    },
    /// In the file, at no particular place (e.g. a required section is missing).
    FileOnly {
        /// The configuration file.
        path: PathBuf,
    },
    /// In the value of an `UPKEEP_…` environment variable.
    Env {
        /// The variable's name.
        var: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, line, column } => write!(f, "{}:{line}:{column}", path.display()),
            Self::FileOnly { path } => write!(f, "{}", path.display()),
            Self::Env { var } => write!(f, "environment variable {var}"),
        }
    }
}

/// One problem in a configuration: where, which key, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub location: Location,
    /// The dotted key path, e.g. `maintain.projects[2].name`, when known.
    pub key: Option<String>,
    /// What is wrong, one line.
    pub message: String,
    /// How to fix it (e.g. "did you mean `name`?"), when we know.
    pub help: Option<String>,
    /// The offending source line, for display under the location.
    pub snippet: Option<Snippet>,
}

/// A source line with the span to underline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The full text of the line, without its newline.
    pub line_text: String,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column where the underline starts.
    pub column: usize,
    /// How many characters to underline (at least 1).
    pub width: usize,
}

/// Longest source line shown whole; a longer one (a pasted blob, minified data) is cut
/// to a window around the span rather than flooding the terminal.
const SNIPPET_MAX_CHARS: usize = 120;
/// Characters kept on each side of the span when a line is cut.
const SNIPPET_CONTEXT: usize = 40;

impl Snippet {
    /// The line as shown and the caret line under it. Long lines are cut around the span
    /// (marked `…`); control characters are shown as `�` so that they cannot act on the
    /// terminal; the caret's indent repeats the line's tabs so that it lines up.
    fn render(&self) -> (String, String) {
        let chars: Vec<char> = self.line_text.chars().collect();
        let start = self.column.saturating_sub(1);
        let mut width = self.width.max(1);
        let (from, to) = if chars.len() <= SNIPPET_MAX_CHARS {
            (0, chars.len())
        } else {
            let start = start.min(chars.len());
            width = width.min(SNIPPET_MAX_CHARS - 2 * SNIPPET_CONTEXT);
            (
                start.saturating_sub(SNIPPET_CONTEXT),
                (start + width + SNIPPET_CONTEXT).min(chars.len()),
            )
        };
        let shown = |c: char| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        };
        let mut text = String::new();
        let mut caret = String::new();
        if from > 0 {
            text.push('…');
            caret.push(' ');
        }
        text.extend(chars[from..to].iter().copied().map(shown));
        if to < chars.len() {
            text.push('…');
        }
        for i in from..start {
            caret.push(if chars.get(i) == Some(&'\t') {
                '\t'
            } else {
                ' '
            });
        }
        caret.push_str(&"^".repeat(width));
        (text, caret)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(s) = &self.snippet {
            let gutter = s.line.to_string().len();
            let pad = " ".repeat(gutter);
            let (text, caret) = s.render();
            write!(f, "\n{pad} |\n{} | {text}\n{pad} | {caret}", s.line)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}
