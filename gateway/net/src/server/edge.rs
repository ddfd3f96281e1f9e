//! What the listeners add around every answer when HTTPS is on, as nginx's `return 308
//! https://...` and `add_header Strict-Transport-Security`: on the HTTPS port, HSTS, which
//! tells browsers to come back over HTTPS alone (RFC 6797); on the plain port, if asked, a
//! permanent redirect to HTTPS for everything but the health probes, which orchestrators make
//! in clear.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use futures::future::{BoxFuture, Either, FutureExt};
use http::{HeaderValue, Request, StatusCode, Uri, header, uri::Authority};
use hyper::body::Incoming;
use shared::problem::{FieldError, Problem};

/// Adds `Strict-Transport-Security` to every answer that has none.
#[derive(Debug, Clone)]
pub(super) struct Hsts<C> {
    pub inner: C,
    /// `None`: HSTS is off.
    pub value: Option<HeaderValue>,
}

/// The header's value for `max_age` (`None` for zero: no header).
pub(super) fn hsts_value(max_age: Duration) -> Option<HeaderValue> {
    (!max_age.is_zero())
        .then(|| HeaderValue::from_str(&format!("max-age={}", max_age.as_secs())).ok())
        .flatten()
}

impl<C> hyper::service::Service<Request<Incoming>> for Hsts<C>
where
    C: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>,
    C::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<C::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let answer = self.inner.call(request);
        match &self.value {
            None => Either::Left(answer),
            Some(value) => {
                let value = value.clone();
                Either::Right(
                    answer
                        .map(move |answered| {
                            answered.map(|mut response| {
                                response
                                    .headers_mut()
                                    .entry(header::STRICT_TRANSPORT_SECURITY)
                                    .or_insert(value);
                                response
                            })
                        })
                        .boxed(),
                )
            }
        }
    }
}

/// Answers plain requests with a redirect to `https_port`, or passes them on.
#[derive(Debug, Clone)]
pub(super) struct ToHttps<C> {
    pub inner: C,
    /// `None`: no redirect.
    pub https_port: Option<u16>,
}

impl<C> hyper::service::Service<Request<Incoming>> for ToHttps<C>
where
    C: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<C::Future, std::future::Ready<Result<Response, Infallible>>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        match self.https_port {
            Some(port) if !is_health_probe(request.uri().path()) => {
                Either::Right(std::future::ready(Ok(redirect(&request, port))))
            }
            _ => Either::Left(self.inner.call(request)),
        }
    }
}

/// `/health` and what is under it (`/health/live`...): the probes orchestrators make in
/// clear. Not `/healthy-bowls`, which is a route like any other.
fn is_health_probe(path: &str) -> bool {
    path.strip_prefix("/health")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// 308 (the method and body kept, unlike 301) to the same target on `port`, or 400 when the
/// request names no host to send it to.
fn redirect<B>(request: &Request<B>, port: u16) -> Response {
    let host = request.uri().authority().cloned().or_else(|| {
        let host = request.headers().get(header::HOST)?.to_str().ok()?;
        host.parse::<Authority>().ok()
    });
    let Some(host) = host else {
        return no_host("a request redirected to HTTPS needs the host it was sent to");
    };
    let authority = match port {
        443 => host.host().to_owned(),
        port if host.host().contains(':') => {
            format!("[{}]:{port}", host.host().trim_matches(['[', ']']))
        }
        port => format!("{}:{port}", host.host()),
    };
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |target| target.as_str());
    match Uri::builder()
        .scheme("https")
        .authority(authority)
        .path_and_query(target)
        .build()
        .ok()
        .and_then(|uri| HeaderValue::from_str(&uri.to_string()).ok())
    {
        Some(location) => Response::builder()
            .status(StatusCode::PERMANENT_REDIRECT)
            .header(header::LOCATION, location)
            .body(Body::empty())
            .unwrap_or_default(),
        None => no_host("not a host to redirect to"),
    }
}

fn no_host(detail: &str) -> Response {
    Problem::bad_request(format!("host: {detail}"))
        .with_errors(vec![FieldError::new("host", detail)])
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(target: &str, host: Option<&str>, port: u16) -> Result<String, StatusCode> {
        let mut request = Request::builder().uri(target);
        if let Some(host) = host {
            request = request.header(header::HOST, host);
        }
        let answer = redirect(&request.body(()).expect("a request"), port);
        match answer.status() {
            StatusCode::PERMANENT_REDIRECT => Ok(answer.headers()[header::LOCATION]
                .to_str()
                .expect("text")
                .to_owned()),
            status => Err(status),
        }
    }

    #[test]
    fn a_redirect_keeps_the_host_and_target_and_names_the_https_port() {
        assert_eq!(
            location("/orders?page=2", Some("example.test:3000"), 3443),
            Ok("https://example.test:3443/orders?page=2".into())
        );
        assert_eq!(
            location("/", Some("example.test"), 443),
            Ok("https://example.test/".into()),
            "the default port is left out"
        );
        assert_eq!(
            location("/a", Some("[::1]:3000"), 3443),
            Ok("https://[::1]:3443/a".into()),
            "an IPv6 literal stays bracketed"
        );
        assert_eq!(
            location("http://absolute.test:80/b", Some("ignored.test"), 8443),
            Ok("https://absolute.test:8443/b".into()),
            "an absolute-form target names the host"
        );
    }

    #[test]
    fn a_request_naming_no_usable_host_is_refused_not_redirected() {
        assert_eq!(
            location("/orders", None, 3443),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            location("/orders", Some("bad host"), 3443),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn only_the_health_probes_stay_in_clear() {
        for probe in ["/health", "/health/live", "/health/ready"] {
            assert!(is_health_probe(probe), "{probe}");
        }
        for route in ["/healthy-bowls", "/health-x", "/orders/health", "/"] {
            assert!(!is_health_probe(route), "{route}");
        }
    }
}
