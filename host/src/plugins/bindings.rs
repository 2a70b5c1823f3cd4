//! Host-side bindings for `wit/notifier.wit`; `wasi:*` types come from wasmtime-wasi.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "notifier",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    require_store_data_send: true,
});
