//! The pool policy without a GPU: property-style checks over random get/put sequences.

mod common;

use common::{random_size_workload, Rng, Step};
use std::collections::HashSet;
use tmath::pool::policy::{Acquire, BufferId, BufferKind, PolicyError, PoolConfig, PoolPolicy};

/// Random get/put sequences under several configurations; after every step the invariants hold:
/// idle bytes within budget, no buffer both in use and free, no buffer handed out twice, and
/// hits + misses = requests.
#[test]
fn invariants_hold_over_random_sequences() {
    // (idle budget, per-class cap, reuse factor, memory limit)
    let configs = [
        (1 << 20, 100, 2, u64::MAX),
        (64 << 10, 3, 2, u64::MAX),
        (0, 100, 2, u64::MAX),
        (16 << 20, 1, 1, u64::MAX),
        (4 << 20, 100, 4, u64::MAX),
        (16 << 20, 100, 2, 24 << 20),
    ];
    for (round, &(budget, cap, factor, limit)) in configs.iter().enumerate() {
        for seed in 0..20u64 {
            let mut rng = Rng::new(seed * 31 + round as u64);
            let mut policy = PoolPolicy::new(PoolConfig {
                budget_bytes: budget,
                max_per_class: cap,
                max_reuse_factor: factor,
                max_buffer_bytes: 8 << 20,
                memory_limit_bytes: limit,
                ..PoolConfig::default()
            });
            let mut live: Vec<(BufferId, u64)> = Vec::new();
            let mut handed_out: HashSet<BufferId> = HashSet::new();
            let mut requests = 0u64;
            for _ in 0..2000 {
                if live.is_empty() || rng.chance(55) {
                    let bytes = match rng.range(0, 3) {
                        0 => rng.range(1, 512),
                        1 => rng.range(512, 64 << 10),
                        2 => rng.range(64 << 10, 4 << 20),
                        _ => rng.range(7 << 20, 9 << 20), // some over the limit
                    };
                    let kind = if rng.chance(80) {
                        BufferKind::Storage
                    } else {
                        BufferKind::Readback
                    };
                    match policy.acquire(bytes, kind) {
                        Ok(decision) => {
                            requests += 1;
                            assert!(decision.bytes() >= bytes);
                            if decision.bytes() > bytes.next_multiple_of(4).max(256) {
                                // A larger buffer, but never more than the reuse factor allows
                                // (or the request's own class).
                                let class = policy.class_for(bytes).unwrap().bytes();
                                assert!(
                                    decision.bytes() <= class.max(bytes * factor),
                                    "{bytes} served by {}",
                                    decision.bytes()
                                );
                            }
                            assert!(
                                handed_out.insert(decision.id()),
                                "buffer {:?} handed out twice",
                                decision.id()
                            );
                            if let Acquire::Create { .. } = decision {
                                assert!(!policy.is_idle(decision.id()));
                            }
                            live.push((decision.id(), decision.bytes()));
                        }
                        Err(PolicyError::TooLarge { .. }) => assert!(bytes > 8 << 20),
                        Err(PolicyError::OverMemoryLimit {
                            in_use, requested, ..
                        }) => {
                            assert!(requested >= bytes && in_use + requested > limit)
                        }
                        Err(other) => panic!("{other}"),
                    }
                } else {
                    let (id, _) = live.swap_remove(rng.range(0, live.len() as u64 - 1) as usize);
                    handed_out.remove(&id);
                    policy.release(id).unwrap();
                    assert!(policy.release(id).is_err(), "double release accepted");
                }
                for id in policy.take_evicted() {
                    assert!(!handed_out.contains(&id), "evicted buffer {id:?} is in use");
                }
                let stats = policy.stats();
                assert_eq!(stats.requests(), requests);
                assert!(stats.bytes_cached <= budget);
                assert!(stats.peak_bytes_in_use >= stats.bytes_in_use);
                if let Err(broken) = policy.check_invariants() {
                    panic!("config {round} seed {seed}: {broken}");
                }
                for (id, _) in &live {
                    assert!(policy.is_in_use(*id) && !policy.is_idle(*id));
                }
            }
        }
    }
}

/// The workload the GPU tests run, replayed on the policy alone: 500 tensors of 4 KiB–1 MiB
/// create far fewer than 500 buffers because similar sizes share classes and larger idle
/// buffers serve smaller requests.
#[test]
fn the_random_size_workload_reuses_buffers() {
    let mut policy = PoolPolicy::new(PoolConfig {
        max_buffer_bytes: 1 << 30,
        ..PoolConfig::default()
    });
    let mut live = Vec::new();
    for step in random_size_workload(7, 500, 8) {
        match step {
            Step::Take(elements) => live.push(
                policy
                    .acquire(elements * 4, BufferKind::Storage)
                    .unwrap()
                    .id(),
            ),
            Step::Return(i) => {
                policy.release(live.remove(i)).unwrap();
            }
        }
    }
    let stats = policy.stats();
    assert_eq!(stats.hits + stats.misses, 500);
    assert!(stats.buffers_created <= 40, "{stats:?}");
    assert_eq!(stats.bytes_in_use, 0);
    policy.check_invariants().unwrap();
}
