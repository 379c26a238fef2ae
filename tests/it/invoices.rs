//! Invoices an accountant accepts (rules §2): net prices with VAT on top, the seller
//! from configuration and the buyer from the account, and credit notes that void an
//! invoice and take its pack's credits back, on SQLite and PostgreSQL.

use crate::api_support::{TestApp, user_error_codes};
use crate::common::audit::audit;
use crate::common::{apply_new_photos, utc};
use entity::enums::{EntryKind, PlanCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use studio_bff::config::{Config, SellerSettings};
use studio_bff::error::{Error, RefusalCode};
use studio_bff::ids::Kind;
use studio_bff::ledger::Buyer;

fn seller() -> SellerSettings {
    SellerSettings {
        name: "Studio GmbH".into(),
        address: Some("Hauptstraße 1, 10115 Berlin".into()),
        vat_id: Some("DE123456789".into()),
    }
}

fn config() -> Config {
    Config {
        seller: seller(),
        ..Config::default()
    }
}

fn buyer() -> Buyer {
    Buyer {
        address: Some("Ringstraße 5, 80331 München".into()),
        vat_id: Some("DE987654321".into()),
    }
}

fn refusal_code(result: Result<impl std::fmt::Debug, Error>) -> RefusalCode {
    match result {
        Err(Error::Refused(refusal)) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

on_both_databases! {
    async fn every_pack_of_the_catalog_is_billed_net_plus_19_percent_vat_to_the_cent(db) {
        let ledger = db.ledger(config(), utc("2026-11-24T10:00:00Z")).await;
        let pro = ledger
            .create_account_for("Autohaus Nord", PlanCode::Professional, 2, None, &buyer())
            .await
            .unwrap();
        let basic = ledger.create_account("Autohaus Süd", PlanCode::Basic, 0, None).await.unwrap();
        let packs = [
            (pro.id, "pro-small", 1250, 238, 1488),
            (pro.id, "pro-medium", 2375, 451, 2826),
            (pro.id, "pro-large", 4500, 855, 5355),
            (basic.id, "basic-small", 5000, 950, 5950),
            (basic.id, "basic-medium", 11250, 2138, 13388),
            (basic.id, "basic-large", 20000, 3800, 23800),
        ];

        for (i, (account_id, pack, subtotal, tax, total)) in packs.into_iter().enumerate() {
            let receipt = ledger
                .purchase_pack(account_id, pack, &format!("buy-{i}"))
                .await
                .unwrap()
                .written
                .unwrap();
            let invoice = &receipt.invoice;
            assert_eq!(invoice.number, format!("INV-2026-{:06}", i + 1));
            assert_eq!(
                (invoice.subtotal_cents, invoice.vat_percent, invoice.tax_cents, invoice.total_cents),
                (Some(subtotal), Some(19), Some(tax), total),
                "{pack}"
            );
            assert_eq!(
                (receipt.lines[0].unit_price_cents, receipt.lines[0].amount_cents),
                (subtotal, subtotal),
                "{pack}: the line is net"
            );
            assert_eq!(
                (invoice.seller_name.as_deref(), invoice.seller_address.as_deref(), invoice.seller_vat_id.as_deref()),
                (Some("Studio GmbH"), Some("Hauptstraße 1, 10115 Berlin"), Some("DE123456789"))
            );
        }
        let invoices = |account_id: i64| {
            let db = ledger.db().clone();
            async move {
                db.query_all_raw(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    match db.get_database_backend() {
                        DbBackend::Postgres => "SELECT buyer_name, buyer_address, buyer_vat_id FROM invoices WHERE account_id = $1 ORDER BY id",
                        _ => "SELECT buyer_name, buyer_address, buyer_vat_id FROM invoices WHERE account_id = ? ORDER BY id",
                    },
                    [account_id.into()],
                ))
                .await
                .unwrap()
                .into_iter()
                .map(|r| {
                    (
                        r.try_get::<Option<String>>("", "buyer_name").unwrap(),
                        r.try_get::<Option<String>>("", "buyer_address").unwrap(),
                        r.try_get::<Option<String>>("", "buyer_vat_id").unwrap(),
                    )
                })
                .collect::<Vec<_>>()
            }
        };
        let pro_buyer = (
            Some("Autohaus Nord".to_owned()),
            Some("Ringstraße 5, 80331 München".to_owned()),
            Some("DE987654321".to_owned()),
        );
        assert_eq!(invoices(pro.id).await, vec![pro_buyer; 3]);
        assert_eq!(invoices(basic.id).await, vec![(Some("Autohaus Süd".to_owned()), None, None); 3]);
    }

    async fn voiding_an_untouched_pack_issues_a_credit_note_and_takes_its_credits_back(db) {
        let ledger = db.ledger(config(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus Nord", PlanCode::Professional, 2, None).await.unwrap();
        let bought = ledger.purchase_pack(account.id, "pro-small", "buy").await.unwrap().outcome;
        assert_eq!(ledger.balance(&account).await.unwrap().available, 35);

        let note = ledger.void_invoice(bought.invoice_id, "Bought by mistake").await.unwrap();

        assert_eq!(note.number, "CN-2026-000001");
        assert_eq!((note.year, note.sequence), (2026, 1));
        assert_eq!(note.invoice_id, bought.invoice_id);
        assert_eq!(note.reason, "Bought by mistake");
        assert_eq!(note.issued_at, utc("2026-11-24T10:00:00Z"));
        assert_eq!((note.subtotal_cents, note.tax_cents, note.total_cents), (-1250, -238, -1488));
        assert_eq!(note.currency, "EUR");
        assert_eq!(ledger.balance(&account).await.unwrap().available, 10);
        let entries = ledger.entries(account.id).await.unwrap();
        let last = entries.last().unwrap();
        assert_eq!((last.kind, last.amount, last.balance_after), (EntryKind::Adjustment, -25, 10));
        assert_eq!(last.lot_id, bought.lot_id);
        assert_eq!(last.cause, "credit_note:CN-2026-000001");
        assert_eq!(last.description, "Invoice INV-2026-000001 voided by credit note CN-2026-000001");
        assert_eq!(audit(&ledger, &[account.id]).await.1, 0);
        // A credit note that left a credit in its lot, the books otherwise in step: the
        // auditor says so.
        let partial = [
            format!("UPDATE ledger_entries SET amount = -24, balance_after = 11 WHERE id = {}", last.id),
            format!("UPDATE lots SET remaining = 1 WHERE id = {}", bought.lot_id),
        ];
        for statement in partial {
            ledger.db().execute_unprepared(&statement).await.unwrap();
        }
        assert_eq!(audit(&ledger, &[account.id]).await.1, 1);
    }

    async fn voiding_twice_answers_the_same_credit_note_and_takes_nothing_more(db) {
        let ledger = db.ledger(config(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus Nord", PlanCode::Professional, 2, None).await.unwrap();
        let bought = ledger.purchase_pack(account.id, "pro-medium", "buy").await.unwrap().outcome;

        let first = ledger.void_invoice(bought.invoice_id, "Mistake").await.unwrap();
        let second = ledger.void_invoice(bought.invoice_id, "Another reason").await.unwrap();

        assert_eq!(second, first);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 10);
        let adjustments = ledger.entries(account.id).await.unwrap().into_iter().filter(|e| e.kind == EntryKind::Adjustment).count();
        assert_eq!(adjustments, 1);
    }

    async fn a_pack_with_a_credit_spent_cannot_be_voided_and_nothing_changes(db) {
        let ledger = db.ledger(config(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus Süd", PlanCode::Basic, 0, None).await.unwrap();
        let bought = ledger.purchase_pack(account.id, "basic-small", "buy").await.unwrap().outcome;
        apply_new_photos(&ledger, account.id, 1, "spend").await;
        let entries_before = ledger.entries(account.id).await.unwrap();

        let refused = ledger.void_invoice(bought.invoice_id, "Mistake").await;

        assert_eq!(refusal_code(refused), RefusalCode::PackPartlyUsed);
        assert_eq!(ledger.entries(account.id).await.unwrap(), entries_before);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 99);
        // The refusal used no number: the next credit note is the year's first.
        let other = ledger.purchase_pack(account.id, "basic-small", "buy-2").await.unwrap().outcome;
        assert_eq!(ledger.void_invoice(other.invoice_id, "Mistake").await.unwrap().number, "CN-2026-000001");
    }

    async fn an_unknown_invoice_or_an_empty_reason_is_refused(db) {
        let ledger = db.ledger(config(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus Nord", PlanCode::Professional, 2, None).await.unwrap();
        let bought = ledger.purchase_pack(account.id, "pro-small", "buy").await.unwrap().outcome;

        assert_eq!(refusal_code(ledger.void_invoice(bought.invoice_id + 1, "Mistake").await), RefusalCode::InvoiceNotFound);
        assert_eq!(refusal_code(ledger.void_invoice(bought.invoice_id, "  ").await), RefusalCode::InvalidInput);
        assert_eq!(ledger.balance(&account).await.unwrap().available, 35);
    }

    async fn a_rolled_back_void_uses_no_number(db) {
        let ledger = db.ledger(config(), utc("2026-11-24T10:00:00Z")).await;
        let account = ledger.create_account("Autohaus Nord", PlanCode::Professional, 2, None).await.unwrap();
        let bought = ledger.purchase_pack(account.id, "pro-small", "buy").await.unwrap().outcome;
        // A row holding the number the void will draw makes its insert fail after the
        // counter moved: the transaction rolls back, counter included.
        let db_conn = ledger.db();
        let blocker = "INSERT INTO credit_notes (id, invoice_id, account_id, number, year, sequence, issued_at, reason, \
                       subtotal_cents, tax_cents, total_cents, currency) VALUES \
                       (999, 999, 999, 'CN-2026-000001', 2026, 1, '2026-01-01T00:00:00Z', 'blocker', 0, 0, 0, 'EUR')";
        db_conn.execute_unprepared(blocker).await.unwrap();

        let failed = ledger.void_invoice(bought.invoice_id, "Mistake").await;
        assert!(matches!(failed, Err(Error::Db(_))), "{failed:?}");
        assert_eq!(ledger.balance(&account).await.unwrap().available, 35);

        db_conn.execute_unprepared("DELETE FROM credit_notes WHERE id = 999").await.unwrap();
        let note = ledger.void_invoice(bought.invoice_id, "Mistake").await.unwrap();
        assert_eq!(note.number, "CN-2026-000001");
    }

    async fn the_billing_page_shows_vat_the_buyer_and_the_credit_note_of_a_voided_invoice(db) {
        let app = TestApp::start(&db, config()).await;
        let ops = app.ops();
        let created = app.op(&ops, "CreateAccount", json!({
            "name": "Autohaus Nord", "plan": "PROFESSIONAL", "listingSlots": 2,
            "buyer": {"address": "Ringstraße 5, 80331 München", "vatId": "DE987654321"},
        })).await;
        let account_id = app
            .auth
            .ids()
            .decode_i64(Kind::Account, created["createAccount"]["account"]["id"].as_str().unwrap())
            .unwrap();
        let token = app.member(account_id);
        let bought = app.op(&token, "BuyPack", json!({"packId": app.gid(Kind::CreditPack, "pro-large"), "idempotencyKey": "k"})).await;
        let invoice = &bought["purchasePack"]["invoice"];
        assert_eq!(invoice["subtotal"], json!({"amountCents": 4500, "currency": "EUR"}));
        assert_eq!(invoice["tax"], json!({"amountCents": 855, "currency": "EUR"}));
        assert_eq!(invoice["total"], json!({"amountCents": 5355, "currency": "EUR"}));

        let voided = app.op(&ops, "VoidInvoice", json!({"invoiceId": invoice["id"], "reason": "Mistake"})).await;
        let refused = app.op(&ops, "VoidInvoice", json!({"invoiceId": app.gid(Kind::Invoice, 999), "reason": "Mistake"})).await;
        let page = app.op(&token, "BillingPage", json!({})).await;

        let note = &voided["voidInvoice"]["creditNote"];
        assert_eq!(note["number"], "CN-2026-000001");
        assert_eq!(note["total"], json!({"amountCents": -5355, "currency": "EUR"}));
        assert_eq!(note["invoice"], json!({"id": invoice["id"], "number": "INV-2026-000001"}));
        assert_eq!(voided["voidInvoice"]["userErrors"], json!([]));
        assert_eq!(user_error_codes(&refused["voidInvoice"]), ["INVOICE_NOT_FOUND"]);
        let shown = &page["viewer"]["account"]["invoices"]["edges"][0]["node"];
        assert_eq!(shown["vatPercent"], 19);
        assert_eq!(shown["subtotal"]["amountCents"], 4500);
        assert_eq!(shown["buyer"], json!({"name": "Autohaus Nord", "address": "Ringstraße 5, 80331 München", "vatId": "DE987654321"}));
        assert_eq!(shown["creditNote"]["id"], note["id"]);
        assert_eq!(shown["creditNote"]["total"]["amountCents"], -5355);
        assert_eq!(shown["lines"][0]["amount"]["amountCents"], 4500);
    }

    async fn an_invoice_of_the_first_release_reads_as_net_without_vat_with_todays_seller_and_the_account_as_buyer(db) {
        let app = TestApp::start(&db, config()).await;
        let account = app.ledger.create_account("Autohaus Alt", PlanCode::Professional, 2, None).await.unwrap();
        // What the previous release inserts: none of the new columns.
        let insert = format!(
            "INSERT INTO invoices (account_id, number, year, sequence, issued_at, total_cents, currency) \
             VALUES ({}, 'INV-2026-000042', 2026, 42, '2026-11-20T10:00:00Z', 1250, 'EUR')",
            account.id
        );
        app.ledger.db().execute_unprepared(&insert).await.unwrap();
        let query = "query($id: ID!) { node(id: $id) { ... on Invoice { subtotal { amountCents } vatPercent tax { amountCents } total { amountCents } seller { name address vatId } buyer { name address vatId } creditNote { id } } } }";
        let id = app.gid(Kind::Invoice, 1);

        let shown = app.query(&app.member(account.id), query, json!({"id": id})).await;

        assert_eq!(shown["data"]["node"], json!({
            "subtotal": {"amountCents": 1250}, "vatPercent": 0, "tax": {"amountCents": 0}, "total": {"amountCents": 1250},
            "seller": {"name": "Studio GmbH", "address": "Hauptstraße 1, 10115 Berlin", "vatId": "DE123456789"},
            "buyer": {"name": "Autohaus Alt", "address": null, "vatId": null},
            "creditNote": null,
        }));
    }
}
