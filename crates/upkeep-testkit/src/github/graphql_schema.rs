//! GitHub's GraphQL schema, as far as the fake needs it, and which of its fields the fake
//! serves.
//!
//! The schema is GitHub's own: `contracts/github-graphql/schema.json`, the types listed in
//! `contracts/github-graphql/recipe.sh` extracted from the `@octokit/graphql-schema` npm
//! package (GitHub's public schema) and built in here. Each listed object type keeps every
//! field GitHub has on it, so the fake refuses a field GitHub lacks as GitHub does
//! (`undefinedField`) and answers a field GitHub has but the fake does not resolve with an
//! error of its own ([`served`] lists what it resolves), never with a silent `null`.
//! `.ci/run` re-runs the recipe and fails when the committed file differs; the contract
//! check (`tests/contract/github_graphql.rs`) checks the fake's answers against it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// The extracted schema file, as committed.
pub const SCHEMA_JSON: &str = include_str!("../../contracts/github-graphql/schema.json");

/// A type's kind, as GraphQL's introspection names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    /// A leaf: `String`, `ID`, `GitObjectID`, …
    Scalar,
    /// An object type with fields.
    Object,
    /// An interface (`GitObject`): fields, and the objects implementing it.
    Interface,
    /// A union (`StatusCheckRollupContext`): only its member objects.
    Union,
    /// A leaf with a fixed set of values.
    Enum,
    /// The type of an argument or variable with fields of its own (`UpdateRefsInput`).
    InputObject,
}

/// One type of the schema.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeDef {
    /// What kind of type.
    pub kind: Kind,
    /// An object's or interface's fields, by name.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldDef>,
    /// The interfaces an object implements.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// The objects an interface or union may resolve to.
    #[serde(default)]
    pub possible_types: Vec<String>,
    /// An enum's values.
    #[serde(default)]
    pub enum_values: Vec<String>,
    /// An input object's fields, in GitHub's order.
    #[serde(default)]
    pub input_fields: Vec<InputValue>,
}

/// A field of an object or interface.
#[derive(Debug, Deserialize)]
pub struct FieldDef {
    /// The type it returns, in schema language: `Ref`, `ID!`, `[Commit]`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its arguments, in GitHub's order.
    #[serde(default)]
    pub args: Vec<InputValue>,
}

/// An argument, or a field of an input object.
#[derive(Debug, Deserialize)]
pub struct InputValue {
    /// Its name.
    pub name: String,
    /// Its type, in schema language: `String!`, `[RefUpdate!]!`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its default value (a GraphQL literal), if it has one.
    #[serde(default)]
    pub default: Option<String>,
}

impl FieldDef {
    /// Its argument `name`.
    #[must_use]
    pub fn arg(&self, name: &str) -> Option<&InputValue> {
        self.args.iter().find(|a| a.name == name)
    }
}

impl InputValue {
    /// Whether it must be given: a non-null type without a default.
    #[must_use]
    pub fn required(&self) -> bool {
        self.ty.ends_with('!') && self.default.is_none()
    }
}

/// The schema: its source and its types.
#[derive(Debug, Deserialize)]
pub struct Schema {
    /// Where it was extracted from (package and version).
    pub source: String,
    /// The types, by name.
    pub types: BTreeMap<String, TypeDef>,
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    serde_json::from_str(SCHEMA_JSON).expect("contracts/github-graphql/schema.json parses")
});

/// The vendored schema.
#[must_use]
pub fn schema() -> &'static Schema {
    &SCHEMA
}

/// The named type inside a type reference: `Commit` in `[Commit!]!`.
#[must_use]
pub fn named(ty: &str) -> &str {
    ty.trim_start_matches('[').trim_end_matches(['!', ']'])
}

impl Schema {
    /// The type named `name`, when it is one of the extracted types.
    #[must_use]
    pub fn ty(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// Field `field` of object or interface `ty`.
    #[must_use]
    pub fn field(&self, ty: &str, field: &str) -> Option<&FieldDef> {
        self.ty(ty)?.fields.get(field)
    }

    /// Whether `ty` (a named type) is a leaf: a scalar or an enum, which takes no
    /// selections.
    #[must_use]
    pub fn is_leaf(&self, ty: &str) -> bool {
        self.ty(ty)
            .is_some_and(|t| matches!(t.kind, Kind::Scalar | Kind::Enum))
    }

    /// Whether an object of type `object` may be where the schema says `ty`: the same
    /// type, an interface it implements, a union it is a member of.
    #[must_use]
    pub fn fits(&self, object: &str, ty: &str) -> bool {
        object == ty
            || self
                .ty(ty)
                .is_some_and(|t| t.possible_types.iter().any(|p| p == object))
    }
}

/// Why a variable's value is not one of its type: where in the value (keys and list
/// indexes), and GitHub's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the value: input field names and list indexes.
    pub path: Vec<serde_json::Value>,
    /// What is wrong, in GitHub's words (`Expected value to not be null`).
    pub explanation: String,
}

impl Schema {
    /// What is wrong with `value` as a value of input type `ty` (schema language: `[RefUpdate!]!`),
    /// by GraphQL's input coercion rules: nothing when it is one.
    #[must_use]
    pub fn input_problems(&self, value: &serde_json::Value, ty: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.coerce(value, ty, &mut Vec::new(), &mut problems);
        problems
    }

    fn coerce(
        &self,
        value: &serde_json::Value,
        ty: &str,
        path: &mut Vec<serde_json::Value>,
        problems: &mut Vec<Problem>,
    ) {
        use serde_json::Value;
        let mut problem = |path: &[Value], explanation: String| {
            problems.push(Problem {
                path: path.to_vec(),
                explanation,
            });
        };
        if let Some(inner) = ty.strip_suffix('!') {
            if value.is_null() {
                problem(path, "Expected value to not be null".to_owned());
            } else {
                self.coerce(value, inner, path, problems);
            }
            return;
        }
        if value.is_null() {
            return;
        }
        if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            // A single value where a list is expected is a list of one (input coercion).
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        path.push(Value::from(i));
                        self.coerce(item, inner, path, problems);
                        path.pop();
                    }
                }
                other => self.coerce(other, inner, path, problems),
            }
            return;
        }
        let Some(def) = self.ty(ty) else {
            problem(
                path,
                format!(
                    "FakeGitHub does not know type {ty}: it is not in its extract of GitHub's schema"
                ),
            );
            return;
        };
        match def.kind {
            Kind::InputObject => {
                let Value::Object(fields) = value else {
                    problem(path, format!("Expected {value} to be a key-value object."));
                    return;
                };
                for key in fields.keys() {
                    if !def.input_fields.iter().any(|f| f.name == *key) {
                        path.push(Value::from(key.as_str()));
                        problem(path, format!("Field is not defined on {ty}"));
                        path.pop();
                    }
                }
                for field in &def.input_fields {
                    let given = fields.get(&field.name).unwrap_or(&Value::Null);
                    if given.is_null()
                        && field.default.is_some()
                        && !fields.contains_key(&field.name)
                    {
                        continue;
                    }
                    path.push(Value::from(field.name.as_str()));
                    self.coerce(given, &field.ty, path, problems);
                    path.pop();
                }
            }
            Kind::Enum => {
                if !value
                    .as_str()
                    .is_some_and(|v| def.enum_values.iter().any(|e| e == v))
                {
                    problem(
                        path,
                        format!(
                            "Expected {value} to be one of: {}",
                            def.enum_values.join(", ")
                        ),
                    );
                }
            }
            Kind::Scalar => {
                let fits = match ty {
                    "Int" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                    "Float" => value.is_number(),
                    "Boolean" => value.is_boolean(),
                    "ID" => value.is_string() || value.is_i64() || value.is_u64(),
                    // String and GitHub's own scalars (GitObjectID, GitRefname, URI,
                    // DateTime, …) are strings on the wire.
                    _ => value.is_string(),
                };
                if !fits {
                    problem(path, format!("Could not coerce value {value} to {ty}"));
                }
            }
            Kind::Object | Kind::Interface | Kind::Union => {
                problem(path, format!("{ty} isn't a valid input type"));
            }
        }
    }
}

/// The fields the fake resolves, per type (GitHub's names). Every other field of an
/// extracted type is refused before a query runs, with
/// "`FakeGitHub does not serve Type.field`".
#[must_use]
pub fn served() -> &'static [(&'static str, &'static [&'static str])] {
    super::reads::SERVED
}

/// Whether the fake resolves `field` of `ty`.
#[must_use]
pub fn is_served(ty: &str, field: &str) -> bool {
    served()
        .iter()
        .any(|(t, fields)| *t == ty && fields.contains(&field))
}
