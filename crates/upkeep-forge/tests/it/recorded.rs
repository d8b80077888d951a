//! Replays GitHub interactions recorded against api.github.com (`@octokit/fixtures`, in
//! `../shared/fixtures/github-recorded/`) against the fake GitHub and checks that the fake
//! answers the way GitHub did: status codes, the fields and JSON types of every body
//! (values too for the fields that carry meaning), error bodies, `Link` pagination,
//! `Location` and scope headers, and that octocrab's models parse what the fake sends.
//!
//! Each scenario gets its own fake, seeded with the state the recording implies: the
//! repository, its commits (the recording's `000…1`-style SHA placeholders are mapped to
//! real commits of the fake's bare repository, both ways), and issues listed by the
//! pagination scenario. Requests to `/repositories/{id}/…` are the `Link: rel="next"`
//! URLs of the previous answer, so they are followed from the fake's own `Link` header.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use octocrab::Octocrab;
use serde_json::Value;
use upkeep_testkit::github::FakeGitHub;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/github-recorded")
}

#[derive(Debug)]
struct Interaction {
    method: String,
    path: String,
    body: Option<Value>,
    status: u16,
    response: Value,
    headers: BTreeMap<String, String>,
}

fn load(file: &str) -> Vec<Interaction> {
    let path = fixtures().join(file);
    let text = fs_err::read_to_string(&path)
        .unwrap_or_else(|e| panic!("recorded fixture {} is readable: {e}", path.display()));
    let raw: Vec<Value> = serde_json::from_str(&text).unwrap();
    raw.into_iter()
        .map(|i| Interaction {
            method: i["method"].as_str().unwrap().to_ascii_uppercase(),
            path: i["path"].as_str().unwrap().to_owned(),
            body: match &i["body"] {
                Value::String(s) if s.is_empty() => None,
                Value::Null => None,
                other => Some(other.clone()),
            },
            status: u16::try_from(i["status"].as_u64().unwrap()).unwrap(),
            response: i["response"].clone(),
            headers: i["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.to_ascii_lowercase(), v)
                })
                .collect(),
        })
        .collect()
}

/// SHA placeholders of the recording and the real commits standing in for them.
#[derive(Default)]
struct Shas(Vec<(String, String)>);

impl Shas {
    fn to_real(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_owned(), |t, (fake, real)| t.replace(fake, real))
    }

    fn to_placeholder(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_owned(), |t, (fake, real)| t.replace(real, fake))
    }
}

fn placeholders(interactions: &[Interaction]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let text = interactions
        .iter()
        .map(|i| {
            format!(
                "{} {} {}",
                i.path,
                i.body.clone().unwrap_or_default(),
                i.response
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 40 <= bytes.len() {
        let window = &text[i..i + 40];
        let boundary = |j: usize| bytes.get(j).is_none_or(|b| !b.is_ascii_hexdigit());
        if window.starts_with("0000000000")
            && window.bytes().all(|b| b.is_ascii_hexdigit())
            && (i == 0 || boundary(i - 1))
            && boundary(i + 40)
        {
            if !found.iter().any(|f| f == window) {
                found.push(window.to_owned());
            }
            i += 40;
        } else {
            i += 1;
        }
    }
    found.sort();
    found
}

/// Creates the scenario's repository and whatever the recording shows existed before it.
fn seed(fake: &FakeGitHub, interactions: &[Interaction]) -> Shas {
    let first = &interactions[0].path;
    let mut parts = first.trim_start_matches('/').split('/');
    assert_eq!(parts.next(), Some("repos"), "{first}");
    let full = format!(
        "{}/{}",
        parts.next().unwrap(),
        parts.next().unwrap().split('?').next().unwrap()
    );
    fake.create_repo(&full);
    // The first placeholder is `main`'s tip, the others its ancestors in order: the
    // refs scenario moves a branch from the second to the first without `force`, which
    // GitHub accepted, so the first descends from the second.
    let found = placeholders(interactions);
    for n in 1..found.len() {
        fake.commit(&full, "main", &format!("seed {n}"));
    }
    let bare = git2::Repository::open_bare(fake.repo_path(&full)).unwrap();
    let mut commit = bare
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    let mut shas = Shas::default();
    for placeholder in found {
        shas.0.push((placeholder, commit.id().to_string()));
        if let Ok(parent) = commit.parent(0) {
            commit = parent;
        }
    }
    // Issues the pagination scenario lists: recreate them in number order.
    let mut issues: Vec<(u64, String)> = interactions
        .iter()
        .filter(|i| i.method == "GET" && i.path.contains("/issues"))
        .flat_map(|i| i.response.as_array().cloned().unwrap_or_default())
        .map(|issue| {
            (
                issue["number"].as_u64().unwrap(),
                issue["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    issues.sort();
    issues.dedup();
    for (number, title) in issues {
        assert_eq!(fake.add_issue(&full, &title), number);
    }
    shas
}

/// Fields whose values (not only types) must equal the recording's.
const EXACT: &[&str] = &[
    "state",
    "context",
    "target_url",
    "ref",
    "type",
    "title",
    "number",
    "message",
    "errors",
    "total_count",
    "code",
    "field",
    "resource",
    "sha",
    "labels",
    "enabled",
    "strict",
    "contexts",
    "full_name",
    "locked",
    "default",
];

/// Fields holding state the fake does not model (repository topics): their types are
/// compared, their lengths not.
const UNMODELLED: &[&str] = &["topics"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field the recording has must be in the fake's answer with the same JSON type
/// (`null` stands for any type: GitHub's nullable fields); the fields in [`EXACT`] must
/// have the same value, SHAs mapped back to placeholders and label/user names compared
/// by name. The fake may send more fields than the recording.
fn compare(at: &str, recorded: &Value, ours: &Value, shas: &Shas, problems: &mut Vec<String>) {
    let key = at.rsplit('.').next().unwrap_or_default();
    if EXACT.contains(&key) && !recorded.is_null() {
        let ours_text = shas.to_placeholder(&normalise_names(ours).to_string());
        let recorded_text = normalise_names(recorded).to_string();
        if ours_text != recorded_text {
            problems.push(format!("{at}: expected {recorded_text}, got {ours_text}"));
        }
        return;
    }
    match (recorded, ours) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(r), Value::Object(o)) => {
            for (k, rv) in r {
                match o.get(k) {
                    Some(ov) => compare(&format!("{at}.{k}"), rv, ov, shas, problems),
                    None => problems.push(format!("{at}.{k}: missing")),
                }
            }
        }
        (Value::Array(r), Value::Array(o)) => {
            if r.len() != o.len() && !UNMODELLED.contains(&key) {
                problems.push(format!("{at}: {} items, expected {}", o.len(), r.len()));
            }
            for (n, (rv, ov)) in r.iter().zip(o).enumerate() {
                compare(&format!("{at}[{n}]"), rv, ov, shas, problems);
            }
        }
        (r, o) if kind(r) != kind(o) => {
            problems.push(format!("{at}: {} instead of {}", kind(o), kind(r)));
        }
        _ => {}
    }
}

/// Labels and users as bare names, so that exact comparisons ignore ids and URLs.
fn normalise_names(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(normalise_names).collect()),
        Value::Object(map) if map.contains_key("color") || map.contains_key("login") => map
            .get("name")
            .or_else(|| map.get("login"))
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    }
}

/// `rel` → query string of each link in a `Link` header.
fn links(header: &str) -> BTreeMap<String, String> {
    header
        .split(',')
        .filter_map(|part| {
            let (url, rel) = part.split_once(';')?;
            let url = url.trim().trim_start_matches('<').trim_end_matches('>');
            let rel = rel.trim().strip_prefix("rel=\"")?.trim_end_matches('"');
            let query = url.split_once('?').map_or("", |(_, q)| q);
            let mut params: Vec<&str> = query.split('&').collect();
            params.sort_unstable();
            Some((rel.to_owned(), params.join("&")))
        })
        .collect()
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

async fn send(client: &Octocrab, method: &str, url: &str, body: Option<&Value>) -> Answer {
    let response = match method {
        "GET" => client._get(url).await,
        "POST" => client._post(url, body).await,
        "PATCH" => client._patch(url, body).await,
        "PUT" => client._put(url, body).await,
        "DELETE" => client._delete(url, body).await,
        other => panic!("method {other}"),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = client.body_to_string(response).await.unwrap();
    let body = if text.is_empty() {
        Value::String(String::new())
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: {e}: {text}"))
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks that octocrab's own model for this kind of answer parses the fake's body.
fn octocrab_parses(method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    use octocrab::models;
    fn parse<T: serde::de::DeserializeOwned>(body: &Value) -> Result<(), String> {
        serde_json::from_value::<T>(body.clone())
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", std::any::type_name::<T>()))
    }
    if status >= 400 || status == 204 {
        return Ok(());
    }
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        ("GET", p) if p.ends_with("/git/refs/") => parse::<Vec<models::repos::Ref>>(body),
        (_, p) if p.contains("/git/refs") => parse::<models::repos::Ref>(body),
        ("GET", p) if p.ends_with("/status") => parse::<models::CombinedStatus>(body),
        ("GET", p) if p.ends_with("/statuses") => parse::<Vec<models::Status>>(body),
        ("POST", p) if p.contains("/statuses/") => parse::<models::Status>(body),
        ("POST", p) if p.ends_with("/labels") => parse::<Vec<models::Label>>(body),
        ("POST", p) if p.ends_with("/issues") => parse::<models::issues::Issue>(body),
        ("GET", p) if p.ends_with("/issues") => parse::<Vec<models::issues::Issue>>(body),
        ("GET", p) if p.matches('/').count() == 3 => parse::<models::Repository>(body),
        ("PUT", p) if p.ends_with("/protection") => {
            parse::<models::repos::branches::BranchProtection>(body)
        }
        _ => Err(format!("no octocrab model picked for {method} {path}")),
    }
}

/// The headers that matter: content type, accepted scopes, rate-limit headers, `Location`
/// and `Link` (compared by `rel` and query, as hosts differ).
fn check_headers(
    interaction: &Interaction,
    answer: &Answer,
    shas: &Shas,
    base: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for name in ["content-type", "x-accepted-oauth-scopes"] {
        let recorded = interaction.headers.get(name).map(String::as_str);
        let ours = header(&answer.headers, name);
        if recorded != ours && !(recorded.is_none() && answer.status == 204) {
            problems.push(format!("header {name}: {ours:?}, expected {recorded:?}"));
        }
    }
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        if header(&answer.headers, name).is_none() {
            problems.push(format!("no {name} header"));
        }
    }
    if let Some(location) = interaction.headers.get("location") {
        let suffix = shas.to_real(location.trim_start_matches("https://api.github.com"));
        match header(&answer.headers, "location") {
            Some(ours) if ours == format!("{base}{suffix}") => {}
            other => problems.push(format!("location {other:?}, expected …{suffix}")),
        }
    }
    let recorded_links = interaction.headers.get("link").map(|l| links(l));
    let our_links = header(&answer.headers, "link").map(links);
    if recorded_links != our_links {
        problems.push(format!("Link {our_links:?}, expected {recorded_links:?}"));
    }
    problems
}

async fn replay(file: &str) {
    let interactions = load(file);
    let fake = FakeGitHub::start().await;
    let shas = seed(&fake, &interactions);
    let client = Octocrab::builder()
        .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
        .base_uri(fake.url())
        .unwrap()
        .personal_token("0000000000000000000000000000000000000001".to_owned())
        .build()
        .unwrap();
    let mut problems = Vec::new();
    let mut next_link: Option<String> = None;
    for (n, interaction) in interactions.iter().enumerate() {
        let what = format!("{file}#{n} {} {}", interaction.method, interaction.path);
        let url = if interaction.path.starts_with("/repositories/") {
            let link = next_link
                .take()
                .unwrap_or_else(|| panic!("{what}: the previous answer had no next link"));
            let wanted = links(&format!("<{}>; rel=\"next\"", interaction.path));
            assert_eq!(links(&format!("<{link}>; rel=\"next\"")), wanted, "{what}");
            link
        } else {
            format!("{}{}", fake.url(), shas.to_real(&interaction.path))
        };
        let body = interaction
            .body
            .as_ref()
            .map(|b| serde_json::from_str::<Value>(&shas.to_real(&b.to_string())).unwrap());
        let answer = send(&client, &interaction.method, &url, body.as_ref()).await;

        if answer.status != interaction.status {
            problems.push(format!(
                "{what}: status {} instead of {}: {}",
                answer.status, interaction.status, answer.body
            ));
            continue;
        }
        let problems_before = problems.len();
        compare(
            "body",
            &interaction.response,
            &answer.body,
            &shas,
            &mut problems,
        );
        if let Err(e) = octocrab_parses(
            &interaction.method,
            &interaction.path,
            answer.status,
            &answer.body,
        ) {
            problems.push(format!("{what}: octocrab cannot parse: {e}"));
        }
        problems.extend(check_headers(interaction, &answer, &shas, &fake.url()));
        next_link = header(&answer.headers, "link").and_then(|l| {
            l.split(',')
                .find(|p| p.contains("rel=\"next\""))
                .and_then(|p| p.split(';').next())
                .map(|u| u.trim().trim_matches(['<', '>']).to_owned())
        });
        for problem in &mut problems[problems_before..] {
            if !problem.starts_with(file) {
                *problem = format!("{what}: {problem}");
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the fake differs from GitHub's recorded answers:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn git_refs_list_create_update_delete() {
    replay("git-refs.json").await;
}

#[tokio::test]
async fn statuses_and_combined_status() {
    replay("create-status.json").await;
}

#[tokio::test]
async fn validation_error_body() {
    replay("errors.json").await;
}

#[tokio::test]
async fn labels_added_to_an_issue() {
    replay("add-labels-to-issue.json").await;
}

#[tokio::test]
async fn link_header_pagination() {
    replay("paginate-issues.json").await;
}

#[tokio::test]
async fn repository_object() {
    replay("get-repository.json").await;
}

#[tokio::test]
async fn branch_protection() {
    replay("branch-protection.json").await;
}

#[test]
fn every_recorded_scenario_is_replayed() {
    let mut files: Vec<String> = fs_err::read_dir(fixtures())
        .expect("the recorded fixtures are beside the repository, in ../shared")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| Path::new(name).extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let replayed = [
        "add-labels-to-issue.json",
        "branch-protection.json",
        "create-status.json",
        "errors.json",
        "get-repository.json",
        "git-refs.json",
        "paginate-issues.json",
    ];
    assert_eq!(files, replayed, "a new recording needs a replay test here");
}
