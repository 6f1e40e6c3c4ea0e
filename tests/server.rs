//! The network server's bounds and shutdown: idle timeout, connection cap,
//! graceful shutdown that answers what is in flight.

mod support;

use std::time::Duration;

use support::*;

fn echo() -> Tx {
    Tx::new(2804).set(11, next_stan()).set(24, "831")
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_timeout() {
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start_with(&database.url, &[("ANTACA__NETWORK__IDLE_TIMEOUT_S", "1")]).await;
    let mut client = app.connect().await;
    assert_eq!(client.exchange(&echo()).await.action(), "8000");
    let closed = tokio::time::timeout(Duration::from_secs(5), client.receive_raw()).await;
    assert_eq!(
        closed.expect("closed within 5 s"),
        None,
        "the switch closed the idle connection"
    );
    app.stop().await;
}

/// A frame trickling in one byte per second does not keep its connection: the idle deadline runs
/// from the last whole frame (src/network/connection.rs), so bytes of a frame that never completes
/// do not push it back, and a partly received frame is bounded by `network.idle_timeout_s` like
/// silence is (no separate frame timeout: it would free nothing an idle connection does not hold).
#[tokio::test]
async fn a_frame_trickling_in_one_byte_per_second_is_cut_off_by_the_idle_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start_with(&database.url, &[("ANTACA__NETWORK__IDLE_TIMEOUT_S", "2")]).await;
    let mut socket = tokio::net::TcpStream::connect(app.address).await.unwrap();
    // A 2-byte header announcing 500 bytes, then the bytes one per second: 8 minutes to complete.
    let frame: Vec<u8> = [&500u16.to_be_bytes()[..], &[b'0'; 500][..]].concat();
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in frame {
        if socket.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buffer = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(1), socket.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => panic!("nothing is answered to half a frame"),
            Err(_) => {}
        }
        if started.elapsed() > Duration::from_secs(12) {
            break;
        }
    }
    assert!(
        closed,
        "a frame trickled one byte per second is cut off within 12 s (idle timeout 2 s)"
    );
    app.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start_with(&database.url, &[("ANTACA__NETWORK__CONNECTIONS_MAX", "1")]).await;
    let mut first = app.connect().await;
    assert_eq!(first.exchange(&echo()).await.action(), "8000");
    let mut second = app.connect().await;
    let waiting = echo();
    second.send(&waiting).await;
    let early = tokio::time::timeout(Duration::from_millis(300), second.receive_raw()).await;
    assert!(
        early.is_err(),
        "the second connection is not served while the first holds the only slot"
    );
    drop(first);
    let response = second.receive().await;
    assert_eq!(
        (response.action(), response.text(11).map(str::as_bytes)),
        ("8000", waiting.get(11))
    );
    app.stop().await;
}

#[tokio::test]
async fn shutdown_answers_every_request_in_flight_and_keeps_them() {
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start(&database.url).await;
    let card = app.funded_card(CREDIT_PROGRAM, 1_000_000).await;
    let mut client = app.connect().await;
    let requests: Vec<Tx> = (0..300).map(|_| Tx::authorization(card.pan(), 100)).collect();
    for tx in &requests {
        client.send(tx).await;
    }
    let state = app.state.clone();
    let url = database.url.clone();
    app.stop().await;
    // Everything read before the shutdown was answered; nothing more.
    let mut answered = 0;
    while let Some(bytes) = client.receive_raw().await {
        let response = decode(&spec(), &bytes);
        assert_eq!(response.action(), "0000");
        answered += 1;
    }
    assert!(answered > 0, "requests in flight at shutdown are answered");
    let held = state.balance(card.balance_id).unwrap().snapshot().held;
    assert_eq!(held, 100 * answered, "exactly the answered requests hold funds");
    // And they are durable: a restart on the same database finds them.
    let restarted = TestApp::start(&url).await;
    assert_eq!(restarted.state.balance(card.balance_id).unwrap().snapshot().held, held);
    restarted.state.check_invariants().unwrap();
    restarted.stop().await;
}

#[tokio::test]
async fn a_second_switch_on_the_same_database_is_refused() {
    let databases = [
        Some(support::TestStore::sqlite().await),
        support::TestStore::postgres().await,
    ];
    for database in databases.into_iter().flatten() {
        let first = TestApp::start(&database.url).await;
        let config = test_config(&database.url, &[]);
        let second = antaca::app::Application::build(&config).await;
        let error = format!("{:#}", second.expect_err("the second instance must not start"));
        assert!(error.contains("another Antaca process"), "{error}");
        first.stop().await;
        let again = antaca::app::Application::build(&config).await;
        assert!(again.is_ok(), "the lock is released with the first instance");
    }
}

/// A switch that lost its instance lock (a PostgreSQL restart ends the lock's session) while another
/// took the database over is fenced off: its next decision stores nothing and is answered 9109, and
/// it stops by itself, saying why.
#[tokio::test]
async fn a_switch_whose_database_was_taken_over_saves_nothing_and_stops() {
    let Some(database) = support::TestStore::postgres().await else {
        return;
    };
    let app = TestApp::start(&database.url).await;
    let card = app.funded_card(CREDIT_PROGRAM, 10_000).await;
    let mut client = app.connect().await;
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 100)).await.action(),
        "0000"
    );
    // What a successor does once it holds the lock (`Store::take_over`).
    let successor = antaca::store::Store::connect(&database.url, 1).await.unwrap();
    successor.take_over().await.unwrap();
    let holds_before = successor.holds().await.unwrap().len();
    assert_eq!(
        client.exchange(&Tx::authorization(card.pan(), 200)).await.action(),
        "9109"
    );
    assert_eq!(successor.holds().await.unwrap().len(), holds_before, "nothing stored");
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(30), app.task)
        .await
        .expect("the fenced-off switch stops by itself")
        .expect("the server task ends");
    let error = format!("{:#}", stopped.expect_err("it stops with an error"));
    assert!(error.contains("another instance"), "{error}");
}

#[tokio::test]
async fn two_hundred_pipelined_echo_tests_are_all_answered() {
    let database = support::TestStore::sqlite().await;
    let app = TestApp::start(&database.url).await;
    let mut client = app.connect().await;
    let requests: Vec<Tx> = (0..200).map(|_| echo().set(7, "1125000000")).collect();
    for tx in &requests {
        client.send(tx).await;
    }
    let mut stans = std::collections::HashSet::new();
    for _ in 0..requests.len() {
        let response = client.receive().await;
        assert_eq!(
            (response.mti, response.action(), response.text(24)),
            (2814, "8000", Some("831"))
        );
        stans.insert(response.text(11).unwrap().to_owned());
    }
    let sent: std::collections::HashSet<String> = requests
        .iter()
        .map(|tx| String::from_utf8(tx.get(11).unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(stans, sent, "every STAN answered once");
    app.stop().await;
}
