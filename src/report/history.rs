//! History and diff output: a table, CSV or JSON of counts per commit, an SVG line chart a migration lead
//! can paste into a report, and a Markdown summary of what a branch adds and removes.

use std::fmt::Write as _;

use crate::history::{Diff, History};

/// A table: date, short id, count per rule, total.
pub fn table(history: &History) -> String {
    let mut header = vec!["date".to_owned(), "commit".to_owned()];
    header.extend(history.rules.iter().cloned());
    header.push("total".to_owned());
    let rows: Vec<Vec<String>> = history.commits.iter().map(|c| row(history, c)).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} commits; {} distinct files parsed",
        history.commits.len(),
        history.files_parsed
    );
    out
}

fn row(history: &History, commit: &crate::history::CommitCounts) -> Vec<String> {
    let mut cells = vec![
        commit.commit.date.get(..10).unwrap_or(&commit.commit.date).to_owned(),
        commit.commit.short.clone(),
    ];
    cells.extend(
        history
            .rules
            .iter()
            .map(|r| commit.counts.get(r).copied().unwrap_or(0).to_string()),
    );
    cells.push(commit.total.to_string());
    cells
}

/// The same as CSV, with the full commit id and date.
pub fn csv(history: &History) -> String {
    let mut out = format!("date,commit,{},total\n", history.rules.join(","));
    for commit in &history.commits {
        let counts: Vec<String> = history
            .rules
            .iter()
            .map(|r| commit.counts.get(r).copied().unwrap_or(0).to_string())
            .collect();
        let _ = writeln!(
            out,
            "{},{},{},{}",
            commit.commit.date,
            commit.commit.id,
            counts.join(","),
            commit.total
        );
    }
    out
}

/// The same as JSON.
pub fn json(history: &History) -> String {
    let mut text = serde_json::to_string_pretty(history).unwrap_or_default();
    text.push('\n');
    text
}

/// A line chart of the counts over time: one line per rule with violations, and the total.
pub fn svg(history: &History) -> String {
    const WIDTH: f64 = 900.0;
    const HEIGHT: f64 = 420.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 260.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 70.0;
    const COLORS: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ];
    let commits = &history.commits;
    let max = commits.iter().map(|c| c.total).max().unwrap_or(0).max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        LEFT + if commits.len() > 1 {
            plot_w * i as f64 / (commits.len() - 1) as f64
        } else {
            plot_w / 2.0
        }
    };
    let y = |v: usize| TOP + plot_h - plot_h * v as f64 / max;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{LEFT}\" y=\"24\" font-size=\"16\">SSOT violations per commit</text>\n"
    );
    for tick in 0..=4 {
        let value = (max * tick as f64 / 4.0).round() as usize;
        let ty = y(value);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{value}</text>",
            LEFT + plot_w,
            LEFT - 8.0,
            ty + 4.0
        );
    }
    let label_every = commits.len().div_ceil(8).max(1);
    for (i, commit) in commits.iter().enumerate() {
        if i % label_every == 0 || i + 1 == commits.len() {
            let date = escape(commit.commit.date.get(..10).unwrap_or(&commit.commit.date));
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{date}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666\">{}</text>",
                x(i),
                TOP + plot_h + 18.0,
                x(i),
                TOP + plot_h + 34.0,
                escape(&commit.commit.short)
            );
        }
    }
    let mut series: Vec<(String, &str, f64, Vec<usize>)> = history
        .rules
        .iter()
        .filter(|r| commits.iter().any(|c| c.counts.get(*r).copied().unwrap_or(0) > 0))
        .enumerate()
        .map(|(i, r)| {
            (
                r.clone(),
                COLORS[i % COLORS.len()],
                2.0,
                commits.iter().map(|c| c.counts.get(r).copied().unwrap_or(0)).collect(),
            )
        })
        .collect();
    series.push((
        "total".to_owned(),
        "#000000",
        3.0,
        commits.iter().map(|c| c.total).collect(),
    ));
    for (index, (name, color, stroke, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{stroke}\" points=\"{}\"><title>{}</title></polyline>",
            points.join(" "),
            escape(name)
        );
        for (i, v) in values.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{}: {v}</title></circle>",
                x(i),
                y(*v),
                escape(name)
            );
        }
        let ly = TOP + 16.0 * index as f64;
        let lx = WIDTH - RIGHT + 20.0;
        let last = values.last().copied().unwrap_or(0);
        let _ = writeln!(
            svg,
            "<line x1=\"{lx}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"{stroke}\"/><text x=\"{:.1}\" y=\"{:.1}\">{} ({last})</text>",
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Markdown summary of a diff, for CI step summaries.
pub fn diff_markdown(diff: &Diff) -> String {
    let mut out = format!(
        "## ssot-check: {} against {} (merge base)\n\n",
        diff.head.short, diff.base.short
    );
    let before: usize = diff.before.values().sum();
    let after: usize = diff.after.values().sum();
    if diff.added.is_empty() && diff.removed.is_empty() {
        let _ = writeln!(out, "No change in SSOT violations ({after}).");
        return out;
    }
    for rule in diff
        .before
        .keys()
        .chain(diff.after.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (b, a) = (
            diff.before.get(rule).copied().unwrap_or(0),
            diff.after.get(rule).copied().unwrap_or(0),
        );
        let removed: Vec<_> = diff.removed.iter().filter(|k| &k.rule == rule).collect();
        let added: Vec<_> = diff.added.iter().filter(|k| &k.rule == rule).collect();
        if removed.is_empty() && added.is_empty() {
            continue;
        }
        if !removed.is_empty() {
            let _ = writeln!(out, "- `{rule}`: this change removes {} of {b}", removed.len());
            for key in removed {
                let _ = writeln!(out, "  - `{}` ({})", key.symbol, key.path);
            }
        }
        if !added.is_empty() {
            let _ = writeln!(out, "- `{rule}`: this change adds {} (now {a})", added.len());
            for key in added {
                let _ = writeln!(out, "  - `{}` ({})", key.symbol, key.path);
            }
        }
    }
    let _ = writeln!(out, "\nViolations: {before} -> {after}");
    out
}
