//! Integration tests of upkeep-state: one behaviour suite run against every store, then
//! concurrency, and the git store against real repositories and failing servers.

mod concurrency;
mod git_store;
mod suite;

use std::sync::Arc;

use upkeep_state::{GitStore, GitStoreConfig, LocalStore, RetryPolicy, StateStore};
use upkeep_testkit::git::Fixture;

/// A place where state lives, opened by several "runners", each with its own handle
/// (for the git store: its own scratch repository, as on separate machines).
pub trait Backend {
    /// A new handle on the same state, for the runner called `who`.
    fn open(&self, who: &str) -> Arc<dyn StateStore>;
}

/// A directory; every handle is a separate `LocalStore` (separate lock file
/// descriptions, so handles contend as processes would).
pub struct LocalBackend {
    dir: tempfile::TempDir,
}

impl Default for LocalBackend {
    /// A fresh temporary directory.
    fn default() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl Backend for LocalBackend {
    fn open(&self, _who: &str) -> Arc<dyn StateStore> {
        Arc::new(LocalStore::open(self.dir.path().join("state")).unwrap())
    }
}

/// A bare repository as a team's state repo; every handle has its own scratch
/// repository, as separate runners would.
pub struct GitBackend {
    /// The bare repository (and a temp dir for the scratch repositories).
    pub fx: Fixture,
    /// How the stores reach it.
    pub url: String,
}

impl Default for GitBackend {
    /// A fresh bare repository, reached by its path.
    fn default() -> Self {
        let fx = Fixture::new();
        let url = fx.url();
        Self { fx, url }
    }
}

impl GitBackend {
    /// The same repository reached by another URL (`file://`, `http://`).
    #[must_use]
    pub fn with_url(fx: Fixture, url: String) -> Self {
        Self { fx, url }
    }
}

/// Retries quickly: tests wait milliseconds, not seconds.
#[must_use]
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 6,
        first_delay: std::time::Duration::from_millis(2),
        max_delay: std::time::Duration::from_millis(20),
    }
}

impl Backend for GitBackend {
    fn open(&self, who: &str) -> Arc<dyn StateStore> {
        let mut config = GitStoreConfig::new(
            self.url.clone(),
            upkeep_git::Credentials::none(),
            self.fx.root().join(format!("scratch-{who}")),
        );
        config.retry = fast_retry();
        Arc::new(GitStore::open(config).unwrap())
    }
}

/// Runs every behaviour test of [`suite`] against the backend `$make` builds.
macro_rules! behaviour_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;
            behaviour_suite!(@tests $make;
                missing_keys_read_as_nothing,
                create_read_and_replace,
                creating_twice_conflicts_with_the_first_record,
                stale_versions_conflict_and_show_the_current_record,
                delete_is_compare_and_swap_and_versions_never_come_back,
                lists_a_prefix_by_whole_segments,
                a_key_cannot_be_a_prefix_of_another,
                values_are_bytes,
                other_runners_see_writes_and_share_the_swap,
                update_reads_modifies_and_retries,
                lease_claim_hold_and_reclaim,
                lease_takeover_after_expiry_raises_fencing,
                lease_renew_release_and_verify,
                lease_renewal_after_expiry_survives_if_nobody_took_over,
                lease_of_a_dead_holder_can_be_ended_early
            );
        }
    };
    (@tests $make:expr; $($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                upkeep_testkit::init_tracing();
                let backend = $make;
                crate::suite::$test(&backend);
            }
        )*
    };
}

behaviour_suite!(local, LocalBackend::default());
behaviour_suite!(git_path, GitBackend::default());
behaviour_suite!(git_file_url, {
    let fx = Fixture::new();
    let url = fx.file_url();
    GitBackend::with_url(fx, url)
});
