//! Rebuild when the embedded assets or the schema change (include_dir and include_str! alone do not
//! notice new files).
fn main() {
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-changed=schema.sql");
    println!("cargo:rerun-if-changed=src/api/openapi.json");
}
