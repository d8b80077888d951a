//! Request counts per endpoint, from a fake's request log.

use std::collections::BTreeMap;

use upkeep_testkit::faults::RequestLog;

/// Requests per `METHOD route`, e.g. `POST /repos/{owner}/{repo}/pulls`. With
/// `literal_path` the literal path is used instead of the route pattern (Slack's fake
/// routes every method through `/api/{method}`).
#[must_use]
pub fn by_endpoint(log: &RequestLog, literal_path: bool) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in &log.records {
        let path = if literal_path { &r.path } else { &r.pattern };
        *out.entry(format!("{} {path}", r.method)).or_insert(0) += 1;
    }
    out
}

/// Sum of the counts.
#[must_use]
pub fn total(counts: &BTreeMap<String, usize>) -> usize {
    counts.values().sum()
}
