//! Faults: a saga command or reply that is dead-lettered is reported to the saga on
//! `saga.replies`, before it is moved, so that no saga waits on a clock for an answer that
//! will never come.

use lapin::{
    BasicProperties, Channel, message::Delivery, options::BasicPublishOptions,
    publisher_confirm::Confirmation,
};
use uuid::Uuid;

use super::{Consumer, Handler, headers::original_exchange};
use crate::{
    contracts::{Fault, reply},
    envelope::Envelope,
    topology::Exchange,
};

impl<H: Handler> Consumer<H> {
    /// Publishes the fault of `envelope` if it is a saga command or reply (a fault itself
    /// never is: a fault the saga cannot take is only dead-lettered). Returns whether the
    /// broker took it, or none was due.
    pub(super) async fn report_fault(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        envelope: &Envelope,
        category: &str,
        detail: &str,
    ) -> bool {
        let original = original_exchange(delivery);
        let exchange = original
            .strip_prefix(self.topology.prefix())
            .and_then(Exchange::parse);
        if !matches!(
            exchange,
            Some(Exchange::SagaCommands | Exchange::SagaReplies)
        ) || envelope.kind == reply::FAULT
        {
            return true;
        }
        let fault = Envelope {
            id: Uuid::now_v7(),
            kind: reply::FAULT.to_owned(),
            occurred_at: chrono::Utc::now(),
            aggregate_id: envelope.aggregate_id.clone(),
            payload: serde_json::to_value(Fault {
                message_id: envelope.id,
                message_type: envelope.kind.clone(),
                queue: self.queue.name.to_owned(),
                category: category.to_owned(),
                detail: detail.chars().take(1000).collect(),
            })
            .unwrap_or_default(),
        };
        let body = serde_json::to_vec(&fault).unwrap_or_default();
        let mut properties = BasicProperties::default()
            .with_message_id(fault.id.to_string().into())
            .with_type(reply::FAULT.into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_app_id(self.service.as_str().into());
        // The trace goes on: the fault is a child of the message given up on.
        if let Some(headers) = delivery.properties.headers() {
            properties = properties.with_headers(headers.clone());
        }
        let published = async {
            let confirm = channel
                .basic_publish(
                    &self.topology.exchange(Exchange::SagaReplies),
                    reply::FAULT,
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    properties,
                )
                .await?;
            lapin::Result::Ok(matches!(confirm.await?, Confirmation::Ack(None)))
        }
        .await;
        match published {
            Ok(true) => {
                metrics::counter!("message_faults_reported_total", "queue" => self.queue.name)
                    .increment(1);
                true
            }
            outcome => {
                tracing::warn!(
                    ?outcome,
                    "the fault could not be reported; the message is kept"
                );
                false
            }
        }
    }
}
