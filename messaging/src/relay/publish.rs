//! Publishing a batch of rows: sent one after the other without waiting, then confirmed in
//! order.

use chrono::Utc;
use lapin::{
    BasicProperties, Channel,
    options::BasicPublishOptions,
    publisher_confirm::{Confirmation, PublisherConfirm},
    types::FieldTable,
};
use uuid::Uuid;

use super::{BROKER_LIMIT, Relay, RelayError, Row};
use crate::{envelope::Envelope, topology::Exchange, trace};

impl Relay {
    /// Publishes `rows` in order without waiting between them, then waits for the broker's
    /// confirms in order; returns the ids of the confirmed prefix, and why it ends early.
    pub(super) async fn publish(
        &self,
        channel: &Channel,
        rows: &[Row],
    ) -> (Vec<Uuid>, Option<RelayError>) {
        let mut confirms = Vec::with_capacity(rows.len());
        let mut failure = None;
        for row in rows {
            match tokio::time::timeout(BROKER_LIMIT, self.send(channel, row)).await {
                Ok(Ok(confirm)) => confirms.push(confirm),
                Ok(Err(err)) => {
                    failure = Some(err.into());
                    break;
                }
                Err(_) => {
                    failure = Some(RelayError::Stalled("publish"));
                    break;
                }
            }
        }
        let mut sent = Vec::with_capacity(confirms.len());
        for (row, confirm) in rows.iter().zip(confirms) {
            let refused = match tokio::time::timeout(BROKER_LIMIT, confirm).await {
                Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => None,
                Ok(Ok(Confirmation::Ack(Some(_)))) => Some(RelayError::Unroutable(row.id)),
                Ok(Ok(Confirmation::Nack(_))) => Some(RelayError::Refused(row.id)),
                Ok(Err(err)) => Some(RelayError::Broker(err)),
                Err(_) => Some(RelayError::Stalled("confirm")),
            };
            if let Some(refused) = refused {
                failure = Some(refused);
                break;
            }
            let delay = (Utc::now() - row.occurred_at).to_std().unwrap_or_default();
            metrics::histogram!("outbox_relay_delay_seconds", "outbox" => self.outbox.label().to_owned())
                .record(delay.as_secs_f64());
            metrics::counter!("messages_published_total", "exchange" => row.exchange.clone(), "type" => row.message_type.clone())
                .increment(1);
            sent.push(row.id);
        }
        (sent, failure)
    }

    async fn send(&self, channel: &Channel, row: &Row) -> lapin::Result<PublisherConfirm> {
        let span = tracing::info_span!(
            "publish",
            otel.kind = "producer",
            messaging.system = "rabbitmq",
            messaging.destination.name = %row.exchange,
            messaging.message.type = %row.message_type,
            messaging.message.id = %row.id,
        );
        trace::adopt(&span, &row.headers.0);
        let mut headers = FieldTable::default();
        trace::into_amqp(&mut headers, &span.in_scope(trace::current_headers));
        let envelope = Envelope {
            id: row.id,
            kind: row.message_type.clone(),
            occurred_at: row.occurred_at,
            aggregate_id: row.aggregate_id.clone(),
            payload: row.payload.0.clone(),
        };
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        let properties = BasicProperties::default()
            .with_message_id(row.id.to_string().into())
            .with_type(row.message_type.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_timestamp(u64::try_from(row.occurred_at.timestamp()).unwrap_or_default())
            .with_app_id(self.service.as_str().into())
            .with_headers(headers);
        let mandatory = Exchange::parse(&row.exchange).is_none_or(Exchange::must_route);
        let exchange = format!("{}{}", self.topology.prefix(), row.exchange);
        channel
            .basic_publish(
                &exchange,
                &row.message_type,
                BasicPublishOptions {
                    mandatory,
                    ..BasicPublishOptions::default()
                },
                &body,
                properties,
            )
            .await
    }
}
