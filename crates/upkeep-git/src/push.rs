//! Pushing ref updates with expectations about the remote's current tips.
//!
//! # Why this shells out to `git push`
//!
//! libgit2 (and so git2) cannot push with an expected old value ("push with lease"), and
//! for path and `file://` remotes its local transport writes the refs itself instead of
//! running the server's `git-receive-pack`: no `pre-receive`/`update` hooks run, and no
//! server-side compare-and-swap happens. upkeep's safety rests on both (a deploy lock is
//! a ref moved compare-and-swap; the local forge adapter keeps refs in bare repos with
//! hooks), so every push goes through the `git` CLI, which speaks the real protocol to
//! `receive-pack` on every kind of remote:
//!
//! - `--force-with-lease=<ref>:<expected>` makes git send `<expected>` as the old value
//!   of the ref, and `receive-pack` updates the ref only if it still has that value (the
//!   ref transaction verifies the old id under the ref lock). An empty `<expected>`
//!   means "must not exist".
//! - A plain `<oid>:<ref>` (no `+`) is refused unless it fast-forwards the advertised
//!   tip, and the server again updates only if the ref still has that tip.
//! - `--porcelain` gives one machine-readable verdict per ref; `remote:` lines on
//!   stderr carry hook output, which goes into [`Error::PushRejected`].
//! - `--atomic` for multi-ref requests: all refs move or none does.
//!
//! Before pushing, the remote's tips are read with libgit2 (`ls-remote`) to give precise
//! errors ([`Error::RemoteMoved`], [`Error::NotFastForward`]) without touching the
//! remote; the server-side checks above close the window between that read and the push.
//!
//! The token reaches `git` through a credential helper defined on the command line that
//! prints two environment variables set only for the child process: the secret is never
//! in argv, a URL or a config file.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use git2::Oid;

use crate::credentials::{check_url, may_send_token};
use crate::remote::{ls_remote, remote_tip};
use crate::{Credentials, Error, Repo, Result, SshAuth};

/// What the remote ref must be for an update to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Whatever it is (subject to [`PushMode`]): a plain push.
    Any,
    /// The ref must not exist yet (create-only).
    Absent,
    /// Compare-and-swap: the ref must be exactly this commit.
    Tip(Oid),
}

/// Whether an update may rewrite history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushMode {
    /// Refuse any update that is not a fast-forward of the remote's current tip.
    #[default]
    FastForwardOnly,
    /// Allow non-fast-forward updates (rollback). [`Expect`] is still enforced, so a
    /// forced rollback with [`Expect::Tip`] only rewinds the tip it was planned from.
    Force,
}

/// One ref to update on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The local commit to push; [`Oid::ZERO_SHA1`] deletes the remote ref (see
    /// [`PushRequest::delete`]).
    pub local: Oid,
    /// The full remote ref name, e.g. `refs/heads/stable`.
    pub remote_ref: String,
    /// What the remote ref must currently be.
    pub expect: Expect,
}

/// A set of ref updates pushed together (atomically when there are several).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushRequest {
    /// The updates.
    pub updates: Vec<RefUpdate>,
    /// Fast-forward only (default) or forced.
    pub mode: PushMode,
    /// Skip the pre-check (one `ls-remote` round trip) and rely on the server alone
    /// ([`PushRequest::server_checked`]).
    pub server_checked: bool,
}

impl PushRequest {
    /// A fast-forward-only request for one ref.
    #[must_use]
    pub fn single(local: Oid, remote_ref: impl Into<String>, expect: Expect) -> Self {
        Self {
            updates: vec![RefUpdate {
                local,
                remote_ref: remote_ref.into(),
                expect,
            }],
            mode: PushMode::FastForwardOnly,
            server_checked: false,
        }
    }

    /// A request deleting one remote ref. Deletion is never a fast-forward, so only the
    /// expectation guards it: with [`Expect::Tip`] it is compare-and-swap (the ref is
    /// deleted only if it still points there).
    #[must_use]
    pub fn delete(remote_ref: impl Into<String>, expect: Expect) -> Self {
        Self::single(Oid::ZERO_SHA1, remote_ref, expect)
    }

    /// The same request with another update added.
    #[must_use]
    pub fn and(mut self, local: Oid, remote_ref: impl Into<String>, expect: Expect) -> Self {
        self.updates.push(RefUpdate {
            local,
            remote_ref: remote_ref.into(),
            expect,
        });
        self
    }

    /// The same request without the pre-check: one round trip less, the server's
    /// compare-and-swap alone decides. The errors are the same variants, found after the
    /// push instead of before. Only for requests whose every update carries an
    /// [`Expect::Tip`] or [`Expect::Absent`] and, unless deleting, fast-forwards by
    /// construction (a commit whose parent is the expected tip): `git push
    /// --force-with-lease` does not itself refuse a non-fast-forward, it is the
    /// pre-check that does.
    #[must_use]
    pub fn server_checked(mut self) -> Self {
        self.server_checked = true;
        self
    }

    /// The same request, allowed to rewrite history ([`PushMode::Force`]).
    #[must_use]
    pub fn forced(mut self) -> Self {
        self.mode = PushMode::Force;
        self
    }

    fn refspecs(&self) -> String {
        self.updates
            .iter()
            .map(RefUpdate::refspec)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl RefUpdate {
    fn is_delete(&self) -> bool {
        self.local.is_zero()
    }

    /// `<oid>:<ref>`, or `:<ref>` for a deletion.
    fn refspec(&self) -> String {
        if self.is_delete() {
            format!(":{}", self.remote_ref)
        } else {
            format!("{}:{}", self.local, self.remote_ref)
        }
    }
}

/// How one ref ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefStatus {
    /// The ref did not exist and was created.
    Created,
    /// The ref moved forward.
    FastForwarded,
    /// The ref was rewritten (only with [`PushMode::Force`]).
    Forced,
    /// The ref already pointed at the commit.
    UpToDate,
    /// The ref was deleted ([`PushRequest::delete`]).
    Deleted,
}

/// The verdict for one updated ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefOutcome {
    /// The remote ref.
    pub remote_ref: String,
    /// Where it was before (as read just before the push; the expected tip for a
    /// [`PushRequest::server_checked`] request).
    pub old: Option<Oid>,
    /// Where it is now ([`Oid::ZERO_SHA1`] once deleted).
    pub new: Oid,
    /// What happened.
    pub status: RefStatus,
}

/// The verdicts of a successful push, one per requested ref, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushOutcome {
    /// Per-ref verdicts.
    pub refs: Vec<RefOutcome>,
}

/// The longest a `git push` may take before it is killed: far above any real push, short
/// enough that a half-open connection doesn't hang a scheduled job forever.
const PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_mins(10);

/// Runs `cmd` to completion like [`Command::output`], but kills it after `timeout`.
fn output_within(
    cmd: &mut Command,
    timeout: std::time::Duration,
) -> std::io::Result<std::process::Output> {
    use std::io::Read as _;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drain both pipes on threads so a chatty child can't block on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "`git push` did not finish within {}s and was killed",
                    timeout.as_secs()
                ),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Ok(std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

const TOKEN_ENV: &str = "UPKEEP_GIT_TOKEN";
const USER_ENV: &str = "UPKEEP_GIT_USERNAME";
/// Answers `get` with the child-only variables; ignores `store`/`erase`.
const CREDENTIAL_HELPER: &str = "!f() { test \"$1\" = get || exit 0; \
     printf 'username=%s\\npassword=%s\\n' \"$UPKEEP_GIT_USERNAME\" \"$UPKEEP_GIT_TOKEN\"; }; f";

impl Repo {
    /// Pushes `request` to `remote_url` and reports each ref's outcome.
    ///
    /// Every update is checked against the remote's current tip first: an
    /// [`Expect`] that does not hold is [`Error::RemoteMoved`], a non-fast-forward in
    /// [`PushMode::FastForwardOnly`] is [`Error::NotFastForward`]; in both cases nothing
    /// is pushed. The server enforces the same expectations atomically (see the module
    /// docs), so a concurrent push between check and push is refused too. A ref the
    /// server declines (hook, protection) is [`Error::PushRejected`] with the server's
    /// reason and hook output. Requests with several refs are atomic. Success is only
    /// reported when git reported every ref as updated or up to date.
    pub fn push(
        &self,
        remote_url: &str,
        creds: &Credentials,
        request: &PushRequest,
    ) -> Result<PushOutcome> {
        let url = check_url(remote_url)?;
        let url: &str = url.as_ref();
        if request.updates.is_empty() {
            return Ok(PushOutcome::default());
        }
        let push_err = |detail: String| Error::Push {
            remote: url.to_owned(),
            refspecs: request.refspecs(),
            detail,
        };
        for u in &request.updates {
            if !u.remote_ref.starts_with("refs/") {
                return Err(push_err(format!(
                    "`{}` is not a full ref name (refs/heads/...)",
                    u.remote_ref
                )));
            }
            if !u.is_delete() && self.repo.find_object(u.local, None).is_err() {
                return Err(push_err(format!(
                    "{} does not exist in {}",
                    u.local,
                    self.path().display()
                )));
            }
        }

        let current: HashMap<String, Oid> = if request.server_checked {
            request
                .updates
                .iter()
                .filter_map(|u| match u.expect {
                    Expect::Tip(tip) => Some((u.remote_ref.clone(), tip)),
                    Expect::Absent | Expect::Any => None,
                })
                .collect()
        } else {
            ls_remote(url, creds)?.into_iter().collect()
        };
        if !request.server_checked {
            for u in &request.updates {
                self.precheck(u, current.get(&u.remote_ref).copied(), request.mode)?;
            }
        }

        let output = output_within(&mut self.push_command(url, creds, request), PUSH_TIMEOUT)
            .map_err(|e| push_err(format!("cannot run `git push`: {e}")))?;
        let stdout = creds.scrub(&String::from_utf8_lossy(&output.stdout));
        let stderr = creds.scrub(&String::from_utf8_lossy(&output.stderr));
        let verdicts = parse_porcelain(&stdout);
        tracing::debug!(url, refspecs = %request.refspecs(), status = ?output.status, %stdout, %stderr, "git push");

        let rejected = verdicts
            .iter()
            .filter(|v| v.flag == '!')
            .min_by_key(|v| v.summary.contains("atomic push fail"));
        if let Some(v) = rejected {
            let update = request
                .updates
                .iter()
                .find(|u| u.remote_ref == v.remote_ref);
            return Err(self.rejection(url, creds, v, update, &stderr));
        }
        if !output.status.success() {
            return Err(push_err(stderr.trim().to_owned()));
        }

        let mut refs = Vec::new();
        for u in &request.updates {
            let Some(v) = verdicts.iter().find(|v| v.remote_ref == u.remote_ref) else {
                return Err(push_err(format!(
                    "git reported no outcome for {}: {}",
                    u.remote_ref,
                    stderr.trim()
                )));
            };
            let status = match v.flag {
                '*' => RefStatus::Created,
                ' ' => RefStatus::FastForwarded,
                '+' => RefStatus::Forced,
                '=' => RefStatus::UpToDate,
                '-' => RefStatus::Deleted,
                other => {
                    return Err(push_err(format!(
                        "unexpected outcome `{other}` for {}: {}",
                        u.remote_ref, v.summary
                    )));
                }
            };
            refs.push(RefOutcome {
                remote_ref: u.remote_ref.clone(),
                old: current.get(&u.remote_ref).copied(),
                new: u.local,
                status,
            });
        }
        tracing::info!(url, refs = ?refs, "pushed");
        Ok(PushOutcome { refs })
    }

    fn precheck(&self, u: &RefUpdate, actual: Option<Oid>, mode: PushMode) -> Result<()> {
        let moved = |expected| Error::RemoteMoved {
            remote_ref: u.remote_ref.clone(),
            expected,
            actual,
        };
        match u.expect {
            Expect::Tip(expected) if actual != Some(expected) => return Err(moved(Some(expected))),
            Expect::Absent if actual.is_some() => return Err(moved(None)),
            _ => {}
        }
        if mode == PushMode::FastForwardOnly
            && !u.is_delete()
            && let Some(from) = actual
            && from != u.local
            // An unknown `from` cannot be an ancestor of anything we have.
            && !self.repo.graph_descendant_of(u.local, from).unwrap_or(false)
        {
            return Err(Error::NotFastForward {
                remote_ref: u.remote_ref.clone(),
                from,
                to: u.local,
            });
        }
        Ok(())
    }

    fn push_command(&self, url: &str, creds: &Credentials, request: &PushRequest) -> Command {
        let mut cmd = Command::new("git");
        // Never wait for a person to type a password, and give up on a stalled transfer
        // (under 1 KB/s for a minute) rather than hang a scheduled job.
        cmd.env("GIT_TERMINAL_PROMPT", "0").args([
            "-c",
            "http.lowSpeedLimit=1000",
            "-c",
            "http.lowSpeedTime=60",
        ]);
        cmd.arg("-c").arg("credential.helper=");
        if let Some(token) = creds.token().filter(|_| may_send_token(url)) {
            cmd.arg("-c")
                .arg(format!("credential.helper={CREDENTIAL_HELPER}"))
                .env(TOKEN_ENV, token)
                .env(USER_ENV, creds.username());
        }
        if let SshAuth::Key(key) = creds.ssh_auth() {
            cmd.env(
                "GIT_SSH_COMMAND",
                format!(
                    "ssh -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes",
                    key.display().to_string().replace('\'', r"'\''")
                ),
            );
        }
        cmd.arg("push").arg("--porcelain");
        if request.updates.len() > 1 {
            cmd.arg("--atomic");
        }
        for u in &request.updates {
            match u.expect {
                Expect::Tip(expected) => {
                    cmd.arg(format!("--force-with-lease={}:{expected}", u.remote_ref));
                }
                Expect::Absent => {
                    cmd.arg(format!("--force-with-lease={}:", u.remote_ref));
                }
                Expect::Any => {}
            }
        }
        cmd.arg(url);
        for u in &request.updates {
            let plus = if request.mode == PushMode::Force {
                "+"
            } else {
                ""
            };
            cmd.arg(format!("{plus}{}", u.refspec()));
        }
        cmd.current_dir(self.git_dir())
            .env("GIT_DIR", self.git_dir())
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_OBJECT_DIRECTORY")
            .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
            .env_remove("GIT_QUARANTINE_PATH")
            .stdin(Stdio::null());
        cmd
    }

    fn rejection(
        &self,
        url: &str,
        creds: &Credentials,
        v: &Verdict,
        update: Option<&RefUpdate>,
        stderr: &str,
    ) -> Error {
        let reread = || remote_tip(url, &v.remote_ref, creds).ok().flatten();
        let reason = v.reason();
        if let Some(u) = update {
            let expected = match u.expect {
                Expect::Tip(e) => Some(Some(e)),
                Expect::Absent => Some(None),
                Expect::Any => None,
            };
            if reason == "stale info" {
                return Error::RemoteMoved {
                    remote_ref: v.remote_ref.clone(),
                    expected: expected.flatten(),
                    actual: reread(),
                };
            }
            if matches!(reason, "non-fast-forward" | "fetch first" | "needs force")
                && let Some(from) = reread()
            {
                return Error::NotFastForward {
                    remote_ref: v.remote_ref.clone(),
                    from,
                    to: u.local,
                };
            }
            // The server's own compare-and-swap failed: the ref moved after we looked.
            if let Some(expected) = expected
                && is_lock_failure(reason)
            {
                let actual = reread();
                if actual != expected {
                    return Error::RemoteMoved {
                        remote_ref: v.remote_ref.clone(),
                        expected,
                        actual,
                    };
                }
            }
        }
        let hook_output: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("remote:"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut reason = v.summary.clone();
        if !hook_output.is_empty() {
            reason.push('\n');
            reason.push_str(&hook_output.join("\n"));
        }
        let _ = self;
        Error::PushRejected {
            remote_ref: v.remote_ref.clone(),
            reason,
        }
    }
}

fn is_lock_failure(reason: &str) -> bool {
    [
        "failed to update ref",
        "failed to lock",
        "cannot lock ref",
        "but expected",
        "incorrect old value",
    ]
    .iter()
    .any(|needle| reason.contains(needle))
}

/// One line of `git push --porcelain`: `<flag>\t<from>:<to>\t<summary>`.
#[derive(Debug)]
struct Verdict {
    flag: char,
    remote_ref: String,
    summary: String,
}

impl Verdict {
    /// The text in parentheses of `[rejected] (stale info)`, or the whole summary.
    fn reason(&self) -> &str {
        self.summary
            .split_once(" (")
            .and_then(|(_, r)| r.strip_suffix(')'))
            .unwrap_or(&self.summary)
    }
}

fn parse_porcelain(stdout: &str) -> Vec<Verdict> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let flag_part = parts.next()?;
            let refs = parts.next()?;
            let summary = parts.next().unwrap_or("").trim().to_owned();
            let mut flag_chars = flag_part.chars();
            let flag = flag_chars.next()?;
            if flag_chars.next().is_some() {
                return None;
            }
            let (_, to) = refs.rsplit_once(':')?;
            Some(Verdict {
                flag,
                remote_ref: to.to_owned(),
                summary,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines_are_parsed() {
        let out = "To /tmp/r.git\n*\tabc:refs/heads/new\t[new branch]\n\
                   !\tdef:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone\n";
        let v = parse_porcelain(out);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].flag, '*');
        assert_eq!(v[0].remote_ref, "refs/heads/new");
        assert_eq!(v[1].flag, '!');
        assert_eq!(v[1].reason(), "pre-receive hook declined");
    }
}
