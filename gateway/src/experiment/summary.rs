//! Each experiment in a line, for the dashboard.

use super::{ExperimentState, Experiments, report, tally};

/// One experiment in a line: its verdict and users per variant.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ExperimentSummary {
    pub id: String,
    pub name: String,
    pub route: String,
    pub state: ExperimentState,
    /// The variants' names and users.
    pub variants: Vec<(String, u64)>,
    pub verdict: &'static str,
    pub winner: Option<String>,
}

impl Experiments {
    /// Every experiment in a line; `None` while Redis does not answer.
    pub async fn summaries(&self) -> Option<Vec<ExperimentSummary>> {
        let mut summaries = Vec::new();
        for experiment in self.load().await? {
            let totals = tally::totals(&self.0.store, &experiment.id).await?;
            let report = report::report(experiment, &totals);
            summaries.push(ExperimentSummary {
                id: report.experiment.id.clone(),
                name: report.experiment.name.clone(),
                route: report.experiment.route.clone(),
                state: report.experiment.state,
                variants: report
                    .variants
                    .iter()
                    .map(|variant| (variant.name.clone(), variant.users))
                    .collect(),
                verdict: report.verdict.status,
                winner: report.verdict.winner,
            });
        }
        Some(summaries)
    }
}
