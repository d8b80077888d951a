//! What the state store costs per operation, on a bare repository reached by path and
//! through a local smart-HTTP server, and in a directory: the numbers behind the round's
//! budget for state writes. Run with `cargo run --release -p upkeep-state --example
//! state_costs [records]`; prints one line per measurement (milliseconds, mean).

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use upkeep_git::Credentials;
use upkeep_state::{
    Expected, GitStore, GitStoreConfig, Key, Leases, LocalStore, StateStore, SystemClock,
};
use upkeep_testkit::git::{Fixture, HttpAuth, HttpGitServer};

fn mean_ms(runs: &[Duration]) -> f64 {
    runs.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / runs.len() as f64
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let t = f();
    (t, start.elapsed())
}

fn measure(name: &str, open: &dyn Fn(&str) -> Arc<dyn StateStore>, records: usize) {
    let store = open("writer");
    let prefix = Key::new("rounds/r1/projects").unwrap();
    let keys: Vec<Key> = (0..records)
        .map(|i| prefix.child(&format!("project-{i:03}")).unwrap())
        .collect();
    let mut creates = Vec::new();
    let mut versions = Vec::new();
    for k in &keys {
        let (cas, d) = time(|| store.write(k, &Expected::Absent, b"{\"stage\":\"started\"}"));
        versions.push(cas.unwrap().done().unwrap());
        creates.push(d);
    }
    let mut updates = Vec::new();
    for r in &versions {
        let (cas, d) = time(|| store.write(&r.key, &r.expected(), b"{\"stage\":\"done\"}"));
        assert!(cas.unwrap().is_done());
        updates.push(d);
    }
    let mut reads = Vec::new();
    for k in keys.iter().take(10) {
        reads.push(time(|| store.read(k).unwrap()).1);
    }
    let reader = open("reader");
    let (listed, cold) = time(|| reader.list(&prefix).unwrap());
    assert_eq!(listed.len(), records);
    let warm: Vec<Duration> = (0..5)
        .map(|_| time(|| reader.list(&prefix).unwrap()).1)
        .collect();
    let leases = Leases::new(open("leases"), Arc::new(SystemClock));
    let claims: Vec<Duration> = (0..10)
        .map(|i| {
            let k = Key::new(format!("rounds/r1/claims/p{i}")).unwrap();
            time(|| leases.claim(&k, "runner", Duration::from_mins(10)).unwrap()).1
        })
        .collect();
    println!(
        "{name:<12} create {:7.2} ms | update {:7.2} ms | read {:7.2} ms | claim {:7.2} ms | \
         list {records} records: cold {:7.2} ms, warm {:7.2} ms",
        mean_ms(&creates),
        mean_ms(&updates),
        mean_ms(&reads),
        mean_ms(&claims),
        mean_ms(&[cold]),
        mean_ms(&warm),
    );
}

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);

    let dir = tempfile::tempdir().unwrap();
    measure(
        "directory",
        &|_| Arc::new(LocalStore::open(dir.path().join("state")).unwrap()),
        records,
    );

    let fx = Fixture::new();
    let git = |url: String, root: std::path::PathBuf| {
        move |who: &str| -> Arc<dyn StateStore> {
            Arc::new(
                GitStore::open(GitStoreConfig::new(
                    url.clone(),
                    Credentials::none(),
                    root.join(format!("scratch-{who}")),
                ))
                .unwrap(),
            )
        }
    };
    measure("git (path)", &git(fx.url(), fx.root().join("p")), records);

    let http_fx = Fixture::new();
    let server = HttpGitServer::start(http_fx.root(), HttpAuth::None);
    measure(
        "git (http)",
        &git(server.url("remote.git"), http_fx.root().join("h")),
        records,
    );
}
