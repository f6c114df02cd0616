//! `near`, Location's distance search: within a distance of a point, in any length unit.
//! Spec: https://hl7.org/fhir/R4/location.html#positional (and the `near` SearchParameter:
//! `[latitude]|[longitude]|[distance]|[units]`, WGS84, kilometres when the units are left out)

use super::{matches, rejects, sorted};
use crate::support::TestApp;

/// The spec's example point, Ann Arbor; the distances from it are great-circle ones.
const ANN_ARBOR: &str = "42.2565|-83.6948";

async fn location(app: &TestApp, name: &str, latitude: f64, longitude: f64) -> String {
    app.create(&format!(
        r#"{{"resourceType":"Location","name":"{name}","position":{{"longitude":{longitude},"latitude":{latitude}}}}}"#
    ))
    .await
}

struct Places {
    ann_arbor: String,
    /// 6.9 km from Ann Arbor.
    ypsilanti: String,
    /// 54.0 km from Ann Arbor.
    detroit: String,
    /// 327.5 km from Ann Arbor.
    chicago: String,
    without_position: String,
}

async fn places(app: &TestApp) -> Places {
    Places {
        ann_arbor: location(app, "Ann Arbor", 42.2565, -83.6948).await,
        ypsilanti: location(app, "Ypsilanti", 42.2411, -83.6130).await,
        detroit: location(app, "Detroit", 42.3314, -83.0458).await,
        chicago: location(app, "Chicago", 41.8781, -87.6298).await,
        without_position: app
            .create(r#"{"resourceType":"Location","name":"Somewhere"}"#)
            .await,
    }
}

async fn near(app: &TestApp, value: &str) -> Vec<String> {
    matches(app, &format!("/fhir/Location?near={value}")).await
}

#[tokio::test]
async fn search_near_finds_the_locations_within_the_distance() {
    let app = TestApp::start().await;
    let places = places(&app).await;
    let Places {
        ann_arbor,
        ypsilanti,
        detroit,
        chicago,
        ..
    } = &places;
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|10|km")).await,
        sorted(&[ann_arbor, ypsilanti])
    );
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|53.9|km")).await,
        sorted(&[ann_arbor, ypsilanti])
    );
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|54.1|km")).await,
        sorted(&[ann_arbor, ypsilanti, detroit])
    );
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|0|km")).await,
        sorted(&[ann_arbor])
    );
    // Units left out are kilometres.
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|500")).await,
        sorted(&[ann_arbor, ypsilanti, detroit, chicago])
    );
}

#[tokio::test]
async fn search_near_converts_miles_and_metres_to_kilometres() {
    let app = TestApp::start().await;
    let Places {
        ann_arbor,
        ypsilanti,
        detroit,
        ..
    } = places(&app).await;
    // 33 miles are 53.1 km, 34 miles 54.7 km: Detroit lies between.
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|33|%5Bmi_i%5D")).await,
        sorted(&[&ann_arbor, &ypsilanti])
    );
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|34|%5Bmi_i%5D")).await,
        sorted(&[&ann_arbor, &ypsilanti, &detroit])
    );
    assert_eq!(
        near(&app, &format!("{ANN_ARBOR}|7000|m")).await,
        sorted(&[&ann_arbor, &ypsilanti])
    );
}

#[tokio::test]
async fn search_near_without_a_distance_means_ten_kilometres() {
    let app = TestApp::start().await;
    let Places {
        ann_arbor,
        ypsilanti,
        ..
    } = places(&app).await;
    assert_eq!(
        near(&app, ANN_ARBOR).await,
        sorted(&[&ann_arbor, &ypsilanti])
    );
}

#[tokio::test]
async fn search_near_measures_across_the_antimeridian_and_over_the_pole() {
    let app = TestApp::start().await;
    let east_of_the_date_line = location(&app, "Lau", -17.0, -179.9).await;
    let past_the_pole = location(&app, "Arctic", 89.9, 180.0).await;
    // 21.3 km from (-17, 179.9); 22.2 km from (89.9, 0) across the pole.
    assert_eq!(
        near(&app, "-17.0|179.9|25|km").await,
        sorted(&[&east_of_the_date_line])
    );
    assert_eq!(near(&app, "-17.0|179.9|20|km").await, Vec::<String>::new());
    assert_eq!(near(&app, "89.9|0|25|km").await, sorted(&[&past_the_pole]));
}

#[tokio::test]
async fn search_near_takes_alternatives_missing_and_chains() {
    let app = TestApp::start().await;
    let Places {
        ypsilanti,
        detroit,
        chicago,
        without_position,
        ..
    } = places(&app).await;
    assert_eq!(
        near(&app, "41.8781|-87.6298|1,42.3314|-83.0458|1").await,
        sorted(&[&chicago, &detroit])
    );
    assert_eq!(
        matches(&app, "/fhir/Location?near:missing=true").await,
        sorted(&[&without_position])
    );
    assert_eq!(
        matches(&app, "/fhir/Location?near:missing=false")
            .await
            .len(),
        4
    );
    let encounter = app
        .create(&format!(
            r#"{{"resourceType":"Encounter","status":"finished","class":{{"code":"AMB"}},"location":[{{"location":{{"reference":"Location/{ypsilanti}"}}}}]}}"#
        ))
        .await;
    assert_eq!(
        matches(&app, "/fhir/Encounter?location.near=42.2411|-83.6130|1").await,
        sorted(&[&encounter])
    );
    assert_eq!(
        matches(&app, "/fhir/Encounter?location.near=41.8781|-87.6298|1").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn search_near_follows_a_location_that_moved() {
    let app = TestApp::start().await;
    let Places {
        detroit, chicago, ..
    } = places(&app).await;
    let moved = app
        .put(
            &format!("/fhir/Location/{detroit}"),
            &format!(
                r#"{{"resourceType":"Location","id":"{detroit}","name":"Detroit office, moved","position":{{"longitude":-87.6298,"latitude":41.8781}}}}"#
            ),
        )
        .await;
    assert_eq!(moved.status, axum::http::StatusCode::OK, "{}", moved.text());
    assert_eq!(near(&app, "42.3314|-83.0458|1").await, Vec::<String>::new());
    assert_eq!(
        near(&app, "41.8781|-87.6298|1").await,
        sorted(&[&chicago, &detroit])
    );
}

#[tokio::test]
async fn search_near_rejects_what_is_not_a_point_and_a_distance() {
    let app = TestApp::start().await;
    for bad in [
        "42.25",
        "north|-83.69",
        "91|0",
        "0|181",
        "0|0|-5|km",
        "0|0|5|furlong",
    ] {
        rejects(&app, &format!("/fhir/Location?near={bad}"), "near").await;
    }
    rejects(&app, "/fhir/Location?near:exact=0|0", "near:exact").await;
}
