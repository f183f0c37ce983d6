//! `POST /v1/backtests`: the scores read before each export-control event,
//! measured against the products it hit, next to simpler methods. Computed
//! on the live snapshot off the async workers, cached per data version,
//! never stored.

use std::sync::Arc;

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Reader;
use super::docs::{AccessErrors, BodyErrors};
use super::error::{ApiError, FieldError};
use super::extract::Json;
use super::render;
use crate::backtest::{self, Backtest, Report};
use crate::domain::{Buyer, ControlEvent};
use crate::live::LiveScores;

/// What to backtest; every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// The events, in the format of `data/events/events.ndjson`; omitted,
    /// the shipped set (events before the data, and products the catalogue
    /// lacks, are then reported rather than refused).
    #[schema(min_items = 1, max_items = 50)]
    pub events: Option<Vec<ControlEvent>>,
    /// Days before each announcement the scores are read, 1 to 3650
    /// (default 30).
    #[schema(minimum = 1, maximum = 3650, example = 30)]
    pub lead_days: Option<u32>,
    /// The buyers scored (default US, EU and JP); an event targeting named
    /// buyers is ranked for those among them.
    #[schema(min_items = 1, max_items = 20, example = json!(["US", "EU", "JP"]))]
    pub buyers: Option<Vec<Buyer>>,
}

/// Most events one request backtests.
const MAX_EVENTS: usize = 50;
/// Most buyers one request scores.
const MAX_BUYERS: usize = 20;

/// The backtest's report, with the data it ran on.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacktestResult {
    /// The data backtested; it changes whenever the facts do.
    pub data_version: String,
    #[serde(flatten)]
    pub report: Report,
}

impl BacktestRequest {
    fn into_backtest(self) -> Result<Backtest, ApiError> {
        let shipped = Backtest::shipped();
        let mut too_many = Vec::new();
        if self.events.as_ref().is_some_and(|e| e.len() > MAX_EVENTS) {
            too_many.push(FieldError::new(
                "/events",
                format!("at most {MAX_EVENTS} events"),
            ));
        }
        if self.buyers.as_ref().is_some_and(|b| b.len() > MAX_BUYERS) {
            too_many.push(FieldError::new(
                "/buyers",
                format!("at most {MAX_BUYERS} buyers"),
            ));
        }
        if !too_many.is_empty() {
            return Err(ApiError::validation(too_many));
        }
        let mut buyers = self.buyers.unwrap_or(shipped.buyers);
        // A buyer named twice is ranked once.
        let mut seen = std::collections::HashSet::new();
        buyers.retain(|b| seen.insert(*b));
        Ok(Backtest {
            shipped: self.events.is_none(),
            events: self.events.unwrap_or(shipped.events),
            lead_days: self.lead_days.unwrap_or(shipped.lead_days),
            buyers,
        })
    }
}

/// Scores every catalogued product for each targeted buyer as the world
/// knew it `lead_days` before each event's announcement (view `public`),
/// and measures how the products the event then hit ranked among all
/// products: ROC AUC, the share in the top decile and the median
/// percentile rank, each with a 95% bootstrap interval, for the service's
/// dependency, difficulty and their combination and, on the same facts,
/// China's production share alone, the stage HHI and the EU CRM supply
/// risk. For events before 2024 it adds the change in the targeted
/// buyers' imports from China the year after. The figures are findings,
/// not targets: `docs/validation.md` says what they can and cannot show.
#[utoipa::path(tag = "validation",
    request_body(content = BacktestRequest, examples(
        ("gallium_a_quarter_ahead" = (summary = "The 2023 gallium and germanium licensing, scored a quarter ahead for the US",
            value = json!({"lead_days": 90, "buyers": ["US"], "events": [{
                "id": "2023-gallium-germanium-licensing",
                "title": "Export licensing of gallium- and germanium-related items",
                "announced_on": "2023-07-03", "in_force_on": "2023-08-01", "measure": "licensing",
                "products": ["primary-gallium", "gan-gaas-wafer", "germanium-metal", "germanium-products"],
                "targets": "everyone",
                "source": {"id": "mofcom-2023-23-gallium-germanium",
                    "title": "MOFCOM and GAC Announcement No. 23 of 2023 on export control of gallium- and germanium-related items",
                    "publisher": "Ministry of Commerce of the People's Republic of China; General Administration of Customs",
                    "url": "https://china-mcc.com/news_show-2898.html", "published_on": "2023-07-03"}}]}))),
        ("shipped_events" = (summary = "Every shipped event, 30 days ahead, for the US, the EU and Japan",
            value = json!({}))),
    )),
    security((), ("bearer" = ["read"])),
    responses((status = 200, body = BacktestResult), AccessErrors, BodyErrors))]
#[post("/backtests")]
pub async fn run_backtest(
    live: web::Data<LiveScores>,
    _reader: Reader,
    body: Json<BacktestRequest>,
) -> Result<HttpResponse, ApiError> {
    let (request, _) = body.parse()?;
    let backtest = request.into_backtest()?;
    let state = live.state();
    let problems = backtest.problems(&state.snapshot);
    if !problems.is_empty() {
        return Err(ApiError::validation(
            problems
                .into_iter()
                .map(|(pointer, message)| FieldError::new(pointer, message))
                .collect(),
        ));
    }
    let key = format!(
        "{}|backtest|{}|{}|{}",
        state.version,
        backtest.lead_days,
        serde_json::to_string(&backtest.buyers).map_err(ApiError::internal)?,
        serde_json::to_string(&backtest.events).map_err(ApiError::internal)?
    );
    let result = match live.cache.get::<BacktestResult>(&key) {
        Some(result) => result,
        None => {
            let at = state.clone();
            let report = web::block(move || backtest::run(&at.snapshot, &backtest))
                .await
                .map_err(ApiError::internal)?;
            let result = Arc::new(BacktestResult {
                data_version: state.version.clone(),
                report,
            });
            live.cache.insert(key, result.clone());
            result
        }
    };
    render::json(&*result)
}
