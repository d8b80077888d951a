//! Nothing to import: this package holds upkeep's library examples (`cargo run -p
//! upkeep-examples --example …`) and the tests that keep the example configuration and
//! the scheduling templates in `examples/` valid.
