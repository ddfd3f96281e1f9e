use crate::helpers::subject;

#[tokio::test]
async fn ready_names_postgres_and_rabbitmq_as_up() {
    subject().ready_names_its_stores_as_up().await;
}

#[tokio::test]
async fn with_its_stores_unreachable_it_still_starts_and_says_which_are_down() {
    subject()
        .starts_without_its_stores_and_names_them_down()
        .await;
}

#[tokio::test]
async fn with_only_the_broker_down_ready_names_it_alone() {
    subject()
        .names_the_broker_alone_when_only_it_is_down()
        .await;
}

#[tokio::test]
async fn the_broker_connection_comes_back_after_the_broker_does() {
    subject().reconnects_to_the_broker().await;
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    subject().answers_unknown_routes_with_a_404_problem().await;
}

#[tokio::test]
async fn openapi_names_the_service() {
    subject().documents_itself().await;
}
