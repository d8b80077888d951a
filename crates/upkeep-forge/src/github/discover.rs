//! [`Discover`] for GitHub: an organisation's repositories (`GET /orgs/{org}/repos`) or a
//! user's (`GET /user/repos` for the token's own account, private ones included;
//! `GET /users/{user}/repos`, public ones only, for anyone else), 100 per page following
//! `Link: rel="next"`; files read through the contents API.

use async_trait::async_trait;
use base64::Engine as _;
use octocrab::Page;
use serde::Deserialize;

use super::{GitHub, split, url_segment};
use crate::discover::{Discover, ListScope, ListedRepo, Listing, wrong_scope};
use crate::{ForgeError, ForgeKind, RepoId, Result};

const KIND: ForgeKind = ForgeKind::GitHub;

/// What a token needs to list private repositories, for errors.
const LIST_SCOPE: &str = "repo";
const FINE_GRAINED: &str =
    "a fine-grained token needs the \"Metadata\" repository permission (read) on them";

/// The fields of a minimal-repository that discovery reads.
#[derive(Debug, Deserialize)]
struct MinimalRepo {
    name: String,
    full_name: String,
    clone_url: Option<String>,
    html_url: String,
    #[serde(default)]
    default_branch: Option<String>,
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    archived: bool,
    fork: bool,
    /// In KiB; 0 for a repository without any commit.
    #[serde(default)]
    size: Option<u64>,
}

/// A file as `GET /repos/{owner}/{repo}/contents/{path}` answers it.
#[derive(Debug, Deserialize)]
struct FileContent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

impl GitHub {
    /// The login of the token's account.
    async fn token_login(&self) -> Result<String> {
        let user: octocrab::models::Author = self
            .call("reading the token's user", "the token's user", || async {
                self.client.get("/user", None::<&()>).await
            })
            .await?;
        Ok(user.login)
    }

    /// Every page from `route`, counting the requests.
    async fn all_pages(
        &self,
        doing: &str,
        what: &str,
        route: &str,
        query: &[(&str, &str)],
    ) -> Result<(Vec<MinimalRepo>, u32)> {
        let first: Page<MinimalRepo> = self
            .call(doing, what, || async {
                self.client.get(route, Some(&query)).await
            })
            .await?;
        let mut pages = 1;
        let mut items = first.items;
        let mut next = first.next;
        while let Some(url) = next.take() {
            let url = Some(url);
            let page: Option<Page<MinimalRepo>> = self
                .call(doing, what, || async { self.client.get_page(&url).await })
                .await?;
            pages += 1;
            if let Some(page) = page {
                items.extend(page.items);
                next = page.next;
            }
        }
        Ok((items, pages))
    }
}

/// A 403 on a listing names what the token needs (GitHub sends `x-accepted-oauth-scopes`
/// to classic tokens only).
fn explain_forbidden(error: ForgeError) -> ForgeError {
    match error {
        ForgeError::Forbidden {
            forge,
            doing,
            missing_scope,
            message,
        } => ForgeError::Forbidden {
            forge,
            doing,
            missing_scope: missing_scope.or_else(|| Some(LIST_SCOPE.to_owned())),
            message: format!("{message}; {FINE_GRAINED}"),
        },
        other => other,
    }
}

#[async_trait]
impl Discover for GitHub {
    fn discover_kind(&self) -> ForgeKind {
        KIND
    }

    async fn list_repos(&self, scope: &ListScope) -> Result<Listing> {
        let per_page = super::PER_PAGE.to_string();
        let mut warnings = Vec::new();
        let (repos, pages) = match scope {
            ListScope::GitHubOrg { org } => {
                let route = format!("/orgs/{}/repos", url_segment(org));
                let query = [("type", "all"), ("per_page", per_page.as_str())];
                self.all_pages(
                    &format!("listing the repositories of organisation {org}"),
                    &format!(
                        "organisation {org} (or the token may not see it: a classic token \
                         needs the `{LIST_SCOPE}` scope for private repositories, {FINE_GRAINED})"
                    ),
                    &route,
                    &query,
                )
                .await
            }
            ListScope::GitHubUser { user } => {
                let doing = format!("listing the repositories of user {user}");
                let what = format!("user {user}");
                if self.token_login().await?.eq_ignore_ascii_case(user) {
                    // Only the account's own token sees its private repositories, and only
                    // through /user/repos.
                    let query = [("affiliation", "owner"), ("per_page", per_page.as_str())];
                    self.all_pages(&doing, &what, "/user/repos", &query).await
                } else {
                    warnings.push(format!(
                        "GitHub lists the public repositories of user {user} only: private \
                         ones are listed to that user's own token"
                    ));
                    let route = format!("/users/{}/repos", url_segment(user));
                    let query = [("type", "owner"), ("per_page", per_page.as_str())];
                    self.all_pages(&doing, &what, &route, &query).await
                }
            }
            other => return Err(wrong_scope(KIND, other)),
        }
        .map_err(explain_forbidden)?;
        let repos = repos
            .into_iter()
            .map(|r| {
                let empty = r.size == Some(0);
                ListedRepo {
                    id: RepoId::new(r.full_name.clone()),
                    clone_url: r.clone_url.unwrap_or_else(|| format!("{}.git", r.html_url)),
                    web_url: Some(r.html_url),
                    path: r.full_name,
                    name: r.name,
                    // An empty repository names a default branch it does not have yet.
                    default_branch: r.default_branch.filter(|_| !empty),
                    topics: r.topics.unwrap_or_default(),
                    archived: r.archived,
                    fork: r.fork,
                    empty,
                }
            })
            .collect();
        Ok(Listing {
            repos,
            warnings,
            pages,
        })
    }

    async fn read_file(&self, repo: &RepoId, branch: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let (owner, name) = split(repo)?;
        let encoded: Vec<String> = path.split('/').map(url_segment).collect();
        let route = format!("/repos/{owner}/{name}/contents/{}", encoded.join("/"));
        let doing = format!("reading {path} on {branch} of {repo}");
        let query = [("ref", branch)];
        let answer: Result<FileContent> = self
            .call(&doing, &format!("{path} on {branch} of {repo}"), || async {
                self.client.get(&route, Some(&query)).await
            })
            .await;
        let file = match answer {
            Ok(file) => file,
            // One 404 for a missing repository, branch or file: a missing file is the
            // only one that is not an error.
            Err(ForgeError::NotFound { .. }) => {
                return if self.branch_tip_exists(repo, branch).await? {
                    Ok(None)
                } else {
                    Err(ForgeError::NotFound {
                        forge: KIND,
                        what: format!("branch {branch} of {repo}"),
                    })
                };
            }
            Err(e) => return Err(e),
        };
        if file.kind != "file" {
            return Ok(None);
        }
        match (file.encoding.as_deref(), file.content) {
            (Some("base64"), Some(content)) => {
                let compact: String = content.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map(Some)
                    .map_err(|e| ForgeError::Protocol {
                        forge: KIND,
                        doing,
                        message: format!("the file's base64 content does not decode: {e}"),
                    })
            }
            (encoding, _) => Err(ForgeError::Protocol {
                forge: KIND,
                doing,
                message: format!(
                    "unexpected content encoding {}",
                    encoding.unwrap_or("(none)")
                ),
            }),
        }
    }
}

impl GitHub {
    /// Whether `branch` of `repo` exists; a missing repository is
    /// [`ForgeError::NotFound`].
    async fn branch_tip_exists(&self, repo: &RepoId, branch: &str) -> Result<bool> {
        use crate::Forge as _;
        Ok(self.branch_tip(repo, branch).await?.is_some())
    }
}
