//! Synthetic project repositories, written straight into the fakes' bare repositories
//! with `git fast-import`: one process per repository, no work tree, no clone and push.
//! That keeps setting up 40 projects (or 20 MB of history) to a second or two.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// The lockfile every synthetic project starts with (pip-compile output shape).
pub const REQUIREMENTS: &str = "\
certifi==2024.8.30
    # via requests
charset-normalizer==3.3.2
    # via requests
django==4.2.16
    # via -r requirements.in
idna==3.8
    # via requests
requests==2.31.0
    # via -r requirements.in
sqlparse==0.5.1
    # via django
urllib3==2.2.2
    # via requests
";

/// A Makefile whose three targets each sleep `step_secs`; `upgrade` also bumps three
/// pins in `requirements.txt` (a major, a minor and a patch upgrade), so the round has
/// a real diff to commit, push and describe.
#[must_use]
pub fn makefile(step_secs: f64) -> String {
    format!(
        ".PHONY: upgrade build test\n\
         upgrade:\n\
         \tsleep {step_secs}\n\
         \tsed -i -e 's/^django==4.2.16$$/django==5.1.4/' -e 's/^requests==2.31.0$$/requests==2.32.3/' -e 's/^urllib3==2.2.2$$/urllib3==2.2.3/' requirements.txt\n\
         build:\n\
         \tsleep {step_secs}\n\
         test:\n\
         \tsleep {step_secs}\n"
    )
}

/// Runs `git fast-import` in the bare repository `bare`, feeding it what `write` writes.
pub fn fast_import(
    bare: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet", "--done"])
        .current_dir(bare)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        let stdin = child.stdin.take().expect("piped stdin");
        let mut out = BufWriter::with_capacity(1 << 20, stdin);
        write(&mut out)?;
        out.write_all(b"done\n")?;
        out.flush()?;
    }
    let output = child.wait_with_output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "git fast-import in {} failed: {}",
            bare.display(),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

fn data(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    writeln!(out, "data {}", bytes.len())?;
    out.write_all(bytes)?;
    out.write_all(b"\n")
}

fn commit_header(out: &mut dyn Write, mark: usize, when: i64, message: &str) -> io::Result<()> {
    writeln!(out, "commit refs/heads/main")?;
    writeln!(out, "mark :{mark}")?;
    writeln!(out, "author Bench <bench@example.com> {when} +0000")?;
    writeln!(out, "committer Bench <bench@example.com> {when} +0000")?;
    data(out, message.as_bytes())
}

/// Adds one commit on `main` (after the fake's initial commit) holding the project's
/// `Makefile` and `requirements.txt`.
pub fn add_project_files(bare: &Path, step_secs: f64) -> io::Result<()> {
    fast_import(bare, |out| {
        commit_header(out, 1, 1_764_000_000, "project files")?;
        writeln!(out, "from refs/heads/main^0")?;
        writeln!(out, "M 100644 inline Makefile")?;
        data(out, makefile(step_secs).as_bytes())?;
        writeln!(out, "M 100644 inline requirements.txt")?;
        data(out, REQUIREMENTS.as_bytes())
    })
}

/// A small, fast, deterministic generator (xorshift64*): history content must not
/// compress or delta away, and must be the same on every run.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `len` bytes of text (64-character alphabet, lines of 76), about 6 bits of entropy
    /// per byte: zlib gets it down to roughly three quarters, no further.
    fn text(&mut self, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::with_capacity(len + len / 76 + 1);
        let mut word = 0u64;
        let mut left = 0;
        for i in 0..len {
            if left == 0 {
                word = self.next();
                left = 10;
            }
            out.push(ALPHABET[usize::try_from(word & 63).unwrap_or(0)]);
            word >>= 6;
            left -= 1;
            if i % 76 == 75 {
                out.push(b'\n');
            }
        }
        out
    }
}

/// Shape of a generated history.
#[derive(Debug, Clone, Copy)]
pub struct HistoryShape {
    /// Commits in all (the last one adds the project files).
    pub commits: usize,
    /// Bytes of fresh content each commit writes (one file rewritten).
    pub bytes_per_commit: usize,
    /// How many distinct files the commits rotate through.
    pub files: usize,
    /// Seed of the content generator.
    pub seed: u64,
}

/// Rewrites `main` of `bare` as a long history of `shape`, ending with a commit holding
/// the project's `Makefile` and `requirements.txt`. The fake's initial commit stays the
/// root. Returns the number of bytes of content generated.
pub fn add_history(bare: &Path, shape: HistoryShape, step_secs: f64) -> io::Result<usize> {
    let mut noise = Noise(shape.seed | 1);
    let mut generated = 0;
    fast_import(bare, |out| {
        let mut message = String::new();
        for i in 0..shape.commits {
            message.clear();
            let _ = write!(
                message,
                "change {i}: rework module {}\n\nGenerated history for the clone-cache benchmark.",
                i % shape.files
            );
            let when = 1_700_000_000 + i64::try_from(i).unwrap_or(0) * 600;
            commit_header(out, i + 1, when, &message)?;
            if i == 0 {
                writeln!(out, "from refs/heads/main^0")?;
            }
            writeln!(out, "M 100644 inline src/module_{:03}.txt", i % shape.files)?;
            let content = noise.text(shape.bytes_per_commit);
            generated += content.len();
            data(out, &content)?;
            if i + 1 == shape.commits {
                writeln!(out, "M 100644 inline Makefile")?;
                data(out, makefile(step_secs).as_bytes())?;
                writeln!(out, "M 100644 inline requirements.txt")?;
                data(out, REQUIREMENTS.as_bytes())?;
            }
        }
        Ok(())
    })?;
    Ok(generated)
}

/// Adds one small commit on `main` (a day of upstream work between two rounds).
pub fn add_small_commit(bare: &Path, n: usize) -> io::Result<()> {
    fast_import(bare, |out| {
        commit_header(out, 1, 1_765_000_000, &format!("fix: small change {n}"))?;
        writeln!(out, "from refs/heads/main^0")?;
        writeln!(out, "M 100644 inline CHANGES.txt")?;
        data(out, format!("small change {n}\n").as_bytes())
    })
}

/// Total size in bytes of the files under `dir` (recursively); 0 when missing.
#[must_use]
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Sizes of the `*.pack` files in `<clone>/.git/objects/pack`, by file name: what a
/// fetch wrote (libgit2 keeps every fetched pack as it came), as opposed to loose
/// objects a local commit writes.
#[must_use]
pub fn packs(clone: &Path) -> std::collections::BTreeMap<String, u64> {
    let dir = clone.join(".git/objects/pack");
    fs_err::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().map_or(0, |m| m.len()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
