//! The few raw WebGPU calls tmath makes around wgpu on the web: writing straight from a JS typed
//! array, copying from or reading a `GPUBuffer` wgpu did not create, and error scopes whose
//! result is awaited. Typed bindings, so no `web_sys_unstable_apis` flag is needed.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `GPUBuffer`.
    #[wasm_bindgen(js_name = GPUBuffer)]
    #[derive(Clone, Debug)]
    pub type RawBuffer;
    #[wasm_bindgen(method, getter)]
    pub fn size(this: &RawBuffer) -> f64;
    #[wasm_bindgen(method, getter)]
    pub fn usage(this: &RawBuffer) -> u32;
    #[wasm_bindgen(method, getter, js_name = mapState)]
    pub fn map_state(this: &RawBuffer) -> String;
    #[wasm_bindgen(method, js_name = mapAsync)]
    pub fn map_async(this: &RawBuffer, mode: u32, offset: f64, size: f64) -> js_sys::Promise;
    #[wasm_bindgen(method, catch, js_name = getMappedRange)]
    pub fn get_mapped_range(
        this: &RawBuffer,
        offset: f64,
        size: f64,
    ) -> Result<js_sys::ArrayBuffer, JsValue>;
    #[wasm_bindgen(method)]
    pub fn unmap(this: &RawBuffer);
    #[wasm_bindgen(method)]
    pub fn destroy(this: &RawBuffer);

    /// `GPUDevice`.
    #[wasm_bindgen(js_name = GPUDevice)]
    #[derive(Clone, Debug)]
    pub type RawDevice;
    #[wasm_bindgen(method, getter)]
    pub fn queue(this: &RawDevice) -> RawQueue;
    #[wasm_bindgen(method, getter)]
    pub fn features(this: &RawDevice) -> RawFeatures;

    /// `GPUSupportedFeatures`.
    #[wasm_bindgen(js_name = GPUSupportedFeatures)]
    pub type RawFeatures;
    #[wasm_bindgen(method)]
    pub fn has(this: &RawFeatures, name: &str) -> bool;
    #[wasm_bindgen(method, js_name = createCommandEncoder)]
    pub fn create_command_encoder(this: &RawDevice) -> RawEncoder;
    #[wasm_bindgen(method, catch, js_name = createBuffer)]
    pub fn create_buffer(this: &RawDevice, descriptor: &JsValue) -> Result<RawBuffer, JsValue>;
    #[wasm_bindgen(method, js_name = pushErrorScope)]
    pub fn push_error_scope(this: &RawDevice, filter: &str);
    #[wasm_bindgen(method, js_name = popErrorScope)]
    pub fn pop_error_scope(this: &RawDevice) -> js_sys::Promise;
    #[wasm_bindgen(method, js_name = addEventListener)]
    pub fn add_event_listener(this: &RawDevice, kind: &str, listener: &js_sys::Function);
    #[wasm_bindgen(method, js_name = removeEventListener)]
    pub fn remove_event_listener(this: &RawDevice, kind: &str, listener: &js_sys::Function);

    /// `GPUQueue`.
    #[wasm_bindgen(js_name = GPUQueue)]
    #[derive(Clone, Debug)]
    pub type RawQueue;
    #[wasm_bindgen(method, catch, js_name = writeBuffer)]
    pub fn write_buffer(
        this: &RawQueue,
        buffer: &RawBuffer,
        offset: f64,
        data: &JsValue,
        data_offset: f64,
        size: f64,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    pub fn submit(this: &RawQueue, command_buffers: &js_sys::Array);
    #[wasm_bindgen(method, js_name = onSubmittedWorkDone)]
    pub fn on_submitted_work_done(this: &RawQueue) -> js_sys::Promise;

    /// `GPUCommandEncoder`.
    #[wasm_bindgen(js_name = GPUCommandEncoder)]
    pub type RawEncoder;
    #[wasm_bindgen(method, js_name = copyBufferToBuffer)]
    pub fn copy_buffer_to_buffer(
        this: &RawEncoder,
        source: &RawBuffer,
        source_offset: f64,
        destination: &RawBuffer,
        destination_offset: f64,
        size: f64,
    );
    #[wasm_bindgen(method)]
    pub fn finish(this: &RawEncoder) -> JsValue;
}

/// `GPUBufferUsage` bits (the same values as `wgpu::BufferUsages`).
pub const MAP_READ: u32 = 0x1;

/// The raw `GPUBuffer` behind a wgpu buffer.
#[allow(clippy::expect_used)] // invariant: the web build compiles only wgpu's WebGPU backend
pub fn of_buffer(buffer: &wgpu::Buffer) -> RawBuffer {
    buffer
        .as_webgpu()
        .map(|b| JsValue::from(b.clone()).unchecked_into())
        .expect("the web build only has the WebGPU backend")
}

/// The raw `GPUDevice` behind a wgpu device.
#[allow(clippy::expect_used)] // invariant: the web build compiles only wgpu's WebGPU backend
pub fn of_device(device: &wgpu::Device) -> RawDevice {
    device
        .as_webgpu()
        .map(|d| JsValue::from(d.clone()).unchecked_into())
        .expect("the web build only has the WebGPU backend")
}

/// Copy `size` bytes from `source` to `destination` on `device` in an encoder of its own,
/// submitted at once.
pub fn copy_now(device: &RawDevice, source: &RawBuffer, destination: &RawBuffer, size: u64) {
    copy_range_now(device, source, 0, destination, size);
}

/// Copy `size` bytes at `offset` of `source` to the start of `destination`, submitted at once.
pub fn copy_range_now(
    device: &RawDevice,
    source: &RawBuffer,
    offset: u64,
    destination: &RawBuffer,
    size: u64,
) {
    let encoder = device.create_command_encoder();
    encoder.copy_buffer_to_buffer(source, offset as f64, destination, 0.0, size as f64);
    device
        .queue()
        .submit(&js_sys::Array::of1(&encoder.finish()));
}
