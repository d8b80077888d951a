//! Who is operating: one rule for every tool, so that the name `deploy-token acquire`
//! records is the name `move-branches` checks.

use std::path::Path;

use crate::text::MAX_ACTOR;
use crate::{Error, Result};

/// Where the operator's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorSource {
    /// Given explicitly (`--actor`, `UPKEEP_ACTOR`).
    Given,
    /// git's `user.name` (the repository's configuration, then the user's and the
    /// system's).
    GitConfig,
    /// The login name (`$USER`).
    Login,
}

/// The person (or job) operating, as recorded in the token's state and the promotion
/// history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The name, trimmed.
    pub name: String,
    /// Where it came from.
    pub source: ActorSource,
}

impl Actor {
    /// Decides who is operating: `given` when set, else git's `user.name` as seen from
    /// `dir` (its repository's configuration, then the global and system ones), else
    /// `login` (the binary passes `$USER`; libraries do not read the environment).
    /// Empty values count as unset. A name with control characters or longer than
    /// [`MAX_ACTOR`] characters is refused: it is shown to everyone who asks who holds
    /// the token.
    pub fn resolve(given: Option<&str>, dir: &Path, login: Option<&str>) -> Result<Self> {
        let nonempty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let (name, source) = if let Some(name) = given.and_then(nonempty) {
            (name, ActorSource::Given)
        } else if let Some(name) = git_user_name(dir).as_deref().and_then(nonempty) {
            (name, ActorSource::GitConfig)
        } else if let Some(name) = login.and_then(nonempty) {
            (name, ActorSource::Login)
        } else {
            return Err(Error::UnknownActor);
        };
        check_actor(&name)?;
        Ok(Self { name, source })
    }
}

/// Refuses names that cannot be shown safely to others.
pub(crate) fn check_actor(name: &str) -> Result<()> {
    let problem = if name.trim().is_empty() {
        Some("it is empty".to_owned())
    } else if name.chars().any(char::is_control) {
        Some("it contains control characters (a line break, an escape sequence)".to_owned())
    } else if name.chars().count() > MAX_ACTOR {
        Some(format!(
            "it is {} characters long; at most {MAX_ACTOR} are allowed",
            name.chars().count()
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::InvalidActor {
            name: crate::text::shown(name, 40),
            problem,
        }),
        None => Ok(()),
    }
}

/// git's `user.name` for `dir`: the repository's configuration when `dir` is inside one,
/// else the global, XDG and system files.
fn git_user_name(dir: &Path) -> Option<String> {
    let config = match git2::Repository::discover(dir) {
        Ok(repo) => repo.config(),
        Err(_) => git2::Config::open_default(),
    }
    .ok()?;
    config.get_string("user.name").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_wins_then_git_then_login() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        repo.config()
            .unwrap()
            .set_str("user.name", "Ann Example")
            .unwrap();
        let who = |given| Actor::resolve(given, dir.path(), Some("ann")).unwrap();
        assert_eq!(who(Some(" bob ")).name, "bob");
        assert_eq!(who(Some(" ")).source, ActorSource::GitConfig);
        assert_eq!(who(None).name, "Ann Example");
        repo.config().unwrap().set_str("user.name", "").unwrap();
        // An empty user.name counts as unset; the repository's setting hides the global
        // one, so the login name decides.
        let fallback = who(None);
        assert_eq!(
            (fallback.name.as_str(), fallback.source),
            ("ann", ActorSource::Login)
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            "ann\nacquire  mallory",
            "ann\u{1b}[2J",
            &"a".repeat(MAX_ACTOR + 1),
        ] {
            let e = Actor::resolve(Some(bad), dir.path(), None).unwrap_err();
            assert!(matches!(e, Error::InvalidActor { .. }), "{e}");
            assert!(!e.to_string().contains('\n') && !e.to_string().contains('\u{1b}'));
        }
    }
}
