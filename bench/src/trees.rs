//! Creations in one tree against creations spread over many (issue 14, item 4): each child
//! creation locks its tree only, so tenants creating at the same time should not wait for
//! each other. The same load generator and the same create request as the `Create`
//! scenario (an ad account under the caller's agency), at the same concurrency, once with
//! every connection in one agency and once with the connections spread over `trees`
//! agencies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, ensure};

use crate::load::{self, HttpRequest, MakeRequest};
use crate::stats::Measurement;

/// The two runs, and how many trees the second spread over.
#[derive(Debug, Clone)]
pub struct PerTree {
    pub trees: usize,
    pub connections: usize,
    pub seconds: f64,
    pub one_tree: Measurement,
    pub many_trees: Measurement,
}

impl PerTree {
    /// Throughput across `trees` trees over throughput in one.
    pub fn ratio(&self) -> f64 {
        self.many_trees.throughput / self.one_tree.throughput
    }

    /// The report's section.
    pub fn markdown(&self) -> String {
        let row = |name: String, m: &Measurement| {
            format!("| {name} | {:.0} | {:.1} | {:.1} | {} |\n", m.throughput, m.p50_ms, m.p99_ms, m.errors)
        };
        format!(
            "\n## Creations per tree\n\n{} connections, {:.0} s each: POST /v1/accounts (an ad account under the \
             caller's agency), every connection in one agency, then the connections spread over {} agencies \
             (one tree each, one owner's token each).\n\n| run | req/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|\n{}{}\n\
             {} trees / 1 tree: **{:.2}×** the creation throughput.\n",
            self.connections,
            self.seconds,
            self.trees,
            row("1 tree".into(), &self.one_tree),
            row(format!("{} trees", self.trees), &self.many_trees),
            self.trees,
            self.ratio()
        )
    }
}

/// The create request of the `Create` scenario, minus the primary alias: the alias's unique
/// index is global, not per tree, and is not what this run measures.
fn create_under(agency: &str, token: &str) -> HttpRequest {
    HttpRequest {
        method: http::Method::POST,
        path: "/v1/accounts".into(),
        token: token.to_owned(),
        body: Some(format!(r#"{{"name":"Tree bench account","type":"ad_account","parent_id":"{agency}"}}"#)),
    }
}

/// Measures creations at `addr` by `connections` workers for `duration`: first all under
/// `callers[0]`'s agency, then worker `w` under `callers[w % trees]`'s. `callers` are
/// (token, agency id) pairs of distinct tenants; `trees` of them are used.
pub async fn creates_per_tree(
    addr: SocketAddr,
    callers: &[(String, String)],
    trees: usize,
    connections: usize,
    duration: Duration,
) -> Result<PerTree> {
    ensure!(callers.len() >= trees && trees > 1, "{trees} trees need as many tenants; {} given", callers.len());
    let callers: Arc<Vec<(String, String)>> = Arc::new(callers[..trees].to_vec());
    let first = callers.clone();
    let one: MakeRequest = Arc::new(move |_| create_under(&first[0].1, &first[0].0));
    let one_tree = load::http(addr, connections, duration, one).await?;
    // Each worker draws its tenant at random (the generator is seeded per worker), so over a
    // run every tree receives about the same share of the load.
    let spread = callers.clone();
    let many: MakeRequest = Arc::new(move |rng| {
        let (token, agency) = &spread[rng.below(spread.len() as u64) as usize];
        create_under(agency, token)
    });
    let many_trees = load::http(addr, connections, duration, many).await?;
    Ok(PerTree { trees, connections, seconds: duration.as_secs_f64(), one_tree, many_trees })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(throughput: f64) -> Measurement {
        Measurement { throughput, p50_ms: 2.0, p99_ms: 9.5, count: 100, errors: 0 }
    }

    #[test]
    fn the_section_reports_both_runs_and_their_ratio() {
        let report = PerTree {
            trees: 16,
            connections: 16,
            seconds: 4.0,
            one_tree: measured(200.0),
            many_trees: measured(500.0),
        };
        let text = report.markdown();
        assert!(text.contains("| 1 tree | 200 | 2.0 | 9.5 | 0 |"), "{text}");
        assert!(text.contains("| 16 trees | 500 |"), "{text}");
        assert!(text.contains("**2.50×**"), "{text}");
    }

    #[test]
    fn a_create_names_the_callers_agency_and_no_alias() {
        let request = create_under("agency-id", "acd_token");
        assert_eq!(request.token, "acd_token");
        let body = request.body.expect("a body");
        assert!(body.contains(r#""parent_id":"agency-id""#) && !body.contains("local_part"), "{body}");
    }
}
