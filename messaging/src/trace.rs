//! W3C trace context across the broker: taken from the span that writes a message to the
//! outbox, carried in the AMQP headers, and made the parent of the span that handles it, so
//! that one order is one trace across HTTP and AMQP.

use std::collections::HashMap;

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry::{Context, global};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The current span's context as propagation headers (`traceparent`, `tracestate`); empty
/// when nothing is traced.
pub fn current_headers() -> HashMap<String, String> {
    headers_of(&tracing::Span::current().context())
}

/// `context` as propagation headers.
pub fn headers_of(context: &Context) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|propagator| propagator.inject_context(context, &mut headers));
    headers
}

/// The context that propagation headers carry.
pub fn context_of(headers: &HashMap<String, String>) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(headers))
}

/// The string headers of an AMQP message (trace context among them).
pub fn from_amqp(table: Option<&FieldTable>) -> HashMap<String, String> {
    table
        .map(|table| {
            table
                .inner()
                .iter()
                .filter_map(|(key, value)| match value {
                    AMQPValue::LongString(text) => Some((
                        key.as_str().to_owned(),
                        String::from_utf8_lossy(text.as_bytes()).into_owned(),
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Adds string headers to an AMQP header table.
pub fn into_amqp(table: &mut FieldTable, headers: &HashMap<String, String>) {
    for (key, value) in headers {
        table.insert(
            ShortString::from(key.as_str()),
            AMQPValue::LongString(LongString::from(value.as_str())),
        );
    }
}

/// Makes `span` a child of the context `headers` carry (no-op without one).
pub fn adopt(span: &tracing::Span, headers: &HashMap<String, String>) {
    if headers.contains_key("traceparent") {
        let _ = span.set_parent(context_of(headers));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_headers_survive_a_trip_through_an_amqp_table() {
        let headers = HashMap::from([(
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )]);
        let mut table = FieldTable::default();
        table.insert("x-attempt".into(), AMQPValue::LongLongInt(2));
        into_amqp(&mut table, &headers);
        assert_eq!(from_amqp(Some(&table)), headers);
        assert!(from_amqp(None).is_empty());
    }
}
