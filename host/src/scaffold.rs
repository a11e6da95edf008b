//! `pier new NAME --lang rust|python|js`: a plugin folder that builds and serves as it is,
//! with one tool `hello(name) -> "Hello, {name}!"`, a sidecar, a README with the three
//! commands that matter, and a test in the language's usual style.

use std::path::{Path, PathBuf};

/// The languages `pier new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A `cdylib` crate with `pier-sdk`.
    Rust,
    /// A FastMCP-style `server.py` with the Python SDK.
    Python,
    /// A `server.js` making an `McpServer` with the JS SDK (rename it `server.ts` for
    /// TypeScript).
    Js,
}

/// Whether `name` can name a plugin: 1 to 64 of `[A-Za-z0-9_-]`, starting with a letter.
fn valid(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The `pier-sdk` dependency of a Rust plugin at `dir`: by path when `dir` is inside a
/// checkout of pier's repository; else by version and by the path of the SDK that came
/// with pier (`shipped` writes it: [`crate::builder::rust::rust_sdk`]), so the crate
/// builds wherever pier is installed, and without the path once `pier-sdk` is published.
fn rust_sdk_dependency(
    dir: &Path,
    shipped: &dyn Fn() -> Result<PathBuf, String>,
) -> Result<String, String> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    for ancestor in absolute.ancestors().skip(1) {
        let sdk = ancestor.join("guest-sdk/pier-sdk");
        if sdk.join("Cargo.toml").is_file() {
            let depth = absolute
                .strip_prefix(ancestor)
                .map(|rest| rest.components().count())
                .unwrap_or(0);
            let up = "../".repeat(depth);
            return Ok(format!(
                "pier-sdk = {{ path = \"{up}guest-sdk/pier-sdk\" }}"
            ));
        }
    }
    let sdk = shipped()?;
    let path = toml::Value::String(sdk.to_string_lossy().into_owned());
    Ok(format!(
        "# The SDK that came with pier; once pier-sdk is published, the version alone will do.\npier-sdk = {{ version = \"{}\", path = {path} }}",
        env!("CARGO_PKG_VERSION")
    ))
}

fn files(name: &str, lang: Lang, rust_sdk: &str) -> Vec<(&'static str, String)> {
    let readme = |build_note: &str, test: &str| {
        format!(
            "# {name}\n\nA pier plugin. The three commands that matter, from this folder:\n\n```sh\npier build . -o plugins.d                      # {build_note}\npier dev .                                     # serve it, rebuilt on every save\npier call plugins.d/{name}.wasm hello --args '{{\"name\": \"Ada\"}}'\n```\n\nTests: `{test}`.\n"
        )
    };
    let sidecar = format!(
        "# pier's sidecar for the plugin `{name}`: limits, grants, configuration\n# (the page \"Plugins on disk\" of pier's book lists every key).\n[limits]\ntimeout-ms = 30000\n"
    );
    match lang {
        Lang::Rust => vec![
            (
                "Cargo.toml",
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n{}\n\n# A workspace of its own, wherever the folder is.\n[workspace]\n",
                    rust_sdk
                ),
            ),
            (
                "src/lib.rs",
                format!(
                    "//! `{name}`: a pier plugin.\n\nuse pier_sdk::prelude::*;\n\n/// Greets someone by name.\n#[tool]\nfn hello(\n    /// Who to greet.\n    name: String,\n) -> String {{\n    greeting(&name)\n}}\n\nfn greeting(name: &str) -> String {{\n    format!(\"Hello, {{name}}!\")\n}}\n\npier_sdk::plugin! {{\n    name: \"{name}\",\n    version: env!(\"CARGO_PKG_VERSION\"),\n    tools: [hello],\n}}\n\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn hello_greets_by_name() {{\n        assert_eq!(super::greeting(\"Ada\"), \"Hello, Ada!\");\n    }}\n}}\n"
                ),
            ),
            ("README.md", readme("cargo build for wasm32-wasip2, then copied", "cargo test")),
            ("plugin.toml", sidecar),
            (".gitignore", "target/\nplugins.d/\n.pier/\n".into()),
        ],
        Lang::Python => vec![
            (
                "server.py",
                format!(
                    "\"\"\"`{name}`: a pier plugin, written as a FastMCP server.\"\"\"\n\nfrom pier_sdk import FastMCP\n\nmcp = FastMCP(\"{name}\")\n\n\n@mcp.tool\ndef hello(name: str) -> str:\n    \"\"\"Greets someone by name.\n\n    Args:\n        name: Who to greet.\n    \"\"\"\n    return f\"Hello, {{name}}!\"\n\n\nif __name__ == \"__main__\":\n    mcp.run()\n"
                ),
            ),
            (
                "test_server.py",
                "from server import hello\n\n\ndef test_hello_greets_by_name():\n    assert hello(\"Ada\") == \"Hello, Ada!\"\n".into(),
            ),
            (
                "conftest.py",
                "# The Python SDK is pure Python: the tests import the copy that comes with pier.\nimport subprocess\nimport sys\n\nsys.path.insert(0, subprocess.run([\"pier\", \"build\", \"--sdk-path\"], check=True, capture_output=True, text=True).stdout.strip())\n".into(),
            ),
            ("README.md", readme("componentize-py with the Python SDK", "pytest")),
            ("plugin.toml", sidecar),
            (".gitignore", "__pycache__/\nplugins.d/\n.pier/\n".into()),
        ],
        Lang::Js => vec![
            (
                "server.js",
                format!(
                    "// `{name}`: a pier plugin, written as a server of the official MCP TypeScript SDK\n// (only the import of McpServer differs). Rename it server.ts to write TypeScript.\nimport {{ McpServer }} from 'pier-sdk';\nimport {{ z }} from 'zod';\n\nimport {{ greeting }} from './greeting.js';\n\nconst server = new McpServer({{ name: '{name}', version: '0.1.0' }});\n\nserver.registerTool(\n  'hello',\n  {{ description: 'Greets someone by name.', inputSchema: {{ name: z.string().describe('Who to greet.') }} }},\n  async ({{ name }}) => ({{ content: [{{ type: 'text', text: greeting(name) }}] }}),\n);\n"
                ),
            ),
            (
                "greeting.js",
                "/** The greeting for `name`. */\nexport function greeting(name) {\n  return `Hello, ${name}!`;\n}\n".into(),
            ),
            (
                "greeting.test.js",
                "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\n\nimport { greeting } from './greeting.js';\n\ntest('hello greets by name', () => {\n  assert.equal(greeting('Ada'), 'Hello, Ada!');\n});\n".into(),
            ),
            (
                "package.json",
                format!(
                    "{{\n  \"name\": \"{}\",\n  \"private\": true,\n  \"type\": \"module\",\n  \"scripts\": {{ \"test\": \"node --test\" }}\n}}\n",
                    name.to_ascii_lowercase()
                ),
            ),
            (
                "README.md",
                readme(
                    "esbuild and componentize-js with the JS SDK (pier-sdk and zod come with pier)",
                    "npm test",
                ),
            ),
            ("plugin.toml", sidecar),
            (".gitignore", "node_modules/\nplugins.d/\n.pier/\n".into()),
        ],
    }
}

/// Writes the plugin folder `NAME` (or `dir`); the files written.
pub fn new_plugin(name: &str, lang: Lang, dir: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    if !valid(name) {
        return Err(format!(
            "`{name}` cannot name a plugin: 1 to 64 letters, digits, `_` or `-`, starting with a letter"
        ));
    }
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!("{}: exists and is not empty", dir.display()));
    }
    let rust_sdk = match lang {
        Lang::Rust => rust_sdk_dependency(&dir, &crate::builder::rust::rust_sdk)?,
        _ => String::new(),
    };
    let files = files(name, lang, &rust_sdk);
    let mut written = Vec::new();
    for (path, text) in files {
        // The sidecar is named after the plugin.
        let path = if path == "plugin.toml" {
            format!("{name}.toml")
        } else {
            path.to_string()
        };
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        written.push(file);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_folders_are_checked() {
        assert!(valid("weather") && valid("my-tool_2"));
        assert!(!valid("") && !valid("2fast") && !valid("a b") && !valid(&"x".repeat(65)));
        let work = tempfile::tempdir().unwrap();
        let taken = work.path().join("taken");
        std::fs::create_dir(&taken).unwrap();
        std::fs::write(taken.join("x"), "").unwrap();
        assert_eq!(
            new_plugin("taken", Lang::Python, Some(&taken)).unwrap_err(),
            format!("{}: exists and is not empty", taken.display())
        );
        assert!(new_plugin("no way", Lang::Rust, Some(&work.path().join("n"))).is_err());
    }

    #[test]
    fn the_rust_sdk_is_a_path_inside_the_repository_and_the_shipped_copy_outside() {
        let inside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/new-one");
        let shipped = || Ok(PathBuf::from("/cache/rust-sdk-1/guest-sdk/pier-sdk"));
        assert_eq!(
            rust_sdk_dependency(&inside, &shipped).unwrap(),
            "pier-sdk = { path = \"../../guest-sdk/pier-sdk\" }"
        );
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(
            rust_sdk_dependency(&outside.path().join("p"), &shipped).unwrap(),
            format!(
                "# The SDK that came with pier; once pier-sdk is published, the version alone will do.\npier-sdk = {{ version = \"{}\", path = \"/cache/rust-sdk-1/guest-sdk/pier-sdk\" }}",
                env!("CARGO_PKG_VERSION")
            )
        );
        let unwritable = || Err("no cache directory: set PIER_CACHE_DIR (or HOME)".to_string());
        assert_eq!(
            rust_sdk_dependency(&outside.path().join("p"), &unwritable).unwrap_err(),
            "no cache directory: set PIER_CACHE_DIR (or HOME)"
        );
    }
}
