//! Test support for upkeep (not published).
//!
//! - [`bare`]: server-side operations on a bare repository (commit onto a branch, merge,
//!   tag) for forge fakes and adapter harnesses.
//! - [`browser`]: headless Chromium loads an HTML page and returns the DOM it built, for
//!   tests of what is on the page.
//! - [`git`]: real bare repositories and working clones in temp dirs, with fixed author
//!   and dates and signing off, plus history builders (linear, diverged, merges).
//! - [`github`], [`gitlab`], [`slack`], [`sentry`]: HTTP fakes of those services on
//!   `127.0.0.1:0`, answering with the payloads the real client crates parse, keeping git
//!   data in real bare repos, counting requests per endpoint and injecting faults.
//! - [`init_tracing`]: log output for a test run, switched on by `UPKEEP_TEST_LOG`.

pub mod bare;
pub mod browser;
pub mod faults;
pub mod git;
pub mod github;
pub mod gitlab;
pub mod sentry;
pub mod slack;

/// Turns on `tracing` output for tests when `UPKEEP_TEST_LOG` is set (its value is an
/// `EnvFilter` directive such as `debug` or `upkeep_git=trace`). Safe to call many times.
#[expect(
    clippy::disallowed_methods,
    reason = "test set-up: the person running the tests asks for logs"
)]
pub fn init_tracing() {
    if let Ok(filter) = std::env::var("UPKEEP_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// Installs rustls' `ring` provider as the process default, which the HTTP clients of
/// the `gitlab` crate and slack-morphism need when several providers are compiled in.
/// Safe to call many times.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
