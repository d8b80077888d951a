//! Tree diffs: revisions through the `TreeSource` trait, directories through the
//! walker (honouring .gitignore), and a malformed lockfile that does not stop the rest.

use std::collections::BTreeMap;
use std::path::Path;

use upkeep_deps::fs::{DirTree, diff_dirs, diff_files};
use upkeep_deps::{ChangeKind, Error, Side, SourceError, TreeSource, diff_trees};

/// A repository at one revision, as `upkeep-maintain` feeds it from `upkeep-git`.
struct Revision(BTreeMap<&'static str, &'static str>);

impl TreeSource for Revision {
    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        Ok(self.0.keys().map(|k| (*k).to_owned()).collect())
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(self.0.get(path).map(|t| t.as_bytes().to_vec()))
    }
}

struct Unlistable;

impl TreeSource for Unlistable {
    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        Err("object database corrupt".into())
    }

    fn read_file(&self, _: &str) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(None)
    }
}

/// (lockfile, name, from, to, kind, direct)
type Row<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    ChangeKind,
    Option<bool>,
);

const YARN_OLD: &str = "lodash@^3.0.0:\n  version \"3.10.1\"\n";
const YARN_NEW: &str = "lodash@^4.0.0:\n  version \"4.17.21\"\n";

#[test]
fn revisions_pair_by_path_and_survive_a_malformed_lockfile() {
    let old = Revision(BTreeMap::from([
        ("README.md", "hello"),
        ("web/package.json", r#"{"dependencies": {"lodash": "^3"}}"#),
        ("web/yarn.lock", YARN_OLD),
        ("api/requirements.txt", "django==4.2.16\n"),
        ("api/requirements.in", "django\n"),
        (
            "old-only/Gemfile.lock",
            "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.8)\n",
        ),
    ]));
    let new = Revision(BTreeMap::from([
        ("README.md", "hello again"),
        ("web/package.json", r#"{"dependencies": {"lodash": "^4"}}"#),
        ("web/yarn.lock", YARN_NEW),
        ("api/requirements.txt", "django==5.1.3\n%%% broken\n"),
        ("api/requirements.in", "django\n"),
        ("svc/Dockerfile", "FROM python:3.12-slim\n"),
    ]));
    let report = diff_trees(&old, &new).unwrap();

    let summary: Vec<Row<'_>> = report
        .changes()
        .map(|(l, c)| {
            (
                l.path.as_str(),
                c.name.as_str(),
                c.from.as_deref(),
                c.to.as_deref(),
                c.kind,
                c.direct,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "old-only/Gemfile.lock",
                "rack",
                Some("2.2.8"),
                None,
                ChangeKind::Removed,
                None
            ),
            (
                "svc/Dockerfile",
                "python",
                None,
                Some("3.12-slim"),
                ChangeKind::Added,
                Some(true)
            ),
            (
                "web/yarn.lock",
                "lodash",
                Some("3.10.1"),
                Some("4.17.21"),
                ChangeKind::Major,
                Some(true)
            ),
        ]
    );
    assert_eq!(report.errors.len(), 1);
    let e = &report.errors[0];
    assert_eq!(
        (e.path.as_str(), e.side, e.line),
        ("api/requirements.txt", Some(Side::New), Some(2))
    );
    assert_eq!(report.likely_breaking().count(), 1);
}

#[test]
fn a_tree_that_cannot_be_listed_fails_the_diff() {
    let empty = Revision(BTreeMap::new());
    let err = diff_trees(&Unlistable, &empty).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ListFiles {
                side: Side::Old,
                ..
            }
        ),
        "{err}"
    );
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

#[test]
fn directories_honour_gitignore_and_skip_node_modules() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
    for (root, lock) in [(&old, YARN_OLD), (&new, YARN_NEW)] {
        write(root, ".gitignore", "vendor/\n*.bak\n");
        write(root, "yarn.lock", lock);
        write(root, "vendor/lib/yarn.lock", lock);
        write(root, "node_modules/dep/yarn.lock", lock);
        write(root, ".git/yarn.lock", lock);
        write(root, "nested/.gitignore", "generated/\n");
        write(root, "nested/generated/yarn.lock", lock);
        write(root, "nested/ok/yarn.lock", lock);
    }
    let report = diff_dirs(&old, &new).unwrap();
    let paths: Vec<&str> = report.lockfiles.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths, ["nested/ok/yarn.lock", "yarn.lock"]);
    let listed = DirTree::new(&new).list_files().unwrap();
    assert!(listed.contains(&".gitignore".to_owned()));
    assert!(
        !listed
            .iter()
            .any(|p| p.starts_with("vendor/") || p.starts_with(".git/"))
    );
}

#[test]
fn two_files_read_their_own_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "a/package.json",
        r#"{"devDependencies": {"lodash": "3"}}"#,
    );
    write(tmp.path(), "a/yarn.lock", YARN_OLD);
    write(tmp.path(), "b/yarn.lock", YARN_NEW);
    let report = diff_files(
        &tmp.path().join("a/yarn.lock"),
        &tmp.path().join("b/yarn.lock"),
    )
    .unwrap();
    // The new side has no manifest, so the mark comes from the old one.
    assert_eq!(report.lockfiles[0].changes[0].direct, Some(true));
    assert!(report.lockfiles[0].path.ends_with("b/yarn.lock"));

    write(tmp.path(), "c/notes.txt", "x");
    let err = diff_files(
        &tmp.path().join("c/notes.txt"),
        &tmp.path().join("c/notes.txt"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnknownLockfile { .. }), "{err}");
    let err = diff_files(
        &tmp.path().join("missing.lock"),
        &tmp.path().join("b/yarn.lock"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ReadFile { .. }), "{err}");
    let err = diff_dirs(&tmp.path().join("a/yarn.lock"), &tmp.path().join("b")).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err}");
}
