//! Structured logs with `tracing`: text for people, JSON for collectors. `RUST_LOG`
//! filters (default `info`). Logs go to stderr; colours only on a terminal.
//!
//! Traces: OpenTelemetry over OTLP/gRPC, on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter and the SDK read the other
//! standard variables themselves (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`),
//! and `OTEL_SDK_DISABLED=true` turns them off. A trace has the request's span (`http` or
//! `grpc`, parented on the caller's W3C `traceparent`), the domain operation's span under it,
//! and one span per database statement under that. The trace layers have their own filter,
//! independent of `RUST_LOG`, and exist only when tracing is on: with it off the operation
//! spans (at `debug`) are disabled at their call sites and cost nothing.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{KeyValue, global};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::LogFormat;

/// What was set up; [`Telemetry::shutdown`] flushes the spans not yet exported.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether traces are exported (and `traceparent` is read).
    pub fn tracing(&self) -> bool {
        self.provider.is_some()
    }

    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "flushing the last spans failed");
        }
    }
}

/// The dispatcher the subscriber was installed as, so the JSON formatter and the statement
/// layer can ask the OpenTelemetry layer for a span's context.
static DISPATCH: OnceLock<WeakDispatch> = OnceLock::new();

/// Installs the subscriber. Call once, from within the tokio runtime (the exporter's
/// channel and batch processor run on it). `database` names the database system for the
/// statement spans (`postgresql`, `sqlite`).
pub fn init(format: LogFormat, database: &'static str) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).map_event_format(WithTraceId).boxed(),
    }
    .with_filter(filter);
    let provider = provider()?;
    let (spans, statements) = match &provider {
        None => (None, None),
        Some(provider) => {
            let tracer = provider.tracer("accountd");
            let spans = tracing_opentelemetry::layer()
                .with_tracer(tracer.clone())
                .with_threads(false)
                .with_tracked_inactivity(false)
                .with_filter(traced());
            let statements =
                StatementSpans { tracer, database }.with_filter(traced().with_target("sqlx::query", Level::DEBUG));
            (Some(spans), Some(statements))
        }
    };
    tracing_subscriber::registry().with(fmt).with(spans).with(statements).with(Registered).try_init()?;
    Ok(Telemetry { provider })
}

/// What the trace layers see: the request spans (REST, gRPC) and the domain operations'.
fn traced() -> Targets {
    Targets::new()
        .with_target("accountd_rest", Level::INFO)
        .with_target("accountd_grpc", Level::INFO)
        .with_target("accountd_domain", Level::DEBUG)
}

/// The tracer provider when the environment asks for traces.
fn provider() -> anyhow::Result<Option<SdkTracerProvider>> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || (set("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() && set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none())
    {
        return Ok(None);
    }
    for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(protocol) = set(name)
            && protocol != "grpc"
        {
            bail!("invalid settings: {name}={protocol}: accountd exports traces over OTLP/gRPC only (grpc)");
        }
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .context("invalid settings: the OTLP trace exporter (OTEL_EXPORTER_OTLP_*)")?;
    let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
        exporter,
        opentelemetry_sdk::runtime::Tokio,
    )
    .build();
    let mut resource = opentelemetry_sdk::Resource::builder();
    if set("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("accountd");
    }
    let provider = SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource.build()).build();
    global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    Ok(Some(provider))
}

/// Remembers the dispatcher once the subscriber is built (a layer is told it).
struct Registered;

impl<S: Subscriber> Layer<S> for Registered {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = DISPATCH.set(subscriber.downgrade());
    }
}

/// The OpenTelemetry context of the span `id`, when tracing is on.
fn otel_context(id: &tracing::span::Id) -> Option<opentelemetry::Context> {
    let dispatch = DISPATCH.get()?.upgrade()?;
    tracing_opentelemetry::get_otel_context(id, &dispatch)
}

/// The JSON formatter, with the trace id of the event's span as `trace_id` when tracing is on.
struct WithTraceId<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let trace_id = ctx
            .event_scope()
            .and_then(|mut scope| scope.next())
            .and_then(|span| otel_context(&span.id()))
            .map(|cx| cx.span().span_context().trace_id())
            .filter(|id| *id != opentelemetry::trace::TraceId::INVALID);
        let Some(trace_id) = trace_id else { return self.0.format_event(ctx, writer, event) };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // One JSON object and a line break: the id goes in before the closing brace.
        match line.trim_end().strip_suffix('}') {
            Some(head) => writeln!(writer, "{head},\"trace_id\":\"{trace_id}\"}}"),
            None => writer.write_str(&line),
        }
    }
}

/// One span per database statement: sqlx logs each statement once it is done, with how long
/// it took (`sqlx::query` at debug); this layer turns that into a client span ending now,
/// under the span the statement ran in.
struct StatementSpans {
    tracer: SdkTracer,
    database: &'static str,
}

#[derive(Default)]
struct Statement {
    summary: String,
    text: String,
    elapsed_secs: f64,
    rows_affected: Option<i64>,
    rows_returned: Option<i64>,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.text = value.trim().to_owned(),
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_i64(field, i64::try_from(value).unwrap_or(i64::MAX));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "rows_affected" => self.rows_affected = Some(value),
            "rows_returned" => self.rows_returned = Some(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S> Layer<S> for StatementSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        // A statement outside any traced span (start-up, background work) is not traced.
        let Some(parent) = ctx.event_span(event).and_then(|span| otel_context(&span.id())) else { return };
        let mut statement = Statement::default();
        event.record(&mut statement);
        let end = SystemTime::now();
        let start = end.checked_sub(Duration::from_secs_f64(statement.elapsed_secs.max(0.0))).unwrap_or(end);
        let text = if statement.text.is_empty() { statement.summary.clone() } else { statement.text };
        let mut attributes = vec![KeyValue::new("db.system.name", self.database), KeyValue::new("db.query.text", text)];
        attributes.extend(statement.rows_affected.map(|n| KeyValue::new("db.rows_affected", n)));
        attributes.extend(statement.rows_returned.map(|n| KeyValue::new("db.response.returned_rows", n)));
        let mut span = self
            .tracer
            .span_builder(statement.summary)
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        span.end_with_timestamp(end);
    }
}
