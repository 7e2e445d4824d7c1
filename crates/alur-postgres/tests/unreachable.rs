//! An unreachable or saturated server gives a typed `Unavailable` error in bounded time.

mod common;

use std::time::{Duration, Instant};

use alur_core::store::{Store, StoreErrorKind};
use alur_postgres::{ConnectError, PostgresOptions, PostgresStore};
use common::{Schema, TENANT};

async fn expect_unavailable(url: &str, options: PostgresOptions, within: Duration) {
    let started = Instant::now();
    let err = match PostgresStore::connect(url, options).await {
        Ok(_) => panic!("connected to {url}"),
        Err(e) => e,
    };
    let took = started.elapsed();
    assert!(matches!(err, ConnectError::Unavailable(_)), "{err:?}");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert!(alur_core::store::StoreError::from(err.clone()).is_temporary());
    assert!(took < within, "took {took:?}: {err}");
    eprintln!("{url}: {err} (after {took:.1?})");
}

#[tokio::test]
async fn a_closed_port_is_unavailable_within_the_connect_timeout() {
    let options = PostgresOptions {
        connect_timeout: Duration::from_secs(2),
        ..PostgresOptions::default()
    };
    expect_unavailable(
        "postgres://postgres@127.0.0.1:1/test",
        options,
        Duration::from_secs(4),
    )
    .await;
}

#[tokio::test]
async fn the_default_connect_timeout_is_bounded() {
    assert!(PostgresOptions::default().connect_timeout <= Duration::from_secs(10));
    expect_unavailable(
        "postgres://postgres@127.0.0.1:1/test",
        PostgresOptions::default(),
        Duration::from_secs(8),
    )
    .await;
}

#[tokio::test]
async fn a_silent_host_is_unavailable_within_the_connect_timeout() {
    // TEST-NET-1 (RFC 5737): packets go nowhere, or the network is unreachable.
    let options = PostgresOptions {
        connect_timeout: Duration::from_secs(2),
        ..PostgresOptions::default()
    };
    expect_unavailable(
        "postgres://postgres@192.0.2.1:5432/test",
        options,
        Duration::from_secs(4),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_is_unavailable_after_the_acquire_timeout() {
    let url = require_pg!();
    let schema = Schema::new(&url);
    let store = schema
        .store_with(PostgresOptions {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(300),
            ..schema.options()
        })
        .await;
    let held = store.pool().acquire().await.unwrap();
    let started = Instant::now();
    let err = store.case(TENANT, "x").await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Unavailable, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(held);
    assert!(store.case(TENANT, "x").await.unwrap().is_none());
}
