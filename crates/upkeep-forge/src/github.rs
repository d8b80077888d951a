//! github adapter (being built).
