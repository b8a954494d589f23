//! The report: one table comparing accountd with pgbench per scenario, the facts around it
//! (data set, seeding time, memory, the deep-page walk), and a bar chart next to it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::stats::Measurement;

/// One scenario's two sides.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub accountd: Measurement,
    pub pgbench: Measurement,
    /// The target for accountd / pgbench throughput, when the issue sets one.
    pub target: Option<f64>,
    /// CPU time per completed request or transaction, in µs.
    pub cpu: Cpu,
    /// SQL statements per request, as captured (BEGIN and COMMIT included).
    pub statements: usize,
}

/// Where the CPU went, per completed request (accountd side) or transaction (pgbench side).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cpu {
    pub accountd_us: f64,
    pub load_generator_us: f64,
    pub pgbench_us: f64,
}

impl Row {
    /// accountd's throughput as a share of pgbench's.
    pub fn ratio(&self) -> f64 {
        if self.pgbench.throughput > 0.0 { self.accountd.throughput / self.pgbench.throughput } else { f64::NAN }
    }

    /// The ratio the CPU allows when both runs keep all `cores` busy: a pgbench transaction
    /// costs pgbench's CPU plus the database's, `d` = cores / throughput − pgbench's; an
    /// accountd request costs at least accountd's and the load generator's CPU plus the same
    /// `d`. An estimate: it is only as good as the saturation assumption.
    pub fn cpu_ceiling(&self, cores: f64) -> f64 {
        if self.pgbench.throughput <= 0.0 {
            return f64::NAN;
        }
        let per_transaction = cores * 1e6 / self.pgbench.throughput;
        let database = (per_transaction - self.cpu.pgbench_us).max(0.0);
        per_transaction / (self.cpu.accountd_us + self.cpu.load_generator_us + database)
    }
}

/// A decision scenario (issue 12): no pgbench twin, compared with the cheapest request of
/// its protocol measured the same way in the same run.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub scenario: String,
    /// The name of the row it is compared with.
    pub baseline: String,
    pub measurement: Measurement,
    /// Throughput as a share of the baseline's, and of `GET /healthz`'s.
    pub of_baseline: f64,
    pub of_healthz: f64,
    /// The target share of the baseline, when the issue sets one.
    pub target: Option<f64>,
    pub accountd_us: f64,
    pub load_generator_us: f64,
}

/// The decision cache once one decision was asked about each of `asked` tokens.
#[derive(Debug, Clone)]
pub struct CacheMemory {
    pub asked: u64,
    /// Entries of each kind, as `/metrics` reports them.
    pub entries: Vec<(String, u64)>,
    pub rss_before_mb: f64,
    pub rss_after_mb: f64,
}

impl CacheMemory {
    /// Resident memory grown per token asked about, in bytes.
    pub fn bytes_per_token(&self) -> f64 {
        (self.rss_after_mb - self.rss_before_mb) * 1024.0 * 1024.0 / self.asked.max(1) as f64
    }
}

/// Everything the report says.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    /// Lines about the set-up (data set, seeding, concurrency, machine).
    pub facts: Vec<String>,
    pub rows: Vec<Row>,
    /// The decision scenarios and their baselines.
    pub decisions: Vec<DecisionRow>,
    /// What the decision cache holds and costs after many tokens were asked about.
    pub cache_memory: Option<CacheMemory>,
    /// Resident memory of accountd in MB: idle, and the peak under load.
    pub rss_idle_mb: f64,
    pub rss_peak_mb: f64,
    /// Median latency (ms) of the first pages and of the last pages of the cursor walk.
    pub walk: Option<(usize, f64, f64)>,
    /// Resident memory across the soak (requests with nothing scraping `/metrics`).
    pub soak: Option<Soak>,
    /// Cores of the machine, for the CPU ceiling.
    pub cores: f64,
    /// Further findings, one line each (query plans of the hot lookups).
    pub notes: Vec<String>,
}

/// Resident memory before and after `requests` requests, nothing scraping `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct Soak {
    pub requests: usize,
    pub rss_before_mb: f64,
    pub rss_after_mb: f64,
}

impl Soak {
    /// Growth per request; the target is flat: at most [`Soak::FLAT_BYTES`].
    pub fn bytes_per_request(&self) -> f64 {
        (self.rss_after_mb - self.rss_before_mb) * 1024.0 * 1024.0 / self.requests.max(1) as f64
    }

    /// Allocator noise stays under this; the unscraped metrics recorder grew by about 20.
    pub const FLAT_BYTES: f64 = 4.0;
}

fn ms(v: f64) -> String {
    if v.is_nan() { "–".to_owned() } else { format!("{v:.2}") }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

/// The report as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = format!("# {}\n\n", report.title);
    for fact in &report.facts {
        let _ = writeln!(out, "- {fact}");
    }
    out.push_str(
        "\n| scenario | SQL / req | accountd req/s | p50 ms | p99 ms | errors accountd / pgbench | pgbench tx/s | p50 ms | p99 ms | accountd / pgbench | target \
         | CPU µs/req: accountd | load generator | pgbench | CPU ceiling |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for row in &report.rows {
        let target = row.target.map_or("–".to_owned(), |t| format!("≥ {t:.1} ({})", verdict(row.ratio() >= t)));
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} / {} | {:.0} | {} | {} | {:.2} | {} | {:.0} | {:.0} | {:.0} | {:.2} |",
            row.scenario,
            row.statements,
            row.accountd.throughput,
            ms(row.accountd.p50_ms),
            ms(row.accountd.p99_ms),
            row.accountd.errors,
            row.pgbench.errors,
            row.pgbench.throughput,
            ms(row.pgbench.p50_ms),
            ms(row.pgbench.p99_ms),
            row.ratio(),
            target,
            row.cpu.accountd_us,
            row.cpu.load_generator_us,
            row.cpu.pgbench_us,
            row.cpu_ceiling(report.cores)
        );
    }
    out.push('\n');
    decisions(&mut out, report);
    let first = report.rows.iter().find(|r| r.scenario.starts_with("list, first page"));
    let deep = report.rows.iter().find(|r| r.scenario.starts_with("list, page"));
    if let (Some(first), Some(deep)) = (first, deep) {
        let cost = deep.accountd.p50_ms / first.accountd.p50_ms;
        let _ = writeln!(
            out,
            "- Deep page / first page (p50 latency under load): {cost:.2} × — target ≤ 1.5 ({}).",
            verdict(cost <= 1.5)
        );
    }
    if let Some((pages, head, tail)) = report.walk {
        let _ = writeln!(
            out,
            "- Cursor walk over {pages} pages, one request at a time: median {head:.2} ms for the first 10 pages, \
             {tail:.2} ms for the last 10 ({:.2} ×).",
            tail / head
        );
    }
    let _ = writeln!(
        out,
        "- accountd resident memory: {:.1} MB idle (target ≤ 30, {}), {:.1} MB peak under load (target ≤ 100, {}).",
        report.rss_idle_mb,
        verdict(report.rss_idle_mb <= 30.0),
        report.rss_peak_mb,
        verdict(report.rss_peak_mb <= 100.0)
    );
    if let Some(soak) = report.soak {
        let _ = writeln!(
            out,
            "- Soak, nothing scraping /metrics: {} requests, resident memory {:.1} → {:.1} MB, {:.2} bytes per \
             request (target flat, ≤ {:.0}, {}).",
            soak.requests,
            soak.rss_before_mb,
            soak.rss_after_mb,
            soak.bytes_per_request(),
            Soak::FLAT_BYTES,
            verdict(soak.bytes_per_request() <= Soak::FLAT_BYTES)
        );
    }
    if let Some(cache) = &report.cache_memory {
        let entries: Vec<String> = cache.entries.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        let _ = writeln!(
            out,
            "- Decision cache after one decision about each of {} more tokens: cache entries {}; resident memory {:.1} → \
             {:.1} MB, {:.0} bytes per token.",
            cache.asked,
            entries.join(", "),
            cache.rss_before_mb,
            cache.rss_after_mb,
            cache.bytes_per_token()
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

/// The decision scenarios' table, when the run measured them.
fn decisions(out: &mut String, report: &Report) {
    if report.decisions.is_empty() {
        return;
    }
    out.push_str(
        "| decision scenario | req/s | p50 ms | p99 ms | errors | ÷ baseline | baseline | target | ÷ GET /healthz \
         | CPU µs/req: accountd | load generator |\n\
         |---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|\n",
    );
    for row in &report.decisions {
        let target = row.target.map_or("–".to_owned(), |t| format!("≥ {t:.2} ({})", verdict(row.of_baseline >= t)));
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {} | {} | {:.2} | {} | {} | {:.2} | {:.0} | {:.0} |",
            row.scenario,
            row.measurement.throughput,
            ms(row.measurement.p50_ms),
            ms(row.measurement.p99_ms),
            row.measurement.errors,
            row.of_baseline,
            row.baseline,
            target,
            row.of_healthz,
            row.accountd_us,
            row.load_generator_us
        );
    }
    out.push('\n');
}

/// A grouped bar chart of throughput, accountd beside pgbench, as SVG.
pub fn chart(report: &Report, path: &Path) -> Result<()> {
    let height = report.rows.iter().flat_map(|r| [r.accountd.throughput, r.pgbench.throughput]).fold(1.0, f64::max);
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let n = report.rows.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Throughput: accountd vs pgbench running its SQL (higher is better)", ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n, 0.0..height * 1.1)
        .map_err(|e| anyhow!("{e}"))?;
    let names: Vec<String> = report.rows.iter().map(|r| r.scenario.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(report.rows.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 { names.get(i).cloned().unwrap_or_default() } else { String::new() }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("requests / transactions per second")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let bars = |offset: f64, pick: fn(&Row) -> f64, color: RGBColor| {
        report.rows.iter().enumerate().map(move |(i, r)| {
            let x = i as f64 + offset;
            Rectangle::new([(x, 0.0), (x + 0.35, pick(r))], color.filled())
        })
    };
    chart
        .draw_series(bars(0.12, |r| r.accountd.throughput, RGBColor(46, 110, 180)))
        .map_err(|e| anyhow!("{e}"))?
        .label("accountd")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], RGBColor(46, 110, 180).filled()));
    chart
        .draw_series(bars(0.53, |r| r.pgbench.throughput, RGBColor(230, 140, 40)))
        .map_err(|e| anyhow!("{e}"))?
        .label("pgbench")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], RGBColor(230, 140, 40).filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(throughput: f64, p50_ms: f64, p99_ms: f64) -> Measurement {
        Measurement { throughput, p50_ms, p99_ms, count: 100, errors: 0 }
    }

    fn sample() -> Report {
        Report {
            title: "accountd vs pgbench".into(),
            facts: vec!["10000 accounts".into()],
            rows: vec![
                Row {
                    scenario: "GET by id".into(),
                    accountd: m(700.0, 2.0, 9.5),
                    pgbench: m(1000.0, 1.0, 3.0),
                    target: Some(0.7),
                    cpu: Cpu { accountd_us: 250.0, load_generator_us: 40.4, pgbench_us: 12.0 },
                    statements: 3,
                },
                Row {
                    scenario: "list, first page".into(),
                    accountd: m(300.0, 4.0, 8.0),
                    pgbench: m(600.0, 2.0, 4.0),
                    target: None,
                    cpu: Cpu::default(),
                    statements: 10,
                },
                Row {
                    scenario: "list, page 100".into(),
                    accountd: m(280.0, 5.0, 9.0),
                    pgbench: m(590.0, 2.1, 4.2),
                    target: None,
                    cpu: Cpu::default(),
                    statements: 10,
                },
                Row {
                    scenario: "create".into(),
                    accountd: m(100.0, 9.0, 30.0),
                    pgbench: m(200.0, 4.0, 9.0),
                    target: Some(0.6),
                    cpu: Cpu::default(),
                    statements: 10,
                },
            ],
            decisions: vec![
                DecisionRow {
                    scenario: "GET /healthz".into(),
                    baseline: "GET /healthz".into(),
                    measurement: m(10000.0, 1.0, 2.0),
                    of_baseline: 1.0,
                    of_healthz: 1.0,
                    target: None,
                    accountd_us: 50.0,
                    load_generator_us: 20.0,
                },
                DecisionRow {
                    scenario: "authorize, 10 checks (gRPC)".into(),
                    baseline: "gRPC Health/Check".into(),
                    measurement: m(3000.0, 4.0, 8.0),
                    of_baseline: 0.3,
                    of_healthz: 0.3,
                    target: Some(0.35),
                    accountd_us: 300.0,
                    load_generator_us: 60.0,
                },
            ],
            cache_memory: Some(CacheMemory {
                asked: 100_000,
                entries: vec![("tokens".into(), 100_000), ("users".into(), 10_000)],
                rss_before_mb: 30.0,
                rss_after_mb: 80.0,
            }),
            rss_idle_mb: 12.5,
            rss_peak_mb: 140.0,
            walk: Some((100, 3.0, 3.3)),
            soak: Some(Soak { requests: 1_048_576, rss_before_mb: 20.0, rss_after_mb: 22.0 }),
            cores: 2.0,
            notes: vec!["plan: Index Scan".into()],
        }
    }

    #[test]
    fn the_table_shows_both_sides_the_ratio_and_each_verdict() {
        let text = markdown(&sample());
        assert!(text.starts_with("# accountd vs pgbench\n\n- 10000 accounts\n"), "{text}");
        assert!(
            text.contains(
                "| GET by id | 3 | 700 | 2.00 | 9.50 | 0 / 0 | 1000 | 1.00 | 3.00 | 0.70 | ≥ 0.7 (met) | 250 | 40 | 12 | 0.88 |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| create | 10 | 100 | 9.00 | 30.00 | 0 / 0 | 200 | 4.00 | 9.00 | 0.50 | ≥ 0.6 (missed) | 0 | 0 | 0 | 1.00 |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| list, first page | 10 | 300 | 4.00 | 8.00 | 0 / 0 | 600 | 2.00 | 4.00 | 0.50 | – | 0 | 0 | 0 | 1.00 |"
            ),
            "{text}"
        );
        assert!(
            text.contains("Deep page / first page (p50 latency under load): 1.25 × — target ≤ 1.5 (met)"),
            "{text}"
        );
        assert!(text.contains("median 3.00 ms for the first 10 pages, 3.30 ms for the last 10 (1.10 ×)"), "{text}");
        assert!(text.ends_with("- plan: Index Scan\n"), "{text}");
        assert!(
            text.contains(
                "| authorize, 10 checks (gRPC) | 3000 | 4.00 | 8.00 | 0 | 0.30 | gRPC Health/Check | ≥ 0.35 (missed) | \
                 0.30 | 300 | 60 |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "Decision cache after one decision about each of 100000 more tokens: cache entries 100000 tokens, \
                 10000 users; resident memory 30.0 → 80.0 MB, 524 bytes per token."
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "Soak, nothing scraping /metrics: 1048576 requests, resident memory 20.0 → 22.0 MB, 2.00 bytes per \
                 request (target flat, ≤ 4, met)."
            ),
            "{text}"
        );
        assert!(
            text.contains("12.5 MB idle (target ≤ 30, met), 140.0 MB peak under load (target ≤ 100, missed)"),
            "{text}"
        );
    }

    #[test]
    fn the_cpu_ceiling_adds_accountd_s_cpu_to_the_database_s() {
        // pgbench: 2 cores / 1000 tx/s = 2000 µs per transaction, 12 of them pgbench's, so the
        // database's 1988; accountd's request: 250 + 40.4 + 1988 = 2278.4 µs.
        let row = &sample().rows[0];
        assert!((row.cpu_ceiling(2.0) - 2000.0 / 2278.4).abs() < 1e-9);
    }

    #[test]
    fn the_chart_is_an_svg_naming_every_scenario() {
        let dir = std::env::temp_dir().join(format!("accountd-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.svg");
        chart(&sample(), &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for name in ["GET by id", "list, first page", "create", "accountd", "pgbench"] {
            assert!(svg.contains(name), "{name} missing");
        }
        // The background, the legend's two keys and two bars per scenario.
        assert!(svg.matches("<rect").count() >= 2 * 4 + 2, "{svg}");
    }
}
