//! The query vocabulary every score read shares (buyer, as_of, chain,
//! weights, horizon), parsed into `scoring::Params` in one place, with the
//! schemas of the forms they accept.

use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::IntoParams;

use super::error::ApiError;
use crate::domain::{AsOf, Buyer, CountryCode, ProductId, View};
use crate::live::State;
use crate::scoring::{Chain, Params, WeightOverrides};

/// The parameters every score read shares.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScoreParams {
    /// Whom for: an ISO 3166-1 alpha-2 country code or `EU` (default `US`;
    /// `EU` for the EU CRM cross-check).
    #[param(value_type = Option<Buyer>)]
    buyer: Option<Buyer>,
    /// `bottleneck` (default) or `independent`.
    #[param(value_type = Option<Chain>)]
    chain: Option<Chain>,
    /// Difficulty weights to override, e.g. `time:0.4,scale:0.3` (others keep
    /// their defaults; all are renormalised to sum to 1). Names: time, scale,
    /// capital, cost, know_how, substitution.
    #[param(
        example = "time:0.4,scale:0.3",
        pattern = r"^((time|scale|capital|cost|know_how|substitution):[0-9]{1,6}(\.[0-9]{1,6})?(,(time|scale|capital|cost|know_how|substitution):[0-9]{1,6}(\.[0-9]{1,6})?){0,5})?$"
    )]
    weights: Option<String>,
    /// Years ahead within which pipeline capacity counts (1..30, default 5).
    #[param(minimum = 1, maximum = 30, example = 5)]
    horizon: Option<u32>,
    /// Which facts count as known at `as_of`: `public` (default: what had
    /// been published by then), `recorded` (what this database held then;
    /// reproduces earlier answers exactly) or `current` (today's knowledge
    /// of the situation then). See the methodology.
    #[param(value_type = Option<View>)]
    view: Option<View>,
}

impl ScoreParams {
    /// The defaults but for `view`: a read whose only choice is the view.
    pub fn viewing(view: Option<View>) -> ScoreParams {
        ScoreParams {
            view,
            ..ScoreParams::default()
        }
    }
}

/// The instant a read is made as of.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// The facts as known at this instant: an RFC 3339 date-time, or a date
    /// meaning the end of that day UTC. Default: now.
    #[param(schema_with = as_of_schema)]
    pub as_of: Option<AsOf>,
}

/// A score read's parameters, checked against the live state.
pub struct ScoreRequest {
    pub params: Params,
    /// Whether these are the precomputed current scores' parameters.
    pub current: bool,
    /// For cache keys and ETags.
    pub canonical: String,
}

impl ScoreRequest {
    /// `query` and `as_of` on `state`; `default_buyer` when none is named.
    pub fn parse(
        query: &ScoreParams,
        as_of: Option<AsOf>,
        state: &State,
        default_buyer: Buyer,
    ) -> Result<ScoreRequest, ApiError> {
        let buyer = query.buyer.unwrap_or(default_buyer);
        let mut params = Params::new(buyer, as_of.map_or(state.computed_at, |t| t.0));
        if let Some(chain) = query.chain {
            params.chain = chain;
        }
        if let Some(text) = &query.weights {
            params.weights = WeightOverrides::parse(text)
                .map_err(|e| e.to_string())
                .and_then(|o| o.apply(&params.weights).map_err(|e| e.to_string()))
                .map_err(|message| ApiError::invalid_parameter("weights", "query", message))?;
        }
        if let Some(view) = query.view {
            params.view = view;
        }
        if let Some(years) = query.horizon {
            params
                .set_horizon(years)
                .map_err(|e| ApiError::invalid_parameter("horizon", "query", e.to_string()))?;
        }
        let current =
            as_of.is_none() && params.has_default_choices() && state.current(buyer).is_some();
        let canonical = format!(
            "{}|{}|{:?}|{:?}|{}|{}",
            buyer,
            params.as_of.unix_timestamp_nanos(),
            params.chain,
            params.weights.as_array(),
            params.horizon_years,
            params.view.as_str()
        );
        Ok(ScoreRequest {
            params,
            current,
            canonical,
        })
    }

    /// Whether the answer can never change: a `recorded` read of the past.
    /// Other views of the past change as facts about it are recorded.
    pub fn is_immutable(&self, state: &State) -> bool {
        self.params.as_of < state.computed_at && self.params.view.is_fixed_in_the_past()
    }
}

/// The buyer of score reads that name none.
pub const US: Buyer = Buyer::Country(CountryCode::US);

/// A product named in a path: an id that cannot exist is simply not found.
pub fn product_id(id: &str) -> Result<ProductId, ApiError> {
    ProductId::parse(id).map_err(|_| ApiError::not_found(format!("product `{id}`")))
}

pub fn unknown_product(id: &ProductId) -> ApiError {
    ApiError::not_found(format!("product `{id}`"))
}

/// An RFC 3339 instant in the query parameter `name`.
pub fn instant(name: &str, value: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).map_err(|_| {
        ApiError::invalid_parameter(
            name,
            "query",
            format!("`{value}` is not an RFC 3339 date-time such as 2026-01-01T00:00:00Z"),
        )
    })
}

/// `as_of`'s two accepted forms, so clients and validators know both.
pub fn as_of_schema() -> Schema {
    let form = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    OneOfBuilder::new()
        .item(form(KnownFormat::DateTime))
        .item(form(KnownFormat::Date))
        .description(Some(
            "An RFC 3339 date-time, or a YYYY-MM-DD date meaning the end of that day UTC",
        ))
        .into()
}

/// `as_of` in a body, where it may also be null (now).
pub fn nullable_as_of_schema() -> Schema {
    let Schema::OneOf(forms) = as_of_schema() else {
        unreachable!("as_of_schema is a oneOf")
    };
    OneOfBuilder::from(forms)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// A year (`2023`) or a date (`2023-06-30`).
pub fn year_or_date_schema() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]{4}$")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        )
        .into()
}

/// `T`'s schema for a parameter Swagger UI must not prefill (it would clash
/// with a JSON body, which names its own), described by `description`: a
/// `schema_with` parameter loses its doc comment.
pub fn unprefilled<T: utoipa::PartialSchema>(description: &str) -> Schema {
    match T::schema() {
        utoipa::openapi::RefOr::T(Schema::Object(mut object)) => {
            object.examples.clear();
            object.description = Some(description.to_owned());
            Schema::Object(object)
        }
        _ => unreachable!("code schemas are inline objects"),
    }
}

/// The buyer of a CSV upload.
pub fn unprefilled_buyer_schema() -> Schema {
    unprefilled::<Buyer>(
        "For a CSV upload: whom for, an ISO 3166-1 alpha-2 code in upper case or `EU` \
         (required for CSV; a JSON body names its own buyer)",
    )
}
