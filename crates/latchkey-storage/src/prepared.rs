//! Statements of the hottest paths, built once per backend.
//!
//! sea-query writes the SQL and numbers its parameters, as everywhere in
//! this crate. Building the same query again on every call is not free,
//! though: for a refresh rotation it cost more CPU than sqlx spent sending
//! and decoding it. A [`Prepared`] is built once, with a marker value in
//! place of each parameter; a call copies the SQL and binds its own values
//! where the markers were. Values are still only ever bound, never spliced
//! into the text.

use sea_orm::{DbBackend, Statement, StatementBuilder, Value};

use latchkey_domain::StoreError;

/// The type of a parameter, which decides its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Text,
    Int,
}

impl Param {
    /// A value no real parameter takes: text with a NUL (refused by both
    /// backends as text), or an integer at the bottom of the range.
    fn marker(self, i: usize) -> Value {
        match self {
            Param::Text => format!("\u{0}latchkey-parameter-{i}").into(),
            Param::Int => (i64::MIN + i as i64).into(),
        }
    }

    fn admits(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (Param::Text, Value::String(_)) | (Param::Int, Value::BigInt(_))
        )
    }
}

/// One statement with `N` parameters, each bound at one or more places.
#[derive(Debug)]
pub(crate) struct Prepared<const N: usize> {
    backend: DbBackend,
    sql: String,
    values: Vec<Value>,
    params: [Param; N],
    /// Where in `values` each parameter goes.
    slots: [Vec<usize>; N],
}

impl<const N: usize> Prepared<N> {
    /// Builds the statement `build` returns for the markers of `params`.
    /// Every parameter must appear in it.
    pub(crate) fn new<S: StatementBuilder>(
        backend: DbBackend,
        name: &str,
        params: [Param; N],
        build: impl FnOnce([Value; N]) -> Result<S, StoreError>,
    ) -> Result<Self, StoreError> {
        let markers: [Value; N] = std::array::from_fn(|i| params[i].marker(i));
        let statement = build(markers.clone())?.build(&backend);
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        let slots: [Vec<usize>; N] = std::array::from_fn(|i| {
            values
                .iter()
                .enumerate()
                .filter(|(_, v)| **v == markers[i])
                .map(|(at, _)| at)
                .collect()
        });
        if let Some(i) = slots.iter().position(Vec::is_empty) {
            return Err(StoreError::Other(format!(
                "{name}: parameter {i} does not appear in the statement"
            )));
        }
        Ok(Prepared {
            backend,
            sql: statement.sql,
            values,
            params,
            slots,
        })
    }

    /// The statement with `args` bound, in the order of `params`.
    pub(crate) fn bind(&self, args: [Value; N]) -> Result<Statement, StoreError> {
        let mut values = self.values.clone();
        for (i, arg) in args.into_iter().enumerate() {
            if !self.params[i].admits(&arg) {
                return Err(StoreError::Other(format!(
                    "parameter {i} must be {:?}, not {arg:?}",
                    self.params[i]
                )));
            }
            for &at in &self.slots[i] {
                values[at] = arg.clone();
            }
        }
        Ok(Statement::from_sql_and_values(
            self.backend,
            self.sql.clone(),
            values,
        ))
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Alias, Expr, Query};

    use super::*;

    fn select(backend: DbBackend) -> Prepared<2> {
        Prepared::new(backend, "t", [Param::Text, Param::Int], |[a, n]| {
            Ok(Query::select()
                .expr(Expr::val(a.clone()))
                .from(Alias::new("t"))
                .and_where(Expr::col(Alias::new("a")).eq(a))
                .and_where(Expr::col(Alias::new("n")).eq(n))
                .and_where(Expr::col(Alias::new("k")).eq(7))
                .to_owned())
        })
        .unwrap()
    }

    #[test]
    fn binds_each_argument_wherever_its_marker_was() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let s = select(backend).bind(["x".into(), 42i64.into()]).unwrap();
            let values = s.values.unwrap().0;
            assert_eq!(
                values,
                vec![
                    Value::from("x"),
                    Value::from("x"),
                    Value::from(42i64),
                    Value::from(7)
                ]
            );
            assert_eq!(
                s.sql
                    .matches(if backend == DbBackend::Postgres {
                        "$"
                    } else {
                        "?"
                    })
                    .count(),
                4
            );
        }
    }

    #[test]
    fn an_argument_of_the_wrong_type_is_refused() {
        let err = select(DbBackend::Sqlite)
            .bind([1i64.into(), 2i64.into()])
            .unwrap_err();
        assert!(err.to_string().contains("parameter 0"), "{err}");
    }

    #[test]
    fn a_parameter_the_statement_lacks_is_refused_when_built() {
        let err = Prepared::new(
            DbBackend::Postgres,
            "q",
            [Param::Text, Param::Int],
            |[a, _]| {
                Ok(Query::select()
                    .from(Alias::new("t"))
                    .and_where(Expr::col(Alias::new("a")).eq(a))
                    .to_owned())
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("q: parameter 1"), "{err}");
    }
}
