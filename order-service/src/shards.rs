//! The shard map: which PostgreSQL server holds which shard.

use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use messaging::Outbox;
use shared::postgres::Database;

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
    for (index, shard) in shards.iter().enumerate() {
        if let Some(other) = shards[..index]
            .iter()
            .find(|other| tag(&other.name) == tag(&shard.name))
        {
            return Err(format!(
                "shards `{}` and `{}` have the same tag; rename one",
                other.name, shard.name
            ));
        }
    }
    Ok(ShardMap(shards))
}

/// The byte that marks a shard's order ids: stable for a name, whatever the map's order.
pub fn tag(name: &str) -> u8 {
    Sha256::digest(name.as_bytes())[0]
}

/// A connected shard.
#[derive(Debug, Clone)]
pub struct Shard {
    pub name: String,
    pub tag: u8,
    pub database: Database,
    /// The shard's outbox: its orders' commands and events leave from there.
    pub outbox: Outbox,
}

/// Which shard holds what.
#[derive(Debug, Clone)]
pub struct Shards(pub Vec<Shard>);

impl Shards {
    /// The shard of `customer`, by rendezvous hashing: every customer goes to the shard whose
    /// name scores highest with it, so adding a shard moves only the customers it wins.
    pub fn for_customer(&self, customer: Uuid) -> &Shard {
        self.0
            .iter()
            .max_by_key(|shard| {
                let mut hasher = Sha256::new();
                hasher.update(shard.name.as_bytes());
                hasher.update(customer.as_bytes());
                let digest = hasher.finalize();
                u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
            })
            .unwrap_or_else(|| unreachable!("the shard map is never empty"))
    }

    /// The shard an order id names, if any.
    pub fn for_order(&self, order: Uuid) -> Option<&Shard> {
        let tag = order.as_bytes()[15];
        self.0.iter().find(|shard| shard.tag == tag)
    }
}

/// A new UUIDv7 whose last byte is `shard`'s tag.
pub fn order_id(shard: &Shard) -> Uuid {
    let mut bytes = *Uuid::now_v7().as_bytes();
    bytes[15] = shard.tag;
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(names: &[&str]) -> Shards {
        let options =
            PgConnectOptions::from_str("postgres://postgres@127.0.0.1:1/orders").expect("valid");
        Shards(
            names
                .iter()
                .map(|name| {
                    let database = Database::connect_lazy(options.clone(), 1);
                    Shard {
                        name: (*name).into(),
                        tag: tag(name),
                        outbox: Outbox::new(database.pool().clone(), name),
                        database,
                    }
                })
                .collect(),
        )
    }

    #[tokio::test]
    async fn customers_spread_evenly_over_three_shards() {
        let shards = shards(&["a", "b", "c"]);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..3000 {
            *counts
                .entry(shards.for_customer(Uuid::now_v7()).name.clone())
                .or_insert(0) += 1;
        }
        for name in ["a", "b", "c"] {
            let count = counts[name];
            assert!(
                (850..=1150).contains(&count),
                "shard {name} holds {count} of 3000"
            );
        }
    }

    #[tokio::test]
    async fn a_customer_stays_on_one_shard_and_a_fourth_shard_moves_only_its_share() {
        let three = shards(&["a", "b", "c"]);
        let four = shards(&["a", "b", "c", "d"]);
        let customers: Vec<Uuid> = (0..2000).map(|_| Uuid::now_v7()).collect();
        let moved = customers
            .iter()
            .filter(|c| three.for_customer(**c).name != four.for_customer(**c).name)
            .count();
        assert!(
            customers
                .iter()
                .all(|c| three.for_customer(*c).name == three.for_customer(*c).name)
        );
        assert!((350..=650).contains(&moved), "{moved} of 2000 moved");
        assert!(
            customers
                .iter()
                .filter(|c| three.for_customer(**c).name != four.for_customer(**c).name)
                .all(|c| four.for_customer(*c).name == "d")
        );
    }

    #[tokio::test]
    async fn an_order_id_leads_to_its_shard() {
        let shards = shards(&["a", "b", "c"]);
        for shard in &shards.0 {
            let id = order_id(shard);
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(
                shards.for_order(id).map(|found| found.name.as_str()),
                Some(shard.name.as_str())
            );
        }
    }

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
