//! Generates the C header of the FFI (`pymesh_ffi.h`) from `src/ffi.rs` with cbindgen, so the
//! C ABI is declared once, in Rust. The header goes to `$OUT_DIR` and, when the environment
//! variable `PYMESH_FFI_HEADER` names a path, there too (the Makefile points it at
//! `build/include/pymesh_ffi.h`, which the MicroPython module includes).
use std::{env, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=ffi/cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PYMESH_FFI_HEADER");
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("pymesh_ffi.h");
    let config = cbindgen::Config::from_file(crate_dir.join("ffi/cbindgen.toml"))
        .expect("ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi.rs"))
        .generate()
        .expect("cbindgen could not generate the FFI header from src/ffi.rs");
    bindings.write_to_file(&out);
    if let Some(dest) = env::var_os("PYMESH_FFI_HEADER") {
        let dest = PathBuf::from(dest);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).expect("create header directory");
        }
        bindings.write_to_file(&dest);
    }
}
