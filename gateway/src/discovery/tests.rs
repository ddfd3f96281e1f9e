use std::{collections::BTreeMap, time::Duration};

use shared::registry::Instance;

use super::{RegistryView, view::Source};

fn instance(n: u32) -> Instance {
    Instance {
        service: "restaurant-service".into(),
        id: format!("i{n}"),
        url: format!("http://127.0.0.1:{}", 4000 + n),
        version: "1.0.0".into(),
        colour: "blue".into(),
        metadata: BTreeMap::new(),
    }
}

fn view() -> RegistryView {
    RegistryView::configured(
        true,
        BTreeMap::from([("restaurant-service", "http://127.0.0.1:3003".into())]),
    )
}

fn read(instances: &[Instance]) -> Option<BTreeMap<String, Vec<Instance>>> {
    Some(BTreeMap::from([(
        "restaurant-service".to_owned(),
        instances.to_vec(),
    )]))
}

fn restaurants(view: &RegistryView) -> (Source, usize) {
    let service = &view.services["restaurant-service"];
    (service.source, service.known.len())
}

const KEEP: Duration = Duration::from_secs(30);

#[test]
fn registered_instances_replace_the_configured_url_and_an_empty_list_falls_back_to_it() {
    let mut view = view();
    assert_eq!(restaurants(&view), (Source::Configured, 0));
    view.apply(read(&[instance(1)]), KEEP);
    assert_eq!(restaurants(&view), (Source::Registry, 1));
    view.apply(read(&[]), KEEP);
    assert_eq!(restaurants(&view), (Source::Configured, 0));
}

#[test]
fn a_registry_that_does_not_answer_leaves_the_last_known_instances() {
    let mut view = view();
    view.apply(read(&[instance(1), instance(2)]), KEEP);
    view.apply(None, KEEP);
    assert_eq!(restaurants(&view), (Source::LastKnown, 2));
    assert_eq!(view.reachable, Some(false));
    view.apply(read(&[instance(2)]), KEEP);
    assert_eq!(
        restaurants(&view),
        (Source::Registry, 1),
        "answers again: read as is"
    );
}

#[test]
fn most_instances_vanishing_at_once_keeps_the_last_known_for_the_preservation_time() {
    let mut view = view();
    view.apply(read(&[instance(1), instance(2), instance(3)]), KEEP);
    view.apply(read(&[instance(1)]), KEEP);
    assert_eq!(restaurants(&view), (Source::LastKnown, 3));
    assert!(
        view.services["restaurant-service"]
            .preserving_since
            .is_some()
    );
    // Half or fewer gone is an ordinary change.
    view.apply(read(&[instance(1), instance(2), instance(3)]), KEEP);
    view.apply(read(&[instance(1), instance(2)]), KEEP);
    assert_eq!(restaurants(&view), (Source::Registry, 2));
    // Past the preservation time, the registry's word is taken.
    view.apply(
        read(&[instance(1), instance(2), instance(3)]),
        Duration::ZERO,
    );
    view.apply(read(&[instance(3)]), Duration::ZERO);
    assert_eq!(restaurants(&view), (Source::Registry, 1));
}
