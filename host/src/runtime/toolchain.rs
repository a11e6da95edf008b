//! Which toolchain made a component, read from its `producers` custom sections: what
//! `instances = "auto"` decides by.

use wasmparser::{KnownCustom, Name, Parser, Payload};

/// A toolchain whose components carry a whole language runtime, so that a fresh
/// instance costs a millisecond or more (measured in `bench/results/hot-path.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heavy {
    /// `componentize-py`: CPython.
    Python,
    /// `componentize-js`: StarlingMonkey (SpiderMonkey).
    JavaScript,
}

/// The heavy toolchain that made `bytes`, from its custom sections (the component's
/// and its modules'): `producers` naming ComponentizeJS or the language JavaScript or
/// Python, or a module named after CPython (`libpython3.N.so`, componentize-py's
/// runtime). `None` for anything else, a malformed file included.
pub fn heavy(bytes: &[u8]) -> Option<Heavy> {
    for payload in Parser::new(0).parse_all(bytes) {
        let section = match payload {
            Ok(Payload::CustomSection(section)) => section,
            Ok(_) => continue,
            Err(_) => return None,
        };
        match section.as_known() {
            KnownCustom::Producers(producers) => {
                for field in producers.into_iter().flatten() {
                    for value in field.values.into_iter().flatten() {
                        match (field.name, value.name) {
                            ("language", "Python") => return Some(Heavy::Python),
                            ("language", "JavaScript")
                            | ("processed-by", "ComponentizeJS" | "componentize-js") => {
                                return Some(Heavy::JavaScript);
                            }
                            _ => {}
                        }
                    }
                }
            }
            KnownCustom::Name(names) => {
                for name in names.into_iter().flatten() {
                    if let Name::Module { name, .. } = name
                        && (name.starts_with("libpython3")
                            || name == "componentize_py_runtime.wasm")
                    {
                        return Some(Heavy::Python);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one `producers` section naming `value` under `field`.
    fn module_produced(field: &str, value: &str) -> Vec<u8> {
        let mut section = vec![1u8, field.len() as u8]; // one field
        section.extend(field.as_bytes());
        section.push(1); // one value
        for text in [value, "1.0"] {
            section.push(text.len() as u8);
            section.extend(text.as_bytes());
        }
        let name = b"producers";
        let mut payload = vec![name.len() as u8];
        payload.extend(name);
        payload.extend(section);
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.push(0); // custom section
        module.push(payload.len() as u8);
        module.extend(payload);
        module
    }

    /// The guests the tests build with each toolchain (`make plugins polyglot`).
    #[test]
    fn real_guests_are_told_apart() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fixtures");
        for (file, expected) in [
            ("py-shout.wasm", Some(Heavy::Python)),
            ("js-reverse.wasm", Some(Heavy::JavaScript)),
            ("probe.wasm", None),
        ] {
            let bytes = std::fs::read(fixtures.join(file)).expect("make plugins polyglot");
            assert_eq!(heavy(&bytes), expected, "{file}");
        }
    }

    #[test]
    fn the_producers_section_names_the_toolchain() {
        assert_eq!(
            heavy(&module_produced("language", "Python")),
            Some(Heavy::Python)
        );
        assert_eq!(
            heavy(&module_produced("processed-by", "ComponentizeJS")),
            Some(Heavy::JavaScript)
        );
        assert_eq!(
            heavy(&module_produced("language", "JavaScript")),
            Some(Heavy::JavaScript)
        );
        assert_eq!(heavy(&module_produced("language", "Rust")), None);
        assert_eq!(
            heavy(&module_produced("processed-by", "wit-component")),
            None
        );
        assert_eq!(heavy(b"\0asm\x01\0\0\0\0\x7f"), None, "malformed");
        assert_eq!(heavy(b""), None);
    }
}
