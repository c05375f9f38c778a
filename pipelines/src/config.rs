//! `meritflow.toml`: one file, every field documented with its default (see
//! [`DEFAULTS_TOML`], printed by `meritflow config --print-defaults`). A file may set only a
//! few fields; unknown fields are an error that names them.

use serde::{Deserialize, Serialize};

use crate::flood::LimitsConfig;
use crate::kafka_config::KafkaConfig;
use crate::policies::crynux::CrynuxConfig;
use crate::policies::icp::IcpConfig;
use crate::policies::relay::RelayConfig;
use crate::policies::sla::SlaConfig;
use crate::policies::swap::SwapConfig;
use crate::sql_config::SqlConfig;
use crate::statement::StatementsConfig;
use crate::time::Span;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub engine: EngineConfig,
    pub policy: Policies,
    pub statements: StatementsConfig,
    pub kafka: KafkaConfig,
    pub sql: SqlConfig,
    pub checkpoints: CheckpointsConfig,
    pub limits: LimitsConfig,
}

/// `[engine]`: what the engine itself runs on (documented in [`DEFAULTS_TOML`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// The time grain: events are fed, and results published, at its boundaries; every
    /// policy's slide must be a whole number of it. None: the greatest common divisor of the
    /// policies' slides.
    pub grain: Option<Span>,
    /// The policies that run, by name; None: all of [`crate::policies::NAMES`]. A policy left
    /// out reads no event, holds no state and writes no table, trigger or statement.
    pub policies: Option<Vec<String>>,
    /// How many events `replay` holds to put a file's events in time order as it reads them
    /// ([`crate::reorder::Reorder`]); files further out of order are held and sorted whole.
    pub replay_reorder: usize,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            grain: None,
            policies: None,
            replay_reorder: 262_144,
        }
    }
}

impl Config {
    /// The engine's time grain ([`EngineConfig::grain`], or the policies' slides' greatest
    /// common divisor).
    pub fn grain(&self) -> Span {
        self.engine.grain.unwrap_or_else(|| {
            let slides = [self.policy.crynux.slide, self.policy.sla.slide];
            Span(slides.iter().fold(0, |g, s| gcd(g, s.millis())))
        })
    }
}

impl Config {
    /// Whether policy `name` runs ([`EngineConfig::policies`]).
    pub fn runs(&self, name: &str) -> bool {
        self.engine
            .policies
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }
}

impl EngineConfig {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.replay_reorder == 0 {
            problems.push(
                "engine.replay_reorder must be at least 1 (events replay holds to order them)"
                    .to_owned(),
            );
        }
        let Some(names) = &self.policies else {
            return problems;
        };
        let known = crate::policies::NAMES.join(", ");
        problems.extend(
            names
                .iter()
                .filter(|n| !crate::policies::NAMES.contains(&n.as_str()))
                .map(|n| format!("engine.policies: no policy is named `{n}` (known: {known})")),
        );
        if names.is_empty() {
            problems.push(format!(
                "engine.policies is empty: name the policies to run (known: {known}), or remove it to run them all"
            ));
        }
        problems
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `[checkpoints]`: what `meritflow run` keeps so that a restart resumes where it was rather
/// than re-reading the log (documented in [`DEFAULTS_TOML`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointsConfig {
    /// Wall-clock time between checkpoints while running; zero turns them off.
    pub every: Span,
    /// Where they go; empty: `<statements.storage_dir>/checkpoints`.
    pub dir: String,
    /// Complete checkpoints kept; older ones are removed.
    pub keep: usize,
}

impl Default for CheckpointsConfig {
    fn default() -> Self {
        CheckpointsConfig {
            every: Span::minutes(5),
            dir: String::new(),
            keep: 2,
        }
    }
}

impl CheckpointsConfig {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.keep == 0 {
            problems.push("checkpoints.keep must be at least 1 (the newest complete checkpoint is what a restart reads)".to_owned());
        }
        problems
    }
}

impl Config {
    /// The directory checkpoints go to.
    pub fn checkpoint_dir(&self) -> std::path::PathBuf {
        if self.checkpoints.dir.is_empty() {
            std::path::Path::new(&self.statements.storage_dir).join("checkpoints")
        } else {
            std::path::PathBuf::from(&self.checkpoints.dir)
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policies {
    pub crynux: CrynuxConfig,
    pub icp: IcpConfig,
    pub sla: SlaConfig,
    pub swap: SwapConfig,
    pub relay: RelayConfig,
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
        let config = Config::parse_toml(text, source_name)?;
        config.validate(source_name)?;
        Ok(config)
    }

    /// Parses a config text without validating it, for callers that still override fields.
    pub fn parse_toml(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Syntax {
            source_name: source_name.to_owned(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })
    }

    pub fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let grain = self.grain();
        let mut problems = self.engine.problems();
        problems.extend(self.policy.crynux.problems());
        if grain.millis() == 0 {
            problems.push("engine.grain must be positive".to_owned());
        } else if self.policy.crynux.slide.millis() % grain.millis() != 0 {
            problems.push(format!(
                "policy.crynux.slide ({}) must be a whole number of engine.grain ({grain})",
                self.policy.crynux.slide
            ));
        }
        problems.extend(self.policy.icp.problems(grain));
        problems.extend(self.policy.sla.problems(grain));
        problems.extend(self.policy.swap.problems());
        problems.extend(self.policy.relay.problems(grain));
        problems.extend(self.kafka.problems());
        problems.extend(self.sql.problems());
        problems.extend(self.checkpoints.problems());
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

# The engine itself.
[engine]
# Time grain: events are fed, and results published, at its boundaries (an event counts at
# ceil(ts / grain) * grain), and the flood limit counts per grain. Every policy's slide must be
# a whole number of it. Unset: the greatest common divisor of policy.crynux.slide and
# policy.sla.slide (1m with the defaults).
# grain = "1m"
# The policies that run (unset: all of them). A policy left out reads no event, holds no state
# and writes no table, trigger or statement: name only those your network uses.
# policies = ["crynux", "icp", "sla", "swap", "relay", "gpu_latest"]
# `meritflow replay` reads its files as a stream and puts the events in time order as it goes,
# holding at most this many (about 200 bytes each). Files further out of order than that are
# replayed again with their whole input held and sorted (it says so on stderr): the results are
# the same, the memory is not bounded.
replay_reorder = 262144

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

# Policy `icp`: daily block-maker failure rates and reward reduction
# (shared/reference/icp-node-rewards.md). Days are computed from the first day with a
# block_maker_counters or block_round event on.
[policy.icp]
# The reduction curve r(FR) through two (relative FR, reduction) points, flat outside them.
reduction_points = [["0.1", "0"], ["0.6", "0.8"]]
# The subnet failure rate is this nearest-rank percentile of its nodes' failure rates.
percentile = 75
# How type3/type3.1 nodes of one provider in one country share a base: "v1" or "v2".
type3_algorithm = "v1"
# A monthly rate divided by this is the daily rate.
days_per_month = "30.4375"
# The coefficient of a reward_rate that carries no reward_coefficient_percent.
default_coefficient_percent = 80
# A UTC day (and a period) closes, final, this long after its end; at least engine.grain.
grace = "1h"
# How often (event time) the open days' icp_node_daily_live rows are recomputed.
live_refresh = "1h"

# Policy `sla`: uptime, response time, error rate and rating against network-relative targets,
# with graduated penalties (shared/reference/swarm-ai-performance.md).
[policy.sla]
# Sliding window of the sla table's figures, and its granularity (a whole number of
# engine.grain; the window a whole number of slides).
window = "30d"
slide = "1m"
# Uptime target, never above the network's median uptime (a network-wide outage lowers the bar
# for everyone). The uptime score is 1 at or above the target and falls linearly to 0 at
# uptime_floor.
uptime_target = 0.999
uptime_floor = 0.95
# Latency target per priority class: latency_factor x the network median of the nodes' p95,
# never below latency_floor_ms. The score is 1 at or below the target, 0 at twice the target.
latency_factor = 1.5
latency_floor_ms = 100.0
# Error-rate target per class: max(base, error_factor x the network median error rate). The
# score is 1 at or below the target, 0 at error_ceiling.
error_base_high = 0.001
error_base_normal = 0.01
error_factor = 2.0
error_ceiling = 0.1
# Nodes with fewer ratings (the latest per user in the window) get the neutral rank 0.5.
min_ratings = 5
# performance = weighted mean of the non-NULL scores.
weight_uptime = 2.0
weight_latency = 1.0
weight_errors = 2.0
weight_rating = 1.0
# Checks run at multiples of check_every (UTC hour boundaries); each judges the trailing
# check_window (a whole number of check_every) against targets over the same span. A node
# breaches when its uptime, latency or error score is below 1.
check_every = "1h"
check_window = "1h"
# Breaching checks are counted over the lookback: the first is a warning, every penalty_after
# of them one penalty level (at most max_penalty_level), each multiplying the reward factor by
# (1 - penalty_step x level).
lookback = "7d"
penalty_after = 3
penalty_step = 0.1
max_penalty_level = 5
# This many consecutive breaching checks: severe (reward factor 0, stake slash proposed).
severe_after = 24
# Every recover_after-th consecutive clean check lowers the level by one.
recover_after = 72
# XIDs that raise a gpu_fault warning (as does any rise of a GPU's ecc_dbe_total).
critical_xids = [48, 62, 64, 74, 79, 95, 119, 120]

# Policy `swap`: the bandwidth ledger per (debtor, creditor) (shared/reference/swap-bandwidth.md,
# bee's defaults). Amounts in the smallest unit, whole numbers.
[policy.swap]
# A chunk at proximity order po costs (max_po - min(po, max_po) + 1) x base_price, unless the
# event gives its price.
base_price = 10000
max_po = 31
# Refresh allowance per second since the pair's previous refresh, of a full node and of a light
# node (node_type = "light" in the payer's latest registration).
refresh_rate = 4500000
light_refresh_rate = 450000
# overdraw is raised when a pair's debt reaches payment_threshold x (100 + tolerance) / 100.
payment_threshold = 13500000
payment_tolerance_percent = 25

# Policy `relay`: which contracts a peer should relay (shared/reference/freenet-relay.md). Peers
# are decided at every engine.grain boundary where something of theirs changed.
[policy.relay]
# Requests are counted over this trailing window; request_rate is per second.
rate_window = "1h"
# A contract's own rate counts once it has min_requests requests in the window or was first seen
# more than ramp_up ago; before that its rate is estimated from the peer's known contracts by
# decreasing isotonic regression on distance.
min_requests = 10
ramp_up = "5m"
# The relayed set is the longest prefix of the ranking (value = rate / cost) whose summed usage
# stays within max_usage of the peer's total in every resource.
max_usage = 0.9
# A cost of exactly 0 counts as this.
min_cost = 1e-9

# Period statements: what each policy that pays owes for a closed period, final once written.
[statements]
# The reward period: "day", "week" (ISO, Monday to Sunday) or "month" (calendar month, UTC).
# A period closes policy.icp.grace after its last day.
period = "month"
# The Parquet store: <storage_dir>/policy=<policy>/period=<period>/statement.parquet, each
# written once and never replaced. The `statements` SQL table reads it.
storage_dir = "meritflow-store"

# Kafka, for `meritflow run` (and `meritflow produce`).
[kafka]
# Bootstrap brokers, host:port[,host:port...].
brokers = "127.0.0.1:9092"
# Consumer group; input offsets are committed under it, only once everything derived from them
# has been written out (at-least-once end to end).
group_id = "meritflow"
# Input topics, each carrying events (shared/reference/events.md) as JSON message values.
input_topics = ["meritflow.events", "meritflow.telemetry"]
# Rejected and late input: the original payload, the reason, topic/partition/offset.
rejects_topic = "meritflow.rejects"
# Changes of crynux_qos rows as JSON, keyed by node (a null value when a node leaves the table).
scores_topic = "meritflow.scores"
# Trigger rows as JSON, keyed by the trigger id, each time a trigger changes state.
triggers_topic = "meritflow.triggers"
# Closed periods' statement rows as JSON, written once when a period closes (after the
# statement store has them), keyed policy/period/provider[/node].
statements_topic = "meritflow.statements"
# Per partition, event time is complete up to its newest ts minus this; events older than the
# completed time (minimum over partitions) are late: counted and written to rejects_topic.
allowed_lateness = "5s"
# A partition silent for this long stops holding event time back; when all are silent,
# everything received so far counts as complete.
idle_timeout = "10s"
# Events stamped further ahead of the wall clock than this are rejected ("0s": no check).
max_future = "1h"
# How often completed results are written out and input offsets committed. The consumer waits
# at most a quarter of it (10-500 ms) for new data per fetch, unless [kafka.properties] sets
# fetch.wait.max.ms.
publish_interval = "1s"
# Where a group without committed offsets starts reading: "earliest" or "latest".
start_from = "earliest"

# The PostgreSQL wire protocol server of `meritflow run` and `meritflow demo` (psql, Grafana,
# Metabase, DBeaver). Every query reads one published snapshot; `SELECT as_of()` says which.
[sql]
# Where it listens; "" turns it off. Off loopback a password is required.
listen = "127.0.0.1:5433"
# The user clients log in as, and its password (SCRAM-SHA-256). Without a password there is no
# authentication, which is only allowed on loopback.
user = "meritflow"
# password = "..."   (the MERITFLOW_SQL_PASSWORD environment variable, when set, wins)
# TLS: a PEM certificate and its PKCS#8 key; both or neither.
# tls_cert = "server.crt"
# tls_key = "server.key"
# Connections beyond this are refused.
max_connections = 32
# A query running longer is cancelled; the other connections keep being served.
query_timeout = "30s"
# Memory one query's sorts, joins and aggregations may use, in MiB.
query_memory_mb = 512
# Every snapshot_every of event time the live tables are kept and served as history.<table>
# with a snapshot_ts column; the newest history_keep snapshots (in memory; 720 hourly = 30 days).
snapshot_every = "1h"
history_keep = 720

# What `meritflow run` saves so that a restart resumes where it stopped instead of re-reading
# the log: every operator's state (window panes, registries, ledgers, trigger states), the live
# tables and the input offsets they cover, as one directory per checkpoint with a manifest
# written last. A restart loads the newest complete one and reads Kafka on from its offsets;
# offsets are committed to Kafka only once a checkpoint covering them is on disk.
[checkpoints]
# Wall-clock time between checkpoints while running ("0s": none); one is also taken at a clean
# shutdown.
every = "5m"
# Where they go; empty: <statements.storage_dir>/checkpoints.
dir = ""
# Complete checkpoints kept (at least 1); older ones are removed once a newer one is complete.
keep = 2

# What one sender may send: a flood of one node's events is rejected past these, so per-node
# state grows at most this fast (each per-node structure grows by at most one entry per event;
# those that expire stay bounded). The rejected events are in the rejects table/topic.
[limits]
# Events of one kind that one sender (node, peer, payer, issuer, transfer's `from`, fee's task)
# may add per slot (engine.grain); the rest of that slot's are rejected, naming the
# field. 0: no cap.
events_per_sender_per_slot = 10000

# librdkafka properties passed through as they are (TLS, SASL, tuning), for example:
#   "security.protocol" = "SASL_SSL"
#   "sasl.mechanisms" = "SCRAM-SHA-512"
#   "sasl.username" = "meritflow"
#   "sasl.password" = "..."
[kafka.properties]
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
    fn the_grain_is_the_slides_common_divisor_unless_set() {
        let config = Config::from_toml(
            "[policy.crynux]\nslide = \"20s\"\n[policy.sla]\nslide = \"30s\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(config.grain(), Span(10_000));
        let err = Config::from_toml("[engine]\ngrain = \"40s\"\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("policy.crynux.slide (1m) must be a whole number of engine.grain (40s)"),
            "{err}"
        );
    }

    #[test]
    fn only_known_policies_can_be_chosen() {
        let config = Config::from_toml("[engine]\npolicies = [\"crynux\"]\n", "m.toml").unwrap();
        assert!(config.runs("crynux") && !config.runs("sla"));
        assert!(Config::default().runs("sla"));
        let err = Config::from_toml("[engine]\npolicies = [\"crynux\", \"qos\"]\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("engine.policies: no policy is named `qos` (known: crynux, icp, sla, swap, relay, gpu_latest)"),
            "{err}"
        );
        let err = Config::from_toml("[engine]\npolicies = []\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("engine.policies is empty"), "{err}");
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
