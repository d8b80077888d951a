//! Integration tests of upkeep-sentry against the Sentry fake in upkeep-testkit.

mod events;
mod gate;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use secrecy::SecretString;
use upkeep_sentry::{RetryPolicy, SentryClient};
use upkeep_testkit::sentry::FakeSentry;

/// Retries without real waiting: backoff in milliseconds (the fakes' `Retry-After: 0`).
#[must_use]
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(5),
    }
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Buf> = OnceLock::new();

/// Captures this crate's log output for the whole test binary, so tests can check that
/// no secret is ever logged. A process-wide subscriber installed before any test logs:
/// scoped subscribers miss events when tests run in parallel (tracing caches per-callsite
/// interest globally).
pub fn setup() {
    LOGS.get_or_init(|| {
        let buf = Buf::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("upkeep_sentry=trace"))
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the first subscriber of this test binary");
        buf
    });
}

/// Everything upkeep-sentry logged so far in this test binary.
#[must_use]
pub fn logs() -> String {
    let buf = LOGS.get().expect("setup() was called");
    String::from_utf8_lossy(
        &buf.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned()
}

/// A client for `org` on the fake, with the fake's token.
#[must_use]
pub fn client(fake: &FakeSentry, org: &str) -> SentryClient {
    setup();
    SentryClient::new(
        &fake.url(),
        org,
        SecretString::from(fake.token().to_owned()),
    )
    .unwrap()
    .with_retry(quick_retry())
}
