use std::time::Duration;

use super::*;

fn registered() -> usize {
    current_table().lock().pending.len()
}

/// Fails the test instead of hanging it when a deadline never passes.
async fn at_most<T>(wait: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(wait, future)
        .await
        .expect("the deadline should have passed by now")
}

#[tokio::test(start_paused = true)]
async fn work_done_before_its_deadline_is_its_answer_and_leaves_nothing_registered() {
    let at = Instant::now() + Duration::from_secs(1);
    assert_eq!(within(at, async { 7 }).await, Ok(7));
    let slow = within(at, async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        8
    });
    assert_eq!(slow.await, Ok(8));
    assert_eq!(registered(), 0);
}

#[tokio::test(start_paused = true)]
async fn work_still_running_at_its_deadline_is_abandoned_then() {
    let started = Instant::now();
    let at = started + Duration::from_millis(100);
    let answer = at_most(
        Duration::from_secs(60),
        within(at, std::future::pending::<()>()),
    )
    .await;
    assert_eq!(answer, Err(Elapsed));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(registered(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_earlier_deadline_registered_after_a_later_one_passes_on_time() {
    let started = Instant::now();
    let late = tokio::spawn(within(
        started + Duration::from_secs(10),
        std::future::pending::<()>(),
    ));
    tokio::task::yield_now().await;
    let early = within(
        started + Duration::from_secs(1),
        std::future::pending::<()>(),
    );
    assert_eq!(at_most(Duration::from_secs(60), early).await, Err(Elapsed));
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(late.await.expect("the task ran"), Err(Elapsed));
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_registered_after_the_thread_went_idle_still_passes() {
    let first = Instant::now() + Duration::from_millis(5);
    assert_eq!(
        at_most(
            Duration::from_secs(60),
            within(first, std::future::pending::<()>())
        )
        .await,
        Err(Elapsed)
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let started = Instant::now();
    let second = within(
        started + Duration::from_secs(2),
        std::future::pending::<()>(),
    );
    assert_eq!(at_most(Duration::from_secs(60), second).await, Err(Elapsed));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[test]
fn deadlines_still_pass_on_a_thread_whose_earlier_runtime_has_shut_down() {
    for _ in 0..2 {
        let runtime = runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let at = Instant::now() + Duration::from_millis(50);
            let answer = at_most(
                Duration::from_secs(60),
                within(at, std::future::pending::<()>()),
            );
            assert_eq!(answer.await, Err(Elapsed));
        });
    }
}

#[test]
fn deadlines_pass_on_a_second_runtime_while_the_first_one_waits() {
    let runtime = || {
        runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime")
    };
    let passes = || async {
        let at = Instant::now() + Duration::from_millis(50);
        let answer = at_most(
            Duration::from_secs(60),
            within(at, std::future::pending::<()>()),
        );
        assert_eq!(answer.await, Err(Elapsed));
    };
    let (first, second) = (runtime(), runtime());
    first.block_on(passes());
    second.block_on(passes());
    first.block_on(passes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_pass_for_work_spread_over_several_threads() {
    let at = Instant::now() + Duration::from_millis(50);
    let tasks: Vec<_> = (0..16)
        .map(|_| tokio::spawn(within(at, std::future::pending::<()>())))
        .collect();
    for task in tasks {
        let answer = at_most(Duration::from_secs(10), task).await;
        assert_eq!(answer.expect("the task ran"), Err(Elapsed));
    }
}
