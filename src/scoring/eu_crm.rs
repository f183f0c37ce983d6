//! Cross-check with the EU critical raw materials supply-risk indicator
//! (JRC methodology, 2017 guidelines as applied in the 2023 assessment).

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::dependency::{
    country_share, scaled_wgi, supply, supply_rows, trade_restriction, Excess,
    DEFAULT_IMPORT_RELIANCE, DEFAULT_WGI_SCALED,
};
use super::difficulty::Origin;
use super::explain::Quantity;
use super::params::Params;
use super::resolve::{resolve, CountryValue, Resolved};
use super::snapshot::Snapshot;
use super::METHODOLOGY_VERSION;
use crate::domain::{Buyer, CountryCode, ProductId, Stage};

/// The method this cross-check follows.
pub const EU_CRM_METHOD: &str = "eu_crm_2023";
/// Supply risk at or above which a material is critical.
pub const SUPPLY_RISK_THRESHOLD: f64 = 1.0;
/// Economic importance at or above which a material is critical.
pub const ECONOMIC_IMPORTANCE_THRESHOLD: f64 = 2.8;

/// One country's term in `HHI_WGI,t`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CrmCountry {
    /// The supplying country (global supply) or origin (sourcing).
    pub country: CountryCode,
    /// Fraction 0–1: `S_c`, the country's share.
    pub share: f64,
    /// `WGI_c` on the 0–10 scale (0 best governed, 10 worst); 5 without a
    /// fact.
    pub wgi_scaled: f64,
    /// Whether `wgi_scaled` comes from a `governance_wgi` fact or the
    /// default.
    pub wgi_origin: Origin,
    /// `t_c`, multiplier 1–2 (1 = no restriction).
    pub trade_restriction: f64,
    /// `S_c² · WGI_c · t_c`, 0–20; the terms add up to `HHI_WGI,t`.
    pub term: f64,
}

/// Supply risk of one stage (one product of the chain).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CrmStage {
    /// The product of this stage.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// `HHI_WGI,t` of global supply, 0–20; absent without supply data.
    pub hhi_wgi_t_global: Option<f64>,
    /// The terms of `hhi_wgi_t_global`, by supplying country.
    pub global_countries: Vec<CrmCountry>,
    /// `HHI_WGI,t` of the buyer's sourcing (its import origins), 0–20;
    /// absent without them.
    pub hhi_wgi_t_sourcing: Option<f64>,
    /// The terms of `hhi_wgi_t_sourcing`, by origin.
    pub sourcing_countries: Vec<CrmCountry>,
    /// Fraction 0–1: `IR`, weighting the global term by `IR/2` and sourcing
    /// by `1 − IR/2` (default 1).
    pub import_reliance: Quantity,
    /// Fraction 0–1: `EoL_RIR`, the recycling input rate (default 0).
    pub end_of_life_recycling_input_rate: Quantity,
    /// `SI_SR`, index 0–1 (1 = no substitute; 1 without a fact).
    pub substitution_index: Quantity,
    /// `SR` of this stage, on the EU CRM scale (not 0–100); absent when
    /// neither global nor sourcing data exist.
    pub supply_risk: Option<f64>,
}

/// The EU CRM supply-risk cross-check of a product and its upstream chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EuCrmResult {
    /// The product checked.
    pub product: ProductId,
    /// Whom for (its import origins make the sourcing term).
    pub buyer: Buyer,
    /// The instant the facts were read as of.
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// The method followed: the EU CRM supply-risk indicator of the 2023
    /// assessment.
    #[schema(example = "eu_crm_2023")]
    pub method: String,
    /// This service's method version (which resolves the facts).
    #[schema(example = "2026.6")]
    pub methodology_version: String,
    /// `SR` on the EU CRM scale (dimensionless, from 0; not 0–100): the
    /// maximum stage supply risk over the product and its upstream chain.
    /// At or above `supply_risk_threshold` (1.0) the EU method reads the
    /// supply risk as high enough for criticality. Absent without data.
    #[schema(example = 1.6)]
    pub supply_risk: Option<f64>,
    /// The product whose stage gives the maximum.
    pub binding_product: Option<ProductId>,
    /// That product's stage.
    pub binding_stage: Option<Stage>,
    /// `EI` on the EU CRM 0–10 scale (not 0–100): the product's own
    /// economic importance, when recorded.
    pub economic_importance: Option<Quantity>,
    /// `SR ≥ 1.0`, and `EI ≥ 2.8` where EI is recorded.
    pub critical: bool,
    /// The EU method's supply-risk threshold for criticality: 1.0.
    pub supply_risk_threshold: f64,
    /// The EU method's economic-importance threshold for criticality: 2.8.
    pub economic_importance_threshold: f64,
    /// Every stage, upstream first.
    pub stages: Vec<CrmStage>,
}

/// The numbers of one stage's supply risk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StageRisk {
    pub global: Option<f64>,
    pub sourcing: Option<f64>,
    pub import_reliance: f64,
    pub recycling: f64,
    pub substitution: f64,
    pub supply_risk: Option<f64>,
}

/// `SR = [HHI_GS · IR/2 + HHI_S · (1 − IR/2)] · (1 − EoL_RIR) · SI_SR`;
/// with only one of the two HHI terms, that term alone stands in the bracket.
pub(crate) fn stage_risk(r: &Resolved, values: &[f64]) -> StageRisk {
    let world = supply(r, values).world;
    let (basis, rows) = supply_rows(r, values);
    let global = (!rows.is_empty()).then(|| {
        governance_hhi(r, values, rows, |amount| {
            country_share(basis, amount, world, Excess::Kept)
        })
    });
    let sourcing = (!r.import_shares.is_empty())
        .then(|| governance_hhi(r, values, &r.import_shares, |share| share));
    let import_reliance = r
        .import_reliance
        .map_or(DEFAULT_IMPORT_RELIANCE, |s| values[s]);
    let recycling = r.recycling_input_rate.map_or(0.0, |s| values[s]);
    let substitution = r.substitution_index.map_or(1.0, |s| values[s]);
    let bracket = match (global, sourcing) {
        (Some(g), Some(s)) => Some(g * import_reliance / 2.0 + s * (1.0 - import_reliance / 2.0)),
        (Some(g), None) => Some(g),
        (None, Some(s)) => Some(s),
        (None, None) => None,
    };
    let supply_risk = bracket.map(|b| b * (1.0 - recycling) * substitution);
    StageRisk {
        global,
        sourcing,
        import_reliance,
        recycling,
        substitution,
        supply_risk,
    }
}

fn governance_hhi(
    r: &Resolved,
    values: &[f64],
    rows: &[CountryValue],
    share_of: impl Fn(f64) -> f64,
) -> f64 {
    super::dependency::concentration(r, values, rows, share_of).1
}

pub(crate) fn eu_crm(snapshot: &Snapshot, id: &ProductId, params: &Params) -> Option<EuCrmResult> {
    let product = snapshot.position(id)?;
    let mut stages = Vec::new();
    let mut economic_importance = None;
    for p in snapshot.upstream_closure(product) {
        let r = resolve(snapshot, p, params);
        if p == product {
            economic_importance = r.economic_importance.map(|s| Quantity {
                value: r.values[s],
                origin: Origin::Facts,
                fact_ids: slot_ids(snapshot, &r, Some(s)),
            });
        }
        stages.push(crm_stage(snapshot, p, &r));
    }
    let binding = stages
        .iter()
        .filter_map(|s| s.supply_risk.map(|sr| (sr, s)))
        .reduce(|best, next| if next.0 > best.0 { next } else { best });
    let supply_risk = binding.map(|(sr, _)| sr);
    let critical = supply_risk.is_some_and(|sr| sr >= SUPPLY_RISK_THRESHOLD)
        && economic_importance
            .as_ref()
            .is_none_or(|ei| ei.value >= ECONOMIC_IMPORTANCE_THRESHOLD);
    Some(EuCrmResult {
        product: id.clone(),
        buyer: params.buyer,
        as_of: params.as_of,
        method: EU_CRM_METHOD.to_owned(),
        methodology_version: METHODOLOGY_VERSION.to_owned(),
        supply_risk,
        binding_product: binding.map(|(_, s)| s.product.clone()),
        binding_stage: binding.map(|(_, s)| s.stage),
        economic_importance,
        critical,
        supply_risk_threshold: SUPPLY_RISK_THRESHOLD,
        economic_importance_threshold: ECONOMIC_IMPORTANCE_THRESHOLD,
        stages,
    })
}

fn crm_stage(snapshot: &Snapshot, product: usize, r: &Resolved) -> CrmStage {
    let values = &r.values;
    let risk = stage_risk(r, values);
    let world = supply(r, values).world;
    let (basis, rows) = supply_rows(r, values);
    let quantity = |value: f64, slot: Option<usize>| Quantity {
        value,
        origin: if slot.is_some() {
            Origin::Facts
        } else {
            Origin::Default
        },
        fact_ids: slot_ids(snapshot, r, slot),
    };
    let meta = &snapshot.products()[product];
    CrmStage {
        product: meta.id.clone(),
        stage: meta.stage,
        hhi_wgi_t_global: risk.global,
        global_countries: crm_countries(r, rows, |a| country_share(basis, a, world, Excess::Kept)),
        hhi_wgi_t_sourcing: risk.sourcing,
        sourcing_countries: crm_countries(r, &r.import_shares, |s| s),
        import_reliance: quantity(risk.import_reliance, r.import_reliance),
        end_of_life_recycling_input_rate: quantity(risk.recycling, r.recycling_input_rate),
        substitution_index: quantity(risk.substitution, r.substitution_index),
        supply_risk: risk.supply_risk,
    }
}

fn crm_countries(
    r: &Resolved,
    rows: &[CountryValue],
    share_of: impl Fn(f64) -> f64,
) -> Vec<CrmCountry> {
    rows.iter()
        .map(|row| {
            let share = share_of(r.values[row.slot]);
            let wgi = scaled_wgi(r, &r.values, row.country);
            let wgi_scaled = wgi.unwrap_or(DEFAULT_WGI_SCALED);
            let t = trade_restriction(r, &r.values, row.country);
            CrmCountry {
                country: row.country,
                share,
                wgi_scaled,
                wgi_origin: if wgi.is_some() {
                    Origin::Facts
                } else {
                    Origin::Default
                },
                trade_restriction: t,
                term: share * share * wgi_scaled * t,
            }
        })
        .collect()
}

fn slot_ids(snapshot: &Snapshot, r: &Resolved, slot: Option<usize>) -> Vec<i64> {
    slot.map_or_else(Vec::new, |s| {
        r.slot_facts(s)
            .iter()
            .map(|&i| snapshot.facts()[i].id)
            .collect()
    })
}
