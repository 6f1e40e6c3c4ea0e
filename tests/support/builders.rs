//! One set of builders: a verified customer, a funded balance and a card with its PAN — straight
//! through the state for the switch's tests ([`TestApp`]), and through the partner API for the HTTPS
//! tests ([`Api`]) — and the request bodies they send.

use antaca::balances;
use antaca::cards::{self, CardRequest, IssuedCard};
use antaca::state::{BalanceKind, Owner, TransferKind};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::http::Api;

impl TestApp {
    /// A user balance with `funds` (loaded through the program's funding
    /// model) and an active virtual card on it.
    pub async fn funded_card(&self, program: &str, funds: i64) -> TestCard {
        let entry = self.state.program(program).expect("program configured");
        let partner = entry.program.partner_id.clone();
        let customer = self.customer(&partner).await;
        let user = balances::open(
            &self.state,
            BalanceKind::User,
            Owner::Customer(customer),
            &partner,
            "EUR",
        )
        .await
        .unwrap();
        if funds > 0 {
            match entry.program.funding {
                antaca::state::FundingModel::PartnerCredit => {
                    balances::load_external(&self.state, entry.funding_balance, funds)
                        .await
                        .unwrap();
                    balances::transfer(&self.state, entry.funding_balance, user.id, funds, TransferKind::Reload)
                        .await
                        .unwrap();
                }
                antaca::state::FundingModel::PartnerDeposit => {
                    balances::load_external(&self.state, user.id, funds).await.unwrap();
                }
            }
        }
        let issued = cards::issue(&self.state, user.id, program, CardRequest::default())
            .await
            .unwrap();
        TestCard {
            issued,
            balance_id: user.id,
        }
    }

    /// A KYC-verified customer of `partner`.
    pub async fn customer(&self, partner: &str) -> i64 {
        let customer = antaca::state::Customer {
            id: self.state.next_id(antaca::state::IdKind::Customer),
            partner_id: partner.to_owned(),
            external_ref: None,
            kyc_status: antaca::state::KycStatus::Verified,
            created_at: self.state.now_ms(),
        };
        let id = customer.id;
        let mut submission = antaca::state::Submission::default();
        submission.push(antaca::state::Change::InsertCustomer(customer));
        self.state.submit(submission).await.unwrap();
        id
    }

    /// Loads the partner deposit balance of a deposit-model program.
    pub async fn fund_deposit(&self, program: &str, amount: i64) {
        let entry = self.state.program(program).unwrap();
        balances::load_external(&self.state, entry.funding_balance, amount)
            .await
            .unwrap();
    }
}

/// A card issued by [`TestApp::funded_card`]: the issued card (with its PAN) and its balance.
pub struct TestCard {
    pub issued: IssuedCard,
    pub balance_id: i64,
}

impl TestCard {
    pub fn pan(&self) -> &str {
        &self.issued.pan
    }
}

impl Api {
    /// A dev-partner user the partner flagged KYC-verified.
    pub async fn verified_user(&self, external_id: &str) -> i64 {
        let user = self.user(external_id).await;
        let (status, body) = self
            .call(
                &self.partner,
                Method::PUT,
                &format!("/lifecycle/v1/users/{user}/kyc"),
                None,
                Some(json!({"kycStatus": "VERIFIED"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        user
    }

    /// A EUR balance the partner opens for `user`, bound to no program yet.
    pub async fn open_balance(&self, user: i64) -> i64 {
        let (status, body) = self
            .partner_post(
                &format!("/secure/customers/{user}/balances"),
                json!({"currency": "EUR"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["balanceId"].as_i64().unwrap()
    }

    /// Loads `load` onto dev-credit-eur's partner credit balance, then reloads `user`'s `balance` with
    /// `amount` from it.
    pub async fn reload_from_credit(&self, user: i64, balance: i64, load: i64, amount: i64) {
        let credit = self.state.program("dev-credit-eur").unwrap().funding_balance;
        antaca::balances::load_external(&self.state, credit, load)
            .await
            .unwrap();
        let (status, body) = self
            .partner_post(
                &format!("/secure/customers/{user}/balances/{balance}/reload"),
                json!({"amount": amount, "programId": "dev-credit-eur"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The full PAN of a card, as the state holds it (encrypted).
    pub fn pan(&self, card_id: i64) -> String {
        let pan_encrypted = self.state.card(card_id).unwrap().lock().card.pan_encrypted.clone();
        String::from_utf8(self.state.keys().decrypt(&pan_encrypted).unwrap()).unwrap()
    }

    /// A request on the mobile channel: no client certificate, the app's session token.
    pub async fn in_app(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(&self.anonymous, method, path, Some(token), body).await
    }

    /// A request on the administration channel: no client certificate, an administrator's token.
    pub async fn as_admin(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(&self.anonymous, method, path, Some(token), body).await
    }

    /// A user of dev-partner.
    pub async fn user(&self, external_id: &str) -> i64 {
        let (status, body) = self
            .partner_post(
                "/lifecycle/v1/users",
                json!({"externalId": external_id, "email": "anna@example.com", "phone": "+48600100200"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["userId"].as_i64().unwrap()
    }

    /// Pairs a device for a dev-partner user: (installation id, session token).
    pub async fn pair(&self, user_id: i64, device_id: &str) -> (String, String) {
        let (status, body) = self
            .partner_post(
                &format!("/secure/customers/{user_id}/devices"),
                json!({"deviceId": device_id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["installationId"].as_str().unwrap().to_owned(),
            body["sessionToken"].as_str().unwrap().to_owned(),
        )
    }

    /// A dev-partner corporation, submitted.
    pub async fn corporation(&self, name: &str) -> i64 {
        let (status, body) = self
            .partner_post("/lifecycle/v1/corporations", corporation_body(name))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["dcCorporationId"].as_i64().unwrap()
    }
}

/// A KYC-verified user with a paired app and a funded balance: (user, session token, balance).
pub async fn funded_user(api: &Api, external_id: &str) -> (i64, String, i64) {
    let user = api.user(external_id).await;
    let (status, body) = api
        .call(
            &api.partner,
            Method::PUT,
            &format!("/lifecycle/v1/users/{user}/kyc"),
            None,
            Some(json!({"kycStatus": "VERIFIED"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, token) = api.pair(user, &format!("phone-{external_id}")).await;
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances"),
            json!({"currency": "EUR", "programId": "dev-credit-eur"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let balance = body["balanceId"].as_i64().unwrap();
    let credit = api.state.program("dev-credit-eur").unwrap().funding_balance;
    antaca::balances::load_external(&api.state, credit, 50_000)
        .await
        .unwrap();
    let (status, body) = api
        .partner_post(
            &format!("/secure/customers/{user}/balances/{balance}/reload"),
            json!({"amount": 20_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (user, token, balance)
}

pub fn kyc_body(birth_date: &str, document_number: &str) -> Value {
    json!({
        "firstName": "Anna",
        "lastName": "Nowak",
        "birthDate": birth_date,
        "nationality": "PL",
        "document": {"type": "ID_CARD", "number": document_number, "country": "PL", "expiryDate": "2031-01-31"},
        "address": {"line1": "ul. Prosta 1", "city": "Warszawa", "postalCode": "00-001", "country": "PL"}
    })
}

pub fn corporation_body(name: &str) -> Value {
    json!({
        "name": name,
        "registrationNumber": "0000012345",
        "taxId": "5250001009",
        "address": {"line1": "ul. Prosta 1", "city": "Warszawa", "postalCode": "00-001", "country": "PL"},
        "documents": [{
            "type": "REGISTRY_EXTRACT",
            "url": "https://docs.partner.example/krs.pdf",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        }]
    })
}
