//! What a `git push` to the fake is refused, as GitHub's receive-pack refuses it.
//!
//! Pushes reach the fake's bare repositories directly (a test or an adapter pushes to
//! [`super::FakeGitHub::repo_path`]; there is no smart-HTTP server), so the refusals live
//! where git receives them: a `pre-receive` hook installed in every bare repository. The
//! hook cannot ask the fake (a test may push from the thread that runs the fake's server),
//! so the fake writes what the hook needs into `fake-github.policy` beside it whenever
//! that changes: the token's role, its `workflow` scope, the branch protection rules as
//! they apply to the token's account, and which commits passed which status checks.
//!
//! Refused, with GitHub's messages (git shows them as `remote:` lines and the ref as
//! `[remote rejected] (pre-receive hook declined)`, where GitHub says `protected branch
//! hook declined` or the refusal itself):
//! - any push by an account that may not push (`Permission to owner/repo.git denied to
//!   login.`);
//! - a push that creates or changes a file under `.github/workflows` without the token's
//!   `workflow` scope (`refusing to allow a Personal Access Token to create or update
//!   workflow … without workflow scope`);
//! - an update of a protected branch that its rule refuses the account (GH006, see
//!   [`super::protection`]).

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;

use super::model::{Role, World};
use super::protection;

const POLICY: &str = "fake-github.policy";

/// The hook. Policy lines: `deny <message>` (every push), `workflow-scope no`,
/// `branch <name> deny <message>`, `branch <name> noforce`, `branch <name> nodelete`,
/// `branch <name> check <context>`, `passed <sha> <context>`.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# Installed by upkeep-testkit's FakeGitHub: refuses what GitHub's receive-pack refuses.
policy="$(git rev-parse --git-dir)/fake-github.policy"
[ -f "$policy" ] || exit 0
zero=0000000000000000000000000000000000000000
deny=$(sed -n 's/^deny //p' "$policy")
if [ -n "$deny" ]; then
    printf '%s\n' "$deny" >&2
    exit 1
fi
refused=0
while read -r old new ref; do
    if [ "$new" != "$zero" ] && grep -qx 'workflow-scope no' "$policy"; then
        if [ "$old" = "$zero" ]; then
            files=$(git log --format= --name-only "$new" --not --all -- .github/workflows)
        else
            files=$(git diff --name-only "$old" "$new" -- .github/workflows)
        fi
        first=$(printf '%s\n' "$files" | sed -n '/./{p;q;}')
        if [ -n "$first" ]; then
            printf 'error: refusing to allow a Personal Access Token to create or update workflow `%s` without `workflow` scope\n' "$first" >&2
            refused=1
            continue
        fi
    fi
    branch=${ref#refs/heads/}
    [ "$branch" = "$ref" ] && continue
    grep -qxF "branch $branch protected" "$policy" || continue
    reasons=""
    if [ "$new" = "$zero" ]; then
        if grep -qx "branch $branch nodelete" "$policy"; then
            reasons="Cannot delete this protected branch"
        fi
    else
        if [ "$old" != "$zero" ] && grep -qx "branch $branch noforce" "$policy" \
            && ! git merge-base --is-ancestor "$old" "$new"; then
            reasons="Cannot force-push to this branch"
        fi
        standing=$(grep -F "branch $branch deny " "$policy" | cut -d' ' -f4-)
        [ -n "$standing" ] && reasons=$(printf '%s\n%s' "$reasons" "$standing")
        required=0
        missing=0
        last=""
        checks=$(grep -F "branch $branch check " "$policy" | cut -d' ' -f4-)
        if [ -n "$checks" ]; then
            while IFS= read -r context; do
                required=$((required + 1))
                if ! grep -qxF "passed $new $context" "$policy"; then
                    missing=$((missing + 1))
                    last=$context
                fi
            done <<CHECKS
$checks
CHECKS
        fi
        if [ "$missing" -eq 1 ] && [ "$required" -eq 1 ]; then
            reasons=$(printf '%s\nRequired status check "%s" is expected.' "$reasons" "$last")
        elif [ "$missing" -gt 0 ]; then
            reasons=$(printf '%s\n%s of %s required status checks are expected.' "$reasons" "$missing" "$required")
        fi
    fi
    reasons=$(printf '%s\n' "$reasons" | sed '/^$/d')
    if [ -n "$reasons" ]; then
        printf 'error: GH006: Protected branch update failed for %s.\n' "$ref" >&2
        printf '%s\n' "$reasons" | while IFS= read -r line; do
            printf '\n- %s\n' "$line" >&2
        done
        refused=1
    fi
done
exit $refused
"#;

/// Installs the hook in `key`'s bare repository and writes its policy.
pub(super) fn install(world: &World, key: &str) {
    let hooks = world.repos[key].bare.path().join("hooks");
    fs_err::create_dir_all(&hooks).expect("hooks directory");
    let hook = hooks.join("pre-receive");
    fs_err::write(&hook, PRE_RECEIVE).expect("write the pre-receive hook");
    fs_err::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
        .expect("make the hook executable");
    sync(world, key);
}

/// Rewrites `key`'s policy from the fake's state. Call after anything it depends on
/// changed: scopes, role, protection, statuses and check runs.
pub(super) fn sync(world: &World, key: &str) {
    let repo = &world.repos[key];
    let mut policy = String::new();
    if repo.role < Role::Write {
        let _ = writeln!(
            policy,
            "deny Permission to {}.git denied to {}.",
            repo.full_name(),
            world.login
        );
    }
    let scopes: Vec<&str> = world.scopes.split(',').map(str::trim).collect();
    if !scopes.contains(&"workflow") {
        policy.push_str("workflow-scope no\n");
    }
    let mut contexts: Vec<String> = Vec::new();
    for branch in repo.protection.keys() {
        let _ = writeln!(policy, "branch {branch} protected");
        if !protection::allows_force(repo, branch) {
            let _ = writeln!(policy, "branch {branch} noforce");
        }
        if !protection::allows_deletion(repo, branch) {
            let _ = writeln!(policy, "branch {branch} nodelete");
        }
        for refusal in protection::standing_refusals(world, repo, branch) {
            let _ = writeln!(policy, "branch {branch} deny {refusal}");
        }
        for context in protection::required_checks(repo, branch) {
            let _ = writeln!(policy, "branch {branch} check {context}");
            contexts.push(context);
        }
    }
    let shas = repo
        .statuses
        .iter()
        .map(|s| &s.sha)
        .chain(repo.check_runs.iter().map(|r| &r.sha));
    let mut passed: Vec<String> = Vec::new();
    for sha in shas {
        for context in &contexts {
            let line = format!("passed {sha} {context}");
            if protection::passed(repo, sha, context) && !passed.contains(&line) {
                passed.push(line);
            }
        }
    }
    for line in passed {
        let _ = writeln!(policy, "{line}");
    }
    fs_err::write(repo.bare.path().join(POLICY), policy).expect("write the push policy");
}

/// Rewrites every repository's policy (after a change of the token's scopes).
pub(super) fn sync_all(world: &World) {
    for key in world.repos.keys() {
        sync(world, key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::git::{git, try_git};
    use crate::github::{FakeGitHub, Role};

    const REPO: &str = "acme/api";

    /// A clone of the fake's repository to push from.
    struct Work {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    impl Work {
        fn new(fake: &FakeGitHub) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let url = fake.repo_path(REPO).display().to_string();
            git(dir.path(), &["clone", "-q", &url, "work"]);
            let path = dir.path().join("work");
            Self { _dir: dir, path }
        }

        fn commit_file(&self, file: &str, content: &str) -> String {
            let full = self.path.join(file);
            fs_err::create_dir_all(full.parent().unwrap()).unwrap();
            fs_err::write(full, content).unwrap();
            git(&self.path, &["add", "-A"]);
            git(
                &self.path,
                &["commit", "-q", "-m", &format!("change {file}")],
            );
            git(&self.path, &["rev-parse", "HEAD"]).trim().to_owned()
        }

        fn push(&self, refspec: &str) -> Result<String, String> {
            try_git(&self.path, &["push", "-q", "origin", refspec])
        }
    }

    #[tokio::test]
    async fn workflow_files_need_the_workflow_scope() {
        let fake = FakeGitHub::start().await;
        fake.create_repo(REPO);
        fake.set_scopes("repo");
        let work = Work::new(&fake);
        work.commit_file("src/lib.rs", "// code\n");
        work.push("HEAD:refs/heads/code-only")
            .expect("no workflow file: no scope needed");
        work.commit_file(".github/workflows/ci.yml", "on: push\n");
        let refused = work.push("HEAD:refs/heads/ci").unwrap_err();
        assert!(
            refused.contains(
                "refusing to allow a Personal Access Token to create or update workflow `.github/workflows/ci.yml` without `workflow` scope"
            ),
            "{refused}"
        );
        assert_eq!(fake.branch_tip(REPO, "ci"), None);
        let err = work.push("HEAD:refs/heads/code-only").unwrap_err();
        assert!(err.contains("without `workflow` scope"), "{err}");

        fake.set_scopes("repo, workflow");
        work.push("HEAD:refs/heads/ci").expect("with the scope");
        // A branch at commits the repository already has creates no workflow.
        fake.set_scopes("repo");
        work.push("HEAD:refs/heads/copy").expect("nothing new");
    }

    #[tokio::test]
    async fn protected_branches_refuse_pushes_unless_the_account_bypasses() {
        let fake = FakeGitHub::start().await;
        fake.create_repo(REPO);
        fake.protect_branch(
            REPO,
            "main",
            &json!({
                "required_status_checks": null,
                "enforce_admins": false,
                "required_pull_request_reviews": {"required_approving_review_count": 1},
                "restrictions": null,
            }),
        );
        let work = Work::new(&fake);
        let before = fake.branch_tip(REPO, "main");
        work.commit_file("a.txt", "a\n");

        fake.set_role(REPO, Role::Write);
        let refused = work.push("HEAD:refs/heads/main").unwrap_err();
        assert!(
            refused.contains("GH006: Protected branch update failed for refs/heads/main."),
            "{refused}"
        );
        assert!(
            refused.contains("Changes must be made through a pull request."),
            "{refused}"
        );
        assert_eq!(fake.branch_tip(REPO, "main"), before);

        // An admin bypasses a rule that does not include administrators...
        fake.set_role(REPO, Role::Admin);
        work.push("HEAD:refs/heads/main").expect("admin bypass");
        // ...but nobody force-pushes or deletes a protected branch.
        let refused = work.push("+HEAD~1:refs/heads/main").unwrap_err();
        assert!(
            refused.contains("Cannot force-push to this branch"),
            "{refused}"
        );
        let refused = work.push(":refs/heads/main").unwrap_err();
        assert!(
            refused.contains("Cannot delete this protected branch"),
            "{refused}"
        );

        // A read-only account pushes nothing at all.
        fake.set_role(REPO, Role::Read);
        let refused = work.push("HEAD:refs/heads/other").unwrap_err();
        assert!(
            refused.contains("Permission to acme/api.git denied to upkeep-bot."),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn required_status_checks_must_pass_on_the_pushed_commit() {
        let fake = FakeGitHub::start().await;
        fake.create_repo(REPO);
        fake.set_role(REPO, Role::Write);
        fake.protect_branch(
            REPO,
            "main",
            &json!({
                "required_status_checks": {"strict": false, "contexts": ["ci"]},
                "enforce_admins": true,
                "required_pull_request_reviews": null,
                "restrictions": {"users": ["upkeep-bot"], "teams": []},
            }),
        );
        let work = Work::new(&fake);
        let sha = work.commit_file("a.txt", "a\n");
        let refused = work.push("HEAD:refs/heads/main").unwrap_err();
        assert!(
            refused.contains("Required status check \"ci\" is expected."),
            "{refused}"
        );
        fake.add_status(REPO, &sha, "ci", "failure");
        assert!(work.push("HEAD:refs/heads/main").is_err());
        fake.add_status(REPO, &sha, "ci", "success");
        work.push("HEAD:refs/heads/main")
            .expect("listed in the restrictions, checks passed");
        assert_eq!(fake.branch_tip(REPO, "main"), Some(sha));

        // Someone not in the push restrictions is refused whatever the checks say.
        fake.protect_branch(
            REPO,
            "main",
            &json!({
                "required_status_checks": null,
                "enforce_admins": true,
                "required_pull_request_reviews": null,
                "restrictions": {"users": ["release-manager"], "teams": []},
            }),
        );
        work.commit_file("b.txt", "b\n");
        let refused = work.push("HEAD:refs/heads/main").unwrap_err();
        assert!(
            refused.contains("You're not authorized to push to this branch."),
            "{refused}"
        );
    }
}
