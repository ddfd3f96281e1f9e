//! A MongoDB database of its own per test, dropped afterwards.

use super::mongodb_url;

/// A database name reserved for one test; the database is dropped when this is dropped.
#[derive(Debug)]
pub struct TestMongo {
    /// The server's URL.
    pub url: String,
    /// The database's name.
    pub name: String,
}

impl TestMongo {
    /// A fresh name on the test server (`TEST_MONGODB_URL`, else the local one).
    pub fn new(label: &str) -> Self {
        Self {
            url: mongodb_url(),
            name: format!("test_{label}_{}", uuid::Uuid::now_v7().simple()),
        }
    }
}

impl Drop for TestMongo {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        super::run_to_end(async move {
            let database = crate::mongo::connect(&url, &name, "tests").await.ok()?;
            database.drop().await.ok()
        });
    }
}
