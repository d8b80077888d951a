//! Where a round's time went: per project (clone, steps, commit, push, change request)
//! and per round (start-up, the pipelines, telling the team).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::round::RoundRun;

/// Mean milliseconds per project spent in each phase of its pipeline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phases {
    /// Waiting for a `--jobs` slot (from the round's start to its `clone` stage).
    pub queued: f64,
    /// `clone` → `upgrade`: the clone cache brought up to date (fetch, reset, clean),
    /// plus two journal writes.
    pub clone: f64,
    /// `upgrade` → `diff`: the three steps as the pipeline saw them.
    pub steps_span: f64,
    /// The three steps as `run_step` timed them (spawn to exit), from the journal.
    pub steps_measured: f64,
    /// `steps_span − steps_measured`: journal writes and bookkeeping between steps.
    pub between_steps: f64,
    /// `steps_measured − 3 × step`: `sh` + `make` start-up beyond the sleeps.
    pub make_startup: f64,
    /// `diff` → `push`: commit on a detached HEAD, lockfile diff, final commit.
    pub commit_and_diff: f64,
    /// `push` → `forge`: the compare-and-swap push of the branch.
    pub push: f64,
    /// `forge` → finished: open the pull request (find, create, labels, reviewers).
    pub change_request: f64,
    /// `clone` → finished.
    pub pipeline: f64,
    /// `pipeline − steps_measured`: everything a project costs besides its make steps.
    pub outside_steps: f64,
}

/// A round's profile.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Profile {
    /// Wall time of the whole `run_round`, s.
    pub wall_s: f64,
    /// When the last pipeline ended, s.
    pub pipelines_end_s: f64,
    /// From the round's start to the first project's `clone` stage, s.
    pub startup_s: f64,
    /// From the last pipeline's end to the end of the round (summary and threads), s.
    pub posting_s: f64,
    /// Mean time per project thread while posting (between consecutive `chat` stages), ms.
    pub per_thread_post_ms: f64,
    /// Projects by status.
    pub statuses: BTreeMap<String, usize>,
    /// Mean per project, ms.
    pub mean: Phases,
    /// The slowest project's `outside_steps`, ms.
    pub max_outside_steps_ms: f64,
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Builds the profile of `run`, whose steps each slept `step_ms`.
#[must_use]
pub fn profile(run: &RoundRun, step_ms: f64) -> Profile {
    let at = |project: &str, what: &str| {
        run.stamps
            .iter()
            .find(|s| s.project.as_deref() == Some(project) && s.what == what)
            .map(|s| s.t_ms)
    };
    let mut rows: Vec<Phases> = Vec::new();
    let mut statuses = BTreeMap::new();
    for p in &run.projects {
        *statuses.entry(p.status.clone()).or_insert(0) += 1;
        let (Some(clone), Some(upgrade), Some(diff), Some(push), Some(forge), Some(done)) = (
            at(&p.name, "clone"),
            at(&p.name, "upgrade"),
            at(&p.name, "diff"),
            at(&p.name, "push"),
            at(&p.name, "forge"),
            at(&p.name, "finished"),
        ) else {
            continue;
        };
        let measured = p.steps_ms.iter().sum::<u64>() as f64;
        rows.push(Phases {
            queued: clone,
            clone: upgrade - clone,
            steps_span: diff - upgrade,
            steps_measured: measured,
            between_steps: (diff - upgrade) - measured,
            make_startup: measured - 3.0 * step_ms,
            commit_and_diff: push - diff,
            push: forge - push,
            change_request: done - forge,
            pipeline: done - clone,
            outside_steps: (done - clone) - measured,
        });
    }
    let col = |f: fn(&Phases) -> f64| mean(&rows.iter().map(f).collect::<Vec<_>>());
    let pipelines_end = run
        .stamps
        .iter()
        .filter(|s| s.what == "finished")
        .map(|s| s.t_ms)
        .fold(0.0, f64::max);
    let first_clone = run
        .stamps
        .iter()
        .filter(|s| s.what == "clone")
        .map(|s| s.t_ms)
        .fold(f64::INFINITY, f64::min);
    let mut chats: Vec<f64> = run
        .stamps
        .iter()
        .filter(|s| s.what == "chat")
        .map(|s| s.t_ms)
        .collect();
    chats.sort_by(f64::total_cmp);
    let gaps: Vec<f64> = chats.windows(2).map(|w| w[1] - w[0]).collect();
    Profile {
        wall_s: run.wall_ms / 1e3,
        pipelines_end_s: pipelines_end / 1e3,
        startup_s: if first_clone.is_finite() {
            first_clone / 1e3
        } else {
            0.0
        },
        posting_s: (run.wall_ms - pipelines_end) / 1e3,
        per_thread_post_ms: mean(&gaps),
        statuses,
        mean: Phases {
            queued: col(|p| p.queued),
            clone: col(|p| p.clone),
            steps_span: col(|p| p.steps_span),
            steps_measured: col(|p| p.steps_measured),
            between_steps: col(|p| p.between_steps),
            make_startup: col(|p| p.make_startup),
            commit_and_diff: col(|p| p.commit_and_diff),
            push: col(|p| p.push),
            change_request: col(|p| p.change_request),
            pipeline: col(|p| p.pipeline),
            outside_steps: col(|p| p.outside_steps),
        },
        max_outside_steps_ms: rows.iter().map(|p| p.outside_steps).fold(0.0, f64::max),
    }
}
