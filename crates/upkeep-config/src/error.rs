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
            write!(
                f,
                "\n{pad} |\n{} | {}\n{pad} | {}{}",
                s.line,
                s.line_text,
                " ".repeat(s.column.saturating_sub(1)),
                "^".repeat(s.width.max(1))
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}
