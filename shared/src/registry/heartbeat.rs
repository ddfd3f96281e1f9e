//! Keeping one instance registered: a beat every third of its lifetime, withdrawn on a
//! graceful stop.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Instance, Registry, RegistryArgs};

/// An instance to register once it serves, and where.
#[derive(Debug, Clone)]
pub struct Registration {
    registry: Registry,
    instance: Instance,
    ttl: Duration,
}

impl Registration {
    /// `instance` in `registry`, listed for `ttl` after each beat.
    pub fn new(registry: Registry, instance: Instance, ttl: Duration) -> Self {
        Self {
            registry,
            instance,
            ttl,
        }
    }

    /// What `args` ask of the binary `service` serving on `port`: nothing when no registry is
    /// configured.
    pub fn from_args(
        args: &RegistryArgs,
        service: &str,
        port: u16,
    ) -> Result<Option<Self>, redis::RedisError> {
        let Some(url) = &args.registry_url else {
            return Ok(None);
        };
        let instance = Instance {
            service: service.to_owned(),
            id: uuid::Uuid::now_v7().to_string(),
            url: args
                .advertise_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}")),
            version: args
                .instance_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            colour: args.instance_colour.clone(),
            metadata: Default::default(),
        };
        let registry = Registry::new(url, &args.registry_prefix)?;
        Ok(Some(Self::new(registry, instance, args.registry_ttl)))
    }

    /// The instance as it is listed.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// Registers now and keeps renewing in the background. A registry that does not answer
    /// does not stop the binary: it is said once, and tried again at every beat.
    pub fn start(self) -> Heartbeat {
        let (registry, instance, ttl) = (self.registry.clone(), self.instance.clone(), self.ttl);
        let task = tokio::spawn(async move {
            let mut failing = None::<bool>;
            loop {
                match registry.beat(&instance, ttl).await {
                    Ok(()) if failing != Some(false) => {
                        tracing::info!(service = %instance.service, id = %instance.id, url = %instance.url, colour = %instance.colour, "registered");
                        failing = Some(false);
                    }
                    Ok(()) => {}
                    Err(err) if failing != Some(true) => {
                        tracing::warn!(error = %err, "cannot register in the service registry; trying at every beat");
                        failing = Some(true);
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(ttl / 3).await;
            }
        });
        Heartbeat {
            registration: self,
            task,
        }
    }
}

/// A registration being renewed. Dropped, it stops renewing and the instance leaves the list
/// when its lifetime ends; [`Heartbeat::withdraw`] removes it at once.
#[derive(Debug)]
pub struct Heartbeat {
    registration: Registration,
    task: JoinHandle<()>,
}

impl Heartbeat {
    /// Stops renewing and removes the instance, so that readers stop sending it requests
    /// before it stops serving them.
    pub async fn withdraw(self) {
        self.task.abort();
        let Registration {
            registry, instance, ..
        } = &self.registration;
        match tokio::time::timeout(Duration::from_secs(2), registry.withdraw(instance)).await {
            Ok(Ok(())) => tracing::info!(id = %instance.id, "withdrawn from the service registry"),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot withdraw from the service registry; the entry ends with its lifetime");
            }
            Err(_) => {
                tracing::warn!(
                    "the service registry did not answer the withdrawal; the entry ends with its lifetime"
                );
            }
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
