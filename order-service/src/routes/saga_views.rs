//! How a saga is shown: to whoever may see its order, and to operators.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::saga::{
    log::{ActionRow, StepRow},
    store::SagaRow,
};

/// An order's saga: where it stands and every step it took.
#[derive(Debug, Serialize, ToSchema)]
pub struct SagaView {
    pub order_id: Uuid,
    /// `running`, `compensating`, `completed`, `cancelling`, `compensated`, `failed` or
    /// `resolved`.
    pub state: String,
    /// The step under way, or the last one.
    pub step: String,
    /// The current step's attempt.
    pub attempt: i32,
    /// When the current attempt counts as unanswered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    /// Steps still to run after the current one.
    pub pending: Vec<String>,
    /// The order's status once the saga is over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending: Option<String>,
    /// Why it compensates, why its cancellation was refused, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Compensations refused or given up on: what an operator must see to (then retry the
    /// saga, or resolve it by hand).
    pub unresolved: Vec<UnresolvedView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every step, oldest first (absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
    /// What operators did to it, oldest first (absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionView>>,
    /// The courier's facts about the order that wait until the saga lets go of it (absent
    /// in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_facts: Option<Vec<WaitingFact>>,
}

/// A compensation the saga went on without.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnresolvedView {
    pub step: String,
    pub reason: String,
}

/// One step the saga took.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub step: String,
    /// Whether it undoes an earlier step.
    pub compensation: bool,
    pub attempts: i32,
    /// `running`, `succeeded`, `failed`, `timed_out` or `faulted`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// What an operator did to a saga, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionView {
    /// `retry` or `resolve`.
    pub action: String,
    /// The operator's user id.
    pub actor: Uuid,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// A courier's fact kept until the order can take it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingFact {
    /// The status it moves the order to (`PICKED_UP`, `DELIVERED`).
    pub status: String,
    pub received_at: DateTime<Utc>,
}

/// One page of sagas, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SagaPage {
    pub items: Vec<SagaView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Uuid>,
}

impl SagaView {
    /// The saga as listed: without its history.
    pub fn of(row: &SagaRow) -> Self {
        Self {
            order_id: row.order_id,
            state: row.state.clone(),
            step: row.step.clone(),
            attempt: row.attempt,
            deadline: row.deadline,
            cancel_requested: row.cancel_requested,
            pending: row.pending.clone(),
            ending: row.ending.clone(),
            reason: row.reason.clone(),
            unresolved: row
                .unresolved
                .0
                .iter()
                .map(|unresolved| UnresolvedView {
                    step: unresolved.step.to_string(),
                    reason: unresolved.reason.clone(),
                })
                .collect(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            steps: None,
            actions: None,
            waiting_facts: None,
        }
    }

    /// With its log, what operators did, and the facts that wait for it.
    pub fn with_history(
        mut self,
        steps: Vec<StepRow>,
        actions: Vec<ActionRow>,
        waiting: Vec<(String, DateTime<Utc>)>,
    ) -> Self {
        self.steps = Some(steps.into_iter().map(StepView::from).collect());
        self.actions = Some(
            actions
                .into_iter()
                .map(|row| ActionView {
                    action: row.action,
                    actor: row.actor,
                    note: row.note,
                    at: row.at,
                })
                .collect(),
        );
        self.waiting_facts = Some(
            waiting
                .into_iter()
                .map(|(status, received_at)| WaitingFact {
                    status,
                    received_at,
                })
                .collect(),
        );
        self
    }
}

impl From<StepRow> for StepView {
    fn from(row: StepRow) -> Self {
        Self {
            step: row.step,
            compensation: row.compensation,
            attempts: row.attempts,
            outcome: row.outcome,
            detail: row.detail,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}
