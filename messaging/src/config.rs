//! The broker settings of a binary that publishes or consumes messages.

use std::{str::FromStr, time::Duration};

use clap::Args;

/// Where the broker is, how names are prefixed, and how consumers retry.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// AMQP 0-9-1 URL of the RabbitMQ broker.
    #[arg(long, env = "AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f", value_parser = parse_amqp_url)]
    pub amqp_url: String,
    /// Put before every exchange and queue name, so that several stacks can share one broker
    /// (each test run uses its own).
    #[arg(long, env = "AMQP_PREFIX", default_value = "", value_parser = parse_prefix)]
    pub amqp_prefix: String,
    /// Delays before each new attempt at a message whose handling failed, comma-separated;
    /// once they are used up the message goes to the dead-letter queue.
    #[arg(long, env = "MESSAGE_RETRY_DELAYS", default_value = "1s,5s,30s", value_parser = parse_delays)]
    pub message_retry_delays: RetryDelays,
    /// Messages a consumer holds unacknowledged, and handles at once.
    #[arg(long, env = "CONSUMER_PREFETCH", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub consumer_prefetch: u16,
}

/// The growing pauses between attempts at a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryDelays(pub Vec<Duration>);

impl RetryDelays {
    /// Attempts in all: the first, and one after each delay.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.0.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }
}

fn parse_amqp_url(value: &str) -> Result<String, String> {
    lapin::uri::AMQPUri::from_str(value)?;
    Ok(value.to_owned())
}

fn parse_prefix(value: &str) -> Result<String, String> {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value.len() <= 100
    {
        Ok(value.to_owned())
    } else {
        Err("letters, digits, '-', '_' or '.' only, at most 100".into())
    }
}

/// `1s,5s,30s`: at most ten delays, each from 100 ms to a day, each at least the one before
/// (every delay has a queue of its own, named after it).
fn parse_delays(value: &str) -> Result<RetryDelays, String> {
    let mut delays = Vec::new();
    for part in value
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let delay = humantime::parse_duration(part).map_err(|err| format!("`{part}`: {err}"))?;
        if !(Duration::from_millis(100)..=Duration::from_secs(86_400)).contains(&delay) {
            return Err(format!("`{part}` must be from 100ms to 1day"));
        }
        if delays.last().is_some_and(|last| delay < *last) {
            return Err(format!("`{part}` is shorter than the delay before it"));
        }
        delays.push(delay);
    }
    if delays.len() > 10 {
        return Err("at most ten delays".into());
    }
    Ok(RetryDelays(delays))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Sample {
        #[command(flatten)]
        broker: BrokerArgs,
    }

    #[test]
    fn the_defaults_are_the_local_broker_and_three_growing_delays() {
        let sample = Sample::try_parse_from(["sample"]).expect("the defaults parse");
        assert_eq!(sample.broker.amqp_prefix, "");
        assert_eq!(sample.broker.message_retry_delays.attempts(), 4);
        assert_eq!(
            sample.broker.message_retry_delays.0,
            [1, 5, 30].map(Duration::from_secs)
        );
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        for (value, reason) in [
            ("1s,nope", "`nope`"),
            ("5s,1s", "shorter"),
            ("10ms", "from 100ms"),
        ] {
            let err = parse_delays(value).expect_err(value);
            assert!(err.contains(reason), "{value}: {err}");
        }
        assert_eq!(parse_delays("").expect("no retries").attempts(), 1);
        assert!(parse_prefix("test-1.").is_ok());
        assert!(parse_prefix("a b").is_err());
        assert!(parse_amqp_url("http://x").is_err());
    }
}
