//! Bundler's `Gemfile.lock`.
//!
//! Sections start in column 0 (`GEM`, `GIT`, `PATH`, `PLATFORMS`, `DEPENDENCIES`, …).
//! In source sections, specs are indented four spaces (`name (version[-platform])`)
//! and their own requirements six. `PATH` gems are the project's own: left out.
//! `DEPENDENCIES` lists what the Gemfile asks for, so no Gemfile is needed.

use std::collections::HashSet;

use super::{Ctx, Parsed, mark_direct, normalize_name};
use crate::model::{Ecosystem, FileError, Package};

#[derive(PartialEq, Eq)]
enum Section {
    Source { local: bool },
    Dependencies,
    Other,
}

#[allow(clippy::too_many_lines)] // One pass over the sections; splitting it scatters the state.
pub(crate) fn parse(ctx: &Ctx<'_>, text: &str) -> Result<Parsed, FileError> {
    let mut packages = Vec::new();
    let mut direct: Option<HashSet<String>> = None;
    let mut section: Option<Section> = None;
    let mut remote: Option<String> = None;
    let mut revision: Option<String> = None;
    let mut bundled_with = None;
    let mut last_section = String::new();

    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = line.trim();
        if indent == 0 {
            if !content
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '_')
            {
                return Err(ctx.error_line(
                    line_no,
                    format!("expected a section name, found `{content}`"),
                ));
            }
            last_section = String::from(content);
            remote = None;
            revision = None;
            section = Some(match content {
                "GEM" | "GIT" | "PLUGIN SOURCE" | "SVN" => Section::Source { local: false },
                "PATH" => Section::Source { local: true },
                "DEPENDENCIES" => {
                    direct.get_or_insert_with(HashSet::new);
                    Section::Dependencies
                }
                _ => Section::Other,
            });
            continue;
        }
        let Some(current) = &section else {
            return Err(ctx.error_line(line_no, "indented line before any section"));
        };
        match current {
            Section::Source { local } => {
                if indent == 2 {
                    if let Some(r) = content.strip_prefix("remote:") {
                        remote = Some(r.trim().to_owned());
                    } else if let Some(r) = content.strip_prefix("revision:") {
                        revision = Some(r.trim().to_owned());
                    }
                } else if indent == 4 {
                    let (name, version) = spec(content).ok_or_else(|| {
                        ctx.error_line(
                            line_no,
                            format!("expected `name (version)`, found `{content}`"),
                        )
                    })?;
                    if *local {
                        continue;
                    }
                    let source = if last_section == "GEM" {
                        remote
                            .as_deref()
                            .filter(|r| !r.starts_with("https://rubygems.org"))
                            .map(str::to_owned)
                    } else {
                        remote.as_ref().map(|r| match &revision {
                            Some(rev) => format!("{r}#{rev}"),
                            None => r.clone(),
                        })
                    };
                    packages.push(Package {
                        name: name.to_owned(),
                        version: Some(version.to_owned()),
                        source,
                        direct: None,
                    });
                }
            }
            Section::Dependencies => {
                let name = content.split([' ', '!']).next().unwrap_or(content);
                if let Some(d) = direct.as_mut() {
                    d.insert(normalize_name(Ecosystem::RubyGems, name));
                }
            }
            Section::Other => {
                if last_section == "BUNDLED WITH" {
                    bundled_with = Some(content.to_owned());
                }
            }
        }
    }
    if section.is_none() {
        return Err(ctx.error("not a Gemfile.lock: no sections"));
    }
    if let Some(names) = direct {
        mark_direct(Ecosystem::RubyGems, &mut packages, &names);
    }
    Ok(Parsed {
        format_version: bundled_with.map(|b| format!("bundler {b}")),
        packages,
    })
}

/// `name (version)` → (`name`, `version`).
fn spec(content: &str) -> Option<(&str, &str)> {
    let (name, rest) = content.split_once(" (")?;
    let version = rest.strip_suffix(')')?;
    (!name.is_empty() && !version.is_empty() && !name.contains(' ')).then_some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "GIT
  remote: https://github.com/org/gem.git
  revision: 0123abc
  specs:
    orggem (0.1.0)

GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    racc (1.7.1)
    rails (7.0.8)
      nokogiri (>= 1.6)

PATH
  remote: .
  specs:
    app (0.1.0)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  orggem!
  rails (~> 7.0)

BUNDLED WITH
   2.4.19
";

    #[test]
    fn sections_specs_and_dependencies() {
        let p = parse(
            &Ctx {
                path: "Gemfile.lock",
            },
            LOCK,
        )
        .unwrap();
        let got: Vec<_> = p
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_deref(), p.direct))
            .collect();
        assert_eq!(
            got,
            [
                ("orggem", Some("0.1.0"), Some(true)),
                ("nokogiri", Some("1.15.4-x86_64-linux"), Some(false)),
                ("racc", Some("1.7.1"), Some(false)),
                ("rails", Some("7.0.8"), Some(true)),
            ]
        );
        assert_eq!(
            p.packages[0].source.as_deref(),
            Some("https://github.com/org/gem.git#0123abc")
        );
        assert_eq!(p.format_version.as_deref(), Some("bundler 2.4.19"));
    }
}
