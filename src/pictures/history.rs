//! A product's scores over time: dependency and displacement difficulty for
//! a buyer, each with its Monte Carlo p5–p95 band, and the export controls
//! marked on the time axis where they take effect, numbered and listed
//! with their dates.

use time::{Date, Month, OffsetDateTime};

use super::svg::{maybe_points, num, points, Anchor, Font, Svg, ACCENT, INK, MUTED, SERIES};
use super::{date, day_text, Footer};
use crate::scoring::{Chain, History, Intervals, Pressure};

/// A series' p5 and p95 in a point's intervals.
type BandOf = fn(&Intervals) -> (f64, f64);

/// What the trend is drawn from.
#[derive(Debug, Clone, Copy)]
pub struct HistoryInput<'a> {
    /// The product's name.
    pub name: &'a str,
    pub history: &'a History,
    /// The chain aggregation the points were scored under.
    pub chain: Chain,
    /// Each point's Monte Carlo intervals, in the order of the points;
    /// a point without them has no band.
    pub bands: &'a [Option<Intervals>],
    /// The export controls listed at any point: on the product or upstream,
    /// in force, suspended or announced.
    pub controls: &'a [Pressure],
    pub data_version: &'a str,
}

const WIDTH: f64 = 920.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 896.0;
const TOP: f64 = 104.0;
const BOTTOM: f64 = 344.0;
const LIST_LINE: f64 = 15.0;

const TITLE: Font = Font::new(17.0).bold();
const SUBTITLE: Font = Font::new(12.0).colour(MUTED);
const AXIS: Font = Font::new(10.5).colour(MUTED);
const LABEL: Font = Font::new(10.5);

/// The chart; `None` for a history without points.
pub fn history(input: &HistoryInput<'_>) -> Option<String> {
    let history = input.history;
    let first = history.points.first()?.as_of;
    let last = history.points.last()?.as_of;
    let (start, end) = if first == last {
        (
            first - time::Duration::days(30),
            last + time::Duration::days(30),
        )
    } else {
        (first, last)
    };
    let span = (end - start).as_seconds_f64();
    let x_of = |at: OffsetDateTime| LEFT + (RIGHT - LEFT) * (at - start).as_seconds_f64() / span;
    let y_of = |score: f64| BOTTOM - (BOTTOM - TOP) * score.clamp(0.0, 100.0) / 100.0;
    let in_range = |at: OffsetDateTime| at >= start && at <= end;

    let mut controls: Vec<&Pressure> = Vec::new();
    for control in input.controls {
        if !controls
            .iter()
            .any(|c| c.product == control.product && c.fact_ids == control.fact_ids)
        {
            controls.push(control);
        }
    }
    controls.sort_by(|a, b| {
        effect_day(a)
            .cmp(&effect_day(b))
            .then_with(|| a.product.cmp(&b.product))
            .then_with(|| a.fact_ids.cmp(&b.fact_ids))
    });

    let list_top = BOTTOM + 48.0;
    let list_height = if controls.is_empty() {
        LIST_LINE
    } else {
        (controls.len() as f64 + 1.0) * LIST_LINE
    };
    let legend_top = list_top + list_height + 10.0;
    let height = legend_top + 34.0 + Footer::HEIGHT;

    let latest = history.points.last()?;
    let description = format!(
        "Dependency and displacement difficulty of {} for a {} buyer from {} to {}, {} points \
         ({} steps), with Monte Carlo p5–p95 bands; latest dependency {}, difficulty {}; {} export \
         controls.",
        input.name,
        history.buyer,
        date(first),
        date(last),
        history.points.len(),
        history.step,
        maybe_points(latest.dependency),
        points(latest.difficulty),
        controls.len()
    );
    let mut svg = Svg::new(
        WIDTH,
        height,
        &format!("{}: scores over time", input.name),
        &description,
    );

    svg.open("class=\"header\"");
    svg.text(
        LEFT - 40.0,
        30.0,
        &TITLE.fit(&format!("{}: scores over time", input.name), WIDTH - 48.0),
        TITLE,
        "title",
    );
    let headline = format!(
        "Latest ({}): dependency {} · displacement difficulty {} · {} export controls in force or suspended",
        date(latest.as_of),
        maybe_points(latest.dependency),
        points(latest.difficulty),
        latest.export_controls
    );
    svg.text(
        LEFT - 40.0,
        52.0,
        &SUBTITLE.colour(INK).fit(&headline, WIDTH - 48.0),
        SUBTITLE.colour(INK),
        "headline",
    );
    let context = format!(
        "For a {} buyer · view {} · chain {} · one point per {} from {} to {}",
        history.buyer,
        history.view.as_str(),
        match input.chain {
            Chain::Bottleneck => "bottleneck",
            Chain::Independent => "independent",
        },
        history.step,
        date(first),
        date(last),
    );
    svg.text(
        LEFT - 40.0,
        70.0,
        &SUBTITLE.fit(&context, WIDTH - 48.0),
        SUBTITLE,
        "context",
    );
    svg.close();

    // Axes and grid.
    svg.open("class=\"axes\"");
    for tick in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = y_of(tick);
        svg.line(
            (LEFT, y),
            (RIGHT, y),
            &format!(
                "stroke=\"{}\" stroke-width=\"{}\"",
                if tick == 0.0 { MUTED } else { "#dddddd" },
                if tick == 0.0 { "1" } else { "0.8" }
            ),
        );
        svg.text(
            LEFT - 8.0,
            y + 3.5,
            &num(tick),
            AXIS.anchor(Anchor::End),
            "y-tick",
        );
    }
    svg.text(
        LEFT - 40.0,
        TOP - 12.0,
        "points 0–100",
        AXIS.anchor(Anchor::Start),
        "y-title",
    );
    for (at, label) in time_ticks(start, end) {
        let x = x_of(at);
        svg.line(
            (x, BOTTOM),
            (x, BOTTOM + 5.0),
            &format!("stroke=\"{MUTED}\" stroke-width=\"1\""),
        );
        svg.text(
            x,
            BOTTOM + 18.0,
            &label,
            AXIS.anchor(Anchor::Middle),
            "x-tick",
        );
    }
    svg.close();

    // Bands, then lines and points.
    let series: [(&str, BandOf, &str); 2] = [
        ("dependency", |i| (i.dependency.p5, i.dependency.p95), ""),
        (
            "difficulty",
            |i| (i.difficulty.p5, i.difficulty.p95),
            " stroke-dasharray=\"7 4\"",
        ),
    ];
    for (k, (name, band_of, _)) in series.iter().enumerate() {
        let banded: Vec<(OffsetDateTime, (f64, f64))> = history
            .points
            .iter()
            .zip(input.bands.iter().chain(std::iter::repeat(&None)))
            .filter_map(|(p, band)| band.as_ref().map(|b| (p.as_of, band_of(b))))
            .collect();
        if banded.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (i, (at, (_, high))) in banded.iter().enumerate() {
            d.push_str(&format!(
                "{}{} {}",
                if i == 0 { "M" } else { "L" },
                num(x_of(*at)),
                num(y_of(*high))
            ));
        }
        for (at, (low, _)) in banded.iter().rev() {
            d.push_str(&format!("L{} {}", num(x_of(*at)), num(y_of(*low))));
        }
        d.push('Z');
        svg.path(
            &d,
            &format!(
                "class=\"band\" data-series=\"{name}\" fill=\"{}\" fill-opacity=\"0.22\" stroke=\"{}\" stroke-opacity=\"0.5\" stroke-width=\"0.8\"",
                SERIES[k], SERIES[k]
            ),
        );
    }
    for (k, (name, _, dash)) in series.iter().enumerate() {
        // A point without a dependency (no supply data then) is left out.
        let value = |p: &crate::scoring::HistoryPoint| {
            if k == 0 {
                p.dependency
            } else {
                Some(p.difficulty)
            }
        };
        let known: Vec<(&crate::scoring::HistoryPoint, f64)> = history
            .points
            .iter()
            .filter_map(|p| value(p).map(|v| (p, v)))
            .collect();
        svg.open(&format!("class=\"series\" data-series=\"{name}\""));
        let mut d = String::new();
        for (i, (p, v)) in known.iter().enumerate() {
            d.push_str(&format!(
                "{}{} {}",
                if i == 0 { "M" } else { "L" },
                num(x_of(p.as_of)),
                num(y_of(*v))
            ));
        }
        svg.path(
            &d,
            &format!(
                "fill=\"none\" stroke=\"{}\" stroke-width=\"2.4\"{dash}",
                SERIES[k]
            ),
        );
        for (p, v) in &known {
            let (x, y) = (x_of(p.as_of), y_of(*v));
            let attributes = format!(
                "class=\"point\" data-as-of=\"{}\" data-value=\"{}\" fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\"",
                date(p.as_of),
                super::fraction(*v),
                SERIES[k]
            );
            if k == 0 {
                svg.raw(&format!(
                    "<circle cx=\"{}\" cy=\"{}\" r=\"4\" {attributes}/>",
                    num(x),
                    num(y)
                ));
            } else {
                svg.rect(x - 3.5, y - 3.5, 7.0, 7.0, &attributes);
            }
        }
        svg.close();
    }

    // Export controls: a numbered line where each takes effect, and the list.
    svg.open("class=\"controls\"");
    // Controls taking effect on the same day share one line and one label.
    let mut days: Vec<(Date, Vec<usize>)> = Vec::new();
    for (n, control) in controls.iter().enumerate() {
        let day = effect_day(control);
        match days.last_mut() {
            Some((last, numbers)) if *last == day => numbers.push(n + 1),
            _ => days.push((day, vec![n + 1])),
        }
    }
    for (day, numbers) in &days {
        let at = day.midnight().assume_utc();
        if !in_range(at) {
            continue;
        }
        let x = x_of(at);
        let label = match numbers.as_slice() {
            [one] => one.to_string(),
            [first, .., last] if numbers.len() > 3 => format!("{first}–{last}"),
            many => many
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(","),
        };
        let font = Font::new(10.0)
            .bold()
            .colour("#ffffff")
            .anchor(Anchor::Middle);
        let width = (font.width(&label) + 10.0).max(16.0);
        svg.open(&format!(
            "class=\"control-mark\" data-numbers=\"{}\" data-date=\"{}\"",
            numbers
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            day_text(*day)
        ));
        svg.line(
            (x, TOP - 4.0),
            (x, BOTTOM),
            &format!("stroke=\"{ACCENT}\" stroke-width=\"1.3\" stroke-dasharray=\"3 3\""),
        );
        svg.rect(
            x - width / 2.0,
            TOP - 20.0,
            width,
            16.0,
            &format!("rx=\"8\" fill=\"{ACCENT}\""),
        );
        svg.text(x, TOP - 8.5, &label, font, "");
        svg.close();
    }
    if controls.is_empty() {
        svg.text(
            LEFT - 40.0,
            list_top,
            "No export control on the product or upstream in this period.",
            LABEL.colour(MUTED),
            "control-none",
        );
    } else {
        svg.text(
            LEFT - 40.0,
            list_top,
            "Export controls (dashed lines: the day each takes effect)",
            LABEL.bold(),
            "control-title",
        );
        for (n, control) in controls.iter().enumerate() {
            let y = list_top + (n as f64 + 1.0) * LIST_LINE;
            let text = control_text(
                n + 1,
                control,
                in_range(effect_day(control).midnight().assume_utc()),
            );
            svg.text(
                LEFT - 40.0,
                y,
                &LABEL.fit(&text, WIDTH - 48.0),
                LABEL,
                "control",
            );
        }
    }
    svg.close();

    // Legend.
    svg.open("class=\"legend\"");
    let y = legend_top + 14.0;
    let mut x = LEFT - 40.0;
    for (k, (label, dash)) in [
        ("dependency", ""),
        ("displacement difficulty", " stroke-dasharray=\"7 4\""),
    ]
    .iter()
    .enumerate()
    {
        svg.line(
            (x, y - 4.0),
            (x + 30.0, y - 4.0),
            &format!("stroke=\"{}\" stroke-width=\"2.4\"{dash}", SERIES[k]),
        );
        x += 36.0;
        svg.text(x, y, label, LABEL, "");
        x += LABEL.width(label) + 18.0;
    }
    let draws = input
        .bands
        .iter()
        .flatten()
        .next()
        .map(|i| format!("p5–p95 of {} Monte Carlo draws (seed {})", i.draws, i.seed))
        .unwrap_or_else(|| "no Monte Carlo band".to_owned());
    svg.rect(
        x,
        y - 10.0,
        30.0,
        12.0,
        &format!("fill=\"{}\" fill-opacity=\"0.22\"", SERIES[0]),
    );
    x += 36.0;
    svg.text(x, y, &draws, LABEL, "band-label");
    x += LABEL.width(&draws) + 18.0;
    svg.line(
        (x + 6.0, y - 12.0),
        (x + 6.0, y + 2.0),
        &format!("stroke=\"{ACCENT}\" stroke-width=\"1.3\" stroke-dasharray=\"3 3\""),
    );
    x += 16.0;
    svg.text(x, y, "export control takes effect", LABEL, "");
    svg.close();

    Footer {
        methodology_version: &history.methodology_version,
        data_version: input.data_version,
    }
    .draw(
        &mut svg,
        &format!("{} buyer · view {}", history.buyer, history.view.as_str()),
    );
    Some(svg.finish())
}

/// The day a control applies from: the day an announced one takes effect,
/// else the start of its period (in force or suspended).
fn effect_day(control: &Pressure) -> Date {
    control.takes_effect_on.unwrap_or(control.period.start)
}

fn control_text(number: usize, control: &Pressure, shown: bool) -> String {
    let when = match (control.takes_effect_on, control.status.as_str()) {
        (Some(day), _) => format!("takes effect {}", day_text(day)),
        (None, "suspended") => format!("suspended {}", control.period),
        (None, _) => format!("in force from {}", day_text(control.period.start)),
    };
    format!(
        "{number}. {} {} on {}{} · {when} · announced {}{}",
        control.country,
        control.level_label,
        control.product,
        if control.upstream { " (upstream)" } else { "" },
        day_text(control.announced_on),
        if shown {
            ""
        } else {
            " · outside the period shown"
        },
    )
}

/// Ticks on the time axis: each 1 January in the range, or each quarter's
/// first day when the range holds fewer than two new years.
fn time_ticks(start: OffsetDateTime, end: OffsetDateTime) -> Vec<(OffsetDateTime, String)> {
    let mut years = Vec::new();
    for year in start.year()..=end.year() + 1 {
        if let Ok(day) = Date::from_calendar_date(year, Month::January, 1) {
            let at = day.midnight().assume_utc();
            if at >= start && at <= end {
                years.push((at, year.to_string()));
            }
        }
    }
    if years.len() >= 2 {
        // At most about 12 labels.
        let every = years.len().div_ceil(12);
        return years.into_iter().step_by(every).collect();
    }
    let mut quarters = Vec::new();
    for year in start.year()..=end.year() {
        for month in [Month::January, Month::April, Month::July, Month::October] {
            if let Ok(day) = Date::from_calendar_date(year, month, 1) {
                let at = day.midnight().assume_utc();
                if at >= start && at <= end {
                    quarters.push((at, format!("{year}-{:02}", u8::from(month))));
                }
            }
        }
    }
    quarters
}
