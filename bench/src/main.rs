//! `accountd-bench`: accountd against the raw database doing the same work, side by side in
//! one run. `cargo xtask bench [--quick]` builds this and accountd in release mode and runs
//! it; see docs/benchmarks.md.
//!
//! The run: a fresh database, migrated by accountd, seeded with SQL; accountd started once
//! with sqlx statement logging to capture what each scenario's request issues, and once
//! more, with its default logging, to be measured; for each scenario the load generator and
//! then pgbench (the captured statements as its script) at the same concurrency for the
//! same time; the report and chart in the output directory.

mod accountd;
mod capture;
mod db;
mod decisions;
mod load;
mod pgbench;
mod report;
mod stats;
mod trees;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;

use crate::accountd::Accountd;
use crate::capture::Slot;
use crate::db::{DATABASE, Kind, Server, Shape};
use crate::load::{Connection, HttpRequest};
use crate::pgbench::Vars;
use crate::report::{Cpu, Report, Row};
use crate::stats::{Measurement, Rng};

/// Items per listed page in the listing scenarios.
const PAGE_SIZE: u64 = 50;
/// How many users' tokens the load (and pgbench's scripts, one per user) spread over.
const LOAD_USERS: u64 = 32;

#[derive(Debug, Parser)]
#[command(about = "accountd against pgbench running the same SQL")]
struct Args {
    /// The release accountd binary.
    #[arg(long)]
    accountd: PathBuf,
    /// Any database URL of the PostgreSQL server to use (user postgres); the run creates
    /// its own database there.
    #[arg(long)]
    database_url: String,
    /// Where the report, chart, scripts and logs go.
    #[arg(long)]
    out: PathBuf,
    /// pgbench; psql is taken from the same directory.
    #[arg(long, default_value = "pgbench")]
    pgbench: PathBuf,
    /// A one-minute smoke run: a small data set and short runs.
    #[arg(long)]
    quick: bool,
    #[arg(long)]
    accounts: Option<u64>,
    #[arg(long)]
    users: Option<u64>,
    #[arg(long)]
    audit_events: Option<u64>,
    /// Seconds each side of each scenario runs.
    #[arg(long)]
    seconds: Option<u64>,
    /// Concurrent connections (load generator) and clients (pgbench).
    #[arg(long)]
    connections: Option<usize>,
    /// The page number of the deep listing scenario.
    #[arg(long)]
    depth: Option<u64>,
    /// Tokens the decision cache is filled with for its memory figure (100 000; 10 000 with
    /// --quick).
    #[arg(long)]
    cached_tokens: Option<u64>,
    /// RUST_LOG for the measured accountd (its default filter when not given).
    #[arg(long)]
    rust_log: Option<String>,
}

/// The run's parameters once defaults are applied.
#[derive(Debug, Clone, Copy)]
struct Plan {
    shape: Shape,
    seconds: u64,
    connections: usize,
    depth: u64,
    cached_tokens: u64,
}

impl Plan {
    fn from(args: &Args) -> Result<Self> {
        let (accounts, users, events, seconds, depth, cached) = if args.quick {
            (10_000, 100, 1_000, 4, 100, 10_000)
        } else {
            (1_000_000, 10_000, 100_000, 15, 10_000, 100_000)
        };
        let shape = Shape {
            accounts: args.accounts.unwrap_or(accounts),
            users: args.users.unwrap_or(users),
            audit_events: args.audit_events.unwrap_or(events),
        };
        ensure!(shape.per_user() >= 2, "need at least two accounts per user");
        let depth = args.depth.unwrap_or(depth);
        ensure!(
            depth >= 2 && depth * PAGE_SIZE < shape.users * shape.per_user(),
            "page {depth} of {PAGE_SIZE} is past the {} seeded accounts",
            shape.accounts
        );
        Ok(Self {
            shape,
            seconds: args.seconds.unwrap_or(seconds),
            connections: args.connections.unwrap_or(16),
            depth,
            cached_tokens: args.cached_tokens.unwrap_or(cached),
        })
    }
}

/// What the scenarios need to know about the seeded data and the callers.
struct Ctx {
    shape: Shape,
    /// Secrets of users 0..LOAD_USERS, owners of their agencies.
    tokens: Vec<String>,
    digests: Vec<String>,
    root_token: String,
    root_digest: String,
    root_user: String,
    depth: u64,
    /// Set by the cursor walk: the page token and the sort key before page `depth`.
    deep_cursor: String,
    deep_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Get,
    GrpcGet,
    Verify,
    ListFirst,
    ListDeep,
    Create,
}

impl Scenario {
    const ALL: [Scenario; 6] =
        [Scenario::Get, Scenario::GrpcGet, Scenario::Verify, Scenario::ListFirst, Scenario::ListDeep, Scenario::Create];

    fn name(self, ctx: &Ctx) -> String {
        match self {
            Scenario::Get => "GET /v1/accounts/{id}".into(),
            Scenario::GrpcGet => "gRPC GetAccount".into(),
            Scenario::Verify => "token verify".into(),
            Scenario::ListFirst => "list, first page (50)".into(),
            Scenario::ListDeep => format!("list, page {} (50)", ctx.depth),
            Scenario::Create => "POST /v1/accounts + alias + audit".into(),
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Scenario::Get => "get",
            Scenario::GrpcGet => "grpc-get",
            Scenario::Verify => "verify",
            Scenario::ListFirst => "list-first",
            Scenario::ListDeep => "list-deep",
            Scenario::Create => "create",
        }
    }

    fn target(self) -> Option<f64> {
        match self {
            Scenario::Get => Some(0.7),
            Scenario::Create => Some(0.6),
            _ => None,
        }
    }

    /// The request a worker sends next; `rng` picks the user and the account.
    fn request(self, ctx: &Ctx, rng: &mut Rng) -> HttpRequest {
        let u = rng.below(ctx.tokens.len() as u64);
        self.request_of(ctx, u, rng)
    }

    /// A request as user `u` (root in the listings); `rng` picks the account.
    fn request_of(self, ctx: &Ctx, u: u64, rng: &mut Rng) -> HttpRequest {
        let token = ctx.tokens[u as usize].clone();
        let per = ctx.shape.per_user();
        let agency = db::id(Kind::Account, ctx.shape.agency(u));
        let get = |path: String, token: String| HttpRequest { method: http::Method::GET, path, token, body: None };
        match self {
            Scenario::Get | Scenario::GrpcGet => {
                let child = ctx.shape.agency(u) + 1 + rng.below(per - 1);
                get(format!("/v1/accounts/{}", db::id(Kind::Account, child)), token)
            }
            Scenario::Verify => get(format!("/v1/accounts/{agency}/tokens/verify"), token),
            Scenario::ListFirst => get(format!("/v1/accounts?page_size={PAGE_SIZE}"), ctx.root_token.clone()),
            Scenario::ListDeep => get(
                format!("/v1/accounts?page_size={PAGE_SIZE}&page_token={}", ctx.deep_cursor),
                ctx.root_token.clone(),
            ),
            // With its primary alias `bench-<16 hex>@bench.example` on the seeded domain.
            Scenario::Create => HttpRequest {
                method: http::Method::POST,
                path: "/v1/accounts".into(),
                token,
                body: Some(format!(
                    r#"{{"name":"Bench account","type":"ad_account","parent_id":"{agency}","local_part":"bench-{:016x}","domain_id":"{}"}}"#,
                    rng.below(u64::MAX),
                    db::id(Kind::Domain, 0)
                )),
            },
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let plan = Plan::from(&args)?;
    std::fs::create_dir_all(&args.out)?;
    let out = args.out.canonicalize()?;
    let server = Server::from_url(&args.database_url, db::psql_beside(&args.pgbench))?;
    let url = server.url(DATABASE);
    let shape = plan.shape;
    eprintln!("bench: {shape:?}, {} connections, {} s per side", plan.connections, plan.seconds);

    server.recreate()?;
    run_accountd(&args, &url, &["migrate"])?;
    let root_token = run_accountd(&args, &url, &["bootstrap", "--email", "root@bench.example"])?;
    let root_user = server.query(DATABASE, "SELECT id FROM users WHERE root_permissions <> '' LIMIT 1")?;
    let seeding = Instant::now();
    let secrets = db::seed(&server, &shape, LOAD_USERS.min(shape.users))?;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    eprintln!("bench: seeded in {seed_seconds:.1} s");
    let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let root_digest = hex(accountd_domain::TokenSecret::parse(&root_token)
        .map_err(|_| anyhow::anyhow!("bootstrap printed no token"))?
        .digest()
        .0);
    let mut ctx = Ctx {
        shape,
        tokens: secrets.iter().map(|s| s.expose().to_owned()).collect(),
        digests: secrets.iter().map(|s| hex(s.digest().0)).collect(),
        root_token,
        root_digest,
        root_user,
        depth: plan.depth,
        deep_cursor: String::new(),
        deep_key: String::new(),
    };

    // Capture: one instance logging every statement, one request per scenario after a
    // warm-up request (whose once-a-minute token-use write is not part of the steady state).
    let capture_log = out.join("accountd-capture.log");
    let capturing = Accountd::start(&args.accountd, &url, &capture_log, Some("warn,sqlx::query=debug")).await?;
    let walk = walk_pages(&capturing, &mut ctx).await?;
    let mut captured = Vec::new();
    for scenario in Scenario::ALL {
        let statements = capture(&capturing, &ctx, scenario).await?;
        let inserted = if scenario == Scenario::Create { read_back(&server, &statements.1)? } else { Vec::new() };
        std::fs::write(out.join(format!("{}.captured.sql", scenario.slug())), statements.0.join(";\n") + ";\n")?;
        captured.push((scenario, statements.0, inserted));
    }
    drop(capturing);

    let log = out.join("accountd.log");
    let measured = Accountd::start(&args.accountd, &url, &log, args.rust_log.as_deref()).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_idle, _) = measured.memory()?;
    let ctx = Arc::new(ctx);
    let mut rows = Vec::new();
    let mut rss_peak: f64 = 0.0;
    for (scenario, statements, inserted) in &captured {
        let name = scenario.name(&ctx);
        eprintln!("bench: {name}: accountd");
        let pid = measured.pid().to_string();
        let (server_before, _) = accountd::cpu_seconds(&pid)?;
        let (driver_before, _) = accountd::cpu_seconds("self")?;
        let (accountd, peak) = drive(&measured, &ctx, *scenario, &plan).await?;
        let (server_after, _) = accountd::cpu_seconds(&pid)?;
        let (driver_after, _) = accountd::cpu_seconds("self")?;
        rss_peak = rss_peak.max(peak);
        eprintln!("bench: {name}: pgbench");
        let (scripts, vars) = scripts(&ctx, *scenario, statements, inserted)?;
        let (_, children_before) = accountd::cpu_seconds("self")?;
        let pg = pgbench::run(&pgbench::Run {
            pgbench: &args.pgbench,
            host: &server.host,
            port: server.port,
            database: DATABASE,
            clients: plan.connections,
            seconds: plan.seconds,
            scripts: &scripts,
            vars: &vars,
            dir: &out,
            name: scenario.slug(),
        })?;
        let (_, children_after) = accountd::cpu_seconds("self")?;
        let per = |seconds: f64, count: usize| seconds * 1e6 / count.max(1) as f64;
        let cpu = Cpu {
            accountd_us: per(server_after - server_before, accountd.count),
            load_generator_us: per(driver_after - driver_before, accountd.count),
            pgbench_us: per(children_after - children_before, pg.count),
        };
        eprintln!(
            "bench: {name}: {:.0} req/s vs {:.0} tx/s ({:.2})",
            accountd.throughput,
            pg.throughput,
            accountd.throughput / pg.throughput
        );
        rows.push(Row {
            scenario: name,
            accountd,
            pgbench: pg,
            target: scenario.target(),
            cpu,
            statements: statements.len(),
        });
    }
    let askers = decisions::Askers { shape, root_token: ctx.root_token.clone(), tokens: Arc::new(ctx.tokens.clone()) };
    let decision_rows = decisions::measure(&measured, &askers, plan.connections, plan.seconds).await?;
    eprintln!("bench: decision cache: one decision about each of {} more tokens", plan.cached_tokens);
    let cache_memory =
        decisions::cache_memory(&server, &measured, &askers, plan.cached_tokens, plan.connections).await?;
    eprintln!("bench: soak: GET an account with nothing scraping /metrics");
    let soak = soak(&measured, &ctx, &plan).await?;
    eprintln!(
        "bench: soak: {} requests, RSS {:.1} → {:.1} MB, {:.2} bytes per request",
        soak.requests,
        soak.rss_before_mb,
        soak.rss_after_mb,
        soak.bytes_per_request()
    );
    let (_, hwm) = measured.memory()?;
    let notes = plans(&server, &ctx, &captured)?;
    // Issue 14: creations in one tree vs 16 (bench/src/trees.rs), appended to the report.
    eprintln!("bench: creations in one tree vs 16");
    let tenants: Vec<(String, String)> =
        (0..16).map(|u| (ctx.tokens[u].clone(), db::id(Kind::Account, ctx.shape.agency(u as u64)))).collect();
    let per_tree =
        trees::creates_per_tree(measured.http, &tenants, 16, plan.connections, Duration::from_secs(plan.seconds))
            .await?;
    eprintln!("bench: creations: 16 trees / 1 tree = {:.2}", per_tree.ratio());
    drop(measured);

    let report = Report {
        title: format!("accountd vs pgbench{}", if args.quick { " (quick)" } else { "" }),
        facts: vec![
            format!(
                "Data set: {} accounts ({} per user: an agency and its ad accounts), {} users with one membership \
                 and one token each, {} audit events; seeded with SQL in {seed_seconds:.1} s.",
                shape.users * shape.per_user(),
                shape.per_user(),
                shape.users,
                shape.audit_events
            ),
            format!(
                "Each side runs {} s per scenario at {} concurrent connections (load generator) / clients \
                 (pgbench -M prepared); the load spreads over {} users' tokens, pgbench over one script per user.",
                plan.seconds,
                plan.connections,
                ctx.tokens.len()
            ),
            "CPU µs/req: CPU time per completed request (transaction, for pgbench) of the accountd process, of \
             the load generator (this harness) and of pgbench; PostgreSQL's own share is the same work on both sides \
             and is not shown."
                .into(),
            "Machine: 2 shared cores; accountd, PostgreSQL, the load generator and pgbench share them, so absolute \
             numbers drift between runs — compare the ratios."
                .into(),
        ],
        rows,
        decisions: decision_rows,
        cache_memory: Some(cache_memory),
        rss_idle_mb: rss_idle,
        rss_peak_mb: rss_peak.max(hwm),
        walk: Some(walk),
        soak: Some(soak),
        cores: std::thread::available_parallelism().map_or(2.0, |n| n.get() as f64),
        notes,
    };
    let text = report::markdown(&report) + &per_tree.markdown();
    std::fs::write(out.join("report.md"), &text)?;
    report::chart(&report, &out.join("report.svg"))?;
    println!("{text}");
    eprintln!("bench: wrote {} and report.svg", out.join("report.md").display());
    Ok(())
}

/// What the captured SQL and its plans say of the token check and of the deep page.
fn plans(server: &Server, ctx: &Ctx, captured: &[(Scenario, Vec<String>, Inserted)]) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (scenario, statements, _) in captured {
        let plan_of = |statement: &str, value: &str| -> Result<String> {
            let sql = statement.replacen("$1", value, 1).replacen("$2", &(PAGE_SIZE + 1).to_string(), 1);
            let plan = server.query(DATABASE, &format!("EXPLAIN (COSTS OFF) {sql}"))?;
            Ok(plan.lines().map(str::trim).collect::<Vec<_>>().join("; "))
        };
        match scenario {
            Scenario::Verify => {
                let lookups: Vec<&String> = statements.iter().filter(|s| s.contains("FROM tokens")).collect();
                let digest = format!("CAST('\\x{}' AS bytea)", ctx.digests[0]);
                let plan = match lookups.first() {
                    Some(lookup) => plan_of(lookup, &digest)?,
                    None => "none".into(),
                };
                notes.push(format!(
                    "Token check: {} statement(s) on `tokens` per request (target: at most one indexed lookup), {} \
                     statements in all; its plan: {plan}. The secret is hashed with SHA-256, no KDF.",
                    lookups.len(),
                    statements.len()
                ));
            }
            Scenario::ListDeep => {
                let page = statements.iter().find(|s| s.contains("FROM accounts WHERE id > $1"));
                if let Some(page) = page {
                    let plan = plan_of(page, &format!("CAST('{}' AS uuid)", ctx.deep_key))?;
                    notes.push(format!("Page {} of the listing: plan {plan}.", ctx.depth));
                }
            }
            _ => {}
        }
    }
    Ok(notes)
}

/// Runs `accountd <args>` to completion on `url`; returns its stdout.
fn run_accountd(args: &Args, url: &str, command: &[&str]) -> Result<String> {
    let output = std::process::Command::new(&args.accountd)
        .args(command)
        .env("ACCOUNTD_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .with_context(|| format!("running accountd {}", command.join(" ")))?;
    if !output.status.success() {
        bail!("accountd {} failed: {}", command.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Follows cursors from the first page to page `depth`, one request at a time, timing each;
/// keeps the last cursor for the deep-page scenario. Returns (pages, median ms of the first
/// ten, median ms of the last ten).
async fn walk_pages(accountd: &Accountd, ctx: &mut Ctx) -> Result<(usize, f64, f64)> {
    let mut connection = Connection::open(accountd.http).await?;
    // A fresh instance opens its pool connections and prepares its statements first.
    let first = HttpRequest {
        method: http::Method::GET,
        path: format!("/v1/accounts?page_size={PAGE_SIZE}"),
        token: ctx.root_token.clone(),
        body: None,
    };
    for _ in 0..20 {
        connection.send(&first).await?;
    }
    let mut cursor = String::new();
    let mut last_id = String::new();
    let mut times = Vec::new();
    for _ in 1..ctx.depth {
        let mut path = format!("/v1/accounts?page_size={PAGE_SIZE}");
        if !cursor.is_empty() {
            path.push_str(&format!("&page_token={cursor}"));
        }
        let request = HttpRequest { method: http::Method::GET, path, token: ctx.root_token.clone(), body: None };
        let sent = Instant::now();
        let (status, body) = connection.send(&request).await?;
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
        ensure!(status == 200, "listing answered {status}: {}", String::from_utf8_lossy(&body));
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        cursor = page["next_page_token"].as_str().context("no next_page_token")?.to_owned();
        last_id =
            page["accounts"].as_array().and_then(|a| a.last()).and_then(|a| a["id"].as_str()).unwrap_or("").into();
    }
    // Seeded ids sort in seeding order, so the key before page `depth` is a known account.
    let expected = db::id(Kind::Account, (ctx.depth - 1) * PAGE_SIZE - 1);
    ensure!(last_id == expected, "the walk ended at {last_id}, expected {expected}");
    ctx.deep_cursor = cursor;
    ctx.deep_key = last_id;
    // Medians: one page that waited for a new pool connection says nothing about depth.
    let median = |s: &[f64]| {
        let mut sorted = s.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let n = times.len().min(10);
    Ok((times.len(), median(&times[..n]), median(&times[times.len() - n..])))
}

/// The statements one request of `scenario` issued (after a warm-up request), and the id of
/// what it created, if anything.
async fn capture(accountd: &Accountd, ctx: &Ctx, scenario: Scenario) -> Result<(Vec<String>, String)> {
    // User 0 (or root): the scripts of other users replace user 0's ids with theirs.
    // Two draws: a create's second request needs an address of its own. The seed is one no
    // load worker uses (they take 1..=connections), so the load never repeats these addresses.
    let mut rng = Rng::new(u64::MAX / 3);
    let warm_up = scenario.request_of(ctx, 0, &mut rng);
    // The same request again, so the decision cache is as warm for it as in the steady
    // state of the load (a create needs a new address, and its parent is the same).
    let request = if scenario == Scenario::Create { scenario.request_of(ctx, 0, &mut rng) } else { warm_up.clone() };
    let mut connection = Connection::open(accountd.http).await?;
    let (status, _) = send_once(accountd, scenario, &warm_up, &mut connection).await?;
    ensure!(status < 400, "the warm-up request of {scenario:?} answered {status}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = std::fs::metadata(&accountd.log)?.len() as usize;
    let (status, body) = send_once(accountd, scenario, &request, &mut connection).await?;
    ensure!(status < 400, "the captured request of {scenario:?} answered {status}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = std::fs::read_to_string(&accountd.log)?;
    let statements = capture::statements(&log[before..])?;
    ensure!(!statements.is_empty(), "no statement was logged for {scenario:?}");
    let created = if body.is_empty() {
        String::new()
    } else {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    Ok((statements, created))
}

/// Sends `request` once, over gRPC for the gRPC scenario.
async fn send_once(
    accountd: &Accountd,
    scenario: Scenario,
    request: &HttpRequest,
    connection: &mut Connection,
) -> Result<(u16, bytes::Bytes)> {
    if scenario != Scenario::GrpcGet {
        return connection.send(request).await;
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", accountd.grpc))?.connect().await?;
    let mut client = accountd_grpc::pb::account_service_client::AccountServiceClient::new(channel);
    let (token, account_id) = grpc_args(request);
    let mut call = tonic::Request::new(accountd_grpc::pb::GetAccountRequest { account_id });
    call.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    client.get_account(call).await?;
    Ok((200, bytes::Bytes::new()))
}

/// The gRPC twin of a REST GET by id: the token and the account id from the path.
fn grpc_args(request: &HttpRequest) -> (String, String) {
    (request.token.clone(), request.path.rsplit('/').next().unwrap_or_default().to_owned())
}

/// The rows the captured create wrote, as (table, column values, column types), found by
/// the created account's id: the account, its owner membership and its audit event.
type Inserted = Vec<(String, serde_json::Map<String, serde_json::Value>, Vec<(String, String)>)>;

fn read_back(server: &Server, created: &str) -> Result<Inserted> {
    ensure!(!created.is_empty(), "the captured create returned no id");
    // The rows the create wrote, in the order it wrote them: the account, its owner's
    // membership, the account's audit event, the primary alias and the alias's audit event.
    let alias =
        server.query(DATABASE, &format!("SELECT id FROM aliases WHERE CAST(account_id AS text) = '{created}'"))?;
    let alias = alias.trim().to_owned();
    ensure!(!alias.is_empty(), "the captured create made no primary alias");
    let tables = [
        ("accounts", "id", created),
        ("members", "account_id", created),
        ("audit_events", "resource_id", created),
        ("aliases", "id", alias.as_str()),
        ("audit_events", "resource_id", alias.as_str()),
    ];
    let mut out = Vec::new();
    for (table, key, created) in tables {
        let json = server.query(
            DATABASE,
            &format!("SELECT row_to_json(r) FROM {table} r WHERE CAST({key} AS text) = '{created}'"),
        )?;
        let row: serde_json::Value =
            serde_json::from_str(&json).with_context(|| format!("no {table} row for the created account"))?;
        let types = server.query(
            DATABASE,
            &format!(
                "SELECT column_name || '|' || data_type FROM information_schema.columns WHERE table_name = '{table}'"
            ),
        )?;
        let types =
            types.lines().filter_map(|l| l.split_once('|')).map(|(c, t)| (c.to_owned(), t.to_owned())).collect();
        out.push((table.to_owned(), row.as_object().cloned().unwrap_or_default(), types));
    }
    Ok(out)
}

/// Load windows of the soak after its warm-up window, each as long as a scenario's run.
const SOAK_WINDOWS: u32 = 4;

/// The soak: GETs for [`SOAK_WINDOWS`] scenario lengths while nothing scrapes `/metrics`,
/// after one window that warms the pool and the allocator; the resident memory before and
/// after says whether anything grows per request (the metrics recorder did, by about 20
/// bytes, before its upkeep ran).
async fn soak(accountd: &Accountd, ctx: &Arc<Ctx>, plan: &Plan) -> Result<report::Soak> {
    let window = Duration::from_secs(plan.seconds);
    let make: load::MakeRequest = {
        let ctx = ctx.clone();
        Arc::new(move |rng: &mut Rng| Scenario::Get.request(&ctx, rng))
    };
    load::http(accountd.http, plan.connections, window, make.clone()).await?;
    let (rss_before_mb, _) = accountd.memory()?;
    let mut requests = 0;
    for _ in 0..SOAK_WINDOWS {
        let measured = load::http(accountd.http, plan.connections, window, make.clone()).await?;
        ensure!(measured.errors == 0, "the soak saw {} failed requests", measured.errors);
        requests += measured.count;
    }
    let (rss_after_mb, _) = accountd.memory()?;
    Ok(report::Soak { requests, rss_before_mb, rss_after_mb })
}

/// Drives `scenario` against accountd; returns the measurement and the peak RSS seen (MB).
async fn drive(accountd: &Accountd, ctx: &Arc<Ctx>, scenario: Scenario, plan: &Plan) -> Result<(Measurement, f64)> {
    let pid = accountd.pid();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((rss, _)) = accountd::memory_of(pid) {
                    peak = peak.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            peak
        })
    };
    let duration = Duration::from_secs(plan.seconds);
    let measurement = if scenario == Scenario::GrpcGet {
        let ctx = ctx.clone();
        let make: load::MakeGrpc = Arc::new(move |rng: &mut Rng| grpc_args(&scenario.request(&ctx, rng)));
        load::grpc_get_account(accountd.grpc, plan.connections, duration, make).await?
    } else {
        let ctx = ctx.clone();
        let make: load::MakeRequest = Arc::new(move |rng: &mut Rng| scenario.request(&ctx, rng));
        load::http(accountd.http, plan.connections, duration, make).await?
    };
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    Ok((measurement, sampler.await?))
}

/// Stands for the calling token's digest until the script picks the user's with `\if`.
const DIGEST_MARK: &str = "@@digest@@";

/// pgbench's script for `scenario`: the captured statements with each placeholder bound to
/// the value of the same kind. The user is a random variable `u` over the users whose tokens
/// the load uses (root in the listings), and every id is computed from it; only the token
/// digest cannot be, so the token lookup is an `\if` chain with one literal per user (each
/// branch is prepared once per client, as sqlx prepares once per pooled connection).
fn scripts(ctx: &Ctx, scenario: Scenario, statements: &[String], inserted: &Inserted) -> Result<(Vec<String>, Vars)> {
    let mut vars = Vars::default();
    let per = ctx.shape.per_user();
    let uuid = |text: String| format!("CAST({text} AS uuid)");
    let lit = |id: String| format!("CAST('{id}' AS uuid)");
    let root = matches!(scenario, Scenario::ListFirst | Scenario::ListDeep);
    let digests: Vec<String> = if root { vec![ctx.root_digest.clone()] } else { ctx.digests.clone() };
    let user = if root { lit(ctx.root_user.clone()) } else { uuid(db::id_sql(Kind::User, ":u")) };
    let agency = uuid(db::id_sql(Kind::Account, ":agency"));
    let mut sets = Vec::new();
    if !root {
        sets.push(format!("\\set u random(0, {})", digests.len() - 1));
        sets.push(format!("\\set agency :u * {per}"));
    }
    // The account the request names, and the ids of its path (root first).
    let (account, path): (String, Vec<String>) = match scenario {
        Scenario::Get | Scenario::GrpcGet => {
            sets.push(format!("\\set n :agency + random(1, {})", per - 1));
            let child = uuid(db::id_sql(Kind::Account, ":n"));
            (child.clone(), vec![agency.clone(), child])
        }
        Scenario::Verify | Scenario::Create => (agency.clone(), vec![agency.clone()]),
        Scenario::ListFirst | Scenario::ListDeep => (String::new(), Vec::new()),
    };
    let mut replacements = Vec::new();
    if scenario == Scenario::Create {
        sets.push("\\set newid random(1, 281474976710655)".into());
        sets.push("\\set newev random(1, 281474976710655)".into());
        sets.push("\\set newal random(1, 281474976710655)".into());
        sets.push("\\set newev2 random(1, 281474976710655)".into());
        let column = |table: &str, nth: usize, column: &str| {
            inserted
                .iter()
                .filter(|(t, _, _)| t == table)
                .nth(nth)
                .and_then(|(_, row, _)| row[column].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        replacements.push((column("accounts", 0, "id"), db::id_sql(Kind::NewAccount, ":newid")));
        replacements.push((column("audit_events", 0, "id"), db::id_sql(Kind::NewEvent, ":newev")));
        replacements.push((column("aliases", 0, "id"), db::id_sql(Kind::NewAlias, ":newal")));
        replacements.push((column("audit_events", 1, "id"), db::id_sql(Kind::NewEvent, ":newev2")));
        // The local part is unique per request, as the load generator makes it.
        replacements.push((column("aliases", 0, "local_part"), "('bench-' || CAST(:newal AS text))".into()));
        // The captured request was user 0's: its ids become the picked user's.
        replacements.push((db::id(Kind::Account, 0), db::id_sql(Kind::Account, ":agency")));
        replacements.push((db::id(Kind::User, 0), db::id_sql(Kind::User, ":u")));
        replacements.push((db::id(Kind::Token, 0), db::id_sql(Kind::Token, ":u")));
        replacements
            .push(("user0@bench.example".to_owned(), "('user' || CAST(:u AS text) || '@bench.example')".into()));
    }
    let new_account = uuid(db::id_sql(Kind::NewAccount, ":newid"));
    // Placeholders are bound from the last to the first of a statement, and `id` is the first
    // column of every INSERT: the audit row in use moves on once an event's id is bound.
    let mut audit_row = 0;
    let text = pgbench::script(&sets, statements, &mut vars, |slot, vars| {
        Ok(match slot {
            Slot::Compare { table, column, .. } if table == "domains" && column == "id" => lit(db::id(Kind::Domain, 0)),
            Slot::Compare { table, column, .. } if table == "aliases" && column == "account_id" => new_account.clone(),
            Slot::Compare { table, column, .. } if table == "aliases" && column == "user_id" => user.clone(),
            Slot::Compare { column, .. } if column == "digest" => DIGEST_MARK.to_owned(),
            Slot::Compare { table, column, .. } if table == "members" && column == "user_id" => user.clone(),
            // The caller read anew: its own create added a membership, which drops it from
            // the decision cache.
            Slot::Compare { table, column, .. } if table == "users" && column == "id" => user.clone(),
            Slot::Compare { table, column, op } if table == "accounts" && column == "id" && op == "=" => {
                account.clone()
            }
            Slot::Compare { table, column, op } if table == "accounts" && column == "id" && op == ">" => {
                lit(ctx.deep_key.clone())
            }
            // The account's path, once for the roles (members.account_id) and once for the
            // accounts enforcing two-factor (accounts.id): the same placeholders in both lists.
            Slot::In { table, column, position, len }
                if (table == "members" && column == "account_id") || column == "id" =>
            {
                ensure!(*len == path.len(), "the IN list has {len} ids, the account's path {}", path.len());
                path[position - 1].clone()
            }
            Slot::Limit => (PAGE_SIZE + 1).to_string(),
            Slot::Insert { table, column } => {
                let nth = if table == "audit_events" { audit_row } else { 0 };
                if table == "audit_events" && column == "id" {
                    audit_row += 1;
                }
                let (_, row, types) = inserted
                    .iter()
                    .filter(|(t, _, _)| t == table)
                    .nth(nth)
                    .with_context(|| format!("no row {nth} of {table} was read back"))?;
                let ty = types.iter().find(|(c, _)| c == column).map(|(_, t)| t.as_str()).unwrap_or("text");
                match &row.get(column.as_str()).cloned().unwrap_or_default() {
                    serde_json::Value::Null => "NULL".into(),
                    serde_json::Value::String(s) => pgbench::value_expr(s, &replacements, ty, vars),
                    other => pgbench::value_expr(&other.to_string(), &replacements, ty, vars),
                }
            }
            other => bail!("the {scenario:?} scenario does not know how to bind {other:?}"),
        })
    })?;
    let script = pgbench::expand(
        &text,
        DIGEST_MARK,
        "u",
        &digests.iter().map(|d| format!("CAST('\\x{d}' AS bytea)")).collect::<Vec<_>>(),
    );
    Ok((vec![script], vars))
}
