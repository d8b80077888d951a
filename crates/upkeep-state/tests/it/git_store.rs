//! The git store against real repositories: its refs and commits, and servers that
//! fail.
