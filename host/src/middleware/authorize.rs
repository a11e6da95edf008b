//! Authorization per component, from `[[auth.rule]]`: the outermost middleware of the
//! server's chain when rules are configured, so it covers plugins and proxied mounts
//! alike. Each rule matches components — tools, prompts or resources (and templates) by
//! glob over their namespaced names and URIs, tools by tag, anything by mount namespace;
//! a rule without any matcher matches everything — and requires the caller's token to
//! carry all its `scopes` and, when it names `subjects`, to be one of them. The first
//! rule that matches a component decides; a component no rule matches is open. A caller
//! that may not use a component neither sees it in lists nor can call, read, render,
//! complete or subscribe to it: the request fails with an error naming what is missing.
//! A plugin's sidecar `required-scopes` adds scopes every component of the plugin
//! needs, whatever the rules say. Installed whenever auth is on or rules exist.

use rmcp::ErrorData;

use super::MiddlewareContext;
use super::gate::Gate;
use crate::registry::Mount;

/// One `[[auth.rule]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// Globs over namespaced tool names.
    pub tools: Vec<String>,
    /// Globs over namespaced prompt names.
    pub prompts: Vec<String>,
    /// Globs over namespaced resource URIs and templates.
    pub resources: Vec<String>,
    /// Tool tags.
    pub tags: Vec<String>,
    /// Mount namespaces.
    pub mounts: Vec<String>,
    /// Scopes the caller must all have.
    pub scopes: Vec<String>,
    /// Subjects allowed (any, when empty).
    pub subjects: Vec<String>,
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
/// (Greedy with one backtrack point: time linear in `text` times the pattern's stars.)
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// What a rule is asked about.
enum Component<'a> {
    Tool { name: &'a str, tags: &'a [String] },
    Prompt(&'a str),
    Resource(&'a str),
}

impl Rule {
    fn matches(&self, component: &Component<'_>, mount: Option<&str>) -> bool {
        let any = |globs: &[String], text: &str| globs.iter().any(|g| glob(g, text));
        let unconditional = self.tools.is_empty()
            && self.prompts.is_empty()
            && self.resources.is_empty()
            && self.tags.is_empty()
            && self.mounts.is_empty();
        unconditional
            || mount.is_some_and(|m| self.mounts.iter().any(|n| n == m))
            || match component {
                Component::Tool { name, tags } => {
                    any(&self.tools, name) || tags.iter().any(|t| self.tags.contains(t))
                }
                Component::Prompt(name) => any(&self.prompts, name),
                Component::Resource(uri) => any(&self.resources, uri),
            }
    }
}

/// The authorization middleware.
pub struct Authorize {
    rules: Vec<Rule>,
}

impl Authorize {
    /// The middleware of `rules`, first match wins.
    pub fn new(rules: Vec<Rule>) -> Self {
        Self { rules }
    }

    /// Why the caller of `cx` may not use `component` (served by `mount`), if not.
    fn refusal(
        &self,
        cx: &MiddlewareContext,
        component: &Component<'_>,
        mount: Option<&Mount>,
    ) -> Option<String> {
        self.refusal_to(cx.subject(), cx.scopes(), component, mount)
    }

    /// Why the caller with `subject` and `scopes` may not use `component` (served by
    /// `mount`), if not: the scopes the mount itself requires, then the first rule that
    /// matches.
    fn refusal_to(
        &self,
        subject: Option<&str>,
        scopes: &[String],
        component: &Component<'_>,
        mount: Option<&Mount>,
    ) -> Option<String> {
        let required: &[String] = mount
            .map(|m| m.required_scopes.as_slice())
            .unwrap_or_default();
        let rule = self
            .rules
            .iter()
            .find(|r| r.matches(component, mount.map(|m| m.namespace.as_str())));
        if required.is_empty() && rule.is_none() {
            return None;
        }
        let rule_scopes: &[String] = rule.map(|r| r.scopes.as_slice()).unwrap_or_default();
        let mut missing: Vec<&str> = Vec::new();
        for scope in required.iter().chain(rule_scopes) {
            if !scopes.contains(scope) && !missing.contains(&scope.as_str()) {
                missing.push(scope);
            }
        }
        if !missing.is_empty() {
            return Some(format!("needs the scope(s) {}", missing.join(" ")));
        }
        let subject_ok = rule.is_none_or(|r| {
            r.subjects.is_empty() || subject.is_some_and(|s| r.subjects.iter().any(|r| r == s))
        });
        (!subject_ok).then(|| "is not open to this subject".to_string())
    }

    fn tool_refusal(&self, cx: &MiddlewareContext, name: &str) -> Option<String> {
        let entry = cx.catalogue().tools.get(name);
        let tags: &[String] = entry.map(|e| e.tags.as_slice()).unwrap_or_default();
        let mount = entry.map(|e| e.mount.as_ref());
        self.refusal(cx, &Component::Tool { name, tags }, mount)
    }

    fn prompt_refusal(&self, cx: &MiddlewareContext, name: &str) -> Option<String> {
        let catalogue = cx.catalogue();
        let mount = catalogue.prompts.get(name).map(|e| e.mount.as_ref());
        self.refusal(cx, &Component::Prompt(name), mount)
    }

    /// A static resource or template `uri`, as listed.
    fn listed_refusal(&self, cx: &MiddlewareContext, uri: &str) -> Option<String> {
        let catalogue = cx.catalogue();
        let mount = catalogue
            .resources
            .get(uri)
            .map(|e| e.mount.as_ref())
            .or_else(|| catalogue.templates.get(uri).map(|e| e.mount.as_ref()));
        self.refusal(cx, &Component::Resource(uri), mount)
    }

    /// A read of `uri`: the URI itself, and the template it matched.
    fn read_refusal(&self, cx: &MiddlewareContext, uri: &str) -> Option<String> {
        let resolved = cx.resource(uri);
        self.read_refusal_to(cx.subject(), cx.scopes(), uri, resolved.as_deref())
    }

    /// [`Authorize::read_refusal`] for the caller with `subject` and `scopes`, `uri`
    /// resolved to `resolved`.
    fn read_refusal_to(
        &self,
        subject: Option<&str>,
        scopes: &[String],
        uri: &str,
        resolved: Option<&crate::registry::Resolved>,
    ) -> Option<String> {
        let mount = resolved.map(|r| r.mount.as_ref());
        if let Some(why) = self.refusal_to(subject, scopes, &Component::Resource(uri), mount) {
            return Some(why);
        }
        let template = resolved.and_then(|r| r.template.as_deref())?;
        self.refusal_to(subject, scopes, &Component::Resource(template), mount)
    }
}

/// The error refusing `kind` `name` (a name or URI a client may have sent: clipped).
fn refused(kind: &str, name: &str, why: String) -> ErrorData {
    ErrorData::invalid_request(format!("{kind} `{}` {why}", crate::text::clip(name)), None)
}

impl Gate for Authorize {
    fn name(&self) -> &str {
        "authorization"
    }

    fn tool(&self, cx: &MiddlewareContext, name: &str) -> Option<ErrorData> {
        let why = self.tool_refusal(cx, name)?;
        Some(refused("tool", name, why))
    }

    fn prompt(&self, cx: &MiddlewareContext, name: &str) -> Option<ErrorData> {
        let why = self.prompt_refusal(cx, name)?;
        Some(refused("prompt", name, why))
    }

    fn listed(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData> {
        let why = self.listed_refusal(cx, uri)?;
        Some(refused("resource", uri, why))
    }

    fn template(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData> {
        let why = self.listed_refusal(cx, uri)?;
        Some(refused("resource template", uri, why))
    }

    fn read(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData> {
        let why = self.read_refusal(cx, uri)?;
        Some(refused("resource", uri, why))
    }

    fn may_read(
        &self,
        subject: Option<&str>,
        scopes: &[String],
        uri: &str,
        resolved: &crate::registry::Resolved,
    ) -> bool {
        self.read_refusal_to(subject, scopes, uri, Some(resolved))
            .is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_of_anything() {
        for (pattern, text) in [
            ("calc_*", "calc_add"),
            ("*", ""),
            ("notes://*", "notes://n/1"),
            ("*_admin_*", "ops_admin_reset"),
            ("a*b*c", "aXXbYYc"),
            ("exact", "exact"),
        ] {
            assert!(glob(pattern, text), "{pattern} ~ {text}");
        }
        for (pattern, text) in [
            ("calc_*", "calculator"),
            ("exact", "exactly"),
            ("a*b*c", "aXXbYY"),
            ("", "x"),
        ] {
            assert!(!glob(pattern, text), "{pattern} !~ {text}");
        }
        // A hostile name costs no more than its length times the stars.
        let long = "a".repeat(100_000);
        assert!(!glob("*a*a*a*b", &long));
    }

    #[test]
    fn a_rule_matches_by_any_of_its_matchers_or_everything_without_one() {
        let tool = Component::Tool {
            name: "calc_add",
            tags: &["math".to_string()],
        };
        let by_tag = Rule {
            tags: vec!["math".into()],
            ..Rule::default()
        };
        assert!(by_tag.matches(&tool, Some("calc")));
        let by_mount = Rule {
            mounts: vec!["calc".into()],
            ..Rule::default()
        };
        assert!(by_mount.matches(&Component::Prompt("calc_p"), Some("calc")));
        assert!(!by_mount.matches(&Component::Prompt("calc_p"), Some("other")));
        let prompts_only = Rule {
            prompts: vec!["*".into()],
            ..Rule::default()
        };
        assert!(!prompts_only.matches(&tool, None));
        assert!(Rule::default().matches(&Component::Resource("x://y"), None));
    }
}
