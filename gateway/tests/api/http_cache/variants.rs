//! Responses that vary by request fields, stored and answered per variant.

use std::time::Duration;

use futures::future::join_all;

use super::{Origin, gateway, get, outcomes};

#[tokio::test]
async fn a_response_that_varies_is_stored_per_variant_and_each_request_gets_its_own() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/varies";
    origin.serve(
        path,
        &[("cache-control", "max-age=60"), ("vary", "Accept-Language")],
    );
    let ask = |language: &'static str| {
        let gateway = gateway.clone();
        async move {
            let (cache, body, _) = get(&gateway, path, &[("accept-language", language)]).await;
            format!("{cache} {body}")
        }
    };
    assert_eq!(ask("fr, de").await, "MISS 200 call 1");
    assert_eq!(ask("en").await, "MISS 200 call 2");
    assert_eq!(ask("fr, de").await, "HIT 200 call 1");
    assert_eq!(ask("en").await, "HIT 200 call 2");
    assert_eq!(
        ask("fr,de").await,
        "HIT 200 call 1",
        "spaces inside the list do not make a variant"
    );
    let (cache, body, _) = get(&gateway, path, &[]).await;
    assert_eq!(
        format!("{cache} {body}"),
        "MISS 200 call 3",
        "no language is a variant too"
    );
    assert_eq!(origin.calls(path), 3);
}

#[tokio::test]
async fn concurrent_requests_for_two_variants_each_get_their_own_from_one_call_apiece() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/varies-at-once";
    origin.script(
        path,
        200,
        &[("cache-control", "max-age=60"), ("vary", "accept-language")],
        Duration::from_millis(200),
    );
    let asks = (0..20).map(|n| {
        let gateway = gateway.clone();
        let language = if n % 2 == 0 { "fr" } else { "en" };
        async move {
            let (_, body, _) = get(&gateway, path, &[("accept-language", language)]).await;
            (language, body)
        }
    });
    let answers = join_all(asks).await;
    let body_of = |language: &str| {
        let bodies: Vec<&String> = answers
            .iter()
            .filter(|(asked, _)| *asked == language)
            .map(|(_, body)| body)
            .collect();
        assert!(
            bodies.windows(2).all(|pair| pair[0] == pair[1]),
            "{bodies:?}"
        );
        bodies[0].clone()
    };
    assert_ne!(body_of("fr"), body_of("en"), "each its own variant");
    assert_eq!(origin.calls(path), 2);
}

#[tokio::test]
async fn vary_star_is_never_stored() {
    let origin = Origin::start().await;
    let gateway = gateway(&origin, &[]).await;
    let path = "/restaurants/varies-always";
    origin.serve(path, &[("cache-control", "max-age=60"), ("vary", "*")]);
    assert_eq!(outcomes(&gateway, path, 2).await, ["MISS", "MISS"]);
}
