//! The transfer ledger: every transfer's route, dtypes, bytes and wall time, for the last N
//! transfers. A leaf: the router records into it, the context owns it, the API reads it.

use crate::dtype::DType;
use std::collections::VecDeque;

/// A way tensor data reaches (or leaves) the engine's GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// Already there: nothing happens.
    Identity,
    /// Host data written with one queue write.
    HostWrite,
    /// Host data written into a mapped storage buffer (unified memory, no staging copy).
    MappedWrite,
    /// Host data written into staging, then copied on the GPU: a pooled, already-mapped upload
    /// buffer (large uploads on discrete GPUs, native), or the write-staging arena when the only
    /// fitting idle buffer is still read by pending work (the write is ordered after it).
    StagedWrite,
    /// A buffer of this device copied on the GPU.
    SameDeviceCopy,
    /// A buffer of this device taken over as the tensor's storage.
    Adopt,
    /// Data from another device, through the host.
    CrossDevice,
    /// GPU to host.
    Readback,
}

impl Route {
    /// The name used in the ledger and the JS API (`"host-write"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Route::Identity => "identity",
            Route::HostWrite => "host-write",
            Route::MappedWrite => "mapped-write",
            Route::StagedWrite => "staged-write",
            Route::SameDeviceCopy => "same-device-copy",
            Route::Adopt => "adopt",
            Route::CrossDevice => "cross-device",
            Route::Readback => "readback",
        }
    }
}

/// One transfer, as the ledger keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    /// The route that ran.
    pub route: Route,
    /// The direct route that was tried first and failed, if this is a fallback.
    pub fallback_from: Option<Route>,
    /// Why the direct route failed.
    pub reason: Option<String>,
    /// The input's element type (`"float32"`, `"int64"`, `"number"`, …).
    pub dtype_in: String,
    /// The resulting dtype.
    pub dtype_out: DType,
    /// Bytes of tensor data moved (0 for identity and adopt).
    pub bytes: u64,
    /// Wall time of the call, in microseconds.
    pub wall_us: f64,
    /// Position in the engine's sequence of transfers (set by the ledger; counts from 1).
    pub seq: u64,
}

impl Transfer {
    /// A direct transfer of `bytes` of `dtype` by `route` that started at `start_us`
    /// ([`crate::platform::now_us`]) and ends now.
    pub(crate) fn since(route: Route, dtype: DType, bytes: u64, start_us: f64) -> Transfer {
        Transfer {
            route,
            fallback_from: None,
            reason: None,
            dtype_in: dtype.name().to_owned(),
            dtype_out: dtype,
            bytes,
            wall_us: crate::platform::now_us() - start_us,
            seq: 0,
        }
    }
}

/// The last transfers, oldest first.
pub(crate) struct Ledger {
    entries: VecDeque<Transfer>,
    capacity: usize,
    next_seq: u64,
}

impl Ledger {
    pub fn new(capacity: usize) -> Ledger {
        Ledger {
            entries: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            next_seq: 1,
        }
    }

    pub fn push(&mut self, mut transfer: Transfer) {
        transfer.seq = self.next_seq;
        self.next_seq += 1;
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(transfer);
    }

    pub fn entries(&self) -> Vec<Transfer> {
        self.entries.iter().cloned().collect()
    }
}
