//! Sentry: unresolved issues in a window, failure events.
