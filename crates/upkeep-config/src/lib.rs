//! The upkeep configuration model.
