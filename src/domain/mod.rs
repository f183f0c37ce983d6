//! Domain types: the vocabulary of the service, parsed once at the edge
//! ("parse, don't validate") and trusted everywhere else.

mod country;
mod metric;
mod period;
mod product;
mod source;
mod stage;
mod status;

pub use country::{Buyer, CountryCode, EU_MEMBERS};
pub use metric::{Metric, MetricSpec, NormaliseError, Scope, Unit, ValueKind};
pub use period::Period;
pub use product::{ProductId, ProductInput};
pub use source::{SourceId, SourceKind};
pub use stage::Stage;
pub use status::FactStatus;
