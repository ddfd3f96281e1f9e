//! One trace across the broker: the span that handles a message is a child of the span
//! that wrote it to the outbox.

use std::time::Duration;

use messaging::Broker;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    trace::{InMemorySpanExporter, SdkTracerProvider},
};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::{PROBE, Plan, Recorder, TestStores};

#[tokio::test(flavor = "current_thread")]
async fn the_handling_span_joins_the_trace_of_the_span_that_wrote_the_message() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("messaging-test")));
    // The process's default, not the thread's: other tests' consumers hit the same
    // callsites on other threads meanwhile, and a callsite first hit while a thread's
    // subscriber registers may keep an interest that leaves that subscriber out.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    let stores = TestStores::new().await;
    let recorder = Recorder::new(&stores.outbox, Plan::Succeed);
    let broker = Broker::start(&stores.broker.args(), "trace-test");
    stores.declare_probe().await;
    let workers = broker
        .workers()
        .relay(&stores.outbox)
        .consume(PROBE, recorder.clone());

    let request = tracing::info_span!("place order");
    let trace_id = request
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string();
    assert_ne!(trace_id, "00000000000000000000000000000000");
    stores.announce("aggregate-1", 1).instrument(request).await;

    assert_eq!(
        stores.wait_for_effects(1, Duration::from_secs(10)).await.0,
        1
    );
    assert_eq!(
        recorder.traces.lock().expect("not poisoned").as_slice(),
        std::slice::from_ref(&trace_id),
        "handled within the writer's trace"
    );
    workers.shutdown().await;
    let _ = provider.force_flush();
    let spans = exporter.get_finished_spans().expect("spans");
    let names: Vec<(String, String)> = spans
        .iter()
        .filter(|span| span.span_context.trace_id().to_string() == trace_id)
        .map(|span| (span.name.to_string(), format!("{:?}", span.span_kind)))
        .collect();
    for expected in ["publish", "consume"] {
        assert!(
            names.iter().any(|(name, _)| name == expected),
            "{expected} span in the trace: {names:?}"
        );
    }
}
