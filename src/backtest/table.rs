//! The backtest's report as plain-text tables, as the command prints it and
//! `docs/validation.md` quotes it.

use std::fmt::Write;

use super::metrics::Estimate;
use super::{Comparison, Method, MethodResult, Report};

fn estimate(e: Option<Estimate>, digits: usize) -> String {
    e.map_or_else(
        || "–".to_owned(),
        |e| {
            format!(
                "{:.digits$} [{:.digits$}, {:.digits$}]",
                e.value, e.low, e.high
            )
        },
    )
}

fn method_rows(out: &mut String, results: &[MethodResult]) {
    let _ = writeln!(
        out,
        "| method | AUC [95%] | top-decile share [95%] | median percentile [95%] | AUC − China share [95%] | scored |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.method.as_str(),
            estimate(r.auc, 2),
            estimate(r.top_decile_share, 2),
            estimate(r.median_percentile_rank, 0),
            estimate(r.auc_minus_china_share, 2),
            r.products_scored
        );
    }
}

/// A pooled table under its heading, then its comparisons as a list.
fn pooled(out: &mut String, heading: &str, results: &[MethodResult], comparisons: &[Comparison]) {
    let _ = writeln!(out, "{heading}");
    method_rows(out, results);
    let _ = writeln!(out);
    for comparison in comparisons {
        let _ = writeln!(out, "- {}", comparison.summary);
    }
}

/// Every table of the report, in Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let buyers: Vec<&str> = report.buyers.iter().map(|b| b.as_str()).collect();
    let _ = writeln!(
        out,
        "Backtest: method {}, scores read {} days before each announcement (view public), buyers {}, {} bootstrap resamples\n",
        report.methodology_version,
        report.lead_days,
        buyers.join(", "),
        report.resamples
    );
    pooled(
        &mut out,
        "Pooled over every evaluated event and buyer:\n",
        &report.pooled,
        &report.comparisons,
    );
    pooled(
        &mut out,
        "\nLike for like: each ranking kept to the products every method scores:\n",
        &report.pooled_scored_by_all,
        &report.comparisons_scored_by_all,
    );
    let _ = writeln!(
        out,
        "\nAUC by event (targeted buyers among those requested):\n"
    );
    let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
    let _ = writeln!(
        out,
        "| event | scored on | buyers | {} |",
        names.join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(names.len()));
    for event in &report.events {
        let buyers: Vec<&str> = event.rankings.iter().map(|r| r.buyer.as_str()).collect();
        let cells: Vec<String> = if event.evaluated {
            event
                .results
                .iter()
                .map(|r| r.auc.map_or("–".into(), |a| format!("{:.2}", a.value)))
                .collect()
        } else {
            vec![format!(
                "not evaluated: {}",
                event.not_evaluated.as_deref().unwrap_or("")
            )]
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            event.id.as_str(),
            event.scored_on,
            buyers.join(" "),
            cells.join(" | ")
        );
    }
    let trade = &report.trade_outcome;
    let _ = writeln!(
        out,
        "\nTrade outcome ({} points): Spearman's ρ between each score and the change in China's share of the buyer's imports (year after − year before; negative: higher scores, larger falls):\n",
        trade.points.len()
    );
    let _ = writeln!(out, "| method | ρ [95%] | points |");
    let _ = writeln!(out, "|---|---|---|");
    for c in &trade.correlations {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            c.method.as_str(),
            estimate(c.spearman, 2),
            c.points
        );
    }
    out
}
