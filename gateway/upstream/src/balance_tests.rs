use std::{collections::BTreeMap, time::Duration};

use shared::{registry::Instance, resilience::BreakerConfig};

use super::*;

fn instance(n: u16, colour: &str) -> Instance {
    Instance {
        service: "restaurant-service".into(),
        id: format!("i{n}"),
        url: format!("http://127.0.0.1:{}", 4000 + n),
        version: "1.0.0".into(),
        colour: colour.into(),
        metadata: BTreeMap::new(),
    }
}

fn balancer(consecutive_failures: u32) -> Balancer {
    let url = "http://127.0.0.1:3003";
    Balancer::new(
        "restaurant-service",
        url,
        Origin::parse(url).expect("an origin"),
        BreakerConfig {
            failure_rate: 0.5,
            window: Duration::from_secs(10),
            minimum_calls: 100,
            open_for: Duration::from_secs(30),
            half_open_trials: 1,
        },
        OutlierArgs {
            outlier_consecutive_failures: consecutive_failures,
            outlier_base_ejection: Duration::from_secs(30),
            outlier_max_ejection: Duration::from_secs(300),
            outlier_max_ejected_percent: 50,
        },
    )
}

fn picked(balancer: &Balancer, times: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..times {
        *counts
            .entry(balancer.pick(None, None).id().to_owned())
            .or_default() += 1;
    }
    counts
}

#[test]
fn without_instances_every_call_goes_to_the_configured_url() {
    let balancer = balancer(5);
    assert!(!balancer.by_instance());
    assert_eq!(balancer.pick(None, None).url, "http://127.0.0.1:3003");
    balancer.update(&[instance(1, "blue")], "blue");
    assert!(balancer.by_instance());
    balancer.update(&[], "blue");
    assert_eq!(balancer.pick(None, None).id(), "configured");
}

#[test]
fn equal_instances_share_the_calls() {
    let balancer = balancer(5);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    let counts = picked(&balancer, 1000);
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.values().all(|&n| n > 300), "{counts:?}");
}

#[test]
fn the_slower_of_two_instances_gets_no_call_when_both_are_drawn() {
    let balancer = balancer(5);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    let pool = balancer.pool();
    let slow = pool.routed.iter().find(|e| e.id() == "i2").expect("i2");
    balancer.record(slow, true, Duration::from_millis(200));
    let fast = pool.routed.iter().find(|e| e.id() == "i1").expect("i1");
    balancer.record(fast, true, Duration::from_millis(2));
    assert_eq!(picked(&balancer, 200).get("i2"), None);
}

#[test]
fn requests_in_flight_weigh_against_an_instance() {
    let balancer = balancer(5);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    let pool = balancer.pool();
    for endpoint in &pool.routed {
        balancer.record(endpoint, true, Duration::from_millis(10));
    }
    let busy = pool.routed.iter().find(|e| e.id() == "i1").expect("i1");
    let _held: Vec<_> = (0..5).map(|_| busy.start()).collect();
    assert_eq!(picked(&balancer, 200).get("i1"), None);
}

#[test]
fn a_run_of_failures_ejects_an_instance_until_its_time_is_up() {
    let balancer = balancer(3);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    let pool = balancer.pool();
    let failing = pool.routed.iter().find(|e| e.id() == "i1").expect("i1");
    for _ in 0..3 {
        balancer.record(failing, false, Duration::from_millis(1));
    }
    assert_eq!(failing.health().state, "ejected");
    assert_eq!(picked(&balancer, 100).get("i1"), None);
    assert_eq!(failing.health().ejections, 1);
}

#[test]
fn no_more_than_the_share_of_the_pool_is_ejected() {
    let balancer = balancer(1);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    let pool = balancer.pool();
    for endpoint in &pool.routed {
        balancer.record(endpoint, false, Duration::from_millis(1));
    }
    let ejected = pool
        .routed
        .iter()
        .filter(|e| e.health().state == "ejected")
        .count();
    assert_eq!(ejected, 1, "half of two");
}

#[test]
fn a_success_breaks_the_run_of_failures() {
    let balancer = balancer(3);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    let pool = balancer.pool();
    let flaky = &pool.routed[0];
    for success in [false, false, true, false, false] {
        balancer.record(flaky, success, Duration::from_millis(1));
    }
    assert_eq!(flaky.health().state, "healthy");
}

#[test]
fn a_retry_goes_to_another_instance() {
    let balancer = balancer(5);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    for _ in 0..50 {
        let first = balancer.pick(None, None);
        let second = balancer.pick(Some(&first), None);
        assert_ne!(first.id(), second.id());
    }
}

#[test]
fn only_the_live_colour_takes_traffic_while_it_has_instances() {
    let balancer = balancer(5);
    balancer.update(&[instance(1, "blue"), instance(2, "green")], "blue");
    assert_eq!(picked(&balancer, 50).keys().collect::<Vec<_>>(), ["i1"]);
    balancer.update(&[instance(1, "blue"), instance(2, "green")], "green");
    assert_eq!(picked(&balancer, 50).keys().collect::<Vec<_>>(), ["i2"]);
    balancer.update(&[instance(2, "green")], "blue");
    assert_eq!(
        picked(&balancer, 50).keys().collect::<Vec<_>>(),
        ["i2"],
        "no live instance: the others rather than none"
    );
}

#[test]
fn an_instance_read_again_keeps_its_state() {
    let balancer = balancer(5);
    balancer.update(&[instance(1, "blue"), instance(2, "blue")], "blue");
    let before = balancer.pool().all[0].clone();
    balancer.record(&before, true, Duration::from_millis(1));
    balancer.update(
        &[
            instance(1, "blue"),
            instance(2, "blue"),
            instance(3, "blue"),
        ],
        "blue",
    );
    let after = balancer.pool().all[0].clone();
    assert!(Arc::ptr_eq(&before, &after));
    assert_eq!(after.health().requests, 1);
}
