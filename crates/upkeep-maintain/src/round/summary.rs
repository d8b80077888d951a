//! The round summary, posted once however many runners and reports try.
//!
//! Whoever posts it (the end of an unsharded run, or `maintain report` after the shards)
//! first claims the summary's lease, so two posters never both find "no summary yet" in
//! the channel and both post; the chat adapter then finds the round's summary by its
//! metadata and updates it, or posts it the first time. The summary record keeps a digest
//! of what was posted: posting the same content again sends nothing at all.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;
use upkeep_chat::{ChatThreads, Delivery, Posted, RoundSummary};
use upkeep_state::{StateStore, StateStoreExt as _};
use upkeep_text::error_chain;

use super::claims::{Claimed, Claims};
use crate::journal::{SummaryRecord, keys};

fn digest(summary: &RoundSummary) -> String {
    let bytes = serde_json::to_vec(summary).unwrap_or_default();
    super::claims::hex(&Sha256::digest(&bytes)[..16])
}

/// Posts `summary` unless the channel already shows it; returns where it is (`Unchanged`
/// when nothing was sent), or why it could not be posted (a warning: the projects' own
/// results stand).
pub(crate) async fn post_summary_once(
    store: Arc<dyn StateStore>,
    claims: Arc<Claims>,
    chat: &dyn ChatThreads,
    summary: &RoundSummary,
    cancel: &CancellationToken,
) -> Result<Delivery, String> {
    let round = summary.round.as_str().to_owned();
    let digest = digest(summary);
    let (key, lease_key) = (
        keys::summary(&round).map_err(|e| e.to_string())?,
        keys::summary_lease(&round).map_err(|e| e.to_string())?,
    );
    let read = {
        let (store, key) = (store.clone(), key.clone());
        move || -> Result<Option<SummaryRecord>, String> {
            store
                .read(&key)
                .map_err(|e| error_chain(&e))?
                .map(|r| r.json::<SummaryRecord>().map_err(|e| error_chain(&e)))
                .transpose()
        }
    };
    let poll = (claims.ttl() / 10).clamp(Duration::from_millis(200), Duration::from_secs(15));
    loop {
        let current = blocking(read.clone()).await?;
        if let Some(c) = current.filter(|c| c.digest == digest) {
            return Ok(unchanged(c.delivery));
        }
        let claimed = {
            let (claims, lease_key) = (claims.clone(), lease_key.clone());
            blocking(move || {
                claims
                    .claim(&lease_key, CancellationToken::new())
                    .map_err(|e| error_chain(&e))
            })
            .await?
        };
        if let Claimed::Held { holder } = claimed {
            tracing::info!(
                holder = holder.owner,
                "another runner is posting the summary; waiting"
            );
            tokio::select! {
                () = tokio::time::sleep(poll) => continue,
                () = cancel.cancelled() => return Err("interrupted before the summary was posted".to_owned()),
            }
        }
        let posted = post_claimed(&store, &claims, chat, summary, &key, &digest, &read).await;
        let (claims, lease_key) = (claims.clone(), lease_key.clone());
        let _ = blocking(move || {
            claims.release(&lease_key);
            Ok(())
        })
        .await;
        return posted;
    }
}

/// With the summary's lease held: read again, post, record.
async fn post_claimed(
    store: &Arc<dyn StateStore>,
    claims: &Arc<Claims>,
    chat: &dyn ChatThreads,
    summary: &RoundSummary,
    key: &upkeep_state::Key,
    digest: &str,
    read: &(impl Fn() -> Result<Option<SummaryRecord>, String> + Clone + Send + 'static),
) -> Result<Delivery, String> {
    if let Some(c) = blocking(read.clone()).await?.filter(|c| c.digest == digest) {
        return Ok(unchanged(c.delivery));
    }
    let delivery = chat
        .post_summary(summary)
        .await
        .map_err(|e| format!("the round summary was not posted: {}", error_chain(&e)))?;
    let record = SummaryRecord {
        delivery: delivery.clone(),
        digest: digest.to_owned(),
        posted_at: Utc::now(),
        by: claims.owner().to_owned(),
    };
    let (store, key) = (store.clone(), key.clone());
    blocking(move || {
        store
            .update(&key, |_| {
                serde_json::to_vec_pretty(&record)
                    .map(Some)
                    .map_err(|source| upkeep_state::Error::Json {
                        key: key.to_string(),
                        source,
                    })
            })
            .map(drop)
            .map_err(|e| {
                format!(
                    "the summary was posted, but the state store did not take it: {}",
                    error_chain(&e)
                )
            })
    })
    .await?;
    Ok(delivery)
}

fn unchanged(delivery: Delivery) -> Delivery {
    Delivery {
        posted: Posted::Unchanged,
        ..delivery
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("a background task failed: {e}"))?
}
