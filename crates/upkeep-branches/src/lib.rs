//! Stable-branch promotion.
