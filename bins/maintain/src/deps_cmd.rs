//! `maintain deps diff OLD NEW`: the dependency changes between two lockfiles or two
//! directories, as the maintenance round would put them in a pull request.

use std::path::{Path, PathBuf};

use upkeep_cli::{Exit, Output, Report};
use upkeep_deps::{DiffReport, Error};

/// `maintain deps …`
#[derive(Debug, clap::Args)]
pub(crate) struct DepsArgs {
    #[command(subcommand)]
    pub command: DepsCommand,
}

/// The `deps` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DepsCommand {
    /// Show what changed between two lockfiles, or between every lockfile of two
    /// directories (paired by relative path, honouring .gitignore).
    ///
    /// Each change is major, minor, patch, prerelease, downgrade, added, removed or
    /// other, by the version scheme of its ecosystem, and marked direct or transitive
    /// when a manifest beside the lockfile says so. A lockfile that cannot be parsed is
    /// listed under errors (exit code 1); the others are still diffed.
    Diff(DiffArgs),
}

/// `maintain deps diff OLD NEW`
#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The old lockfile or directory.
    pub old: PathBuf,
    /// The new lockfile or directory.
    pub new: PathBuf,
    /// Print the Markdown table used in pull-request bodies (same as `--output markdown`;
    /// `--output json` wins).
    #[arg(long)]
    pub markdown: bool,
}

/// How the diff is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DepsOutput {
    /// Aligned text for terminals.
    Text,
    /// The pull-request table.
    Markdown,
    /// The JSON document.
    Json,
}

impl DepsOutput {
    /// The format asked for by the global `--output` and `--markdown`.
    #[must_use]
    pub(crate) fn from_flags(output: Output, markdown: bool) -> Self {
        match output {
            Output::Json => Self::Json,
            Output::Markdown => Self::Markdown,
            Output::Text if markdown => Self::Markdown,
            Output::Text => Self::Text,
        }
    }
}

/// Runs `maintain deps …`.
pub(crate) fn run(args: DepsArgs, output: Output) -> Result<Exit, Report> {
    match args.command {
        DepsCommand::Diff(diff) => {
            let format = DepsOutput::from_flags(output, diff.markdown);
            let (text, exit) = diff_paths(&diff.old, &diff.new, format)?;
            print_stdout(&text);
            Ok(exit)
        }
    }
}

/// Writes the data to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn print_stdout(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    let _ = write!(stdout, "{text}{newline}").and_then(|()| stdout.flush());
}

/// Diffs two files or two directories and renders the report; the exit code is
/// [`Exit::Partial`] when some lockfile could not be diffed.
pub(crate) fn diff_paths(
    old: &Path,
    new: &Path,
    format: DepsOutput,
) -> Result<(String, Exit), Report> {
    let report = diff(old, new)?;
    let text = match format {
        DepsOutput::Text => upkeep_deps::render_text(&report),
        DepsOutput::Markdown => upkeep_deps::render_markdown(&report),
        DepsOutput::Json => upkeep_deps::render_json(&report),
    };
    let exit = if report.errors.is_empty() {
        Exit::Success
    } else {
        Exit::Partial
    };
    Ok((text, exit))
}

fn diff(old: &Path, new: &Path) -> Result<DiffReport, Report> {
    let unreadable = |path: &Path| {
        Report::user(Error::ReadFile {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        })
    };
    for path in [old, new] {
        if !path.exists() {
            return Err(unreadable(path).hint("OLD and NEW are two lockfiles or two directories"));
        }
    }
    let result = match (old.is_dir(), new.is_dir()) {
        (true, true) => upkeep_deps::fs::diff_dirs(old, new),
        (false, false) => upkeep_deps::fs::diff_files(old, new),
        _ => {
            return Err(Report::user(Error::NotADirectory {
                path: if old.is_dir() { new } else { old }.to_path_buf(),
            })
            .hint("give two lockfiles or two directories, not one of each"));
        }
    };
    result.map_err(|e| match e {
        Error::UnknownLockfile { .. } => Report::user(e).hint(
            "supported: requirements*.txt, Pipfile.lock, poetry.lock, uv.lock, package-lock.json, \
             yarn.lock, pnpm-lock.yaml, Cargo.lock, go.mod, Gemfile.lock, composer.lock, \
             Dockerfile*, docker-compose*.yml",
        ),
        other => Report::user(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, text).unwrap();
        path
    }

    #[test]
    fn two_directories_as_json() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("old");
        let new = tmp.path().join("new");
        write(
            &old,
            "svc/requirements.txt",
            "django==4.2.16\n    # via -r requirements.in\n",
        );
        write(
            &new,
            "svc/requirements.txt",
            "django==5.1.3\n    # via -r requirements.in\n",
        );
        write(&old, "go.mod", "module m\n");
        write(&new, "go.mod", "this is not go.mod\n");
        let (text, exit) = diff_paths(&old, &new, DepsOutput::Json).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["lockfiles"][0],
            serde_json::json!({
                "path": "svc/requirements.txt",
                "ecosystem": "pypi",
                "changes": [{"name": "django", "from": "4.2.16", "to": "5.1.3", "kind": "major",
                             "direct": true, "likely_breaking": true}]
            })
        );
        assert_eq!(json["errors"][0]["path"], "go.mod");
        assert_eq!(json["errors"][0]["line"], 1);
        assert_eq!(exit, Exit::Partial);
    }

    #[test]
    fn unreadable_input_is_a_user_error() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = write(tmp.path(), "Cargo.lock", "");
        let err = diff_paths(
            &tmp.path().join("missing/Cargo.lock"),
            &lock,
            DepsOutput::Text,
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), Exit::UserError);
        let err = diff_paths(tmp.path(), &lock, DepsOutput::Text).unwrap_err();
        assert_eq!(err.exit_code(), Exit::UserError);
    }

    #[test]
    fn identical_files_have_no_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let a = write(
            tmp.path(),
            "a/yarn.lock",
            "lodash@^4.17.21:\n  version \"4.17.21\"\n",
        );
        let b = write(
            tmp.path(),
            "b/yarn.lock",
            "lodash@^4.17.21:\n  version \"4.17.21\"\n",
        );
        let (text, exit) = diff_paths(&a, &b, DepsOutput::Markdown).unwrap();
        assert_eq!(text, "No dependency changes.\n");
        assert_eq!(exit, Exit::Success);
    }
}
