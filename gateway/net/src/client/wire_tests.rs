//! The client on the wire: how requests are framed, and how answers are read, against an
//! origin whose every byte the test writes.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;

use super::{
    OriginPool, PoolError,
    raw_origin::{Act, RawOrigin},
};

fn request(method: Method, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri("/things?page=2")
        .header("x-trace", "t1")
        .body(body)
        .expect("a request")
}

fn get() -> Request<Body> {
    request(Method::GET, Body::empty())
}

/// The answer's status, whole body and trailers.
async fn answer(
    pool: &OriginPool,
    request: Request<Body>,
) -> Result<(StatusCode, Bytes, Option<http::HeaderMap>), PoolError> {
    let response = pool.send(request).await?;
    let status = response.status();
    let collected = response.into_body().collect().await?;
    let trailers = collected.trailers().cloned();
    Ok((status, collected.to_bytes(), trailers))
}

#[tokio::test]
async fn a_request_goes_in_origin_form_with_a_host_and_its_own_headers() {
    let origin = RawOrigin::start(vec![]).await;
    let pool = origin.pool();
    let (status, _, _) = answer(&pool, get()).await.expect("an answer");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let sent = &origin.requests()[0];
    assert!(
        sent.starts_with("GET /things?page=2 HTTP/1.1\r\n"),
        "{sent}"
    );
    assert!(
        sent.contains(&format!("host: {}\r\n", origin.address)),
        "{sent}"
    );
    assert!(sent.contains("x-trace: t1\r\n"), "{sent}");
    assert!(
        !sent.contains("content-length"),
        "a GET without a body: {sent}"
    );
}

#[tokio::test]
async fn extra_header_fields_replace_the_requests_own_of_the_same_name() {
    let origin = RawOrigin::start(vec![]).await;
    let pool = origin.pool();
    let extra = [
        (
            http::header::HOST,
            http::HeaderValue::from_static("orders:3002"),
        ),
        (
            http::HeaderName::from_static("x-trace"),
            http::HeaderValue::from_static("t2"),
        ),
    ];
    let mut request = get();
    request.headers_mut().insert(
        http::header::HOST,
        http::HeaderValue::from_static("api.example.com"),
    );
    let response = pool.send_with(request, &extra).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let sent = &origin.requests()[0];
    assert!(sent.contains("host: orders:3002\r\n"), "{sent}");
    assert!(sent.contains("x-trace: t2\r\n"), "{sent}");
    assert!(
        !sent.contains("api.example.com") && !sent.contains("t1"),
        "{sent}"
    );
}

#[tokio::test]
async fn request_bodies_go_with_their_length_or_in_chunks() {
    let origin = RawOrigin::start(vec![]).await;
    let pool = origin.pool();
    answer(&pool, request(Method::POST, Body::from("abc")))
        .await
        .expect("an answer");
    let chunks = futures::stream::iter(["ab", "cde"].map(Ok::<_, std::io::Error>));
    answer(&pool, request(Method::POST, Body::from_stream(chunks)))
        .await
        .expect("an answer");
    answer(&pool, request(Method::POST, Body::empty()))
        .await
        .expect("an answer");
    // An empty chunk is no chunk: written, it would end the body.
    let chunks = futures::stream::iter(["", "ab"].map(Ok::<_, std::io::Error>));
    answer(&pool, request(Method::POST, Body::from_stream(chunks)))
        .await
        .expect("an answer");

    let sent = origin.requests();
    assert!(
        sent[0].ends_with("content-length: 3\r\n\r\nabc"),
        "{}",
        sent[0]
    );
    assert!(
        sent[1].ends_with("transfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"),
        "{}",
        sent[1]
    );
    assert!(
        sent[2].ends_with("content-length: 0\r\n\r\n"),
        "{}",
        sent[2]
    );
    assert!(
        sent[3].ends_with("transfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
        "{}",
        sent[3]
    );
    assert_eq!(origin.connections(), 1, "each answer freed the connection");
}

#[tokio::test]
async fn a_chunked_answer_is_decoded_with_its_trailers_and_frees_its_connection() {
    let origin = RawOrigin::start(vec![Act::Answer(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6;note=x\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n",
    )])
    .await;
    let pool = origin.pool();
    let (status, body, trailers) = answer(&pool, get()).await.expect("an answer");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "hello world");
    assert_eq!(trailers.expect("trailers")["x-checksum"], "abc");
    answer(&pool, get()).await.expect("a second answer");
    assert_eq!(origin.connections(), 1);
}

#[tokio::test]
async fn interim_answers_are_skipped() {
    let origin = RawOrigin::start(vec![Act::Answer(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    )])
    .await;
    let pool = origin.pool();
    let (status, body, _) = answer(&pool, get()).await.expect("an answer");
    assert_eq!((status, body.as_ref()), (StatusCode::OK, &b"ok"[..]));
}

#[tokio::test]
async fn an_answer_without_a_length_lasts_until_the_origin_closes() {
    let origin = RawOrigin::start(vec![Act::AnswerAndClose(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end",
    )])
    .await;
    let pool = origin.pool();
    let (_, body, _) = answer(&pool, get()).await.expect("an answer");
    assert_eq!(body, "until the end");
    answer(&pool, get()).await.expect("a second answer");
    assert_eq!(
        origin.connections(),
        2,
        "that connection could not be reused"
    );
}

#[tokio::test]
async fn answers_to_head_and_204_have_no_body_whatever_their_length_says() {
    let origin = RawOrigin::start(vec![
        Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n"),
        Act::Answer(b"HTTP/1.1 204 No Content\r\ncontent-length: 7\r\n\r\n"),
    ])
    .await;
    let pool = origin.pool();
    let (_, body, _) = answer(&pool, request(Method::HEAD, Body::empty()))
        .await
        .expect("an answer");
    assert!(body.is_empty());
    let (status, body, _) = answer(&pool, get()).await.expect("an answer");
    assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
    assert_eq!(origin.connections(), 1);
}

#[tokio::test]
async fn malformed_answers_are_errors_and_their_connections_are_dropped() {
    let origin = RawOrigin::start(vec![
        Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd"),
        Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n"),
        Act::Answer(b"this is not http\r\n\r\n"),
        Act::Answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"),
    ])
    .await;
    let pool = origin.pool();
    for _ in 0..4 {
        match answer(&pool, get()).await {
            Err(PoolError::Malformed(_)) => {}
            other => panic!("expected a malformed answer, got {other:?}"),
        }
    }
    assert_eq!(origin.connections(), 4);
}

#[tokio::test]
async fn a_get_on_a_connection_the_origin_dropped_goes_again_on_a_new_one() {
    let origin = RawOrigin::start(vec![
        Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"),
        // The keep-alive race: the origin drops the idle connection as the request comes.
        Act::Close,
        Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"),
    ])
    .await;
    let pool = origin.pool();
    assert_eq!(answer(&pool, get()).await.expect("an answer").1, "a");
    assert_eq!(answer(&pool, get()).await.expect("an answer").1, "b");
    assert_eq!(origin.requests().len(), 3);
    assert_eq!(origin.connections(), 2);
}

#[tokio::test]
async fn a_post_the_origin_may_have_seen_is_not_sent_again() {
    let origin = RawOrigin::start(vec![
        Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"),
        Act::Close,
    ])
    .await;
    let pool = origin.pool();
    answer(&pool, get()).await.expect("an answer");
    match answer(&pool, request(Method::POST, Body::from("order"))).await {
        Err(PoolError::Incomplete | PoolError::Io(_)) => {}
        other => panic!("expected the connection's failure, got {other:?}"),
    }
    assert_eq!(origin.requests().len(), 2, "sent once");
}

#[tokio::test]
async fn a_connection_the_origin_closed_while_idle_is_not_used_again() {
    let origin = RawOrigin::start(vec![Act::AnswerAndClose(
        // No `connection: close`: the client learns of the close only from the socket.
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na",
    )])
    .await;
    let pool = origin.pool();
    answer(&pool, get()).await.expect("an answer");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let post = request(Method::POST, Body::from("order"));
    let (status, _, _) = answer(&pool, post).await.expect("an answer");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(origin.connections(), 2);
}

#[tokio::test]
async fn an_answer_the_origin_gave_before_reading_the_body_is_the_answer() {
    let origin = RawOrigin::start(vec![Act::AnswerEarly(
        b"HTTP/1.1 413 Content Too Large\r\nconnection: close\r\ncontent-length: 4\r\n\r\nbig!",
    )])
    .await;
    let pool = origin.pool();
    // Far more than the socket buffers hold, so that writing it fails once the origin closes.
    let chunks = futures::stream::iter(
        (0..256).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 64 * 1024]))),
    );
    let upload = request(Method::POST, Body::from_stream(chunks));
    let (status, body, _) = answer(&pool, upload).await.expect("the early answer");
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::PAYLOAD_TOO_LARGE, &b"big!"[..])
    );
}

#[tokio::test]
async fn a_request_body_that_fails_or_outgrows_its_length_is_a_body_error() {
    let origin = RawOrigin::start(vec![]).await;
    let pool = origin.pool();
    let broken = futures::stream::iter([
        Ok(Bytes::from_static(b"part")),
        Err(std::io::Error::other("the client went away")),
    ]);
    match answer(&pool, request(Method::POST, Body::from_stream(broken))).await {
        Err(PoolError::Body(_)) => {}
        other => panic!("expected a body error, got {other:?}"),
    }
    let mut longer = request(
        Method::POST,
        Body::from_stream(futures::stream::iter([
            Ok::<_, std::io::Error>(Bytes::from_static(b"four")),
            Ok(Bytes::from_static(b"more")),
        ])),
    );
    longer.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from_static("4"),
    );
    match answer(&pool, longer).await {
        Err(PoolError::Body(_)) => {}
        other => panic!("expected a body error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_answer_head_over_the_size_limit_is_refused() {
    // Header fields without end: the client gives up at its limit, not at the origin's end.
    let field = [&b"x-padding: "[..], &[b'x'; 8 * 1024], b"\r\n"]
        .concat()
        .repeat(10);
    let huge: &'static [u8] = Box::leak([&b"HTTP/1.1 200 OK\r\n"[..], &field].concat().into());
    let origin = RawOrigin::start(vec![Act::Answer(huge)]).await;
    let pool = origin.pool();
    match answer(&pool, get()).await {
        Err(PoolError::Malformed(reason)) => assert!(reason.contains("too long"), "{reason}"),
        other => panic!("expected a head too long, got {other:?}"),
    }
}
