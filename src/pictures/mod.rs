//! Pictures for analysts: the value chain, the trend and the world map of a
//! product, drawn as SVG from values the method has already computed (no
//! IO, no clock: the same inputs give the same bytes), and rendered to PNG
//! with resvg and an embedded font.
//!
//! - [`chain`]: a product's chain from raw material to the product, each
//!   box coloured by China's share of its stage;
//! - [`history`]: dependency and difficulty over time, with Monte Carlo
//!   bands and export controls on the time axis;
//! - [`map`]: world supply of a product by country, China marked.
//!
//! Text is real `<text>`; colours come from viridis (sequential) and Okabe
//! and Ito's palette (marks and series), both readable with the common
//! colour-vision deficiencies; every mark also has a shape or a label.
//! Elements carry `class` and `data-*` attributes naming what they show,
//! for tests and for anyone scripting the SVG.

mod chain;
mod font;
mod history;
mod map;
pub mod png;
mod svg;

pub use chain::{chain, ChainNode};
pub use history::{history, HistoryInput};
pub use map::map;

use time::{Date, OffsetDateTime};

use svg::{Font, Svg, MUTED};

/// The footer every picture ends with: where it comes from and which
/// method and data it shows.
pub(crate) struct Footer<'a> {
    pub methodology_version: &'a str,
    pub data_version: &'a str,
}

impl Footer<'_> {
    pub const HEIGHT: f64 = 30.0;

    /// Draws the footer along the bottom of `svg`, with `note` after the
    /// versions.
    pub fn draw(&self, svg: &mut Svg, note: &str) {
        let font = Font::new(10.5).colour(MUTED);
        let y = svg.height - 11.0;
        let width = svg.width;
        svg.open("class=\"footer\"");
        svg.line(
            (24.0, y - 14.0),
            (width - 24.0, y - 14.0),
            "stroke=\"#cccccc\" stroke-width=\"0.8\"",
        );
        let text = format!(
            "Chokepoint · methodology {} · data version {} · {note}",
            self.methodology_version, self.data_version
        );
        svg.text(24.0, y, &font.fit(&text, width - 48.0), font, "footer-text");
        svg.close();
    }
}

/// A fraction as the API writes derived numbers: at most 4 decimal places.
fn fraction(x: f64) -> String {
    let rounded = (x * 10_000.0).round() / 10_000.0;
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    format!("{rounded}")
}

/// The day of an instant, UTC.
fn date(at: OffsetDateTime) -> String {
    day_text(at.to_offset(time::UtcOffset::UTC).date())
}

fn day_text(day: Date) -> String {
    day.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// An instant, UTC, to the second.
fn instant(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}
