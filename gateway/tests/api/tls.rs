//! HTTPS at the edge: HTTP/2 and HTTP/1.1 by ALPN, HSTS, certificates by SNI and renewed
//! without a restart, the plain port's redirect, and the handshake's time limit.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use http_body_util::{BodyExt, Empty};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use shared::testing::TestIssuer;
use tokio::io::AsyncReadExt;
use tokio_rustls::TlsConnector;

use crate::{
    curl::{TestCertificates, client_config, curl, try_curl},
    helpers::{GatewayBuilder, tls_port},
};

/// A gateway serving HTTPS with `certificates`, and its HTTPS base URL by `localhost`.
async fn gateway_with_tls(certificates: &TestCertificates) -> (String, String) {
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .tls(&certificates.dir)
        .spawn()
        .await;
    let https = format!("https://localhost:{}", tls_port(&gateway));
    (gateway, https)
}

#[tokio::test]
async fn https_offers_http2_by_alpn_and_http1_to_clients_asking_and_says_to_stay_on_https() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let (_, https) = gateway_with_tls(&certificates).await;
    let ca = certificates.ca();
    let health = format!("{https}/health");

    let h2 = curl(&["--http2", "--cacert", &ca, &health]).await;
    assert_eq!((h2.status, h2.version.as_str()), (200, "2"));
    assert_eq!(
        h2.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let h1 = curl(&["--http1.1", "--cacert", &ca, &health]).await;
    assert_eq!((h1.status, h1.version.as_str()), (200, "1.1"));
    assert!(h1.header("strict-transport-security").is_some());

    let untrusted = try_curl(&["--http2", &health]).await;
    assert!(
        untrusted.is_err(),
        "a client not told of the authority refuses it"
    );
}

#[tokio::test]
async fn the_plain_port_speaks_http2_with_prior_knowledge_and_sends_no_hsts() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let (gateway, _) = gateway_with_tls(&certificates).await;
    let health = format!("{gateway}/health");

    let h2c = curl(&["--http2-prior-knowledge", &health]).await;
    assert_eq!((h2c.status, h2c.version.as_str()), (200, "2"));
    assert_eq!(h2c.header("strict-transport-security"), None);
    let h1 = curl(&[&health]).await;
    assert_eq!((h1.status, h1.version.as_str()), (200, "1.1"));
    assert_eq!(h1.header("strict-transport-security"), None);
}

#[tokio::test]
async fn each_name_is_served_the_certificate_that_holds_it() {
    let first = TestCertificates::issue(&["localhost"]);
    let second = TestCertificates::issue(&["orders.test", "*.menus.test"]);
    let issuer = TestIssuer::start().await;
    let files = |name: &str| {
        [&first, &second]
            .map(|certificates| certificates.dir.join(name).display().to_string())
            .join(",")
    };
    let gateway = GatewayBuilder::new(&issuer)
        .tls(&first.dir)
        .arg("--tls-cert-file", &files("cert.pem"))
        .arg("--tls-key-file", &files("key.pem"))
        .spawn()
        .await;
    let port = tls_port(&gateway);
    let at = |name: &str| {
        (
            format!("{name}:{port}:127.0.0.1"),
            format!("https://{name}:{port}/health"),
        )
    };

    for name in ["orders.test", "eu.menus.test"] {
        let (resolve, url) = at(name);
        let answer = curl(&["--resolve", &resolve, "--cacert", &second.ca(), &url]).await;
        assert_eq!(answer.status, 200, "{name}");
        let wrong = try_curl(&["--resolve", &resolve, "--cacert", &first.ca(), &url]).await;
        assert!(wrong.is_err(), "{name} is not served the first certificate");
    }
    // A name no certificate holds is given the first, as a client naming no host is.
    let (resolve, url) = at("localhost");
    assert_eq!(
        curl(&["--resolve", &resolve, "--cacert", &first.ca(), &url])
            .await
            .status,
        200
    );
    let (resolve, url) = at("unknown.test");
    let unknown = try_curl(&["--resolve", &resolve, "--cacert", &first.ca(), &url]).await;
    assert!(
        unknown.is_err_and(|err| err.contains("unknown.test") || err.contains("SSL")),
        "the first certificate does not name it"
    );
}

/// A TLS client trusting `authorities`, offering HTTP/1.1 only, each connection a full
/// handshake: a resumed session would not be shown the certificate again.
fn client_trusting(authorities: &[&TestCertificates]) -> TlsConnector {
    let mut config = client_config(authorities);
    config.resumption = rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// One request on a connection of its own: the certificate the gateway presented, or why
/// it failed.
async fn one_request(connector: &TlsConnector, port: u16) -> Result<Vec<u8>, String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|err| err.to_string())?;
    let name = ServerName::try_from("localhost").expect("a name");
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|err| format!("handshake: {err}"))?;
    let presented = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.to_vec())
        .unwrap_or_default();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|err| err.to_string())?;
    tokio::spawn(connection);
    let request = http::Request::get("/health")
        .header("host", "localhost")
        .body(Empty::<bytes::Bytes>::new())
        .expect("a request");
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| err.to_string())?;
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|err| err.to_string())?;
    if status != 200 {
        return Err(format!("status {status}"));
    }
    Ok(presented)
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_no_request_fails_meanwhile() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let old = std::fs::read(certificates.dir.join("cert.pem")).expect("the old one");
    let (gateway, _) = gateway_with_tls(&certificates).await;
    let port = tls_port(&gateway);
    // The renewal's authority is written aside first, so that the client trusts both.
    let renewal = TestCertificates::issue(&["localhost"]);
    let connector = client_trusting(&[&certificates, &renewal]);

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (connector, stop, done) = (connector.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut presented = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    presented.push(one_request(&connector, port).await);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                presented
            })
        })
        .collect();
    wait_for(|| done.load(Ordering::Relaxed) >= 40).await;
    for file in ["cert.pem", "key.pem"] {
        let next = certificates.dir.join(format!("{file}.next"));
        std::fs::copy(renewal.dir.join(file), &next).expect("copied");
        std::fs::rename(&next, certificates.dir.join(file)).expect("renamed");
    }
    let renewed_der = CertificateDer::from_pem_file(renewal.dir.join("cert.pem"))
        .expect("the renewal")
        .to_vec();
    // Served from the next handshakes on: a fresh connection sees it soon.
    wait_for_async(|| {
        let connector = connector.clone();
        let renewed_der = renewed_der.clone();
        async move { one_request(&connector, port).await == Ok(renewed_der) }
    })
    .await;
    let after = done.load(Ordering::Relaxed);
    wait_for(|| done.load(Ordering::Relaxed) >= after + 40).await;
    stop.store(true, Ordering::Relaxed);

    let mut presented = Vec::new();
    for task in load {
        presented.extend(task.await.expect("the load ran"));
    }
    let failed: Vec<_> = presented.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert!(
        presented
            .iter()
            .any(|leaf| leaf.as_ref() == Ok(&renewed_der))
    );
    assert_ne!(
        old,
        std::fs::read(certificates.dir.join("cert.pem")).expect("read")
    );
    // And a real client trusting only the new authority is served.
    let health = format!("https://localhost:{port}/health");
    assert_eq!(
        curl(&["--cacert", &renewal.ca(), &health]).await.status,
        200
    );
}

#[tokio::test]
async fn a_certificate_replaced_by_one_that_does_not_load_leaves_the_old_one_served() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let (_, https) = gateway_with_tls(&certificates).await;
    std::fs::write(certificates.dir.join("key.pem"), "not a key").expect("written");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = curl(&["--cacert", &certificates.ca(), &format!("{https}/health")]).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn plain_requests_are_redirected_to_https_when_asked_but_health_probes_are_not() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .tls(&certificates.dir)
        .arg("--redirect-to-https", "true")
        .spawn()
        .await;
    let port = tls_port(&gateway);
    let plain = gateway.replace("127.0.0.1", "localhost");

    let redirected = curl(&["-X", "POST", &format!("{plain}/orders?page=2")]).await;
    assert_eq!(redirected.status, 308, "the method and body are kept");
    assert_eq!(
        redirected.header("location"),
        Some(format!("https://localhost:{port}/orders?page=2").as_str())
    );
    let followed = curl(&[
        "-L",
        "--cacert",
        &certificates.ca(),
        &format!("{plain}/health"),
    ])
    .await;
    assert_eq!((followed.status, followed.header("location")), (200, None));
    let h2c = curl(&["--http2-prior-knowledge", &format!("{plain}/restaurants")]).await;
    assert_eq!(h2c.status, 308);
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_closed_at_the_head_timeout() {
    let certificates = TestCertificates::issue(&["localhost"]);
    let issuer = TestIssuer::start().await;
    let gateway = GatewayBuilder::new(&issuer)
        .tls(&certificates.dir)
        .arg("--header-read-timeout", "1s")
        .spawn()
        .await;
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", tls_port(&gateway)))
        .await
        .expect("connected");
    let mut buf = [0; 16];
    let read = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf))
        .await
        .expect("closed by the gateway, not left open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not done within 30 s");
}

async fn wait_for_async<F: Future<Output = bool>>(done: impl Fn() -> F) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not done within 30 s");
}
