//! The pest parser generated from `grammar.pest`; nothing here leaves the parse module.

use pest::iterators::Pair;
use pest::Parser;

/// The generated parser.
#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
pub(super) struct GigParser;

/// Parses one top-level item at the start of `text` (which must not start with
/// blanks); the pair's span ends where the item ends.
pub(super) fn parse_item(text: &str) -> Result<Pair<'_, Rule>, Box<pest::error::Error<Rule>>> {
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
