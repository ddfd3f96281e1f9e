//! The image and its configuration, which no Docker engine runs here, checked so that they
//! cannot drift: a pinned `Dockerfile` whose stages share one Debian release and which ships
//! every binary; a `.dockerignore` that keeps out what git ignores; compose's pinned images,
//! its health checks by the binaries themselves, its secrets from `.env.example`; and the
//! real binaries' `healthcheck` subcommand and warnings of development values.

use std::collections::BTreeMap;

use yaml_rust2::Yaml;

mod build_context;
mod compose;
mod dockerfile;
mod env_file;
mod pinning;
mod running;
mod tls;

/// A compose value as compose makes it with no variable set: each `${VAR:-default}` (or
/// `${VAR-default}`) becomes its default and `$$` a `$`; what has no default is an error.
pub fn interpolate(value: &str) -> Result<String, String> {
    let mut out = String::new();
    walk(value, |piece| {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Variable { default, .. } => out.push_str(default.ok_or("no default")?),
        }
        Ok(())
    })
    .map_err(|err| format!("{value}: {err}"))?;
    Ok(out)
}

/// Each variable a compose value reads, with its default.
pub fn variables(value: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut found = Vec::new();
    walk(value, |piece| {
        if let Piece::Variable { name, default } = piece {
            found.push((name.to_owned(), default.map(str::to_owned)));
        }
        Ok(())
    })
    .map_err(|err| format!("{value}: {err}"))?;
    Ok(found)
}

enum Piece<'a> {
    Text(&'a str),
    Variable {
        name: &'a str,
        default: Option<&'a str>,
    },
}

/// Compose's interpolation syntax, the braced form only: a bare `$NAME` is refused, so that
/// every variable is written where a reader looks for it.
fn walk<'a>(
    mut rest: &'a str,
    mut visit: impl FnMut(Piece<'a>) -> Result<(), String>,
) -> Result<(), String> {
    while let Some(at) = rest.find('$') {
        visit(Piece::Text(&rest[..at]))?;
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            visit(Piece::Text("$"))?;
            rest = tail;
            continue;
        }
        let body = after.strip_prefix('{').ok_or("a `$` without braces")?;
        let end = body.find('}').ok_or("an unclosed `${`")?;
        let inner = &body[..end];
        let (name, default) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{name}` is not a variable name"));
        }
        visit(Piece::Variable { name, default })?;
        rest = &body[end + 1..];
    }
    visit(Piece::Text(rest))
}

/// Every string in `yaml` (mapping values and list items; keys are never interpolated).
pub fn strings_in(yaml: &Yaml, out: &mut Vec<String>) {
    match yaml {
        Yaml::String(text) => out.push(text.clone()),
        Yaml::Array(items) => items.iter().for_each(|item| strings_in(item, out)),
        Yaml::Hash(map) => map.values().for_each(|value| strings_in(value, out)),
        _ => {}
    }
}

/// The whole compose file, parsed.
pub fn compose_document() -> Yaml {
    let text = std::fs::read_to_string(crate::compose::root().join("docker-compose.yml"))
        .expect("docker-compose.yml exists");
    yaml_rust2::YamlLoader::load_from_str(&text)
        .expect("docker-compose.yml is valid YAML")
        .remove(0)
}

/// `.env.example`'s variables and values (quotes removed).
pub fn env_example() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(crate::compose::root().join(".env.example"))
        .expect(".env.example exists");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!(".env.example: `{line}` is not NAME=value"));
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|value| value.strip_suffix('"'))
                .unwrap_or(value);
            (name.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

#[test]
fn interpolation_takes_defaults_and_refuses_what_compose_would_need_set() {
    assert_eq!(
        interpolate("amqp://${U:-guest}:${P-guest}@mq/$$x").as_deref(),
        Ok("amqp://guest:guest@mq/$x")
    );
    assert!(interpolate("${SECRET}").is_err());
    assert!(interpolate("$SECRET").is_err());
    assert_eq!(
        variables("a ${A:-x y} b ${B}"),
        Ok(vec![("A".into(), Some("x y".into())), ("B".into(), None)])
    );
}
