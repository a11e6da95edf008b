// URI templates as pier reads them (RFC 6570, as far as MCP resource templates need):
// `{var}` matches one path segment (no `/`), `{+var}` anything; the rest is literal.

const VARIABLE = /\{(\+?)([A-Za-z0-9_]+)\}/g;

export class UriTemplate {
  constructor(template) {
    if (typeof template !== 'string') throw new TypeError('a URI template is a string');
    this.template = template;
    this.variableNames = [];
    let pattern = '^';
    let last = 0;
    for (const m of template.matchAll(VARIABLE)) {
      pattern += escape(template.slice(last, m.index));
      pattern += m[1] ? '(.+)' : '([^/]+)';
      this.variableNames.push(m[2]);
      last = m.index + m[0].length;
    }
    const rest = template.slice(last);
    if (rest.includes('{') || rest.includes('}') || template.slice(0, last).replace(VARIABLE, '').match(/[{}]/)) {
      throw new Error(`pier-sdk: URI template \`${template}\` has a variable pier cannot read (use {name} or {+name})`);
    }
    this.regex = new RegExp(`${pattern}${escape(rest)}$`, 's');
  }

  toString() {
    return this.template;
  }

  /** Whether the template has no variables. */
  isLiteral() {
    return this.variableNames.length === 0;
  }

  /** The variables of `uri` when it matches, as they appear in it (percent-encoded, as
   * the official SDK's); else null. */
  match(uri) {
    const m = this.regex.exec(uri);
    if (!m) return null;
    const variables = {};
    this.variableNames.forEach((name, i) => {
      variables[name] = m[i + 1];
    });
    return variables;
  }
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
