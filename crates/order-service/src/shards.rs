//! The shard map: which PostgreSQL server holds which shard.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// One shard: its name (`a`) and where it lives.
#[derive(Debug, Clone)]
pub struct ShardSpec {
    /// Short, stable name; part of every order id's routing, so it never changes.
    pub name: String,
    /// Connection options of its database.
    pub options: PgConnectOptions,
}

/// Every shard, in configured order.
#[derive(Debug, Clone)]
pub struct ShardMap(pub Vec<ShardSpec>);

/// Parses `a=postgres://…,b=postgres://…`: at least one shard, names of lower-case letters,
/// digits, `-` or `_`, each name once.
pub fn parse_shard_map(value: &str) -> Result<ShardMap, String> {
    let mut shards: Vec<ShardSpec> = Vec::new();
    for entry in value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (name, url) = entry
            .split_once('=')
            .ok_or_else(|| format!("`{entry}` is not name=postgres-url"))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(format!(
                "shard name `{name}` must be lower-case letters, digits, - or _"
            ));
        }
        if shards.iter().any(|shard| shard.name == name) {
            return Err(format!("shard `{name}` is listed twice"));
        }
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(format!("shard `{name}`: expected a postgres:// URL"));
        }
        let options =
            PgConnectOptions::from_str(url).map_err(|err| format!("shard `{name}`: {err}"))?;
        shards.push(ShardSpec {
            name: name.to_owned(),
            options,
        });
    }
    if shards.is_empty() {
        return Err("at least one shard is needed".into());
    }
    Ok(ShardMap(shards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shards_parse_in_order() {
        let map = parse_shard_map(
            "a=postgres://postgres@127.0.0.1:5433/orders, b=postgres://postgres@127.0.0.1:5434/orders,c=postgresql://h:5435/orders",
        )
        .expect("valid");
        let names: Vec<&str> = map.0.iter().map(|shard| shard.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(map.0[1].options.get_port(), 5434);
    }

    #[test]
    fn malformed_maps_are_refused_with_a_reason() {
        for (value, reason) in [
            ("", "at least one shard"),
            ("a", "name=postgres-url"),
            ("A=postgres://h/o", "lower-case"),
            ("a=postgres://h/o,a=postgres://h/p", "twice"),
            ("a=mysql://h/o", "postgres://"),
        ] {
            let err = parse_shard_map(value).expect_err(value);
            assert!(err.contains(reason), "{value}: {err}");
        }
    }
}
