//! The packit scenario from the seed, end to end.

use upkeep_forge::CheckState;
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeSlack};

use crate::scenario::Scenario;

/// Eight repos with their dependency order; tokman is even. packit-service has three
/// new commits; the override takes the middle one.
pub(crate) async fn packit() -> (Scenario, String) {
    let mut s = Scenario::new();
    s.repo("ogr", &[])
        .commit_on("main", "feat: support forgejo (#812)");
    s.repo("specfile", &[])
        .commit_on("main", "fix: parse %changelog (#301)");
    let p = s.repo("packit", &["ogr", "specfile"]);
    p.commit_on("main", "fix: sync-release with new specfile (#2101)");
    p.commit_on(
        "main",
        "Merge pull request #2102 from lbarcziova/ogr\n\nUse the new ogr",
    );
    s.repo("packit-service-fedmsg", &[])
        .commit_on("main", "chore: bump fedora-messaging");
    s.repo("sandcastle", &[])
        .commit_on("main", "fix: pod cleanup (#140)");
    s.repo("dashboard", &["ogr"])
        .commit_on("main", "feat: usage graphs (#377)");
    let ps = s.repo(
        "packit-service",
        &["packit", "sandcastle", "packit-service-fedmsg"],
    );
    ps.commit_on("main", "fix: retry koji builds (#2450)");
    let wanted = ps.commit_on("main", "feat: new worker queue (#2451)");
    ps.commit_on("main", "WIP: not for prod (#2452)");
    s.repo("tokman", &[]);
    s.all_green().await;
    s.check(
        "packit-service",
        &wanted.to_string(),
        "tests",
        CheckState::Success,
    )
    .await;
    let hello = s.repo("hello-world", &[]);
    s.repos.retain(|r| r.0 != "hello-world");
    s.check_path(&hello, "stage-validation", CheckState::Success)
        .await;
    s.extra = format!(
        "[branches.ci]\nrequired_checks = []\n[branches.ci.validation]\nrepo = {:?}\nref = \"main\"\n\n\
         [branches.notify]\nslack_channel = \"{FAKE_CHANNEL}\"\n",
        hello.path().to_string_lossy()
    );
    (s, wanted.to_string()[..12].to_owned())
}

impl Scenario {
    async fn check_path(
        &self,
        bare: &upkeep_testkit::bare::BareRepo,
        check: &str,
        state: CheckState,
    ) {
        let forge = upkeep_forge::local::LocalForge::new(self.path().join("test-forge"));
        forge
            .record_check(
                &upkeep_forge::RepoId::new(bare.path().to_string_lossy().into_owned()),
                &bare.tip("main").unwrap().to_string(),
                upkeep_forge::local::CheckRecord {
                    name: check.into(),
                    state,
                    url: None,
                },
            )
            .await
            .unwrap();
    }
}

pub(crate) const MOVED: [&str; 7] = [
    "ogr",
    "specfile",
    "packit",
    "packit-service-fedmsg",
    "sandcastle",
    "dashboard",
    "packit-service",
];

// One story from plan to Slack message; splitting it would hide the sequence.
#[allow(clippy::too_many_lines)]
#[tokio::test(flavor = "multi_thread")]
async fn packit_scenario_end_to_end() {
    let (mut s, short) = packit().await;
    let slack = FakeSlack::start().await;
    s.env = vec![
        ("SLACK_API_TOKEN".into(), FAKE_TOKEN.into()),
        ("UPKEEP_SLACK_API_URL".into(), slack.api_url()),
    ];
    let before: Vec<String> = MOVED.iter().map(|r| s.tip(r, "stable")).collect();
    let tokman = s.tip("tokman", "stable");

    // The plan, as the seed's script is called.
    let override_arg = format!("--packit-service={short}");
    let plan = s.run(&["plan", &override_arg]).await;
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(plan.stdout.contains("tokman: `stable` is even"), "{plan:?}");
    assert!(
        plan.stdout
            .contains("level 1: ogr, specfile, packit-service-fedmsg, sandcastle, tokman"),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains("level 2: packit, dashboard"),
        "{plan:?}"
    );
    assert!(plan.stdout.contains("level 3: packit-service"), "{plan:?}");
    assert!(
        plan.stdout.contains(&format!("(requested `{short}`)")),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("feat: new worker queue (#2451) (upkeep test) #2451"),
        "{plan:?}"
    );
    assert!(
        !plan.stdout.contains("WIP: not for prod"),
        "the override leaves it out: {plan:?}"
    );
    assert!(plan.stdout.contains("[pass] ci: validation"), "{plan:?}");
    assert!(
        plan.stdout.contains("[pass] ci: target commits"),
        "{plan:?}"
    );
    let json = s.run(&["plan", &override_arg, "--output", "json"]).await;
    let digest = json.json()["plan"]["digest"].as_str().unwrap().to_owned();
    assert!(
        plan.stdout.contains(&format!("plan digest: {digest}")),
        "{plan:?}"
    );

    // Approved by digest, as a job.
    let run = s
        .run(&["run", &override_arg, "--approve", &digest, "--job"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("result: success"), "{run:?}");
    for (repo, old) in MOVED.iter().zip(&before) {
        let now = s.tip(repo, "stable");
        assert_ne!(&now, old, "{repo} moved");
        if *repo == "packit-service" {
            assert!(now.starts_with(&short), "packit-service at the override");
        } else {
            assert_eq!(now, s.tip(repo, "main"), "{repo} at its source tip");
        }
    }
    assert_eq!(s.tip("tokman", "stable"), tokman);

    // History: who, digest, per repo from → to, gates, result.
    let h = s.history_lines();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["who"], "ann");
    assert_eq!(h[0]["digest"], digest.as_str());
    assert_eq!(h[0]["result"], "success");
    assert_eq!(h[0]["command"], "run");
    let moved: Vec<&str> = h[0]["repos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "moved")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(moved.len(), 7);
    let ps = h[0]["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "packit-service")
        .unwrap();
    assert!(ps["to"].as_str().unwrap().starts_with(&short));
    assert!(
        h[0]["gates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["passed"] == true)
    );

    // Slack got the result.
    let msgs = slack.messages(FAKE_CHANNEL);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].text.contains("success"), "{}", msgs[0].text);
    assert!(msgs[0].text.contains(&digest), "{}", msgs[0].text);

    // A second run has nothing to do but packit-service's last commit; even repos stay.
    let again = s.run(&["plan", "--output", "json"]).await;
    let repos = again.json()["plan"]["repos"].as_array().unwrap().clone();
    let moving: Vec<&str> = repos
        .iter()
        .filter(|r| r["from"] != r["to"])
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(moving, ["packit-service"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn packit_scenario_with_a_red_gate_moves_nothing() {
    let (mut s, short) = packit().await;
    let slack = FakeSlack::start().await;
    s.env = vec![
        ("SLACK_API_TOKEN".into(), FAKE_TOKEN.into()),
        ("UPKEEP_SLACK_API_URL".into(), slack.api_url()),
    ];
    let sandcastle_tip = s.tip("sandcastle", "main");
    s.check("sandcastle", &sandcastle_tip, "tests", CheckState::Failure)
        .await;
    let before: Vec<String> = MOVED.iter().map(|r| s.tip(r, "stable")).collect();
    let run = s
        .run(&[
            "run",
            &format!("--packit-service={short}"),
            "--yes",
            "--job",
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout
            .contains("[FAIL] ci: target commits: not green: sandcastle failure"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("refused: gate failed, nothing moved"),
        "{run:?}"
    );
    let after: Vec<String> = MOVED.iter().map(|r| s.tip(r, "stable")).collect();
    assert_eq!(before, after, "nothing moved");
    let h = s.history_lines();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["result"], "refused");
    assert!(
        h[0]["repos"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] != "moved")
    );
    let msgs = slack.messages(FAKE_CHANNEL);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].text.contains("refused"), "{}", msgs[0].text);
    assert!(
        msgs[0].text.contains("sandcastle failure"),
        "{}",
        msgs[0].text
    );
}
