use std::{collections::HashSet, net::Ipv4Addr};

use axum::{Router, routing::get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// The name of the thread that answered, over a fresh connection.
async fn answering_thread(port: u16) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}

/// A server of `workers` threads answering `GET /` with the name of the thread that did; its
/// port, and the task serving it.
fn serve_thread_names(workers: usize) -> (u16, tokio::task::JoinHandle<Result<(), StartupError>>) {
    let router = Router::new().route(
        "/",
        get(|| async { std::thread::current().name().unwrap_or("?").to_owned() }),
    );
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let server = Server::bind_workers(localhost, 0, router, Duration::from_secs(1), workers)
        .expect("a port");
    (server.port(), tokio::spawn(server.run_until_stopped()))
}

#[tokio::test]
async fn open_connections_are_spread_evenly_over_the_workers() {
    let (port, serving) = serve_thread_names(3);

    // Nine connections kept open, as a load generator's or a client pool's are.
    let mut kept = Vec::new();
    let mut threads = std::collections::HashMap::<String, usize>::new();
    for _ in 0..9 {
        let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .expect("connected");
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("sent");
        let mut answer = vec![0; 1024];
        let read = stream.read(&mut answer).await.expect("an answer");
        let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
        let thread = answer.rsplit("\r\n").next().unwrap_or_default().to_owned();
        *threads.entry(thread).or_default() += 1;
        kept.push(stream);
    }
    assert_eq!(threads.len(), 3, "answered by {threads:?}");
    assert!(threads.values().all(|&count| count == 3), "{threads:?}");
    serving.abort();
}

#[tokio::test]
async fn every_worker_serves_and_all_stop_with_the_server() {
    let (port, serving) = serve_thread_names(2);

    // Over many connections, each opened after the last one closed, both threads answer.
    let mut threads = HashSet::new();
    for _ in 0..200 {
        threads.insert(answering_thread(port).await.expect("an answer"));
    }
    assert_eq!(threads.len(), 2, "answered by {threads:?}");
    assert!(threads.contains("worker-1"), "answered by {threads:?}");

    serving.abort();
    let mut refused = false;
    for _ in 0..100 {
        if answering_thread(port).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "a worker still answers after the server stopped");
}

#[test]
fn a_redirect_to_https_without_an_https_port_is_refused_at_start_up() {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Settings {
        #[command(flatten)]
        tls: TlsArgs,
    }
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let server = Server::bind_workers(localhost, 0, Router::new(), Duration::from_secs(1), 1)
        .expect("a port");
    let args = Settings::parse_from(["gateway", "--redirect-to-https", "true"]).tls;
    let refused = server
        .with_tls(localhost, &args)
        .expect_err("nowhere to redirect to");
    assert!(refused.to_string().contains("TLS_PORT"), "{refused}");
}

#[test]
fn an_https_port_whose_certificate_cannot_be_read_is_refused_at_start_up() {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Settings {
        #[command(flatten)]
        tls: TlsArgs,
    }
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let server = Server::bind_workers(localhost, 0, Router::new(), Duration::from_secs(1), 1)
        .expect("a port");
    let args = Settings::parse_from([
        "gateway",
        "--tls-port",
        "0",
        "--tls-cert-file",
        "/nonexistent/cert.pem",
        "--tls-key-file",
        "/nonexistent/key.pem",
    ])
    .tls;
    let refused = server
        .with_tls(localhost, &args)
        .expect_err("no certificate");
    assert!(
        refused.to_string().contains("/nonexistent/cert.pem"),
        "{refused}"
    );
}
