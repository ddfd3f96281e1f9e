//! What the gateway knows of each backend's instances: the service registry, read every
//! `REGISTRY_REFRESH` by one task (not per request), with the configured URL as the fallback.
//!
//! Losing the registry does not empty the view: while Redis does not answer, the last
//! instances read are kept. And as Eureka's self-preservation does, when more than half of a
//! service's instances vanish at once (a registry that lost its data, a network split rather
//! than a mass shutdown), the last known list is kept for `REGISTRY_PRESERVATION` and the view
//! says so.

pub mod http;
pub mod view;

use std::{sync::Arc, time::Duration};

use clap::Args;
use shared::registry::{Instance, Registry};
use tokio::sync::RwLock;

pub use self::view::RegistryView;
use crate::colours::LiveColours;
use gateway_upstream::Backend;

/// Where the gateway reads the service registry.
#[derive(Debug, Clone, Args)]
pub struct DiscoveryArgs {
    /// Redis holding the service registry; unset, the gateway knows only the configured URLs.
    #[arg(long, env = "REGISTRY_URL", value_parser = crate::redis::parse_redis_url)]
    pub registry_url: Option<String>,
    /// The registry's key prefix, as the services were given it.
    #[arg(long, env = "REGISTRY_PREFIX", default_value = "")]
    pub registry_prefix: String,
    /// How often the registry is read.
    #[arg(long, env = "REGISTRY_REFRESH", default_value = "1s", value_parser = humantime::parse_duration)]
    pub registry_refresh: Duration,
    /// How long the last known instances are kept when more than half vanish at once.
    #[arg(long, env = "REGISTRY_PRESERVATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub registry_preservation: Duration,
}

/// The instances of every backend as the gateway sees them; cloning shares them.
#[derive(Debug, Clone)]
pub struct Discovery {
    view: Arc<RwLock<RegistryView>>,
    backends: Arc<[Backend]>,
    colours: Option<LiveColours>,
}

impl Discovery {
    /// Starts from the backends' configured URLs and, with a registry configured, starts
    /// reading it and handing each backend's instances to its balancer.
    pub fn start(args: &DiscoveryArgs, backends: Arc<[Backend]>) -> Self {
        let registry = args
            .registry_url
            .as_deref()
            .and_then(|url| Registry::new(url, &args.registry_prefix).ok());
        let configured = backends
            .iter()
            .map(|backend| (backend.name, backend.upstream.base_url.clone()))
            .collect();
        let view = Arc::new(RwLock::new(RegistryView::configured(
            registry.is_some(),
            configured,
        )));
        let colours = registry.clone().map(LiveColours::new);
        if let Some(registry) = registry {
            tokio::spawn(watch(
                registry,
                Arc::downgrade(&view),
                backends.clone(),
                args.registry_refresh,
                args.registry_preservation,
            ));
        }
        Self {
            view,
            backends,
            colours,
        }
    }

    /// The view as it stands.
    pub async fn view(&self) -> RegistryView {
        self.view.read().await.clone()
    }

    /// Where the live colours are kept; `None` without a registry.
    pub fn colours(&self) -> Option<&LiveColours> {
        self.colours.as_ref()
    }

    /// `service`'s instances as last read, and its live colour.
    pub async fn instances(&self, service: &str) -> Option<(Vec<Instance>, String)> {
        let view = self.view.read().await;
        let known = view.services.get(service)?;
        Some((known.known.clone(), known.live_colour.clone()))
    }

    /// Sends `service`'s traffic to its `colour` instances at once in this gateway (the
    /// others follow at their next read of the live colour). The service's breaker starts
    /// afresh: what it counted was the other colour's doing.
    pub async fn switch(&self, service: &str, colour: &str) {
        let mut view = self.view.write().await;
        if let Some(known) = view.services.get_mut(service) {
            colour.clone_into(&mut known.live_colour);
        }
        route(&view, &self.backends);
        if let Some(backend) = self.backends.iter().find(|backend| backend.name == service) {
            backend.breaker.reset();
        }
    }
}

/// Hands each backend its instances and live colour.
fn route(view: &RegistryView, backends: &[Backend]) {
    for backend in backends {
        if let Some(service) = view.services.get(backend.name) {
            backend
                .balancer
                .update(&service.known, &service.live_colour);
        }
    }
}

/// Reads the registry every `refresh` until the view is dropped.
async fn watch(
    registry: Registry,
    view: std::sync::Weak<RwLock<RegistryView>>,
    backends: Arc<[Backend]>,
    refresh: Duration,
    preservation: Duration,
) {
    let colours = LiveColours::new(registry.clone());
    let names: Vec<&str> = backends.iter().map(|backend| backend.name).collect();
    let mut reachable = None;
    loop {
        let Some(view) = view.upgrade() else { return };
        let read = registry.all().await;
        match (&read, reachable) {
            (Ok(_), Some(false)) => tracing::info!("the service registry answers again"),
            (Err(err), None | Some(true)) => {
                tracing::warn!(error = %err, "cannot read the service registry; keeping the instances last read");
            }
            _ => {}
        }
        reachable = Some(read.is_ok());
        let live = match read {
            Ok(_) => colours.read(&names).await.ok(),
            Err(_) => None,
        };
        let mut view = view.write().await;
        view.apply(read.ok(), preservation);
        if let Some(live) = live {
            for ((name, colour), backend) in names.iter().zip(live).zip(backends.iter()) {
                if let Some(service) = view.services.get_mut(*name)
                    && service.live_colour != colour
                {
                    // Switched by another gateway: as `Discovery::switch` does here.
                    service.live_colour = colour;
                    backend.breaker.reset();
                }
            }
        }
        route(&view, &backends);
        drop(view);
        tokio::time::sleep(refresh).await;
    }
}

/// Whether `now` lost more than half of `before` at once.
fn most_vanished(before: &[Instance], now: &[Instance]) -> bool {
    let kept = before
        .iter()
        .filter(|instance| now.iter().any(|listed| listed.id == instance.id))
        .count();
    before.len() >= 2 && kept * 2 < before.len()
}

#[cfg(test)]
mod tests;
