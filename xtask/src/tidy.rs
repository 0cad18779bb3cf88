//! Checks that guard the shape of the tree, run as tests of xtask.
//!
//! - Fuzz hooks stay out of the documented API: every `fuzz_*` function in a
//!   library crate lives in a module that only `--cfg fuzzing` (cargo-fuzz's
//!   build) compiles, so `cargo doc` never shows one.

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use anyhow::{Context, Result};

    fn repo_root() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    }

    /// Whether `attrs` hold a `#[cfg(...)]` that needs the `fuzzing` cfg:
    /// `cfg(fuzzing)`, or `cfg(any(fuzzing, test))` (tests are not docs).
    fn gated_by_fuzzing(attrs: &[syn::Attribute]) -> bool {
        attrs.iter().any(|a| match &a.meta {
            syn::Meta::List(list) if list.path.is_ident("cfg") => {
                let cfg = list.tokens.to_string().replace(' ', "");
                cfg == "fuzzing" || cfg == "any(fuzzing,test)"
            }
            _ => false,
        })
    }

    /// `fuzz_*` functions of `items` outside a fuzzing-gated module, and the
    /// out-of-line modules named `fuzzing` whose declaration is not gated.
    fn ungated(items: &[syn::Item], file: &Path, out: &mut Vec<String>) {
        for item in items {
            match item {
                syn::Item::Fn(f)
                    if f.sig.ident.to_string().starts_with("fuzz_")
                        && !gated_by_fuzzing(&f.attrs) =>
                {
                    out.push(format!("{}: fn {}", file.display(), f.sig.ident));
                }
                syn::Item::Mod(m) if gated_by_fuzzing(&m.attrs) => {}
                syn::Item::Mod(m) => {
                    if m.ident == "fuzzing" {
                        out.push(format!(
                            "{}: mod fuzzing without cfg(fuzzing)",
                            file.display()
                        ));
                    }
                    if let Some((_, inner)) = &m.content {
                        ungated(inner, file, out);
                    }
                }
                _ => {}
            }
        }
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                rust_files(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        Ok(())
    }

    #[test]
    fn fuzz_hooks_are_compiled_only_for_fuzzing() -> Result<()> {
        let root = repo_root();
        let mut files = Vec::new();
        for entry in fs::read_dir(root.join("crates"))? {
            let src = entry?.path().join("src");
            if src.is_dir() {
                rust_files(&src, &mut files)?;
            }
        }
        assert!(files.len() > 50, "found only {} source files", files.len());
        let mut found = Vec::new();
        let mut gated_modules = 0;
        for file in &files {
            let text = fs::read_to_string(file)?;
            let parsed =
                syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
            gated_modules += parsed
                .items
                .iter()
                .filter(|i| matches!(i, syn::Item::Mod(m) if m.ident == "fuzzing" && gated_by_fuzzing(&m.attrs)))
                .count();
            // A file that holds the hooks is itself the gated module.
            if file.file_name().is_some_and(|n| n == "fuzzing.rs") {
                continue;
            }
            ungated(&parsed.items, file, &mut found);
        }
        assert!(
            found.is_empty(),
            "fuzz hooks reachable without --cfg fuzzing (move them into a \
             `#[cfg(fuzzing)] pub mod fuzzing`):\n{}",
            found.join("\n")
        );
        // The check above means something only while hooks exist to find.
        assert!(
            gated_modules >= 4,
            "only {gated_modules} gated fuzzing modules found"
        );
        Ok(())
    }

    #[test]
    fn an_ungated_hook_is_found() -> Result<()> {
        let file: syn::File = syn::parse_str(
            "pub fn fuzz_a() {}\n\
             #[cfg(fuzzing)] pub mod fuzzing { pub fn fuzz_b() {} }\n\
             pub mod inner { pub fn fuzz_c() {} }\n\
             pub mod fuzzing { }",
        )?;
        let mut found = Vec::new();
        ungated(&file.items, Path::new("x.rs"), &mut found);
        assert_eq!(
            found,
            [
                "x.rs: fn fuzz_a",
                "x.rs: fn fuzz_c",
                "x.rs: mod fuzzing without cfg(fuzzing)"
            ]
        );
        Ok(())
    }
}
