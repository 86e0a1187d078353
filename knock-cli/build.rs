//! Windows only: knock.exe gets its icon (assets/windows/knock.ico), version
//! information (from Cargo.toml) and manifest (assets/windows/knock.manifest),
//! compiled by mingw's windres. Other targets need none of it.

use std::path::Path;

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../assets/windows/knock.ico");
    println!("cargo:rerun-if-changed=../assets/windows/knock.manifest");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return Ok(());
    }
    let windows = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/windows");
    let mut res = winresource::WindowsResource::new();
    res.set_icon(&windows.join("knock.ico").to_string_lossy())
        .set_manifest_file(&windows.join("knock.manifest").to_string_lossy())
        .set("ProductName", "knock")
        .set("FileDescription", "knock (port knocking, command line)")
        .set("InternalName", "knock")
        .set("OriginalFilename", "knock.exe")
        .set("CompanyName", "knock contributors")
        .set("LegalCopyright", "knock contributors, MIT OR Apache-2.0");
    res.compile_for("knock")
}
