//! Decreasing isotonic regression by pool-adjacent-violators, written here rather than taken
//! from a crate: the page fixes details a general implementation does not (equal distances
//! pooled first, blocks merged while the later mean is at least the earlier one so that blocks
//! are level sets, a block's point is its mean distance and mean rate, predictions interpolated
//! linearly between block points and flat outside), and it is twenty lines.

/// A fitted block: its mean x (distance), mean y (rate), weight (points pooled in it) and how
/// many distinct x it covers (blocks cover runs of consecutive distinct x, in order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Block {
    pub x: f64,
    pub y: f64,
    pub weight: f64,
    pub distinct: usize,
}

/// Fits a non-increasing step function to `(x, y)` points, each of weight 1.
pub fn fit_decreasing(points: &[(f64, f64)]) -> Vec<Block> {
    let mut sorted: Vec<(f64, f64)> = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Equal x pooled first: (x, Σx, Σy, n, distinct) per distinct x.
    let mut sums: Vec<(f64, f64, f64, f64, usize)> = Vec::new();
    for (x, y) in sorted {
        match sums.last_mut() {
            Some(last) if last.0 == x => {
                last.1 += x;
                last.2 += y;
                last.3 += 1.0;
            }
            _ => sums.push((x, x, y, 1.0, 1)),
        }
    }
    let mut blocks: Vec<(f64, f64, f64, f64, usize)> = Vec::new();
    for s in sums {
        blocks.push(s);
        // Pool while the later block's mean is at least the earlier one's.
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if b.2 / b.3 >= a.2 / a.3 {
                blocks[n - 2] = (a.0, a.1 + b.1, a.2 + b.2, a.3 + b.3, a.4 + b.4);
                blocks.pop();
            } else {
                break;
            }
        }
    }
    blocks
        .into_iter()
        .map(|(_, sx, sy, n, distinct)| Block {
            x: sx / n,
            y: sy / n,
            weight: n,
            distinct,
        })
        .collect()
}

/// The fitted value at `x`: linear between the blocks' points, flat beyond the first and last.
pub fn predict(blocks: &[Block], x: f64) -> Option<f64> {
    let first = blocks.first()?;
    let last = blocks.last()?;
    if x <= first.x {
        return Some(first.y);
    }
    if x >= last.x {
        return Some(last.y);
    }
    let i = blocks.partition_point(|b| b.x <= x);
    let (a, b) = (blocks[i - 1], blocks[i]);
    Some(a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_worked_example() {
        let blocks = fit_decreasing(&[(0.05, 3.0), (0.10, 2.0), (0.20, 2.5), (0.40, 1.0)]);
        let points: Vec<(f64, f64)> = blocks.iter().map(|b| (b.x, b.y)).collect();
        assert_eq!(points.len(), 3);
        assert_eq!(points[0], (0.05, 3.0));
        assert!((points[1].0 - 0.15).abs() < 1e-12 && points[1].1 == 2.25);
        assert_eq!(points[2], (0.40, 1.0));
        assert!((predict(&blocks, 0.30).unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(predict(&blocks, 0.01), Some(3.0));
        assert_eq!(predict(&blocks, 0.45), Some(1.0));
        assert_eq!(predict(&[], 0.3), None);
    }

    #[test]
    fn equal_distances_are_pooled_first() {
        let blocks = fit_decreasing(&[(0.1, 1.0), (0.1, 3.0), (0.2, 1.0)]);
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            (
                blocks[0].x,
                blocks[0].y,
                blocks[0].weight,
                blocks[0].distinct
            ),
            (0.1, 2.0, 2.0, 1)
        );
    }

    /// The fitted value of each input point.
    fn fitted(points: &[(f64, f64)]) -> Vec<f64> {
        let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let levels: Vec<f64> = fit_decreasing(points)
            .iter()
            .flat_map(|b| std::iter::repeat_n(b.y, b.distinct))
            .collect();
        assert_eq!(levels.len(), xs.len());
        points
            .iter()
            .map(|(x, _)| levels[xs.iter().position(|v| v == x).unwrap()])
            .collect()
    }

    fn points() -> impl Strategy<Value = Vec<(f64, f64)>> {
        proptest::collection::vec(
            (
                (0u8..6).prop_map(|d| d as f64 / 10.0),
                (0u8..8).prop_map(|r| r as f64),
            ),
            1..7,
        )
    }

    proptest! {
        /// Non-increasing in x, and a fixed point: fitting its own fitted values changes nothing.
        #[test]
        fn non_increasing_and_idempotent(p in points()) {
            let blocks = fit_decreasing(&p);
            for w in blocks.windows(2) {
                prop_assert!(w[0].x < w[1].x && w[0].y > w[1].y, "{blocks:?}");
            }
            let again: Vec<(f64, f64)> = p.iter().map(|(x, _)| *x).zip(fitted(&p)).collect();
            let refit = fitted(&again);
            for (a, b) in refit.iter().zip(fitted(&p)) {
                prop_assert!((a - b).abs() < 1e-9);
            }
        }

        /// Least squares among all non-increasing fits that are constant on equal x: brute force
        /// over every level assignment from a grid that holds the optimum (block means of
        /// consecutive runs).
        #[test]
        fn minimises_squared_error(p in points()) {
            let mut xs: Vec<f64> = p.iter().map(|q| q.0).collect();
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            // Every mean of a consecutive run of distinct x is a candidate level.
            let mut candidates = Vec::new();
            for i in 0..xs.len() {
                for j in i..xs.len() {
                    let ys: Vec<f64> = p.iter().filter(|q| q.0 >= xs[i] && q.0 <= xs[j]).map(|q| q.1).collect();
                    candidates.push(ys.iter().sum::<f64>() / ys.len() as f64);
                }
            }
            let sse = |levels: &[f64]| -> f64 {
                p.iter().map(|(x, y)| {
                    let k = xs.iter().position(|v| v == x).unwrap();
                    (levels[k] - y).powi(2)
                }).sum()
            };
            let mut best = f64::INFINITY;
            let mut levels = vec![0.0; xs.len()];
            fn search(k: usize, cap: f64, c: &[f64], levels: &mut Vec<f64>, best: &mut f64, sse: &dyn Fn(&[f64]) -> f64) {
                if k == levels.len() {
                    *best = best.min(sse(levels));
                    return;
                }
                for &v in c {
                    if v <= cap + 1e-12 {
                        levels[k] = v;
                        search(k + 1, v, c, levels, best, sse);
                    }
                }
            }
            search(0, f64::INFINITY, &candidates, &mut levels, &mut best, &sse);
            let ours: f64 = p.iter().zip(fitted(&p)).map(|((_, y), f)| (f - y).powi(2)).sum();
            prop_assert!(ours <= best + 1e-9, "ours {ours} > brute force {best}");
        }
    }
}
