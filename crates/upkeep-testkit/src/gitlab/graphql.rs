//! The sliver of GitLab's GraphQL API (`POST /api/graphql`) that upkeep reads: whether a
//! merge request takes several reviewers and assignees.
//!
//! ```graphql
//! query($path: ID!, $iid: String!) {
//!   project(fullPath: $path) {
//!     mergeRequest(iid: $iid) { iid allowsMultipleReviewers allowsMultipleAssignees }
//!   }
//! }
//! ```
//!
//! The query is parsed (selections, arguments, `$variables`), and anything outside this
//! shape is answered as GitLab's GraphQL does: HTTP 200 with `{"errors":[{"message":"Field
//! 'x' doesn't exist on type 'MergeRequest'"}]}`. A project or merge request that does not
//! exist is `null`, not an error, as in GitLab.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Shared, Tier, lock};

/// One field of a selection set.
#[derive(Debug)]
struct Field {
    name: String,
    args: Vec<(String, Arg)>,
    selection: Vec<Field>,
}

#[derive(Debug)]
enum Arg {
    Variable(String),
    Literal(String),
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.at < self.text.len() {
            match self.text[self.at] {
                b' ' | b'\n' | b'\r' | b'\t' | b',' => self.at += 1,
                b'#' => {
                    while self.at < self.text.len() && self.text[self.at] != b'\n' {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!(
                "Parse error on \"{}\" (expected '{}')",
                self.rest(),
                char::from(c)
            ))
        }
    }

    fn rest(&self) -> String {
        String::from_utf8_lossy(&self.text[self.at.min(self.text.len())..])
            .chars()
            .take(20)
            .collect()
    }

    fn name(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.at;
        while self.at < self.text.len()
            && (self.text[self.at].is_ascii_alphanumeric() || self.text[self.at] == b'_')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(format!("Parse error on \"{}\"", self.rest()));
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    /// `query Name($a: T!, ...)` or a bare `{`: the operation's variable definitions are
    /// skipped (their types are not checked).
    fn operation(&mut self) -> Result<Vec<Field>, String> {
        if self.peek() != Some(b'{') {
            let keyword = self.name()?;
            if keyword != "query" {
                return Err(format!(
                    "Parse error on \"{keyword}\" (only queries are served)"
                ));
            }
            if self.peek().is_some_and(|c| c != b'(' && c != b'{') {
                self.name()?;
            }
            if self.peek() == Some(b'(') {
                while self.peek().is_some_and(|c| c != b')') {
                    self.at += 1;
                }
                self.expect(b')')?;
            }
        }
        let selection = self.selection()?;
        if self.peek().is_some() {
            return Err(format!("Parse error on \"{}\"", self.rest()));
        }
        Ok(selection)
    }

    fn selection(&mut self) -> Result<Vec<Field>, String> {
        self.expect(b'{')?;
        let mut fields = Vec::new();
        while self.peek().is_some_and(|c| c != b'}') {
            let name = self.name()?;
            let mut args = Vec::new();
            if self.peek() == Some(b'(') {
                self.at += 1;
                while self.peek().is_some_and(|c| c != b')') {
                    let arg = self.name()?;
                    self.expect(b':')?;
                    let value = match self.peek() {
                        Some(b'$') => {
                            self.at += 1;
                            Arg::Variable(self.name()?)
                        }
                        Some(b'"') => {
                            self.at += 1;
                            let start = self.at;
                            while self.at < self.text.len() && self.text[self.at] != b'"' {
                                self.at += 1;
                            }
                            let s = String::from_utf8_lossy(&self.text[start..self.at]);
                            self.expect(b'"')?;
                            Arg::Literal(s.into_owned())
                        }
                        _ => return Err(format!("Parse error on \"{}\"", self.rest())),
                    };
                    args.push((arg, value));
                }
                self.expect(b')')?;
            }
            let selection = if self.peek() == Some(b'{') {
                self.selection()?
            } else {
                Vec::new()
            };
            fields.push(Field {
                name,
                args,
                selection,
            });
        }
        self.expect(b'}')?;
        Ok(fields)
    }
}

fn arg(field: &Field, name: &str, variables: &Map<String, Value>) -> Option<String> {
    field
        .args
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| match v {
            Arg::Literal(s) => Some(s.clone()),
            Arg::Variable(var) => variables.get(var).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        })
}

fn no_field(field: &str, ty: &str) -> String {
    format!("Field '{field}' doesn't exist on type '{ty}'")
}

fn resolve(
    world: &Shared,
    query: &[Field],
    variables: &Map<String, Value>,
) -> Result<Value, String> {
    let w = lock(world);
    let multiple = w.tier == Tier::Premium;
    let mut data = Map::new();
    for top in query {
        if top.name != "project" {
            return Err(no_field(&top.name, "Query"));
        }
        let path = arg(top, "fullPath", variables)
            .ok_or("Field 'project' is missing required arguments: fullPath")?;
        let Some(project) = w.project(&path).filter(|p| p.path == path) else {
            data.insert("project".into(), Value::Null);
            continue;
        };
        let mut out = Map::new();
        for f in &top.selection {
            match f.name.as_str() {
                "id" => {
                    out.insert(
                        "id".into(),
                        json!(format!("gid://gitlab/Project/{}", project.id)),
                    );
                }
                "fullPath" => {
                    out.insert("fullPath".into(), json!(project.path));
                }
                "mergeRequest" => {
                    let iid = arg(f, "iid", variables)
                        .ok_or("Field 'mergeRequest' is missing required arguments: iid")?;
                    let mr = project.mrs.iter().find(|m| m.iid.to_string() == iid);
                    let Some(mr) = mr else {
                        out.insert("mergeRequest".into(), Value::Null);
                        continue;
                    };
                    let mut m = Map::new();
                    for g in &f.selection {
                        let value = match g.name.as_str() {
                            "iid" => json!(mr.iid.to_string()),
                            "allowsMultipleReviewers" | "allowsMultipleAssignees" => {
                                json!(multiple)
                            }
                            other => return Err(no_field(other, "MergeRequest")),
                        };
                        m.insert(g.name.clone(), value);
                    }
                    out.insert("mergeRequest".into(), Value::Object(m));
                }
                other => return Err(no_field(other, "Project")),
            }
        }
        data.insert("project".into(), Value::Object(out));
    }
    Ok(Value::Object(data))
}

/// `POST /api/graphql` with `{"query": …, "variables": {…}}`.
pub(super) async fn handle(State(world): State<Shared>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return axum::Json(json!({"errors": [{"message": "No query string was present"}]}))
            .into_response();
    };
    let variables = request
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let parsed = Parser {
        text: query.as_bytes(),
        at: 0,
    }
    .operation();
    let answer = match parsed.and_then(|q| resolve(&world, &q, &variables)) {
        Ok(data) => json!({ "data": data }),
        Err(message) => json!({"errors": [{"message": message}]}),
    };
    axum::Json(answer).into_response()
}
