//! The one wasmtime [`Engine`] of the process and the ticker that advances its epoch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::RuntimeError;
use super::limits::EPOCH_TICK;

/// Concurrent instances the pooling allocator holds slots for.
const POOL_INSTANCES: u32 = 1000;

/// Bytes of each memory and table slot reset in place (not decommitted) after a call.
const KEEP_RESIDENT: usize = 1 << 20;

/// Slots decommitted together, so one TLB shootdown serves several.
const DECOMMIT_BATCH: usize = 16;

/// Builds the engine: component model, async host calls, epoch interruption, and a
/// pooling allocator whose per-memory reservation is `max_memory_bytes` (the operator's
/// cap; each plugin's own limit is enforced below it by [`super::limits::MemoryLimiter`]).
pub fn build(max_memory_bytes: usize) -> Result<Engine, RuntimeError> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        // Guests made by componentize-py/js link a dozen core modules, each with tables
        // and sometimes memories of their own.
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(64)
        .max_memories_per_module(2)
        .max_tables_per_module(8)
        .table_elements(100_000)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(4 << 20)
        .max_memory_size(max_memory_bytes)
        // Most calls get a fresh instance, so slots are reused constantly: reset the
        // pages a call dirtied with memset (found by scanning the page map) instead of
        // madvise, which unmaps them and costs a TLB shootdown across cores and a page
        // fault per page on the next call.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .decommit_batch_size(DECOMMIT_BATCH);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] so that deadlines fire.
///
/// It runs on its own OS thread, not as an async task: guests that never yield would
/// otherwise starve it on a busy (or single-threaded) runtime and never be interrupted.
/// The thread ends when the last clone of the returned [`Ticker`] is dropped.
pub fn start_ticker(engine: &Engine) -> Ticker {
    let engine = engine.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("pier-epoch".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawn the epoch ticker thread");
    Ticker(Arc::new(TickerGuard(stop)))
}

/// Keeps the epoch ticker running while any clone is alive.
#[derive(Clone, Debug)]
pub struct Ticker(#[allow(dead_code)] Arc<TickerGuard>);

#[derive(Debug)]
struct TickerGuard(Arc<AtomicBool>);

impl Drop for TickerGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
