//! Roles and the permissions they grant. One table, compiled into every binary, so that a
//! token's `perms` and a service's checks can never disagree about a name.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The roles a user can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Orders food.
    Customer,
    /// Runs restaurants and their menus.
    RestaurantOwner,
    /// Delivers orders.
    Courier,
    /// Operates the platform.
    Admin,
}

/// Permission names, `resource:action[:scope]`.
#[derive(Debug)]
pub struct Permission;

impl Permission {
    pub const ORDERS_CREATE: &'static str = "orders:create";
    pub const ORDERS_READ_OWN: &'static str = "orders:read:own";
    pub const ORDERS_READ_ANY: &'static str = "orders:read:any";
    pub const ORDERS_CANCEL_OWN: &'static str = "orders:cancel:own";
    pub const ORDERS_UPDATE_OWN_RESTAURANT: &'static str = "orders:update:own_restaurant";
    pub const RESTAURANTS_WRITE_OWN: &'static str = "restaurants:write:own";
    pub const RESTAURANTS_WRITE_ANY: &'static str = "restaurants:write:any";
    pub const DELIVERIES_READ_OWN: &'static str = "deliveries:read:own";
    pub const DELIVERIES_UPDATE_ASSIGNED: &'static str = "deliveries:update:assigned";
    pub const DELIVERIES_MANAGE: &'static str = "deliveries:manage";
    pub const COURIERS_MANAGE_OWN: &'static str = "couriers:manage:own";
    pub const PAYMENTS_READ_OWN: &'static str = "payments:read:own";
    pub const PAYMENTS_READ_ANY: &'static str = "payments:read:any";
    pub const PAYMENTS_MANAGE: &'static str = "payments:manage";
    pub const USERS_MANAGE: &'static str = "users:manage";
    pub const CACHE_PURGE: &'static str = "cache:purge";
    /// List, replay and discard the dead letters of the services' queues.
    pub const MESSAGES_MANAGE: &'static str = "messages:manage";
    /// Retry or close by hand an order saga that an operator must see to.
    pub const SAGAS_MANAGE: &'static str = "sagas:manage";
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 4] = [
        Self::Customer,
        Self::RestaurantOwner,
        Self::Courier,
        Self::Admin,
    ];

    /// The role's name, as stored and as carried in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::RestaurantOwner => "restaurant_owner",
            Self::Courier => "courier",
            Self::Admin => "admin",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }

    /// What the role may do.
    pub fn permissions(self) -> &'static [&'static str] {
        use Permission as P;
        match self {
            Self::Customer => &[
                P::ORDERS_CREATE,
                P::ORDERS_READ_OWN,
                P::ORDERS_CANCEL_OWN,
                P::DELIVERIES_READ_OWN,
                P::PAYMENTS_READ_OWN,
            ],
            Self::RestaurantOwner => &[
                P::RESTAURANTS_WRITE_OWN,
                P::ORDERS_UPDATE_OWN_RESTAURANT,
                P::ORDERS_READ_OWN,
            ],
            Self::Courier => &[
                P::DELIVERIES_UPDATE_ASSIGNED,
                P::COURIERS_MANAGE_OWN,
                P::DELIVERIES_READ_OWN,
            ],
            Self::Admin => &[
                P::ORDERS_READ_ANY,
                P::RESTAURANTS_WRITE_ANY,
                P::PAYMENTS_READ_ANY,
                P::PAYMENTS_MANAGE,
                P::DELIVERIES_MANAGE,
                P::USERS_MANAGE,
                P::CACHE_PURGE,
                P::MESSAGES_MANAGE,
                P::SAGAS_MANAGE,
                P::ORDERS_CREATE,
                P::ORDERS_READ_OWN,
            ],
        }
    }

    /// The union of the permissions of `roles`, sorted, without repeats.
    pub fn permissions_of(roles: &[Self]) -> Vec<String> {
        let mut permissions: Vec<String> = roles
            .iter()
            .flat_map(|role| role.permissions().iter().map(|p| (*p).to_owned()))
            .collect();
        permissions.sort_unstable();
        permissions.dedup();
        permissions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn permissions_of_several_roles_are_merged_without_repeats() {
        let permissions = Role::permissions_of(&[Role::Customer, Role::Admin]);
        assert!(permissions.contains(&"orders:read:any".to_owned()));
        assert!(permissions.contains(&"orders:cancel:own".to_owned()));
        assert_eq!(
            permissions.iter().filter(|p| *p == "orders:create").count(),
            1
        );
    }

    #[test]
    fn only_an_admin_manages_dead_letters() {
        for role in Role::ALL {
            assert_eq!(
                role.permissions().contains(&Permission::MESSAGES_MANAGE),
                role == Role::Admin,
                "{}",
                role.as_str()
            );
        }
    }

    #[test]
    fn a_customer_cannot_manage_users() {
        assert!(
            !Role::Customer
                .permissions()
                .contains(&Permission::USERS_MANAGE)
        );
    }
}
