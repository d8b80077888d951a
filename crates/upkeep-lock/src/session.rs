//! One person's use of the token: each command of a deploy-token tool is one
//! [`Request`] and one call to [`Session::run`].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use upkeep_config::LockConfig;
use upkeep_git::Credentials;

use crate::announce::Announce;
use crate::preflight::{PreflightSpec, run_preflight};
use crate::store::{Acquired, LockStore, LockTarget, Released};
use crate::wait::WaitPolicy;
use crate::{Error, LockState, Result};

/// The ref prefix when none is configured.
pub const DEFAULT_REF_PREFIX: &str = "refs/upkeep/locks/";
/// The lock name when none is configured.
pub const DEFAULT_NAME: &str = "deploy";
/// The lease when none is configured or asked for.
pub const DEFAULT_LEASE: StdDuration = StdDuration::from_hours(4);

/// Where the token lives and the defaults of its commands: a `[lock]` section, a
/// repository named on the command line, or both (the repository wins; the section still
/// gives the name, ref prefix, lease, preflight checks).
#[derive(Debug, Clone)]
pub struct SessionSetup<'a> {
    /// The `[lock]` section, when there is a configuration.
    pub section: Option<&'a LockConfig>,
    /// A repository given instead of the section's (its URL or absolute path).
    pub repo: Option<&'a str>,
    /// A lock name given instead of the section's.
    pub name: Option<&'a str>,
    /// The configuration's state directory (scratch clones of a `repo` given so).
    pub state_dir: &'a Path,
    /// Where preflight checks run (the configuration file's directory).
    pub base_dir: &'a Path,
    /// Credentials for the lock repository (`upkeep_forge::connect::git_credentials`).
    pub credentials: Credentials,
    /// Who is operating ([`Actor::resolve`](crate::Actor::resolve)).
    pub actor: String,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Run the preflight checks (unless `skip_preflight`), then take the token, waiting
    /// up to `wait` while somebody else holds it.
    Acquire {
        /// Why; shown to everyone who asks.
        reason: String,
        /// The lease (default: the session's).
        lease: Option<StdDuration>,
        /// How long to wait while it is held.
        wait: Option<StdDuration>,
        /// Skip the preflight checks.
        skip_preflight: bool,
    },
    /// Take the token from its live holder, recorded loudly.
    Steal {
        /// Why it cannot wait (required).
        reason: String,
        /// The lease (default: the session's).
        lease: Option<StdDuration>,
        /// Also replace a state that cannot be read.
        force: bool,
    },
    /// Give the token back.
    Release,
    /// Extend the lease to now plus `lease` (never shorter than it is).
    Renew {
        /// The new lease from now (default: the session's).
        lease: Option<StdDuration>,
    },
    /// Check that the operator holds the token with this fencing number.
    Verify {
        /// The fencing number printed when they acquired.
        fencing: u64,
    },
    /// Who holds the token.
    Status,
    /// Every change, oldest first.
    History {
        /// Only changes since then.
        since: Option<Since>,
    },
}

/// The start of a history window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now.
    Ago(StdDuration),
    /// This moment.
    At(DateTime<Utc>),
}

impl FromStr for Since {
    type Err = String;

    /// An RFC 3339 time (`2026-11-01T00:00:00Z`) or a duration (`7d`, `12h`).
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::At(t.with_timezone(&Utc)));
        }
        text.parse::<upkeep_config::HumanDuration>()
            .map(|d| Self::Ago(d.get()))
            .map_err(|e| {
                format!(
                    "{e}; give a duration such as `7d` or a time such as `2026-11-01T00:00:00Z`"
                )
            })
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Acquired, taken over, stolen, or already held.
    Acquired(Acquired),
    /// Released, or nothing to release.
    Released(Released),
    /// The lease was extended.
    Renewed(LockState),
    /// The operator holds the token with the fencing number asked about.
    Verified(LockState),
    /// The current state (`None`: never taken).
    Status(Option<LockState>),
    /// The states, oldest first.
    History(Vec<LockState>),
}

/// The result of [`Session::run`], ready to render ([`Outcome::text`],
/// [`Outcome::json`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What was done.
    pub done: Done,
    /// The session's clock when it was done.
    pub now: DateTime<Utc>,
    /// What went wrong without undoing anything (an announcement that failed).
    pub warnings: Vec<String>,
}

type Clock = Box<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The token as one operator uses it: its store, who they are, the defaults and hooks.
pub struct Session {
    store: LockStore,
    actor: String,
    lease: StdDuration,
    preflight: Vec<PreflightSpec>,
    preflight_dir: PathBuf,
    announcer: Option<Box<dyn Announce>>,
    clock: Clock,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("store", &self.store)
            .field("actor", &self.actor)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session of `actor` on `store` with the default lease, no preflight checks, no
    /// announcements, and the system clock in whole seconds (the history is read by
    /// people; sub-second stamps only add noise).
    #[must_use]
    pub fn new(store: LockStore, actor: impl Into<String>) -> Self {
        Self {
            store,
            actor: actor.into(),
            lease: DEFAULT_LEASE,
            preflight: Vec::new(),
            preflight_dir: PathBuf::from("."),
            announcer: None,
            clock: Box::new(|| Utc::now().trunc_subsecs(0)),
        }
    }

    /// Opens the token `setup` describes, with the section's lease and preflight checks.
    pub fn open(setup: SessionSetup<'_>) -> Result<Self> {
        let section = setup.section;
        let name = setup
            .name
            .or(section.map(|l| l.name.as_str()))
            .unwrap_or(DEFAULT_NAME)
            .to_owned();
        let ref_prefix = section.map_or(DEFAULT_REF_PREFIX, |l| l.ref_prefix.as_str());
        let target = match (setup.repo, section) {
            (None, Some(l)) => LockTarget {
                name,
                ..LockTarget::from_config(l, setup.credentials)
            },
            (repo, _) => {
                let url = repo.unwrap_or_default().to_owned();
                LockTarget {
                    scratch_dir: setup
                        .state_dir
                        .join("lock")
                        .join(upkeep_git::cache_dir_name(&url)),
                    remote_url: url,
                    credentials: setup.credentials,
                    name,
                    ref_prefix: ref_prefix.to_owned(),
                }
            }
        };
        let mut session = Self::new(LockStore::open(target)?, setup.actor);
        if let Some(l) = section {
            session.lease = l.lease.get();
            session.preflight = l.preflight.iter().map(PreflightSpec::from_config).collect();
        }
        setup.base_dir.clone_into(&mut session.preflight_dir);
        Ok(session)
    }

    /// Tells the team about each change through `announcer`.
    #[must_use]
    pub fn with_announcer(mut self, announcer: Box<dyn Announce>) -> Self {
        self.announcer = Some(announcer);
        self
    }

    /// Measures leases with `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// The default lease.
    #[must_use]
    pub fn with_lease(mut self, lease: StdDuration) -> Self {
        self.lease = lease;
        self
    }

    /// The store underneath.
    #[must_use]
    pub fn store(&self) -> &LockStore {
        &self.store
    }

    /// Who is operating.
    #[must_use]
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Does what `request` asks, announces a change that landed, and says what it did.
    pub fn run(&self, request: Request) -> Result<Outcome> {
        let who = self.actor.as_str();
        let now = (self.clock)();
        let done = match request {
            Request::Acquire {
                reason,
                lease,
                wait,
                skip_preflight,
            } => {
                let lease = self.lease(lease)?;
                if !skip_preflight {
                    for check in run_preflight(&self.preflight, &self.preflight_dir)? {
                        tracing::info!(check = %check.name, "preflight passed");
                    }
                }
                Done::Acquired(match wait {
                    Some(wait) => self.store.acquire_waiting(
                        who,
                        &reason,
                        lease,
                        &WaitPolicy::new(wait),
                        &*self.clock,
                    )?,
                    None => self.store.acquire(who, &reason, lease, (self.clock)())?,
                })
            }
            Request::Steal {
                reason,
                lease,
                force,
            } => {
                let lease = self.lease(lease)?;
                Done::Acquired(if force {
                    self.store.steal_forced(who, &reason, lease, now)?
                } else {
                    self.store.steal(who, &reason, lease, now)?
                })
            }
            Request::Release => Done::Released(self.store.release(who, now)?),
            Request::Renew { lease } => {
                Done::Renewed(self.store.renew(who, self.lease(lease)?, now)?)
            }
            Request::Verify { fencing } => Done::Verified(self.store.verify(who, fencing, now)?),
            Request::Status => Done::Status(self.store.status()?),
            Request::History { since } => {
                let since = since.map(|s| match s {
                    Since::At(t) => t,
                    Since::Ago(d) => Duration::from_std(d)
                        .ok()
                        .and_then(|d| now.checked_sub_signed(d))
                        .unwrap_or(DateTime::<Utc>::MIN_UTC),
                });
                Done::History(self.store.history(since)?)
            }
        };
        let changed = match &done {
            Done::Acquired(a) if !a.already_held => Some(&a.state),
            Done::Released(r) if r.released => r.state.as_ref(),
            _ => None,
        };
        let mut warnings = Vec::new();
        if let (Some(state), Some(announcer)) = (changed, &self.announcer)
            && let Err(e) = announcer.announce(state)
        {
            warnings.push(format!("could not announce the change to the team: {e}"));
        }
        Ok(Outcome {
            done,
            now: (self.clock)(),
            warnings,
        })
    }

    fn lease(&self, asked: Option<StdDuration>) -> Result<Duration> {
        let lease = asked.unwrap_or(self.lease);
        Duration::from_std(lease).map_err(|_| Error::LeaseTooLong {
            lease: format!("{lease:?}"),
        })
    }
}
