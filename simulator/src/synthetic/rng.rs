/// xorshift64*: tiny, fast and deterministic for a seed. Good enough for synthetic traffic and
/// Monte Carlo calibration (not for cryptography).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so that neighbouring seeds start far apart.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for n < 2^32).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }

    /// A standard normal draw (Box-Muller; one of the pair is used).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A number of successes of `trials` Bernoulli(p) draws.
    pub fn binomial(&mut self, trials: u64, p: f64) -> u64 {
        (0..trials).filter(|_| self.chance(p)).count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn uniform_draws_have_the_right_mean_and_stay_in_range() {
        let mut rng = Rng::new(3);
        let draws: Vec<f64> = (0..100_000).map(|_| rng.uniform()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        // The standard error of the mean is 0.0009.
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        let below: Vec<u64> = (0..60_000).map(|_| rng.below(6)).collect();
        for face in 0..6 {
            let share = below.iter().filter(|x| **x == face).count() as f64 / 60_000.0;
            assert!((share - 1.0 / 6.0).abs() < 0.01, "face {face}: {share}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let (mut a, mut b, mut c) = (Rng::new(9), Rng::new(9), Rng::new(10));
        let first: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, (0..5).map(|_| c.next_u64()).collect::<Vec<_>>());
    }
}
