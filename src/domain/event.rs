//! Export-control events: what China restricted, from when, for whom, and
//! where that is documented. The backtest measures the scores against them.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;

use super::{Buyer, HsCode, ProductId, SourceId};

/// One restriction on exports of minerals or their products.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": "2024-us-gallium-germanium-antimony-ban",
    "title": "Exports of gallium, germanium, antimony and superhard materials to the United States banned in principle",
    "announced_on": "2024-12-03", "in_force_on": "2024-12-03", "measure": "ban",
    "products": ["primary-gallium", "germanium-metal", "antimony-metal"],
    "targets": ["US"],
    "source": {"id": "mofcom-2024-46-us-dual-use",
        "title": "MOFCOM Announcement No. 46 of 2024 on strengthening export control of relevant dual-use items to the United States",
        "publisher": "Ministry of Commerce of the People's Republic of China",
        "url": "https://news.devevil.com/china-bans-export-of-dual-use-metals-to-u-s-in-response-to-sanctions-563958.html",
        "published_on": "2024-12-03"}
}))]
pub struct ControlEvent {
    /// A slug naming the event, unique within a set.
    #[schema(value_type = String, example = "2023-gallium-germanium-licensing")]
    pub id: SourceId,
    /// What was restricted, in a line.
    #[schema(min_length = 1, pattern = r"\S")]
    pub title: String,
    /// `YYYY-MM-DD`: when the measure was announced (or first reported,
    /// where nothing was announced).
    #[schema(value_type = String, format = Date, example = "2023-07-03")]
    pub announced_on: Date,
    /// `YYYY-MM-DD`: when it took effect, on or after `announced_on`.
    #[schema(value_type = String, format = Date, example = "2023-08-01")]
    pub in_force_on: Date,
    /// The kind of measure.
    pub measure: Measure,
    /// The catalogued products it covers (at least one).
    #[schema(min_items = 1)]
    pub products: Vec<ProductId>,
    /// HS 1992 six-digit codes, where the announcement gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hs_codes: Vec<HsCode>,
    /// `everyone`, or the buyers it names (at least one).
    pub targets: Targets,
    /// Where the event is documented.
    pub source: EventSource,
    /// When it was suspended, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
    /// What a reader should know about the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The kind of export restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Exports need a licence.
    Licensing,
    /// Exports are prohibited.
    Ban,
    /// Exports are capped.
    Quota,
    /// Exporting the technology is prohibited or restricted.
    Technology,
}

/// Whom a measure targets: `everyone`, or a list of buyers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Every destination.
    Everyone,
    /// The buyers named.
    Buyers(Vec<Buyer>),
}

impl Targets {
    /// Whether `buyer` is targeted.
    pub fn includes(&self, buyer: Buyer) -> bool {
        match self {
            Targets::Everyone => true,
            Targets::Buyers(buyers) => buyers.contains(&buyer),
        }
    }
}

impl utoipa::PartialSchema for Targets {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .description(Some(
                "`everyone`, or the buyers the measure names (ISO 3166-1 alpha-2 codes or `EU`)",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["everyone"])),
            )
            .item(
                ArrayBuilder::new()
                    .items(<Buyer as utoipa::PartialSchema>::schema())
                    .min_items(Some(1)),
            )
            .examples([serde_json::json!("everyone"), serde_json::json!(["US"])])
            .into()
    }
}

impl ToSchema for Targets {}

impl Serialize for Targets {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Targets::Everyone => serializer.serialize_str("everyone"),
            Targets::Buyers(buyers) => buyers.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Targets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Targets, D::Error> {
        struct TargetsVisitor;
        impl<'de> Visitor<'de> for TargetsVisitor {
            type Value = Targets;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`everyone` or a list of buyers such as [\"US\"]")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Targets, E> {
                if value == "everyone" {
                    Ok(Targets::Everyone)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(value), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Targets, A::Error> {
                let mut buyers = Vec::new();
                while let Some(buyer) = seq.next_element::<Buyer>()? {
                    buyers.push(buyer);
                }
                Ok(Targets::Buyers(buyers))
            }
        }
        deserializer.deserialize_any(TargetsVisitor)
    }
}

/// The citation of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSource {
    /// A slug; where the service's sources hold the same document, its id.
    #[schema(value_type = String, example = "mofcom-2023-23-gallium-germanium")]
    pub id: SourceId,
    /// The document's title.
    #[schema(min_length = 1, pattern = r"\S")]
    pub title: String,
    /// Who published it.
    #[schema(min_length = 1, pattern = r"\S")]
    pub publisher: String,
    /// Where it can be read: an http(s) URL.
    #[schema(pattern = "^https?://", example = "https://www.mofcom.gov.cn/")]
    pub url: String,
    /// `YYYY-MM-DD`: when it was published.
    #[schema(value_type = String, format = Date, example = "2023-07-03")]
    pub published_on: Date,
    /// Where in the document, when it is long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<String>,
}

/// A measure's suspension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    /// `YYYY-MM-DD`: when the suspension was announced.
    #[schema(value_type = String, format = Date)]
    pub announced_on: Date,
    /// `YYYY-MM-DD`: from when the measure is suspended.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// `YYYY-MM-DD`: the last day of the suspension, if it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<Date>,
    /// Where the suspension is documented.
    pub source: EventSource,
}

impl ControlEvent {
    /// The rules serde cannot check, each as (field, message): the field
    /// is a JSON Pointer relative to the event. References to products are
    /// the caller's to check against its catalogue.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut blank = |field: &str, text: &str| {
            if text.trim().is_empty() {
                problems.push((field.to_owned(), "must not be blank".to_owned()));
            }
        };
        blank("/title", &self.title);
        blank("/source/title", &self.source.title);
        blank("/source/publisher", &self.source.publisher);
        if !(self.source.url.starts_with("https://") || self.source.url.starts_with("http://")) {
            problems.push(("/source/url".into(), "must be an http(s) URL".into()));
        }
        if self.in_force_on < self.announced_on {
            problems.push((
                "/in_force_on".into(),
                format!("must not be before `announced_on` ({})", self.announced_on),
            ));
        }
        if self.products.is_empty() {
            problems.push(("/products".into(), "must name at least one product".into()));
        }
        if self.targets == Targets::Buyers(Vec::new()) {
            problems.push((
                "/targets".into(),
                "must name at least one buyer, or be `everyone`".into(),
            ));
        }
        if let Some(suspension) = &self.suspension {
            // A measure can be suspended before it takes effect (No. 70 of
            // 2025 suspended No. 58 a day before it would have).
            if suspension.from < self.announced_on {
                problems.push((
                    "/suspension/from".into(),
                    format!("must not be before `announced_on` ({})", self.announced_on),
                ));
            }
            if suspension
                .until
                .is_some_and(|until| until < suspension.from)
            {
                problems.push((
                    "/suspension/until".into(),
                    "must not be before `from`".into(),
                ));
            }
        }
        problems
    }
}
