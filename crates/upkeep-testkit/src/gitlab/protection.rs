//! Protected branches as GitLab keeps them, and the push checks its `pre-receive` runs.
//!
//! GitLab's rules (`app/models/protected_branch.rb`, `concerns/protected_ref_access.rb`,
//! `lib/gitlab/checks/branch_check.rb`):
//! - A rule names a branch or a wildcard (`*` matches anything, `/` included); a branch is
//!   protected when any rule matches it.
//! - Pushing to a protected branch needs one of the matching rules' push access levels:
//!   `30` Developers + Maintainers and `40` Maintainers compare with the user's role, `60`
//!   means instance admins, `0` no one. Several matching rules: any one suffices.
//! - A force push (the new tip does not contain the old one) is refused unless a matching
//!   rule has `allow_force_push`, whatever the role.
//! - A protected branch is deleted only through the web interface or the API, never by a
//!   push; a user without push access cannot create one by pushing.
//! - A new project's default branch is protected with push and merge for Maintainers and no
//!   force push (the instance default, "fully protected").
//!
//! Pushes reach the fake through git (`http_url_to_repo` is the bare repository's path), so
//! the checks run as a `pre-receive` hook in the bare repository, reading a policy file that
//! the fake rewrites whenever a rule or the token user's role changes. The hook prints
//! GitLab's own messages (`GitLab: You are not allowed to push code to protected branches
//! on this project.`), which git shows as `remote:` lines next to `pre-receive hook
//! declined`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

/// GitLab's role levels that rules use.
pub(super) const NO_ACCESS: u32 = 0;
pub(super) const DEVELOPER: u32 = 30;
pub(super) const MAINTAINER: u32 = 40;
pub(super) const ADMIN: u32 = 60;

/// One protected-branch rule.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) id: u64,
    /// A branch name or a wildcard such as `release/*`.
    pub(super) name: String,
    /// `(access level id, level)` pairs.
    pub(super) push: Vec<(u64, u32)>,
    pub(super) merge: Vec<(u64, u32)>,
    pub(super) allow_force_push: bool,
}

impl Rule {
    pub(super) fn matches(&self, branch: &str) -> bool {
        wildcard_match(&self.name, branch)
    }

    pub(super) fn json(&self) -> Value {
        let levels = |list: &[(u64, u32)]| {
            list.iter()
                .map(|(id, level)| {
                    json!({
                        "id": id,
                        "access_level": level,
                        "access_level_description": describe(*level),
                        "deploy_key_id": null,
                        "user_id": null,
                        "group_id": null,
                    })
                })
                .collect::<Vec<_>>()
        };
        json!({
            "id": self.id,
            "name": self.name,
            "push_access_levels": levels(&self.push),
            "merge_access_levels": levels(&self.merge),
            "allow_force_push": self.allow_force_push,
            "code_owner_approval_required": false,
        })
    }
}

/// `ProtectedRefAccess.human_access_levels`.
pub(super) fn describe(level: u32) -> &'static str {
    match level {
        DEVELOPER => "Developers + Maintainers",
        MAINTAINER => "Maintainers",
        ADMIN => "Instance admins",
        _ => "No one",
    }
}

/// GitLab's wildcard: `*` stands for any run of characters (`/` included), anchored.
pub(super) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether a user of role `level` (`None`: no membership, as an administrator without one)
/// passes one access level of a rule.
pub(super) fn grants(rule_level: u32, user: Option<u32>) -> bool {
    match rule_level {
        NO_ACCESS => false,
        ADMIN => user.is_none(),
        // Role levels compare with the project membership; an administrator without one
        // has none (`project.team.max_member_access` is 0).
        level => user.is_some_and(|l| l >= level),
    }
}

/// What the token's user may do on `branch` under `rules` (the fields of GitLab's branch
/// object, hence the flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub(super) struct Verdict {
    pub(super) protected: bool,
    pub(super) can_push: bool,
    pub(super) can_force_push: bool,
    pub(super) developers_can_push: bool,
    pub(super) developers_can_merge: bool,
}

pub(super) fn verdict(rules: &[Rule], branch: &str, user: Option<u32>) -> Verdict {
    let push_code = user.is_none_or(|l| l >= DEVELOPER);
    let matching: Vec<&Rule> = rules.iter().filter(|r| r.matches(branch)).collect();
    if matching.is_empty() {
        return Verdict {
            protected: false,
            can_push: push_code,
            can_force_push: push_code,
            developers_can_push: false,
            developers_can_merge: false,
        };
    }
    let can_push = push_code
        && matching
            .iter()
            .any(|r| r.push.iter().any(|(_, level)| grants(*level, user)));
    Verdict {
        protected: true,
        can_push,
        can_force_push: can_push && matching.iter().any(|r| r.allow_force_push),
        developers_can_push: matching
            .iter()
            .any(|r| r.push.iter().any(|(_, l)| *l == DEVELOPER)),
        developers_can_merge: matching
            .iter()
            .any(|r| r.merge.iter().any(|(_, l)| *l == DEVELOPER)),
    }
}

const POLICY_FILE: &str = "fake-gitlab-protected-branches";

/// The hook: GitLab's branch checks for the pusher (the token's user), from the policy file.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# FakeGitLab: GitLab's protected-branch push checks (lib/gitlab/checks/branch_check.rb),
# for the token's user, from the policy the fake writes next to this repository's refs.
policy="$(git rev-parse --git-dir)/fake-gitlab-protected-branches"
zero=0000000000000000000000000000000000000000
push_code=$(sed -n 's/^push_code=//p' "$policy")
status=0
while read -r old new ref; do
    case "$ref" in refs/heads/*) ;; *) continue ;; esac
    branch=${ref#refs/heads/}
    if [ "$push_code" != 1 ]; then
        echo "GitLab: You are not allowed to push code to this project." >&2
        status=1
        continue
    fi
    protected=0 push=0 force=0
    while IFS='	' read -r pattern may_push may_force; do
        case "$pattern" in push_code=*|'') continue ;; esac
        # Unquoted: the rule's `*` is a glob that also matches `/`, as GitLab's wildcard.
        case "$branch" in
            $pattern)
                protected=1
                [ "$may_push" = 1 ] && push=1
                [ "$may_force" = 1 ] && force=1
                ;;
        esac
    done < "$policy"
    [ "$protected" = 1 ] || continue
    if [ "$old" != "$zero" ] && [ "$new" != "$zero" ] && [ "$force" != 1 ] \
        && ! git merge-base --is-ancestor "$old" "$new"; then
        echo "GitLab: You are not allowed to force push code to a protected branch on this project." >&2
        status=1
    elif [ "$new" = "$zero" ]; then
        echo "GitLab: You can only delete protected branches using the web interface." >&2
        status=1
    elif [ "$push" != 1 ] && [ "$old" = "$zero" ]; then
        echo "GitLab: You are not allowed to create protected branches on this project." >&2
        status=1
    elif [ "$push" != 1 ]; then
        echo "GitLab: You are not allowed to push code to protected branches on this project." >&2
        status=1
    fi
done
exit $status
"#;

/// Installs the `pre-receive` hook in a bare repository.
pub(super) fn install_hook(bare: &Path) {
    let hooks = bare.join("hooks");
    fs_err::create_dir_all(&hooks).expect("hooks dir");
    let hook = hooks.join("pre-receive");
    fs_err::write(&hook, PRE_RECEIVE).expect("write pre-receive");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .expect("chmod pre-receive");
    }
}

/// Writes what the hook checks: whether the user may push code at all, and per rule whether
/// the user passes its push levels and whether it allows force pushes.
pub(super) fn write_policy(bare: &Path, rules: &[Rule], user: Option<u32>) {
    let push_code = user.is_none_or(|l| l >= DEVELOPER);
    let mut text = format!("push_code={}\n", u8::from(push_code));
    for rule in rules {
        let push = rule.push.iter().any(|(_, level)| grants(*level, user));
        let _ = writeln!(
            text,
            "{}\t{}\t{}",
            rule.name,
            u8::from(push),
            u8::from(rule.allow_force_push)
        );
    }
    fs_err::write(bare.join(POLICY_FILE), text).expect("write protection policy");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_gitlab_does() {
        assert!(wildcard_match("stable", "stable"));
        assert!(!wildcard_match("stable", "stable2"));
        assert!(wildcard_match("release/*", "release/1.0"));
        assert!(wildcard_match("release/*", "release/a/b"));
        assert!(wildcard_match("*-stable", "v1-stable"));
        assert!(!wildcard_match("*-stable", "v1-stable-x"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "acb"));
    }

    #[test]
    fn roles_pass_levels_and_force_push_needs_the_rule() {
        let rule = Rule {
            id: 1,
            name: "stable".into(),
            push: vec![(1, MAINTAINER)],
            merge: vec![(2, MAINTAINER)],
            allow_force_push: false,
        };
        let dev = verdict(std::slice::from_ref(&rule), "stable", Some(DEVELOPER));
        assert!(dev.protected && !dev.can_push && !dev.developers_can_push);
        let maintainer = verdict(std::slice::from_ref(&rule), "stable", Some(MAINTAINER));
        assert!(maintainer.can_push && !maintainer.can_force_push);
        let open = verdict(&[], "feature", Some(DEVELOPER));
        assert!(!open.protected && open.can_push);
        let reporter = verdict(&[], "feature", Some(20));
        assert!(!reporter.can_push);
    }
}
