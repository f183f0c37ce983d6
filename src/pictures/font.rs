//! The embedded font (DejaVu Sans, cut to Latin and the signs the pictures
//! use; `assets/fonts/`): the PNG renderer draws with it, and layout
//! measures text with its advance widths, so text fits its box in PNG
//! exactly and in a browser's fonts nearly.

use std::sync::OnceLock;

use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

pub const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
pub const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold-subset.ttf");

/// The family name both faces carry.
pub const FAMILY: &str = "DejaVu Sans";

/// Advance of a character the font lacks, in em: about a wide letter's.
const MISSING: f32 = 0.62;

/// Each mapped code point's advance in em, sorted by code point.
struct Advances(Vec<(u32, f32)>);

impl Advances {
    fn of(data: &[u8]) -> Advances {
        let font = FontRef::new(data).expect("the embedded font parses");
        // At 1 pixel per em, advances come out in em.
        let metrics = font.glyph_metrics(Size::new(1.0), LocationRef::default());
        let mut advances: Vec<(u32, f32)> = font
            .charmap()
            .mappings()
            .map(|(code, glyph)| (code, metrics.advance_width(glyph).unwrap_or(MISSING)))
            .collect();
        advances.sort_by_key(|(code, _)| *code);
        Advances(advances)
    }

    fn get(&self, c: char) -> f32 {
        self.0
            .binary_search_by_key(&(c as u32), |(code, _)| *code)
            .map_or(MISSING, |i| self.0[i].1)
    }
}

fn advances(bold: bool) -> &'static Advances {
    static REGULAR_ADVANCES: OnceLock<Advances> = OnceLock::new();
    static BOLD_ADVANCES: OnceLock<Advances> = OnceLock::new();
    if bold {
        BOLD_ADVANCES.get_or_init(|| Advances::of(BOLD))
    } else {
        REGULAR_ADVANCES.get_or_init(|| Advances::of(REGULAR))
    }
}

/// The advance of `text`, in em (kerning left out: it only narrows).
pub fn advance(text: &str, bold: bool) -> f64 {
    let advances = advances(bold);
    text.chars().map(|c| advances.get(c) as f64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_come_from_the_font() {
        // DejaVu Sans: `M` is 1767 and `i` 569 of 2048 units per em.
        assert!((advance("M", false) - 1767.0 / 2048.0).abs() < 1e-3);
        assert!((advance("i", false) - 569.0 / 2048.0).abs() < 1e-3);
        assert!(advance("M", true) > advance("M", false));
        assert!((advance("\u{4e2d}", false) - MISSING as f64).abs() < 1e-6);
    }
}
