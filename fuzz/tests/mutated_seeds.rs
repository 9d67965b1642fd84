//! The fuzz targets as a deterministic stable-Rust property test: every seed under
//! `seeds/<target>/` and a fixed number of mutations of it (bit flips, interesting bytes,
//! insertions, deletions, truncation, splices with other seeds; a fixed xorshift seed, so a
//! failure reproduces) go through the target's round trip. No libFuzzer, no nightly features:
//! `cargo test --manifest-path fuzz/Cargo.toml`. `PYMESH_FUZZ_ITERS` sets mutations per seed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that make parsers take their edge branches (lengths, reserved values, dispatches).
const INTERESTING: [u8; 10] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x60, 0xc0, 0xe0];

fn mutate(rng: &mut XorShift, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                input.drain(i..i + n);
            }
            4 => input.truncate(rng.below(len + 1)),
            5 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                let from = rng.below(o.len() + 1);
                let at = rng.below(len + 1);
                input.splice(at..at, o[from..].iter().copied().take(16));
            }
            _ if len > 0 => {
                let i = rng.below(len);
                input[i] = input[i].wrapping_add(1 + rng.below(3) as u8);
            }
            _ => input.push(0),
        }
    }
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("dir entry").path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("seed"))
        })
        .collect();
    out.sort();
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_target_survives_its_mutated_seeds() {
    let iters: usize = std::env::var("PYMESH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut failures = Vec::new();
    for &(target, run) in pymesh_fuzz::TARGETS {
        let seeds = seeds(target);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        let bodies: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut runs = 0;
        'seeds: for (name, seed) in &seeds {
            for i in 0..=iters {
                let mut input = seed.clone();
                if i > 0 {
                    mutate(&mut rng, &mut input, &bodies);
                }
                runs += 1;
                if catch_unwind(AssertUnwindSafe(|| run(&input))).is_err() {
                    failures.push(format!(
                        "{target}: seed {name} mutation {i}: input {}",
                        hex(&input)
                    ));
                    continue 'seeds;
                }
            }
        }
        println!("{target}: {} seeds, {runs} inputs", seeds.len());
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
