//! Calls through the gateway, each answered with its status and JSON body; a transport
//! failure or an unexpected status becomes a [`SeedError`] naming the call.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::{config::Config, error::SeedError};

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
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), SeedError> {
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
        Ok((status, response.json().await.unwrap_or(Value::Null)))
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
