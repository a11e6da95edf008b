//! The text of `pier.example.toml`, generated from the table of keys: every key with its
//! doc, default and `PIER_*` variable, then commented examples of the tables that are
//! lists (`[[mount]]`, `[[middleware]]`) or keyed by plugin (`[secrets.PLUGIN]`,
//! `[[tools.PLUGIN]]`).

use super::keys::KEYS;

/// The text of `pier.example.toml`: every key with its doc and default.
pub fn example_toml() -> String {
    let mut out = String::from(
        "# pier configuration: every key, with its default.\n\
         # Precedence: defaults < this file (--config, default ./pier.toml) < PIER_* environment\n\
         # variables (server.listen -> PIER_SERVER_LISTEN) < command-line flags.\n",
    );
    let mut table = "";
    for key in KEYS {
        let (section, name) = key.path.split_once('.').expect("keys are section.name");
        if section != table {
            out.push_str(&format!("\n[{section}]\n"));
            table = section;
        }
        out.push_str(&format!(
            "# {} ({})\n{name} = {}\n",
            key.doc,
            key.env(),
            key.default
        ));
    }
    out.push_str(
        r#"
# Mounts beside the plugin directory, mounted after it in this order (a later mount
# wins a name conflict): a plugin file, a plugin in an OCI registry, another MCP server
# over streamable HTTP, one started as a child process over stdio, or a REST API from
# its OpenAPI document.
# `mode = "import"` copies a server's catalogue once; `"mount"` (the default) follows
# its list_changed. Calls are always forwarded. A value in `{ secret = "KEY" }` comes
# from [secrets.NAMESPACE].
# [[mount]]
# namespace = "extra"
# path = "more-plugins/extra.wasm"
#
# [[mount]]
# namespace = "weather"
# oci = "registry.example.com/tools/weather:1.2.0"   # or …/weather@sha256:… (pinned)
# refresh-seconds = 300                 # resolve the tag again; a new digest is swapped in
#
# [[mount]]
# namespace = "remote"
# url = "https://mcp.example.com/mcp"   # https: the web's roots and grants.ca-certificates
# token = { secret = "token" }          # sent as `Authorization: Bearer …`
# headers = { "X-Tenant" = "acme" }     # more headers; a value may be { secret = "KEY" }
# mode = "mount"
#
# [[mount]]
# namespace = "crm"
# url = "https://crm.example.com/mcp"
# # A token by OAuth 2.1 client credentials, cached, fetched again before it expires.
# oauth = { token-url = "https://auth.example.com/oauth/token", client-id = "pier", client-secret = { secret = "client-secret" }, scopes = ["crm.read"] }
#
# [[mount]]
# namespace = "local"
# command = "pier"
# args = ["serve", "--transport", "stdio", "--plugins", "other-plugins"]
# env = { RUST_LOG = "warn" }
# middleware = [{ type = "visibility", disable = ["delete"] }]   # this mount only
#
# [[mount]]
# namespace = "pets"
# openapi = "specs/petstore.yaml"       # an OpenAPI 3.x document (a file or a URL)
# base-url = "https://pets.example.com/v1"   # default: the document's first server
# operations = ["listPets", "tag:store", "GET /pets/*"]   # the allow-list ("*": all)
# headers = { "X-Api-Key" = { secret = "api-key" } }
# grants = { http = ["https://pets.example.com"] }       # default: base-url's origin
#
# [[mount.tool]]                        # reshapes a tool of the mount above
# name = "listPets"
# rename = "pets"
# description = "Lists the pets in the store."
# arguments.limit = { default = 20 }
"#,
    );
    out.push_str(
        "\n# Middleware around every request, outermost first: logging, error-handling, retry,\n\
         # timing, detailed-timing, rate-limit, response-cache, response-limit, visibility, and\n\
         # wasm (a middleware component). The book's page \"Middleware\" describes every key;\n\
         # examples/pier.toml uses several.\n\
         # [[middleware]]\n\
         # type = \"error-handling\"\n\
         # mask-errors = true\n\
         #\n\
         # [[middleware]]\n\
         # type = \"rate-limit\"\n\
         # algorithm = \"token-bucket\"\n\
         # capacity = 5\n\
         # refill-per-second = 0.5\n\
         # per = \"session\"\n",
    );
    out.push_str(
        "\n# Secrets a plugin reads through wasi:config/store like its sidecar's [config] values,\n\
         # kept out of sidecars: per plugin name, each from an environment variable of pier's\n\
         # process or a file. Never shown in logs, `pier inspect` or the admin API.\n\
         # [secrets.github]\n\
         # token = { env = \"GITHUB_TOKEN\" }\n\
         # app-key = { file = \"/run/secrets/github-app-key\" }\n",
    );
    out.push_str(
        r#"
# Tool transformations of a plugin of the plugin directory (applied after its
# sidecar's [[tool]] tables), with the fields of a [[mount.tool]] table.
# [[tools.weather]]
# name = "forecast"
# rename = "weather_forecast"
# arguments.units = { hide = true, default = "metric" }
"#,
    );
    out.push_str(
        "\n# Bearer tokens of auth.mode = \"tokens\": the SHA-256 of each token (`pier auth\n\
         # hash-token` prints it; the token itself is never written here), who it stands for\n\
         # and the scopes it grants. Compared in constant time.\n\
         # [[auth.token]]\n\
         # hash = \"sha256:1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0\"\n\
         # subject = \"ci\"\n\
         # scopes = [\"tools:read\"]\n",
    );
    out
}
