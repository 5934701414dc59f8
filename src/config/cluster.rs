//! `[cluster]`: heartbeat and takeover timing, priority, and the test probe.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SettingsError;
use super::units::duration_text;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// How often a node writes its heartbeat and renews or tries the master lease.
    #[serde(with = "duration_text")]
    pub heartbeat_interval: Duration,
    /// A node silent this long is removed; a lease not renewed this long is free.
    #[serde(with = "duration_text")]
    pub node_timeout: Duration,
    /// Among live nodes, the highest priority takes a free lease.
    pub priority: i32,
    /// A master hands over to a live node of higher priority.
    pub failback: bool,
    /// Runs the probe duty: the master writes one fenced row per heartbeat to
    /// `cluster_probe`, which shows who acted as master when (used by the cluster tests).
    pub probe_duty: bool,
    /// Diagnostic: the probe keeps each fenced transaction open this long after writing its
    /// row, so that a master can be paused or cut off inside one (used by the cluster tests).
    #[serde(with = "duration_text")]
    pub probe_hold: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            heartbeat_interval: Duration::from_secs(2),
            node_timeout: Duration::from_secs(10),
            priority: 0,
            failback: false,
            probe_duty: false,
            probe_hold: Duration::ZERO,
        }
    }
}

impl ClusterSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.heartbeat_interval < Duration::from_millis(50) {
            return Err(SettingsError("cluster.heartbeat_interval must be at least \"50ms\"".into()));
        }
        if self.node_timeout < self.heartbeat_interval * 3 {
            return Err(SettingsError(format!(
                "cluster.node_timeout ({}) must be at least three heartbeat intervals ({}): a node must get several \
                 chances to renew before others take over",
                humantime::format_duration(self.node_timeout),
                humantime::format_duration(self.heartbeat_interval * 3)
            )));
        }
        if !self.probe_hold.is_zero() {
            // PostgreSQL ends a master-duty session idle in its transaction this long.
            let limit = self.node_timeout - self.heartbeat_interval;
            if !self.probe_duty || self.probe_hold >= limit {
                return Err(SettingsError(format!(
                    "cluster.probe_hold ({}) needs cluster.probe_duty = true and must be shorter than node_timeout \
                     minus heartbeat_interval ({}), after which the database ends a duty's open transaction",
                    humantime::format_duration(self.probe_hold),
                    humantime::format_duration(limit)
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Settings;

    #[test]
    fn cluster_timings_must_leave_room_for_several_heartbeats() {
        let settings =
            Settings::from_toml("[cluster]\nheartbeat_interval = \"200ms\"\nnode_timeout = \"1500ms\"").unwrap();
        assert_eq!(settings.cluster.node_timeout, Duration::from_millis(1500));
        let error = Settings::from_toml("[cluster]\nheartbeat_interval = \"2s\"\nnode_timeout = \"3s\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("cluster.node_timeout"), "{error}");
    }

    #[test]
    fn a_probe_hold_needs_the_probe_and_must_end_before_the_database_ends_the_transaction() {
        let cluster = "[cluster]\nheartbeat_interval = \"200ms\"\nnode_timeout = \"1500ms\"\n";
        let settings = Settings::from_toml(&format!("{cluster}probe_duty = true\nprobe_hold = \"1s\"")).unwrap();
        assert_eq!(settings.cluster.probe_hold, Duration::from_secs(1));
        for refused in ["probe_hold = \"1s\"", "probe_duty = true\nprobe_hold = \"1300ms\""] {
            let error = Settings::from_toml(&format!("{cluster}{refused}")).unwrap_err().to_string();
            assert!(error.contains("cluster.probe_hold") && error.contains("1s 300ms"), "{error}");
        }
    }
}
