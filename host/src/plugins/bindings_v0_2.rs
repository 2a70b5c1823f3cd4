//! Host-side bindings for `wit/v0.2.0/notifier.wit` (`emu-oncall:notifier@0.2.0`).
//! Not used yet: it is compiled so the contract's draft is checked by the same
//! bindgen the host will use. The per-version host modules come next (#15).
#![allow(dead_code)]

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "notifier",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    require_store_data_send: true,
});
