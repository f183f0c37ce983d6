//! World supply of a product by country: each country shaded by its share
//! of the stage's supply (the rows China's share is read from: production,
//! else operating capacity, else published market shares), China outlined
//! and labelled, output abroad under Chinese control outlined dashed, and
//! the largest suppliers listed beside the map. The outlines are Natural
//! Earth's (`assets/map/`).

use std::sync::OnceLock;

use super::svg::{
    escape, hex, num, percent, share_colour, Anchor, Font, Svg, ACCENT, INK, MUTED, NO_DATA,
};
use super::{date, fraction, Footer};
use crate::domain::CountryCode;
use crate::scoring::{CountryShare, ProductScore, ShareBasis};

const WORLD: &str = include_str!("../../assets/map/world.tsv");

struct Country {
    code: &'static str,
    name: &'static str,
    label: (f64, f64),
    path: &'static str,
}

struct World {
    width: f64,
    height: f64,
    countries: Vec<Country>,
}

fn world() -> &'static World {
    static PARSED: OnceLock<World> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut lines = WORLD.lines();
        let header = lines.next().expect("world.tsv has a header");
        let size: Vec<f64> = header
            .rsplit('\t')
            .next()
            .expect("the header ends with the frame's size")
            .split(' ')
            .map(|v| v.parse().expect("a number"))
            .collect();
        let countries = lines
            .map(|line| {
                let mut fields = line.splitn(4, '\t');
                let mut next = || fields.next().expect("four fields a line");
                let (code, name, label, path) = (next(), next(), next(), next());
                let (x, y) = label.split_once(' ').expect("a label point");
                Country {
                    code,
                    name,
                    label: (x.parse().expect("x"), y.parse().expect("y")),
                    path,
                }
            })
            .collect();
        World {
            width: size[0],
            height: size[1],
            countries,
        }
    })
}

const WIDTH: f64 = 1040.0;
const MARGIN: f64 = 24.0;
const MAP_TOP: f64 = 92.0;
const MAP_SCALE: f64 = 0.74;
const PANEL_LEFT: f64 = 784.0;
const LISTED: usize = 12;
/// Room for a supplier's code and name before its bar.
const NAMES: f64 = 100.0;
const LABELLED: usize = 5;

/// Upper bounds of the shading classes (fractions of world supply).
const CLASSES: [f64; 5] = [0.01, 0.05, 0.10, 0.25, 0.50];
const CLASS_LABELS: [&str; 6] = ["<1%", "1–5%", "5–10%", "10–25%", "25–50%", "≥50%"];

fn class_of(share: f64) -> usize {
    CLASSES.iter().take_while(|bound| share >= **bound).count()
}

fn class_colour(class: usize) -> [u8; 3] {
    share_colour(0.06 + 0.178 * class as f64)
}

const TITLE: Font = Font::new(17.0).bold();
const SUBTITLE: Font = Font::new(12.0).colour(MUTED);
const LABEL: Font = Font::new(10.5);

/// The map of `score`'s product (`name`), from its China's-share rows.
pub fn map(name: &str, score: &ProductScore, data_version: &str) -> String {
    let world = world();
    let share = &score.dependency.china_share;
    let mut rows: Vec<&CountryShare> = share.countries.iter().collect();
    rows.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.country.cmp(&b.country)));
    let row_of = |code: &str| rows.iter().find(|r| r.country.as_str() == code).copied();

    let map_height = world.height * MAP_SCALE;
    let legend_top = MAP_TOP + map_height + 18.0;
    let panel_height = 40.0 + 22.0 * rows.len().min(LISTED) as f64;
    let height = (legend_top + 44.0).max(MAP_TOP + panel_height) + Footer::HEIGHT + 8.0;

    let basis = match share.basis {
        ShareBasis::Production => "production",
        ShareBasis::OperatingCapacity => "operating capacity",
        ShareBasis::MarketShare => "published market shares",
        ShareBasis::ExportShare => "shares of world exports, not of production",
        ShareBasis::None => "nothing recorded",
    };
    let china = row_of("CN");
    let description = format!(
        "World supply of {} by country ({basis}) as of {}: China {} of the stage including \
         Chinese-controlled output abroad; {} countries recorded.",
        name,
        date(score.as_of),
        percent(share.value),
        rows.len()
    );
    let mut svg = Svg::new(
        WIDTH,
        height,
        &format!("{name}: world supply by country"),
        &description,
    );

    svg.open("class=\"header\"");
    svg.text(
        MARGIN,
        30.0,
        &TITLE.fit(
            &format!("{name}: world supply by country"),
            WIDTH - 2.0 * MARGIN,
        ),
        TITLE,
        "title",
    );
    let headline = match share.basis {
        ShareBasis::None => {
            "No production, capacity or market share recorded for this stage".to_owned()
        }
        _ => {
            let in_china = china.map_or(0.0, |c| c.share);
            let abroad = if (share.value - in_china).abs() > 0.005 {
                format!(
                    " ({} in China, the rest Chinese-controlled abroad)",
                    percent(in_china)
                )
            } else {
                String::new()
            };
            format!(
                "China {} of the stage{abroad} · shares of {basis} · concentration (HHI, 0–1) {}",
                percent(share.value),
                super::fraction((share.hhi * 100.0).round() / 100.0),
            )
        }
    };
    svg.text(
        MARGIN,
        52.0,
        &SUBTITLE.colour(INK).fit(&headline, WIDTH - 2.0 * MARGIN),
        SUBTITLE.colour(INK),
        "headline",
    );
    let context = format!(
        "{} ({}) · as of {} · view {} · Natural Earth 1:110m, Equal Earth projection",
        score.product,
        score.stage.as_str(),
        date(score.as_of),
        score.params.view.as_str()
    );
    svg.text(
        MARGIN,
        70.0,
        &SUBTITLE.fit(&context, WIDTH - 2.0 * MARGIN),
        SUBTITLE,
        "context",
    );
    svg.close();

    // The countries.
    svg.open(&format!(
        "class=\"map\" transform=\"translate({} {}) scale({MAP_SCALE})\"",
        num(MARGIN),
        num(MAP_TOP)
    ));
    svg.rect(0.0, 0.0, world.width, world.height, "fill=\"#f4f8fb\"");
    for country in &world.countries {
        let row = row_of(country.code).filter(|r| r.share > 0.0);
        let fill = row.map_or_else(
            || NO_DATA.to_owned(),
            |r| hex(class_colour(class_of(r.share))),
        );
        let tooltip = match row {
            Some(r) => format!("{}: {} of world {basis}", country.name, percent(r.share)),
            None => format!("{}: none recorded", country.name),
        };
        let data = row.map_or_else(String::new, |r| {
            format!(" data-share=\"{}\"", fraction(r.share))
        });
        svg.raw(&format!(
            "<path class=\"country\" data-country=\"{}\"{data} d=\"{}\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"0.7\"><title>{}</title></path>",
            country.code,
            country.path,
            escape(&tooltip)
        ));
    }
    // Output abroad under Chinese control, then China, on top.
    for country in &world.countries {
        let Some(row) = row_of(country.code) else {
            continue;
        };
        if row.country != CountryCode::CN && row.china_controlled > 0.0 && row.share > 0.0 {
            svg.path(
                country.path,
                &format!(
                    "class=\"chinese-controlled\" data-country=\"{}\" fill=\"none\" stroke=\"{ACCENT}\" stroke-width=\"2\" stroke-dasharray=\"4 2\"",
                    country.code
                ),
            );
        }
    }
    if let Some(cn) = world.countries.iter().find(|c| c.code == "CN") {
        svg.path(
            cn.path,
            &format!(
                "class=\"china\" data-country=\"CN\" fill=\"none\" stroke=\"{ACCENT}\" stroke-width=\"3\""
            ),
        );
    }
    svg.close();

    // Labels on the map: China, then the largest other suppliers.
    svg.open("class=\"labels\"");
    let at = |(x, y): (f64, f64)| (MARGIN + x * MAP_SCALE, MAP_TOP + y * MAP_SCALE);
    let mut labelled = 0;
    for row in rows.iter().filter(|r| r.share > 0.0) {
        let Some(country) = world
            .countries
            .iter()
            .find(|c| c.code == row.country.as_str())
        else {
            continue;
        };
        let is_china = row.country == CountryCode::CN;
        if !is_china {
            if labelled == LABELLED || row.share < 0.05 {
                continue;
            }
            labelled += 1;
        }
        let (x, y) = at(country.label);
        let (text, font) = if is_china {
            (
                format!("China {}", percent(row.share)),
                Font::new(12.0).bold().colour(ACCENT).anchor(Anchor::Middle),
            )
        } else {
            (
                format!("{} {}", row.country, percent(row.share)),
                Font::new(10.5).bold().anchor(Anchor::Middle),
            )
        };
        let w = font.width(&text) + 8.0;
        svg.rect(
            x - w / 2.0,
            y - font.size,
            w,
            font.size + 5.0,
            &format!(
                "rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.88\" stroke=\"{}\" stroke-width=\"0.8\"",
                if is_china { ACCENT } else { MUTED }
            ),
        );
        svg.text(
            x,
            y,
            &text,
            font,
            if is_china {
                "label china-label"
            } else {
                "label"
            },
        );
    }
    svg.close();

    // The largest suppliers.
    svg.open("class=\"suppliers\"");
    svg.text(
        PANEL_LEFT,
        MAP_TOP + 10.0,
        "Largest suppliers",
        LABEL.bold(),
        "suppliers-title",
    );
    svg.text(
        PANEL_LEFT,
        MAP_TOP + 25.0,
        &format!("share of world {basis}"),
        LABEL.colour(MUTED),
        "",
    );
    let bar_max = WIDTH - MARGIN - PANEL_LEFT - NAMES - 40.0;
    for (i, row) in rows.iter().take(LISTED).enumerate() {
        let y = MAP_TOP + 46.0 + 22.0 * i as f64;
        let is_china = row.country == CountryCode::CN;
        svg.open(&format!(
            "class=\"supplier{}\" data-country=\"{}\" data-share=\"{}\"",
            if is_china { " china" } else { "" },
            row.country,
            fraction(row.share)
        ));
        let font = if is_china {
            LABEL.bold().colour(ACCENT)
        } else {
            LABEL
        };
        svg.text(
            PANEL_LEFT,
            y,
            &font.fit(
                &format!("{} {}", row.country, row.country.name()),
                NAMES - 6.0,
            ),
            font,
            "",
        );
        let bar = (row.share.clamp(0.0, 1.0) * bar_max).max(1.0);
        svg.rect(
            PANEL_LEFT + NAMES,
            y - 10.0,
            bar,
            12.0,
            &format!(
                "fill=\"{}\"{}",
                hex(class_colour(class_of(row.share))),
                if is_china {
                    format!(" stroke=\"{ACCENT}\" stroke-width=\"2\"")
                } else {
                    String::new()
                }
            ),
        );
        let mut text = percent(row.share);
        if !is_china && row.china_controlled > 0.0 {
            text.push_str(" ◆");
        }
        svg.text(PANEL_LEFT + NAMES + 4.0 + bar, y, &text, font, "");
        svg.close();
    }
    if rows.len() > LISTED {
        svg.text(
            PANEL_LEFT,
            MAP_TOP + 46.0 + 22.0 * LISTED as f64,
            &format!("and {} more", rows.len() - LISTED),
            LABEL.colour(MUTED),
            "",
        );
    }
    svg.close();

    // Legend.
    svg.open("class=\"legend\"");
    let y = legend_top;
    svg.text(
        MARGIN,
        y,
        &format!("Share of world {basis}"),
        LABEL.bold(),
        "legend-title",
    );
    let mut x = MARGIN;
    for (class, label) in CLASS_LABELS.iter().enumerate() {
        svg.rect(
            x,
            y + 8.0,
            44.0,
            13.0,
            &format!("fill=\"{}\"", hex(class_colour(class))),
        );
        svg.text(x + 22.0, y + 34.0, label, LABEL.anchor(Anchor::Middle), "");
        x += 48.0;
    }
    x += 14.0;
    svg.rect(x, y + 8.0, 44.0, 13.0, &format!("fill=\"{NO_DATA}\""));
    svg.text(x + 50.0, y + 19.0, "none recorded", LABEL, "");
    x += 50.0 + LABEL.width("none recorded") + 24.0;
    svg.rect(
        x,
        y + 8.0,
        30.0,
        13.0,
        &format!("fill=\"none\" stroke=\"{ACCENT}\" stroke-width=\"2.5\""),
    );
    svg.text(x + 36.0, y + 19.0, "China", LABEL, "");
    x += 90.0;
    svg.rect(
        x,
        y + 8.0,
        30.0,
        13.0,
        &format!("fill=\"none\" stroke=\"{ACCENT}\" stroke-width=\"2\" stroke-dasharray=\"4 2\""),
    );
    svg.text(
        x + 36.0,
        y + 19.0,
        "◆ output partly under Chinese control",
        LABEL,
        "",
    );
    svg.close();

    Footer {
        methodology_version: &score.methodology_version,
        data_version,
    }
    .draw(&mut svg, "geometry: Natural Earth (public domain)");
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_geometry_names_real_countries() {
        let world = world();
        assert!(world.width == 1000.0 && world.height > 400.0);
        assert!(world.countries.len() > 170);
        for country in &world.countries {
            assert!(
                country.code == "--" || CountryCode::parse(country.code).is_some(),
                "{}",
                country.code
            );
            assert!(country.path.starts_with('M'), "{}", country.code);
        }
        assert!(world.countries.iter().any(|c| c.code == "CN"));
    }

    #[test]
    fn shares_fall_into_classes() {
        assert_eq!(class_of(0.0), 0);
        assert_eq!(class_of(0.01), 1);
        assert_eq!(class_of(0.3), 4);
        assert_eq!(class_of(0.9), 5);
    }
}
