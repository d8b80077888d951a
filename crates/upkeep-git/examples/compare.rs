//! Compare two revisions of a local repository, as upkeep does before moving `stable`.
//!
//! ```text
//! cargo run -p upkeep-git --example compare -- <repo> <base> <head>
//! cargo run -p upkeep-git --example compare -- . HEAD~5 HEAD
//! ```
//!
//! Prints how far `head` is ahead of / behind `base`, their merge base, and the commits
//! `head` has that `base` lacks (newest first).

#![allow(clippy::print_stdout, clippy::print_stderr)] // an example's output is the point

use std::process::ExitCode;

use upkeep_git::Repo;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, base, head] = args.as_slice() else {
        eprintln!("usage: compare <repo> <base> <head>");
        return ExitCode::from(2);
    };
    match run(repo, base, head) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str, base: &str, head: &str) -> upkeep_git::Result<()> {
    let repo = Repo::open(path)?;
    let (base_id, head_id) = (repo.resolve(base)?, repo.resolve(head)?);
    let (ahead, behind) = repo.ahead_behind(head_id, base_id)?;
    println!(
        "{head} ({:.12}) vs {base} ({:.12})",
        head_id.to_string(),
        base_id.to_string()
    );
    println!("  ahead by {ahead}, behind by {behind}");
    match repo.merge_base(base_id, head_id)? {
        Some(mb) => println!("  merge base {mb:.12}", mb = mb.to_string()),
        None => println!("  no common history"),
    }
    let commits = repo.commits_between(base_id, head_id)?;
    if !commits.is_empty() {
        println!("\ncommits in {head} not in {base}:");
    }
    for c in commits {
        println!(
            "  {:.12}  {}  {} <{}>  {}",
            c.id.to_string(),
            c.time.format("%Y-%m-%d"),
            c.author_name,
            c.author_email,
            c.subject
        );
    }
    Ok(())
}
