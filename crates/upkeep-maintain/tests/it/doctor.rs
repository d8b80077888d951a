//! `doctor` on local projects: a repository path that does not exist fails that project's
//! first check with what is wrong, a project whose forge could not be set up fails its
//! `forge API` check, and every other project is still checked. The JSON document's
//! shape is pinned.

use std::sync::Arc;

use upkeep_forge::Forge;
use upkeep_maintain::discover::Readers;
use upkeep_maintain::doctor::{DoctorProject, DoctorRequest, Verdict, check_projects, to_json};

use crate::support::{BRANCH, Sample, World};

#[tokio::test]
async fn a_missing_repository_and_an_unreachable_forge_fail_only_their_projects() {
    let world = World::new(vec![
        Sample::green("signals"),
        Sample::green("gone"),
        Sample::green("hosted"),
    ]);
    let config = world.config();
    let gone = world.fixture("gone").bare().to_owned();
    fs_err::remove_dir_all(&gone).unwrap();
    let forge: Arc<dyn Forge> = world.forge.clone();
    let projects = World::setups(&config, &forge)
        .into_iter()
        .map(|setup| {
            if setup.project.name == "hosted" {
                DoctorProject::Unavailable {
                    project: setup.project,
                    problem: "cannot set up the gitlab client: GET /api/v4/user: 502 Bad Gateway"
                        .into(),
                    fix: Some("check GITLAB_TOKEN and the project's api_url".into()),
                }
            } else {
                DoctorProject::Ready(setup)
            }
        })
        .collect();
    let checks = check_projects(&DoctorRequest {
        projects,
        cache: world.state.path().join("doctor"),
        branch: BRANCH.to_owned(),
        set: None,
        readers: Readers::default(),
    })
    .await;
    let of = |project: &str| -> Vec<_> {
        checks
            .iter()
            .filter(|c| c.project.as_deref() == Some(project))
            .collect()
    };

    let signals = of("signals");
    assert!(signals.len() >= 6, "{signals:#?}");
    assert!(
        signals.iter().all(|c| c.verdict == Verdict::Ok),
        "{signals:#?}"
    );

    let missing = of("gone");
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert_eq!(missing[0].verdict, Verdict::Fail);
    assert_eq!(
        missing[0].detail,
        format!(
            "no repository at {} (the directory does not exist)",
            gone.display()
        )
    );
    assert!(missing[0].fix.as_deref().unwrap().contains("`repo`"));

    let hosted = of("hosted");
    assert_eq!(hosted.len(), 1, "{hosted:#?}");
    assert_eq!(hosted[0].check, "forge API");
    assert_eq!(hosted[0].verdict, Verdict::Fail);
    assert!(hosted[0].detail.contains("502 Bad Gateway"));

    let json = to_json(&checks);
    assert_eq!(json["failed"], 2);
    let names: Vec<&str> = json["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["signals", "gone", "hosted"]);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"/[^ ]*/upkeep-git-[A-Za-z0-9]+", "[REPO]");
    settings.bind(|| {
        insta::assert_json_snapshot!("doctor_json", json);
    });
}
