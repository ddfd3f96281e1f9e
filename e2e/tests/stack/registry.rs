//! The service registry with real processes: every backend lists itself while it serves,
//! withdraws on SIGTERM, and leaves the list within its lifetime when it dies.

use std::time::{Duration, Instant};

use shared::registry::Instance;

use crate::{
    binaries,
    platform::{Options, Platform},
};

/// The live instances of `service`, once `accept` holds for them or ten seconds pass.
async fn instances_until(
    platform: &Platform,
    service: &str,
    accept: impl Fn(&[Instance]) -> bool,
) -> Vec<Instance> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = platform
            .registry
            .registry
            .instances(service)
            .await
            .expect("the registry answers");
        if accept(&listed) || Instant::now() >= deadline {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_backend_lists_itself_withdraws_on_sigterm_and_leaves_the_list_when_killed() {
    let mut platform = Platform::start(Options::default()).await;
    for binary in binaries::all()
        .iter()
        .filter(|binary| binary.name != "gateway")
    {
        let url = platform
            .backends
            .iter()
            .find(|p| p.name == binary.name)
            .expect("started")
            .url();
        let listed = instances_until(&platform, binary.name, |listed| !listed.is_empty()).await;
        assert_eq!(listed.len(), 1, "{}: {listed:?}", binary.name);
        assert_eq!(
            (listed[0].url.as_str(), listed[0].colour.as_str()),
            (url.as_str(), "blue"),
            "{}",
            binary.name
        );
    }

    // A graceful stop withdraws first: gone at once, not after its lifetime.
    let stopped = platform
        .backend("restaurant-service")
        .terminate(Duration::from_secs(15));
    assert!(
        stopped.is_some_and(|status| status.success()),
        "{stopped:?}"
    );
    let listed = platform
        .registry
        .registry
        .instances("restaurant-service")
        .await
        .expect("the registry answers");
    assert!(listed.is_empty(), "{listed:?}");

    // A crash withdraws nothing: its beats stop and its two-second lifetime runs out.
    platform.backend("delivery-service").kill();
    let listed = instances_until(&platform, "delivery-service", <[Instance]>::is_empty).await;
    assert!(listed.is_empty(), "{listed:?}");
    let kept = instances_until(&platform, "payment-service", |listed| listed.len() == 1).await;
    assert_eq!(kept.len(), 1, "the others keep beating: {kept:?}");

    // Started again, it lists itself again under a new id.
    platform.restart("delivery-service").await;
    let again = instances_until(&platform, "delivery-service", |listed| listed.len() == 1).await;
    assert_eq!(again.len(), 1, "{again:?}");
}
