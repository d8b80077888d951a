//! Integration tests of the maintenance round: real bare repositories, real Makefiles,
//! real `make`, the local forge and the console chat (and the HTTP fakes where noted).

mod demo;
mod discover;
mod doctor;
mod fakes;
mod faults;
mod hostile;
mod local;
mod render;
mod support;
