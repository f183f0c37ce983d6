//! Domain types: the vocabulary of the service, parsed once at the edge
//! ("parse, don't validate") and trusted everywhere else.

mod as_of;
mod country;
mod currency;
mod event;
mod fact;
mod hs_code;
mod key;
mod metric;
mod period;
mod product;
mod records;
mod source;
mod stage;
mod status;
pub mod text;
mod view;
mod watch;

pub use as_of::AsOf;
pub use country::{Buyer, CountryCode, EU_MEMBERS};
pub use currency::Currency;
pub use event::{ControlEvent, EventSource, Measure, Suspension, Targets};
pub use fact::{
    parse_publication_date, Fact, FieldProblem, HypotheticalFact, NewFact, MAX_QUOTE_CHARS,
};
pub use hs_code::HsCode;
pub use key::{constant_time_eq, hex, KeySecret, Scope};
pub use metric::{Metric, MetricScope, MetricSpec, NormaliseError, Unit, ValueKind};
pub use period::Period;
pub use product::{find_cycle, NewProduct, NewProductInput, Product, ProductId, ProductInput};
pub use records::{FactDefaults, FactRecord, ProductRecord, SourceRecord};
pub use source::{NewSource, Source, SourceId, SourceKind};
pub use stage::Stage;
pub use status::FactStatus;
pub use view::{Knowledge, View};
pub use watch::{
    is_public, Condition, ControlChange, Crossing, EventType, WatchedScore, WebhookUrl,
};
