//! `meritflow.toml`: one file, every field documented with its default (see
//! [`DEFAULTS_TOML`], printed by `meritflow config --print-defaults`). A file may set only a
//! few fields; unknown fields are an error that names them.

use serde::{Deserialize, Serialize};

use crate::policies::crynux::CrynuxConfig;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub policy: Policies,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policies {
    pub crynux: CrynuxConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{source_name}: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: invalid configuration:\n  - {}", problems.join("\n  - "))]
    Invalid {
        source_name: String,
        problems: Vec<String>,
    },
}

impl Config {
    /// Parses and validates a config text; `source_name` (a path) is named in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            source_name: source_name.to_owned(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        config.validate(source_name)?;
        Ok(config)
    }

    pub fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let problems = self.policy.crynux.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                source_name: source_name.to_owned(),
                problems,
            })
        }
    }
}

/// The full configuration file with every field at its default, documented.
pub const DEFAULTS_TOML: &str = r#"# meritflow.toml — every field with its default. Set only what you change; durations are a
# whole number and a unit: ms, s, m (or min), h, d.

# Policy `crynux`: node QoS for a GPU task network (shared/reference/crynux-qos.md).
[policy.crynux]
# Sliding window of counted tasks and of GPU telemetry.
window = "30d"
# Window granularity: an event counts at ceil(ts / slide) * slide. The window must be a whole
# number of slides.
slide = "1m"
# Round score by finishing order 1, 2, 3 (submitted or error_reported); timeout/aborted score 0.
round_scores = [10, 5, 2]
# O_min of the timeout score, in seconds; smaller timeouts count as this.
min_timeout_s = 60
# QoS weights Q = alpha R (VRAM) + beta P (timeout) + gamma B (speed); they must sum to 1.
alpha = 0.3333333333333333
beta = 0.3333333333333333
gamma = 0.3333333333333333
# Recovery time constant tau: H_eff = H + (1 - H)(1 - exp(-(t - t_H) / tau)).
health_tau = "30m"
# On a timeout/abort: H <- H_eff * health_mild_factor if H_eff >= health_mild_above,
# else H_eff * health_severe_factor.
health_mild_above = 0.99
health_mild_factor = 0.95
health_severe_factor = 0.3
# On a submitted disclosure: H <- min(1, H_eff + health_boost).
health_boost = 0.15
# Excluded from new tasks when health falls below exclusion_enter; back when H_eff reaches
# exclusion_leave.
exclusion_enter = 0.2
exclusion_leave = 0.8
# Kick-out when the last kickout_tasks counted tasks since the last join score on average below
# kickout_fraction x the maximum task score.
kickout_tasks = 50
kickout_fraction = 0.2
# Reward pool per calendar month, in the smallest unit (decimal string).
incentive_pool = "0"
# How long after a task's first event its later events (rounds, slashing, fee) still change it;
# events between one and two graces later are ignored, beyond that they start the task anew.
# Raw task events are kept twice this long (memory), never the whole window.
task_grace = "1d"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults_are_the_defaults() {
        assert_eq!(
            Config::from_toml(DEFAULTS_TOML, "defaults").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let config =
            Config::from_toml("[policy.crynux]\nround_scores = [10, 9, 6]\n", "t").unwrap();
        assert_eq!(config.policy.crynux.round_scores, [10, 9, 6]);
        assert_eq!(config.policy.crynux.window, CrynuxConfig::default().window);
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = Config::from_toml("[policy.crynux]\nwindw = \"1d\"\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.toml") && err.contains("windw"), "{err}");
    }

    #[test]
    fn weights_must_sum_to_one() {
        let err = Config::from_toml("[policy.crynux]\nalpha = 0.5\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must sum to 1"), "{err}");
    }

    #[test]
    fn negative_windows_are_refused() {
        let err = Config::from_toml("[policy.crynux]\nwindow = \"-1d\"\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a duration"), "{err}");
    }
}
