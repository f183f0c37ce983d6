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

/// Renders `svg` at its own size (one pixel per user unit), on the
/// background the SVG paints.
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
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).ok_or(PngError::Size)?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::identity(),
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
}
