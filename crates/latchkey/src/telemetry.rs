//! Span export over OTLP (off unless `otlp_endpoint` is set) and the W3C
//! trace context (`traceparent`, `tracestate`) that makes a request's span
//! the child of its caller's.

use actix_web::http::header::HeaderMap;
use anyhow::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The exporter, kept to flush what is left when the server stops.
pub struct Exporter(SdkTracerProvider);

impl Exporter {
    /// Sends the spans still queued; call outside the async runtime.
    pub fn shutdown(self) {
        if let Err(e) = self.0.shutdown() {
            eprintln!("latchkey: could not flush the last spans: {e}");
        }
    }
}

/// The tracing layer that exports spans to `endpoint` (an OTLP/HTTP
/// collector), in batches from a thread of its own.
pub fn otlp_layer<S>(
    endpoint: &url::Url,
) -> anyhow::Result<(
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    Exporter,
)>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let traces = endpoint
        .join("v1/traces")
        .context("otlp_endpoint cannot take the /v1/traces path")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces.as_str())
        .build()
        .context("cannot build the OTLP exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("latchkey")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    let tracer = provider.tracer("latchkey");
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        Exporter(provider),
    ))
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` the child of the trace the request's `traceparent` names.
/// A missing or malformed header leaves the span the root of a new trace;
/// without the export layer this does nothing.
pub fn adopt_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}
