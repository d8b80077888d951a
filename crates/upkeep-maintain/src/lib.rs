//! The maintenance round.
