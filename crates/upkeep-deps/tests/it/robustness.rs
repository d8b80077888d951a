//! No panic on any input: every fixture lockfile, truncated, corrupted, made
//! non-UTF-8 and fed under every lockfile name; deeply nested documents; a 50 MB file.
//! A parser may reject any of these (with a position), never panic or hang.

use std::path::{Path, PathBuf};

use upkeep_deps::{Sibling, detect, diff_packages, parse_lockfile, render_markdown, render_text};

/// One file name per supported format (and the manifests the parsers read).
const NAMES: &[&str] = &[
    "requirements.txt",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "go.mod",
    "Gemfile.lock",
    "composer.lock",
    "Dockerfile",
    "docker-compose.yml",
];

const MANIFESTS: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "Pipfile",
    "requirements.in",
    "composer.json",
    "go.sum",
];

fn fixture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs_err::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .components()
                .any(|c| c.as_os_str() == "old" || c.as_os_str() == "new")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut out,
    );
    out.sort();
    assert!(out.len() > 30, "fixtures found: {}", out.len());
    out
}

/// Parses under every name, with the bytes also offered as every manifest, and
/// renders whatever parsed: nothing may panic.
fn exercise(bytes: &[u8]) {
    let siblings: Vec<Sibling<'_>> = MANIFESTS
        .iter()
        .map(|name| Sibling {
            name,
            contents: bytes,
        })
        .collect();
    for name in NAMES {
        for siblings in [&[][..], &siblings[..]] {
            if let Ok(lock) = parse_lockfile(name, bytes, siblings) {
                let changes = diff_packages(lock.ecosystem, &lock.packages, &[]);
                let report = upkeep_deps::DiffReport {
                    lockfiles: vec![upkeep_deps::LockfileDiff {
                        path: lock.path.clone(),
                        ecosystem: lock.ecosystem,
                        changes,
                    }],
                    errors: Vec::new(),
                };
                let _ = render_markdown(&report);
                let _ = render_text(&report);
            }
        }
    }
}

/// Evenly spread cut points, plus the first bytes (where headers are decided).
fn cut_points(len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..len.min(32)).collect();
    cuts.extend((1..16).map(|i| len * i / 16));
    cuts
}

#[test]
fn every_fixture_under_every_name_truncated_and_corrupted() {
    for path in fixture_files() {
        let bytes = fs_err::read(&path).unwrap();
        exercise(&bytes);
        for cut in cut_points(bytes.len()) {
            exercise(&bytes[..cut]);
        }
        // Structural characters and invalid UTF-8 dropped in at spread positions.
        for (i, at) in cut_points(bytes.len()).into_iter().skip(32).enumerate() {
            let mut corrupted = bytes.clone();
            corrupted[at] = [b'"', b'{', b'[', b':', b'\n', 0xff, b'\\', b'@', b'('][i % 9];
            exercise(&corrupted);
        }
    }
}

#[test]
fn errors_carry_the_file_and_a_position() {
    let cases: &[(&str, &[u8])] = &[
        (
            "package-lock.json",
            b"{\n  \"packages\": {\n    \"node_modules/a\": 3\n",
        ),
        ("Cargo.lock", b"[[package]]\nname = \"a\"\nversion = 1\n"),
        (
            "pnpm-lock.yaml",
            b"lockfileVersion: '9.0'\npackages:\n  a@1: [\n",
        ),
        ("yarn.lock", b"a@^1:\n  version \"1.0.0\"\nnot an entry\n"),
        ("requirements.txt", b"django==4.2\n!!!\n"),
        ("Gemfile.lock", b"GEM\n  specs:\n    rack 2.2.8\n"),
        ("go.mod", b"module m\nrequire (\n  a.com/x\n)\n"),
        ("Dockerfile", b"FROM python:3.12\nFRM x\n"),
        (
            "uv.lock",
            b"version = 1\n[[package]]\nname = \"a\"\nversion = \xff\n",
        ),
    ];
    for (name, bytes) in cases {
        let err = parse_lockfile(name, bytes, &[]).unwrap_err();
        assert_eq!(err.path, *name);
        assert!(err.line.is_some(), "{name}: {err}");
        assert!(!err.message.is_empty());
    }
}

#[test]
fn deeply_nested_documents_are_rejected_not_overflowed() {
    // JSON and TOML parsers stop at their recursion limits; YAML's too, but libyaml
    // scans flow collections slowly in debug builds, hence the smaller depth.
    let depth = 100_000;
    exercise("[".repeat(depth).as_bytes());
    exercise(format!("a = {}", "[".repeat(depth)).as_bytes());
    exercise("- ".repeat(depth).as_bytes());
    for name in ["pnpm-lock.yaml", "docker-compose.yml", "yarn.lock"] {
        let yaml = format!("__metadata:\n  version: 8\nx: {}", "[".repeat(10_000));
        assert!(parse_lockfile(name, yaml.as_bytes(), &[]).is_err());
    }
}

#[test]
fn a_50_mb_file_is_handled() {
    // Long lines, a huge continuation, and invalid UTF-8 at the very end.
    let mut big = Vec::with_capacity(50 << 20);
    let line = b"package-name-with-a-long-name==1.2.3 \\\n    --hash=sha256:0123456789abcdef\n";
    while big.len() < (50 << 20) - line.len() {
        big.extend_from_slice(line);
    }
    let lock = parse_lockfile("requirements.txt", &big, &[]).unwrap();
    assert!(lock.packages.len() > 500_000);
    big.push(0xff);
    let err = parse_lockfile("requirements.txt", &big, &[]).unwrap_err();
    assert!(err.line.unwrap() > 1_000_000, "{err}");
    // The same bytes under a structured name fail fast with a position.
    assert!(parse_lockfile("package-lock.json", &big, &[]).is_err());
    assert!(parse_lockfile("yarn.lock", &big, &[]).is_err());
}

#[test]
fn detection_never_panics_on_odd_paths() {
    for path in [
        "",
        "/",
        "\\",
        "requirements",
        ".txt",
        "a/requirements/",
        "Dockerfile.",
        "é/Cargo.lock",
    ] {
        let _ = detect(path);
        let _ = upkeep_deps::sibling_paths(path);
    }
}
