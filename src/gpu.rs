//! Adapter and device acquisition (or a device the app made), the limits and features tmath
//! relies on, and device-loss and uncaptured-error tracking. What differs between the web and
//! native builds here is only which instance is made and how errors are listened for; the rest
//! of that difference lives in `platform/`.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// What the engine runs on: the adapter's identity and the capabilities tmath cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterReport {
    /// Adapter name (`llvmpipe (LLVM 15…)`, `NVIDIA H100 …`; on the web the browser's description,
    /// often empty).
    pub name: String,
    /// Backend (`vulkan`, `metal`, `dx12`, `webgpu`, …).
    pub backend: String,
    /// What kind of device it is; per-adapter rules (copy method, matmul tiles, conversion site)
    /// follow it.
    pub device_type: DeviceKind,
    /// Driver name and version where the backend reports them.
    pub driver: String,
    /// `shader-f16` is available (and enabled).
    pub shader_f16: bool,
    /// `timestamp-query` is available (and enabled).
    pub timestamp_query: bool,
    /// Native only: storage buffers can be mapped (`MAPPABLE_PRIMARY_BUFFERS`). Enabled only on
    /// unified-memory adapters (integrated GPUs and CPU devices), where it avoids staging copies.
    pub mappable_primary_buffers: bool,
    /// Subgroup operations are available (and enabled).
    pub subgroups: bool,
    /// `maxBufferSize` of the device.
    pub max_buffer_size: u64,
    /// `maxStorageBufferBindingSize` of the device.
    pub max_storage_buffer_binding_size: u64,
    /// `maxComputeWorkgroupStorageSize` of the device: bounds the matmul tile shapes.
    pub max_workgroup_storage_bytes: u32,
}

/// Who made the device, and so who may destroy it.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// tmath requested it from this instance: [`Engine::dispose`](crate::Engine::dispose)
    /// destroys it, and [`Engine::recover`](crate::Engine::recover) requests a new one from the
    /// same instance after a loss.
    Acquired(wgpu::Instance),
    /// The app made it (`Engine::from_wgpu`, `Engine.fromDevice`): tmath never destroys it and
    /// cannot replace it.
    Borrowed,
}

/// What kind of device an adapter is. Browsers report none: there it is `Other`, except
/// SwiftShader (Chromium and Dawn without a GPU), which is a `Cpu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// A GPU with its own memory.
    DiscreteGpu,
    /// A GPU sharing memory with the CPU.
    IntegratedGpu,
    /// A software implementation on the CPU (lavapipe, SwiftShader).
    Cpu,
    /// A virtualised GPU.
    VirtualGpu,
    /// Not reported.
    Other,
}

impl DeviceKind {
    /// The name used in reports and in JS (`'discrete-gpu'`, `'cpu'`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::DiscreteGpu => "discrete-gpu",
            DeviceKind::IntegratedGpu => "integrated-gpu",
            DeviceKind::Cpu => "cpu",
            DeviceKind::VirtualGpu => "virtual-gpu",
            DeviceKind::Other => "other",
        }
    }

    /// A real GPU (discrete, integrated or virtual).
    pub fn is_gpu(self) -> bool {
        matches!(
            self,
            DeviceKind::DiscreteGpu | DeviceKind::IntegratedGpu | DeviceKind::VirtualGpu
        )
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device and queue with the bookkeeping tmath needs around them.
pub(crate) struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub report: AdapterReport,
    pub origin: Origin,
    /// `Some(reason)` once the device is lost.
    lost: Arc<Mutex<Option<String>>>,
    /// Set by `Engine::dispose`.
    disposed: std::sync::atomic::AtomicBool,
    /// Errors no error scope caught, oldest first (kept short).
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// Where uncaptured device errors go (removed when the engine goes).
    errors: crate::platform::ErrorHook,
}

const MAX_KEPT_ERRORS: usize = 16;

impl Gpu {
    /// Request an adapter from `instance` and a device with the adapter's own limits (not the
    /// WebGPU defaults) and the optional features tmath uses.
    pub async fn acquire(instance: wgpu::Instance, power: wgpu::PowerPreference) -> Result<Gpu> {
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: power,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter {
                reason: format!("{e}. {}", NO_ADAPTER_HELP),
            })?;
        let info = adapter.get_info();
        let available = adapter.features();
        let unified_memory = matches!(
            info.device_type,
            wgpu::DeviceType::IntegratedGpu | wgpu::DeviceType::Cpu
        );
        let mut wanted =
            wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP;
        if unified_memory {
            wanted |= wgpu::Features::MAPPABLE_PRIMARY_BUFFERS;
        }
        let required_features = available & wanted;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("tmath"),
                required_features,
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter {
                reason: format!(
                    "the adapter {:?} refused a device: {e}. {NO_ADAPTER_HELP}",
                    info.name
                ),
            })?;
        Ok(Gpu::on(device, queue, info, Origin::Acquired(instance)))
    }

    /// A device the app made: its features and limits are what tmath uses; tmath never destroys
    /// it.
    pub fn borrow(device: wgpu::Device, queue: wgpu::Queue) -> Gpu {
        let info = device.adapter_info();
        Gpu::on(device, queue, info, Origin::Borrowed)
    }

    fn on(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        origin: Origin,
    ) -> Gpu {
        let limits = device.limits();
        let features = device.features();

        let lost = Arc::new(Mutex::new(None));
        let lost_in_callback = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = lost_in_callback.lock() {
                slot.get_or_insert_with(|| format!("{reason:?}: {message}"));
            }
        });
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let keep = {
            let uncaptured = Arc::clone(&uncaptured);
            move |message: String| {
                if let Ok(mut list) = uncaptured.lock() {
                    if list.len() == MAX_KEPT_ERRORS {
                        list.remove(0);
                    }
                    list.push(message);
                }
            }
        };
        let errors = crate::platform::ErrorHook::install(
            &device,
            matches!(origin, Origin::Acquired(_)),
            keep,
        );

        let device_type = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu,
            wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu,
            wgpu::DeviceType::Cpu => DeviceKind::Cpu,
            wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu,
            wgpu::DeviceType::Other => DeviceKind::Other,
        };
        let device_type = if crate::platform::unreported_cpu(&device) {
            DeviceKind::Cpu
        } else {
            device_type
        };
        let report = AdapterReport {
            name: info.name.clone(),
            backend: info.backend.to_str().to_owned(),
            device_type,
            driver: [info.driver.as_str(), info.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            mappable_primary_buffers: features.contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            subgroups: crate::platform::has_subgroups(&device, features),
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_workgroup_storage_bytes: limits.max_compute_workgroup_storage_size,
        };
        Gpu {
            device,
            queue,
            report,
            origin,
            lost,
            disposed: Default::default(),
            uncaptured,
            errors,
        }
    }

    /// Mark the engine disposed, and destroy the device if tmath made it.
    pub fn dispose(&self) {
        self.disposed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.errors.remove();
        if matches!(self.origin, Origin::Acquired(_)) {
            self.device.destroy();
        }
    }

    /// `Err(Disposed)` after `Engine::dispose`, `Err(DeviceLost)` once the device is gone.
    pub fn check_alive(&self) -> Result<()> {
        if self.disposed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::disposed("the engine"));
        }
        match self.lost.lock().ok().and_then(|slot| slot.clone()) {
            Some(reason) => Err(Error::DeviceLost { reason }),
            None => Ok(()),
        }
    }

    /// Why the device was lost, once it is.
    pub fn lost_reason(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|slot| slot.clone())
    }

    /// Whether `Engine::dispose` ran.
    pub fn is_disposed(&self) -> bool {
        self.disposed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Errors the device reported outside any error scope since the last call.
    pub fn take_uncaptured_errors(&self) -> Vec<String> {
        self.uncaptured
            .lock()
            .map(|mut list| std::mem::take(&mut *list))
            .unwrap_or_default()
    }
}

const NO_ADAPTER_HELP: &str = "Natively, install a Vulkan, Metal or D3D12 driver \
(on Debian without a GPU: `apt-get install mesa-vulkan-drivers` for the lavapipe CPU device); \
in a browser, use one with WebGPU enabled (Chrome/Edge 113+, Safari 18+, Firefox 141+, or \
Chromium with --enable-unsafe-webgpu)";

/// Map `buffer` and wait for it: natively by polling the device, on the web by awaiting the
/// browser's `mapAsync`. A lost device gives `DeviceLost` instead of hanging.
pub(crate) async fn map(
    gpu: &Gpu,
    buffer: &wgpu::Buffer,
    mode: wgpu::MapMode,
    len: u64,
) -> Result<()> {
    let slot: std::sync::Arc<std::sync::Mutex<crate::platform::MapSlot>> = Default::default();
    let in_callback = std::sync::Arc::clone(&slot);
    buffer.map_async(mode, 0..len, move |result| {
        crate::platform::MapSlot::finish(&in_callback, result.is_ok())
    });
    crate::platform::wait_for(&gpu.device, None)?;
    let ok = crate::platform::MapWait(slot).await;
    if ok {
        Ok(())
    } else {
        gpu.check_alive()?;
        Err(Error::DeviceLost {
            reason: "the buffer could not be mapped".into(),
        })
    }
}
