//! The pure formulas of `shared/reference/icp-node-rewards.md`, in `rust_decimal` arithmetic
//! (each operation rounded half-even at 28 places at most), in the page's order of operations.

use rust_decimal::Decimal;

use super::config::Type3Algorithm;

/// `FR = failed / (proposed + failed)`; 0 when both are 0.
pub fn failure_rate(proposed: u64, failed: u64) -> Decimal {
    let total = Decimal::from(proposed) + Decimal::from(failed);
    if total.is_zero() {
        Decimal::ZERO
    } else {
        Decimal::from(failed) / total
    }
}

/// The nearest-rank index of `percentile` among `n` sorted values: `ceil(n × p / 100) − 1`,
/// at least 0, in integer arithmetic.
pub fn percentile_index(n: usize, percentile: u32) -> usize {
    (n * percentile as usize).div_ceil(100).saturating_sub(1)
}

/// The subnet failure rate: the nearest-rank percentile of its nodes' failure rates.
pub fn subnet_failure_rate(mut rates: Vec<Decimal>, percentile: u32) -> Decimal {
    rates.sort();
    rates
        .get(percentile_index(rates.len(), percentile))
        .copied()
        .unwrap_or(Decimal::ZERO)
}

/// `max(0, FR − subnet FR)`.
pub fn relative_failure_rate(node: Decimal, subnet: Decimal) -> Decimal {
    (node - subnet).max(Decimal::ZERO)
}

/// The reduction `r(FR)`: linear through the two points, flat outside them.
pub fn reduction(fr: Decimal, [(x0, y0), (x1, y1)]: [(Decimal, Decimal); 2]) -> Decimal {
    if fr < x0 {
        y0
    } else if fr > x1 {
        y1
    } else {
        (fr - x0) / (x1 - x0) * (y1 - y0) + y0
    }
}

/// A daily rate from a monthly one.
pub fn daily_rate(monthly: Decimal, days_per_month: Decimal) -> Decimal {
    monthly / days_per_month
}

/// A node's daily rate and reward coefficient (a fraction, not a percentage).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeRate {
    pub daily: Decimal,
    pub coefficient: Decimal,
}

/// The base reward each node of one type3 group gets (`rates` in node-id order; not empty).
pub fn type3_base(rates: &[NodeRate], algorithm: Type3Algorithm) -> Decimal {
    let n = Decimal::from(rates.len());
    if rates.is_empty() {
        return Decimal::ZERO;
    }
    match algorithm {
        Type3Algorithm::V1 => {
            let avg_rate = rates.iter().map(|r| r.daily).sum::<Decimal>() / n;
            let avg_coeff = rates.iter().map(|r| r.coefficient).sum::<Decimal>() / n;
            let mut total = Decimal::ZERO;
            let mut c = Decimal::ONE;
            for _ in 0..rates.len() {
                total += avg_rate * c;
                c *= avg_coeff;
            }
            total / n
        }
        Type3Algorithm::V2 => {
            let mut sorted = rates.to_vec();
            sorted.sort_by(|a, b| {
                (b.daily, b.coefficient)
                    .partial_cmp(&(a.daily, a.coefficient))
                    .expect("decimals are totally ordered")
            });
            let mut total = Decimal::ZERO;
            let mut product = Decimal::ONE;
            for rate in &sorted {
                total += rate.daily * product;
                product *= rate.coefficient;
            }
            total / n
        }
    }
}

/// The first two comma parts of a region (the country key of type3 grouping), or the whole
/// region when it has fewer.
pub fn country_of(region: &str) -> &str {
    match region.match_indices(',').nth(1) {
        Some((at, _)) => &region[..at],
        None => region,
    }
}

/// The region and its ever shorter prefixes (dropping the last comma part each time), the
/// order in which the rate table is searched.
pub fn region_prefixes(region: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(region);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.rfind(',').map(|at| &current[..at]);
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn points() -> [(Decimal, Decimal); 2] {
        super::super::config::IcpConfig::default().reduction_points
    }

    fn subnet(counts: &[(u64, u64)]) -> Decimal {
        subnet_failure_rate(
            counts.iter().map(|(p, f)| failure_rate(*p, *f)).collect(),
            75,
        )
    }

    #[test]
    fn subnet_vectors() {
        let s = subnet(&[(75, 25), (90, 10), (95, 5), (50, 50)]);
        assert_eq!(s, d("0.25"));
        assert_eq!(relative_failure_rate(failure_rate(50, 50), s), d("0.25"));
        assert_eq!(subnet(&[(80, 20), (60, 40)]), d("0.40"));
        assert_eq!(subnet(&[(99, 1), (0, 0)]), d("0.01"));
    }

    #[test]
    fn curve_vectors() {
        let m = |fr: &str| Decimal::ONE - reduction(d(fr), points());
        assert_eq!(m("0.05"), d("1.0"));
        assert_eq!(reduction(d("0.35"), points()), d("0.4"));
        assert_eq!(m("0.35"), d("0.6"));
        assert_eq!(reduction(d("0.7"), points()), d("0.8"));
        assert_eq!(m("0.7"), d("0.2"));
    }

    #[test]
    fn four_type1_nodes() {
        let counts = [(100, 1), (100, 5), (100, 20), (100, 50)];
        let s = subnet(&counts);
        assert_eq!(s.to_string(), "0.1666666666666666666666666667");
        let ms: Vec<Decimal> = counts
            .iter()
            .map(|(p, f)| {
                let r = reduction(relative_failure_rate(failure_rate(*p, *f), s), points());
                Decimal::ONE - r
            })
            .collect();
        assert!(ms[..3].iter().all(|m| *m == Decimal::ONE));
        let r = reduction(relative_failure_rate(failure_rate(100, 50), s), points());
        assert_eq!(r.to_string(), "0.1066666666666666666666666666");
        assert_eq!(ms[3].to_string(), "0.8933333333333333333333333334");
    }

    fn rate(daily: u64, percent: u64) -> NodeRate {
        NodeRate {
            daily: Decimal::from(daily),
            coefficient: Decimal::from(percent) / Decimal::ONE_HUNDRED,
        }
    }

    #[test]
    fn daily_rates() {
        let days = d("30.4375");
        assert_eq!(daily_rate(d("304375"), days), d("10000"));
        assert_eq!(daily_rate(d("913125"), days), d("30000"));
        assert_eq!(daily_rate(d("1217500"), days), d("40000"));
    }

    #[test]
    fn type3_v1_vectors() {
        let two = [rate(30000, 90), rate(40000, 70)];
        assert_eq!(type3_base(&two, Type3Algorithm::V1), d("31500"));
        let five = [
            rate(30000, 90),
            rate(30000, 90),
            rate(30000, 90),
            rate(40000, 70),
            rate(40000, 70),
        ];
        assert_eq!(type3_base(&five, Type3Algorithm::V1), d("23772.05036800"));
    }

    #[test]
    fn type3_v2_vectors() {
        let four = [
            rate(10000, 80),
            rate(10000, 95),
            rate(10000, 80),
            rate(10000, 95),
        ];
        assert_eq!(type3_base(&four, Type3Algorithm::V2), d("8936.25"));
        assert_eq!(type3_base(&four, Type3Algorithm::V1), d("8276.3671875"));
    }

    #[test]
    fn percentile_index_is_nearest_rank() {
        assert_eq!(percentile_index(0, 75), 0);
        assert_eq!(percentile_index(1, 75), 0);
        assert_eq!(percentile_index(2, 75), 1);
        assert_eq!(percentile_index(4, 75), 2);
        assert_eq!(percentile_index(5, 75), 3);
    }

    #[test]
    fn regions() {
        assert_eq!(
            country_of("North America,USA,California"),
            "North America,USA"
        );
        assert_eq!(country_of("Europe"), "Europe");
        let walk: Vec<&str> = region_prefixes("A,B,C").collect();
        assert_eq!(walk, ["A,B,C", "A,B", "A"]);
    }
}
