//! `<home>/config.toml`: the `[limits]` table that `signet speak` and
//! `signet serve` both read. Other tables of the file are left to other
//! commands.

use std::path::Path;

use anyhow::{Context, Result};

/// Largest config file read, in bytes.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// The `[limits]` table of `<home>/config.toml`, or `None` when the file or
/// the table is absent.
pub fn limits_table(home: &Path) -> Result<Option<toml::Value>> {
    let path = home.join("config.toml");
    const CAP: signet_io::Cap =
        signet_io::Cap::new(MAX_CONFIG_BYTES, "a config file is at most 64 KiB");
    let text = match signet_io::read_capped_string(&path, CAP) {
        Ok(text) => text,
        Err(signet_io::FileError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    Ok(table.remove("limits"))
}

/// `base` with the keys the home's `[limits]` table sets.
pub fn limits_over(home: &Path, base: signet::Limits) -> Result<signet::Limits> {
    match limits_table(home)? {
        None => Ok(base),
        Some(table) => signet_server::limits_over(base, &table).with_context(|| {
            format!(
                "{}: invalid [limits] table",
                home.join("config.toml").display()
            )
        }),
    }
}
