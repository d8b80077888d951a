//! The deploy token: a lease lock with fencing, stored as a git ref.
