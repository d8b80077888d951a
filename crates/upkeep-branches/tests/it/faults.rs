//! Promotion under injected faults (issue 9, fault suite): the packit-shaped set of eight
//! repos on the fake GitHub, promoted again and again through the real GitHub adapter
//! while the fake answers 5xx, 429 and drops connections (before and after doing the
//! work) on the endpoints a move uses, stays down for longer than the retries, or a
//! person fast-forwards `stable` between plan and apply.
//!
//! After every apply, for every repo of the plan: `stable` is exactly where the plan
//! started or exactly where it was going — nothing else; the report says `moved` if and
//! only if it moved (so a history written from the report claims no move that did not
//! happen, and misses none that did); a repo moved only after everything it depends on
//! moved. Then the faults are lifted and promotions repeat until everything is even.

use std::sync::Arc;

use secrecy::SecretString;
use upkeep_branches::apply::{ApplyEvent, Progress};
use upkeep_branches::{
    ApplyOptions, ApplyReport, Plan, PlanOptions, RepoOutcome, RepoSpec, apply, plan,
};
use upkeep_forge::RepoId;
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_git::Credentials;
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::github::FakeGitHub;

const TOKEN: &str = "ghp_FAULTSUITE_SECRET_promotion_71c3";
/// Promotions under faults; each is a plan and an apply over eight repos.
const ROUNDS: usize = 24;

/// The packit set: name and what it depends on. `tokman` never changes (always even).
const REPOS: [(&str, &[&str]); 8] = [
    ("ogr", &[]),
    ("specfile", &[]),
    ("packit", &["ogr", "specfile"]),
    ("packit-service-fedmsg", &[]),
    ("sandcastle", &[]),
    ("dashboard", &["ogr"]),
    (
        "packit-service",
        &["packit", "sandcastle", "packit-service-fedmsg"],
    ),
    ("tokman", &[]),
];

/// xorshift64*: tiny and deterministic.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap()).unwrap()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn full(name: &str) -> String {
    format!("packit/{name}")
}

fn specs(gh: &FakeGitHub) -> Vec<RepoSpec> {
    let forge = Arc::new(
        GitHub::new(
            &gh.url(),
            SecretString::from(TOKEN.to_owned()),
            RetryPolicy::fast(),
        )
        .unwrap(),
    );
    REPOS
        .iter()
        .map(|(name, deps)| RepoSpec {
            name: (*name).to_owned(),
            forge: forge.clone(),
            id: RepoId::new(full(name)),
            // Never cloned: without overrides or tags, planning and moving use the API.
            git_url: format!("https://github.com/{}", full(name)),
            credentials: Credentials::none(),
            source: "main".into(),
            target: "stable".into(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            wait_after: false,
        })
        .collect()
}

fn quiet() -> Progress {
    Arc::new(|_: &ApplyEvent| {})
}

fn tip(gh: &FakeGitHub, name: &str) -> String {
    gh.branch_tip(&full(name), "stable").unwrap()
}

/// The invariants of one apply, whatever the faults did.
/// `meddled`: a repo whose `stable` somebody else moved after the plan, and where to.
fn check(
    gh: &FakeGitHub,
    plan: &Plan,
    report: &ApplyReport,
    meddled: Option<&(&str, String)>,
    ctx: &str,
) {
    for rp in &plan.repos {
        let now = tip(gh, &rp.name);
        let result = report
            .repos
            .iter()
            .find(|r| r.name == rp.name)
            .unwrap_or_else(|| panic!("{ctx}: {} missing from the report", rp.name));
        let ctx = format!("{ctx}: {} ({:?}), stable at {now}", rp.name, result.outcome);
        if let Some((name, theirs)) = meddled
            && *name == rp.name
        {
            assert_eq!(&now, theirs, "{ctx}: somebody else's move was overwritten");
            assert!(
                matches!(
                    result.outcome,
                    RepoOutcome::TargetMoved { .. } | RepoOutcome::Blocked { .. }
                ),
                "{ctx}"
            );
            continue;
        }
        assert!(
            now == rp.from || now == rp.to,
            "{ctx}: moved to neither the planned tip nor left alone"
        );
        if rp.is_even() {
            continue;
        }
        assert_eq!(
            result.outcome == RepoOutcome::Moved,
            now == rp.to,
            "{ctx}: the report must say moved exactly when it moved"
        );
        if now == rp.to {
            for dep in &rp.depends_on {
                let d = plan.repo(dep).unwrap();
                assert_eq!(
                    tip(gh, dep),
                    d.to,
                    "{ctx}: moved before its dependency {dep}"
                );
            }
        }
    }
}

/// Scripts this promotion's faults; returns their description.
fn inject(gh: &FakeGitHub, rng: &mut Rng) -> Vec<String> {
    let endpoints = [
        Endpoint::get("/repos/{owner}/{repo}/git/ref/{*ref}"),
        Endpoint::get("/repos/{owner}/{repo}/compare/{basehead}"),
        Endpoint::get("/repos/{owner}/{repo}"),
        Endpoint::post("/graphql"),
        Endpoint::post("/graphql"),
    ];
    let faults = [
        Fault::status(500),
        Fault::status(502),
        Fault::rate_limited(0),
        Fault::DropBeforeHandling,
        Fault::DropAfterHandling,
        Fault::DropAfterHandling,
    ];
    let mut injected = Vec::new();
    for _ in 0..=rng.below(4) {
        let endpoint = rng.pick(&endpoints).clone();
        let fault = rng.pick(&faults).clone();
        let times = 1 + rng.below(3);
        injected.push(format!("{endpoint:?} x{times}: {fault:?}"));
        gh.faults().script(endpoint, times, fault);
    }
    if rng.below(6) == 0 {
        // Longer than the retry policy lasts: the moves that meet it must fail cleanly,
        // even when the server did the work and only the answers were lost.
        let fault = rng
            .pick(&[Fault::status(503), Fault::DropAfterHandling])
            .clone();
        injected.push(format!("graphql down x8: {fault:?}"));
        gh.faults().script(Endpoint::post("/graphql"), 8, fault);
    }
    injected
}

#[tokio::test]
async fn promotions_under_faults_move_exactly_to_the_plan_or_not_at_all() {
    upkeep_testkit::init_tracing();
    upkeep_testkit::install_crypto_provider();
    let gh = FakeGitHub::start().await;
    gh.require_token(TOKEN);
    for (name, _) in REPOS {
        gh.create_repo(&full(name));
        let first = gh.commit(&full(name), "main", &format!("Initial commit of {name}"));
        gh.set_branch(&full(name), "stable", &first);
    }
    let cache = tempfile::tempdir().unwrap();
    let specs = specs(&gh);
    let options = PlanOptions {
        cache_dir: cache.path().to_owned(),
        ..PlanOptions::default()
    };
    let mut rng = Rng(0x0DDB_1A5E_5BAD_5EED);
    let (mut partial, mut refused) = (0, 0);
    for round in 0..ROUNDS {
        for (name, _) in REPOS.iter().filter(|(n, _)| *n != "tokman") {
            for c in 0..=rng.below(2) {
                gh.commit(
                    &full(name),
                    "main",
                    &format!("fix: change {round}.{c} of {name}"),
                );
            }
        }
        let injected = inject(&gh, &mut rng);
        let ctx = format!("round {round}, faults {injected:#?}");
        let before: Vec<String> = REPOS.iter().map(|(n, _)| tip(&gh, n)).collect();
        let Ok(p) = plan(&specs, &options).await else {
            // A plan is all or nothing: nothing moved.
            refused += 1;
            let after: Vec<String> = REPOS.iter().map(|(n, _)| tip(&gh, n)).collect();
            assert_eq!(before, after, "{ctx}: a failed plan moved something");
            gh.faults().clear();
            continue;
        };
        let meddled = (rng.below(5) == 0).then(|| {
            // Somebody promotes one repo by hand between plan and apply, past the plan.
            let (name, _) = *rng.pick(&REPOS[..7]);
            let newer = gh.commit(&full(name), "main", "feat: pushed meanwhile");
            gh.set_branch(&full(name), "stable", &newer);
            (name, newer)
        });
        let report = apply(&p, &specs, &ApplyOptions::default(), &quiet()).await;
        check(&gh, &p, &report, meddled.as_ref(), &ctx);
        if report.repos.iter().any(|r| r.outcome.is_failure()) {
            partial += 1;
        }

        // Lift the faults: promoting again finishes the job.
        gh.faults().clear();
        for attempt in 0..3 {
            let p = plan(&specs, &options)
                .await
                .unwrap_or_else(|e| panic!("{ctx}: re-plan {attempt}: {e}"));
            if p.is_noop() {
                break;
            }
            let report = apply(&p, &specs, &ApplyOptions::default(), &quiet()).await;
            check(&gh, &p, &report, None, &format!("{ctx}: repair {attempt}"));
        }
        for (name, _) in REPOS {
            assert_eq!(
                tip(&gh, name),
                gh.branch_tip(&full(name), "main").unwrap(),
                "{ctx}: {name} promoted in the end"
            );
        }
    }
    // The faults really bit.
    assert!(
        partial + refused >= ROUNDS / 6,
        "{partial} partial, {refused} refused"
    );
}

/// The mutation went through but every answer was lost, more times than the retries
/// last: the move happened, so the report must say so (and the history written from it),
/// rather than "failed" for a branch that did move.
#[tokio::test]
async fn a_move_whose_answers_are_all_lost_is_reported_as_it_happened() {
    upkeep_testkit::install_crypto_provider();
    let gh = FakeGitHub::start().await;
    gh.create_repo(&full("ogr"));
    let first = gh.commit(&full("ogr"), "main", "Initial commit of ogr");
    gh.set_branch(&full("ogr"), "stable", &first);
    gh.commit(&full("ogr"), "main", "feat: support forgejo (#812)");
    let cache = tempfile::tempdir().unwrap();
    let specs: Vec<RepoSpec> = specs(&gh).into_iter().filter(|s| s.name == "ogr").collect();
    let options = PlanOptions {
        cache_dir: cache.path().to_owned(),
        ..PlanOptions::default()
    };
    let p = plan(&specs, &options).await.unwrap();
    gh.faults()
        .script(Endpoint::post("/graphql"), 10, Fault::DropAfterHandling);
    let report = apply(&p, &specs, &ApplyOptions::default(), &quiet()).await;
    assert_eq!(tip(&gh, "ogr"), p.repos[0].to, "the server moved it");
    check(&gh, &p, &report, None, "all answers lost");
}

/// The same through git (the local forge; GitLab moves the same way): the server updates
/// `stable`, then dies before answering the push.
#[tokio::test]
async fn a_push_whose_answer_is_lost_is_reported_as_it_happened() {
    let mut w = crate::fixture::World::new();
    let a = w.repo("a", &[]);
    a.commit_on("main", "fix: one");
    let hook = a.path().join("hooks/reference-transaction");
    fs_err::create_dir_all(hook.parent().unwrap()).unwrap();
    fs_err::write(
        &hook,
        "#!/bin/sh\n[ \"$1\" = committed ] || exit 0\nwhile read old new ref; do\n  [ \"$ref\" = refs/heads/stable ] && kill -9 \"$PPID\"\ndone\nexit 0\n",
    )
    .unwrap();
    fs_err::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let options = PlanOptions {
        cache_dir: w.cache(),
        ..PlanOptions::default()
    };
    let p = plan(&w.specs(), &options).await.unwrap();
    let report = apply(&p, &w.specs(), &ApplyOptions::default(), &quiet()).await;
    assert_eq!(
        w.tip("a", "stable").to_string(),
        p.repos[0].to,
        "the server moved it"
    );
    assert_eq!(
        report.repos[0].outcome,
        RepoOutcome::Moved,
        "{:?}",
        report.repos[0]
    );
}
