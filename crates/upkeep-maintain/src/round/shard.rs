//! Splitting a round over the CI system's own matrix: `--shard I/N`.
//!
//! A project belongs to shard `1 + (h mod N)`, where `h` is the first eight bytes
//! (big-endian) of the SHA-256 of its name. The split depends on nothing but the name and
//! `N`: adding, removing or reordering projects never moves another project to another
//! shard, and every runner of every version computes the same split.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// One share of a round: shard `index` of `total` (1-based, as GitLab's
/// `CI_NODE_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    total: u32,
}

/// `--shard` was not `I/N` with `1 ≤ I ≤ N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not two numbers around a `/`.
    #[error("`{given}` is not a shard: write I/N, e.g. 2/4 for the second of four")]
    Syntax {
        /// What was given.
        given: String,
    },
    /// `I` or `N` is zero.
    #[error("`{given}`: shards are numbered from 1 (1/{total} is the first of {total})")]
    Zero {
        /// What was given.
        given: String,
        /// The number of shards given.
        total: u32,
    },
    /// `I` is greater than `N`.
    #[error("`{given}`: there is no shard {index} of {total} (the last is {total}/{total})")]
    OutOfRange {
        /// What was given.
        given: String,
        /// The index given.
        index: u32,
        /// The number of shards.
        total: u32,
    },
}

impl Shard {
    /// Shard `index` of `total`, 1-based.
    pub fn new(index: u32, total: u32) -> Result<Self, ShardError> {
        let given = format!("{index}/{total}");
        if index == 0 || total == 0 {
            return Err(ShardError::Zero {
                given,
                total: total.max(1),
            });
        }
        if index > total {
            return Err(ShardError::OutOfRange {
                given,
                index,
                total,
            });
        }
        Ok(Self { index, total })
    }

    /// The 1-based index.
    #[must_use]
    pub fn index(self) -> u32 {
        self.index
    }

    /// The number of shards.
    #[must_use]
    pub fn total(self) -> u32 {
        self.total
    }

    /// The shard (1-based) that `project` belongs to when a round is split in `total`.
    #[must_use]
    pub fn of(project: &str, total: u32) -> u32 {
        let digest = Sha256::digest(project.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let h = u64::from_be_bytes(first);
        // The remainder is below `total`, a u32.
        u32::try_from(h % u64::from(total.max(1))).unwrap_or(0) + 1
    }

    /// Whether `project` is in this shard.
    #[must_use]
    pub fn contains(self, project: &str) -> bool {
        Self::of(project, self.total) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax {
            given: s.to_owned(),
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let number = |t: &str| {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            t.parse::<u32>().map_err(|_| syntax())
        };
        Self::new(number(i)?, number(n)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_bad_ones_say_why() {
        let s: Shard = "2/4".parse().unwrap();
        assert_eq!((s.index(), s.total(), s.to_string()), (2, 4, "2/4".into()));
        assert_eq!(" 1/1 ".parse::<Shard>().unwrap(), Shard::new(1, 1).unwrap());
        for (given, why) in [
            ("0/4", "numbered from 1"),
            ("1/0", "numbered from 1"),
            ("5/4", "no shard 5 of 4"),
            ("a/b", "write I/N"),
            ("2", "write I/N"),
            ("2/", "write I/N"),
            ("-1/4", "write I/N"),
            ("+1/4", "write I/N"),
            ("1/4/2", "write I/N"),
            ("99999999999/4", "write I/N"),
        ] {
            let err = given.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains(why), "{given}: {err}");
        }
    }

    #[test]
    fn the_split_is_a_partition_that_ignores_the_other_projects() {
        let names: Vec<String> = (0..200).map(|i| format!("svc-{i:03}")).collect();
        for total in [1, 2, 3, 4, 7] {
            let mut seen = 0;
            for index in 1..=total {
                let shard = Shard::new(index, total).unwrap();
                seen += names.iter().filter(|n| shard.contains(n)).count();
            }
            assert_eq!(seen, names.len(), "every project in exactly one of {total}");
        }
        // Every shard gets some of 200 projects.
        for index in 1..=4 {
            let shard = Shard::new(index, 4).unwrap();
            assert!(names.iter().any(|n| shard.contains(n)), "{shard}");
        }
        // A project's shard is a function of its name and N alone: fixed values, so a
        // change of hash (which would move projects between runners of one round) fails.
        assert_eq!(Shard::of("api", 4), 2);
        assert_eq!(Shard::of("billing", 4), 4);
        assert_eq!(Shard::of("signals", 4), 3);
        assert_eq!(Shard::of("anything", 1), 1);
    }
}
