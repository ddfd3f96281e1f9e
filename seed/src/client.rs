//! Calls through the gateway, each answered with its status and JSON body; a transport
//! failure or an unexpected status becomes a [`SeedError`] naming the call.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::{config::Config, error::SeedError};

/// Longest a rate-limited call is tried again.
const RATE_LIMITED_FOR: Duration = Duration::from_secs(120);

/// A client of the gateway.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    config: Config,
}

impl Client {
    pub(crate) fn new(config: &Config) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            http,
            config: config.clone(),
        }
    }

    /// `method path` as `token` with `body`: its status and JSON body (`null` when none).
    /// The gateway limits some calls per address (sign-ins and registrations, 10 a minute
    /// by default), and a seed signs in and registers more often than that: a 429 is waited
    /// out as its `Retry-After` says, for two minutes at most.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), SeedError> {
        let deadline = Instant::now() + RATE_LIMITED_FOR;
        loop {
            let mut request = self.http.request(method.clone(), self.config.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|source| SeedError::Transport {
                    call: format!("{method} {path}"),
                    source,
                })?;
            let status = response.status().as_u16();
            if status == 429 {
                let wait = retry_after(response.headers());
                if Instant::now() + wait < deadline {
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Ok((status, response.json().await.unwrap_or(Value::Null)));
        }
    }

    /// Like [`Client::call`], but any status outside `expected` is an error.
    pub(crate) async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expected: &[u16],
    ) -> Result<(u16, Value), SeedError> {
        let (status, answer) = self.call(method.clone(), path, token, body).await?;
        if expected.contains(&status) {
            Ok((status, answer))
        } else {
            Err(SeedError::Refused {
                call: format!("{method} {path}"),
                status,
                detail: answer["detail"]
                    .as_str()
                    .or_else(|| answer["title"].as_str())
                    .map_or_else(|| answer.to_string(), str::to_owned),
            })
        }
    }

    /// Waits until every backend behind the gateway answers (`GET /health` is 200).
    pub(crate) async fn wait_until_healthy(&self) -> Result<(), SeedError> {
        let deadline = Instant::now() + Duration::from_secs(self.config.wait_secs);
        loop {
            match self.call(Method::GET, "/health", None, None).await {
                Ok((200, _)) => return Ok(()),
                outcome if Instant::now() >= deadline => {
                    let seen = match outcome {
                        Ok((status, _)) => format!("last answer {status}"),
                        Err(err) => err.to_string(),
                    };
                    return Err(SeedError::NotHealthy {
                        url: self.config.url("/health"),
                        seen,
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
}

/// How long a 429 asks to wait (`Retry-After` in seconds), between one and thirty seconds;
/// five when it does not say.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let seconds = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(5);
    Duration::from_secs(seconds.clamp(1, 30))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::*;

    fn asked(value: Option<&'static str>) -> Duration {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(value));
        }
        retry_after(&headers)
    }

    #[test]
    fn a_429_is_waited_out_as_it_asks_within_one_and_thirty_seconds() {
        assert_eq!(asked(Some("3")), Duration::from_secs(3));
        assert_eq!(asked(Some("0")), Duration::from_secs(1), "never at once");
        assert_eq!(
            asked(Some("600")),
            Duration::from_secs(30),
            "never for long"
        );
        assert_eq!(asked(None), Duration::from_secs(5));
        assert_eq!(asked(Some("soon")), Duration::from_secs(5), "not a number");
        assert_eq!(
            asked(Some("Wed, 21 Oct 2026 07:28:00 GMT")),
            Duration::from_secs(5),
            "an HTTP date is not followed"
        );
    }
}
