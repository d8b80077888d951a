//! Approval at a terminal: the plan and the gates are on the screen; ask once.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use chrono::Utc;
use upkeep_branches::{Approval, ApprovalRequest, Approver, Decision};

/// Asks `question` on the terminal; without one, nothing can be approved.
pub(crate) struct Prompt {
    /// "Move these branches?"
    pub question: &'static str,
    /// The command that applies the plan without asking, less `--approve <digest>`.
    pub again: String,
}

#[async_trait::async_trait]
impl Approver for Prompt {
    async fn approve(&self, request: &ApprovalRequest<'_>) -> Decision {
        let digest = request.plan.digest.clone();
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Decision::Unavailable {
                reason: format!(
                    "no terminal to ask for approval, and neither --yes nor --approve: nothing moved.\n\
                     to apply exactly this plan: {} --approve {digest}",
                    self.again
                ),
            };
        }
        let question = format!("{} (plan {digest}) [y/N] ", self.question);
        let answer = tokio::task::spawn_blocking(move || {
            let mut stderr = std::io::stderr();
            let _ = write!(stderr, "{question}");
            let _ = stderr.flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            line
        })
        .await
        .unwrap_or_default();
        let by = request.actor.to_owned();
        if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            Decision::Approved(Approval {
                by,
                digest,
                at: Utc::now(),
                via: "terminal".to_owned(),
            })
        } else {
            Decision::Rejected { by, reason: None }
        }
    }
}
