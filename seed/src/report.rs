//! What a run created and what it found already there, and the demo credentials.

use crate::{
    config::Config,
    data::{COURIERS, CUSTOMER, OWNER, RESTAURANTS},
};

/// What a run created, and how much it found already there.
#[derive(Debug, Default)]
pub struct Report {
    /// Each thing created, in order.
    pub created: Vec<String>,
    /// How many things were already there.
    pub present: usize,
    /// Why nothing was seeded, when the seed could not act as the administrator.
    pub skipped: Option<String>,
}

impl Report {
    pub(crate) fn count(&mut self, created: bool, what: String) {
        if created {
            self.created.push(what);
        } else {
            self.present += 1;
        }
    }

    /// The report for a person: what was done, and the demo accounts when they are new.
    pub fn render(&self, config: &Config) -> String {
        if !config.seed {
            return "SEED=false: nothing seeded, the platform stays empty.\n".to_owned();
        }
        if let Some(reason) = &self.skipped {
            return format!("The demo data set was not seeded: {reason}\n");
        }
        if self.created.is_empty() {
            return format!(
                "The demo data set is already there ({} items); nothing changed.\n",
                self.present
            );
        }
        let mut text = format!(
            "Seeded {} restaurants in Lyon with their menus, {} couriers on duty, a customer and an owner ({} created, {} already there).\n\n",
            RESTAURANTS.len(),
            COURIERS.len(),
            self.created.len(),
            self.present,
        );
        text.push_str(&format!(
            "Demo accounts, all with the password \"{}\" (SEED_PASSWORD):\n",
            config.password
        ));
        text.push_str(&format!("  customer  {CUSTOMER}\n"));
        text.push_str(&format!(
            "  owner     {OWNER}  (owns every demo restaurant)\n"
        ));
        for courier in COURIERS {
            text.push_str(&format!("  courier   {}\n", courier.email));
        }
        text
    }

    /// Prints [`Report::render`]: this tool's output.
    #[allow(clippy::print_stdout)]
    pub fn print(&self, config: &Config) {
        print!("{}", self.render(config));
    }
}
