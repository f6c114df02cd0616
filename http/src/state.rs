//! What every handler shares: the actor system, the settings and the metrics registry.

use std::sync::Arc;

use actors::Ember;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    ember: Ember,
    settings: Settings,
    metrics: PrometheusHandle,
}

impl AppState {
    pub fn new(ember: Ember, settings: Settings) -> AppState {
        AppState(Arc::new(Inner {
            ember,
            settings,
            metrics: crate::observability::prometheus(),
        }))
    }

    pub fn ember(&self) -> &Ember {
        &self.0.ember
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        &self.0.metrics
    }
}
