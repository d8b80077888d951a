//! The major (likely breaking) dependency upgrades between two revisions of a repository.
//!
//! ```text
//! cargo run -p upkeep-examples --example major_upgrades -- <repo> <old-rev> <new-rev>
//! cargo run -p upkeep-examples --example major_upgrades -- ~/src/signals v1.4.0 main
//! ```
//!
//! `upkeep-deps` knows nothing of git: it diffs two [`TreeSource`]s. Here each side is
//! the repository at one commit, read with `upkeep-git`.

#![allow(clippy::print_stdout, clippy::print_stderr)] // an example's output is the point

use std::process::ExitCode;

use upkeep_deps::{SourceError, TreeSource, diff_trees};
use upkeep_git::{Oid, Repo};

/// A repository at one commit, as a tree of files.
struct AtCommit<'a> {
    repo: &'a Repo,
    commit: Oid,
}

impl TreeSource for AtCommit<'_> {
    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        let files = self.repo.list_files_at(self.commit)?;
        Ok(files
            .iter()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect())
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        match self.repo.read_file_at(self.commit, path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(upkeep_git::Error::FileMissing { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, old, new] = args.as_slice() else {
        eprintln!("usage: major_upgrades <repo> <old-rev> <new-rev>");
        return ExitCode::from(2);
    };
    match run(repo, old, new) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str, old: &str, new: &str) -> Result<(), Box<dyn std::error::Error>> {
    let repo = Repo::open(path)?;
    let old_tree = AtCommit {
        repo: &repo,
        commit: repo.resolve(old)?,
    };
    let new_tree = AtCommit {
        repo: &repo,
        commit: repo.resolve(new)?,
    };
    let report = diff_trees(&old_tree, &new_tree)?;

    let mut majors = 0;
    for (lockfile, change) in report.likely_breaking() {
        majors += 1;
        println!(
            "{:<28} {:>12} → {:<12} {} in {}{}",
            change.name,
            change.from.as_deref().unwrap_or("-"),
            change.to.as_deref().unwrap_or("-"),
            change.kind,
            lockfile.path,
            if change.direct == Some(false) {
                " (transitive)"
            } else {
                ""
            },
        );
    }
    let total = report.changes().count();
    println!("{majors} likely breaking of {total} changes between {old} and {new}");
    // A lockfile that cannot be parsed does not stop the others; say which.
    for error in &report.errors {
        eprintln!("warning: not diffed: {error}");
    }
    Ok(())
}
