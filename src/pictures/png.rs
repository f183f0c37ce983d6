//! SVG to PNG with resvg, using only the embedded font: the same SVG gives
//! the same PNG on any machine, whatever fonts it has installed. Nothing is
//! read from disk or the network (an `<image>` reference resolves to
//! nothing; the pictures have none).

use std::sync::{Arc, OnceLock};

use resvg::usvg::{self, fontdb};

use super::font;

#[derive(Debug, thiserror::Error)]
pub enum PngError {
    #[error("the SVG does not parse: {0}")]
    Parse(#[from] usvg::Error),
    #[error("the picture has no area or is too large to render")]
    Size,
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

fn fonts() -> Arc<fontdb::Database> {
    static FONTS: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut database = fontdb::Database::new();
            database.load_font_data(font::REGULAR.to_vec());
            database.load_font_data(font::BOLD.to_vec());
            database.set_sans_serif_family(font::FAMILY);
            database.set_serif_family(font::FAMILY);
            database.set_monospace_family(font::FAMILY);
            Arc::new(database)
        })
        .clone()
}

/// Most pixels a PNG has: a larger picture (a chain of hundreds of
/// products) is scaled down to fit, so memory stays bounded.
pub const MAX_PIXELS: f64 = 16_000_000.0;
/// Most pixels on either side.
pub const MAX_SIDE: f64 = 16_000.0;

/// Renders `svg` at its own size (one pixel per user unit), or scaled down
/// to at most [`MAX_PIXELS`] and [`MAX_SIDE`], on the background the SVG
/// paints.
pub fn render(svg: &str) -> Result<Vec<u8>, PngError> {
    let options = usvg::Options {
        font_family: font::FAMILY.to_owned(),
        fontdb: fonts(),
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data: Box::new(|_, _, _| None),
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)?;
    let (width, height) = (tree.size().width() as f64, tree.size().height() as f64);
    let scale = (MAX_PIXELS / (width * height))
        .sqrt()
        .min(MAX_SIDE / width)
        .min(MAX_SIDE / height)
        .min(1.0);
    let (w, h) = (
        (width * scale).ceil().max(1.0) as u32,
        (height * scale).ceil().max(1.0) as u32,
    );
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).ok_or(PngError::Size)?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale as f32, scale as f32),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| PngError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_renders_with_the_embedded_font() {
        let svg = |text: &str| {
            format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"80\" height=\"20\">\
                 <rect width=\"80\" height=\"20\" fill=\"#fff\"/>\
                 <text x=\"2\" y=\"15\" font-size=\"12\" font-family=\"DejaVu Sans, sans-serif\">{text}</text></svg>"
            )
        };
        let blank = render(&svg("")).unwrap();
        let written = render(&svg("Gallium")).unwrap();
        assert_eq!(&written[..8], b"\x89PNG\r\n\x1a\n");
        assert_ne!(blank, written, "the text is drawn");
        assert_eq!(written, render(&svg("Gallium")).unwrap(), "deterministic");
    }

    #[test]
    fn a_huge_picture_is_scaled_down() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"40000\">\
                   <rect width=\"1000\" height=\"40000\" fill=\"#fff\"/></svg>";
        let png = render(svg).unwrap();
        let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        let (w, h) = (word(16) as f64, word(20) as f64);
        assert!(w * h <= MAX_PIXELS * 1.01 && h <= MAX_SIDE, "{w} × {h}");
        assert!(
            (w / h - 1000.0 / 40000.0).abs() < 0.01,
            "the aspect ratio is kept"
        );
    }
}
