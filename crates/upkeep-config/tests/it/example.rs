//! The shipped example configuration must load and mean what its comments say.

use std::path::Path;

use upkeep_config::{Config, DeployTokenMode, ForgeKind};

#[test]
fn example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/upkeep.toml");
    let config = Config::load(&path, [("PATH", "/usr/bin")]).unwrap_or_else(|e| panic!("{e}"));
    let m = config.maintain().unwrap();
    assert!(m.projects.len() >= 3);
    assert!(
        m.projects
            .iter()
            .any(|p| p.remote.kind == ForgeKind::Gitlab)
    );
    assert!(m.projects.iter().any(|p| p.remote.kind == ForgeKind::Local));
    let b = config.branches().unwrap();
    let order: Vec<&str> = b
        .topological_order()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    for r in &b.repos {
        let me = order.iter().position(|n| *n == r.name).unwrap();
        for d in &r.depends_on {
            assert!(
                order.iter().position(|n| n == d).unwrap() < me,
                "{d} before {}",
                r.name
            );
        }
    }
    assert!(b.sentry.is_some());
    assert_eq!(b.deploy_token.mode, DeployTokenMode::Acquire);
    let lock = config.lock().unwrap();
    assert_eq!(lock.ref_name(), "refs/upkeep/locks/production");
}
