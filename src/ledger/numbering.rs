//! Document numbers without gaps per calendar year (rules §2): `INV-2026-000001` for
//! invoices, `CN-2026-000001` for credit notes, each series counted in a table of its
//! own. The counter row stays locked until the transaction commits, and a rolled-back
//! transaction rolls its number back: no gaps, no duplicates.
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use crate::error::Error;

/// A series of document numbers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Series {
    Invoices,
    CreditNotes,
}

impl Series {
    fn table(self) -> Alias {
        Alias::new(match self {
            Series::Invoices => "invoice_sequences",
            Series::CreditNotes => "credit_note_sequences",
        })
    }

    fn prefix(self) -> &'static str {
        match self {
            Series::Invoices => "INV",
            Series::CreditNotes => "CN",
        }
    }
}

/// A document's number: its year, its place in the year, and the two as printed.
pub(super) struct DocumentNumber {
    pub year: i32,
    pub sequence: i32,
    pub text: String,
}

/// The next number of `series` in `year`.
pub(super) async fn next_number(
    txn: &impl ConnectionTrait,
    series: Series,
    year: i32,
) -> Result<DocumentNumber, Error> {
    let (year_column, last) = (Alias::new("year"), Alias::new("last_sequence"));
    let mut first = Query::insert();
    first
        .into_table(series.table())
        .columns([year_column.clone(), last.clone()])
        .values([year.into(), 0.into()])
        .map_err(|e| Error::Internal(format!("the {series:?} counter: {e}")))?
        .on_conflict(OnConflict::column(year_column.clone()).do_nothing().to_owned());
    txn.execute(&first).await?;
    let bump = Query::update()
        .table(series.table())
        .value(last.clone(), Expr::col(last.clone()).add(1))
        .and_where(Expr::col(year_column.clone()).eq(year))
        .to_owned();
    txn.execute(&bump).await?;
    let read = Query::select()
        .column(last.clone())
        .from(series.table())
        .and_where(Expr::col(year_column).eq(year))
        .to_owned();
    let sequence: i32 = txn
        .query_one(&read)
        .await?
        .ok_or_else(|| Error::Internal(format!("the {series:?} counter of {year} is missing")))?
        .try_get("", "last_sequence")?;
    Ok(DocumentNumber {
        year,
        sequence,
        text: format!("{}-{year}-{sequence:06}", series.prefix()),
    })
}
