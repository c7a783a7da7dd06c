//! Account choice for the bank workload: uniform, or Zipf-skewed with the
//! exponent solved so that a given fraction of transfers touches one of the
//! hottest accounts.

use rand::{Rng, RngExt};

/// Picks the `(from, to)` account pair of a transfer; the two always differ.
#[derive(Clone, Debug)]
pub enum PairSampler {
    /// Both accounts uniform over `0..accounts`.
    Uniform {
        /// Number of accounts.
        accounts: usize,
    },
    /// Both accounts drawn from a Zipf distribution over account numbers
    /// (account 0 the hottest), `to` redrawn until it differs from `from`.
    Zipf(Zipf),
}

impl PairSampler {
    /// Two distinct accounts.
    pub fn sample(&self, rng: &mut impl Rng) -> (usize, usize) {
        match self {
            PairSampler::Uniform { accounts } => {
                let from = rng.random_range(0..*accounts);
                // Uniform over the others: skip `from`.
                let to = rng.random_range(0..*accounts - 1);
                (from, if to >= from { to + 1 } else { to })
            }
            PairSampler::Zipf(zipf) => {
                let from = zipf.sample(rng);
                loop {
                    let to = zipf.sample(rng);
                    if to != from {
                        return (from, to);
                    }
                }
            }
        }
    }
}

/// A Zipf distribution over `0..n`: `P(k) ∝ 1 / (k + 1)^s`.
#[derive(Clone, Debug)]
pub struct Zipf {
    exponent: f64,
    /// `cdf[k]` = P(X <= k); the last entry is 1.
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `0..n` (`n >= 2`) with exponent `s >= 0`.
    pub fn new(n: usize, s: f64) -> Self {
        let weights = weights(n, s);
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        Zipf { exponent: s, cdf }
    }

    /// The exponent `s`.
    pub fn exponent(&self) -> f64 {
        self.exponent
    }

    /// One draw: the first `k` with `u < cdf[k]`.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random_range(0.0..1.0);
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }

    /// The Zipf distribution over `0..n` under which a pair drawn as in
    /// [`PairSampler::Zipf`] includes one of the `hot` lowest-numbered
    /// accounts with probability `target` (found by bisection on `s`).
    pub fn for_hot_pair_fraction(n: usize, hot: usize, target: f64) -> Self {
        let (mut lo, mut hi) = (0.0_f64, 8.0_f64);
        for _ in 0..100 {
            let mid = (lo + hi) / 2.0;
            if hot_pair_probability(n, hot, mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Zipf::new(n, (lo + hi) / 2.0)
    }
}

/// Unnormalised Zipf weights `1 / rank^s` for ranks `1..=n`.
fn weights(n: usize, s: f64) -> Vec<f64> {
    (1..=n).map(|rank| (rank as f64).powf(-s)).collect()
}

/// P(`from < hot` or `to < hot`) for pairs drawn as in [`PairSampler::Zipf`]:
/// one minus the probability that both are cold, where `to` given `from = i`
/// is Zipf conditioned on `to != i`.
pub fn hot_pair_probability(n: usize, hot: usize, s: f64) -> f64 {
    let weights = weights(n, s);
    let total: f64 = weights.iter().sum();
    let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let cold: f64 = p.iter().skip(hot).sum();
    let both_cold: f64 = p
        .iter()
        .skip(hot)
        .map(|&pi| pi * (cold - pi) / (1.0 - pi))
        .sum();
    1.0 - both_cold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_pairs_are_distinct_and_in_range() {
        let sampler = PairSampler::Uniform { accounts: 3 };
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let (a, b) = sampler.sample(&mut rng);
            assert!(a < 3 && b < 3 && a != b);
        }
    }

    #[test]
    fn solved_exponent_gives_the_target_fraction() {
        let zipf = Zipf::for_hot_pair_fraction(1000, 10, 0.8);
        assert!((hot_pair_probability(1000, 10, zipf.exponent()) - 0.8).abs() < 1e-9);
        let sampler = PairSampler::Zipf(zipf);
        let mut rng = rand::rng();
        let draws = 100_000;
        let hot = (0..draws)
            .filter(|_| {
                let (a, b) = sampler.sample(&mut rng);
                assert_ne!(a, b);
                a < 10 || b < 10
            })
            .count();
        let fraction = hot as f64 / f64::from(draws);
        assert!((fraction - 0.8).abs() < 0.01, "{fraction}");
    }

    #[test]
    fn exponent_zero_is_uniform() {
        let zipf = Zipf::new(4, 0.0);
        assert!((zipf.cdf[1] - 0.5).abs() < 1e-12);
    }
}
