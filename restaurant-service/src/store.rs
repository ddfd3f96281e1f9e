//! The `restaurants` collection: one document per restaurant, its menu inside.

use futures::TryStreamExt;
use mongodb::{
    Collection, Database, IndexModel,
    bson::{self, Document, doc},
    error::{ErrorKind, WriteFailure},
    options::{IndexOptions, ReturnDocument},
};
use serde::{Deserialize, Serialize};

use crate::domain::{
    hours::OpeningHours,
    menu::MenuCategory,
    restaurant::{Address, Location},
};

/// A restaurant as stored. `name_lc` and `cuisine_lc` serve case-insensitive sorting and
/// filtering with plain indexes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestaurantDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub name_lc: String,
    pub cuisine: String,
    pub cuisine_lc: String,
    pub address: Address,
    pub location: Location,
    pub opening_hours: Vec<OpeningHours>,
    #[serde(default)]
    pub menu: Vec<MenuCategory>,
    pub created_at: bson::DateTime,
    pub updated_at: bson::DateTime,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write.
    #[error("duplicate key")]
    Duplicate,
    /// The driver failed (server down, time-out, …).
    #[error(transparent)]
    Mongo(#[from] mongodb::error::Error),
}

/// The collection and its queries.
#[derive(Debug, Clone)]
pub struct Restaurants {
    collection: Collection<RestaurantDoc>,
}

/// The filters and page of a listing.
#[derive(Debug, Default)]
pub struct Listing {
    pub cuisine: Option<String>,
    pub search: Option<String>,
    pub open_at: Option<(i32, i32)>,
    pub after: Option<(String, String)>,
    pub limit: i64,
}

impl Restaurants {
    /// The collection in `database`.
    pub fn new(database: &Database) -> Self {
        Self {
            collection: database.collection("restaurants"),
        }
    }

    /// Creates the indexes the queries use; an owner's restaurants have distinct names.
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let indexes = [
            IndexModel::builder()
                .keys(doc! { "owner_id": 1, "name_lc": 1 })
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .name("owner_name_unique".to_owned())
                        .build(),
                )
                .build(),
            IndexModel::builder()
                .keys(doc! { "name_lc": 1, "_id": 1 })
                .build(),
            IndexModel::builder().keys(doc! { "cuisine_lc": 1 }).build(),
        ];
        self.collection.create_indexes(indexes).await?;
        Ok(())
    }

    pub async fn insert(&self, restaurant: &RestaurantDoc) -> Result<(), StoreError> {
        self.collection
            .insert_one(restaurant)
            .await
            .map(drop)
            .map_err(classify)
    }

    pub async fn find(&self, id: &str) -> Result<Option<RestaurantDoc>, StoreError> {
        Ok(self.collection.find_one(doc! { "_id": id }).await?)
    }

    /// Applies `$set` of `fields` to the restaurant; the updated document, if it exists.
    pub async fn update(
        &self,
        id: &str,
        fields: Document,
    ) -> Result<Option<RestaurantDoc>, StoreError> {
        self.collection
            .find_one_and_update(doc! { "_id": id }, doc! { "$set": fields })
            .return_document(ReturnDocument::After)
            .await
            .map_err(classify)
    }

    /// As `update`, only if the restaurant was last changed at `updated_at` (no write in
    /// between would be lost); `None` if it was changed or is gone.
    pub async fn update_if_unchanged(
        &self,
        id: &str,
        updated_at: bson::DateTime,
        fields: Document,
    ) -> Result<Option<RestaurantDoc>, StoreError> {
        self.collection
            .find_one_and_update(
                doc! { "_id": id, "updated_at": updated_at },
                doc! { "$set": fields },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(classify)
    }

    /// One page, sorted by name then id, resuming after the cursor's position.
    pub async fn list(&self, listing: &Listing) -> Result<Vec<RestaurantDoc>, StoreError> {
        let mut clauses: Vec<Document> = Vec::new();
        if let Some(cuisine) = &listing.cuisine {
            clauses.push(doc! { "cuisine_lc": cuisine.to_lowercase() });
        }
        if let Some(search) = &listing.search {
            let pattern = escape_regex(search);
            clauses.push(doc! { "$or": [
                { "name": { "$regex": &pattern, "$options": "i" } },
                { "cuisine": { "$regex": &pattern, "$options": "i" } },
            ] });
        }
        if let Some((day, minute)) = listing.open_at {
            clauses.push(doc! { "opening_hours": { "$elemMatch": {
                "day": day, "opens": { "$lte": minute }, "closes": { "$gt": minute },
            } } });
        }
        if let Some((name, id)) = &listing.after {
            clauses.push(doc! { "$or": [
                { "name_lc": { "$gt": name } },
                { "name_lc": name, "_id": { "$gt": id } },
            ] });
        }
        let filter = if clauses.is_empty() {
            doc! {}
        } else {
            doc! { "$and": clauses }
        };
        let cursor = self
            .collection
            .find(filter)
            .sort(doc! { "name_lc": 1, "_id": 1 })
            .limit(listing.limit)
            .await?;
        Ok(cursor.try_collect().await?)
    }
}

/// Matches `text` literally inside a regular expression.
pub fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn classify(err: mongodb::error::Error) -> StoreError {
    let duplicate = match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == 11000,
        ErrorKind::Command(command) => command.code == 11000,
        _ => false,
    };
    if duplicate {
        StoreError::Duplicate
    } else {
        StoreError::Mongo(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_meta_characters_are_matched_literally() {
        assert_eq!(escape_regex("a.b*(c)"), r"a\.b\*\(c\)");
        assert_eq!(escape_regex("thai"), "thai");
    }
}
