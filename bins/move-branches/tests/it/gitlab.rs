//! GitLab repos through the real GitLab adapter against `FakeGitLab`: plan, the CI gate
//! (pipelines and commit statuses), compare-and-swap moves (git pushes to the project's
//! `http_url_to_repo`, a local bare repository in the fake), waits, history.

use std::fmt::Write as _;
use std::time::Duration;

use upkeep_testkit::gitlab::{FakeGitLab, TOKEN};

use crate::scenario::{Run, Scenario};

pub(crate) struct Lab {
    pub s: Scenario,
    pub gl: FakeGitLab,
}

pub(crate) const OGR: &str = "packit/ogr";
pub(crate) const PACKIT: &str = "packit/packit";
const HELLO: &str = "packit/hello-world";

/// `packit` depends on `ogr`; each has one new commit on `main`. The fake serves its
/// API behind `/gitlab`, as a self-hosted GitLab under a sub-path does, so the
/// configuration's `api_url` must be honoured. `extra` is appended to the configuration.
pub(crate) async fn lab(extra: &str) -> Lab {
    let gl = FakeGitLab::start_with_prefix("/gitlab").await;
    let mut s = Scenario::new();
    for (name, deps) in [("ogr", "[]"), ("packit", "[\"ogr\"]")] {
        let path = format!("packit/{name}");
        gl.create_project(&path);
        let first = gl.branch_tip(&path, "main").unwrap();
        gl.set_branch(&path, "stable", &first);
        gl.commit(&path, "main", &format!("feat: {name} improvements"));
        let _ = write!(
            s.extra,
            "[[branches.repos]]\nname = \"{name}\"\nrepo = \"https://gitlab.example.com/{path}\"\n\
             api_url = \"{}\"\ndepends_on = {deps}\n\n",
            gl.base_url()
        );
    }
    s.extra.push_str(extra);
    s.env = vec![("GITLAB_TOKEN".into(), TOKEN.into())];
    Lab { s, gl }
}

impl Lab {
    pub(crate) fn tip(&self, path: &str, branch: &str) -> String {
        self.gl.branch_tip(path, branch).unwrap()
    }

    /// A validation project whose `main` has a green pipeline, gating through
    /// `[branches.ci.validation]` instead of the target commits.
    pub(crate) fn validation_only(&mut self) {
        self.gl.create_project(HELLO);
        let tip = self.tip(HELLO, "main");
        self.gl.add_pipeline(HELLO, &tip, "success");
        let _ = write!(
            self.s.extra,
            "[branches.ci]\ntarget_commits = false\n[branches.ci.validation]\n\
             repo = \"https://gitlab.example.com/{HELLO}\"\napi_url = \"{}\"\nref = \"main\"\n\n",
            self.gl.base_url()
        );
    }

    /// Runs `args` while, once the run polls CI on `sha` (the wait after moving a repo;
    /// the gates never ask about it), `meanwhile` runs and then a green pipeline is
    /// added for `sha` so the run goes on. The run cannot pass the wait before
    /// `meanwhile` is done, so the interleaving is fixed, whatever the timing.
    pub(crate) async fn run_interleaved(
        &self,
        args: &[&str],
        project: &str,
        sha: &str,
        meanwhile: impl FnOnce(),
    ) -> Run {
        let needle = format!("/commits/{sha}/statuses");
        let watcher = async {
            let polled = async {
                while !self
                    .gl
                    .faults()
                    .log()
                    .records
                    .iter()
                    .any(|r| r.path.contains(&needle))
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            // Only a guard against a hang: the run waits for us, not the other way round.
            tokio::time::timeout(Duration::from_mins(2), polled)
                .await
                .expect("the run never polled CI on the moved repo");
            meanwhile();
            self.gl.add_pipeline(project, sha, "success");
        };
        let (run, ()) = tokio::join!(self.s.run(args), watcher);
        run
    }
}

fn wait_config() -> &'static str {
    "[branches.wait]\nci = true\ndeadline = \"10m\"\npoll_interval = \"50ms\"\n\n"
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_repos_are_gated_moved_in_order_and_recorded() {
    let lab = lab(wait_config()).await;
    let ogr_new = lab.tip(OGR, "main");
    let packit_new = lab.tip(PACKIT, "main");
    let packit_old = lab.tip(PACKIT, "stable");
    // CI evidence of both kinds: a pipeline for ogr, a commit status for packit.
    lab.gl.add_pipeline(OGR, &ogr_new, "success");
    lab.gl
        .add_status(PACKIT, &packit_new, "tests", "success", false);

    let plan = lab.s.run(&["plan", "--output", "json"]).await;
    assert_eq!(plan.code, 0, "{plan:?}");
    let doc = plan.json();
    assert_eq!(
        doc["plan"]["levels"],
        serde_json::json!([["ogr"], ["packit"]])
    );
    let repos = doc["plan"]["repos"].as_array().unwrap();
    assert_eq!(repos[0]["to"], ogr_new.as_str());
    assert_eq!(
        repos[0]["commits"][0]["subject"], "feat: ogr improvements",
        "{doc}"
    );
    assert_eq!(doc["gates"]["gates"][0]["passed"], true, "{doc}");
    let digest = doc["plan"]["digest"].as_str().unwrap().to_owned();

    let r = lab.s.run(&["run", "--approve", &digest]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("[pass] ci"), "{r:?}");
    let (ogr_at, packit_at) = (
        r.stderr.find("moving ogr").unwrap(),
        r.stderr.find("moving packit").unwrap(),
    );
    assert!(ogr_at < packit_at, "dependency order: {r:?}");
    assert_eq!(lab.tip(OGR, "stable"), ogr_new);
    assert_eq!(lab.tip(PACKIT, "stable"), packit_new);

    let history = lab.s.history_lines();
    assert_eq!(history.len(), 1);
    let h = &history[0];
    assert_eq!(h["result"], "success");
    assert_eq!(h["digest"], digest.as_str());
    assert_eq!(h["repos"][1]["name"], "packit");
    assert_eq!(h["repos"][1]["from"], packit_old.as_str());
    assert_eq!(h["repos"][1]["to"], packit_new.as_str());
    assert_eq!(h["repos"][1]["outcome"], "moved");
    assert_eq!(h["repos"][0]["wait"]["passed"], true, "{h}");

    for text in [&r.stdout, &r.stderr, &h.to_string(), &plan.stdout] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_red_or_missing_gitlab_pipeline_moves_nothing() {
    let lab = lab("").await;
    let ogr_new = lab.tip(OGR, "main");
    let ogr_old = lab.tip(OGR, "stable");
    lab.gl.add_pipeline(OGR, &ogr_new, "failed");
    let r = lab.s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("[FAIL] ci"), "{r:?}");
    assert!(r.stdout.contains("ogr failure"), "{r:?}");
    assert!(r.stdout.contains("packit missing"), "{r:?}");
    assert_eq!(lab.tip(OGR, "stable"), ogr_old, "nothing moved");
    assert_eq!(lab.s.history_lines()[0]["result"], "refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_to_a_gitlab_target_after_the_plan_is_not_overwritten() {
    let mut lab = lab(wait_config()).await;
    lab.validation_only();
    let ogr_new = lab.tip(OGR, "main");
    lab.gl.add_pipeline(OGR, &ogr_new, "running");
    let mut hotfix = String::new();
    let r = lab
        .run_interleaved(&["run", "--yes"], OGR, &ogr_new, || {
            hotfix = lab
                .gl
                .commit(PACKIT, "stable", "fix: hotfix pushed meanwhile");
        })
        .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("result: partial"), "{r:?}");
    assert_eq!(lab.tip(OGR, "stable"), ogr_new);
    assert_eq!(lab.tip(PACKIT, "stable"), hotfix, "the hotfix stays");
    let h = &lab.s.history_lines()[0];
    assert_eq!(h["result"], "partial");
    assert_eq!(h["repos"][0]["outcome"], "moved");
    assert_eq!(h["repos"][1]["outcome"], "target_moved");
    assert_eq!(h["repos"][1]["actual"], hotfix.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_gitlab_token_is_refused_before_anything_moves() {
    let mut lab = lab("").await;
    lab.s.env = vec![("GITLAB_TOKEN".into(), "glpat-wrong".into())];
    let r = lab.s.run(&["plan"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("cannot set up the gitlab client at http://"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: check GITLAB_TOKEN"), "{r:?}");
    assert!(!r.stderr.contains("glpat-wrong"), "{r:?}");
    lab.s.env.clear();
    let r = lab.s.run(&["plan"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("GITLAB_TOKEN is not set"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diverged_or_missing_gitlab_target_is_named_by_the_plan() {
    let diverged = lab("").await;
    // A hotfix made on `stable` only: `main` is no fast-forward of it.
    diverged
        .gl
        .commit(PACKIT, "stable", "fix: hotfix on stable only");
    let r = diverged.s.run(&["plan"]).await;
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("packit: `stable` has 1 commit(s) that `main` lacks"),
        "{r:?}"
    );

    let missing = lab("").await;
    missing.gl.bare(OGR).delete_branch("stable");
    let r = missing.s.run(&["plan"]).await;
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("ogr: branch `stable` does not exist"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gitlab_target_the_token_may_not_push_is_blocked_in_the_plan() {
    let lab = lab("").await;
    lab.gl.protect_branch(OGR, "stable", 40, 40, false);
    lab.gl.set_access_level(OGR, Some(30));
    let r = lab.s.run(&["plan"]).await;
    let text = format!("{}{}", r.stdout, r.stderr);
    assert!(
        text.contains(
            "`stable` is protected; the token's user needs the Maintainer role or to be \
             allowed to push in the rule"
        ),
        "{r:?}"
    );
    // Told by the read of the target branch that the plan makes anyway: neither the
    // project nor its rules are read for it.
    let paths: Vec<String> = lab
        .gl
        .faults()
        .log()
        .records
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("/repository/branches/stable")),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("protected_branches") || p.ends_with("/projects/packit%2Fogr")),
        "{paths:?}"
    );
}
