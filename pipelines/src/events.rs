//! The event contract (`shared/reference/events.md`, version 1): one typed enum for every kind,
//! a strict decoder whose rejections name the field, and the JSON encoding of the same contract.
//!
//! Decoding goes through a JSON object rather than serde derive so that each rejection can say
//! which field was wrong and why (negative count, percentage out of range, order missing for a
//! submission), which a derive cannot.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

mod scalar;

use scalar::{Members, Scalar, Source};

use crate::id::{Id, Interner};
use crate::time::{parse_rfc3339, Millis};

thread_local! {
    /// The ids decoded on this thread (on a worker, the worker's own): every policy then shares
    /// one `Id` per string instead of allocating and interning its own copy.
    static IDS: std::cell::RefCell<Interner> = std::cell::RefCell::new(Interner::default());
}

/// The shared `Id` of `text`, from this thread's interner.
fn intern(text: &str) -> Id {
    IDS.with(|ids| ids.borrow_mut().id(text))
}

/// Identifiers are non-empty strings of at most this many bytes.
pub const MAX_ID_BYTES: usize = 256;

/// The latest event time accepted, 9999-12-31T23:59:59.999Z (what RFC 3339 can write): days and
/// periods of later times have no calendar date.
pub const MAX_TS: Millis = 253_402_300_799_999;

/// One valid event: its time and what happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub ts: Millis,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Round {
    Commitment,
    Disclosure,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    Submitted,
    ErrorReported,
    Timeout,
    Aborted,
}

impl RoundStatus {
    /// Submissions and error reports carry a finishing order; timeouts and aborts do not.
    pub fn needs_order(self) -> bool {
        matches!(self, RoundStatus::Submitted | RoundStatus::ErrorReported)
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BlockOutcome {
    Made,
    Failed,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    Normal,
}

/// How a chunk's price is given: by proximity order (priced by the policy) or explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkPrice {
    Po(u8),
    Price(u64),
}

/// Every kind of the contract, with its fields. Optional fields are `Option`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    NodeRegistered {
        node: Id,
        #[serde(skip_serializing_if = "Option::is_none")]
        provider: Option<Id>,
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<Id>,
        #[serde(skip_serializing_if = "Option::is_none")]
        node_type: Option<Id>,
        #[serde(skip_serializing_if = "Option::is_none")]
        dc: Option<Id>,
        #[serde(skip_serializing_if = "Option::is_none")]
        vram_bytes: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_s: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stake: Option<Decimal>,
    },
    NodeLeft {
        node: Id,
    },
    GpuSample(GpuSample),
    TaskRound {
        task: Id,
        round: Round,
        node: Id,
        status: RoundStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        order: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        system: Option<bool>,
    },
    TaskSlashed {
        task: Id,
        node: Id,
    },
    TaskFee {
        task: Id,
        fee: Decimal,
    },
    BlockMakerCounters {
        node: Id,
        subnet: Id,
        proposed_total: u64,
        failed_total: u64,
    },
    BlockRound {
        node: Id,
        subnet: Id,
        outcome: BlockOutcome,
    },
    RewardRate {
        region: Id,
        node_type: Id,
        xdr_permyriad_per_node_per_month: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        reward_coefficient_percent: Option<u64>,
    },
    Probe {
        node: Id,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        latency_ms: Option<f64>,
    },
    Request {
        node: Id,
        latency_ms: f64,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
    },
    Rating {
        node: Id,
        user: Id,
        stars: u8,
    },
    ChunkTransfer {
        from: Id,
        to: Id,
        #[serde(flatten)]
        price: ChunkPrice,
        #[serde(skip_serializing_if = "Option::is_none")]
        originated: Option<bool>,
    },
    Refresh {
        payer: Id,
        payee: Id,
        amount: Decimal,
    },
    Cheque {
        issuer: Id,
        beneficiary: Id,
        cumulative_payout: Decimal,
        #[serde(skip_serializing_if = "Option::is_none")]
        chequebook_balance: Option<Decimal>,
    },
    PeerCapacity {
        peer: Id,
        #[serde(flatten)]
        resources: Resources,
    },
    ContractUsage {
        peer: Id,
        contract: Id,
        #[serde(flatten)]
        resources: Resources,
    },
    ContractRequest {
        peer: Id,
        contract: Id,
        distance: f64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GpuSample {
    pub node: Id,
    pub gpu: Id,
    pub vram_total_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vram_used_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_util_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_util_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temp_c: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_j: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sm_clock_mhz: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecc_dbe_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xid: Option<u64>,
}

/// What a peer has, or what relaying a contract costs it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Resources {
    pub storage_bytes: u64,
    pub bandwidth_bps: f64,
    pub cpu_millis_per_s: f64,
    pub memory_bytes: u64,
}

/// Every kind name of the contract, in the order of `events.md`.
pub const KINDS: [&str; 18] = [
    "node_registered",
    "node_left",
    "gpu_sample",
    "task_round",
    "task_slashed",
    "task_fee",
    "block_maker_counters",
    "block_round",
    "reward_rate",
    "probe",
    "request",
    "rating",
    "chunk_transfer",
    "refresh",
    "cheque",
    "peer_capacity",
    "contract_usage",
    "contract_request",
];

/// Why an input was not accepted as an event. `field` names the offending field where one does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct Rejection {
    /// The event's `kind` when it could be read.
    pub kind: Option<String>,
    /// The field at fault; `None` when the whole input is at fault (not JSON, not an object).
    pub field: Option<String>,
    pub problem: String,
}

impl Rejection {
    fn whole(problem: impl Into<String>) -> Rejection {
        Rejection {
            kind: None,
            field: None,
            problem: problem.into(),
        }
    }

    fn describe(&self) -> String {
        match &self.field {
            Some(field) => format!("field `{field}`: {}", self.problem),
            None => self.problem.clone(),
        }
    }

    /// The reason as it is shown in the `rejects` table.
    pub fn reason(&self) -> String {
        self.describe()
    }
}

impl Event {
    /// The `kind` name of the event.
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }

    /// The contract's JSON for this event (`ts` as integer milliseconds).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }
}

impl Body {
    pub fn kind(&self) -> &'static str {
        KINDS[self.index()]
    }

    /// The kind's place in [`KINDS`].
    pub fn index(&self) -> usize {
        match self {
            Body::NodeRegistered { .. } => 0,
            Body::NodeLeft { .. } => 1,
            Body::GpuSample(_) => 2,
            Body::TaskRound { .. } => 3,
            Body::TaskSlashed { .. } => 4,
            Body::TaskFee { .. } => 5,
            Body::BlockMakerCounters { .. } => 6,
            Body::BlockRound { .. } => 7,
            Body::RewardRate { .. } => 8,
            Body::Probe { .. } => 9,
            Body::Request { .. } => 10,
            Body::Rating { .. } => 11,
            Body::ChunkTransfer { .. } => 12,
            Body::Refresh { .. } => 13,
            Body::Cheque { .. } => 14,
            Body::PeerCapacity { .. } => 15,
            Body::ContractUsage { .. } => 16,
            Body::ContractRequest { .. } => 17,
        }
    }
}

/// Decodes one JSON text (a Kafka message value or a JSONL line) into a valid event.
/// Never panics, whatever the bytes.
///
/// The object's members are read without building a `serde_json::Value` (strings borrowed from
/// the bytes), which is most of the cost of the reference path. The field rules are the same
/// for both, so a rejection of the members is already the reference's; only bytes that are not
/// one JSON object are decoded again through the reference path, for its exact reason.
pub fn decode(bytes: &[u8]) -> Result<Event, Rejection> {
    match serde_json::from_slice::<Members>(bytes) {
        Ok(members) => decode_fields(&members),
        Err(_) => decode_reference(bytes),
    }
}

/// [`decode`] through a parsed `serde_json::Value`: the reference path, and where rejection
/// reasons come from.
pub fn decode_reference(bytes: &[u8]) -> Result<Event, Rejection> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Rejection::whole(format!("not valid JSON ({e})")))?;
    let Value::Object(map) = value else {
        return Err(Rejection::whole(
            "not a JSON object: each event is one object",
        ));
    };
    decode_fields(&map)
}

/// Decodes an event from its object's members, wherever they were read from.
fn decode_fields(map: &impl Source) -> Result<Event, Rejection> {
    let kind = match map.member("kind") {
        Some(Scalar::Str(kind)) => kind,
        Some(_) => return Err(field_error(None, "kind", "must be a string")),
        None => return Err(field_error(None, "kind", "missing (required)")),
    };
    let kind = kind.as_ref();
    let f = Fields { map, kind };
    let ts = f.ts()?;
    let body = match kind {
        "node_registered" => Body::NodeRegistered {
            node: f.id("node")?,
            provider: f.opt_id("provider")?,
            region: f.opt_id("region")?,
            node_type: f.opt_id("node_type")?,
            dc: f.opt_id("dc")?,
            vram_bytes: f.opt_count("vram_bytes")?,
            timeout_s: f.opt_count("timeout_s")?,
            stake: f.opt_amount("stake", true)?,
        },
        "node_left" => Body::NodeLeft {
            node: f.id("node")?,
        },
        "gpu_sample" => Body::GpuSample(GpuSample {
            node: f.id("node")?,
            gpu: f.id("gpu")?,
            vram_total_bytes: f.count("vram_total_bytes")?,
            vram_used_bytes: f.opt_count("vram_used_bytes")?,
            gpu_util_pct: f.opt_percent("gpu_util_pct")?,
            mem_util_pct: f.opt_percent("mem_util_pct")?,
            temp_c: f.opt_number("temp_c", -273.15)?,
            power_w: f.opt_number("power_w", 0.0)?,
            energy_j: f.opt_number("energy_j", 0.0)?,
            sm_clock_mhz: f.opt_number("sm_clock_mhz", 0.0)?,
            ecc_dbe_total: f.opt_count("ecc_dbe_total")?,
            xid: f.opt_count("xid")?,
        }),
        "task_round" => {
            let status = f.choice(
                "status",
                &[
                    ("submitted", RoundStatus::Submitted),
                    ("error_reported", RoundStatus::ErrorReported),
                    ("timeout", RoundStatus::Timeout),
                    ("aborted", RoundStatus::Aborted),
                ],
            )?;
            let order = match f.opt_count("order")? {
                Some(k @ 1..=3) => Some(k as u8),
                Some(k) => return Err(f.error("order", format!("{k} is out of range: 1, 2 or 3"))),
                None if status.needs_order() => {
                    return Err(f.error(
                        "order",
                        "missing: required when status is submitted or error_reported",
                    ))
                }
                None => None,
            };
            Body::TaskRound {
                task: f.id("task")?,
                round: f.choice(
                    "round",
                    &[
                        ("commitment", Round::Commitment),
                        ("disclosure", Round::Disclosure),
                    ],
                )?,
                node: f.id("node")?,
                status,
                order,
                system: f.opt_bool("system")?,
            }
        }
        "task_slashed" => Body::TaskSlashed {
            task: f.id("task")?,
            node: f.id("node")?,
        },
        "task_fee" => Body::TaskFee {
            task: f.id("task")?,
            fee: f.amount("fee", false)?,
        },
        "block_maker_counters" => Body::BlockMakerCounters {
            node: f.id("node")?,
            subnet: f.id("subnet")?,
            proposed_total: f.count("proposed_total")?,
            failed_total: f.count("failed_total")?,
        },
        "block_round" => Body::BlockRound {
            node: f.id("node")?,
            subnet: f.id("subnet")?,
            outcome: f.choice(
                "outcome",
                &[
                    ("made", BlockOutcome::Made),
                    ("failed", BlockOutcome::Failed),
                ],
            )?,
        },
        "reward_rate" => Body::RewardRate {
            region: f.id("region")?,
            node_type: f.id("node_type")?,
            xdr_permyriad_per_node_per_month: f.count("xdr_permyriad_per_node_per_month")?,
            reward_coefficient_percent: match f.opt_count("reward_coefficient_percent")? {
                Some(p) if p > 100 => {
                    return Err(f.error(
                        "reward_coefficient_percent",
                        format!("{p} is outside 0..=100"),
                    ))
                }
                p => p,
            },
        },
        "probe" => Body::Probe {
            node: f.id("node")?,
            ok: f.bool("ok")?,
            latency_ms: f.opt_number("latency_ms", 0.0)?,
        },
        "request" => Body::Request {
            node: f.id("node")?,
            latency_ms: f.number("latency_ms", 0.0)?,
            ok: f.bool("ok")?,
            priority: f.opt_choice(
                "priority",
                &[("high", Priority::High), ("normal", Priority::Normal)],
            )?,
        },
        "rating" => Body::Rating {
            node: f.id("node")?,
            user: f.id("user")?,
            stars: match f.count("stars")? {
                s @ 1..=5 => s as u8,
                s => return Err(f.error("stars", format!("{s} is out of range: 1..=5"))),
            },
        },
        "chunk_transfer" => Body::ChunkTransfer {
            from: f.id("from")?,
            to: f.id("to")?,
            price: match (f.opt_count("po")?, f.opt_count("price")?) {
                (Some(po @ 0..=31), None) => ChunkPrice::Po(po as u8),
                (Some(po), None) => {
                    return Err(f.error("po", format!("{po} is out of range: 0..=31")))
                }
                (None, Some(price)) => ChunkPrice::Price(price),
                (Some(_), Some(_)) => {
                    return Err(f.error("po", "give either `po` or `price`, not both"))
                }
                (None, None) => return Err(f.error("po", "missing: give `po` (0..=31) or `price`")),
            },
            originated: f.opt_bool("originated")?,
        },
        "refresh" => Body::Refresh {
            payer: f.id("payer")?,
            payee: f.id("payee")?,
            amount: f.amount("amount", false)?,
        },
        "cheque" => Body::Cheque {
            issuer: f.id("issuer")?,
            beneficiary: f.id("beneficiary")?,
            cumulative_payout: f.amount("cumulative_payout", false)?,
            chequebook_balance: f.opt_amount("chequebook_balance", false)?,
        },
        "peer_capacity" => Body::PeerCapacity {
            peer: f.id("peer")?,
            resources: f.resources()?,
        },
        "contract_usage" => Body::ContractUsage {
            peer: f.id("peer")?,
            contract: f.id("contract")?,
            resources: f.resources()?,
        },
        "contract_request" => Body::ContractRequest {
            peer: f.id("peer")?,
            contract: f.id("contract")?,
            distance: match f.number("distance", 0.0)? {
                d if d <= 0.5 => d,
                d => return Err(f.error("distance", format!("{d} is outside 0.0..=0.5"))),
            },
        },
        other => {
            let shown = shorten(other);
            return Err(Rejection {
                kind: Some(shown.clone()),
                field: Some("kind".into()),
                problem: format!("unknown kind `{shown}` (known: {})", KINDS.join(", ")),
            });
        }
    };
    Ok(Event { ts, body })
}

fn field_error(kind: Option<&str>, field: &str, problem: impl Into<String>) -> Rejection {
    Rejection {
        kind: kind.map(str::to_owned),
        field: Some(field.to_owned()),
        problem: problem.into(),
    }
}

/// Typed access to the fields of one event object, each failure naming its field.
struct Fields<'a, S> {
    map: &'a S,
    kind: &'a str,
}

impl<S: Source> Fields<'_, S> {
    fn error(&self, field: &str, problem: impl Into<String>) -> Rejection {
        field_error(Some(self.kind), field, problem)
    }

    fn present(&self, field: &str) -> Option<Scalar<'_>> {
        self.map.member(field).filter(|v| *v != Scalar::Null)
    }

    fn required(&self, field: &str) -> Result<Scalar<'_>, Rejection> {
        self.present(field)
            .ok_or_else(|| self.error(field, "missing (required)"))
    }

    fn ts(&self) -> Result<Millis, Rejection> {
        match self.required("ts")? {
            Scalar::Str(text) => parse_rfc3339(&text).ok_or_else(|| {
                self.error("ts", format!("`{}` is not an RFC 3339 time at or after 1970 (e.g. \"2026-10-01T00:00:05Z\")", shorten(&text)))
            }),
            Scalar::Number(n) => match n.as_u64() {
                Some(ms) if ms <= MAX_TS => Ok(ms),
                Some(_) => Err(self.error("ts", format!("{n} is after 9999-12-31T23:59:59.999Z: not milliseconds since the epoch? (seconds or nanoseconds are a common mistake)"))),
                None => Err(self.error("ts", format!("{n} is not a non-negative integer of milliseconds"))),
            },
            _ => Err(self.error("ts", "must be an RFC 3339 string or integer milliseconds since the epoch")),
        }
    }

    fn opt_id(&self, field: &str) -> Result<Option<Id>, Rejection> {
        match self.present(field) {
            None => Ok(None),
            Some(Scalar::Str(s)) if s.is_empty() => Err(self.error(field, "is empty")),
            Some(Scalar::Str(s)) if s.len() > MAX_ID_BYTES => Err(self.error(
                field,
                format!("is {} bytes long; at most {MAX_ID_BYTES}", s.len()),
            )),
            Some(Scalar::Str(s)) => Ok(Some(intern(&s))),
            Some(_) => Err(self.error(field, "must be a string")),
        }
    }

    fn id(&self, field: &str) -> Result<Id, Rejection> {
        self.required(field)?;
        Ok(self.opt_id(field)?.expect("present"))
    }

    fn opt_count(&self, field: &str) -> Result<Option<u64>, Rejection> {
        match self.present(field) {
            None => Ok(None),
            Some(Scalar::Number(n)) => match n.as_u64() {
                Some(v) => Ok(Some(v)),
                None if n.as_i64().is_some() => Err(self.error(field, format!("{n} is negative"))),
                None => Err(self.error(field, format!("{n} is not a whole number"))),
            },
            Some(_) => Err(self.error(field, "must be a non-negative integer")),
        }
    }

    fn count(&self, field: &str) -> Result<u64, Rejection> {
        self.required(field)?;
        Ok(self.opt_count(field)?.expect("present"))
    }

    fn opt_number(&self, field: &str, min: f64) -> Result<Option<f64>, Rejection> {
        match self.present(field) {
            None => Ok(None),
            Some(Scalar::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() && v >= min => Ok(Some(v)),
                Some(v) if v < min => Err(self.error(field, format!("{n} is below {min}"))),
                _ => Err(self.error(field, format!("{n} is not a finite number"))),
            },
            Some(_) => Err(self.error(field, "must be a number")),
        }
    }

    fn number(&self, field: &str, min: f64) -> Result<f64, Rejection> {
        self.required(field)?;
        Ok(self.opt_number(field, min)?.expect("present"))
    }

    fn opt_percent(&self, field: &str) -> Result<Option<f64>, Rejection> {
        match self.opt_number(field, 0.0)? {
            Some(p) if p > 100.0 => Err(self.error(field, format!("{p} is outside 0..=100"))),
            p => Ok(p),
        }
    }

    fn opt_bool(&self, field: &str) -> Result<Option<bool>, Rejection> {
        match self.present(field) {
            None => Ok(None),
            Some(Scalar::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(self.error(field, "must be true or false")),
        }
    }

    fn bool(&self, field: &str) -> Result<bool, Rejection> {
        self.required(field)?;
        Ok(self.opt_bool(field)?.expect("present"))
    }

    /// A non-negative exact amount: a decimal string, or (where `numbers_ok`) a JSON number.
    fn opt_amount(&self, field: &str, numbers_ok: bool) -> Result<Option<Decimal>, Rejection> {
        let text = match self.present(field) {
            None => return Ok(None),
            Some(Scalar::Str(s)) => s.trim().to_owned(),
            Some(Scalar::Number(n)) if numbers_ok || n.is_u64() => n.to_string(),
            Some(Scalar::Number(_)) => {
                return Err(self.error(
                    field,
                    "give the amount as a decimal string, e.g. \"1000\", to keep it exact",
                ))
            }
            Some(_) => return Err(self.error(field, "must be a decimal string")),
        };
        let amount = Decimal::from_str_exact(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map_err(|_| {
                self.error(
                    field,
                    format!(
                        "`{}` is not a decimal number that fits 28 digits",
                        shorten(&text)
                    ),
                )
            })?;
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(self.error(field, format!("{amount} is negative")));
        }
        Ok(Some(amount.normalize()))
    }

    fn amount(&self, field: &str, numbers_ok: bool) -> Result<Decimal, Rejection> {
        self.required(field)?;
        Ok(self.opt_amount(field, numbers_ok)?.expect("present"))
    }

    fn opt_choice<T: Copy>(
        &self,
        field: &str,
        options: &[(&str, T)],
    ) -> Result<Option<T>, Rejection> {
        match self.present(field) {
            None => Ok(None),
            Some(Scalar::Str(s)) => options
                .iter()
                .find(|(name, _)| *name == s)
                .map(|(_, v)| Some(*v))
                .ok_or_else(|| {
                    let names: Vec<_> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                    self.error(
                        field,
                        format!("`{}` is not one of {}", shorten(&s), names.join(", ")),
                    )
                }),
            Some(_) => Err(self.error(field, "must be a string")),
        }
    }

    fn choice<T: Copy>(&self, field: &str, options: &[(&str, T)]) -> Result<T, Rejection> {
        self.required(field)?;
        Ok(self.opt_choice(field, options)?.expect("present"))
    }

    fn resources(&self) -> Result<Resources, Rejection> {
        Ok(Resources {
            storage_bytes: self.count("storage_bytes")?,
            bandwidth_bps: self.number("bandwidth_bps", 0.0)?,
            cpu_millis_per_s: self.number("cpu_millis_per_s", 0.0)?,
            memory_bytes: self.count("memory_bytes")?,
        })
    }
}

fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(64).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(line: &str) -> String {
        decode(line.as_bytes()).unwrap_err().reason()
    }

    #[test]
    fn both_ts_forms_decode_to_the_same_time() {
        let a = decode(br#"{"kind":"node_left","ts":"2026-10-01T00:00:05Z","node":"a"}"#).unwrap();
        let b = decode(br#"{"kind":"node_left","ts":1790812805000,"node":"a"}"#).unwrap();
        let c =
            decode(br#"{"kind":"node_left","ts":"2026-10-01T02:00:05+02:00","node":"a"}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn rejections_name_the_field() {
        assert_eq!(
            reason(
                r#"{"kind":"task_round","ts":1,"task":"T","round":"commitment","node":"a","status":"submitted"}"#
            ),
            "field `order`: missing: required when status is submitted or error_reported"
        );
        assert!(reason(r#"{"kind":"teleport","ts":1}"#)
            .starts_with("field `kind`: unknown kind `teleport`"));
        assert_eq!(
            reason(r#"{"kind":"gpu_sample","ts":1,"node":"a","gpu":"g","vram_total_bytes":-5}"#),
            "field `vram_total_bytes`: -5 is negative"
        );
        assert_eq!(
            reason(
                r#"{"kind":"gpu_sample","ts":1,"node":"a","gpu":"g","vram_total_bytes":5,"gpu_util_pct":101}"#
            ),
            "field `gpu_util_pct`: 101 is outside 0..=100"
        );
        assert_eq!(
            reason(r#"{"kind":"node_left","ts":1,"node":""}"#),
            "field `node`: is empty"
        );
        assert_eq!(
            reason(r#"{"kind":"node_left","node":"a"}"#),
            "field `ts`: missing (required)"
        );
        assert_eq!(
            reason(r#"{"kind":"node_left","ts":-1,"node":"a"}"#),
            "field `ts`: -1 is not a non-negative integer of milliseconds"
        );
        assert!(
            reason(r#"{"kind":"node_left","ts":9999999999999999999,"node":"a"}"#)
                .starts_with("field `ts`: 9999999999999999999 is after 9999-12-31T23:59:59.999Z")
        );
        assert!(decode(br#"{"kind":"node_left","ts":253402300799999,"node":"a"}"#).is_ok());
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59.999Z"),
            Some(MAX_TS),
            "the latest RFC 3339 time is the bound"
        );
        // Rewards need a `reward_rate` in whole numbers (reference page, rule 10).
        assert_eq!(
            reason(
                r#"{"kind":"reward_rate","ts":1,"region":"r","node_type":"t","xdr_permyriad_per_node_per_month":"1.5"}"#
            ),
            "field `xdr_permyriad_per_node_per_month`: must be a non-negative integer"
        );
        assert_eq!(
            reason(
                r#"{"kind":"reward_rate","ts":1,"region":"r","node_type":"t","xdr_permyriad_per_node_per_month":5,"reward_coefficient_percent":101}"#
            ),
            "field `reward_coefficient_percent`: 101 is outside 0..=100"
        );
        assert_eq!(
            reason(r#"{"kind":"task_fee","ts":1,"task":"T","fee":1.5}"#),
            "field `fee`: give the amount as a decimal string, e.g. \"1000\", to keep it exact"
        );
        assert_eq!(
            reason(r#"{"kind":"rating","ts":1,"node":"a","user":"u","stars":6}"#),
            "field `stars`: 6 is out of range: 1..=5"
        );
        assert!(reason("not json at all").starts_with("not valid JSON"));
        assert_eq!(
            reason("[1,2]"),
            "not a JSON object: each event is one object"
        );
    }

    #[test]
    fn unknown_extra_fields_are_ignored() {
        let e = decode(br#"{"kind":"node_left","ts":1,"node":"a","future":{"x":1}}"#).unwrap();
        assert_eq!(e.body, Body::NodeLeft { node: "a".into() });
    }

    /// The fuzz corpus: every input the fuzzer found to reach new code in the decoder.
    fn corpus() -> &'static [Vec<u8>] {
        static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        CORPUS.get_or_init(|| {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/decode_event");
            let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(dir)
                .expect("the fuzz corpus is in the repository")
                .map(|entry| {
                    std::fs::read(entry.expect("corpus entry").path()).expect("corpus file")
                })
                .collect();
            inputs.sort();
            inputs
        })
    }

    /// The corpus inputs that are events.
    fn corpus_events() -> &'static [Vec<u8>] {
        static EVENTS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        EVENTS.get_or_init(|| {
            corpus()
                .iter()
                .filter(|b| decode_reference(b).is_ok())
                .cloned()
                .collect()
        })
    }

    /// Both sources of members, where the fast path can read the bytes at all: same event or
    /// same rejection, reason included.
    fn both_sources_agree(bytes: &[u8]) {
        let reference = decode_reference(bytes);
        if let Ok(members) = serde_json::from_slice::<Members>(bytes) {
            assert_eq!(
                decode_fields(&members),
                reference,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            decode(bytes),
            reference,
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }

    #[test]
    fn the_fast_path_decodes_the_fuzz_corpus_as_the_reference_does() {
        let inputs = corpus();
        assert!(inputs.len() > 1000, "corpus missing");
        let accepted = corpus_events().len();
        assert!(accepted > 50, "only {accepted} corpus inputs are events");
        for bytes in inputs {
            both_sources_agree(bytes);
        }
    }

    /// A JSON value for a member: of every type the contract uses and some it does not, with
    /// strings that need escapes.
    fn member_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            (0u64..200).prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            (-1e6f64..1e6).prop_map(|f| format!("{f}")),
            prop_oneof![
                Just("1e3"),
                Just("-0"),
                Just("0.0"),
                Just("1.5e308"),
                Just("2e400")
            ]
            .prop_map(str::to_owned),
            any::<bool>().prop_map(|b| b.to_string()),
            Just("null".to_owned()),
            Just(r#"{"x":[1,{"y":null}]}"#.to_owned()),
            Just("[1,2]".to_owned()),
            "[a-z0-9 .\\-]{0,6}".prop_map(|s| Value::String(s).to_string()),
            "[a-z\\\"\n\u{e9}]{1,5}".prop_map(|s| Value::String(s).to_string()),
            prop_oneof![
                Just("\"2026-10-01T00:00:05Z\""),
                Just("\"2026-10-01T02:00:05+02:00\""),
                Just("\"12.50\""),
                Just("\" 7 \""),
                Just("\"1e3\""),
                Just("\"-3\""),
                Just("\"submitted\""),
                Just("\"commitment\""),
                Just("\"high\""),
                Just("\"made\""),
                Just("\"a\\u0062\""),
            ]
            .prop_map(str::to_owned),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Events of the corpus, edited: members removed, replaced, added twice (the last
        /// wins), names written with escapes. Whatever the edit, the fast path and the
        /// reference path give the same event or the same rejection.
        #[test]
        fn the_fast_path_decodes_edited_events_as_the_reference_does(
            pick in 0usize..10_000,
            edits in proptest::collection::vec(
                (0u8..4, 0usize..64, member_value()),
                0..5,
            ),
        ) {
            let events = corpus_events();
            let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&events[pick % events.len()]) else {
                unreachable!("accepted inputs are objects")
            };
            let names: Vec<String> = map.keys().cloned().chain(
                ["ts", "kind", "node", "order", "stake", "fee", "status", "xid", "extra"]
                    .map(str::to_owned),
            ).collect();
            let mut members: Vec<(String, String)> =
                map.iter().map(|(k, v)| (Value::String(k.clone()).to_string(), v.to_string())).collect();
            for (op, at, value) in edits {
                let name = &names[at % names.len()];
                let quoted = Value::String(name.clone()).to_string();
                match op {
                    0 => members.retain(|(k, _)| *k != quoted),
                    1 => match members.iter_mut().find(|(k, _)| *k == quoted) {
                        Some(member) => member.1 = value,
                        None => members.push((quoted, value)),
                    },
                    2 => members.push((quoted, value)),
                    _ => {
                        // The same name with its first character escaped.
                        let mut chars = name.chars();
                        let first = chars.next().map_or(String::new(), |c| format!("\\u{:04x}", c as u32 & 0xffff));
                        members.push((format!("\"{first}{}\"", chars.as_str()), value));
                    }
                }
            }
            let body: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            both_sources_agree(format!("{{{}}}", body.join(",")).as_bytes());
        }
    }

    #[test]
    fn kinds_list_matches_the_enum() {
        assert_eq!(
            KINDS
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            KINDS.len()
        );
    }
}
