//! Lockfile parsers and dependency diffs. Pure: bytes in, report out.
