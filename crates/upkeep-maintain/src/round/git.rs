//! The git work of a pipeline: commit the upgrade, name it, push it compare-and-swap.

use std::path::Path;

use upkeep_deps::DiffReport;
use upkeep_git::{Author, Credentials, Expect, Oid, PushRequest, Repo};

use upkeep_text::error_chain;

pub(super) type Committed = (Oid, DiffReport);

/// Commits the work tree (if it changed) on a detached HEAD over `base`, diffs the
/// lockfiles, and reads the branch's remote tip. `None` when nothing changed.
pub(super) fn commit_and_diff(
    dir: &Path,
    base: Oid,
    author: &Author,
    round: &str,
) -> std::result::Result<Option<Committed>, String> {
    let repo = Repo::open(dir).map_err(|e| error_chain(&e))?;
    if repo.status_is_clean().map_err(|e| error_chain(&e))? {
        return Ok(None);
    }
    // Detached so the local base branch keeps mirroring the remote.
    repo.git2()
        .set_head_detached(base)
        .map_err(|e| e.message().to_owned())?;
    let provisional = format!("Maintenance {round}");
    let Some(commit) = repo
        .commit_all(&provisional, author)
        .map_err(|e| error_chain(&e))?
    else {
        return Ok(None);
    };
    let diff = crate::gitdiff::diff_commits(&repo, base, commit).map_err(|e| error_chain(&e))?;
    Ok(Some((commit, diff)))
}

/// Gives the commit its final message and points the local branch at it. When the
/// branch already exists on the remote with the same tree on the same base (a re-run
/// the same day), the remote commit is reused so that nothing is pushed again.
pub(super) fn finish_commit(
    dir: &Path,
    commit: Oid,
    message: &str,
    branch: &str,
) -> std::result::Result<Oid, String> {
    let repo = Repo::open(dir).map_err(|e| error_chain(&e))?;
    let git = repo.git2();
    let c = git
        .find_commit(commit)
        .map_err(|e| e.message().to_owned())?;
    let final_commit = c
        .amend(Some("HEAD"), None, None, None, Some(message), None)
        .map_err(|e| e.message().to_owned())?;
    let tree = c.tree_id();
    let parent = c.parent_id(0).ok();
    drop(c);
    let remote_ref = format!("refs/remotes/origin/{branch}");
    let reuse = git.refname_to_id(&remote_ref).ok().filter(|tip| {
        git.find_commit(*tip).is_ok_and(|t| {
            t.tree_id() == tree && t.parent_count() == 1 && t.parent_id(0).ok() == parent
        })
    });
    let target = reuse.unwrap_or(final_commit);
    git.reference(
        &format!("refs/heads/{branch}"),
        target,
        true,
        "upkeep: maintenance round",
    )
    .map_err(|e| e.message().to_owned())?;
    Ok(target)
}

/// Pushes `commit` to `branch` on the remote, expecting the remote's tip as fetched.
pub(super) fn push_branch(
    dir: &Path,
    url: &str,
    creds: &Credentials,
    branch: &str,
    commit: Oid,
    author_email: &str,
) -> std::result::Result<(), (&'static str, String)> {
    let git_err = |e: upkeep_git::Error| {
        let cause = match &e {
            upkeep_git::Error::PushRejected { .. } => "push rejected",
            upkeep_git::Error::RemoteMoved { .. } => "branch moved on the remote",
            _ => "push failed",
        };
        (cause, error_chain(&e))
    };
    let repo = Repo::open(dir).map_err(git_err)?;
    let remote_ref = format!("refs/heads/{branch}");
    let fetched = repo
        .git2()
        .refname_to_id(&format!("refs/remotes/origin/{branch}"))
        .ok();
    if fetched == Some(commit) {
        return Ok(());
    }
    let request = match fetched {
        Some(old) => {
            // The branch of an earlier run today is replaced (only if nobody moved it
            // since we fetched) — but never when its tip is somebody else's work. Both
            // author and committer: an amend or rebase keeps upkeep as the author but
            // makes the person the committer.
            let tip = repo.git2().find_commit(old).ok();
            let tip_author = tip
                .as_ref()
                .and_then(|c| c.author().email().ok().map(str::to_owned));
            let tip_committer = tip
                .as_ref()
                .and_then(|c| c.committer().email().ok().map(str::to_owned));
            if tip_author.as_deref() != Some(author_email)
                || tip_committer.as_deref() != Some(author_email)
            {
                return Err((
                    "branch has commits by others",
                    format!(
                        "{branch} already exists on the remote and its tip {old} was not made \
                         by upkeep ({}); merge or delete it, then re-run",
                        tip_committer.unwrap_or_else(|| "unknown committer".to_owned())
                    ),
                ));
            }
            PushRequest::single(commit, remote_ref, Expect::Tip(old)).forced()
        }
        None => PushRequest::single(commit, remote_ref, Expect::Absent),
    };
    repo.push(url, creds, &request).map_err(git_err)?;
    Ok(())
}
