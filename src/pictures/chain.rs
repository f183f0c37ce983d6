//! The value chain of a product as a left-to-right diagram: one box per
//! product from the raw material to the product scored, coloured by
//! China's share of its stage, with its main origins; the chokepoint and
//! the binding stage of difficulty marked; input shares on the edges; a
//! legend; the method and data versions in the footer.

use std::collections::{BTreeMap, BTreeSet};

use super::svg::{
    hex, horizontal_curve, maybe_points, num, percent, points, share_colour, text_on, Anchor, Font,
    Svg, ACCENT, INK, MUTED, NO_DATA,
};
use super::{date, day_text, fraction, instant, Footer};
use crate::domain::ProductId;
use crate::scoring::{ProductScore, ShareBasis};

/// A product of the chain: its score (for the same buyer, instant and
/// parameters as every other node) and its name.
#[derive(Debug, Clone, Copy)]
pub struct ChainNode<'a> {
    pub score: &'a ProductScore,
    pub name: &'a str,
}

const MARGIN: f64 = 24.0;
const BOX_WIDTH: f64 = 222.0;
const BOX_HEIGHT: f64 = 86.0;
const COLUMN_GAP: f64 = 104.0;
/// Room above a box for its markers and below it for its export controls.
const ABOVE: f64 = 18.0;
const BELOW: f64 = 16.0;
const ROW_GAP: f64 = 14.0;
const HEADER: f64 = 92.0;
const MIN_WIDTH: f64 = 920.0;
/// Origins listed in a box.
const ORIGINS: usize = 3;

const TITLE: Font = Font::new(17.0).bold();
const SUBTITLE: Font = Font::new(12.0).colour(MUTED);
const NAME: Font = Font::new(12.5).bold();
const LINE: Font = Font::new(11.0);
const SMALL: Font = Font::new(10.0);
const EDGE_LABEL: Font = Font::new(10.5).anchor(Anchor::Middle);

struct Placed<'a> {
    node: ChainNode<'a>,
    column: usize,
    x: f64,
    y: f64,
}

/// The diagram of `product`'s chain; `nodes` holds it and its upstream
/// products (others are left out, and an input missing from them is drawn
/// without its edge). `None` when `product` is not among `nodes`.
pub fn chain(product: &ProductId, nodes: &[ChainNode<'_>], data_version: &str) -> Option<String> {
    let by_id: BTreeMap<&ProductId, ChainNode<'_>> =
        nodes.iter().map(|n| (&n.score.product, *n)).collect();
    let root = *by_id.get(product)?;

    // The products reachable from the root through inputs.
    let mut members: BTreeSet<&ProductId> = BTreeSet::new();
    let mut stack = vec![&root.score.product];
    while let Some(id) = stack.pop() {
        if members.insert(id) {
            if let Some(node) = by_id.get(id) {
                stack.extend(
                    node.score
                        .dependency
                        .inputs
                        .iter()
                        .map(|i| &i.product)
                        .filter(|p| by_id.contains_key(p)),
                );
            }
        }
    }
    let inputs_of = |id: &ProductId| -> Vec<&ProductId> {
        by_id[id]
            .score
            .dependency
            .inputs
            .iter()
            .map(|i| &i.product)
            .filter(|p| members.contains(p))
            .collect()
    };

    // Columns: the longest path to the product scored, counted back from
    // the right, so every edge runs left to right, the product stands alone
    // on the right and each input sits as close as it can to what uses it.
    let users_of = |id: &ProductId| -> Vec<&ProductId> {
        members
            .iter()
            .copied()
            .filter(|user| inputs_of(user).contains(&id))
            .collect()
    };
    let mut distance: BTreeMap<&ProductId, usize> = BTreeMap::new();
    fn to_root<'a>(
        id: &'a ProductId,
        users_of: &dyn Fn(&ProductId) -> Vec<&'a ProductId>,
        distance: &mut BTreeMap<&'a ProductId, usize>,
    ) -> usize {
        if let Some(&d) = distance.get(id) {
            return d;
        }
        let d = users_of(id)
            .into_iter()
            .map(|user| to_root(user, users_of, distance) + 1)
            .max()
            .unwrap_or(0);
        distance.insert(id, d);
        d
    }
    for id in &members {
        to_root(id, &users_of, &mut distance);
    }
    let deepest = distance.values().copied().max().unwrap_or(0);
    let column: BTreeMap<&ProductId, usize> =
        distance.iter().map(|(id, d)| (*id, deepest - d)).collect();
    let last = column[&root.score.product];

    // Rows: right to left, each product placed by the mean position of the
    // products it feeds, so edges cross as little as they easily can.
    let mut columns: Vec<Vec<&ProductId>> = vec![Vec::new(); last + 1];
    for (id, &c) in &column {
        columns[c].push(id);
    }
    let mut position: BTreeMap<&ProductId, f64> = BTreeMap::new();
    position.insert(&root.score.product, 0.5);
    for c in (0..last).rev() {
        let mut keyed: Vec<(f64, &ProductId)> = columns[c]
            .iter()
            .map(|id| {
                let users: Vec<f64> = users_of(id)
                    .into_iter()
                    .filter_map(|user| position.get(user).copied())
                    .collect();
                let key = if users.is_empty() {
                    0.5
                } else {
                    users.iter().sum::<f64>() / users.len() as f64
                };
                (key, *id)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let count = keyed.len() as f64;
        for (row, (_, id)) in keyed.iter().enumerate() {
            position.insert(id, (row as f64 + 0.5) / count);
        }
        columns[c] = keyed.into_iter().map(|(_, id)| id).collect();
    }

    let pitch = ABOVE + BOX_HEIGHT + BELOW + ROW_GAP;
    let rows = columns.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let diagram_height = rows * pitch;
    let mut placed: BTreeMap<&ProductId, Placed<'_>> = BTreeMap::new();
    for (c, ids) in columns.iter().enumerate() {
        let offset = (diagram_height - ids.len() as f64 * pitch) / 2.0;
        for (row, id) in ids.iter().enumerate() {
            placed.insert(
                id,
                Placed {
                    node: by_id[*id],
                    column: c,
                    x: MARGIN + c as f64 * (BOX_WIDTH + COLUMN_GAP),
                    y: HEADER + offset + row as f64 * pitch + ABOVE,
                },
            );
        }
    }

    let diagram_width = 2.0 * MARGIN + (last + 1) as f64 * BOX_WIDTH + last as f64 * COLUMN_GAP;
    let width = diagram_width.max(MIN_WIDTH);
    let legend_top = HEADER + diagram_height + 10.0;
    let height = legend_top + LEGEND_HEIGHT + Footer::HEIGHT;

    let score = root.score;
    let chokepoint = score.dependency.chokepoint.as_ref();
    let binding = &score.difficulty.binding;
    let chokepoint_name = chokepoint.map(|c| name_of(&by_id, &c.product));
    let binding_name = name_of(&by_id, &binding.product);
    let description = format!(
        "The value chain of {} for a {} buyer as of {}: {} products. Dependency {}, \
         difficulty {}. Chokepoint: {}. Binding stage of difficulty: {} ({}).",
        root.name,
        score.buyer,
        date(score.as_of),
        members.len(),
        maybe_points(score.dependency.score),
        points(score.difficulty.score),
        chokepoint_name.unwrap_or("none (nothing on the chain is Chinese-controlled)"),
        binding_name,
        binding.stage.as_str(),
    );
    let mut svg = Svg::new(
        width,
        height,
        &format!("{}: value chain", root.name),
        &description,
    );

    // Header.
    svg.open("class=\"header\"");
    svg.text(
        MARGIN,
        30.0,
        &TITLE.fit(
            &format!("{}: the value chain", root.name),
            width - 2.0 * MARGIN,
        ),
        TITLE,
        "title",
    );
    let dependency = match score.dependency.dependency_range {
        Some(range) => format!(
            "{} (range {}–{})",
            maybe_points(score.dependency.score),
            points(range.low),
            points(range.high)
        ),
        None => maybe_points(None),
    };
    let headline = format!(
        "Dependency {dependency} · displacement difficulty {} · {} years to displace",
        points(score.difficulty.score),
        num(score.difficulty.years_to_displace),
    );
    svg.text(
        MARGIN,
        52.0,
        &SUBTITLE.colour(INK).fit(&headline, width - 2.0 * MARGIN),
        SUBTITLE.colour(INK),
        "headline",
    );
    let context = format!(
        "For a {} buyer · as of {} · view {} · chain {} · chokepoint {} · binding stage of difficulty {}",
        score.buyer,
        date(score.as_of),
        score.params.view.as_str(),
        chain_name(score),
        chokepoint_name.unwrap_or("none"),
        binding_name,
    );
    svg.text(
        MARGIN,
        70.0,
        &SUBTITLE.fit(&context, width - 2.0 * MARGIN),
        SUBTITLE,
        "context",
    );
    svg.close();

    // Edges first, so boxes sit on top of them.
    let on_path: BTreeSet<(&ProductId, &ProductId)> = chokepoint
        .map(|c| c.path.windows(2).map(|w| (&w[1], &w[0])).collect())
        .unwrap_or_default();
    svg.open("class=\"edges\"");
    for user in placed.values() {
        for input in &user.node.score.dependency.inputs {
            let Some(from) = placed.get(&input.product) else {
                continue;
            };
            let start = (from.x + BOX_WIDTH, from.y + BOX_HEIGHT / 2.0);
            let end = (user.x, user.y + BOX_HEIGHT / 2.0);
            let (d, mid) = horizontal_curve(start, end);
            let highlighted = on_path.contains(&(&input.product, &user.node.score.product));
            let colour = if highlighted { ACCENT } else { MUTED };
            let stroke =
                1.2 + 3.0 * input.share.clamp(0.0, 1.0) + if highlighted { 1.0 } else { 0.0 };
            let dash = if input.essential {
                ""
            } else {
                " stroke-dasharray=\"6 4\""
            };
            svg.open(&format!(
                "class=\"edge{}\" data-from=\"{}\" data-to=\"{}\" data-share=\"{}\"",
                if highlighted { " chokepoint-path" } else { "" },
                input.product,
                user.node.score.product,
                fraction(input.share),
            ));
            svg.path(
                &d,
                &format!(
                    "fill=\"none\" stroke=\"{colour}\" stroke-width=\"{}\"{dash}",
                    num(stroke)
                ),
            );
            let label = percent(input.share);
            let label_width = EDGE_LABEL.width(&label) + 8.0;
            svg.rect(
                mid.0 - label_width / 2.0,
                mid.1 - 8.5,
                label_width,
                15.0,
                &format!("rx=\"3\" fill=\"#ffffff\" stroke=\"{colour}\" stroke-width=\"0.8\""),
            );
            svg.text(
                mid.0,
                mid.1 + 3.5,
                &label,
                EDGE_LABEL.colour(if highlighted { ACCENT } else { INK }),
                "share",
            );
            svg.close();
        }
    }
    svg.close();

    svg.open("class=\"nodes\"");
    for place in placed.values() {
        draw_node(&mut svg, place, score);
    }
    svg.close();

    legend(&mut svg, legend_top);
    Footer {
        methodology_version: &score.methodology_version,
        data_version,
    }
    .draw(
        &mut svg,
        &format!("{} buyer · as of {}", score.buyer, instant(score.as_of)),
    );
    Some(svg.finish())
}

/// `text` in at most two lines of `width`, words kept whole where they
/// fit, the second cut with `…` if need be.
fn wrap(text: &str, font: Font, width: f64) -> Vec<String> {
    if font.width(text) <= width {
        return vec![text.to_owned()];
    }
    let words: Vec<&str> = text.split(' ').collect();
    let mut first = String::new();
    let mut taken = 0;
    for word in &words {
        let candidate = if first.is_empty() {
            (*word).to_owned()
        } else {
            format!("{first} {word}")
        };
        if font.width(&candidate) > width {
            break;
        }
        first = candidate;
        taken += 1;
    }
    if taken == 0 {
        return vec![font.fit(text, width)];
    }
    let rest = words[taken..].join(" ");
    vec![first, font.fit(&rest, width)]
}

fn name_of<'a>(by_id: &BTreeMap<&ProductId, ChainNode<'a>>, id: &ProductId) -> &'a str {
    by_id.get(id).map_or("?", |n| n.name)
}

fn chain_name(score: &ProductScore) -> &'static str {
    match score.params.chain {
        crate::scoring::Chain::Bottleneck => "bottleneck",
        crate::scoring::Chain::Independent => "independent",
    }
}

/// One product's box: name, China's share of its stage, its scores, its
/// main origins, and the marks that concern it.
fn draw_node(svg: &mut Svg, place: &Placed<'_>, root: &ProductScore) {
    let score = place.node.score;
    let share = &score.dependency.china_share;
    let has_share = share.basis != ShareBasis::None;
    let fill = if has_share {
        share_colour(share.value)
    } else {
        [0xe6, 0xe6, 0xe6]
    };
    let ink = text_on(fill);
    let is_chokepoint = root
        .dependency
        .chokepoint
        .as_ref()
        .is_some_and(|c| c.product == score.product);
    let is_binding = root.difficulty.binding.product == score.product;
    let mut classes = String::from("node");
    if is_chokepoint {
        classes.push_str(" chokepoint");
    }
    if is_binding {
        classes.push_str(" binding");
    }
    if score.product == root.product {
        classes.push_str(" scored");
    }
    svg.open(&format!(
        "class=\"{classes}\" data-product=\"{}\" data-stage=\"{}\" data-china-share=\"{}\" data-column=\"{}\"",
        score.product,
        score.stage.as_str(),
        fraction(share.value),
        place.column,
    ));
    let (x, y) = (place.x, place.y);
    let fill_hex = if has_share {
        hex(fill)
    } else {
        NO_DATA.to_owned()
    };
    let (stroke, stroke_width) = if is_chokepoint {
        (ACCENT, 4.0)
    } else {
        (INK, 1.0)
    };
    svg.rect(
        x,
        y,
        BOX_WIDTH,
        BOX_HEIGHT,
        &format!(
            "rx=\"6\" fill=\"{fill_hex}\" stroke=\"{stroke}\" stroke-width=\"{}\"",
            num(stroke_width)
        ),
    );
    if is_binding {
        svg.rect(
            x + 4.5,
            y + 4.5,
            BOX_WIDTH - 9.0,
            BOX_HEIGHT - 9.0,
            &format!(
                "rx=\"4\" fill=\"none\" stroke=\"{ink}\" stroke-width=\"1.6\" stroke-dasharray=\"5 3\""
            ),
        );
    }
    let inner = BOX_WIDTH - 20.0;
    let text = |font: Font| font.colour(ink);
    let name = wrap(place.node.name, NAME, inner);
    let name_y = if name.len() == 1 { y + 24.0 } else { y + 18.0 };
    for (i, line) in name.iter().enumerate() {
        svg.text(x + 10.0, name_y + 14.0 * i as f64, line, text(NAME), "name");
    }
    let stage_line = if has_share {
        format!("{} · China {}", score.stage.as_str(), percent(share.value))
    } else {
        format!("{} · no share recorded", score.stage.as_str())
    };
    svg.text(
        x + 10.0,
        y + 48.0,
        &LINE.fit(&stage_line, inner),
        text(LINE),
        "china-share",
    );
    let scores = format!(
        "dependency {} · difficulty {}",
        maybe_points(score.dependency.score),
        points(score.difficulty.score)
    );
    svg.text(
        x + 10.0,
        y + 63.0,
        &LINE.fit(&scores, inner),
        text(LINE),
        "scores",
    );
    let mut origins: Vec<_> = share.countries.iter().filter(|c| c.share > 0.0).collect();
    origins.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.country.cmp(&b.country)));
    if !origins.is_empty() {
        let listed: Vec<String> = origins
            .iter()
            .take(ORIGINS)
            .map(|c| format!("{} {}", c.country, percent(c.share)))
            .collect();
        svg.text(
            x + 10.0,
            y + 78.0,
            &SMALL.fit(&listed.join(" · "), inner),
            text(SMALL),
            "origins",
        );
    }

    // Marks above the box.
    let mut tag_x = x;
    if is_chokepoint {
        let label = "▲ chokepoint";
        let font = SMALL.bold().colour(ACCENT);
        svg.text(tag_x, y - 6.0, label, font, "mark-chokepoint");
        tag_x += font.width(label) + 10.0;
    }
    if is_binding {
        let label = "◆ binding difficulty";
        svg.text(tag_x, y - 6.0, label, SMALL.bold(), "mark-binding");
    }

    // Export controls on this product itself, below the box.
    let own: Vec<_> = score
        .pressure
        .iter()
        .filter(|p| !p.upstream && p.product == score.product)
        .collect();
    if let Some(first) = own.first() {
        let mut label = match first.takes_effect_on {
            Some(day) => format!(
                "{} {} announced, from {}",
                first.country,
                first.level_label,
                day_text(day)
            ),
            None => format!(
                "{} export control: {} ({})",
                first.country,
                first.level_label,
                first.status.as_str().replace('_', " ")
            ),
        };
        if own.len() > 1 {
            label.push_str(&format!(" +{}", own.len() - 1));
        }
        svg.text(
            x,
            y + BOX_HEIGHT + 12.0,
            &SMALL.colour(MUTED).fit(&label, BOX_WIDTH),
            SMALL.colour(MUTED),
            "export-control",
        );
    }
    svg.close();
}

/// The key's height; it fits in [`MIN_WIDTH`].
const LEGEND_HEIGHT: f64 = 96.0;

/// The key: the colour ramp, the marks and the edge styles.
fn legend(svg: &mut Svg, top: f64) {
    svg.open("class=\"legend\"");
    let heading = Font::new(11.0).bold();
    let label = Font::new(10.5);
    svg.text(
        MARGIN,
        top + 12.0,
        "China's share of each product's own stage (Chinese plus Chinese-controlled output)",
        heading,
        "legend-title",
    );
    let swatch = 34.0;
    for i in 0..10 {
        let share = (i as f64 + 0.5) / 10.0;
        svg.rect(
            MARGIN + i as f64 * swatch,
            top + 20.0,
            swatch,
            14.0,
            &format!("fill=\"{}\"", hex(share_colour(share))),
        );
    }
    for (i, tick) in ["0%", "50%", "100%"].iter().enumerate() {
        svg.text(
            MARGIN + i as f64 * 5.0 * swatch,
            top + 46.0,
            tick,
            label.anchor(if i == 0 {
                Anchor::Start
            } else if i == 2 {
                Anchor::End
            } else {
                Anchor::Middle
            }),
            "",
        );
    }
    svg.rect(
        MARGIN + 10.0 * swatch + 14.0,
        top + 20.0,
        swatch,
        14.0,
        &format!("fill=\"{NO_DATA}\" stroke=\"{MUTED}\" stroke-width=\"0.5\""),
    );
    svg.text(
        MARGIN + 11.0 * swatch + 20.0,
        top + 31.0,
        "no share recorded",
        label,
        "",
    );

    // Marks.
    let row = top + 66.0;
    let mut x = MARGIN;
    svg.rect(
        x,
        row - 10.0,
        22.0,
        13.0,
        &format!("rx=\"3\" fill=\"none\" stroke=\"{ACCENT}\" stroke-width=\"3\""),
    );
    x += 28.0;
    let text = "▲ chokepoint: the stage that bounds the dependency";
    svg.text(x, row, text, label, "");
    x += label.width(text) + 18.0;
    svg.rect(
        x,
        row - 10.0,
        22.0,
        13.0,
        &format!(
            "rx=\"3\" fill=\"none\" stroke=\"{INK}\" stroke-width=\"1.4\" stroke-dasharray=\"4 2\""
        ),
    );
    x += 28.0;
    let text = "◆ binding: the stage whose difficulty is the chain's";
    svg.text(x, row, text, label, "");

    let row = top + 86.0;
    let mut x = MARGIN;
    for (dash, colour, text) in [
        ("", MUTED, "essential input"),
        (" stroke-dasharray=\"6 4\"", MUTED, "substitutable input"),
        ("", ACCENT, "on the path to the chokepoint"),
    ] {
        svg.line(
            (x, row - 4.0),
            (x + 30.0, row - 4.0),
            &format!("stroke=\"{colour}\" stroke-width=\"2.5\"{dash}"),
        );
        x += 36.0;
        svg.text(x, row, text, label, "");
        x += label.width(text) + 18.0;
    }
    let text = "85%: the input's share of the product's input needs";
    svg.text(x, row, text, label, "");
    svg.close();
}
