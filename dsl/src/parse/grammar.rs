//! The pest parser generated from `grammar.pest`; nothing here leaves the parse module.

use pest::iterators::Pair;
use pest::Parser;

/// The generated parser.
#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
pub(super) struct GigParser;

/// Parses one top-level item at the start of `text` (which must not start with
/// blanks); the pair's span ends where the item ends.
///
/// An error lists the tokens pest expected where it gave up, which the error
/// translation needs. pest records them only while its process-wide error-detail
/// switch is on, and offers no per-parse switch, so the switch is turned on before the
/// first parse and never off: every parse sees the same setting, without a lock.
pub(super) fn parse_item(text: &str) -> Result<Pair<'_, Rule>, Box<pest::error::Error<Rule>>> {
    static ERROR_DETAIL: std::sync::Once = std::sync::Once::new();
    ERROR_DETAIL.call_once(|| pest::set_error_detail(true));
    let mut pairs = GigParser::parse(Rule::item_line, text).map_err(Box::new)?;
    match pairs.next() {
        Some(pair) => Ok(pair),
        None => Err(Box::new(pest::error::Error::new_from_pos(
            pest::error::ErrorVariant::CustomError {
                message: "empty item".to_string(),
            },
            pest::Position::from_start(text),
        ))),
    }
}
