//! Contract check: every answer `FakeSlack` gives, for every Web API method it serves, success
//! and error, is validated against Slack's own `OpenAPI` description of that method
//! (`contracts/slack/slack_web_openapi_v2.json`, Slack's `slack-api-specs`, MIT; the same
//! file as `../shared/specs/slack/`, which `.ci/run` compares). Successes (`"ok": true`)
//! against the method's `200` schema, errors against its `default` schema.
//!
//! The description is from 2020 and Slack says it "doesn't always tell the whole truth".
//! Where it is known to be wrong or out of date, the difference is allowed explicitly in
//! [`GAPS`], each with its reason; a gap that no answer needs any more fails the check, so
//! the list stays true.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde_json::{Value, json};
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeSlack};

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contracts/slack/slack_web_openapi_v2.json"
);

/// A documented difference between Slack as it is and its 2020 description.
struct Gap {
    /// Methods it applies to (empty: all).
    methods: &'static [&'static str],
    /// Where in the answer, `*` standing for one segment (`/messages/*`).
    at: &'static str,
    /// A part of the validator's message.
    error: &'static str,
    reason: &'static str,
}

const GAPS: &[Gap] = &[
    Gap {
        methods: &[],
        at: "*",
        error: "'metadata'",
        reason: "message metadata (2022) postdates the description; Slack's method pages for \
                 chat.postMessage, conversations.history and conversations.replies document \
                 `metadata` on messages",
    },
    Gap {
        methods: &[
            "conversations.history",
            "conversations.replies",
            "reactions.get",
        ],
        at: "*",
        error: "'edited'",
        reason: "an edited message carries `edited: {user, ts}` (Slack's message object docs); \
                 the description's message object lacks it",
    },
    Gap {
        methods: &[],
        at: "",
        error: "'needed'",
        reason: "a `missing_scope` error names the `needed` scope (Slack's error docs); the \
                 description's error schemas allow no other fields",
    },
    Gap {
        methods: &[],
        at: "",
        error: "'provided'",
        reason: "a `missing_scope` error names the `provided` scopes (Slack's error docs); \
                 the description's error schemas allow no other fields",
    },
    Gap {
        methods: &[],
        at: "/error",
        error: "enum",
        reason: "each method's error list in the description is incomplete: `missing_scope`, \
                 `ratelimited` (the description says `rate_limited`), `thread_not_found`, \
                 `message_not_found`, `cant_update_message`, `no_reaction` and \
                 `already_reacted` are documented on the methods' pages",
    },
    Gap {
        methods: &["conversations.history", "conversations.replies"],
        at: "",
        error: "'response_metadata'",
        reason: "cursor pagination answers `response_metadata: {next_cursor}` (Slack's \
                 pagination docs and both methods' pages); the description predates it here",
    },
    Gap {
        methods: &["chat.update"],
        at: "/message/blocks",
        error: "want object, but got array",
        reason: "the description types chat.update's `message.blocks` as an object; Block \
                 Kit blocks are an array everywhere else in it and in Slack's answers",
    },
    Gap {
        methods: &["conversations.history"],
        at: "/messages",
        error: "minItems",
        reason: "a channel without messages in the window answers `messages: []`; the \
                 description asks for at least one",
    },
];

/// Each method with its success (`200`) and error (`default`) schema.
type Methods = Vec<(String, boon::SchemaIndex, boon::SchemaIndex)>;

static SCHEMAS: LazyLock<(boon::Schemas, Methods)> = LazyLock::new(|| {
    let text = fs_err::read_to_string(SPEC).expect("read the Slack OpenAPI description");
    let spec: Value = serde_json::from_str(&text).expect("parse the Slack description");
    let mut compiler = boon::Compiler::new();
    // OpenAPI 2.0 schemas are JSON Schema draft 4 (with extensions boon ignores).
    compiler.set_default_draft(boon::Draft::V4);
    let url = "file:///slack_web_openapi_v2.json";
    compiler.add_resource(url, spec.clone()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut methods = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (verb, op) in ops.as_object().unwrap() {
            if op["responses"]["200"]["schema"].is_null() {
                continue;
            }
            let pointer = |status: &str| {
                format!(
                    "{url}#/paths/{}/{verb}/responses/{status}/schema",
                    path.replace('~', "~0").replace('/', "~1")
                )
            };
            let ok = compiler.compile(&pointer("200"), &mut schemas).unwrap();
            let err = compiler.compile(&pointer("default"), &mut schemas).unwrap();
            methods.push((path.trim_start_matches('/').to_owned(), ok, err));
        }
    }
    (schemas, methods)
});

fn glob(pattern: &str, text: &str) -> bool {
    if let Some(inner) = pattern.strip_prefix('*').and_then(|p| p.strip_suffix('*'))
        && !inner.is_empty()
    {
        return text.contains(inner);
    }
    if pattern == "*" {
        return true;
    }
    let (p, t): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), text.split('/').collect());
    p.len() == t.len() && p.iter().zip(&t).all(|(a, b)| *a == "*" || a == b)
}

/// What one validation found: the errors no gap covers, and the gaps used.
fn check(method: &str, answer: &Value, used: &mut BTreeSet<usize>) -> Vec<String> {
    let (schemas, methods) = &*SCHEMAS;
    let (_, ok, err) = methods
        .iter()
        .find(|(m, ..)| m == method)
        .unwrap_or_else(|| panic!("Slack's description has no method {method}"));
    let schema = if answer["ok"] == json!(true) {
        *ok
    } else {
        *err
    };
    let Err(e) = schemas.validate(answer, schema) else {
        return Vec::new();
    };
    let units = serde_json::to_value(e.basic_output()).unwrap();
    let mut open = Vec::new();
    for unit in units["errors"].as_array().into_iter().flatten() {
        let at = unit["instanceLocation"].as_str().unwrap_or_default();
        let message = unit["error"].as_str().unwrap_or_default();
        let keyword = unit["keywordLocation"].as_str().unwrap_or_default();
        let gap = |text: &str| {
            GAPS.iter().position(|g| {
                (g.methods.is_empty() || g.methods.contains(&method))
                    && glob(g.at, at)
                    && (text.contains(g.error) || keyword.ends_with(g.error))
            })
        };
        // An `additionalProperties` message names every extra property: each one must be
        // an allowed gap of its own.
        let parts: Vec<String> = if message.starts_with("additionalProperties") {
            message
                .split('\'')
                .skip(1)
                .step_by(2)
                .map(|name| format!("'{name}'"))
                .collect()
        } else {
            vec![message.to_owned()]
        };
        for part in parts {
            match gap(&part) {
                Some(i) => {
                    used.insert(i);
                }
                // `$ref` wrappers repeat a leaf's failure with no message of their own.
                None if part.is_empty() || part.starts_with("validation failed") => {}
                None => open.push(format!("{method} {at} ({keyword}): {part} in {message}")),
            }
        }
    }
    open
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: &str, token: Option<&str>, params: Value) -> Value {
        // Reads as GET with a query, writes as POST with JSON, as slack-morphism sends them.
        let url = format!("{}/{method}", self.base);
        let read = method.starts_with("conversations.")
            || method == "auth.test"
            || method == "reactions.get";
        let mut request = if read {
            let query: Vec<(String, String)> = params
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect();
            self.http.get(&url).query(&query)
        } else {
            self.http
                .post(&url)
                .header("content-type", "application/json; charset=utf-8")
                .body(params.to_string())
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }
}

// One scenario from an empty channel to every error, so that each answer is checked.
#[allow(clippy::too_many_lines)]
#[tokio::test]
async fn every_fake_slack_answer_matches_slacks_openapi_description() {
    let fake = FakeSlack::start().await;
    fake.add_token("xoxb-no-scopes", &[]);
    fake.add_channel("C0ELSEWH01", "elsewhere", false);
    let c = Client {
        http: reqwest::Client::new(),
        base: fake.api_url(),
    };
    let t = Some(FAKE_TOKEN);
    let metadata = json!({"event_type": "upkeep_project", "event_payload": {"project": "api"}});
    let mut answers: Vec<(&str, Value)> = Vec::new();

    // An empty channel first (history of nothing), then a thread with reactions and edits.
    answers.push((
        "conversations.history",
        c.call("conversations.history", t, json!({"channel": FAKE_CHANNEL}))
            .await,
    ));
    let parent = c
        .call(
            "chat.postMessage",
            t,
            json!({"channel": FAKE_CHANNEL, "text": "api: upgraded", "metadata": metadata,
                   "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*api*"}}]}),
        )
        .await;
    let ts = parent["ts"].as_str().unwrap().to_owned();
    answers.push(("chat.postMessage", parent));
    answers.push((
        "chat.postMessage",
        c.call(
            "chat.postMessage",
            t,
            json!({"channel": FAKE_CHANNEL, "thread_ts": ts, "text": "checklist", "metadata": metadata}),
        )
        .await,
    ));
    fake.react_as("U0PERSON", FAKE_CHANNEL, &ts, "eyes");
    let person = fake.post_as("U0PERSON", FAKE_CHANNEL, "noise");
    for (method, params) in [
        ("auth.test", json!({})),
        ("conversations.list", json!({"limit": "1"})),
        (
            "chat.update",
            json!({"channel": FAKE_CHANNEL, "ts": ts, "text": "api: merged", "metadata": metadata}),
        ),
        (
            "reactions.add",
            json!({"channel": FAKE_CHANNEL, "timestamp": ts, "name": "boom"}),
        ),
        (
            "reactions.get",
            json!({"channel": FAKE_CHANNEL, "timestamp": ts, "full": "true"}),
        ),
        (
            "reactions.remove",
            json!({"channel": FAKE_CHANNEL, "timestamp": ts, "name": "boom"}),
        ),
        (
            "conversations.history",
            json!({"channel": FAKE_CHANNEL, "include_all_metadata": "true", "limit": "1"}),
        ),
        ("conversations.history", json!({"channel": FAKE_CHANNEL})),
        (
            "conversations.replies",
            json!({"channel": FAKE_CHANNEL, "ts": ts, "include_all_metadata": "true"}),
        ),
        (
            "conversations.replies",
            json!({"channel": FAKE_CHANNEL, "ts": ts}),
        ),
        // Errors.
        ("chat.postMessage", json!({"channel": "CNOPE", "text": "x"})),
        (
            "chat.postMessage",
            json!({"channel": "C0ELSEWH01", "text": "x"}),
        ),
        ("chat.postMessage", json!({"channel": FAKE_CHANNEL})),
        (
            "chat.postMessage",
            json!({"channel": FAKE_CHANNEL, "thread_ts": "1.000001", "text": "x"}),
        ),
        (
            "chat.update",
            json!({"channel": FAKE_CHANNEL, "ts": "1.000001", "text": "x"}),
        ),
        (
            "chat.update",
            json!({"channel": FAKE_CHANNEL, "ts": person, "text": "x"}),
        ),
        (
            "reactions.add",
            json!({"channel": FAKE_CHANNEL, "timestamp": ts, "name": "eyes"}),
        ),
        (
            "reactions.add",
            json!({"channel": FAKE_CHANNEL, "timestamp": "1.000001", "name": "eyes"}),
        ),
        (
            "reactions.remove",
            json!({"channel": FAKE_CHANNEL, "timestamp": ts, "name": "tada"}),
        ),
        (
            "reactions.get",
            json!({"channel": FAKE_CHANNEL, "timestamp": "1.000001"}),
        ),
        ("conversations.history", json!({"channel": "CNOPE"})),
        (
            "conversations.replies",
            json!({"channel": FAKE_CHANNEL, "ts": "1.000001"}),
        ),
    ] {
        answers.push((method, c.call(method, t, params).await));
    }
    answers.push((
        "auth.test",
        c.call("auth.test", Some("xoxb-wrong"), json!({})).await,
    ));
    answers.push(("auth.test", c.call("auth.test", None, json!({})).await));
    answers.push((
        "chat.postMessage",
        c.call(
            "chat.postMessage",
            Some("xoxb-no-scopes"),
            json!({"channel": FAKE_CHANNEL, "text": "x"}),
        )
        .await,
    ));
    fake.rate_limit_next("conversations.replies", 1, 1);
    answers.push((
        "conversations.replies",
        c.call(
            "conversations.replies",
            t,
            json!({"channel": FAKE_CHANNEL, "ts": ts}),
        )
        .await,
    ));

    let mut used = BTreeSet::new();
    let mut open = Vec::new();
    let mut served = BTreeSet::new();
    let (mut successes, mut errors) = (0, 0);
    for (method, answer) in &answers {
        served.insert(*method);
        if answer["ok"] == json!(true) {
            successes += 1;
        } else {
            errors += 1;
        }
        open.extend(check(method, answer, &mut used));
    }
    assert!(
        open.is_empty(),
        "answers that Slack's description refuses:\n{}",
        open.join("\n")
    );
    let stale: Vec<_> = (0..GAPS.len())
        .filter(|i| !used.contains(i))
        .map(|i| GAPS[i].reason)
        .collect();
    assert!(
        stale.is_empty(),
        "gaps no answer needs any more: {stale:#?}"
    );
    // Every method the fake serves was checked, with both kinds of answer.
    assert_eq!(
        served.into_iter().collect::<Vec<_>>(),
        [
            "auth.test",
            "chat.postMessage",
            "chat.update",
            "conversations.history",
            "conversations.list",
            "conversations.replies",
            "reactions.add",
            "reactions.get",
            "reactions.remove",
        ]
    );
    assert!(
        successes >= 12 && errors >= 14,
        "{successes} successes, {errors} errors"
    );
}

/// The check itself fails on an answer that breaks the description (so it cannot pass by
/// validating nothing).
#[test]
fn the_check_refuses_what_the_description_refuses() {
    let mut used = BTreeSet::new();
    let bad = json!({"ok": true, "channel": FAKE_CHANNEL, "ts": 12, "message": {"text": "x", "type": "message", "ts": "1.2"}});
    assert!(!check("chat.postMessage", &bad, &mut used).is_empty());
    let missing = json!({"ok": true, "url": "https://x/", "team": "T"});
    assert!(!check("auth.test", &missing, &mut used).is_empty());
    let good = json!({"ok": true, "url": "https://x/", "team": "T", "user": "u", "team_id": "T01", "user_id": "U01"});
    assert!(check("auth.test", &good, &mut used).is_empty());
}
