//! Upgrades passed through (a WebSocket's handshake, RFC 6455 §4; RFC 9110 §7.8): the request
//! goes on to the backend over a connection of its own, and once both sides have switched
//! protocols, the bytes are copied each way until either side closes.
//!
//! A connection of its own rather than the pool's: an upgraded connection is the tunnel's
//! for its whole life and never goes back to carrying requests.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body_util::Empty;
use hyper::{body::Incoming, upgrade::OnUpgrade};
use hyper_util::rt::TokioIo;

use crate::{
    client::{DirectError, connect},
    relay::connection_options,
};

/// The protocol `headers` ask to switch to, if they ask for an upgrade: an `Upgrade` field,
/// and `upgrade` among the `Connection` field's options.
pub fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let upgrade = headers.get(header::UPGRADE)?;
    connection_options(headers)
        .any(|option| option.eq_ignore_ascii_case("upgrade"))
        .then(|| upgrade.clone())
}

/// Sends `request` (its `Connection` and `Upgrade` fields set) to the backend at `address`
/// (`host:port`) on a fresh connection, and returns its answer: `101 Switching Protocols`
/// with the connection ready to be taken over by [`splice`], or any other answer.
pub async fn send_upgrade(
    address: &str,
    request: Request<Empty<Bytes>>,
) -> Result<Response<Incoming>, DirectError> {
    let stream = connect(address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(err) = connection.with_upgrades().await {
            tracing::debug!(error = %err, "an upgraded backend connection failed");
        }
    });
    Ok(sender.send_request(request).await?)
}

/// Copies bytes between the client's connection, once `client` has switched protocols, and
/// the backend's, which `switched` (its `101`) took over, until either closes; gives up if
/// the client's side is not handed over within `handover`.
pub fn splice(client: OnUpgrade, switched: &mut Response<Incoming>, handover: Duration) {
    let backend = hyper::upgrade::on(switched);
    tokio::spawn(async move {
        let both = tokio::time::timeout(handover, async { tokio::try_join!(client, backend) });
        let (client, backend) = match both.await {
            Ok(Ok(both)) => both,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "an upgrade was not completed");
                return;
            }
            Err(_) => {
                tracing::debug!("an upgrade was not completed in time");
                return;
            }
        };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        match tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            Ok((sent, received)) => tracing::debug!(sent, received, "tunnel closed"),
            Err(err) => tracing::debug!(error = %err, "tunnel ended with an error"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn an_upgrade_is_asked_by_both_fields_together() {
        let asked = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
        ]);
        assert_eq!(
            requested(&asked),
            Some(HeaderValue::from_static("websocket"))
        );
        assert_eq!(requested(&headers(&[("upgrade", "websocket")])), None);
        assert_eq!(requested(&headers(&[("connection", "upgrade")])), None);
    }
}
