//! local adapter (being built).
