//! The registry as the gateway sees it: each backend's instances, and where that view comes
//! from (the registry, the configured URL, or what was last known).

use std::{collections::BTreeMap, time::Duration};

use serde::Serialize;
use shared::registry::Instance;
use tokio::time::Instant;
use utoipa::ToSchema;

use super::most_vanished;
use crate::{clock::now, colours::DEFAULT_LIVE};
use gateway_upstream::{Backend, EndpointHealth};

/// Every backend's instances.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistryView {
    /// Whether a service registry is configured (`REGISTRY_URL`).
    pub registry: bool,
    /// Whether its last read answered; absent before the first read or without a registry.
    pub reachable: Option<bool>,
    /// When it last answered (RFC 3339).
    pub read_at: Option<String>,
    /// Each backend by name.
    pub services: BTreeMap<String, ServiceView>,
}

/// One backend's instances.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceView {
    /// Where `instances` come from.
    pub source: Source,
    /// The URL from the configuration, used while the registry lists no instance.
    pub configured_url: String,
    /// The colour that takes traffic (all instances do while none has it).
    pub live_colour: String,
    /// The instances, as registered, and how their calls go.
    pub instances: Vec<InstanceView>,
    /// The instances as last read.
    #[serde(skip)]
    pub(super) known: Vec<Instance>,
    /// Since when the last known instances are kept although most vanished at once
    /// (RFC 3339).
    pub preserving_since: Option<String>,
    #[serde(skip)]
    preserving: Option<Instant>,
}

/// One registered instance and how its calls go.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstanceView {
    #[serde(flatten)]
    pub instance: Instance,
    /// Whether it takes traffic (it has the live colour, or no instance has).
    pub routed: bool,
    /// How its calls go; absent until the gateway has taken it in.
    pub health: Option<EndpointHealth>,
}

/// Where a backend's instances come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The registry's live instances.
    Registry,
    /// The instances last read, kept while the registry does not answer or while most of
    /// them vanished at once.
    LastKnown,
    /// No instance is registered (or no registry is configured): the configured URL.
    Configured,
}

impl RegistryView {
    /// The configured URLs alone, before any read.
    pub fn configured(registry: bool, configured: BTreeMap<&'static str, String>) -> Self {
        let services = configured
            .into_iter()
            .map(|(name, url)| {
                let service = ServiceView {
                    source: Source::Configured,
                    configured_url: url,
                    live_colour: DEFAULT_LIVE.to_owned(),
                    instances: Vec::new(),
                    known: Vec::new(),
                    preserving_since: None,
                    preserving: None,
                };
                (name.to_owned(), service)
            })
            .collect();
        Self {
            registry,
            reachable: None,
            read_at: None,
            services,
        }
    }

    /// Takes in one read of the registry (`None`: it did not answer).
    pub fn apply(&mut self, read: Option<BTreeMap<String, Vec<Instance>>>, preservation: Duration) {
        let Some(mut listed) = read else {
            self.reachable = Some(false);
            for service in self.services.values_mut() {
                if !service.known.is_empty() {
                    service.source = Source::LastKnown;
                }
            }
            return;
        };
        self.reachable = Some(true);
        self.read_at = Some(now());
        for (name, service) in &mut self.services {
            let live = listed.remove(name).unwrap_or_default();
            if most_vanished(&service.known, &live) {
                let since = *service.preserving.get_or_insert_with(Instant::now);
                if since.elapsed() < preservation {
                    if service.preserving_since.is_none() {
                        tracing::warn!(service = %name, known = service.known.len(), live = live.len(), "most instances vanished at once; keeping the last known (self-preservation)");
                        service.preserving_since = Some(now());
                    }
                    service.source = Source::LastKnown;
                    continue;
                }
            }
            service.preserving = None;
            service.preserving_since = None;
            service.source = if live.is_empty() {
                Source::Configured
            } else {
                Source::Registry
            };
            service.known = live;
        }
    }

    /// The view with each instance's calls as `backends` see them.
    pub fn described(mut self, backends: &[Backend]) -> Self {
        for backend in backends {
            let Some(service) = self.services.get_mut(backend.name) else {
                continue;
            };
            let pool = backend.balancer.pool();
            let endpoint = |id: &str| {
                pool.all
                    .iter()
                    .find(|endpoint| endpoint.instance.as_ref().is_some_and(|i| i.id == id))
            };
            service.instances = service
                .known
                .iter()
                .map(|instance| InstanceView {
                    instance: instance.clone(),
                    routed: pool.routed.iter().any(|e| e.id() == instance.id),
                    health: endpoint(&instance.id).map(|endpoint| endpoint.health()),
                })
                .collect();
        }
        self
    }
}
