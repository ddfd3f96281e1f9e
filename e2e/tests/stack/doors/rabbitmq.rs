//! The services' RabbitMQ users, set by deploy/rabbitmq/users.sh from deploy/rabbitmq/
//! permissions in a vhost of the test's own on the machine's broker: each declares the
//! topology and publishes its own messages, and none another's.

use std::{process::Command, time::Duration};

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions},
    publisher_confirm::Confirmation,
    types::FieldTable,
};
use messaging::topology::{
    DELIVERY_SERVICE, Exchange, ORDER_SERVICE, PAYMENT_SERVICE, QueueSpec, TRACKING_SERVICE,
    Topology,
};

use super::{password, repo, run};

/// The services' users in a vhost of their own: the vhost and the users are deleted when
/// this is dropped, whatever the test's outcome.
struct Vhost {
    name: String,
    users: String,
    passwords: Vec<(&'static str, String)>,
}

const SERVICES: [&str; 6] = [
    "auth-service",
    "order-service",
    "payment-service",
    "delivery-service",
    "tracking-service",
    "gateway",
];

impl Vhost {
    fn new() -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let vhost = Self {
            name: format!("doors-{id}"),
            users: format!("doors-{id}-"),
            passwords: SERVICES.map(|service| (service, password("amqp"))).to_vec(),
        };
        run(Command::new("rabbitmqctl").args(["-q", "add_vhost", &vhost.name]));
        let mut users = Command::new("sh");
        users
            .arg(repo().join("deploy/rabbitmq/users.sh"))
            .env("RABBITMQ_VHOST", &vhost.name)
            .env("RABBITMQ_USER_PREFIX", &vhost.users)
            .env_remove("AMQP_PREFIX");
        for (service, password) in &vhost.passwords {
            let name = service.trim_end_matches("-service").to_uppercase();
            users.env(format!("RABBITMQ_{name}_PASSWORD"), password);
        }
        run(&mut users);
        vhost
    }

    async fn channel(&self, service: &str) -> (Connection, Channel) {
        let (_, password) = self
            .passwords
            .iter()
            .find(|(name, _)| *name == service)
            .expect("a service");
        let url = format!(
            "amqp://{}{service}:{password}@127.0.0.1:5672/{}",
            self.users, self.name
        );
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap_or_else(|err| panic!("{service} connects as its user: {err}"));
        let channel = connection.create_channel().await.expect("a channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        (connection, channel)
    }

    /// Declares what `service` declares at start, as its user.
    async fn declare_as(&self, service: &str, queue: Option<QueueSpec>) -> lapin::Result<()> {
        let (_connection, channel) = self.channel(service).await;
        let topology = Topology::new("");
        topology.declare(&channel).await?;
        if let Some(queue) = queue {
            topology.declare_queue(&channel, &queue).await?;
            topology
                .declare_retries(&channel, &queue, &[Duration::from_secs(1)])
                .await?;
        }
        Ok(())
    }

    /// Publishes `key` on `exchange` as `service`: whether the broker took it.
    async fn publish_as(&self, service: &str, exchange: Exchange, key: &str) -> Result<(), String> {
        self.publish_on(service, exchange.name(), key).await
    }

    /// Publishes `key` on the exchange named `exchange` as `service`.
    async fn publish_on(&self, service: &str, exchange: &str, key: &str) -> Result<(), String> {
        let (_connection, channel) = self.channel(service).await;
        let confirm = channel
            .basic_publish(
                exchange,
                key,
                BasicPublishOptions::default(),
                b"{}",
                BasicProperties::default(),
            )
            .await
            .map_err(|err| err.to_string())?;
        match confirm.await.map_err(|err| err.to_string())? {
            Confirmation::Ack(_) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        for service in SERVICES {
            let user = format!("{}{service}", self.users);
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "delete_user", &user])
                .output();
        }
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.name])
            .output();
    }
}

fn assert_refused(outcome: Result<(), String>, what: &str) {
    let err = outcome.expect_err(what);
    assert!(
        err.contains("ACCESS_REFUSED") || err.contains("access to"),
        "{what}: {err}"
    );
}

#[tokio::test]
async fn every_service_declares_the_topology_and_its_own_queues_as_its_own_user() {
    let vhost = Vhost::new();
    let own = [
        ("auth-service", None),
        ("order-service", Some(ORDER_SERVICE)),
        ("payment-service", Some(PAYMENT_SERVICE)),
        ("delivery-service", Some(DELIVERY_SERVICE)),
        ("tracking-service", Some(TRACKING_SERVICE)),
        ("gateway", None),
    ];
    for (service, queue) in own {
        vhost
            .declare_as(service, queue)
            .await
            .unwrap_or_else(|err| panic!("{service} declares its topology: {err}"));
    }
    assert_refused(
        vhost
            .declare_as("tracking-service", Some(PAYMENT_SERVICE))
            .await
            .map_err(|err| err.to_string()),
        "tracking-service cannot declare payment-service's retry queues",
    );
}

#[tokio::test]
async fn tracking_service_can_neither_forge_a_payment_reply_nor_read_payments_commands() {
    let vhost = Vhost::new();
    vhost
        .declare_as("payment-service", Some(PAYMENT_SERVICE))
        .await
        .expect("the topology");
    assert_refused(
        vhost
            .publish_as(
                "tracking-service",
                Exchange::SagaReplies,
                "payment.captured",
            )
            .await,
        "tracking-service cannot publish payment.captured",
    );
    let (_connection, channel) = vhost.channel("tracking-service").await;
    let consumed = channel
        .basic_consume(
            "payment-service",
            "spy",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map(drop)
        .map_err(|err| err.to_string());
    assert_refused(
        consumed,
        "tracking-service cannot consume payment-service's queue",
    );
}

#[tokio::test]
async fn payment_service_publishes_its_replies_and_no_other_participants() {
    let vhost = Vhost::new();
    vhost
        .declare_as("order-service", Some(ORDER_SERVICE))
        .await
        .expect("the topology");
    vhost
        .publish_as("payment-service", Exchange::SagaReplies, "payment.captured")
        .await
        .expect("payment-service publishes its reply");
    let (_connection, channel) = vhost.channel("order-service").await;
    let got = channel
        .basic_get("order-service", BasicGetOptions { no_ack: true })
        .await
        .expect("order-service reads its queue");
    assert!(got.is_some(), "the reply reached order-service's queue");
    assert_refused(
        vhost
            .publish_as("payment-service", Exchange::SagaReplies, "shipping.created")
            .await,
        "payment-service cannot publish delivery-service's reply",
    );
    assert_refused(
        vhost
            .publish_as("payment-service", Exchange::SagaCommands, "payment.capture")
            .await,
        "payment-service cannot command itself",
    );
}

#[tokio::test]
async fn no_service_puts_a_message_on_another_ones_queue_by_its_name() {
    let vhost = Vhost::new();
    vhost
        .declare_as("order-service", Some(ORDER_SERVICE))
        .await
        .expect("the topology");
    assert_refused(
        vhost
            .publish_on("tracking-service", "", "order-service")
            .await,
        "tracking-service cannot use the default exchange",
    );
    assert_refused(
        vhost
            .publish_on("tracking-service", "order-service.moves", "order-service")
            .await,
        "tracking-service cannot use order-service's moves",
    );
    vhost
        .publish_on("order-service", "order-service.moves", "order-service.dead")
        .await
        .expect("order-service moves its own messages to its dead letters");
    let (_connection, channel) = vhost.channel("order-service").await;
    let dead = channel
        .basic_get("order-service.dead", BasicGetOptions { no_ack: true })
        .await
        .expect("order-service reads its dead letters");
    assert!(dead.is_some(), "the move reached order-service.dead");
}
