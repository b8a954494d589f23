//! The decision scenarios (issue 12): what a product pays to ask accountd on every request —
//! `POST /v1/authorize` and gRPC `AuthorizationService/Check` with 1 and 10 checks —
//! against the cheapest request each protocol answers (`GET /healthz`, gRPC health
//! `Check`), measured the same way in the same run; and the decision cache's memory once it
//! holds many tokens. No pgbench twin: a warm decision reads nothing from the database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use accountd_grpc::pb::authorization_service_client::AuthorizationServiceClient;
use accountd_grpc::pb::{AuthorizationCheck, CheckRequest};
use anyhow::{Context, Result, ensure};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::accountd::{self, Accountd};
use crate::db::{self, Kind, Server, Shape};
use crate::load::{self, Connection, GrpcCall, HttpRequest, MakeRequest};
use crate::report::{CacheMemory, DecisionRow};
use crate::stats::Rng;

/// The permissions the checks ask for, in turn: all of them an agency owner's token holds.
const PERMISSIONS: [&str; 5] = ["aliases:write", "accounts:read", "members:read", "tokens:write", "audit:read"];

/// One decision scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Healthz,
    GrpcHealth,
    Authorize(usize),
    GrpcAuthorize(usize),
}

impl Decision {
    pub const ALL: [Decision; 6] = [
        Decision::Healthz,
        Decision::GrpcHealth,
        Decision::Authorize(1),
        Decision::Authorize(10),
        Decision::GrpcAuthorize(1),
        Decision::GrpcAuthorize(10),
    ];

    fn name(self) -> String {
        let checks = |n: usize| if n == 1 { "1 check".to_owned() } else { format!("{n} checks") };
        match self {
            Decision::Healthz => "GET /healthz".into(),
            Decision::GrpcHealth => "gRPC Health/Check".into(),
            Decision::Authorize(n) => format!("authorize, {} (REST)", checks(n)),
            Decision::GrpcAuthorize(n) => format!("authorize, {} (gRPC)", checks(n)),
        }
    }

    /// The baseline of the same protocol.
    fn baseline(self) -> Decision {
        match self {
            Decision::Healthz | Decision::Authorize(_) => Decision::Healthz,
            Decision::GrpcHealth | Decision::GrpcAuthorize(_) => Decision::GrpcHealth,
        }
    }

    /// The target, as a share of the baseline's throughput.
    fn target(self) -> Option<f64> {
        match self {
            Decision::Authorize(1) | Decision::GrpcAuthorize(1) => Some(0.5),
            Decision::Authorize(_) | Decision::GrpcAuthorize(_) => Some(0.35),
            _ => None,
        }
    }
}

/// What the checks of user `u`'s token ask: `count` of the user's ad accounts (under its
/// agency, where it is the owner), each with the next permission of [`PERMISSIONS`].
fn checks(shape: &Shape, u: u64, count: usize, rng: &mut Rng) -> Vec<(String, &'static str)> {
    let per = shape.per_user();
    (0..count)
        .map(|i| {
            let account = shape.agency(u) + 1 + rng.below(per - 1);
            (db::id(Kind::Account, account), PERMISSIONS[i % PERMISSIONS.len()])
        })
        .collect()
}

fn rest_body(token: &str, checks: &[(String, &str)]) -> String {
    let checks: Vec<serde_json::Value> = checks
        .iter()
        .map(|(account, permission)| serde_json::json!({"account_id": account, "permission": permission}))
        .collect();
    serde_json::json!({"token": token, "client_ip": "203.0.113.7", "checks": checks}).to_string()
}

fn grpc_request(caller: &str, token: &str, checks: &[(String, &str)]) -> Result<tonic::Request<CheckRequest>> {
    let checks = checks
        .iter()
        .map(|(account, permission)| AuthorizationCheck {
            account_id: account.clone(),
            permission: (*permission).to_owned(),
        })
        .collect();
    let mut request = tonic::Request::new(CheckRequest {
        token: token.to_owned(),
        user_id: String::new(),
        client_ip: "203.0.113.7".into(),
        checks,
    });
    request.metadata_mut().insert("authorization", format!("Bearer {caller}").parse()?);
    Ok(request)
}

/// Who asks and about whom: the root token (it holds `authz:check`) asks about the users'
/// tokens the load spreads over.
#[derive(Clone)]
pub struct Askers {
    pub shape: Shape,
    pub root_token: String,
    pub tokens: Arc<Vec<String>>,
}

impl Askers {
    fn rest(&self, checks: usize, rng: &mut Rng) -> HttpRequest {
        let u = rng.below(self.tokens.len() as u64);
        let body = rest_body(&self.tokens[u as usize], &self::checks(&self.shape, u, checks, rng));
        HttpRequest {
            method: http::Method::POST,
            path: "/v1/authorize".into(),
            token: self.root_token.clone(),
            body: Some(body),
        }
    }
}

/// Every answer must be a decision that grants each check: the bench measures decisions,
/// not refusals.
fn all_granted(answer: &serde_json::Value, checks: usize) -> Result<()> {
    ensure!(answer["active"] == true, "the token is not active: {answer}");
    let results = answer["results"].as_array().context("no results")?;
    ensure!(results.len() == checks, "{} results for {checks} checks", results.len());
    for result in results {
        ensure!(result["reason"] == "granted", "a check was not granted: {result}");
    }
    Ok(())
}

/// Sends one request of `decision` and checks its answer.
async fn probe(accountd: &Accountd, askers: &Askers, decision: Decision) -> Result<()> {
    let mut rng = Rng::new(7);
    match decision {
        Decision::Healthz => {
            let (status, _) = Connection::open(accountd.http).await?.send(&healthz()).await?;
            ensure!(status == 200, "/healthz answered {status}");
        }
        Decision::GrpcHealth => {
            let channel = channel(accountd.grpc).await?;
            let answer = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?;
            ensure!(answer.into_inner().status == 1, "gRPC health is not SERVING");
        }
        Decision::Authorize(n) => {
            let (status, body) = Connection::open(accountd.http).await?.send(&askers.rest(n, &mut rng)).await?;
            ensure!(status == 200, "/v1/authorize answered {status}: {}", String::from_utf8_lossy(&body));
            all_granted(&serde_json::from_slice(&body)?, n)?;
        }
        Decision::GrpcAuthorize(n) => {
            let checks = checks(&askers.shape, 0, n, &mut rng);
            let request = grpc_request(&askers.root_token, &askers.tokens[0], &checks)?;
            let answer = AuthorizationServiceClient::new(channel(accountd.grpc).await?).check(request).await?;
            let answer = answer.into_inner();
            ensure!(answer.active, "the token is not active over gRPC: {answer:?}");
            ensure!(answer.results.iter().all(|r| r.allowed), "a check was not granted over gRPC: {answer:?}");
        }
    }
    Ok(())
}

async fn channel(addr: SocketAddr) -> Result<tonic::transport::Channel> {
    Ok(tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.connect().await?)
}

fn healthz() -> HttpRequest {
    HttpRequest { method: http::Method::GET, path: "/healthz".into(), token: String::new(), body: None }
}

/// Runs every decision scenario for `seconds` at `connections`; the rows with their ratios.
pub async fn measure(
    accountd: &Accountd,
    askers: &Askers,
    connections: usize,
    seconds: u64,
) -> Result<Vec<DecisionRow>> {
    let duration = Duration::from_secs(seconds);
    let mut measured = Vec::new();
    for decision in Decision::ALL {
        probe(accountd, askers, decision).await?;
        eprintln!("bench: {}", decision.name());
        let pid = accountd.pid().to_string();
        let (server_before, _) = accountd::cpu_seconds(&pid)?;
        let (driver_before, _) = accountd::cpu_seconds("self")?;
        let measurement = match decision {
            Decision::Healthz => {
                let make: MakeRequest = Arc::new(|_: &mut Rng| healthz());
                load::http(accountd.http, connections, duration, make).await?
            }
            Decision::Authorize(n) => {
                let askers = askers.clone();
                let make: MakeRequest = Arc::new(move |rng: &mut Rng| askers.rest(n, rng));
                load::http(accountd.http, connections, duration, make).await?
            }
            Decision::GrpcHealth => {
                let call: GrpcCall = Arc::new(|channel, _| {
                    Box::pin(async move {
                        HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await?;
                        Ok(())
                    })
                });
                load::grpc(accountd.grpc, connections, duration, call).await?
            }
            Decision::GrpcAuthorize(n) => {
                let askers = askers.clone();
                let call: GrpcCall = Arc::new(move |channel, rng| {
                    let u = rng.below(askers.tokens.len() as u64);
                    let checks = checks(&askers.shape, u, n, rng);
                    let request = grpc_request(&askers.root_token, &askers.tokens[u as usize], &checks);
                    Box::pin(async move {
                        let answer = AuthorizationServiceClient::new(channel).check(request?).await?.into_inner();
                        ensure!(answer.results.iter().all(|r| r.allowed), "refused: {answer:?}");
                        Ok(())
                    })
                });
                load::grpc(accountd.grpc, connections, duration, call).await?
            }
        };
        let (server_after, _) = accountd::cpu_seconds(&pid)?;
        let (driver_after, _) = accountd::cpu_seconds("self")?;
        let per = |seconds: f64| seconds * 1e6 / measurement.count.max(1) as f64;
        let cpu = (per(server_after - server_before), per(driver_after - driver_before));
        eprintln!("bench: {}: {:.0} req/s", decision.name(), measurement.throughput);
        measured.push((decision, measurement, cpu));
    }
    let throughput_of =
        |wanted: Decision| measured.iter().find(|(d, _, _)| *d == wanted).map_or(f64::NAN, |(_, m, _)| m.throughput);
    Ok(measured
        .iter()
        .map(|(decision, measurement, (accountd_us, load_generator_us))| DecisionRow {
            scenario: decision.name(),
            baseline: decision.baseline().name(),
            measurement: measurement.clone(),
            of_baseline: measurement.throughput / throughput_of(decision.baseline()),
            of_healthz: measurement.throughput / throughput_of(Decision::Healthz),
            target: decision.target(),
            accountd_us: *accountd_us,
            load_generator_us: *load_generator_us,
        })
        .collect())
}

/// Adds `count` tokens to the database, asks one decision about each (so the cache holds
/// every one of them, with their users and accounts) and reads what that cost in
/// resident memory and what the cache says it holds.
pub async fn cache_memory(
    server: &Server,
    accountd: &Accountd,
    askers: &Askers,
    count: u64,
    connections: usize,
) -> Result<CacheMemory> {
    let first = askers.shape.users;
    let (rows, secrets) = db::token_rows(&askers.shape, first..first + count, count);
    db::copy_tokens(server, &rows)?;
    let secrets: Arc<Vec<String>> = Arc::new(secrets.iter().map(|s| s.expose().to_owned()).collect());
    let (rss_before_mb, _) = accountd.memory()?;
    let mut workers = Vec::new();
    for w in 0..connections {
        let (secrets, askers) = (secrets.clone(), askers.clone());
        let mut connection = Connection::open(accountd.http).await?;
        workers.push(tokio::spawn(async move {
            let mut rng = Rng::new(w as u64 + 1);
            for i in (w..secrets.len()).step_by(connections) {
                let u = (first + i as u64) % askers.shape.users;
                let body = rest_body(&secrets[i], &checks(&askers.shape, u, 1, &mut rng));
                let request = HttpRequest {
                    method: http::Method::POST,
                    path: "/v1/authorize".into(),
                    token: askers.root_token.clone(),
                    body: Some(body),
                };
                let (status, body) = connection.send(&request).await?;
                ensure!(status == 200, "/v1/authorize answered {status}");
                all_granted(&serde_json::from_slice(&body)?, 1)?;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_after_mb, _) = accountd.memory()?;
    let (_, metrics) = Connection::open(accountd.http)
        .await?
        .send(&HttpRequest { method: http::Method::GET, path: "/metrics".into(), token: String::new(), body: None })
        .await?;
    let metrics = String::from_utf8_lossy(&metrics);
    let entries = ["tokens", "users", "accounts"]
        .map(|kind| (kind.to_owned(), cache_entries(&metrics, kind).unwrap_or(0)))
        .to_vec();
    Ok(CacheMemory { asked: count, entries, rss_before_mb, rss_after_mb })
}

/// `decision_cache_entries{kind="…"}` from the Prometheus text.
fn cache_entries(metrics: &str, kind: &str) -> Option<u64> {
    let key = format!("decision_cache_entries{{kind=\"{kind}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&key))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_names_one_of_the_user_s_ad_accounts() {
        let shape = Shape { accounts: 1000, users: 10, audit_events: 0 };
        let mut rng = Rng::new(1);
        let asked = checks(&shape, 3, 10, &mut rng);
        assert_eq!(asked.len(), 10);
        for (i, (account, permission)) in asked.iter().enumerate() {
            let n = u64::from_str_radix(account.rsplit('-').next().unwrap(), 16).unwrap();
            assert!((301..400).contains(&n), "{account} is not under agency 300");
            assert_eq!(*permission, PERMISSIONS[i % PERMISSIONS.len()]);
        }
        let body: serde_json::Value = serde_json::from_str(&rest_body("acd_x", &asked[..2])).unwrap();
        assert_eq!(body["token"], "acd_x");
        assert_eq!(body["checks"][1]["permission"], "accounts:read");
    }

    #[test]
    fn rows_compare_with_the_baseline_of_their_protocol() {
        assert_eq!(Decision::GrpcAuthorize(10).baseline(), Decision::GrpcHealth);
        assert_eq!(Decision::Authorize(1).baseline(), Decision::Healthz);
        assert_eq!(Decision::Authorize(1).target(), Some(0.5));
        assert_eq!(Decision::GrpcAuthorize(10).target(), Some(0.35));
        assert_eq!(Decision::Healthz.target(), None);
        assert_eq!(Decision::Authorize(10).name(), "authorize, 10 checks (REST)");
    }

    #[test]
    fn cache_entries_are_read_from_the_prometheus_text() {
        let text = "# TYPE decision_cache_entries gauge\ndecision_cache_entries{kind=\"tokens\"} 100000\n\
                    decision_cache_entries{kind=\"users\"} 10000\n";
        assert_eq!(cache_entries(text, "tokens"), Some(100_000));
        assert_eq!(cache_entries(text, "users"), Some(10_000));
        assert_eq!(cache_entries(text, "accounts"), None);
    }

    #[test]
    fn every_answer_must_grant_every_check() {
        let granted = serde_json::json!({"active": true, "results": [{"reason": "granted"}]});
        all_granted(&granted, 1).unwrap();
        let refused = serde_json::json!({"active": true, "results": [{"reason": "forbidden"}]});
        assert!(all_granted(&refused, 1).unwrap_err().to_string().contains("not granted"));
        let inactive = serde_json::json!({"active": false, "reason": "unknown"});
        assert!(all_granted(&inactive, 1).unwrap_err().to_string().contains("not active"));
        assert!(all_granted(&granted, 2).unwrap_err().to_string().contains("1 results for 2"));
    }
}
