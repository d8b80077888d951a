//! Integration tests of upkeep-chat: the console adapter (snapshots) and the Slack adapter
//! against the fake Slack of upkeep-testkit, through slack-morphism.

mod approval;
mod console;
mod fixtures;
mod slack;
