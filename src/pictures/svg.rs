//! The SVG every picture is written with: escaped text, numbers at one
//! decimal place (never `-0`), presentation attributes rather than CSS (so
//! any renderer, resvg included, draws them alike), the palettes and text
//! measurement.

use std::fmt::Write;

use super::font;

/// The font stack of every text: the embedded font first (what the PNG
/// renderer has), then what a browser is likely to have.
pub const FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// Dark text and lines.
pub const INK: &str = "#1a1a1a";
/// Secondary text, axes and grid.
pub const MUTED: &str = "#595959";
/// Marks what the reader should find first (the chokepoint, China); Okabe
/// and Ito's vermillion, told apart from the palettes by every common
/// colour-vision deficiency.
pub const ACCENT: &str = "#d55e00";
/// Okabe–Ito blue and orange: the two series of a chart.
pub const SERIES: [&str; 2] = ["#0072b2", "#e69f00"];
/// Land or boxes without data.
pub const NO_DATA: &str = "#e6e6e6";

/// Viridis (matplotlib's perceptually uniform, colour-blind-safe sequential
/// map), nine stops from dark to light.
const VIRIDIS: [[u8; 3]; 9] = [
    [0x44, 0x01, 0x54],
    [0x47, 0x2c, 0x7a],
    [0x3b, 0x51, 0x8b],
    [0x2c, 0x71, 0x8e],
    [0x21, 0x90, 0x8d],
    [0x27, 0xad, 0x81],
    [0x5c, 0xc8, 0x63],
    [0xaa, 0xdc, 0x32],
    [0xfd, 0xe7, 0x25],
];

/// The colour of a share (a fraction 0–1) on reversed viridis: light
/// yellow for none, dark purple for all, so darker always means more.
pub fn share_colour(share: f64) -> [u8; 3] {
    let t = (1.0 - share.clamp(0.0, 1.0)) * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |k: usize| (a[k] as f64 + (b[k] as f64 - a[k] as f64) * f).round() as u8;
    [mix(0), mix(1), mix(2)]
}

pub fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Black or white, whichever reads better on `background` (WCAG relative
/// luminance).
pub fn text_on([r, g, b]: [u8; 3]) -> &'static str {
    let linear = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    // Contrast with white (1.05 / (L + 0.05)) against black ((L + 0.05) / 0.05).
    if 1.05 / (luminance + 0.05) > (luminance + 0.05) / 0.05 {
        "#ffffff"
    } else {
        INK
    }
}

/// A number at one decimal place, `.0` dropped, never `-0`.
pub fn num(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    let text = format!("{rounded:.1}");
    match text.strip_suffix(".0") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// A fraction 0–1 as a whole percentage, `<1%` for a small non-zero one.
pub fn percent(fraction: f64) -> String {
    let points = fraction * 100.0;
    if points > 0.0 && points < 0.5 {
        "<1%".to_owned()
    } else {
        format!("{}%", points.round() as i64)
    }
}

/// A score in points 0–100 at one decimal place.
pub fn points(score: f64) -> String {
    num(score)
}

/// A score that may be unknown (no supply facts on the chain).
pub fn maybe_points(score: Option<f64>) -> String {
    score.map_or_else(|| "unknown (no supply data)".to_owned(), points)
}

/// Text escaped for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 allows no other control characters, nor U+FFFE and U+FFFF.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            '\u{fffe}' | '\u{ffff}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// How a text is set.
#[derive(Debug, Clone, Copy)]
pub struct Font {
    pub size: f64,
    pub bold: bool,
    pub colour: &'static str,
    pub anchor: Anchor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Font {
    pub const fn new(size: f64) -> Font {
        Font {
            size,
            bold: false,
            colour: INK,
            anchor: Anchor::Start,
        }
    }

    pub const fn bold(self) -> Font {
        Font { bold: true, ..self }
    }

    pub const fn colour(self, colour: &'static str) -> Font {
        Font { colour, ..self }
    }

    pub const fn anchor(self, anchor: Anchor) -> Font {
        Font { anchor, ..self }
    }

    /// The width `text` takes in this font, in user units.
    pub fn width(&self, text: &str) -> f64 {
        font::advance(text, self.bold) * self.size
    }

    /// `text`, cut with `…` to fit `width`.
    pub fn fit(&self, text: &str, width: f64) -> String {
        if self.width(text) <= width {
            return text.to_owned();
        }
        let room = width - self.width("…");
        let mut used = 0.0;
        let mut end = 0;
        for (at, c) in text.char_indices() {
            let mut buffer = [0; 4];
            used += self.width(c.encode_utf8(&mut buffer));
            if used > room {
                break;
            }
            end = at + c.len_utf8();
        }
        format!("{}…", text[..end].trim_end())
    }
}

/// An SVG document being written.
pub struct Svg {
    out: String,
    pub width: f64,
    pub height: f64,
}

impl Svg {
    /// Starts a document of `width` × `height` user units (and as many CSS
    /// pixels), each rounded up to a whole pixel, with its accessible title
    /// and description and a white background.
    pub fn new(width: f64, height: f64, title: &str, description: &str) -> Svg {
        let (width, height) = (width.ceil(), height.ceil());
        let mut out = String::with_capacity(16 * 1024);
        let (w, h) = (num(width), num(height));
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"{FONT_FAMILY}\" role=\"img\">\
             <title>{}</title><desc>{}</desc>\
             <rect class=\"background\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>",
            escape(title),
            escape(description),
        );
        Svg { out, width, height }
    }

    /// Opens a group with `attributes` (already escaped).
    pub fn open(&mut self, attributes: &str) {
        let _ = write!(self.out, "<g {attributes}>");
    }

    pub fn close(&mut self) {
        self.out.push_str("</g>");
    }

    /// A raw element (attributes already escaped).
    pub fn raw(&mut self, element: &str) {
        self.out.push_str(element);
    }

    pub fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, attributes: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {attributes}/>",
            num(x),
            num(y),
            num(width),
            num(height)
        );
    }

    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attributes: &str) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {attributes}/>",
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    pub fn path(&mut self, d: &str, attributes: &str) {
        let _ = write!(self.out, "<path d=\"{d}\" {attributes}/>");
    }

    /// A text at (`x`, `y`) (its baseline), with `class` when not empty.
    pub fn text(&mut self, x: f64, y: f64, text: &str, font: Font, class: &str) {
        let anchor = match font.anchor {
            Anchor::Start => "",
            Anchor::Middle => " text-anchor=\"middle\"",
            Anchor::End => " text-anchor=\"end\"",
        };
        let weight = if font.bold {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let class = if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        };
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"{anchor}{weight}{class}>{}</text>",
            num(x),
            num(y),
            num(font.size),
            font.colour,
            escape(text)
        );
    }

    /// The document, closed.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// A cubic curve from `a` to `b` leaving and arriving horizontally, and its
/// midpoint.
pub fn horizontal_curve((x1, y1): (f64, f64), (x2, y2): (f64, f64)) -> (String, (f64, f64)) {
    let bend = ((x2 - x1) / 2.0).max(20.0);
    let d = format!(
        "M{} {}C{} {} {} {} {} {}",
        num(x1),
        num(y1),
        num(x1 + bend),
        num(y1),
        num(x2 - bend),
        num(y2),
        num(x2),
        num(y2)
    );
    // The Bézier at t = 1/2: (P0 + 3 P1 + 3 P2 + P3) / 8.
    let mid = (
        (x1 + 3.0 * (x1 + bend) + 3.0 * (x2 - bend) + x2) / 8.0,
        (y1 + 3.0 * y1 + 3.0 * y2 + y2) / 8.0,
    );
    (d, mid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_never_negative_zero() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(-1.25), "-1.3");
        assert_eq!(percent(0.004), "<1%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.925), "93%");
    }

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot; ");
        assert_eq!(escape("x\u{ffff}y"), "x y");
    }

    #[test]
    fn darker_means_more_and_text_stays_readable() {
        let luminance = |c: [u8; 3]| c.iter().map(|&v| v as u32).sum::<u32>();
        assert!(luminance(share_colour(0.0)) > luminance(share_colour(0.5)));
        assert!(luminance(share_colour(0.5)) > luminance(share_colour(1.0)));
        assert_eq!(hex(share_colour(1.0)), "#440154");
        assert_eq!(text_on(share_colour(1.0)), "#ffffff");
        assert_eq!(text_on(share_colour(0.0)), INK);
    }

    #[test]
    fn long_text_is_cut_to_fit() {
        let font = Font::new(12.0);
        let fitted = font.fit("Permanent-magnet wind turbine generator", 120.0);
        assert!(fitted.ends_with('…'), "{fitted}");
        assert!(font.width(&fitted) <= 120.0);
        assert_eq!(font.fit("Gallium", 120.0), "Gallium");
    }
}
