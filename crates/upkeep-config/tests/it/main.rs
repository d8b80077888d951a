//! Integration tests of upkeep-config: loading, overrides, error messages, the example.

mod bad_input;
mod discover;
mod env;
mod errors;
mod example;
mod model;
mod schema;

use std::path::Path;

use upkeep_config::{Config, Error};

const NO_ENV: [(&str, &str); 0] = [];

/// Loads `text` as `/cfg/upkeep.toml` with the given overrides.
pub fn load_with(text: &str, env: &[(&str, &str)]) -> Result<Config, Error> {
    Config::from_str(text, Path::new("/cfg/upkeep.toml"), env.iter().copied())
}

/// Loads `text` as `/cfg/upkeep.toml` without overrides.
pub fn load(text: &str) -> Result<Config, Error> {
    Config::from_str(text, Path::new("/cfg/upkeep.toml"), NO_ENV)
}

/// The error message of a config that must fail.
#[must_use]
pub fn error_of(text: &str, env: &[(&str, &str)]) -> String {
    match load_with(text, env) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}
