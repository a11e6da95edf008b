//! Attribute macros of `pier-sdk`: `#[tool]`, `#[resource]`, `#[prompt]`.
//!
//! Each keeps the function as written and adds, beside it, a hidden module of the same
//! name holding the definition that `pier_sdk::plugin!` collects.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, FnArg, ItemFn, Lit, Meta, Pat, ReturnType, Token, Type};

/// Options written inside the attribute: `key = "value"` pairs and bare flags.
#[derive(Default)]
struct Options {
    values: Vec<(String, String, Span)>,
    flags: Vec<(String, Span)>,
}

impl Options {
    fn parse(attr: TokenStream) -> syn::Result<Self> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse(attr)?;
        let mut options = Options::default();
        for meta in metas {
            match meta {
                Meta::Path(p) => {
                    let name = p.get_ident().map(|i| i.to_string()).unwrap_or_default();
                    options.flags.push((name, p.span()));
                }
                Meta::NameValue(nv) => {
                    let key = nv
                        .path
                        .get_ident()
                        .map(|i| i.to_string())
                        .unwrap_or_default();
                    let Expr::Lit(lit) = &nv.value else {
                        return Err(syn::Error::new_spanned(
                            &nv.value,
                            "expected a string literal",
                        ));
                    };
                    let Lit::Str(s) = &lit.lit else {
                        return Err(syn::Error::new_spanned(
                            &nv.value,
                            "expected a string literal",
                        ));
                    };
                    options.values.push((key, s.value(), nv.path.span()));
                }
                Meta::List(l) => return Err(syn::Error::new_spanned(l, "unexpected list")),
            }
        }
        Ok(options)
    }

    fn check(&self, values: &[&str], flags: &[&str]) -> syn::Result<()> {
        for (key, _, span) in &self.values {
            if !values.contains(&key.as_str()) {
                return Err(syn::Error::new(
                    *span,
                    format!("unknown option `{key}`; expected one of {values:?}"),
                ));
            }
        }
        for (flag, span) in &self.flags {
            if !flags.contains(&flag.as_str()) {
                return Err(syn::Error::new(
                    *span,
                    format!("unknown flag `{flag}`; expected one of {flags:?}"),
                ));
            }
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.clone())
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|(f, _)| f == flag)
    }
}

use syn::spanned::Spanned;

/// The text of the `///` comments among `attrs`, lines trimmed and joined.
fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => Some(s.value().trim().to_string()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join("\n").trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn opt(value: Option<String>) -> Tokens {
    match value {
        Some(v) => quote!(::std::option::Option::Some(#v)),
        None => quote!(::std::option::Option::None),
    }
}

/// A parameter of the annotated function.
enum Param {
    /// `&Context`.
    Context,
    /// A named value with its type, doc attributes and whether it is an `Option`.
    Value {
        name: syn::Ident,
        ty: Box<Type>,
        docs: Vec<Attribute>,
        optional: bool,
    },
}

fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Context"),
            _ => false,
        },
        _ => false,
    }
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// The parameters of `func`, whose doc attributes are moved out of the signature.
fn params(func: &mut ItemFn) -> syn::Result<Vec<Param>> {
    if !func.sig.generics.params.is_empty() || func.sig.asyncness.is_some() {
        return Err(syn::Error::new_spanned(
            &func.sig,
            "pier functions cannot be generic or async",
        ));
    }
    let mut out = Vec::new();
    for arg in func.sig.inputs.iter_mut() {
        let FnArg::Typed(pt) = arg else {
            return Err(syn::Error::new_spanned(
                arg,
                "pier functions cannot take `self`",
            ));
        };
        let docs: Vec<Attribute> = pt
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        pt.attrs.retain(|a| !a.path().is_ident("doc"));
        if is_context(&pt.ty) {
            out.push(Param::Context);
            continue;
        }
        let Pat::Ident(id) = &*pt.pat else {
            return Err(syn::Error::new_spanned(
                &pt.pat,
                "parameters must be plain names",
            ));
        };
        out.push(Param::Value {
            name: id.ident.clone(),
            optional: is_option(&pt.ty),
            ty: pt.ty.clone(),
            docs,
        });
    }
    Ok(out)
}

/// The call of the user's function with `ctx` and the value expressions.
fn call(func: &ItemFn, params: &[Param], value: impl Fn(&syn::Ident, bool) -> Tokens) -> Tokens {
    let name = &func.sig.ident;
    let args = params.iter().map(|p| match p {
        Param::Context => quote!(__ctx),
        Param::Value { name, optional, .. } => value(name, *optional),
    });
    quote!(super::#name(#(#args),*))
}

fn wrap(func: &ItemFn, body: Tokens) -> Tokens {
    let name = &func.sig.ident;
    quote! {
        #func
        #[doc(hidden)]
        #[allow(non_snake_case, unused_imports, dead_code, clippy::all)]
        mod #name {
            use super::*;
            #body
        }
    }
}

fn expand_tool(attr: TokenStream, item: TokenStream) -> syn::Result<Tokens> {
    let options = Options::parse(attr)?;
    options.check(
        &[
            "name",
            "title",
            "description",
            "tags",
            "input_schema",
            "task",
        ],
        &["read_only", "destructive", "idempotent", "open_world"],
    )?;
    let mut func: ItemFn = syn::parse(item)?;
    let params = params(&mut func)?;
    let name = options
        .get("name")
        .unwrap_or_else(|| func.sig.ident.to_string());
    // A function returning the input schema as written, instead of the derived one.
    let input_schema = match options.values.iter().find(|(k, _, _)| k == "input_schema") {
        Some((_, path, span)) => {
            let path: syn::Path = syn::parse_str(path).map_err(|e| {
                syn::Error::new(*span, format!("`input_schema` names a function: {e}"))
            })?;
            quote!(#path)
        }
        None => quote!(::pier_sdk::runtime::schema_for::<Args>),
    };
    let title = opt(options.get("title"));
    let description = options
        .get("description")
        .or_else(|| doc_text(&func.attrs))
        .unwrap_or_default();
    let ret = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let mut hints = Vec::new();
    for (flag, key) in [
        ("read_only", "readOnlyHint"),
        ("destructive", "destructiveHint"),
        ("idempotent", "idempotentHint"),
        ("open_world", "openWorldHint"),
    ] {
        if options.has(flag) {
            hints.push(format!("\"{key}\":true"));
        }
    }
    // Whether a call may run as a task (MCP 2026-07-28): pier reads `taskSupport` from
    // the annotations and does not list it.
    if let Some(task) = options.get("task") {
        if !["optional", "required", "forbidden"].contains(&task.as_str()) {
            let span = options
                .values
                .iter()
                .find(|(k, _, _)| k == "task")
                .map_or_else(Span::call_site, |(_, _, s)| *s);
            return Err(syn::Error::new(
                span,
                "`task` is \"optional\", \"required\" or \"forbidden\"",
            ));
        }
        hints.push(format!("\"taskSupport\":\"{task}\""));
    }
    let annotations = opt((!hints.is_empty()).then(|| format!("{{{}}}", hints.join(","))));
    let tags: Vec<String> = options
        .get("tags")
        .map(|t| {
            t.split(',')
                .map(|tag| tag.trim().to_string())
                .filter(|tag| !tag.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let fields = params.iter().filter_map(|p| match p {
        Param::Value {
            name,
            ty,
            docs,
            optional,
        } => {
            let default = optional.then(|| quote!(#[serde(default)]));
            Some(quote!(#(#docs)* #default #name: #ty))
        }
        Param::Context => None,
    });
    let names: Vec<&syn::Ident> = params
        .iter()
        .filter_map(|p| match p {
            Param::Value { name, .. } => Some(name),
            Param::Context => None,
        })
        .collect();
    let invoke = call(&func, &params, |n, _| quote!(#n));
    let body = quote! {
        #[derive(::pier_sdk::runtime::serde::Deserialize, ::pier_sdk::runtime::schemars::JsonSchema)]
        #[serde(crate = "::pier_sdk::runtime::serde", deny_unknown_fields)]
        #[schemars(crate = "::pier_sdk::runtime::schemars")]
        struct Args { #(#fields,)* }

        pub fn __pier_tool() -> ::pier_sdk::runtime::ToolDef {
            ::pier_sdk::runtime::ToolDef {
                name: #name,
                title: #title,
                description: #description,
                input_schema: #input_schema,
                output_schema: <#ret as ::pier_sdk::ToolOutput>::output_schema,
                annotations: #annotations,
                tags: &[#(#tags),*],
                handler: |__ctx, __args| {
                    let _ = __ctx;
                    let Args { #(#names),* } = ::pier_sdk::runtime::parse_args::<Args>(#name, __args)?;
                    ::pier_sdk::runtime::tool_output(#invoke)
                },
            }
        }
    };
    Ok(wrap(&func, body))
}

fn expand_resource(attr: TokenStream, item: TokenStream) -> syn::Result<Tokens> {
    let options = Options::parse(attr)?;
    options.check(&["uri", "name", "title", "description", "mime_type"], &[])?;
    let mut func: ItemFn = syn::parse(item)?;
    let params = params(&mut func)?;
    let uri = options.get("uri").ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "#[resource] needs `uri = \"scheme://path\"`",
        )
    })?;
    let name = options
        .get("name")
        .unwrap_or_else(|| func.sig.ident.to_string());
    let title = opt(options.get("title"));
    let description = opt(options.get("description").or_else(|| doc_text(&func.attrs)));
    let mime = opt(options.get("mime_type"));
    let invoke = call(&func, &params, |n, optional| {
        let key = n.to_string();
        if optional {
            quote!(::pier_sdk::runtime::arg(__vars, #key))
        } else {
            quote!(::pier_sdk::runtime::required_arg(__vars, #key)?)
        }
    });
    let body = quote! {
        pub fn __pier_resource() -> ::pier_sdk::runtime::ResourceDef {
            ::pier_sdk::runtime::ResourceDef {
                uri: #uri,
                name: #name,
                title: #title,
                description: #description,
                mime_type: #mime,
                handler: |__ctx, __uri, __vars| {
                    let _ = (__ctx, __vars);
                    ::pier_sdk::runtime::resource_output(#invoke, __uri, #mime)
                },
            }
        }
    };
    Ok(wrap(&func, body))
}

fn expand_prompt(attr: TokenStream, item: TokenStream) -> syn::Result<Tokens> {
    let options = Options::parse(attr)?;
    options.check(&["name", "title", "description"], &[])?;
    let mut func: ItemFn = syn::parse(item)?;
    let params = params(&mut func)?;
    let name = options
        .get("name")
        .unwrap_or_else(|| func.sig.ident.to_string());
    let title = opt(options.get("title"));
    let description = opt(options.get("description").or_else(|| doc_text(&func.attrs)));
    let arguments = params.iter().filter_map(|p| match p {
        Param::Value {
            name,
            docs,
            optional,
            ..
        } => {
            let key = name.to_string();
            let doc = opt(doc_text(docs));
            let required = !optional;
            Some(quote!((#key, #doc, #required)))
        }
        Param::Context => None,
    });
    let invoke = call(&func, &params, |n, optional| {
        let key = n.to_string();
        if optional {
            quote!(::pier_sdk::runtime::arg(__args, #key))
        } else {
            quote!(::pier_sdk::runtime::required_arg(__args, #key)?)
        }
    });
    let body = quote! {
        pub fn __pier_prompt() -> ::pier_sdk::runtime::PromptDef {
            ::pier_sdk::runtime::PromptDef {
                name: #name,
                title: #title,
                description: #description,
                arguments: ::std::vec![#(#arguments),*],
                handler: |__ctx, __args| {
                    let _ = __ctx;
                    ::pier_sdk::runtime::prompt_output(#invoke)
                },
            }
        }
    };
    Ok(wrap(&func, body))
}

fn emit(result: syn::Result<Tokens>) -> TokenStream {
    result.unwrap_or_else(|e| e.to_compile_error()).into()
}

/// Makes a function an MCP tool.
///
/// Parameters become the tool's arguments (their JSON Schema is derived from their
/// types; `Option` parameters are optional; `///` comments on them become
/// descriptions); a `&Context` parameter receives the request. The doc comment is the
/// description. Options: `name`, `title`, `description`, `tags = "a, b"` (for
/// middleware that filters by tag), the hints `read_only`, `destructive`,
/// `idempotent`, `open_world`, `task = "optional" | "required"` (a call may go on as a
/// task of the MCP 2026-07-28 tasks extension, see `Context::start_task`; `required`:
/// clients that did not declare the extension are refused), and
/// `input_schema = "function"`: a
/// `fn() -> serde_json::Value` giving the JSON Schema (2020-12) as written, for what
/// types cannot say (`allOf`, `if`/`then`/`else`, `$defs`); the parameters still
/// parse the arguments. The return type implements `ToolOutput`.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(expand_tool(attr, item))
}

/// Makes a function an MCP resource: `#[resource(uri = "scheme://path")]`.
///
/// A URI with `{variables}` makes a resource template; the function then takes each
/// variable as a `String` parameter of the same name. Options: `uri`, `name`, `title`,
/// `description`, `mime_type`.
#[proc_macro_attribute]
pub fn resource(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(expand_resource(attr, item))
}

/// Makes a function an MCP prompt. `String` parameters are required arguments,
/// `Option<String>` optional ones. Options: `name`, `title`, `description`.
#[proc_macro_attribute]
pub fn prompt(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(expand_prompt(attr, item))
}
