//! Contract checks: the fakes' answers against the services' own machine-readable
//! descriptions (one integration test binary, one module per service).

mod github;
mod github_graphql;
mod slack;
