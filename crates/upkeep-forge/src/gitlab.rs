//! gitlab adapter (being built).
