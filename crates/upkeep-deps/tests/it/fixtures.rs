//! Every committed fixture case: the diff of `old/` and `new/` (as `maintain deps diff
//! old/ new/ --output json` computes it) must be exactly the change between the package
//! manager's own listings in `listing/`.
//!
//! Expectations are derived from the listings, never typed here: for each package
//! name, the versions only in the old listing must be the `from`s of its changes and
//! the versions only in the new listing the `to`s; names whose versions did not
//! change must not appear. Where the listing says which packages are direct (`npm ls`,
//! `pnpm ls`, `cargo metadata`, `poetry show --top-level`), the marks must agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use upkeep_deps::{ChangeKind, DiffReport, fs::diff_dirs, render_json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Name → versions, from a package manager's listing of one side.
#[derive(Debug, Default)]
struct Listing {
    versions: BTreeMap<String, BTreeSet<String>>,
    direct: Option<BTreeSet<String>>,
}

impl Listing {
    fn add(&mut self, name: &str, version: &str) {
        self.versions
            .entry(name.to_owned())
            .or_default()
            .insert(version.to_owned());
    }
}

type Reader = fn(&Path, &str) -> BTreeMap<String, Listing>;

fn read(path: &Path) -> String {
    fs_err::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn single(lockfile: &str, listing: Listing) -> BTreeMap<String, Listing> {
    BTreeMap::from([(lockfile.to_owned(), listing)])
}

/// `npm ls --all --json` and `pnpm ls --depth Infinity --json`: nested
/// `dependencies` objects; the top level is what the project asks for.
fn walk_ls(deps: &Value, listing: &mut Listing) {
    for (name, entry) in deps.as_object().into_iter().flatten() {
        if let Some(version) = entry["version"].as_str() {
            listing.add(name, version);
        }
        walk_ls(&entry["dependencies"], listing);
    }
}

fn npm_ls(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let ls = json(&case.join(format!("listing/{side}.json")));
    let mut listing = Listing::default();
    walk_ls(&ls["dependencies"], &mut listing);
    listing.direct = Some(
        ls["dependencies"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect(),
    );
    let lock = if case.join(format!("{side}/npm-shrinkwrap.json")).exists() {
        "npm-shrinkwrap.json"
    } else {
        "package-lock.json"
    };
    single(lock, listing)
}

fn pnpm_ls(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let ls = json(&case.join(format!("listing/{side}.json")));
    let project = &ls[0];
    let mut listing = Listing::default();
    let mut direct = BTreeSet::new();
    for key in ["dependencies", "devDependencies", "optionalDependencies"] {
        walk_ls(&project[key], &mut listing);
        direct.extend(
            project[key]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
    }
    listing.direct = Some(direct);
    single("pnpm-lock.yaml", listing)
}

/// `yarn list --json` (classic): trees of `name@version`; shadow nodes are references.
fn yarn_list(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    fn walk(nodes: &Value, listing: &mut Listing) {
        for node in nodes.as_array().into_iter().flatten() {
            if node["shadow"].as_bool() != Some(true) {
                let (name, version) = split_at_version(node["name"].as_str().unwrap());
                listing.add(name, version);
            }
            walk(&node["children"], listing);
        }
    }
    let ls = json(&case.join(format!("listing/{side}.json")));
    let mut listing = Listing::default();
    walk(&ls["data"]["trees"], &mut listing);
    single("yarn.lock", listing)
}

/// `yarn info --all --recursive --json` (Berry): one `name@npm:version` per line.
fn yarn_info(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut listing = Listing::default();
    for line in read(&case.join(format!("listing/{side}.json"))).lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let locator = entry["value"].as_str().unwrap();
        let (name, reference) = split_at_version(locator);
        if reference.starts_with("workspace:") {
            continue;
        }
        listing.add(name, entry["children"]["Version"].as_str().unwrap());
    }
    single("yarn.lock", listing)
}

/// `name@version` (the name may start with `@`).
fn split_at_version(s: &str) -> (&str, &str) {
    let i = s[1..].find('@').map(|i| i + 1).unwrap();
    (&s[..i], &s[i + 1..])
}

/// PEP 503 normalisation, as pip and every listing compare names.
fn pep503(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The names of a requirements file (`name==version ; markers`), PEP 503-normalised.
fn requirement_pins(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with(['#', '-', ' ']) && l.contains("=="))
        .map(|l| {
            let l = l.split(';').next().unwrap().trim();
            let (name, version) = l.split_once("==").unwrap();
            (pep503(name), version.trim().to_owned())
        })
        .collect()
}

/// pip's install report, reduced to names and versions by the recipe; the direct
/// ones are those of `requirements.in` (pip-compile's input).
fn pip_report(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut listing = Listing::default();
    for p in json(&case.join(format!("listing/{side}.json")))
        .as_array()
        .unwrap()
    {
        listing.add(
            &pep503(p["name"].as_str().unwrap()),
            p["version"].as_str().unwrap(),
        );
    }
    listing.direct = Some(
        requirement_pins(&read(&case.join(format!("{side}/requirements.in"))))
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
    );
    single("requirements.txt", listing)
}

/// `pipenv requirements --dev`.
fn pipenv_requirements(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut listing = Listing::default();
    for (name, version) in requirement_pins(&read(&case.join(format!("listing/{side}.txt")))) {
        listing.add(&name, &version);
    }
    single("Pipfile.lock", listing)
}

/// `uv export --format requirements-txt`.
fn uv_export(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut listing = Listing::default();
    for (name, version) in requirement_pins(&read(&case.join(format!("listing/{side}.txt")))) {
        listing.add(&name, &version);
    }
    single("uv.lock", listing)
}

/// `poetry show` (`name [(!)] version description`) and `poetry show --top-level`.
fn poetry_show(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let parse = |file: String| -> Vec<(String, String)> {
        read(&case.join(file))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut tokens = l.split_whitespace().filter(|t| *t != "(!)");
                let name = pep503(tokens.next().unwrap());
                (name, tokens.next().unwrap().to_owned())
            })
            .collect()
    };
    let mut listing = Listing::default();
    for (name, version) in parse(format!("listing/{side}.txt")) {
        listing.add(&name, &version);
    }
    listing.direct = Some(
        parse(format!("listing/{side}-top-level.txt"))
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
    );
    single("poetry.lock", listing)
}

/// `cargo metadata`, reduced by the recipe to packages and the root's dependencies.
fn cargo_metadata(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let m = json(&case.join(format!("listing/{side}.json")));
    let mut listing = Listing::default();
    for p in m["packages"].as_array().unwrap() {
        listing.add(p["name"].as_str().unwrap(), p["version"].as_str().unwrap());
    }
    listing.direct = Some(
        m["direct"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect(),
    );
    single("Cargo.lock", listing)
}

/// `go list -m all`: the main module, then `path version [=> path version]`.
fn go_list(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut listing = Listing::default();
    for line in read(&case.join(format!("listing/{side}.txt")))
        .lines()
        .skip(1)
    {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        // A replaced module is built at the replacement's version.
        let version = if tokens.get(2) == Some(&"=>") {
            tokens[4]
        } else {
            tokens[1]
        };
        listing.add(tokens[0], version);
    }
    single("go.mod", listing)
}

/// `bundle list`: `  * name (version[ revision])`.
fn bundle_list(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut listing = Listing::default();
    for line in read(&case.join(format!("listing/{side}.txt"))).lines() {
        if let Some(spec) = line.trim().strip_prefix("* ") {
            let (name, version) = spec.split_once(" (").unwrap();
            listing.add(name, version.trim_end_matches(')'));
        }
    }
    single("Gemfile.lock", listing)
}

/// `composer show --locked`: `name version [short-commit] description`.
fn composer_show(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut listing = Listing::default();
    for line in read(&case.join(format!("listing/{side}.txt"))).lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let version = if tokens[1].starts_with("dev-") {
            format!("{} {}", tokens[1], tokens[2])
        } else {
            tokens[1].to_owned()
        };
        listing.add(tokens[0], &version);
    }
    single("composer.lock", listing)
}

/// Images per file: `file image version`.
fn image_list(case: &Path, side: &str) -> BTreeMap<String, Listing> {
    let mut out: BTreeMap<String, Listing> = BTreeMap::new();
    for line in read(&case.join(format!("listing/{side}.txt"))).lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        out.entry(tokens[0].to_owned())
            .or_default()
            .add(tokens[1], tokens[2]);
    }
    out
}

/// Names as the report's ecosystem compares them.
fn normalise(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "pypi" => pep503(name),
        "packagist" | "rubygems" => name.to_ascii_lowercase(),
        _ => name.to_owned(),
    }
}

/// The first word of a listed version (listings add a short commit to git versions,
/// the lockfile's version is the part before it).
fn first_word(v: &str) -> String {
    v.split_whitespace().next().unwrap().to_owned()
}

fn check_case(relative: &str, reader: Reader) {
    let case = fixtures().join(relative);
    assert!(
        case.join("recipe.sh").is_file(),
        "{relative}: every case keeps its recipe"
    );
    let report: DiffReport = diff_dirs(&case.join("old"), &case.join("new")).unwrap();
    // Through the JSON document, as `maintain deps diff --output json` prints it.
    let doc: Value = serde_json::from_str(&render_json(&report)).unwrap();
    assert_eq!(doc["errors"], Value::Array(vec![]), "{relative}");

    let (old, new) = (reader(&case, "old"), reader(&case, "new"));
    let lockfiles: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let reported: BTreeSet<&str> = doc["lockfiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert!(
        reported
            .iter()
            .all(|p| lockfiles.contains(&(*p).to_owned())),
        "{relative}: unexpected lockfiles {reported:?}"
    );
    let empty = Listing::default();
    for path in lockfiles {
        let (o, n) = (
            old.get(path).unwrap_or(&empty),
            new.get(path).unwrap_or(&empty),
        );
        let entry = doc["lockfiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["path"] == path.as_str());
        let ecosystem = entry.map_or("", |e| e["ecosystem"].as_str().unwrap());
        let changes: Vec<&Value> = entry
            .map(|e| e["changes"].as_array().unwrap().iter().collect())
            .unwrap_or_default();

        let mut expected: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        let names: BTreeSet<&String> = o.versions.keys().chain(n.versions.keys()).collect();
        let none = BTreeSet::new();
        for name in names {
            let ov = o.versions.get(name).unwrap_or(&none);
            let nv = n.versions.get(name).unwrap_or(&none);
            if ov != nv {
                expected.insert(
                    normalise(ecosystem, name),
                    (
                        ov.difference(nv).map(|v| first_word(v)).collect(),
                        nv.difference(ov).map(|v| first_word(v)).collect(),
                    ),
                );
            }
        }
        let mut actual: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for c in &changes {
            let e = actual
                .entry(normalise(ecosystem, c["name"].as_str().unwrap()))
                .or_default();
            e.0.extend(c["from"].as_str().map(str::to_owned));
            e.1.extend(c["to"].as_str().map(str::to_owned));
            // added/removed carry null on the missing side, and only they do.
            let kind = c["kind"].as_str().unwrap();
            assert_eq!(
                kind == "added",
                c["from"].is_null() && !c["to"].is_null(),
                "{c}"
            );
            assert_eq!(
                kind == "removed",
                c["to"].is_null() && !c["from"].is_null(),
                "{c}"
            );
        }
        assert_eq!(
            actual, expected,
            "{relative} {path}: report vs package manager listing"
        );
        assert!(
            !expected.is_empty(),
            "{relative} {path}: the case should change something"
        );

        check_direct_marks(relative, ecosystem, &changes, o, n);
    }

    // Identical inputs give no changes.
    for side in ["old", "new"] {
        let same = diff_dirs(&case.join(side), &case.join(side)).unwrap();
        assert!(
            same.is_empty() && same.errors.is_empty(),
            "{relative} {side}: {same:?}"
        );
    }
}

/// Direct marks agree with the listing where it has them (removed packages are judged
/// against the old side).
fn check_direct_marks(
    relative: &str,
    ecosystem: &str,
    changes: &[&Value],
    o: &Listing,
    n: &Listing,
) {
    for c in changes {
        let name = c["name"].as_str().unwrap();
        let listing = if c["kind"] == "removed" { o } else { n };
        if let Some(direct) = &listing.direct {
            let is_direct = direct
                .iter()
                .any(|d| normalise(ecosystem, d) == normalise(ecosystem, name));
            assert_eq!(
                c["direct"],
                Value::Bool(is_direct),
                "{relative}: direct mark of {c}"
            );
        }
    }
}

#[test]
fn npm_package_lock_v1() {
    check_case("npm/package-lock-v1", npm_ls);
}

#[test]
fn npm_package_lock_v2() {
    check_case("npm/package-lock-v2", npm_ls);
}

#[test]
fn npm_package_lock_v3() {
    check_case("npm/package-lock-v3", npm_ls);
}

#[test]
fn yarn_classic() {
    check_case("npm/yarn-v1", yarn_list);
}

#[test]
fn yarn_berry() {
    check_case("npm/yarn-berry", yarn_info);
}

#[test]
fn pnpm_v6() {
    check_case("npm/pnpm-v6", pnpm_ls);
}

#[test]
fn pnpm_v9() {
    check_case("npm/pnpm-v9", pnpm_ls);
}

#[test]
fn pip_compile() {
    check_case("pypi/pip-compile", pip_report);
}

#[test]
fn uv_pip_compile() {
    check_case("pypi/uv-pip-compile", pip_report);
}

#[test]
fn pipenv() {
    check_case("pypi/pipenv", pipenv_requirements);
}

#[test]
fn poetry() {
    check_case("pypi/poetry", poetry_show);
}

#[test]
fn uv_lock() {
    check_case("pypi/uv-lock", uv_export);
}

#[test]
fn cargo() {
    check_case("cargo/upgrade", cargo_metadata);
}

#[test]
fn go_modules() {
    check_case("go/modules", go_list);
}

#[test]
fn bundler() {
    check_case("rubygems/bundler", bundle_list);
}

#[test]
fn composer() {
    check_case("packagist/composer", composer_show);
}

#[test]
fn docker_images() {
    check_case("docker/images", image_list);
}

/// The classification of the headline upgrades, checked against each scheme's rules.
#[test]
fn headline_kinds() {
    let kinds = |relative: &str| -> BTreeMap<String, (ChangeKind, bool)> {
        let case = fixtures().join(relative);
        let report = diff_dirs(&case.join("old"), &case.join("new")).unwrap();
        report
            .changes()
            .map(|(_, c)| {
                (
                    format!("{} {}", c.name, c.to.clone().unwrap_or_default()),
                    (c.kind, c.likely_breaking),
                )
            })
            .collect()
    };
    let npm = kinds("npm/package-lock-v3");
    assert_eq!(npm["lodash 4.17.21"], (ChangeKind::Major, true));
    assert_eq!(npm["chalk 4.1.2"], (ChangeKind::Patch, false));
    assert_eq!(npm["is-number 7.0.0"], (ChangeKind::Added, false));
    let py = kinds("pypi/poetry");
    assert_eq!(py["django 5.1.3"], (ChangeKind::Major, true));
    assert_eq!(py["requests 2.32.3"], (ChangeKind::Minor, false));
    let cargo = kinds("cargo/upgrade");
    // rand 0.7.3 stays (renamed `rand07`), so 0.8.5 is a second copy, not an upgrade.
    assert_eq!(cargo["rand 0.8.5"], (ChangeKind::Added, false));
    assert_eq!(cargo["log 0.4.22"], (ChangeKind::Patch, false));
    assert_eq!(cargo["serde 1.0.210"], (ChangeKind::Patch, false));
    let docker = kinds("docker/images");
    assert_eq!(docker["node 20-alpine"], (ChangeKind::Major, true));
    assert_eq!(docker["nginx 1.27-bookworm"], (ChangeKind::Other, false));
    let go = kinds("go/modules");
    assert_eq!(go["golang.org/x/sys v0.21.0"], (ChangeKind::Minor, true));
    assert_eq!(
        go["golang.org/x/exp v0.0.0-20240506185415-9bf2ced13842"],
        (ChangeKind::Prerelease, false)
    );
}
