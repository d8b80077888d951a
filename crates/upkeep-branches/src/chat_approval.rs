//! Approval by reaction in a chat channel: the job posts its plan as one message and
//! waits for an allowed person to react.
//!
//! [`ChatApprover`] is the [`Approver`] of a scheduled promotion. Once the gates pass it
//! posts one message — repos, from → to, the commits that would ship, the gate evidence
//! and the plan's digest — and polls the reactions on it until one of the approvers
//! reacts with an approving reaction (`:white_check_mark:`) or a refusing one (`:x:`), or
//! the deadline passes. How it stays honest:
//!
//! - **Bound to the digest.** The message names the plan's digest and the approval counts
//!   for that plan only. While waiting the approver plans again every
//!   [`ChatApprovalOptions::replan_interval`] (and once more when someone approves): when
//!   `main` or a target moved, the message is marked outdated in place, a reply in its
//!   thread says why, and the job plans, gates and asks again in a new message. Right
//!   before the first move the job plans once more, and [`Approver::confirm`] reads the
//!   reactions again: a "no" added since, or the approval taken back, moves nothing.
//! - **Only the message, only the people, only in time.** Reactions on other messages
//!   are never read. A reaction by someone who is not an approver (named, or a member of
//!   a named user group) is ignored and said so in the thread, once per person. Reactions
//!   read after the deadline do not count; nothing moves after it.
//! - **Every outcome in the channel.** Approved (who, when, which digest), refused (who),
//!   timed out, outdated: the message is updated in place and the thread says how the
//!   job ended ([`Approver::report`]); the job's history records the approver.
//! - **A crash is not a second message.** The message carries its job key, digest, state
//!   and deadline as metadata; a re-run of the same job finds it (if the plan is the same
//!   and the deadline has not passed) and goes on waiting on it. An earlier message of
//!   the job that no longer fits is closed in place.
//! - **Bad setup fails before anything is posted** ([`Approver::prepare`]): a missing
//!   scope, a channel the app is not in, an approver or group the token cannot see.
//!
//! The chat is reached through [`upkeep_chat::ApprovalChannel`] (the Slack adapter).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use upkeep_chat::render::{Block, Document, Span};
use upkeep_chat::{
    ApprovalChannel, ApprovalMessage, ApprovalMeta, ApprovalState, Approvers, ChatError,
    MessageRef, Person, Reaction,
};

use crate::approve::{Approval, ApprovalRequest, Approver, Decision};
use crate::history::Command;
use crate::notify::Notice;
use crate::render::{self, MAX_NAME, one_line};
use crate::{Error, Result};

/// How a [`ChatApprover`] asks, whom, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatApprovalOptions {
    /// Names the job, the same for every run of it (e.g. [`crate::note_key`] of its
    /// repos): a re-run finds the message of an earlier run by it.
    pub key: String,
    /// People who may approve: chat user ids (`U…`).
    pub people: Vec<String>,
    /// User groups whose members may approve: group ids (`S…`).
    pub groups: Vec<String>,
    /// Reactions that approve, without colons. A skin tone (`+1::skin-tone-3`) counts
    /// as the reaction itself.
    pub approve: Vec<String>,
    /// Reactions that refuse. A refusal by an approver wins over approvals.
    pub reject: Vec<String>,
    /// How long after posting the message an approval counts.
    pub wait: Duration,
    /// How often the reactions are read (Slack's `reactions.get` allows about 50 calls a
    /// minute).
    pub poll_interval: Duration,
    /// How often the plan is made again while waiting, to notice `main` or a target
    /// moving (a few forge requests per repo each time).
    pub replan_interval: Duration,
}

impl ChatApprovalOptions {
    /// `:white_check_mark:` approves, `:x:` refuses; 4 hours to answer, reactions read
    /// every 15 seconds, the plan checked every 2 minutes.
    #[must_use]
    pub fn new(key: impl Into<String>, people: Vec<String>, groups: Vec<String>) -> Self {
        Self {
            key: key.into(),
            people,
            groups,
            approve: vec!["white_check_mark".to_owned()],
            reject: vec!["x".to_owned()],
            wait: Duration::from_hours(4),
            poll_interval: Duration::from_secs(15),
            replan_interval: Duration::from_mins(2),
        }
    }
}

/// Asks for approval with one message in a chat channel and waits for a reaction. See
/// the module docs.
pub struct ChatApprover {
    channel: Arc<dyn ApprovalChannel>,
    options: ChatApprovalOptions,
    state: tokio::sync::Mutex<State>,
    progress: Progress,
}

/// Receives one line for people at each step of the wait (posted, taken up, a reaction
/// ignored, outdated, approved), for a job's log.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct State {
    /// Who may approve, as checked by [`Approver::prepare`].
    approvers: Option<Approvers>,
    /// The message of the current round, while it matters.
    asked: Option<Asked>,
}

/// The message this run is waiting on (or was approved on).
struct Asked {
    message: MessageRef,
    meta: ApprovalMeta,
    view: View,
    /// The approver's user id, once approved.
    approved_by: Option<String>,
}

/// What the message shows.
#[derive(Clone)]
struct View {
    command: Command,
    actor: String,
    digest: String,
    plan: String,
    gates: String,
    status: Status,
}

#[derive(Clone)]
enum Status {
    Pending,
    Approved {
        by: String,
        at: DateTime<Utc>,
    },
    Rejected {
        by: String,
    },
    TimedOut,
    Outdated {
        now: String,
    },
    /// How the job ended, after one of the above.
    Ended {
        line: String,
        before: Box<Status>,
    },
}

/// What the reactions on the message say.
enum Verdict {
    Approved(String),
    Rejected(String),
    Nothing,
}

/// A reaction's name without a skin tone: `+1::skin-tone-3` is `+1`.
fn base_name(name: &str) -> &str {
    name.split("::").next().unwrap_or(name)
}

fn when(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn chat_error(channel: &dyn ApprovalChannel, e: ChatError) -> Error {
    Error::ApprovalSetup {
        channel: channel.channel_name().to_owned(),
        source: Box::new(e),
    }
}

impl ChatApprover {
    /// Approval in `channel` as `options` say.
    pub fn new(channel: Arc<dyn ApprovalChannel>, options: ChatApprovalOptions) -> Self {
        Self {
            channel,
            options,
            state: tokio::sync::Mutex::new(State::default()),
            progress: Arc::new(|_| {}),
        }
    }

    /// Tells `progress` what happens while waiting (the binary prints it on stderr).
    #[must_use]
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    fn say(&self, line: &str) {
        (self.progress)(line);
    }

    fn key(&self, command: Command) -> String {
        let what = match command {
            Command::Run => "run",
            Command::Rollback => "rollback",
        };
        format!("{what}:{}", self.options.key)
    }

    async fn approvers(&self) -> Result<Approvers> {
        if let Some(a) = &self.state.lock().await.approvers {
            return Ok(a.clone());
        }
        let approvers = self
            .channel
            .check_approvers(&self.options.people, &self.options.groups)
            .await
            .map_err(|e| chat_error(self.channel.as_ref(), e))?;
        if approvers.is_empty() {
            return Err(Error::NoApprovers {
                channel: self.channel.channel_name().to_owned(),
                groups: self.options.groups.clone(),
            });
        }
        self.state.lock().await.approvers = Some(approvers.clone());
        Ok(approvers)
    }

    /// `Ann (U1), Bob (U2), members of S1`.
    fn approver_list(approvers: &Approvers) -> String {
        approvers
            .people
            .iter()
            .map(Person::label)
            .chain(
                approvers
                    .groups
                    .iter()
                    .map(|(g, _)| format!("members of {g}")),
            )
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn what(command: Command) -> &'static str {
        match command {
            Command::Run => "move-branches run",
            Command::Rollback => "move-branches rollback",
        }
    }

    fn headline(
        &self,
        view: &View,
        status: &Status,
        deadline: DateTime<Utc>,
    ) -> (String, Vec<Span>) {
        let plan = &view.digest;
        let what = Self::what(view.command);
        let text = |s: String| vec![Span::Text(s)];
        match status {
            Status::Pending => {
                let mut spans = vec![Span::Emoji(self.options.approve[0].clone())];
                spans.push(Span::Text(" approves exactly this plan, ".to_owned()));
                spans.push(Span::Emoji(self.options.reject[0].clone()));
                spans.push(Span::Text(format!(
                    " refuses it. Nothing moves without approval; reactions after {} do not count.",
                    when(deadline)
                )));
                (format!("Approval needed: {what} (plan {plan})"), spans)
            }
            Status::Approved { by, at } => (
                format!("Approved by {by}: moving (plan {plan})"),
                text(format!(
                    "Approved at {}. The plan is made and checked again right before the first move.",
                    when(*at)
                )),
            ),
            Status::Rejected { by } => (
                format!("Refused by {by}: nothing moved (plan {plan})"),
                text("Reactions here no longer count.".to_owned()),
            ),
            Status::TimedOut => (
                format!("Not approved in time: nothing moved (plan {plan})"),
                text(format!(
                    "Nobody approved before {}; reactions added now do not count.",
                    when(deadline)
                )),
            ),
            Status::Outdated { now } => (
                format!("Outdated: the plan changed while waiting (plan {plan} is now {now})"),
                text(
                    "`main` or a target branch moved. Nothing moved for this plan; a new \
                     message asks for approval of the new plan. Reactions here do not count."
                        .to_owned(),
                ),
            ),
            Status::Ended { line, before } => {
                let (earlier, _) = self.headline(view, before, deadline);
                (line.clone(), text(earlier))
            }
        }
    }

    fn document(&self, view: &View, meta: &ApprovalMeta, approvers: &str) -> Document {
        let (header, spans) = self.headline(view, &view.status, meta.deadline);
        let mut blocks = vec![Block::Header(header), Block::Section(spans)];
        blocks.push(Block::Preformatted(view.plan.clone()));
        if !view.gates.is_empty() {
            blocks.push(Block::Preformatted(view.gates.clone()));
        }
        blocks.push(Block::Context(vec![Span::Text(format!(
            "plan digest {} · approvers: {approvers} · run by {} · job {}",
            view.digest,
            one_line(&view.actor, MAX_NAME),
            meta.key
        ))]));
        Document { blocks }.fitted()
    }

    async fn show(&self, asked: &Asked) -> upkeep_chat::Result<()> {
        let approvers = self.approvers_text().await;
        let doc = self.document(&asked.view, &asked.meta, &approvers);
        self.channel
            .update_approval(&asked.message, &doc, &asked.meta)
            .await
    }

    async fn approvers_text(&self) -> String {
        self.state
            .lock()
            .await
            .approvers
            .as_ref()
            .map(Self::approver_list)
            .unwrap_or_default()
    }

    /// Closes an earlier message of this job that no longer fits (another plan, or its
    /// deadline passed while no run was waiting on it).
    async fn close(&self, found: ApprovalMessage, digest: &str) -> upkeep_chat::Result<()> {
        let mut meta = found.meta;
        let expired = meta.deadline <= Utc::now();
        let (state, header, line) = if expired {
            (
                ApprovalState::TimedOut,
                format!("Not approved in time: nothing moved (plan {})", meta.digest),
                format!(
                    "Nobody approved before {}; reactions added now do not count.",
                    when(meta.deadline)
                ),
            )
        } else {
            (
                ApprovalState::Outdated,
                format!(
                    "Outdated: the plan changed (plan {} is now {digest})",
                    meta.digest
                ),
                "The run that posted this stopped before an answer, and the plan has \
                 changed since. Nothing moved for this plan; a new message asks for \
                 approval of the new plan. Reactions here do not count."
                    .to_owned(),
            )
        };
        meta.state = state;
        let doc = Document {
            blocks: vec![
                Block::Header(header),
                Block::Section(vec![Span::Text(line)]),
            ],
        }
        .fitted();
        self.channel
            .update_approval(&found.message, &doc, &meta)
            .await
    }

    /// Posts the request for this plan, or takes up this job's message for the same plan
    /// left by a run that stopped while waiting.
    async fn post_or_take_up(&self, request: &ApprovalRequest<'_>) -> upkeep_chat::Result<Asked> {
        let key = self.key(request.command);
        let digest = request.plan.digest.clone();
        let view = View {
            command: request.command,
            actor: request.actor.to_owned(),
            digest: digest.clone(),
            plan: match request.command {
                Command::Run => render::plan(request.plan),
                Command::Rollback => render::rollback(request.plan),
            },
            gates: if request.gates.gates.is_empty() {
                String::new()
            } else {
                render::gates(request.gates)
            },
            status: Status::Pending,
        };
        let lookback = self.options.wait + Duration::from_hours(24);
        let mut taken = None;
        for found in self.channel.find_approvals(&key, lookback).await? {
            if !found.meta.state.is_open() {
                continue;
            }
            if taken.is_none() && found.meta.digest == digest && found.meta.deadline > Utc::now() {
                taken = Some(found);
            } else {
                self.close(found, &digest).await?;
            }
        }
        if let Some(found) = taken {
            tracing::info!(ts = %found.message.ts, "taking up this job's approval message");
            let mut asked = Asked {
                message: found.message,
                meta: found.meta,
                view,
                approved_by: None,
            };
            // An approval seen by the stopped run is read again, like any reaction.
            asked.meta.state = ApprovalState::Pending;
            self.show(&asked).await?;
            self.say(&format!(
                "waiting for approval of plan {} in Slack channel {} (message {}, posted by a run that stopped) until {}",
                asked.view.digest,
                self.channel.channel_name(),
                asked.message.ts,
                when(asked.meta.deadline)
            ));
            return Ok(asked);
        }
        let meta = ApprovalMeta {
            key,
            digest,
            state: ApprovalState::Pending,
            deadline: Utc::now()
                + chrono::Duration::from_std(self.options.wait).unwrap_or(chrono::Duration::MAX),
            noted: BTreeSet::new(),
            nonce: format!("{:016x}", rand::random::<u64>()),
        };
        let approvers = self.approvers_text().await;
        let doc = self.document(&view, &meta, &approvers);
        let message = self.channel.post_approval(&doc, &meta).await?;
        self.say(&format!(
            "waiting for approval of plan {} in Slack channel {} (message {}) until {}",
            view.digest,
            self.channel.channel_name(),
            message.ts,
            when(meta.deadline)
        ));
        Ok(Asked {
            message,
            meta,
            view,
            approved_by: None,
        })
    }

    /// What the reactions say. People who reacted with an approving or refusing reaction
    /// but may not approve are told so in the thread, once (`noted` in the metadata).
    async fn read(
        &self,
        asked: &mut Asked,
        reactions: &[Reaction],
        approvers: &mut Approvers,
    ) -> upkeep_chat::Result<Verdict> {
        let kind = |name: &str| {
            let base = base_name(name);
            if self.options.reject.iter().any(|r| r == base) {
                Some(false)
            } else if self.options.approve.iter().any(|a| a == base) {
                Some(true)
            } else {
                None
            }
        };
        let mut strangers: Vec<(String, String)> = Vec::new();
        for r in reactions {
            if kind(&r.name).is_none() {
                continue;
            }
            for u in &r.users {
                if !approvers.allows(u) && !asked.meta.noted.contains(u) {
                    strangers.push((u.clone(), r.name.clone()));
                }
            }
        }
        if !strangers.is_empty() && !approvers.groups.is_empty() {
            // Someone may have joined a group since the members were read.
            for (group, members) in &mut approvers.groups {
                *members = self.channel.group_members(group).await?;
            }
            self.state.lock().await.approvers = Some(approvers.clone());
            strangers.retain(|(u, _)| !approvers.allows(u));
        }
        if !strangers.is_empty() {
            for (user, reaction) in &strangers {
                if asked.meta.noted.contains(user) {
                    continue;
                }
                let who = match self.channel.person(user).await {
                    Ok(p) => p.label(),
                    Err(_) => user.clone(),
                };
                self.channel
                    .reply_in_thread(
                        &asked.message,
                        &format!(
                            "{} reacted :{reaction}: but is not one of the approvers of this \
                             promotion ({}): ignored.",
                            one_line(&who, MAX_NAME),
                            Self::approver_list(approvers)
                        ),
                    )
                    .await?;
                asked.meta.noted.insert(user.clone());
                self.say(&format!(
                    "{} reacted :{reaction}: but is not an approver: ignored",
                    one_line(&who, MAX_NAME)
                ));
            }
            self.show(asked).await?;
        }
        let by = |approving: bool| {
            reactions
                .iter()
                .filter(|r| kind(&r.name) == Some(approving))
                .flat_map(|r| r.users.iter())
                .find(|u| approvers.allows(u))
                .cloned()
        };
        Ok(match (by(false), by(true)) {
            (Some(u), _) => Verdict::Rejected(u),
            (None, Some(u)) => Verdict::Approved(u),
            (None, None) => Verdict::Nothing,
        })
    }

    async fn label(&self, user: &str, approvers: &Approvers) -> String {
        if let Some(p) = approvers.people.iter().find(|p| p.id == user) {
            return p.label();
        }
        match self.channel.person(user).await {
            Ok(p) => p.label(),
            Err(_) => user.to_owned(),
        }
    }

    /// Records a decision on the message (in place) and keeps the message for
    /// [`Approver::report`].
    async fn decide(&self, mut asked: Asked, status: Status, state: ApprovalState) {
        asked.view.status = status;
        asked.meta.state = state;
        if let Err(e) = self.show(&asked).await {
            tracing::warn!(error = %e, "could not mark the approval message");
        }
        self.state.lock().await.asked = Some(asked);
    }

    async fn outdated(&self, mut asked: Asked, now: String) -> upkeep_chat::Result<Decision> {
        let was = asked.view.digest.clone();
        asked.view.status = Status::Outdated { now: now.clone() };
        asked.meta.state = ApprovalState::Outdated;
        self.show(&asked).await?;
        self.channel
            .reply_in_thread(
                &asked.message,
                &format!(
                    "The plan changed while waiting (`main` or a target branch moved): plan \
                     {was} is now {now}. Nothing moved for plan {was}; a new message asks for \
                     approval of the new plan."
                ),
            )
            .await?;
        self.state.lock().await.asked = None;
        self.say(&format!(
            "the plan changed while waiting (plan {was} is now {now}): asking again"
        ));
        Ok(Decision::Outdated)
    }

    /// The whole wait: post (or take up) the message, then poll until a decision.
    async fn ask(&self, request: &ApprovalRequest<'_>) -> Result<Decision> {
        let mut approvers = self.approvers().await?;
        let err = |e| chat_error(self.channel.as_ref(), e);
        let mut asked = self.post_or_take_up(request).await.map_err(err)?;
        let mut last_plan = Instant::now();
        loop {
            let left = (asked.meta.deadline - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            if left.is_zero() {
                self.say(&format!(
                    "nobody approved plan {} by {}",
                    asked.view.digest,
                    when(asked.meta.deadline)
                ));
                self.decide(asked, Status::TimedOut, ApprovalState::TimedOut)
                    .await;
                return Ok(Decision::TimedOut {
                    waited: self.options.wait,
                });
            }
            tokio::time::sleep(self.options.poll_interval.min(left)).await;
            if Utc::now() >= asked.meta.deadline {
                continue;
            }
            let reactions = self.channel.reactions(&asked.message).await.map_err(err)?;
            match self
                .read(&mut asked, &reactions, &mut approvers)
                .await
                .map_err(err)?
            {
                Verdict::Rejected(user) => {
                    let by = self.label(&user, &approvers).await;
                    self.say(&format!("plan {} refused by {by}", asked.view.digest));
                    let status = Status::Rejected { by: by.clone() };
                    self.decide(asked, status, ApprovalState::Rejected).await;
                    return Ok(Decision::Rejected { by, reason: None });
                }
                Verdict::Approved(user) => {
                    // Bound to the digest: the plan must still be the one shown.
                    match request.current.digest().await {
                        Ok(now) if now != asked.view.digest => {
                            return self.outdated(asked, now).await.map_err(err);
                        }
                        Ok(_) => {}
                        // The job plans again before the first move and stops there.
                        Err(e) => tracing::warn!(error = %e, "could not plan again"),
                    }
                    return self.approved(asked, &user, &approvers).await.map_err(err);
                }
                Verdict::Nothing => {}
            }
            if last_plan.elapsed() >= self.options.replan_interval {
                last_plan = Instant::now();
                match request.current.digest().await {
                    Ok(now) if now != asked.view.digest => {
                        return self.outdated(asked, now).await.map_err(err);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not plan again while waiting"),
                }
            }
        }
    }

    async fn approved(
        &self,
        mut asked: Asked,
        user: &str,
        approvers: &Approvers,
    ) -> upkeep_chat::Result<Decision> {
        let by = self.label(user, approvers).await;
        let at = Utc::now();
        asked.view.status = Status::Approved { by: by.clone(), at };
        asked.meta.state = ApprovalState::Approved;
        asked.approved_by = Some(user.to_owned());
        // Said in the channel before anything moves; if it cannot be said, nothing moves.
        self.show(&asked).await?;
        self.channel
            .reply_in_thread(
                &asked.message,
                &format!(
                    "Approved by {by} at {} for plan {}. Moving now; the plan is checked \
                     once more right before the first move.",
                    when(at),
                    asked.view.digest
                ),
            )
            .await?;
        let digest = asked.view.digest.clone();
        self.state.lock().await.asked = Some(asked);
        self.say(&format!("plan {digest} approved by {by}"));
        Ok(Decision::Approved(Approval {
            by: one_line(&by, MAX_NAME).into_owned(),
            digest,
            at,
            via: "slack".to_owned(),
        }))
    }
}

#[async_trait]
impl Approver for ChatApprover {
    async fn prepare(&self) -> Result<()> {
        self.approvers().await.map(drop)
    }

    async fn approve(&self, request: &ApprovalRequest<'_>) -> Decision {
        match self.ask(request).await {
            Ok(decision) => decision,
            Err(e) => Decision::Unavailable {
                reason: format!(
                    "could not ask for approval: {}; nothing moved",
                    upkeep_text::error_chain(&e)
                ),
            },
        }
    }

    async fn confirm(&self, request: &ApprovalRequest<'_>, approval: Approval) -> Decision {
        let _ = request;
        let mut state = self.state.lock().await;
        let Some(approvers) = state.approvers.clone() else {
            return Decision::Approved(approval);
        };
        let Some(asked) = state.asked.as_mut() else {
            return Decision::Approved(approval);
        };
        let reactions = match self.channel.reactions(&asked.message).await {
            Ok(r) => r,
            Err(e) => {
                return Decision::Unavailable {
                    reason: format!(
                        "could not read the approval again before the first move: {}; nothing moved",
                        upkeep_text::error_chain(&e)
                    ),
                };
            }
        };
        let kind_of = |name: &str, list: &[String]| list.iter().any(|n| n == base_name(name));
        let allowed_by = |list: &[String]| {
            reactions
                .iter()
                .filter(|r| kind_of(&r.name, list))
                .flat_map(|r| r.users.iter())
                .find(|u| approvers.allows(u))
                .cloned()
        };
        if let Some(user) = allowed_by(&self.options.reject) {
            let by = match approvers.people.iter().find(|p| p.id == user) {
                Some(p) => p.label(),
                None => user,
            };
            asked.view.status = Status::Rejected { by: by.clone() };
            asked.meta.state = ApprovalState::Rejected;
            return Decision::Rejected { by, reason: None };
        }
        if allowed_by(&self.options.approve).is_some() {
            return Decision::Approved(approval);
        }
        asked.view.status = Status::Rejected {
            by: approval.by.clone(),
        };
        asked.meta.state = ApprovalState::Rejected;
        Decision::Rejected {
            by: approval.by,
            reason: Some("took the approval back before the first move".to_owned()),
        }
    }

    async fn report(&self, notice: &Notice) -> Option<String> {
        let asked = self.state.lock().await.asked.take()?;
        let line = notice.text.lines().next().unwrap_or_default().to_owned();
        let mut asked = asked;
        let before = Box::new(asked.view.status.clone());
        asked.view.status = Status::Ended { line, before };
        if asked.meta.state.is_open() {
            asked.meta.state = ApprovalState::Done;
        }
        if let Err(e) = self.show(&asked).await {
            tracing::warn!(error = %e, "could not mark the approval message with the result");
        }
        match self
            .channel
            .reply_in_thread(&asked.message, &notice.text)
            .await
        {
            Ok(_) => Some(self.channel.channel_name().to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "could not reply with the result in the approval thread");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skin_tones_count_as_the_reaction() {
        assert_eq!(base_name("+1::skin-tone-3"), "+1");
        assert_eq!(base_name("white_check_mark"), "white_check_mark");
    }
}
